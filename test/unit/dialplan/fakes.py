"""Test doubles for the dialplan: a scriptable DialplanChannel on a task.Clock, a dict astdb.

:class:`FakeChannel` implements :class:`pbx.call.dialplan_api.DialplanChannel` the way the call
layer is expected to: waits run on the injected Clock, DTMF is queued until someone listens,
busy/congestion before answer reject the call, and every operation is recorded in ``events``.
"""

from __future__ import annotations

import logging
import unittest
from typing import Any

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.interfaces import IDelayedCall
from twisted.internet.task import Clock, deferLater

from pbx.call.dialplan_api import (
    ChannelState,
    DialOptions,
    DialResult,
    Indication,
    MissingSound,
)
from pbx.dialplan.model import Dialplan
from pbx.dialplan.parser import loads


class FakeChannel:
    def __init__(
        self,
        clock: Clock,
        name: str = "SIP/alice-00000001",
        caller_id_num: str = "1001",
        caller_id_name: str = "Alice",
        state: ChannelState = "Ring",
    ) -> None:
        self.clock = clock
        self.name = name
        self.uniqueid = "1700000000.1"
        self.variables: dict[str, str] = {}
        self.caller_id_name = caller_id_name
        self.caller_id_num = caller_id_num
        self.state: ChannelState = state
        self.hangup_cause: int | None = None
        self.events: list[tuple[Any, ...]] = []
        self.missing_sounds: set[str] = set()
        self.sound_seconds = 1.0
        self.dial_outcome: Deferred[DialResult] | DialResult = DialResult("NOANSWER", 30.0)
        self.reject_on_indication = True
        self.wake_digit_waiter_on_hangup = False
        self._queue: list[str] = []
        self._digit_waiter: tuple[Deferred[str | None], IDelayedCall] | None = None
        self._playing: tuple[Deferred[str | None], str, IDelayedCall] | None = None
        self._hungup: list[Deferred[int]] = []
        self.location: tuple[str, str, int, str, str] | None = None

    # -- DialplanChannel ---------------------------------------------------------------------

    def executing(self, context: str, exten: str, priority: int, app: str, data: str) -> None:
        self.location = (context, exten, priority, app, data)

    def answer(self) -> Deferred[None]:
        if self.state != "Up":
            self.events.append(("answer",))
            self.state = "Up"
        return succeed(None)

    def indicate(self, what: Indication) -> None:
        self.events.append(("indicate", what))
        if what in ("busy", "congestion") and self.state != "Up" and self.reject_on_indication:
            self._end(17 if what == "busy" else 34)

    def hangup(self, cause: int = 16) -> None:
        if self.hangup_cause is None:
            self.events.append(("hangup", cause))
            self._end(cause)

    def when_hungup(self) -> Deferred[int]:
        if self.hangup_cause is not None:
            return succeed(self.hangup_cause)
        d: Deferred[int] = Deferred()
        self._hungup.append(d)
        return d

    def wait(self, seconds: float) -> Deferred[None]:
        self.events.append(("wait", seconds))
        return deferLater(self.clock, seconds, lambda: None)

    def wait_for_digit(self, timeout: float) -> Deferred[str | None]:
        self.events.append(("wait_for_digit", timeout))
        if self._queue:
            return succeed(self._queue.pop(0))

        def cancel(d: Deferred[str | None]) -> None:
            self._stop_digit_wait()

        d: Deferred[str | None] = Deferred(cancel)
        call = self.clock.callLater(timeout, self._digit_timeout)
        self._digit_waiter = (d, call)
        return d

    def play(self, files: list[str], interrupt_digits: str = "") -> Deferred[str | None]:
        self.events.append(("play", list(files), interrupt_digits))
        for name in files:
            if name in self.missing_sounds:
                return fail(MissingSound(name))
        while self._queue:
            digit = self._queue.pop(0)
            if digit in interrupt_digits:
                return succeed(digit)

        def cancel(d: Deferred[str | None]) -> None:
            self._stop_playing()

        d: Deferred[str | None] = Deferred(cancel)
        call = self.clock.callLater(self.sound_seconds * len(files), self._played)
        self._playing = (d, interrupt_digits, call)
        return d

    def echo(self) -> Deferred[None]:
        self.events.append(("echo",))
        return Deferred(lambda d: None)

    def dial(
        self, targets: list[str], timeout: float | None, options: DialOptions
    ) -> Deferred[DialResult]:
        self.events.append(("dial", list(targets), timeout, options))
        if isinstance(self.dial_outcome, Deferred):
            return self.dial_outcome
        return succeed(self.dial_outcome)

    # -- test controls -----------------------------------------------------------------------

    def press(self, digits: str) -> None:
        """DTMF from the caller."""
        for digit in digits:
            if self._digit_waiter is not None:
                d, call = self._digit_waiter
                self._digit_waiter = None
                call.cancel()
                d.callback(digit)
            elif self._playing is not None:
                d, interrupt, call = self._playing
                if digit in interrupt:
                    self._playing = None
                    call.cancel()
                    d.callback(digit)
            else:
                self._queue.append(digit)

    def remote_hangup(self, cause: int = 16) -> None:
        """The caller hangs up."""
        self.events.append(("remote_hangup", cause))
        self._end(cause)

    def names(self) -> list[str]:
        """The kinds of recorded events, in order."""
        return [e[0] for e in self.events]

    # -- internals ---------------------------------------------------------------------------

    def _end(self, cause: int) -> None:
        if self.hangup_cause is not None:
            return
        self.hangup_cause = cause
        self.state = "Down"
        if self.wake_digit_waiter_on_hangup and self._digit_waiter is not None:
            # Like pbx.call.channel: a pending digit wait ends with "no digit" first.
            waiter, call = self._digit_waiter
            self._digit_waiter = None
            call.cancel()
            waiter.callback(None)
        waiters, self._hungup = self._hungup, []
        for d in waiters:
            d.callback(cause)

    def _digit_timeout(self) -> None:
        assert self._digit_waiter is not None
        d, _ = self._digit_waiter
        self._digit_waiter = None
        d.callback(None)

    def _stop_digit_wait(self) -> None:
        if self._digit_waiter is not None:
            _, call = self._digit_waiter
            self._digit_waiter = None
            if call.active():
                call.cancel()

    def _played(self) -> None:
        assert self._playing is not None
        d, _, _ = self._playing
        self._playing = None
        d.callback(None)

    def _stop_playing(self) -> None:
        if self._playing is not None:
            _, _, call = self._playing
            self._playing = None
            if call.active():
                call.cancel()


