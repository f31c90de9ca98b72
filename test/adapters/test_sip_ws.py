"""SIP over WebSocket (pbx.adapters.sip_ws; RFC 6455, RFC 7118).

The handshake checks (Asterisk's outcomes, in its order) on Twisted's ``DummyRequest`` (the
upgrade itself, through the real Site, is in test_http.py); then one upgraded connection at a
time over ``StringTransport``, driven by a wsproto *client* so every byte crosses the same
framing a browser uses: one SIP
message per text or binary frame reaches the hub as one message, fragments are reassembled,
two messages in one frame are answered ``400``, an oversize message closes with ``1009``, and the
keep-alive pings and closes on ``task.Clock``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from twisted.internet.address import IPv4Address
from twisted.internet.protocol import connectionDone
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.server import Request as HttpRequest
from twisted.web.test.requesthelper import DummyRequest
from wsproto.connection import Connection, ConnectionType
from wsproto.events import (
    BytesMessage,
    CloseConnection,
    Event,
    Ping,
    Pong,
    TextMessage,
)
from wsproto.frame_protocol import CloseReason

from pbx.adapters.sip_transport import SipTransportHub
from pbx.adapters.sip_ws import SipWebSocket, handshake_rejection
from pbx.config.http_conf import HttpSettings
from pbx.core.addr import Address, TransportKind
from pbx.sip.flow import Flow
from pbx.sip.message import Request as SipRequest
from pbx.sip.message import Response as SipResponse
from pbx.sip.transaction.layer import TransactionLayer

CAPTURES = Path(__file__).resolve().parents[1] / "data" / "sip" / "captures"
JSSIP_REGISTER = (CAPTURES / "jssip-register.sip").read_bytes()
SIPJS_REGISTER = (CAPTURES / "sipjs-register.sip").read_bytes()

SERVER = IPv4Address("TCP", "127.0.0.1", 8088)
BROWSER = IPv4Address("TCP", "127.0.0.1", 53124)
KEEP_ALIVE = 20.0
MAX_SIZE = 4096


@dataclass
class RecordingLayer:
    """Stands in for the transaction layer: keeps what the hub hands over."""

    received: list[tuple[SipRequest | SipResponse, Flow]] = field(default_factory=list)
    transport_errors: list[Flow] = field(default_factory=list)

    def receive(self, message: SipRequest | SipResponse, flow: Flow, now: float) -> None:
        self.received.append((message, flow))

    def transport_error(self, flow: Flow, now: float) -> None:
        self.transport_errors.append(flow)

    def outputs(self) -> list[object]:
        return []


class RecordingHub(SipTransportHub):
    """The real hub, keeping every message exactly as an adapter handed it over."""

    def __init__(self, clock: Clock, lost: list[Flow] | None = None) -> None:
        super().__init__(clock, MAX_SIZE, "pbx-test", lost.append if lost is not None else None)
        self.frames: list[bytes] = []

    def receive(self, data: bytes, flow: Flow) -> None:
        self.frames.append(data)
        super().receive(data, flow)


def make_hub(clock: Clock, lost: list[Flow] | None = None) -> tuple[RecordingHub, RecordingLayer]:
    hub = RecordingHub(clock, lost)
    layer = RecordingLayer()
    hub.layer = cast(TransactionLayer, layer)
    return hub, layer


def http_settings(**overrides: object) -> HttpSettings:
    """http.conf defaults with the server on (dataclass fields, overridable)."""
    values: dict[str, object] = {
        "enabled": True,
        "bindaddr": Address("127.0.0.1", 8088),
        "bindport": 8088,
        "prefix": "",
        "tlsenable": False,
        "tlsbindaddr": None,
        "tlscertfile": "",
        "tlsprivatekey": "",
        "tlscipher": "",
        "enablestatic": False,
        "staticdir": "/nonexistent",
        "redirects": (),
        "servername": "pbx/test",
        "sessionlimit": 100,
        "session_inactivity": 30000,
        "session_keep_alive": 15000,
        "enable_status": False,
    }
    values.update(overrides)
    return HttpSettings(**values)  # type: ignore[arg-type]


def request(headers: dict[str, str], method: bytes = b"GET") -> HttpRequest:
    """A request to /ws carrying ``headers`` (``sec_websocket_protocol`` -> the real name)."""
    req = DummyRequest([b"ws"])
    req.method = method
    for name, value in headers.items():
        req.requestHeaders.addRawHeader(name.replace("_", "-"), value)
    return cast(HttpRequest, req)


GOOD = {
    "upgrade": "websocket",
    "connection": "Upgrade",
    "sec_websocket_key": "dGhlIHNhbXBsZSBub25jZQ==",
    "sec_websocket_version": "13",
    "sec_websocket_protocol": "sip",
}


class HandshakeRejectionTests(SynchronousTestCase):
    """``handshake_rejection``: Asterisk's checks, first failing one wins."""

    def test_browser_handshake_accepted(self) -> None:
        self.assertIsNone(handshake_rejection(request(GOOD)))

    def test_sip_among_other_subprotocols_accepted(self) -> None:
        self.assertIsNone(
            handshake_rejection(request({**GOOD, "sec_websocket_protocol": "chat, SIP"}))
        )

    def test_outcomes(self) -> None:
        without = {k: v for k, v in GOOD.items() if k != "sec_websocket_protocol"}
        cases: list[tuple[str, HttpRequest, int]] = [
            ("POST", request(GOOD, b"POST"), 501),
            ("PUT", request(GOOD, b"PUT"), 501),
            ("no Upgrade", request({k: v for k, v in GOOD.items() if k != "upgrade"}), 426),
            ("Upgrade: h2c", request({**GOOD, "upgrade": "h2c"}), 426),
            ("no subprotocol", request(without), 400),
            ("other subprotocol", request({**GOOD, "sec_websocket_protocol": "chat"}), 400),
            ("sip prefix only", request({**GOOD, "sec_websocket_protocol": "sipx"}), 400),
            ("version 8", request({**GOOD, "sec_websocket_version": "8"}), 400),
            ("no key", request({k: v for k, v in GOOD.items() if k != "sec_websocket_key"}),
             400),
        ]  # fmt: skip
        for label, req, code in cases:
            rejection = handshake_rejection(req)
            self.assertIsNotNone(rejection, label)
            assert rejection is not None
            self.assertEqual(rejection[0], code, label)

    def test_post_checked_before_upgrade(self) -> None:
        # Asterisk's order: the method first, so a bare POST is 501, not 426.
        rejection = handshake_rejection(request({}, b"POST"))
        self.assertEqual(rejection, (501, "Not Implemented"))


