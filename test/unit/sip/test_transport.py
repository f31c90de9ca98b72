"""RFC 3261 §18.2.1/§18.2.2 and RFC 3581: ``received``/``rport`` stamping and response routing."""

from __future__ import annotations

from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from pbx.core.addr import Address, TransportKind
from pbx.sip.flow import Flow
from pbx.sip.message import Request, parse_message
from pbx.sip.transport import response_flow, same_host, stamp_received

CAPTURES = Path(__file__).resolve().parents[2] / "data" / "sip" / "captures"
LOCAL = Address("127.0.0.1", 5060)
SOURCE = Address("192.0.2.10", 5060)
UDP = Flow(TransportKind.UDP, LOCAL, SOURCE)


def options(via: str, *more_vias: str) -> Request:
    lines = [
        "OPTIONS sip:127.0.0.1 SIP/2.0",
        f"Via: {via}",
        *(f"Via: {v}" for v in more_vias),
        "From: <sip:alice@127.0.0.1>;tag=1",
        "To: <sip:127.0.0.1>",
        "Call-ID: c1",
        "CSeq: 1 OPTIONS",
        "Content-Length: 0",
        "",
        "",
    ]
    message = parse_message("\r\n".join(lines).encode())
    assert isinstance(message, Request)
    return message


def udp_from(host: str, port: int) -> Flow:
    return Flow(TransportKind.UDP, LOCAL, Address(host, port))


class SameHostTests(SynchronousTestCase):
    def test_ip_literals_compare_as_addresses(self) -> None:
        self.assertTrue(same_host("192.0.2.10", "192.0.2.10"))
        self.assertFalse(same_host("192.0.2.10", "192.0.2.11"))
        self.assertTrue(same_host("::1", "0:0:0:0:0:0:0:1"))
        self.assertTrue(same_host("[2001:db8::1]", "2001:DB8:0::1"))
        self.assertTrue(same_host("::ffff:192.0.2.10", "192.0.2.10"))
        self.assertFalse(same_host("::1", "127.0.0.1"))

    def test_names_compare_without_case(self) -> None:
        self.assertTrue(same_host("Phone.Example.com", "phone.example.com"))
        self.assertFalse(same_host("phone.example.com", "192.0.2.10"))
        self.assertFalse(same_host("94sbnb3892jg.invalid", "127.0.0.1"))


class StampReceivedTests(SynchronousTestCase):
    def test_nothing_added_when_the_host_is_the_source(self) -> None:
        request = options("SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK1")
        before = bytes(request)
        stamp_received(request, UDP)
        self.assertEqual(bytes(request), before)
        self.assertIsNone(request.top_via.received)

    def test_nothing_added_for_the_same_address_spelled_differently(self) -> None:
        request = options("SIP/2.0/UDP [0:0::1]:5060;branch=z9hG4bK1")
        stamp_received(request, udp_from("::1", 5060))
        self.assertEqual(request.headers.get("Via"), "SIP/2.0/UDP [0:0::1]:5060;branch=z9hG4bK1")

    def test_received_added_when_the_host_differs(self) -> None:
        request = options("SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK1")
        stamp_received(request, udp_from("198.51.100.7", 40000))
        self.assertEqual(
            request.headers.get("Via"),
            "SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK1;received=198.51.100.7",
        )
        self.assertNotIn(b";rport", bytes(request))

    def test_received_for_a_host_name(self) -> None:
        request = options("SIP/2.0/UDP phone.example.com;branch=z9hG4bK1")
        stamp_received(request, UDP)
        self.assertEqual(request.top_via.received, "192.0.2.10")

    def test_rport_filled_and_received_added_even_when_identical(self) -> None:
        # RFC 3581 §4: with rport, received goes in "even if it is identical".
        request = options("SIP/2.0/UDP 192.0.2.10:5060;rport;branch=z9hG4bK1")
        stamp_received(request, UDP)
        self.assertEqual(
            request.headers.get("Via"),
            "SIP/2.0/UDP 192.0.2.10:5060;rport=5060;branch=z9hG4bK1;received=192.0.2.10",
        )

    def test_rport_behind_nat(self) -> None:
        request = options("SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK1;rport")
        stamp_received(request, udp_from("198.51.100.7", 40000))
        via = request.top_via
        self.assertEqual((via.received, via.rport_value), ("198.51.100.7", 40000))

    def test_rport_with_a_value_is_left_alone(self) -> None:
        request = options("SIP/2.0/UDP 192.0.2.10:5060;rport=5060;branch=z9hG4bK1")
        before = bytes(request)
        stamp_received(request, UDP)
        self.assertEqual(bytes(request), before)

    def test_ipv6_received_has_no_brackets(self) -> None:
        request = options("SIP/2.0/UDP [2001:db8::5]:5060;branch=z9hG4bK1")
        stamp_received(request, udp_from("2001:db8::7", 5060))
        self.assertEqual(
            request.headers.get("Via"),
            "SIP/2.0/UDP [2001:db8::5]:5060;branch=z9hG4bK1;received=2001:db8::7",
        )

    def test_only_the_top_via_is_touched(self) -> None:
        request = options(
            "SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK1",
            "SIP/2.0/UDP proxy.example.com;branch=z9hG4bK0;received=203.0.113.1",
        )
        stamp_received(request, UDP)
        self.assertEqual(
            request.headers.get_all("Via"),
            [
                "SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK1;received=192.0.2.10",
                "SIP/2.0/UDP proxy.example.com;branch=z9hG4bK0;received=203.0.113.1",
            ],
        )

    def test_jssip_register_over_wss(self) -> None:
        message = parse_message((CAPTURES / "jssip-register.sip").read_bytes())
        assert isinstance(message, Request)
        ws = Flow(TransportKind.WSS, Address("127.0.0.1", 8089), Address("127.0.0.1", 55104), 1)
        stamp_received(message, ws)
        self.assertEqual(
            message.headers.get("Via"),
            "SIP/2.0/WSS 94sbnb3892jg.invalid;branch=z9hG4bK5723442;received=127.0.0.1",
        )


