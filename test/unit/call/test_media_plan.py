"""Tests for pbx.call.media_plan: a peer's MediaPolicy (browser-safe for WebSocket peers) and
the codec plans Dial uses, on recorded offers from test/data/sdp/."""

from __future__ import annotations

import dataclasses

from twisted.trial.unittest import SynchronousTestCase

from pbx.call.media_plan import (
    bridgeable,
    callee_codecs,
    caller_codecs_for,
    is_webrtc,
    media_policy,
    offered_codecs,
)
from pbx.config.sip_conf import PeerConfig
from pbx.sdp.negotiator import MediaPolicy
from test.unit.call.fakes import sip_config
from test.unit.sdp.sdpdata import edited, load_sdp

CONF = """
[general]

[desk]
type=friend
host=dynamic
disallow=all
allow=alaw,ulaw,h264

[ws]
type=friend
host=dynamic
transport=ws
encryption=no
avpf=no
icesupport=no
rtcp_mux=no
dtlsenable=no
disallow=all
allow=opus,ulaw

[webrtc]
type=friend
host=dynamic
webrtc=yes
disallow=all
allow=ulaw

[sdes]
type=friend
host=dynamic
encryption=yes
dtmfmode=info
disallow=all
allow=ulaw

[sdes32](sdes)
encryption_taglen=32

[dtls]
type=friend
host=dynamic
dtlsenable=yes
dtlssetup=passive
dtlsfingerprint=sha-1
dtmfmode=auto
disallow=all
allow=ulaw
"""

PEERS = sip_config(CONF).peers


def peer(name: str) -> PeerConfig:
    return PEERS[name]


class PolicyTests(SynchronousTestCase):
    def test_desk_phone(self) -> None:
        self.assertEqual(
            media_policy(peer("desk")),
            # h264 is not audio; dtlssetup's default (chan_sip's "active") is unused here.
            MediaPolicy("desk", ("alaw", "ulaw"), dtmf_rfc4733=True, dtls_setup="active"),
        )

    def test_websocket_peer_gets_the_browser_policy_whatever_its_section_says(self) -> None:
        policy = media_policy(peer("ws"))
        self.assertTrue(is_webrtc(peer("ws")))
        self.assertEqual(
            (policy.encryption, policy.dtls, policy.avpf, policy.ice, policy.rtcp_mux),
            (True, True, True, True, True),
        )
        self.assertEqual(policy.codecs, ("opus", "ulaw"))

    def test_websocket_peer_offers_actpass(self) -> None:
        self.assertEqual(media_policy(peer("ws")).dtls_setup, "actpass")

    def test_webrtc_yes(self) -> None:
        policy = media_policy(peer("webrtc"))
        self.assertTrue(is_webrtc(peer("webrtc")))
        self.assertEqual((policy.dtls, policy.ice, policy.dtls_setup), (True, True, "actpass"))

    def test_sdes_peer_and_info_dtmf(self) -> None:
        policy = media_policy(peer("sdes"))
        self.assertFalse(is_webrtc(peer("sdes")))
        self.assertEqual(
            (policy.encryption, policy.dtls, policy.dtmf_rfc4733), (True, False, False)
        )

    def test_encryption_taglen_is_the_sdes_taglen(self) -> None:
        self.assertEqual(media_policy(peer("sdes")).sdes_taglen, 80)
        self.assertEqual(media_policy(peer("sdes32")).sdes_taglen, 32)
        self.assertEqual(
            media_policy(peer("sdes32")),
            dataclasses.replace(media_policy(peer("sdes")), peer_name="sdes32", sdes_taglen=32),
        )

    def test_dtls_options(self) -> None:
        policy = media_policy(peer("dtls"))
        self.assertEqual(
            (policy.dtls, policy.encryption, policy.dtls_setup, policy.fingerprint_hash),
            (True, False, "passive", "sha-1"),
        )
        self.assertTrue(policy.dtmf_rfc4733)  # dtmfmode=auto offers RFC 4733
        self.assertIsNone(policy.dtls_identity)  # dtlsautogeneratecert

    def test_dtlscertfile_is_the_policy_identity(self) -> None:
        own = dataclasses.replace(
            peer("dtls"), dtlscertfile="/k/cert.pem", dtlsprivatekey="/k/key.pem"
        )
        self.assertEqual(media_policy(own).dtls_identity, ("/k/cert.pem", "/k/key.pem"))

    def test_codecs_override_keeps_only_audio_codecs(self) -> None:
        policy = media_policy(peer("desk"), ["ulaw", "h264", "opus"])
        self.assertEqual(policy.codecs, ("ulaw", "opus"))
        self.assertEqual(media_policy(peer("desk"), []).codecs, ())


class OfferedCodecsTests(SynchronousTestCase):
    def test_chromium_offer(self) -> None:
        # opus 111, red 63, G722 9, PCMU 0, PCMA 8, CN 13, telephone-event 110/126
        self.assertEqual(
            offered_codecs(load_sdp("chromium-jssip-offer.sdp")), ["opus", "g722", "ulaw", "alaw"]
        )

    def test_desk_phone_offer(self) -> None:
        self.assertEqual(offered_codecs(load_sdp("baresip-offer.sdp")), ["ulaw", "alaw"])

    def test_first_usable_audio_line_only(self) -> None:
        # RFC 8866's example: audio PCMU then a video line.
        self.assertEqual(offered_codecs(load_sdp("rfc8866-example.sdp")), ["ulaw"])
        offer = edited("baresip-offer.sdp", ("m=audio 50500", "m=audio 0"))
        self.assertEqual(offered_codecs(offer), [])

    def test_duplicates_once(self) -> None:
        offer = edited(
            "baresip-offer.sdp",
            ("RTP/AVP 0 8 101", "RTP/AVP 0 96 8 101"),
            ("a=rtpmap:8 PCMA/8000\n", "a=rtpmap:8 PCMA/8000\na=rtpmap:96 PCMU/8000\n"),
        )
        self.assertEqual(offered_codecs(offer), ["ulaw", "alaw"])


class DialPlanTests(SynchronousTestCase):
    def test_bridgeable_adds_the_g711_partner(self) -> None:
        self.assertEqual(bridgeable(["ulaw"]), ["ulaw", "alaw"])
        self.assertEqual(bridgeable(["opus", "alaw", "opus"]), ["opus", "alaw", "ulaw"])
        self.assertEqual(bridgeable(["g722"]), ["g722"])

    def test_callee_gets_its_own_order_limited_to_what_bridges(self) -> None:
        self.assertEqual(callee_codecs(peer("desk"), ["ulaw"]), ["alaw", "ulaw"])
        self.assertEqual(callee_codecs(peer("ws"), ["opus", "g722"]), ["opus"])
        self.assertEqual(callee_codecs(peer("ws"), ["g722"]), [])

    def test_caller_answer_puts_the_callee_codec_first(self) -> None:
        allows = ["opus", "g722", "ulaw", "alaw"]
        self.assertEqual(caller_codecs_for("alaw", allows), ["alaw", "ulaw", "opus", "g722"])
        self.assertEqual(caller_codecs_for("opus", allows), ["opus", "g722", "ulaw", "alaw"])
        # The caller cannot take the callee's codec: its transcoding partner first.
        self.assertEqual(caller_codecs_for("alaw", ["opus", "ulaw"]), ["ulaw", "opus"])
        self.assertEqual(caller_codecs_for("g729", ["ulaw"]), ["ulaw"])
