"""Tests for pbx.sdp.model: accessors, session-level fallbacks and value types."""

from __future__ import annotations

from collections.abc import Callable

from twisted.trial.unittest import SynchronousTestCase

from pbx.sdp.model import (
    Attribute,
    Bandwidth,
    Candidate,
    Connection,
    Crypto,
    MediaDescription,
    Origin,
    RtpMap,
    SessionDescription,
    is_uint,
    parse_fingerprint,
    parse_ptime,
    parse_rtcp,
    parse_uint,
)

from .sdpdata import load_sdp

CHROMIUM_FP = (
    "22:E2:6C:EE:3A:55:68:33:A2:2E:5C:09:55:D5:2A:FE:60:93:19:80:1A:AF:35:81:0D:3B:6E:0A:"
    "8E:84:8E:10"
)


class ChromiumOfferAccessorTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.sd = load_sdp("chromium-jssip-offer.sdp")
        self.md = self.sd.media[0]

    def test_media_line(self) -> None:
        md = self.md
        self.assertEqual((md.media, md.port, md.proto), ("audio", 41959, "UDP/TLS/RTP/SAVPF"))
        self.assertEqual(md.payload_types, [111, 63, 9, 0, 8, 13, 110, 126])
        self.assertEqual(md.connection_address, "127.0.0.1")
        self.assertEqual(self.sd.origin.sess_id, 3859926675591311111)

    def test_rtpmaps_and_fmtp(self) -> None:
        rtpmaps = self.md.rtpmaps()
        self.assertEqual(sorted(rtpmaps), [0, 8, 9, 13, 63, 110, 111, 126])
        self.assertEqual(rtpmaps[111], RtpMap(111, "opus", 48000, "2"))
        self.assertEqual(rtpmaps[111].channels, 2)
        self.assertEqual(rtpmaps[0].channels, 1)
        self.assertEqual(self.md.fmtp(111), "minptime=10;useinbandfec=1")
        self.assertEqual(self.md.fmtp(63), "111/111")
        self.assertIsNone(self.md.fmtp(0))

    def test_webrtc_attributes(self) -> None:
        md = self.md
        self.assertEqual(
            (md.direction, md.mid, md.rtcp_mux, md.setup), ("sendrecv", "0", True, "actpass")
        )
        self.assertEqual((md.ice_ufrag, md.ice_pwd), ("veqs", "Z+bWy1LsCNhsxM7/BOKji+qq"))
        self.assertEqual(md.fingerprints, [("sha-256", CHROMIUM_FP)])
        self.assertEqual(md.rtcp, (9, Connection("IN", "IP4", "0.0.0.0")))
        self.assertEqual(md.rtcp_port(True), 41959)
        self.assertEqual(md.rtcp_port(False), 9)
        self.assertIsNone(md.ptime)
        self.assertEqual(self.sd.group("BUNDLE"), ["0"])
        self.assertIsNone(self.sd.group("LS"))
        self.assertFalse(self.sd.ice_lite)

    def test_candidates(self) -> None:
        candidates = self.md.candidates
        self.assertEqual(len(candidates), 8)
        self.assertEqual(
            candidates[4],
            Candidate(
                "2221655168",
                1,
                "tcp",
                1518214911,
                "127.0.0.1",
                9,
                "host",
                ("tcptype", "active", "generation", "0", "network-id", "3", "network-cost", "50"),
            ),
        )
        self.assertEqual(
            {c.address for c in candidates}, {"127.0.0.1", "192.0.2.2", "::1", "fd00::2"}
        )

    def test_attr_helpers(self) -> None:
        self.assertEqual(self.md.attr("rtcp-mux"), "")
        self.assertIsNone(self.md.attr("crypto"))
        self.assertEqual(len(self.md.attrs("ssrc")), 2)
        self.assertTrue(self.sd.has_attr("extmap-allow-mixed"))
        self.assertEqual(self.sd.attr("msid-semantic"), " WMS 684b07cc-55f0-4762-b9e2-3033ea05fa6a")


class FallbackTests(SynchronousTestCase):
    SESSION_LEVEL = (
        "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
        "a=ice-ufrag:sess\r\na=ice-pwd:sesspwd\r\na=fingerprint:sha-1 AA:BB\r\na=setup:passive\r\n"
        "a=sendonly\r\n"
        "m=audio 5000 RTP/SAVPF 0\r\n"
        "m=audio 6000 RTP/SAVPF 0\r\nc=IN IP4 10.0.0.2\r\nc=IN IP4 10.0.0.3\r\n"
        "a=ice-ufrag:media\r\na=fingerprint:sha-256 CC:DD\r\na=fingerprint:sha-1 EE:FF\r\n"
        "a=setup:ACTIVE\r\na=recvonly\r\na=inactive\r\n"
    )

    def test_media_uses_session_values_unless_it_has_its_own(self) -> None:
        sd = SessionDescription.parse(self.SESSION_LEVEL)
        first, second = sd.media
        self.assertEqual((first.ice_ufrag, first.ice_pwd), ("sess", "sesspwd"))
        self.assertEqual(first.fingerprints, [("sha-1", "AA:BB")])
        self.assertEqual(
            (first.setup, first.direction, first.connection_address),
            ("passive", "sendonly", "10.0.0.1"),
        )
        self.assertEqual((second.ice_ufrag, second.ice_pwd), ("media", "sesspwd"))
        self.assertEqual(second.fingerprints, [("sha-256", "CC:DD"), ("sha-1", "EE:FF")])
        # The last direction attribute counts; the first c= is the unicast address.
        self.assertEqual(
            (second.setup, second.direction, second.connection_address),
            ("active", "inactive", "10.0.0.2"),
        )

    def test_detached_media_has_no_fallbacks(self) -> None:
        md = MediaDescription("audio", 5000, "RTP/AVP", ["0"])
        self.assertEqual(
            (md.direction, md.ice_ufrag, md.setup, md.fingerprints), ("sendrecv", None, None, [])
        )
        self.assertIsNone(md.connection)
        self.assertIsNone(md.connection_address)

    def test_add_media_links_and_equality_ignores_the_link(self) -> None:
        sd = SessionDescription(
            Origin("-", 1, 1, "IN", "IP4", "1.2.3.4"), connection=Connection.for_address("1.2.3.4")
        )
        md = sd.add_media(MediaDescription("audio", 5000, "RTP/AVP", ["0"]))
        self.assertIs(md.session, sd)
        self.assertEqual(md.connection_address, "1.2.3.4")
        self.assertEqual(md, MediaDescription("audio", 5000, "RTP/AVP", ["0"]))
        self.assertEqual(
            sd.to_bytes(),
            b"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\n"
            b"m=audio 5000 RTP/AVP 0\r\n",
        )
        other = MediaDescription("video", 0, "RTP/AVP", ["96"])
        self.assertIs(other.session, None)
        linked = SessionDescription(sd.origin, media=[other])
        self.assertIs(other.session, linked)


