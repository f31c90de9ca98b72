"""Flows: where a SIP message came from and how to reach that place again (RFC 3261 §18, RFC 5626).

A flow is the 5-tuple-like identity an adapter assigns to a message: transport kind, our local
address, the remote address and, for connection-oriented transports (TCP, TLS, WS, WSS), the id
of the very connection. Requests to a browser must go back over the connection it registered on
(RFC 7118 §5), so connection flows are not interchangeable even when the addresses match.
"""

from __future__ import annotations

from dataclasses import dataclass

from pbx.core.addr import Address, TransportKind


@dataclass(frozen=True, slots=True)
class Flow:
    """One path to a peer.

    :param kind: the transport.
    :param local: our listening (UDP) or connected (stream) address.
    :param remote: the peer's address as seen on the socket.
    :param conn_id: the adapter's id of the connection; 0 for UDP, where any datagram from
        ``local`` to ``remote`` is the same flow.
    """

    kind: TransportKind
    local: Address
    remote: Address
    conn_id: int = 0

    @property
    def reliable(self) -> bool:
        return self.kind.reliable

    @property
    def connection_oriented(self) -> bool:
        return self.kind is not TransportKind.UDP

    def __str__(self) -> str:
        conn = f"#{self.conn_id}" if self.connection_oriented else ""
        return f"{self.kind.value.upper()}:{self.remote}{conn}"