class WsPair:
    """A SipWebSocket over a StringTransport, spoken to by a wsproto client connection."""

    def __init__(self, keep_alive: float = KEEP_ALIVE, kind: TransportKind = TransportKind.WSS):
        self.clock = Clock()
        self.lost: list[Flow] = []
        self.hub, self.layer = make_hub(self.clock, self.lost)
        self.closed: list[SipWebSocket] = []
        self.ws = SipWebSocket(
            self.hub,
            kind,
            Connection(ConnectionType.SERVER),
            self.clock,
            keep_alive,
            self.closed.append,
        )
        self.transport = StringTransport(hostAddress=SERVER, peerAddress=BROWSER)
        self.ws.makeConnection(self.transport)
        self.client = Connection(ConnectionType.CLIENT)

    def send(self, *events: Event) -> None:
        self.ws.dataReceived(b"".join(self.client.send(e) for e in events))

    def events(self) -> list[Event]:
        """What the server wrote since the last call, as client events."""
        out = self.transport.value()
        self.transport.clear()
        self.client.receive_data(out)
        return list(self.client.events())

    def lose(self) -> None:
        """What the reactor does after ``loseConnection``."""
        self.ws.connectionLost(connectionDone)

    @property
    def messages(self) -> list[bytes]:
        """The SIP messages the hub was given (each also reached the transaction layer)."""
        self.assert_parsed()
        return self.hub.frames

    def assert_parsed(self) -> None:
        assert len(self.layer.received) == len(self.hub.frames), "a message was not parsed"