class SdesAndRfcExampleTests(SynchronousTestCase):
    def test_rfc4568_crypto_lines(self) -> None:
        md = load_sdp("rfc4568-example-audio.sdp").media[0]
        first, second = md.cryptos
        self.assertEqual(
            first,
            Crypto(
                1,
                "AES_CM_128_HMAC_SHA1_80",
                "inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:4",
                ("FEC_ORDER=FEC_SRTP",),
            ),
        )
        self.assertEqual(
            (second.tag, second.suite, second.key_params.count(";")), (2, "F8_128_HMAC_SHA1_80", 1)
        )
        self.assertEqual(md.connection_address, "168.2.17.12")

    def test_rfc8866_example(self) -> None:
        sd = load_sdp("rfc8866-example.sdp")
        self.assertEqual(
            (sd.information, sd.uri, sd.phones),
            ("SDP Offer #1", "http://www.jdoe.example.com/home.html", ["+1 617 555-6011"]),
        )
        self.assertEqual(
            [m.connection_address for m in sd.media],
            ["198.51.100.1", "198.51.100.1", "2001:db8::2"],
        )
        self.assertEqual(sd.media[2].rtpmaps()[99], RtpMap(99, "h263-1998", 90000))


class ValueTypeTests(SynchronousTestCase):
    def test_round_trips(self) -> None:
        parsers: list[tuple[Callable[[str], object], str]] = [
            (Origin.parse, "jdoe 3724394400 3724394405 IN IP4 198.51.100.1"),
            (Connection.parse, "IN IP6 2001:db8::2"),
            (Bandwidth.parse, "AS:64"),
            (RtpMap.parse, "111 opus/48000/2"),
            (RtpMap.parse, "0 PCMU/8000"),
            (Crypto.parse, "1 AES_CM_128_HMAC_SHA1_80 inline:x|2^20|1:4 FEC_ORDER=FEC_SRTP KDR=1"),
            (Candidate.parse, "1 1 UDP 2130706431 127.0.0.1 40000 typ host"),
            (
                Candidate.parse,
                "2 1 udp 1694498815 192.0.2.3 45664 typ srflx raddr 10.0.1.1 rport 8998",
            ),
        ]
        for parse, text in parsers:
            self.assertEqual(str(parse(text)), text)

    def test_first_rtpmap_of_a_payload_type_wins(self) -> None:
        md = MediaDescription(
            "audio",
            5000,
            "RTP/AVP",
            ["96"],
            attributes=[Attribute("rtpmap", "96 PCMU/8000"), Attribute("rtpmap", "96 PCMA/8000")],
        )
        self.assertEqual(md.rtpmaps(), {96: RtpMap(96, "PCMU", 8000)})

    def test_rtpmap_channels(self) -> None:
        self.assertEqual(RtpMap.parse("96 foo/90000/bar").channels, 1)
        self.assertEqual(RtpMap.parse(" 9 G722/8000 ").encoding, "G722")

    def test_connection(self) -> None:
        self.assertEqual(Connection.for_address("::1"), Connection("IN", "IP6", "::1"))
        self.assertEqual(Connection.for_address("10.0.0.1"), Connection("IN", "IP4", "10.0.0.1"))
        self.assertEqual(Connection.parse("IN IP4 224.2.1.1/127/3").host, "224.2.1.1")
        self.assertTrue(Connection.parse("IN IP4 0.0.0.0").is_hold_address)
        self.assertFalse(Connection.parse("IN IP4 10.0.0.0").is_hold_address)

    def test_attribute_text(self) -> None:
        self.assertEqual(str(Attribute("rtcp-mux")), "rtcp-mux")
        self.assertEqual(str(Attribute("mid", "")), "mid:")

    def test_small_parsers(self) -> None:
        self.assertEqual(parse_uint("0042"), 42)
        for bad in ("", "+1", "-1", "1_0", " 1", "\u0663", "\u00b2", "1.0"):
            self.assertRaises(ValueError, parse_uint, bad)
            self.assertFalse(is_uint(bad))
        self.assertTrue(is_uint("0101"))
        self.assertEqual(parse_ptime("20.5"), 20)
        self.assertEqual(parse_rtcp("53020"), (53020, None))
        self.assertEqual(parse_fingerprint("SHA-256 ab:CD"), ("SHA-256", "ab:CD"))
        self.assertRaises(ValueError, parse_fingerprint, "sha-256  AB")
