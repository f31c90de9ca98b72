"""Tests for pbx.sdp.build: the layout of the SDP pbx writes."""

from __future__ import annotations

import dataclasses

from twisted.trial.unittest import SynchronousTestCase

from pbx.core.errors import LocalProtocolError
from pbx.sdp import build
from pbx.sdp.codecs import AUDIO_CODECS, TELEPHONE_EVENT
from pbx.sdp.model import Attribute, Candidate, MediaDescription
from pbx.sdp.sdes import local_crypto

from .sdpdata import DESK_LOCAL, KEY_80, WEBRTC_LOCAL


class CandidateTests(SynchronousTestCase):
    def test_default_host_candidates(self) -> None:
        self.assertEqual(
            [str(c) for c in build.host_candidates(WEBRTC_LOCAL, rtcp_mux=True)],
            ["1 1 udp 2130706431 127.0.0.1 40000 typ host"],
        )
        v6 = dataclasses.replace(WEBRTC_LOCAL, address="::1")
        self.assertEqual(
            [str(c) for c in build.host_candidates(v6, rtcp_mux=False)],
            ["1 1 udp 2130706431 ::1 40000 typ host", "1 2 udp 2130706430 ::1 40001 typ host"],
        )

    def test_given_candidates_are_used_and_rtcp_ones_dropped_with_mux(self) -> None:
        given = (
            Candidate("a", 1, "udp", 100, "10.0.0.1", 1000, "host"),
            Candidate("a", 2, "udp", 99, "10.0.0.1", 1001, "host"),
        )
        local = dataclasses.replace(WEBRTC_LOCAL, candidates=given)
        self.assertEqual(build.host_candidates(local, rtcp_mux=True), [given[0]])
        self.assertEqual(build.host_candidates(local, rtcp_mux=False), list(given))


class LayoutTests(SynchronousTestCase):
    def test_session_part(self) -> None:
        v6 = dataclasses.replace(DESK_LOCAL, address="::1")
        sd = build.session(v6, (1, 2), bundle_mid="a", ice_lite=True)
        self.assertEqual(
            sd.lines(),
            [
                "v=0",
                "o=- 1 2 IN IP6 ::1",
                "s=pbx",
                "c=IN IP6 ::1",
                "t=0 0",
                "a=group:BUNDLE a",
                "a=ice-lite",
            ],
        )

    def test_audio_section_attribute_order(self) -> None:
        section = build.AudioSection(
            proto="RTP/SAVPF",
            formats=[(AUDIO_CODECS["opus"], 111), (TELEPHONE_EVENT, 101)],
            direction="sendonly",
            rtcp_mux=False,
            mid="m",
            ptime=20,
            cryptos=[local_crypto(1, "AES_CM_128_HMAC_SHA1_80", KEY_80)],
            dtls=("actpass", "sha-256", "AA:BB"),
            candidates=[],
        )
        md = build.audio_section(section, WEBRTC_LOCAL)
        self.assertEqual(md.lines()[0], "m=audio 40000 RTP/SAVPF 111 101")
        self.assertEqual(
            [a.name for a in md.attributes],
            [
                "mid",
                "rtpmap",
                "fmtp",
                "rtpmap",
                "fmtp",
                "ptime",
                "sendonly",
                "rtcp",
                "crypto",
                "setup",
                "fingerprint",
                "ice-ufrag",
                "ice-pwd",
                "end-of-candidates",
            ],
        )

    def test_ice_needs_credentials(self) -> None:
        section = build.AudioSection("RTP/AVP", [], "sendrecv", True, candidates=[])
        error = self.assertRaises(LocalProtocolError, build.audio_section, section, DESK_LOCAL)
        self.assertEqual(str(error), "LocalMedia.ice_ufrag is needed for ICE")

    def test_declined_section(self) -> None:
        offered = MediaDescription("video", 9, "UDP/TLS/RTP/SAVPF", ["96", "97"])
        self.assertEqual(
            build.declined_section(offered).lines(), ["m=video 0 UDP/TLS/RTP/SAVPF 96"]
        )
        with_mid = MediaDescription(
            "application",
            9,
            "UDP/DTLS/SCTP",
            ["webrtc-datachannel"],
            attributes=[Attribute("sctp-port", "5000"), Attribute("mid", "2")],
        )
        self.assertEqual(
            build.declined_section(with_mid).lines(),
            ["m=application 0 UDP/DTLS/SCTP webrtc-datachannel", "a=mid:2"],
        )
