"""The location service: address-of-record -> contact bindings (RFC 3261 §10, RFC 5626).

Storage only, as Kamailio splits ``usrloc`` from ``registrar``: REGISTER rules live in
:mod:`pbx.sip.registrar`. A binding is identified by ``(+sip.instance, reg-id)`` when the client
sends both (RFC 5626 §6, one binding per browser tab or device) and by its Contact URI otherwise.
Bindings expire by ``now``; one timer (``timer_at``/``handle_timer``) serves all of them through a
heap with lazy deletion, because thousands of bindings refresh at random times.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from dataclasses import dataclass

from pbx.core.addr import Address, TransportKind
from pbx.sip.flow import Flow

BindingKey = tuple[str, str]
"""``("instance", "<urn...>|<reg-id>")`` or ``("contact", "<uri>")``."""


@dataclass(slots=True)
class Binding:
    """One registered contact of one address of record.

    :param target: where requests to this contact go: the packet source when NAT handling or a
        connection-bound transport says so, else the Contact's host and port.
    :param flow: the flow it registered on; ``None`` when restored from disk (a WebSocket
        binding restored that way is unreachable until the browser reconnects).
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
    """All bindings, by address of record."""

    def __init__(self) -> None:
        self._by_aor: dict[str, dict[BindingKey, Binding]] = {}
        self._heap: list[tuple[float, str, BindingKey]] = []
        self._expired: list[Binding] = []
        # Connection-bound bindings by flow, so a closing WebSocket finds its bindings at once.
        self._by_flow: dict[Flow, set[tuple[str, BindingKey]]] = {}

    def __len__(self) -> int:
        return sum(len(b) for b in self._by_aor.values())

    def __iter__(self) -> Iterator[Binding]:
        for bindings in self._by_aor.values():
            yield from bindings.values()

    def lookup(self, aor: str, now: float | None = None) -> list[Binding]:
        """Live bindings of ``aor``, most recently registered first."""
        bindings = self._by_aor.get(aor)
        if not bindings:
            return []
        live = [b for b in bindings.values() if now is None or b.expires_at > now]
        live.sort(key=lambda b: b.registered_at, reverse=True)
        return live

    def get(self, aor: str, key: BindingKey) -> Binding | None:
        return self._by_aor.get(aor, {}).get(key)

    def save(self, binding: Binding, max_contacts: int) -> list[Binding]:
        """Add or refresh ``binding``; returns the bindings it evicted.

        When the address of record already holds ``max_contacts`` other bindings, the oldest
        ones make room (chan_sip keeps a single contact and replaces it the same way). A refresh
        counts itself as one of the ``max_contacts``, so a limit lowered by a reload is enforced
        at the next refresh too.
        """
        bindings = self._by_aor.setdefault(binding.aor, {})
        key = binding.key
        evicted: list[Binding] = []
        others = [b for k, b in bindings.items() if k != key]
        while others and len(others) >= max(1, max_contacts):
            oldest = min(others, key=lambda b: b.registered_at)
            others.remove(oldest)
            del bindings[oldest.key]
            evicted.append(oldest)
        old = bindings.get(key)
        if old is not None:
            self._unindex(old)
        for gone in evicted:
            self._unindex(gone)
        bindings[key] = binding
        if binding.flow is not None and binding.flow.connection_oriented:
            self._by_flow.setdefault(binding.flow, set()).add((binding.aor, key))
        heapq.heappush(self._heap, (binding.expires_at, binding.aor, key))
        return evicted

    def remove(self, aor: str, key: BindingKey) -> Binding | None:
        bindings = self._by_aor.get(aor)
        if not bindings:
            return None
        binding = bindings.pop(key, None)
        if not bindings:
            del self._by_aor[aor]
        if binding is not None:
            self._unindex(binding)
        return binding

    def remove_all(self, aor: str) -> list[Binding]:
        gone = list(self._by_aor.pop(aor, {}).values())
        for binding in gone:
            self._unindex(binding)
        return gone

    def flow_closed(self, flow: Flow) -> list[Binding]:
        """Drop every binding bound to a connection that just closed (RFC 5626 §4.4)."""
        gone: list[Binding] = []
        for aor, key in list(self._by_flow.get(flow, ())):
            binding = self.remove(aor, key)
            if binding is not None:
                gone.append(binding)
        return gone

    def _unindex(self, binding: Binding) -> None:
        if binding.flow is None:
            return
        entries = self._by_flow.get(binding.flow)
        if entries is not None:
            entries.discard((binding.aor, binding.key))
            if not entries:
                del self._by_flow[binding.flow]

    def timer_at(self) -> float | None:
        while self._heap:
            at, aor, key = self._heap[0]
            binding = self.get(aor, key)
            if binding is not None and binding.expires_at == at:
                return at
            heapq.heappop(self._heap)  # refreshed or removed since: stale entry
        return None

    def handle_timer(self, now: float) -> None:
        while self._heap and self._heap[0][0] <= now:
            at, aor, key = heapq.heappop(self._heap)
            binding = self.get(aor, key)
            if binding is not None and binding.expires_at == at:
                self.remove(aor, key)
                self._expired.append(binding)

    def expired(self) -> list[Binding]:
        """Drain the bindings that expired in ``handle_timer`` calls since the last drain."""
        out, self._expired = self._expired, []
        return out