class ResponseFlowTests(SynchronousTestCase):
    def route(self, via: str, flow: Flow = UDP, force_rport: bool = False) -> Flow:
        request = options(via)
        stamp_received(request, flow)
        return response_flow(request, flow, force_rport)

    def test_udp_to_the_via_port_at_the_source_address(self) -> None:
        self.assertIs(self.route("SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK1"), UDP)
        self.assertEqual(
            self.route("SIP/2.0/UDP 192.0.2.10:5070;branch=z9hG4bK1"),
            udp_from("192.0.2.10", 5070),
        )
        # No port in Via: 5060 (§18.2.2), still at the source address (received).
        nat = udp_from("198.51.100.7", 40000)
        self.assertEqual(
            self.route("SIP/2.0/UDP 10.0.0.5;branch=z9hG4bK1", nat),
            udp_from("198.51.100.7", 5060),
        )

    def test_udp_with_rport_answers_the_source_port(self) -> None:
        nat = udp_from("198.51.100.7", 40000)
        self.assertIs(self.route("SIP/2.0/UDP 10.0.0.5:5060;rport;branch=z9hG4bK1", nat), nat)

    def test_unstamped_rport_is_the_source_port(self) -> None:
        nat = udp_from("198.51.100.7", 40000)
        request = options("SIP/2.0/UDP 10.0.0.5:5060;rport;branch=z9hG4bK1")
        self.assertIs(response_flow(request, nat), nat)

    def test_rport_value_is_honoured_at_the_source_host(self) -> None:
        request = options("SIP/2.0/UDP 192.0.2.10:5060;rport=5080;branch=z9hG4bK1")
        self.assertEqual(response_flow(request, UDP), udp_from("192.0.2.10", 5080))
        request = options("SIP/2.0/UDP 192.0.2.10:5062;rport=99999;branch=z9hG4bK1")
        self.assertIs(response_flow(request, UDP), UDP)

    def test_a_received_written_by_the_client_is_not_followed(self) -> None:
        # Sent-by equals the source, so stamping leaves the forged received in place.
        request = options("SIP/2.0/UDP 192.0.2.10:5060;rport=9;received=203.0.113.9;branch=z9")
        stamp_received(request, UDP)
        self.assertEqual(response_flow(request, UDP), udp_from("192.0.2.10", 9))

    def test_force_rport_answers_the_source(self) -> None:
        nat = udp_from("198.51.100.7", 40000)
        via = "SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK1"
        self.assertIs(self.route(via, nat, force_rport=True), nat)
        self.assertEqual(self.route(via, nat), udp_from("198.51.100.7", 5060))

    def test_connection_flows_answer_on_the_connection(self) -> None:
        tcp = Flow(TransportKind.TCP, LOCAL, Address("192.0.2.10", 49152), conn_id=4)
        self.assertIs(self.route("SIP/2.0/TCP 192.0.2.10:5060;branch=z9hG4bK1", tcp), tcp)
        tls = Flow(TransportKind.TLS, LOCAL, Address("192.0.2.10", 49153), conn_id=5)
        self.assertIs(self.route("SIP/2.0/TLS 10.0.0.5:5061;branch=z9hG4bK1", tls), tls)
        for kind in (TransportKind.WS, TransportKind.WSS):
            ws = Flow(kind, Address("127.0.0.1", 8089), Address("127.0.0.1", 55104), 6)
            self.assertIs(self.route("SIP/2.0/WSS x.invalid;branch=z9hG4bK1", ws), ws)
