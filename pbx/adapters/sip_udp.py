"""SIP over UDP: one ``DatagramProtocol`` per ``udpbindaddr`` (RFC 3261 §18).

Every datagram from one source address is given the same :class:`~pbx.sip.flow.Flow` object:
a phone's binding, its transactions and their response routes then share one flow instead of
holding a copy each (about 200 bytes apiece, and tens of thousands of transactions linger for
Timer J at high REGISTER rates).
"""

from __future__ import annotations

import logging
import socket

from twisted.internet.interfaces import IReactorUDP
from twisted.internet.protocol import DatagramProtocol

from pbx.adapters.sip_transport import SipTransportHub
from pbx.core.addr import Address, TransportKind, unmap_ipv4
from pbx.sip.flow import Flow

log = logging.getLogger(__name__)

#: RFC 5626 §3.5.1 / common practice: bare CRLF datagrams are NAT keepalives, not messages.
_KEEPALIVES = (b"\r\n", b"\r\n\r\n", b"\n", b"\x00\x00\x00\x00")

#: Flows remembered per listener; past this the memory is emptied and starts again (sources that
#: are still registered keep their flow object through their bindings anyway).
MAX_REMEMBERED_FLOWS = 16384

#: Receive buffer asked of the kernel. The default (~208 KiB) holds only a few hundred requests,
#: so a burst (every phone re-registering after an outage, OPTIONS qualify of all peers at once)
#: is dropped while the reactor is busy. The kernel caps this at ``net.core.rmem_max``.
RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024


class SipUdpProtocol(DatagramProtocol):
    def __init__(self, hub: SipTransportHub, local: Address) -> None:
        self.hub = hub
        self.local = local
        self._flows: dict[tuple[str, int], Flow] = {}

    def flow_from(self, addr: tuple[str, int]) -> Flow:
        """The flow of datagrams from ``addr`` to this listener (one shared object per source)."""
        flow = self._flows.get(addr)
        if flow is None or flow.local is not self.local:
            # A dual-stack [::] socket reports IPv4 peers as ::ffff:a.b.c.d; pbx shows and
            # stores them as plain IPv4 (and maps them back when sending).
            flow = Flow(TransportKind.UDP, self.local, Address(unmap_ipv4(addr[0]), addr[1]))
            if len(self._flows) >= MAX_REMEMBERED_FLOWS:
                self._flows.clear()
            self._flows[addr] = flow
        return flow

    def datagramReceived(self, data: bytes, addr: tuple[str, int]) -> None:  # noqa: N802
        if data in _KEEPALIVES or not data.strip():
            return
        flow = self.flow_from(addr)
        try:
            self.hub.receive(data, flow)
        except Exception:
            # Nothing may kill the listener (the hub already catches; this is the last line).
            log.exception("unexpected error on UDP datagram from %s", flow)

    def write(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.transport is None:
            return
        if self.local.host == "::" and ":" not in addr[0]:
            addr = (f"::ffff:{addr[0]}", addr[1])
        try:
            self.transport.write(data, addr)
        except OSError as e:
            log.warning("UDP send to %s:%s failed: %s", addr[0], addr[1], e)


def listen_udp(reactor: IReactorUDP, hub: SipTransportHub, bind: Address) -> SipUdpProtocol:
    """Bind ``bind`` (``[::]`` is dual stack) and register it with the hub."""
    protocol = SipUdpProtocol(hub, bind)
    port = reactor.listenUDP(bind.port, protocol, interface=bind.host, maxPacketSize=65535)
    _enlarge_receive_buffer(port)
    actual = Address(bind.host, int(getattr(port.getHost(), "port", bind.port)))
    protocol.local = actual
    hub.add_udp(actual, protocol)
    return protocol


def _enlarge_receive_buffer(port: object) -> None:
    get_handle = getattr(port, "getHandle", None)
    if get_handle is None:
        return
    sock = get_handle()
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER_BYTES)
        granted = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
    except OSError as e:
        log.warning("could not enlarge the SIP UDP receive buffer: %s", e)
        return
    # Linux doubles the size it grants (bookkeeping overhead) and reports that: below twice
    # the request means rmem_max capped it.
    if granted < 2 * RECEIVE_BUFFER_BYTES:
        log.info("SIP UDP receive buffer is %d bytes (raise net.core.rmem_max for bursts)", granted)
