"""SIP over TCP and TLS: stream framing by Content-Length (RFC 3261 §18.3).

Each accepted connection is one flow. A client that sends garbage gets a 400 when its message is
recoverable, and is disconnected when framing is lost; other connections are unaffected. CRLF
keepalive pings (RFC 5626 §4.4.1) are answered with a single CRLF.
"""

from __future__ import annotations

import logging

from twisted.internet.interfaces import IAddress
from twisted.internet.protocol import Factory, Protocol, connectionDone
from twisted.python.failure import Failure

from pbx.adapters.sip_transport import SipTransportHub
from pbx.core.addr import Address, TransportKind, unmap_ipv4
from pbx.sip.flow import Flow
from pbx.sip.framing import Keepalive, StreamFramer
from pbx.sip.message import SipParseError

log = logging.getLogger(__name__)


class SipStreamProtocol(Protocol):
    def __init__(self, hub: SipTransportHub, kind: TransportKind) -> None:
        self.hub = hub
        self.kind = kind
        self.framer = StreamFramer(hub.max_size)
        self.flow: Flow = Flow(kind, Address("0.0.0.0", 0), Address("0.0.0.0", 0))

    def connectionMade(self) -> None:  # noqa: N802
        assert self.transport is not None
        local = _address(self.transport.getHost())
        remote = _address(self.transport.getPeer())
        self.flow = Flow(self.kind, local, remote, self.hub.new_conn_id())
        self.hub.add_connection(self)

    def dataReceived(self, data: bytes) -> None:  # noqa: N802
        try:
            frames = self.framer.feed(data)
        except SipParseError as e:
            log.warning("Closing %s: %s", self.flow, e.message)
            self.hub.reject(e, data, self.flow)
            self.close()
            return
        for frame in frames:
            if isinstance(frame, Keepalive):
                self.send_message(b"\r\n")
                continue
            try:
                self.hub.receive(frame, self.flow)
            except Exception:
                log.exception("unexpected error on a message from %s", self.flow)

    def connectionLost(self, reason: Failure = connectionDone) -> None:  # noqa: N802
        self.hub.remove_connection(self)

    # -- Connection (the hub's sending side) --------------------------------------------------
    def send_message(self, data: bytes) -> None:
        if self.transport is not None:
            self.transport.write(data)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.loseConnection()


class SipStreamFactory(Factory):
    def __init__(self, hub: SipTransportHub, kind: TransportKind) -> None:
        self.hub = hub
        self.kind = kind

    def buildProtocol(self, addr: IAddress | None) -> SipStreamProtocol:  # noqa: N802
        return SipStreamProtocol(self.hub, self.kind)


def _address(addr: IAddress) -> Address:
    host = getattr(addr, "host", "0.0.0.0")
    port = getattr(addr, "port", 0)
    return Address(unmap_ipv4(str(host)), int(port))
