"""Tests for pbx.sdp.parse: round trips of recorded SDP and exact error messages."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from pbx.core.errors import RemoteProtocolError
from pbx.sdp.model import Attribute, Connection, SessionDescription, Timing
from pbx.sdp.parse import SdpError, parse_attribute, parse_sdp

from .sdpdata import DATA, load

HEAD = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
AUDIO = "m=audio 5000 RTP/AVP 0\r\n"


class RoundTripTests(SynchronousTestCase):
    def test_every_recorded_crlf_sdp_round_trips_exactly(self) -> None:
        names = sorted(p.name for p in DATA.glob("*.sdp") if b"\r\n" in p.read_bytes())
        self.assertEqual(len(names), 16)
        for name in names:
            data = load(name)
            self.assertEqual(SessionDescription.parse(data).to_bytes(), data, name)
            self.assertEqual(str(SessionDescription.parse(data.decode())), data.decode(), name)

    def test_lf_captures_come_back_as_the_crlf_bodies_that_crossed_the_wire(self) -> None:
        # baresip's trace shows these bodies with LF and no final newline, but the SIP
        # messages carried them with Content-Length 338 and 270: CRLF after every line.
        for name, content_length in (
            ("baresip-offer.sdp", 338),
            ("asterisk-answer-to-baresip.sdp", 270),
        ):
            data = load(name)
            self.assertNotIn(b"\r", data)
            out = SessionDescription.parse(data).to_bytes()
            self.assertEqual(out, data.replace(b"\n", b"\r\n") + b"\r\n")
            self.assertEqual(len(out), content_length)

    def test_expected_outputs_round_trip(self) -> None:
        names = sorted(p.name for p in (DATA / "expected").glob("*.sdp"))
        self.assertEqual(len(names), 7)
        for name in names:
            data = load(f"expected/{name}")
            self.assertEqual(SessionDescription.parse(data).to_bytes(), data, name)

    def test_out_of_order_lines_are_accepted_and_written_in_rfc_order(self) -> None:
        text = (
            "v=0\r\no=- 1 2 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\nc=IN IP4 1.2.3.4\r\n"
            "m=audio 5000 RTP/AVP 0\r\na=sendrecv\r\nc=IN IP4 5.6.7.8\r\n"
        )
        out = str(parse_sdp(text))
        self.assertEqual(
            out,
            "v=0\r\no=- 1 2 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\n"
            "m=audio 5000 RTP/AVP 0\r\nc=IN IP4 5.6.7.8\r\na=sendrecv\r\n",
        )

    def test_blank_lines_and_missing_final_line_end_are_tolerated(self) -> None:
        sd = parse_sdp("\r\nv=0\r\n\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\r\n" + "a=x")
        self.assertEqual(sd.attributes, [Attribute("x")])

    def test_optional_and_repeated_lines_are_kept(self) -> None:
        text = (
            "v=0\r\no=jdoe 1 2 IN IP4 198.51.100.1\r\ns=Call\r\ni=info\r\nu=http://x\r\n"
            "e=a@example.com\r\ne=b@example.com\r\np=+1 617 555-6011\r\n"
            "c=IN IP4 224.2.1.1/127/3\r\nb=AS:512\r\nb=TIAS:500000\r\n"
            "t=0 0\r\nr=7d 1h 0 25h\r\nt=3724394400 3724398000\r\nz=2882844526 -1h\r\n"
            "k=prompt\r\na=recvonly\r\na=msid-semantic: WMS x\r\n"
            "m=video 49170/2 RTP/AVP 31 99\r\ni=title\r\nc=IN IP4 224.2.1.1/127\r\n"
            "c=IN IP4 224.2.1.2/127\r\nb=AS:64\r\nk=prompt\r\na=rtpmap:99 h263-1998/90000\r\n"
            "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=sctp-port:5000\r\n"
        )
        sd = parse_sdp(text)
        self.assertEqual(str(sd), text)
        self.assertEqual(sd.emails, ["a@example.com", "b@example.com"])
        self.assertEqual(sd.times, [Timing(0, 0, ("7d 1h 0 25h",)), Timing(3724394400, 3724398000)])
        self.assertEqual(sd.connection, Connection("IN", "IP4", "224.2.1.1/127/3"))
        self.assertEqual(sd.attr("msid-semantic"), " WMS x")
        video = sd.media[0]
        self.assertEqual((video.port, video.port_count, video.fmts), (49170, 2, ["31", "99"]))
        self.assertEqual(len(video.connections), 2)
        self.assertEqual(sd.media[1].fmts, ["webrtc-datachannel"])

    def test_bytes_and_text_give_the_same_model(self) -> None:
        data = load("chromium-jssip-offer.sdp")
        self.assertEqual(parse_sdp(data), parse_sdp(data.decode()))

    def test_lenient_attribute_values_that_are_still_well_formed(self) -> None:
        sd = parse_sdp(
            HEAD + AUDIO + "a=ptime:20.0\r\na=rtpmap:96 foo/90000/bar\r\na=fmtp:101\r\n"
            "a=unknown-thing:any value at all\r\n"
        )
        self.assertEqual(sd.media[0].ptime, 20)
        self.assertEqual(sd.media[0].fmtp(101), "")


class ErrorTests(SynchronousTestCase):
    def assertSdpError(self, text: str | bytes, message: str) -> SdpError:
        error: SdpError = self.assertRaises(SdpError, parse_sdp, text)
        self.assertEqual(str(error), message)
        self.assertEqual(error.message, message)
        return error

    def test_error_is_a_400_remote_protocol_error_with_the_line_number(self) -> None:
        error = self.assertSdpError(
            HEAD + "m=audio x RTP/AVP 0\r\n", "line 5: malformed m= line 'm=audio x RTP/AVP 0'"
        )
        self.assertIsInstance(error, RemoteProtocolError)
        self.assertEqual(error.response_hint, 400)
        self.assertEqual(error.line_no, 5)
        self.assertEqual(error.reason, "malformed m= line 'm=audio x RTP/AVP 0'")

    def test_brief_example_on_line_7(self) -> None:
        self.assertSdpError(
            HEAD + "c=IN IP4 1.2.3.4\r\na=x\r\nm=audio x RTP/AVP 0\r\n",
            "line 7: malformed m= line 'm=audio x RTP/AVP 0'",
        )

    def test_structural_errors(self) -> None:
        for text, message in [
            ("", "empty SDP"),
            ("\r\n\r\n", "empty SDP"),
            ("v=1\r\n", "line 1: expected 'v=0', got 'v=1'"),
            ("o=- 1 2 IN IP4 1.2.3.4\r\n", "line 1: expected 'v=0', got 'o=- 1 2 IN IP4 1.2.3.4'"),
            ("v=0\r\nx\r\n", "line 2: malformed line 'x'"),
            ("v=0\r\no - 1\r\n", "line 2: malformed line 'o - 1'"),
            ("v=0\r\ns=a\rb\r\n", "line 2: malformed line 's=a\rb'"),
            ("v=0\r\ns=a\0\r\n", "line 2: malformed line 's=a\0'"),
            ("v=0\r\ny=1\r\n", "line 2: unknown line type 'y='"),
            ("v=0\r\nA=1\r\n", "line 2: unknown line type 'A='"),
            (HEAD + "v=0\r\n", "line 5: duplicate v= line"),
            (HEAD + "o=- 1 2 IN IP4 1.2.3.4\r\n", "line 5: duplicate o= line"),
            (HEAD + "s=again\r\n", "line 5: duplicate s= line"),
            (HEAD + "c=IN IP4 1.1.1.1\r\nc=IN IP4 1.1.1.1\r\n", "line 6: duplicate c= line"),
            (HEAD + AUDIO + "i=a\r\ni=b\r\n", "line 7: duplicate i= line"),
            (HEAD + AUDIO + "k=a\r\nk=b\r\n", "line 7: duplicate k= line"),
            (HEAD + AUDIO + "t=0 0\r\n", "line 6: t= line inside a media description"),
            (
                HEAD + AUDIO + "o=- 1 2 IN IP4 1.2.3.4\r\n",
                "line 6: o= line inside a media description",
            ),
            (
                "v=0\r\no=- 1 2 IN IP4 1.2.3.4\r\ns=-\r\nr=1d\r\n",
                "line 4: r= line without a t= line",
            ),
            ("v=0\r\ns=-\r\nt=0 0\r\n", "missing o= line"),
            ("v=0\r\no=- 1 2 IN IP4 1.2.3.4\r\nt=0 0\r\n", "missing s= line"),
            ("v=0\r\no=- 1 2 IN IP4 1.2.3.4\r\ns=-\r\n", "missing t= line"),
        ]:
            self.assertSdpError(text, message)

    def test_invalid_utf8_names_its_line(self) -> None:
        data = b"v=0\r\no=- 1 2 IN IP4 1.2.3.4\r\ns=\xff\r\nt=0 0\r\n"
        error = self.assertSdpError(data, "line 3: invalid UTF-8")
        self.assertEqual(error.line_no, 3)

    def test_malformed_structural_lines(self) -> None:
        for line in [
            "o=- 1 2 IN IP4",
            "o=- x 2 IN IP4 1.2.3.4",
            "o=- -1 2 IN IP4 1.2.3.4",
            "o=- +1 2 IN IP4 1.2.3.4",
            "o=-  1 2 IN IP4 1.2.3.4",
            "c=IN IP4",
            "c=IN  IP4 1.2.3.4",
            "b=AS",
            "b=AS:x",
            "b=A S:1",
            "b=:64",
            "t=0",
            "t=a 0",
            "m=audio 70000 RTP/AVP 0",
            "m=audio 5000 RTP/AVP",
            "m=audio 5000/x RTP/AVP 0",
            "m=audio 5000/ RTP/AVP 0",
            "m=audio  5000 RTP/AVP 0",
            "m=audio 5000 RTP/AVP 0 ",
        ]:
            kind = line[0]
            text = "v=0\r\ns=-\r\n" + line + "\r\n"
            self.assertSdpError(text, f"line 3: malformed {kind}= line '{line}'")

    def test_malformed_attributes(self) -> None:
        for line, what in [
            ("a=", "a="),
            ("a=:x", "a="),
            ("a=rtp map:0 PCMU/8000", "a="),
            ("a=rtpmap", "a=rtpmap"),
            ("a=rtpmap:x PCMU/8000", "a=rtpmap"),
            ("a=rtpmap:0", "a=rtpmap"),
            ("a=rtpmap:0 PCMU", "a=rtpmap"),
            ("a=rtpmap:128 X/8000", "a=rtpmap"),
            ("a=rtpmap:96 opus/48000/", "a=rtpmap"),
            ("a=rtpmap:96 /8000", "a=rtpmap"),
            ("a=rtpmap:96 opus/48000/2/1", "a=rtpmap"),
            ("a=fmtp: 0-16", "a=fmtp"),
            ("a=crypto:1 AES_CM_128_HMAC_SHA1_80", "a=crypto"),
            ("a=crypto:x AES_CM_128_HMAC_SHA1_80 inline:AAAA", "a=crypto"),
            ("a=crypto:1234567890 AES_CM_128_HMAC_SHA1_80 inline:AAAA", "a=crypto"),
            ("a=fingerprint:sha-256", "a=fingerprint"),
            ("a=fingerprint:sha-256 XY:Z1", "a=fingerprint"),
            ("a=fingerprint:sha-256 AB:", "a=fingerprint"),
            ("a=setup:maybe", "a=setup"),
            ("a=candidate:1 1 udp 1 1.2.3.4 5 host", "a=candidate"),
            ("a=candidate:1 1 udp 1 1.2.3.4 5 type host", "a=candidate"),
            ("a=candidate:1 x udp 1 1.2.3.4 5 typ host", "a=candidate"),
            ("a=rtcp:x", "a=rtcp"),
            ("a=rtcp:70000", "a=rtcp"),
            ("a=rtcp:9 IN IP4", "a=rtcp"),
            ("a=ptime:abc", "a=ptime"),
            ("a=ptime:20.x", "a=ptime"),
            ("a=maxptime:", "a=maxptime"),
            ("a=mid:", "a=mid"),
            ("a=ice-ufrag: ", "a=ice-ufrag"),
            ("a=ice-pwd:", "a=ice-pwd"),
            ("a=group:", "a=group"),
        ]:
            self.assertSdpError(
                HEAD + AUDIO + line + "\r\n", f"line 6: malformed {what} line '{line}'"
            )

    def test_session_level_attribute_errors_are_reported_too(self) -> None:
        self.assertSdpError(HEAD + "a=setup:x\r\n", "line 5: malformed a=setup line 'a=setup:x'")


class AttributeTests(SynchronousTestCase):
    def test_property_and_value_attributes(self) -> None:
        self.assertEqual(parse_attribute("rtcp-mux"), Attribute("rtcp-mux"))
        self.assertEqual(parse_attribute("mid:0"), Attribute("mid", "0"))
        self.assertEqual(parse_attribute("x-y:a:b c"), Attribute("x-y", "a:b c"))
        self.assertEqual(parse_attribute("empty:"), Attribute("empty", ""))
