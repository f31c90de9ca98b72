"""The location service: address-of-record -> contact bindings (RFC 3261 §10, RFC 5626).

Storage only, as Kamailio splits ``usrloc`` from ``registrar``: REGISTER rules live in
:mod:`pbx.sip.registrar`. A binding is identified by ``(+sip.instance, reg-id)`` when the client
sends both (RFC 5626 §6, one binding per browser tab or device) and by its Contact URI otherwise.
Bindings expire by ``now``; one timer (``timer_at``/``handle_timer``) serves all of them through a
heap with lazy deletion, because thousands of bindings refresh at random times.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterator
from dataclasses import dataclass

from pbx.core.addr import Address, TransportKind
from pbx.sip.flow import Flow

BindingKey = tuple[str, str]
"""``("instance", "<urn...>|<reg-id>")`` or ``("contact", "<uri>")``."""

#: Stale heap entries tolerated on top of two per live binding before the heap is rebuilt.
_HEAP_SLACK = 1024


@dataclass(slots=True)
class Binding:
    """One registered contact of one address of record.

    :param target: where requests to this contact go: the packet source when NAT handling or a
        connection-bound transport says so, else the Contact's host and port.
    :param flow: the flow it registered on while that is open; ``None`` when restored from
        disk or once a TCP/TLS connection closed (a WebSocket binding without its flow is
        unreachable until the browser reconnects).
    """

    aor: str
    contact: str
    expires_at: float
    registered_at: float
    source: Address
    transport: TransportKind
    target: Address
    flow: Flow | None
    call_id: str = ""
    cseq: int = 0
    user_agent: str = ""
    instance: str | None = None
    reg_id: int | None = None

    @property
    def key(self) -> BindingKey:
        if self.instance is not None and self.reg_id is not None:
            return ("instance", f"{self.instance}|{self.reg_id}")
        return ("contact", self.contact)

    def expires_in(self, now: float) -> int:
        return max(0, int(self.expires_at - now + 0.5))


class Location:
    """All bindings, by address of record.

    Memory is per binding what the binding itself holds plus one list slot and one heap entry:
    an address of record usually has one contact (chan_sip's ``max_contacts`` default), so its
    bindings are a short list scanned by key rather than a dict of their own.
    """

    def __init__(self) -> None:
        self._by_aor: dict[str, list[Binding]] = {}
        self._count = 0
        # (expires_at, tie-breaker, binding); an entry is live while that very binding object
        # is still stored with that expiry (refreshes store a new object).
        self._heap: list[tuple[float, int, Binding]] = []
        self._seq = itertools.count()
        self._expired: list[Binding] = []
        # Connection-bound bindings by flow, so a closing WebSocket finds its bindings at once.
        self._by_flow: dict[Flow, set[tuple[str, BindingKey]]] = {}

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[Binding]:
        for bindings in self._by_aor.values():
            yield from bindings

    def lookup(self, aor: str, now: float | None = None) -> list[Binding]:
        """Live bindings of ``aor``, most recently registered first."""
        bindings = self._by_aor.get(aor)
        if not bindings:
            return []
        live = [b for b in bindings if now is None or b.expires_at > now]
        live.sort(key=lambda b: b.registered_at, reverse=True)
        return live

    def get(self, aor: str, key: BindingKey) -> Binding | None:
        for binding in self._by_aor.get(aor, ()):
            if binding.key == key:
                return binding
        return None

    def save(self, binding: Binding, max_contacts: int) -> list[Binding]:
        """Add or refresh ``binding``; returns the bindings it evicted.

        When the address of record already holds ``max_contacts`` other bindings, the oldest
        ones make room (chan_sip keeps a single contact and replaces it the same way). A refresh
        counts itself as one of the ``max_contacts``, so a limit lowered by a reload is enforced
        at the next refresh too.
        """
        key = binding.key
        current = self._by_aor.get(binding.aor, [])
        old: Binding | None = None
        others: list[Binding] = []
        for stored in current:
            if stored.key == key:
                old = stored
            else:
                others.append(stored)
        evicted: list[Binding] = []
        while others and len(others) >= max(1, max_contacts):
            oldest = min(others, key=lambda b: b.registered_at)
            others.remove(oldest)
            evicted.append(oldest)
        if old is not None:
            self._unindex(old)
        for gone in evicted:
            self._unindex(gone)
        others.append(binding)
        self._count += len(others) - len(current)
        self._by_aor[binding.aor] = others
        if binding.flow is not None and binding.flow.connection_oriented:
            self._by_flow.setdefault(binding.flow, set()).add((binding.aor, key))
        self._schedule(binding)
        return evicted

    def remove(self, aor: str, key: BindingKey) -> Binding | None:
        bindings = self._by_aor.get(aor)
        if not bindings:
            return None
        for i, binding in enumerate(bindings):
            if binding.key == key:
                del bindings[i]
                break
        else:
            return None
        self._count -= 1
        if not bindings:
            del self._by_aor[aor]
        self._unindex(binding)
        return binding

    def remove_all(self, aor: str) -> list[Binding]:
        gone = self._by_aor.pop(aor, [])
        self._count -= len(gone)
        for binding in gone:
            self._unindex(binding)
        return gone

    def flow_closed(self, flow: Flow) -> list[Binding]:
        """A connection closed: drop the bindings that live only as long as it does; returns
        them.

        Those are WebSocket ones (a browser cannot be connected to, RFC 7118 §5) and RFC 5626
        outbound ones (``+sip.instance`` with ``reg-id``: the UA reconnects and registers again,
        §4.4). A plain TCP/TLS binding stays until it expires, as in chan_sip: the phone listens
        at its Contact, and requests to it open a new connection to :attr:`Binding.target`.
        """
        gone: list[Binding] = []
        for aor, key in list(self._by_flow.pop(flow, ())):
            binding = self.get(aor, key)
            if binding is None:
                continue
            if flow.kind.websocket or binding.reg_id is not None:
                self.remove(aor, key)
                gone.append(binding)
            else:
                binding.flow = None
        return gone

    def _unindex(self, binding: Binding) -> None:
        if binding.flow is None:
            return
        entries = self._by_flow.get(binding.flow)
        if entries is not None:
            entries.discard((binding.aor, binding.key))
            if not entries:
                del self._by_flow[binding.flow]

    def _stored(self, binding: Binding) -> bool:
        """Whether this very object is one of the current bindings."""
        for stored in self._by_aor.get(binding.aor, ()):
            if stored is binding:
                return True
        return False

    def _schedule(self, binding: Binding) -> None:
        heapq.heappush(self._heap, (binding.expires_at, next(self._seq), binding))
        # Every refresh leaves its predecessor's entry behind until that one's time comes
        # (up to maxexpiry later): rebuild once stale entries outnumber the live ones, so that
        # the heap stays O(bindings) however often phones re-register.
        if len(self._heap) > 2 * len(self) + _HEAP_SLACK:
            self._heap = [(b.expires_at, next(self._seq), b) for b in self]
            heapq.heapify(self._heap)

    def timer_at(self) -> float | None:
        heap = self._heap
        while heap:
            at, _seq, binding = heap[0]
            if binding.expires_at == at and self._stored(binding):
                return at
            heapq.heappop(heap)  # refreshed or removed since: stale entry
        return None

    def handle_timer(self, now: float) -> None:
        heap = self._heap
        while heap and heap[0][0] <= now:
            at, _seq, binding = heapq.heappop(heap)
            if binding.expires_at == at and self._stored(binding):
                self.remove(binding.aor, binding.key)
                self._expired.append(binding)

    def expired(self) -> list[Binding]:
        """Drain the bindings that expired in ``handle_timer`` calls since the last drain."""
        out, self._expired = self._expired, []
        return out