class DictStore:
    """A KeyValueStore over a dict, for DB() tests."""

    def __init__(self) -> None:
        self.data: dict[tuple[str, str], str] = {}

    def get(self, family: str, key: str) -> str | None:
        return self.data.get((family, key))

    def put(self, family: str, key: str, value: str) -> None:
        self.data[(family, key)] = value

    def delete(self, family: str, key: str) -> bool:
        return self.data.pop((family, key), None) is not None


def dialplan(text: str) -> Dialplan:
    """Parse extensions.conf text that must load without errors."""
    result = loads(text)
    assert not result.errors, [str(e) for e in result.errors]
    return result.dialplan


class _Recorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class Harness:
    """A dialplan, a FakeChannel and an Engine on one Clock: ``start()`` then ``clock.advance``.

    Every log record of ``pbx.dialplan`` is captured in ``records`` while the test runs.
    """

    def __init__(self, test: unittest.TestCase, text: str, **channel: Any) -> None:
        from pbx.dialplan.engine import Engine

        self.clock = Clock()
        self.dialplan = dialplan(text)
        self.channel = FakeChannel(self.clock, **channel)
        self.db = DictStore()
        self.globals: dict[str, str] = dict(self.dialplan.globals)
        self.peers: dict[tuple[str, str], str] = {}
        self.engine = Engine.create(self.clock, globals=self.globals, db=self.db, peers=self._peer)
        self.results: list[Any] = []
        self._recorder = _Recorder()
        logger = logging.getLogger("pbx.dialplan")
        previous = logger.level
        logger.setLevel(logging.DEBUG)
        logger.addHandler(self._recorder)
        test.addCleanup(logger.removeHandler, self._recorder)
        test.addCleanup(logger.setLevel, previous)

    def _peer(self, peer: str, item: str) -> str | None:
        return self.peers.get((peer, item))

    def start(self, context: str, exten: str, priority: int = 1) -> None:
        d = self.engine.run(self.channel, self.dialplan, context, exten, priority)
        d.addCallback(self.results.append)

    @property
    def done(self) -> bool:
        return bool(self.results)

    @property
    def records(self) -> list[logging.LogRecord]:
        return self._recorder.records

    @property
    def executed(self) -> list[str]:
        """``exten@context:priority App(data)`` of every priority run so far."""
        out = []
        for r in self.records:
            if "Executing [" in str(r.msg):
                exten, context, priority, app, _, data = r.args  # type: ignore[misc]
                out.append(f"{exten}@{context}:{priority} {app}({data})")
        return out

    def messages(self, level: int = logging.DEBUG) -> list[str]:
        """Every captured message at ``level`` or above, formatted."""
        return [r.getMessage() for r in self.records if r.levelno >= level]
