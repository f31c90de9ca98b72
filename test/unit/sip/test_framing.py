"""Stream framing and WebSocket frame checks (pbx.sip.framing; RFC 3261 §18.3, RFC 5626 §4.4.1,
RFC 7118 §5)."""

from __future__ import annotations

from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from pbx.core.errors import LocalProtocolError
from pbx.sip.framing import KEEPALIVE, Keepalive, StreamFramer, check_websocket_frame, is_keepalive
from pbx.sip.grammar import SipParseError
from pbx.sip.message import can_reply, parse_message

DATA = Path(__file__).resolve().parents[2] / "data" / "sip"
REGISTER = (DATA / "captures" / "jssip-register-digest.sip").read_bytes()  # no body
INVITE = (DATA / "captures" / "sipjs-invite.sip").read_bytes()  # 1509-byte SDP body
OK = (DATA / "captures" / "asterisk-200-invite.sip").read_bytes()


class StreamFramerTests(SynchronousTestCase):
    def test_every_split_point_of_two_messages(self) -> None:
        stream = INVITE + REGISTER
        for cut in range(len(stream) + 1):
            framer = StreamFramer()
            out = framer.feed(stream[:cut]) + framer.feed(stream[cut:])
            self.assertEqual(out, [INVITE, REGISTER], cut)

    def test_every_split_point_with_keepalives_between(self) -> None:
        stream = b"\r\n\r\n" + OK + b"\r\n\r\n\r\n" + REGISTER
        for cut in range(len(stream) + 1):
            framer = StreamFramer()
            out = framer.feed(stream[:cut]) + framer.feed(stream[cut:])
            # the lone CRLF after the second ping is skipped as leading whitespace
            self.assertEqual(out, [KEEPALIVE, OK, KEEPALIVE, REGISTER], cut)

    def test_byte_by_byte(self) -> None:
        framer = StreamFramer()
        out: list[bytes | Keepalive] = []
        for i in range(len(OK)):
            out += framer.feed(OK[i : i + 1])
        self.assertEqual(out, [OK])
        self.assertEqual(bytes(parse_message(OK)), OK)

    def test_many_messages_in_one_chunk(self) -> None:
        self.assertEqual(
            StreamFramer().feed(REGISTER * 3 + INVITE), [REGISTER, REGISTER, REGISTER, INVITE]
        )

    def test_keepalive_ping_and_leading_crlf(self) -> None:
        framer = StreamFramer()
        self.assertEqual(framer.feed(b"\r\n"), [])  # may still become a ping
        self.assertEqual(framer.feed(b"\r"), [])
        self.assertEqual(framer.feed(b"\n"), [KEEPALIVE])
        self.assertEqual(framer.feed(b"\r\n" + REGISTER), [REGISTER])  # leading CRLF skipped
        self.assertEqual(framer.feed(b"\r"), [])
        self.assertEqual(framer.feed(b"\nOPT"), [])
        self.assertEqual(repr(KEEPALIVE), "KEEPALIVE")

    def test_bare_lf_message(self) -> None:
        data = b"OPTIONS sip:a@b SIP/2.0\nVia: SIP/2.0/TCP h\nl: 2\n\nok"
        self.assertEqual(StreamFramer().feed(data + data), [data, data])

    def test_missing_content_length(self) -> None:
        framer = StreamFramer()
        data = REGISTER.replace(b"Content-Length: 0\r\n", b"")
        with self.assertRaises(SipParseError) as cm:
            framer.feed(data)
        self.assertEqual(
            (cm.exception.message, cm.exception.response_hint),
            ("Missing Content-Length on stream", 400),
        )
        self.assertTrue(can_reply(cm.exception.partial))
        with self.assertRaises(LocalProtocolError):
            framer.feed(REGISTER)

    def test_bad_content_length(self) -> None:
        for value, reason in (
            (b"-1", "Negative Content-Length"),
            (b"many", "Malformed Content-Length header"),
        ):
            data = REGISTER.replace(b"Content-Length: 0", b"Content-Length: " + value)
            with self.assertRaises(SipParseError) as cm:
                StreamFramer().feed(data)
            self.assertEqual(cm.exception.message, reason)
            self.assertTrue(can_reply(cm.exception.partial))
        data = REGISTER.replace(b"Content-Length: 0\r\n", b"Content-Length: 0\r\nl: 4\r\n")
        with self.assertRaises(SipParseError) as cm:
            StreamFramer().feed(data)
        self.assertEqual(cm.exception.message, "Multiple Content-Length headers")

    def test_folded_line_is_not_taken_for_content_length(self) -> None:
        data = REGISTER.replace(
            b"User-Agent: JsSIP/3.13.8\r\n", b"User-Agent: JsSIP\r\n Content-Length: 99\r\n"
        )
        self.assertEqual(StreamFramer().feed(data), [data])

    def test_oversize_head(self) -> None:
        framer = StreamFramer(max_size=1024)
        self.assertEqual(framer.feed(b"OPTIONS sip:a@b SIP/2.0\r\nX: " + b"a" * 900), [])
        with self.assertRaises(SipParseError) as cm:
            framer.feed(b"a" * 200)
        self.assertEqual(
            (cm.exception.message, cm.exception.response_hint, cm.exception.partial),
            ("Message Too Large", 513, None),
        )

    def test_oversize_body(self) -> None:
        framer = StreamFramer(max_size=1024)
        with self.assertRaises(SipParseError) as cm:
            framer.feed(REGISTER.replace(b"Content-Length: 0", b"Content-Length: 1000"))
        self.assertEqual(
            (cm.exception.message, cm.exception.response_hint), ("Message Too Large", 513)
        )
        self.assertTrue(can_reply(cm.exception.partial))

    def test_exactly_max_size_passes(self) -> None:
        self.assertEqual(StreamFramer(max_size=len(INVITE)).feed(INVITE), [INVITE])


class WebSocketFrameTests(SynchronousTestCase):
    def test_one_message_per_frame(self) -> None:
        for frame in (REGISTER, INVITE, OK, REGISTER.replace(b"Content-Length: 0\r\n", b"")):
            check_websocket_frame(frame)

    def test_content_length_must_match_the_frame(self) -> None:
        for frame in (INVITE + b"x", INVITE[:-1], REGISTER + REGISTER):
            with self.assertRaises(SipParseError) as cm:
                check_websocket_frame(frame)
            self.assertEqual(cm.exception.message, "Content-Length does not match WebSocket frame")
            self.assertTrue(can_reply(cm.exception.partial))

    def test_bad_frames(self) -> None:
        with self.assertRaises(SipParseError) as cm:
            check_websocket_frame(b"REGISTER sip:a SIP/2.0\r\nVia: SIP/2.0/WS h\r\n")
        self.assertEqual(cm.exception.message, "Incomplete message in WebSocket frame")
        with self.assertRaises(SipParseError) as cm:
            check_websocket_frame(REGISTER.replace(b"Content-Length: 0", b"Content-Length: -3"))
        self.assertEqual(cm.exception.message, "Negative Content-Length")

    def test_keepalive_frames(self) -> None:
        self.assertTrue(is_keepalive(b"\r\n\r\n"))
        self.assertTrue(is_keepalive(b"\r\n"))
        self.assertFalse(is_keepalive(REGISTER))
        self.assertFalse(is_keepalive(b""))
