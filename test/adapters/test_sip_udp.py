"""SIP over UDP: keepalives, one flow per source, dual-stack addresses (pbx.adapters.sip_udp)."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from pbx.adapters import sip_udp
from pbx.adapters.sip_udp import SipUdpProtocol
from pbx.core.addr import Address, TransportKind
from pbx.sip.flow import Flow


class FakeHub:
    def __init__(self) -> None:
        self.received: list[tuple[bytes, Flow]] = []

    def receive(self, data: bytes, flow: Flow) -> None:
        self.received.append((data, flow))


LOCAL = Address("127.0.0.1", 5060)


def protocol(local: Address = LOCAL) -> tuple[SipUdpProtocol, FakeHub]:
    hub = FakeHub()
    return SipUdpProtocol(hub, local), hub  # type: ignore[arg-type]


class FlowTests(SynchronousTestCase):
    def test_one_flow_object_per_source(self) -> None:
        udp, hub = protocol()
        # Twisted hands over a new tuple (and host string) with every datagram.
        for host in ("192.0.2.10", "".join(["192.0.2.", "10"]), "192.0.2.11"):
            udp.datagramReceived(b"OPTIONS sip:x SIP/2.0\r\n\r\n", (host, 5062))
        flows = [flow for _data, flow in hub.received]
        self.assertEqual(flows[0], Flow(TransportKind.UDP, LOCAL, Address("192.0.2.10", 5062)))
        self.assertIs(flows[0], flows[1])
        self.assertEqual(flows[2].remote, Address("192.0.2.11", 5062))

    def test_ipv4_mapped_sources_are_unmapped(self) -> None:
        udp, _hub = protocol(Address("::", 5060))
        self.assertEqual(udp.flow_from(("::ffff:192.0.2.10", 5062)).remote.host, "192.0.2.10")

    def test_a_new_local_address_gets_new_flows(self) -> None:
        udp, _hub = protocol(Address("0.0.0.0", 0))
        before = udp.flow_from(("192.0.2.10", 5062))
        udp.local = Address("0.0.0.0", 5060)  # listen_udp learns the bound port
        self.assertEqual(udp.flow_from(("192.0.2.10", 5062)).local.port, 5060)
        self.assertEqual(before.local.port, 0)

    def test_the_memory_of_flows_is_bounded(self) -> None:
        self.patch(sip_udp, "MAX_REMEMBERED_FLOWS", 3)
        udp, _hub = protocol()
        first = udp.flow_from(("192.0.2.1", 1))
        for port in range(2, 10):
            udp.flow_from(("192.0.2.1", port))
        self.assertLessEqual(len(udp._flows), 3)
        self.assertIsNot(udp.flow_from(("192.0.2.1", 1)), first)  # forgotten, made anew
        self.assertEqual(udp.flow_from(("192.0.2.1", 1)), first)


class KeepaliveTests(SynchronousTestCase):
    def test_keepalives_are_not_messages(self) -> None:
        udp, hub = protocol()
        for data in (b"\r\n", b"\r\n\r\n", b"\n", b"\x00\x00\x00\x00", b"  \r\n"):
            udp.datagramReceived(data, ("192.0.2.10", 5062))
        self.assertEqual(hub.received, [])


class ReceiveBufferTests(SynchronousTestCase):
    def test_listener_asks_the_kernel_for_a_large_receive_buffer(self) -> None:
        import socket

        from twisted.internet import reactor

        class Hub(FakeHub):
            def add_udp(self, local: Address, udp: SipUdpProtocol) -> None:
                self.local = local

        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as plain:
            default = plain.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        udp = sip_udp.listen_udp(reactor, Hub(), Address("127.0.0.1", 0))  # type: ignore[arg-type]
        try:
            assert udp.transport is not None
            sock = udp.transport.getHandle()  # type: ignore[attr-defined]
            granted = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
            self.assertGreater(granted, default)
        finally:
            assert udp.transport is not None
            udp.transport.stopListening()