class FramingTests(SynchronousTestCase):
    """RFC 7118 §5: one SIP message per WebSocket message, text or binary."""

    def test_text_frame(self) -> None:
        pair = WsPair()
        pair.send(TextMessage(JSSIP_REGISTER.decode()))
        self.assertEqual(pair.messages, [JSSIP_REGISTER])
        [(_, flow)] = pair.layer.received
        self.assertEqual(flow.kind, TransportKind.WSS)

    def test_binary_frame(self) -> None:
        pair = WsPair()
        pair.send(BytesMessage(SIPJS_REGISTER))
        self.assertEqual(pair.messages, [SIPJS_REGISTER])

    def test_fragmented_message_reassembled(self) -> None:
        pair = WsPair()
        text = JSSIP_REGISTER.decode()
        thirds = [text[:100], text[100:300], text[300:]]
        pair.send(
            TextMessage(thirds[0], message_finished=False),
            TextMessage(thirds[1], message_finished=False),
        )
        self.assertEqual(pair.messages, [])
        pair.send(TextMessage(thirds[2], message_finished=True))
        self.assertEqual(pair.messages, [JSSIP_REGISTER])

    def test_fragmented_binary_message_byte_by_byte(self) -> None:
        pair = WsPair()
        wire = b"".join(
            pair.client.send(BytesMessage(SIPJS_REGISTER[i : i + 50], message_finished=False))
            for i in range(0, len(SIPJS_REGISTER), 50)
        ) + pair.client.send(BytesMessage(b"", message_finished=True))
        for i in range(len(wire)):
            pair.ws.dataReceived(wire[i : i + 1])
        self.assertEqual(pair.messages, [SIPJS_REGISTER])

    def test_two_frames_in_one_read_are_two_messages(self) -> None:
        pair = WsPair()
        pair.send(TextMessage(JSSIP_REGISTER.decode()), BytesMessage(SIPJS_REGISTER))
        self.assertEqual(pair.messages, [JSSIP_REGISTER, SIPJS_REGISTER])
        self.assertEqual({f for _, f in pair.layer.received}, {pair.ws.flow})

    def test_two_messages_in_one_frame_rejected_with_400(self) -> None:
        pair = WsPair()
        pair.send(TextMessage((JSSIP_REGISTER + SIPJS_REGISTER).decode()))
        self.assertEqual(pair.messages, [])
        [event] = pair.events()
        assert isinstance(event, TextMessage)
        status_line, rest = event.data.split("\r\n", 1)
        self.assertTrue(status_line.startswith("SIP/2.0 400 "), status_line)
        # the answer is to the first request, over this connection, and it stays open
        self.assertIn("CSeq: 1 REGISTER\r\n", rest)
        self.assertIn("Call-ID: 8u1f11rfn7q2mgobv4a2fk\r\n", rest)
        self.assertFalse(pair.transport.disconnecting)

    def test_keepalive_frame_is_not_a_message(self) -> None:
        pair = WsPair()
        pair.send(TextMessage("\r\n\r\n"), TextMessage("\r\n"))
        self.assertEqual(pair.messages, [])
        self.assertEqual(pair.events(), [])

    def test_oversize_message_closes_with_1009(self) -> None:
        pair = WsPair()
        big = JSSIP_REGISTER.replace(b"Content-Length: 0", b"X-Pad: " + b"a" * MAX_SIZE)
        pair.send(TextMessage(big.decode()))
        self.assertEqual(pair.messages, [])
        [event] = pair.events()
        assert isinstance(event, CloseConnection)
        self.assertEqual(event.code, CloseReason.MESSAGE_TOO_BIG)
        self.assertEqual(event.code, 1009)
        self.assertTrue(pair.transport.disconnecting)

    def test_oversize_fragmented_message_closes_before_the_end(self) -> None:
        pair = WsPair()
        chunk = "a" * 1024
        pair.send(*(TextMessage(chunk, message_finished=False) for _ in range(5)))
        [event] = pair.events()
        assert isinstance(event, CloseConnection)
        self.assertEqual(event.code, 1009)
        self.assertTrue(pair.transport.disconnecting)

    def test_message_just_under_the_limit_passes(self) -> None:
        pair = WsPair()
        pad = MAX_SIZE - len(JSSIP_REGISTER) - len("X-Pad: \r\n")
        message = JSSIP_REGISTER.replace(
            b"Content-Length: 0", b"X-Pad: " + b"a" * pad + b"\r\nContent-Length: 0"
        )
        self.assertEqual(len(message), MAX_SIZE)
        pair.send(TextMessage(message.decode()))
        self.assertEqual(pair.messages, [message])

    def test_unmasked_client_frame_is_a_protocol_error(self) -> None:
        # RFC 6455 §5.1: a server closes the connection on an unmasked client frame.
        pair = WsPair()
        server_style = Connection(ConnectionType.SERVER).send(TextMessage("hello"))
        pair.ws.dataReceived(server_style)
        self.assertEqual(pair.messages, [])
        self.assertTrue(pair.transport.disconnecting)

    def test_sending_to_the_browser_uses_text_frames(self) -> None:
        pair = WsPair()
        self.assertTrue(pair.hub.send(JSSIP_REGISTER, pair.ws.flow))
        [event] = pair.events()
        assert isinstance(event, TextMessage)
        self.assertEqual(event.data.encode(), JSSIP_REGISTER)

    def test_ping_from_browser_answered_with_pong(self) -> None:
        pair = WsPair()
        pair.send(Ping(b"abc"))
        [event] = pair.events()
        assert isinstance(event, Pong)
        self.assertEqual(bytes(event.payload), b"abc")

    def test_close_from_browser(self) -> None:
        pair = WsPair()
        pair.send(CloseConnection(1001, "going away"))
        [event] = pair.events()
        assert isinstance(event, CloseConnection)
        self.assertEqual(event.code, 1001)
        self.assertTrue(pair.transport.disconnecting)
        flow = pair.ws.flow
        pair.lose()
        self.assertEqual(pair.lost, [flow])
        self.assertEqual(pair.closed, [pair.ws])
        self.assertFalse(pair.hub.send(JSSIP_REGISTER, flow))

    def test_each_connection_is_its_own_flow(self) -> None:
        a, b = WsPair(), WsPair()
        # same addresses, different connections (RFC 5626 flows)
        self.assertEqual(a.ws.flow.remote, b.ws.flow.remote)
        hub = a.hub
        second = SipWebSocket(
            hub, TransportKind.WSS, Connection(ConnectionType.SERVER), a.clock, KEEP_ALIVE
        )
        second.makeConnection(StringTransport(hostAddress=SERVER, peerAddress=BROWSER))
        self.assertNotEqual(second.flow, a.ws.flow)
        self.assertEqual(hub.connection_count, 2)


