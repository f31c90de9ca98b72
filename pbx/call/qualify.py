"""Peer reachability by OPTIONS pings, as chan_sip's ``qualify`` (ASTERISK-REFERENCE §1.3).

Sans-I/O: :class:`Qualifier` decides *when* to ping which peer and turns answers and silences
into the status ``sip show peers`` prints: ``OK (N ms)``, ``LAGGED (N ms)`` (slower than the
peer's ``qualify`` limit), ``UNREACHABLE`` (no answer within twice the limit, chan_sip's
``sip_poke_noanswer``), ``UNKNOWN`` (monitored but not known yet, e.g. not registered) and
``Unmonitored`` (``qualify=no``). Reachable peers are pinged every ``qualifyfreq`` seconds,
unreachable ones every 10 s; the first ping of each peer lands at a random point within the
first ``min(qualifyfreq, 5)`` seconds (chan_sip spreads its first pokes over 5 s) so a restart
does not ping everybody at once.
"""

from __future__ import annotations

import enum
import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass

UNREACHABLE_FREQ = 10.0


class Reachability(enum.StrEnum):
    UNKNOWN = "UNKNOWN"
    OK = "OK"
    LAGGED = "LAGGED"
    UNREACHABLE = "UNREACHABLE"


@dataclass(slots=True)
class Watch:
    name: str
    maxms: int
    freq: float
    state: Reachability = Reachability.UNKNOWN
    last_ms: int | None = None
    next_at: float = 0.0
    deadline: float | None = None  # when the outstanding ping counts as unanswered
    sent_at: float | None = None
    generation: int = 0


@dataclass(frozen=True, slots=True)
class StatusChange:
    """``PeerStatus`` events: Reachable / Lagged / Unreachable, with the latency."""

    name: str
    old: Reachability
    new: Reachability
    ms: int | None


class Qualifier:
    """Schedules pings; the caller sends them and reports answers.

    :param random: returns a float in [0, 1) (injected for exact tests).
    """

    def __init__(self, random: Callable[[], float]) -> None:
        self._random = random
        self._watches: dict[str, Watch] = {}
        self._heap: list[tuple[float, str, int]] = []
        self._due: list[str] = []
        self._changes: list[StatusChange] = []
        # Generations are unique across watches: a peer unwatched and watched again (sip
        # reload) must not revive heap entries left over from its previous Watch.
        self._generations = itertools.count(1)

    def watch(self, name: str, maxms: int, freq: float, now: float) -> None:
        """Start (or retune) monitoring ``name``; the first ping comes within
        ``min(freq, 5)`` s. Retuning keeps the current schedule."""
        current = self._watches.get(name)
        if current is not None:
            current.maxms, current.freq = maxms, freq
            return
        w = Watch(name, maxms, freq)
        self._watches[name] = w
        self._schedule(w, now + self._random() * min(freq, 5.0))

    def unwatch(self, name: str) -> None:
        self._watches.pop(name, None)

    def reset(self, name: str, now: float) -> None:
        """A peer (re-)registered or lost its contact: status unknown, ping soon."""
        w = self._watches.get(name)
        if w is None:
            return
        self._set(w, Reachability.UNKNOWN, None)
        # A late answer to a ping sent to the old contact says nothing about the new one.
        w.deadline = None
        w.sent_at = None
        self._schedule(w, now + self._random())

    def _schedule(self, w: Watch, at: float) -> None:
        w.generation = next(self._generations)
        w.next_at = at
        heapq.heappush(self._heap, (at, w.name, w.generation))

    def _set(self, w: Watch, state: Reachability, ms: int | None) -> None:
        if w.state is not state:
            self._changes.append(StatusChange(w.name, w.state, state, ms))
        w.state = state
        w.last_ms = ms

    def timer_at(self) -> float | None:
        while self._heap:
            at, name, gen = self._heap[0]
            w = self._watches.get(name)
            if w is not None and w.generation == gen:
                return at
            heapq.heappop(self._heap)
        return None

    def handle_timer(self, now: float) -> None:
        while self._heap and self._heap[0][0] <= now:
            _, name, gen = heapq.heappop(self._heap)
            w = self._watches.get(name)
            if w is None or w.generation != gen:
                continue
            if w.deadline is not None and now >= w.deadline:
                # The previous ping went unanswered.
                w.deadline = None
                w.sent_at = None
                self._set(w, Reachability.UNREACHABLE, None)
                self._schedule(w, now + UNREACHABLE_FREQ)
                continue
            self._due.append(name)
            w.sent_at = now
            w.deadline = now + 2 * w.maxms / 1000.0
            self._schedule(w, w.deadline)

    def due(self) -> list[str]:
        """Peers to ping now (drained)."""
        out, self._due = self._due, []
        return out

    def changes(self) -> list[StatusChange]:
        out, self._changes = self._changes, []
        return out

    def answered(self, name: str, now: float) -> None:
        """Any response to the ping counts (even 404/405: the device is alive)."""
        w = self._watches.get(name)
        if w is None or w.sent_at is None:
            return
        ms = max(0, int(round((now - w.sent_at) * 1000)))
        w.sent_at = None
        w.deadline = None
        self._set(w, Reachability.OK if ms <= w.maxms else Reachability.LAGGED, ms)
        w.last_ms = ms
        self._schedule(w, now + w.freq)

    def no_address(self, name: str, now: float) -> None:
        """Nowhere to ping (a dynamic peer that has not registered): UNKNOWN, as chan_sip."""
        w = self._watches.get(name)
        if w is None:
            return
        w.sent_at = None
        w.deadline = None
        self._set(w, Reachability.UNKNOWN, None)
        self._schedule(w, now + w.freq)

    def unreachable(self, name: str, now: float) -> None:
        """The ping could not even be sent (no contact, transport error)."""
        w = self._watches.get(name)
        if w is None:
            return
        w.sent_at = None
        w.deadline = None
        self._set(w, Reachability.UNREACHABLE, None)
        self._schedule(w, now + UNREACHABLE_FREQ)

    def status(self, name: str) -> str:
        """Text for the Status column of ``sip show peers``."""
        w = self._watches.get(name)
        if w is None:
            return "Unmonitored"
        if w.state in (Reachability.OK, Reachability.LAGGED):
            return f"{w.state.value} ({w.last_ms} ms)"
        return str(w.state.value)

    def state(self, name: str) -> Reachability | None:
        w = self._watches.get(name)
        return None if w is None else w.state
