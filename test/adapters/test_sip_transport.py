"""The transport hub's flows and outbound connections (pbx.adapters.sip_transport).

RFC 3261 §18.1.1: a request to a TCP/TLS target no open connection reaches opens one; what is
sent meanwhile waits for it; a failed or silent connection is a transport error for the
transactions on it. Driven with a fake connector on ``task.Clock``.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from pbx.adapters.sip_transport import CONNECT_TIMEOUT, SipTransportHub
from pbx.core.addr import Address, TransportKind
from pbx.core.nat import NatMap
from pbx.sip.flow import Flow

TCP, TLS, UDP, WSS = TransportKind.TCP, TransportKind.TLS, TransportKind.UDP, TransportKind.WSS
TCP_LISTENER = Address("127.0.0.1", 5060)
TRUNK = Address("127.0.0.1", 5070)


@dataclass
class RecordingLayer:
    errors: list[Flow] = field(default_factory=list)

    def transport_error(self, flow: Flow, now: float) -> None:
        self.errors.append(flow)

    def receive(self, message: object, flow: Flow, now: float) -> None:
        return

    def outputs(self) -> list[object]:
        return []


@dataclass
class FakeConnection:
    flow: Flow
    sent: list[bytes] = field(default_factory=list)
    closed: bool = False

    def send_message(self, data: bytes) -> None:
        self.sent.append(data)

    def close(self) -> None:
        self.closed = True


@dataclass
class FakeAttempt:
    cancelled: bool = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeConnector:
    def __init__(self) -> None:
        self.attempts: list[tuple[Flow, FakeAttempt]] = []
        self.names: list[str] = []

    def __call__(self, flow: Flow, server_name: str) -> FakeAttempt:
        self.names.append(server_name)
        attempt = FakeAttempt()
        self.attempts.append((flow, attempt))
        return attempt


class Harness:
    def __init__(self, connector: bool = True) -> None:
        self.clock = Clock()
        self.lost: list[Flow] = []
        self.connector = FakeConnector()
        self.hub = SipTransportHub(
            self.clock,
            65535,
            "pbx-test",
            self.lost.append,
            connector=self.connector if connector else None,
        )
        self.layer = RecordingLayer()
        self.hub.layer = self.layer  # type: ignore[assignment]
        self.hub.add_listener(TCP, TCP_LISTENER)
        self.hub.add_listener(TLS, Address("0.0.0.0", 5061))

    def up(self, flow: Flow) -> FakeConnection:
        connection = FakeConnection(flow)
        self.hub.connection_made(connection)
        return connection


class OutboundTests(SynchronousTestCase):
    def test_a_tcp_target_gets_one_flow_from_the_listener(self) -> None:
        h = Harness()
        flow = h.hub.flow_to(TCP, None, TRUNK)
        assert flow is not None
        self.assertEqual((flow.kind, flow.local, flow.remote), (TCP, TCP_LISTENER, TRUNK))
        self.assertNotEqual(flow.conn_id, 0)
        self.assertIs(h.hub.flow_to(TCP, None, TRUNK), flow)
        self.assertEqual(h.connector.attempts, [])  # nothing to send yet: nothing opened

    def test_messages_wait_for_the_connection_and_go_out_in_order(self) -> None:
        h = Harness()
        flow = h.hub.flow_to(TCP, None, TRUNK)
        assert flow is not None
        self.assertTrue(h.hub.send(b"INVITE", flow))
        self.assertTrue(h.hub.send(b"CANCEL", flow))
        self.assertEqual([f for f, _a in h.connector.attempts], [flow])  # one connection
        connection = h.up(flow)
        self.assertEqual(connection.sent, [b"INVITE", b"CANCEL"])
        h.hub.send(b"ACK", flow)
        self.assertEqual(connection.sent[-1], b"ACK")
        self.assertTrue(h.hub.is_open(flow))
        self.assertEqual(len(h.connector.attempts), 1)

    def test_a_refused_connection_is_a_transport_error_warned_once(self) -> None:
        h = Harness()
        flow = h.hub.flow_to(TCP, None, TRUNK)
        assert flow is not None
        h.hub.send(b"OPTIONS", flow)
        with self.assertLogs("pbx.adapters.sip_transport", "DEBUG") as logs:
            h.hub.connect_failed(flow, "Connection refused")
            h.hub.send(b"OPTIONS", flow)  # the next request tries again
            h.hub.connect_failed(flow, "Connection refused")
        self.assertEqual(h.layer.errors, [flow, flow])
        warnings = [r.getMessage() for r in logs.records if r.levelname == "WARNING"]
        self.assertEqual(
            warnings, ["Unable to connect SIP TCP socket to 127.0.0.1:5070: Connection refused"]
        )
        h.hub.send(b"OPTIONS", flow)
        with self.assertLogs("pbx.adapters.sip_transport", "INFO") as logs:
            h.up(flow)
        self.assertIn("up again", logs.output[0])

    def test_a_silent_target_times_out_before_timer_b(self) -> None:
        h = Harness()
        flow = h.hub.flow_to(TCP, None, TRUNK)
        assert flow is not None
        h.hub.send(b"INVITE", flow)
        [(_flow, attempt)] = h.connector.attempts
        h.clock.advance(CONNECT_TIMEOUT - 0.1)
        self.assertEqual(h.layer.errors, [])
        with self.assertLogs("pbx.adapters.sip_transport", "WARNING"):
            h.clock.advance(0.1)
        self.assertTrue(attempt.cancelled)
        self.assertEqual(h.layer.errors, [flow])
        self.assertLess(CONNECT_TIMEOUT, 32.0)  # 64*T1: a 503, not a Timer B timeout
        late = FakeConnection(flow)
        h.hub.connection_made(late)  # the connector's late success is closed, not used
        self.assertTrue(late.closed)
        self.assertFalse(h.hub.is_open(flow))

    def test_a_closed_connection_is_opened_again_by_the_next_request(self) -> None:
        h = Harness()
        flow = h.hub.flow_to(TCP, None, TRUNK)
        assert flow is not None
        h.hub.send(b"INVITE", flow)
        first = h.up(flow)
        h.hub.remove_connection(first)  # the trunk closed an idle connection
        self.assertEqual(h.layer.errors, [flow])
        self.assertEqual(h.lost, [flow])
        self.assertIs(h.hub.flow_to(TCP, None, TRUNK), flow)  # the dialog's flow still works
        h.hub.send(b"BYE", flow)
        self.assertEqual(len(h.connector.attempts), 2)
        self.assertEqual(h.up(flow).sent, [b"BYE"])

    def test_an_accepted_connection_from_the_target_is_reused(self) -> None:
        h = Harness()
        accepted = FakeConnection(Flow(TCP, TCP_LISTENER, TRUNK, h.hub.new_conn_id()))
        h.hub.add_connection(accepted)
        self.assertIs(h.hub.flow_to(TCP, None, TRUNK), accepted.flow)
        h.hub.remove_connection(accepted)
        self.assertNotEqual(h.hub.flow_to(TCP, None, TRUNK), accepted.flow)

    def test_tls_uses_the_tls_listener(self) -> None:
        h = Harness()
        flow = h.hub.flow_to(TLS, None, Address("127.0.0.1", 5071))
        assert flow is not None
        self.assertEqual(flow.local, Address("0.0.0.0", 5061))
        self.assertEqual(h.hub.advertised(flow).port, 5061)

    def test_without_a_listener_or_connector_nothing_is_reachable(self) -> None:
        h = Harness()
        with self.assertLogs("pbx.adapters.sip_transport", "WARNING") as logs:
            self.assertIsNone(h.hub.flow_to(TCP, None, Address("::1", 5070)))  # no IPv6 one
            self.assertIsNone(h.hub.flow_to(TCP, None, Address("::1", 5071)))
        self.assertEqual(len(logs.records), 1)
        self.assertIsNone(Harness(connector=False).hub.flow_to(TCP, None, TRUNK))

    def test_a_connector_error_fails_like_a_refused_connection(self) -> None:
        h = Harness()

        def broken(flow: Flow, server_name: str) -> FakeAttempt:
            raise ValueError("bad CA file")

        h.hub.connector = broken
        flow = h.hub.flow_to(TCP, None, TRUNK)
        assert flow is not None
        with self.assertLogs("pbx.adapters.sip_transport", "WARNING"):
            self.assertTrue(h.hub.send(b"INVITE", flow))
            h.clock.advance(0)
        self.assertEqual(h.layer.errors, [flow])

    def test_close_outbound_closes_and_cancels_everything(self) -> None:
        h = Harness()
        up = h.hub.flow_to(TCP, None, TRUNK)
        opening = h.hub.flow_to(TLS, None, TRUNK)
        assert up is not None and opening is not None
        h.hub.send(b"OPTIONS", up)
        connection = h.up(up)
        h.hub.send(b"OPTIONS", opening)
        h.hub.close_outbound()
        self.assertTrue(connection.closed)
        self.assertTrue(h.connector.attempts[-1][1].cancelled)
        self.assertIsNone(h.hub.flow_to(TCP, None, Address("127.0.0.1", 5080)))


class ClosedByThePhoneTests(SynchronousTestCase):
    PHONE = Address("127.0.0.1", 40312)
    OPTIONS = (
        b"OPTIONS sip:127.0.0.1 SIP/2.0\r\n"
        b"Via: SIP/2.0/TCP 127.0.0.1:5072;branch=z9hG4bK-1\r\n"
        b"From: <sip:desk@127.0.0.1>;tag=1\r\nTo: <sip:127.0.0.1>\r\n"
        b"Call-ID: c1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    )

    def test_a_closed_accepted_connection_is_reached_at_its_via_port(self) -> None:
        h = Harness()
        accepted = FakeConnection(Flow(TCP, TCP_LISTENER, self.PHONE, h.hub.new_conn_id()))
        h.hub.add_connection(accepted)
        h.hub.receive(self.OPTIONS, accepted.flow)
        h.hub.remove_connection(accepted)
        self.assertTrue(h.hub.send(b"BYE", accepted.flow))  # the dialog's flow, closed
        [(flow, _attempt)] = h.connector.attempts
        self.assertEqual((flow.kind, flow.remote), (TCP, Address("127.0.0.1", 5072)))
        self.assertEqual(h.up(flow).sent, [b"BYE"])

    def test_without_a_request_seen_nothing_is_guessed(self) -> None:
        h = Harness()
        accepted = FakeConnection(Flow(TCP, TCP_LISTENER, self.PHONE, h.hub.new_conn_id()))
        h.hub.add_connection(accepted)
        h.hub.remove_connection(accepted)
        self.assertFalse(h.hub.send(b"BYE", accepted.flow))
        self.assertEqual(h.connector.attempts, [])


class HostNameTests(SynchronousTestCase):
    def test_a_name_goes_to_its_address_and_an_unresolved_one_nowhere(self) -> None:
        h = Harness()
        h.hub.hosts.update({"trunk.example.com": "127.0.0.1"})
        flow = h.hub.flow_to(TCP, None, Address("trunk.example.com", 5070))
        assert flow is not None
        self.assertEqual(flow.remote, TRUNK)
        self.assertIs(h.hub.flow_to(TCP, None, TRUNK), flow)  # one flow per address
        h.hub.send(b"OPTIONS", flow)
        # The connection is opened for the name: a TLS certificate is checked against it.
        self.assertEqual(h.connector.names, ["trunk.example.com"])
        with self.assertLogs("pbx.adapters.sip_transport", "WARNING") as logs:
            self.assertIsNone(h.hub.flow_to(UDP, None, Address("other.example.com", 5060)))
            self.assertIsNone(h.hub.flow_to(UDP, None, Address("other.example.com", 5060)))
        self.assertEqual(len(logs.records), 1)  # warned once per name


class AdvertisedTests(SynchronousTestCase):
    def test_externaddr_for_peers_outside_localnet(self) -> None:
        h = Harness()
        h.hub.nat = NatMap(Address("203.0.113.5", 5099), (ipaddress.ip_network("10.0.0.0/8"),))
        udp = Flow(UDP, Address("127.0.0.1", 5060), Address("198.51.100.7", 5060))
        tcp = Flow(TCP, TCP_LISTENER, Address("198.51.100.7", 40000), 3)
        lan = Flow(UDP, Address("127.0.0.1", 5060), Address("10.1.2.3", 5060))
        self.assertEqual(h.hub.advertised(udp), Address("203.0.113.5", 5099))
        self.assertEqual(h.hub.advertised(tcp), Address("203.0.113.5", 5060))  # its listener
        self.assertEqual(h.hub.advertised(lan), Address("127.0.0.1", 5060))


class BindingFlowTests(SynchronousTestCase):
    def test_an_open_registration_connection_is_used(self) -> None:
        h = Harness()
        phone = FakeConnection(Flow(TCP, TCP_LISTENER, Address("127.0.0.1", 40000), 99))
        h.hub.add_connection(phone)
        self.assertIs(h.hub.flow_to(TCP, phone.flow, Address("127.0.0.1", 5062)), phone.flow)

    def test_a_closed_tcp_registration_is_reached_at_its_target(self) -> None:
        h = Harness()
        gone = Flow(TCP, TCP_LISTENER, Address("127.0.0.1", 40000), 99)
        flow = h.hub.flow_to(TCP, gone, Address("127.0.0.1", 5062))
        assert flow is not None
        self.assertEqual((flow.kind, flow.remote), (TCP, Address("127.0.0.1", 5062)))
        self.assertNotEqual(flow.conn_id, 99)

    def test_a_closed_websocket_is_unreachable(self) -> None:
        h = Harness()
        gone = Flow(WSS, Address("127.0.0.1", 8089), Address("127.0.0.1", 40000), 99)
        self.assertIsNone(h.hub.flow_to(WSS, gone, gone.remote))
        self.assertIsNone(h.hub.flow_to(WSS, None, gone.remote))  # restored from disk
        self.assertEqual(h.connector.attempts, [])

    def test_udp_bindings_keep_their_listener(self) -> None:
        h = Harness()
        registered = Flow(UDP, Address("127.0.0.1", 5060), Address("127.0.0.1", 5062))
        flow = h.hub.flow_to(UDP, registered, Address("127.0.0.1", 5064))
        self.assertEqual(flow, Flow(UDP, registered.local, Address("127.0.0.1", 5064)))