class KeepAliveTests(SynchronousTestCase):
    """One sweep every keep_alive/4: a connection quiet for 3/8 of it is pinged once, one
    silent for 3/4 of it is closed, so a dead tab is gone within keep_alive."""

    def test_silent_connection_pinged_then_closed(self) -> None:
        pair = WsPair()
        pair.clock.advance(KEEP_ALIVE / 4)  # first sweep: quiet for only a quarter
        self.assertEqual(pair.events(), [])
        pair.clock.advance(KEEP_ALIVE / 4)
        [ping] = pair.events()
        self.assertIsInstance(ping, Ping)
        self.assertFalse(pair.transport.disconnecting)
        pair.clock.advance(KEEP_ALIVE / 4 - 0.5)
        self.assertFalse(pair.transport.disconnecting)
        pair.clock.advance(0.5)  # silent for 3/4 of keep_alive at the third sweep
        self.assertTrue(pair.transport.disconnecting)
        flow = pair.ws.flow
        pair.lose()
        self.assertEqual(pair.lost, [flow])
        self.assertEqual(pair.clock.getDelayedCalls(), [])

    def test_connection_answering_pongs_stays(self) -> None:
        pair = WsPair()
        for _ in range(20):
            pair.clock.advance(KEEP_ALIVE / 2)
            events = pair.events()
            self.assertEqual(len(events), 1)
            ping = events[0]
            assert isinstance(ping, Ping)
            pair.send(ping.response())
        self.assertFalse(pair.transport.disconnecting)
        self.assertEqual(pair.hub.connection_count, 1)

    def test_sip_traffic_counts_as_life(self) -> None:
        pair = WsPair()
        for _ in range(10):
            pair.clock.advance(KEEP_ALIVE / 2)
            pair.events()  # a browser that never answers pings but REGISTERs
            pair.send(TextMessage("\r\n\r\n"))
        self.assertFalse(pair.transport.disconnecting)

    def test_zero_disables_keep_alive(self) -> None:
        pair = WsPair(keep_alive=0)
        self.assertEqual(pair.clock.getDelayedCalls(), [])
        pair.clock.advance(3600)
        self.assertEqual(pair.events(), [])
        self.assertFalse(pair.transport.disconnecting)

    def test_closed_connection_has_no_timer_left(self) -> None:
        pair = WsPair()
        pair.lose()
        self.assertEqual(pair.clock.getDelayedCalls(), [])
