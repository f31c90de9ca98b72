"""Tests for pbx.sdp.answer: golden answers to recorded offers and the acceptance tables."""

from __future__ import annotations

import dataclasses

from twisted.trial.unittest import SynchronousTestCase

from pbx.core.errors import LocalProtocolError
from pbx.sdp.answer import answer_offer, check_offer, restarts_ice
from pbx.sdp.model import Candidate, SessionDescription
from pbx.sdp.policy import MediaPolicy, NegotiatedMedia, NotAcceptable

from .sdpdata import (
    DESK_LOCAL,
    DESK_POLICY,
    FINGERPRINT,
    KEY_80,
    SHA1_FINGERPRINT,
    WEBRTC_LOCAL,
    WEBRTC_POLICY,
    edited,
    load,
    load_sdp,
)

SESSION = (4242424242, 1)
OPUS_POLICY = dataclasses.replace(WEBRTC_POLICY, codecs=("opus", "ulaw"))

# A Chromium-style video section to add to the recorded audio-only offer.
VIDEO = (
    "m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\nc=IN IP4 0.0.0.0\r\na=mid:1\r\na=sendrecv\r\n"
    "a=rtcp-mux\r\na=rtpmap:96 VP8/90000\r\na=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=96\r\n"
)

LIFETIME_REASON = (
    "a=crypto:1 AES_CM_128_HMAC_SHA1_80 key lifetime 2^20 is below 2^24 packets (no re-keying)"
)

# The fingerprint in chromium-jssip-offer-loopback.sdp.
CHROMIUM_FP = (
    "F5:71:3C:F5:2E:75:62:80:9C:AA:B0:71:5C:78:DB:92:5D:60:88:FC:F0:4B:45:EB:"
    "CE:B5:C2:54:7A:EF:2B:AA"
)

# The RFC 4568 §4 key, 30 bytes of key||salt.
RFC4568_KEY = "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz"


def accepted(
    result: tuple[SessionDescription, NegotiatedMedia] | NotAcceptable,
) -> tuple[SessionDescription, NegotiatedMedia]:
    if isinstance(result, NotAcceptable):
        raise AssertionError(f"refused: {result.reason}")
    return result


def with_video(name: str) -> SessionDescription:
    text = load(name).decode().replace("a=group:BUNDLE 0", "a=group:BUNDLE 0 1") + VIDEO
    return SessionDescription.parse(text)


def sdes_offer(*crypto_lines: str, proto: str = "RTP/SAVP") -> SessionDescription:
    """The recorded baresip offer turned into an SDES offer (as baresip's srtp-mand sends)."""
    lines = "".join(f"a=crypto:{c}\n" for c in crypto_lines)
    return edited(
        "baresip-offer.sdp",
        ("RTP/AVP", proto),
        ("a=sendrecv\n", lines + "a=sendrecv\n"),
    )


class GoldenAnswerTests(SynchronousTestCase):
    """Byte-exact answers for fixed LocalMedia, stored in test/data/sdp/expected/."""

    def test_chromium_jssip_offer_g711_peer(self) -> None:
        answer, media = accepted(
            answer_offer(
                load_sdp("chromium-jssip-offer-loopback.sdp"),
                WEBRTC_POLICY,
                WEBRTC_LOCAL,
                session=SESSION,
            )
        )
        self.assertEqual(answer.to_bytes(), load("expected/chromium-jssip-answer.sdp"))
        self.assertEqual(
            media,
            NegotiatedMedia(
                remote_address="127.0.0.1",
                remote_rtp_port=37123,
                remote_rtcp_port=37123,
                rtcp_mux=True,
                codec="ulaw",
                payload_type=0,
                clock_rate=8000,
                codecs=(("ulaw", 0), ("alaw", 8)),
                dtmf_pt=126,
                dtmf_clock_rate=8000,
                ptime=None,
                direction="sendrecv",
                send=True,
                recv=True,
                security="dtls",
                remote_crypto=None,
                local_crypto_suite=None,
                remote_fingerprint=("sha-256", CHROMIUM_FP),
                dtls_role="client",
                remote_ice_ufrag="nQ4c",
                remote_ice_pwd="o5VRzvL409K6tAZH+wYNFovZ",
                ice=True,
                mid="0",
                avpf=True,
                profile="UDP/TLS/RTP/SAVPF",
                local_ice_ufrag="5c1e9a0d",
                local_ice_pwd="8f2b6e417ad3c95e0b1f7a264c8d3e59",
            ),
        )

    def test_chromium_sipjs_offer_opus_peer_gets_telephone_event_48000(self) -> None:
        answer, media = accepted(
            answer_offer(
                load_sdp("chromium-sipjs-offer-loopback.sdp"),
                OPUS_POLICY,
                WEBRTC_LOCAL,
                session=SESSION,
            )
        )
        self.assertEqual(answer.to_bytes(), load("expected/chromium-sipjs-answer.sdp"))
        self.assertEqual((media.codec, media.payload_type, media.clock_rate), ("opus", 111, 48000))
        self.assertEqual((media.dtmf_pt, media.dtmf_clock_rate), (110, 48000))
        self.assertEqual(media.remote_ice_ufrag, "ikZI")

    def test_baresip_plain_offer(self) -> None:
        self.assertIsNone(check_offer(load_sdp("baresip-offer.sdp"), DESK_POLICY, DESK_LOCAL))
        answer, media = accepted(
            answer_offer(load_sdp("baresip-offer.sdp"), DESK_POLICY, DESK_LOCAL, session=SESSION)
        )
        self.assertEqual(answer.to_bytes(), load("expected/baresip-answer.sdp"))
        self.assertEqual(
            (media.remote_address, media.remote_rtp_port, media.remote_rtcp_port),
            ("127.0.0.1", 50500, 50501),
        )
        self.assertEqual(
            (media.codecs, media.dtmf_pt, media.ptime), ((("ulaw", 0), ("alaw", 8)), 101, 20)
        )
        self.assertEqual(
            (media.security, media.ice, media.rtcp_mux, media.mid), ("none", False, False, None)
        )

    def test_webrtc_answers_have_what_chromium_was_verified_to_accept(self) -> None:
        # WEBRTC-MEDIA.md §1: the checklist, read from the stored files themselves.
        for name in ("chromium-jssip-answer.sdp", "chromium-sipjs-answer.sdp"):
            text = load(f"expected/{name}").decode()
            session_part, _, media_part = text.partition("m=audio ")
            self.assertIn("a=group:BUNDLE 0\r\n", session_part)
            self.assertIn("a=ice-lite\r\n", session_part)
            self.assertTrue(media_part.startswith("40000 UDP/TLS/RTP/SAVPF "))
            for line in ("a=mid:0", "a=rtcp-mux", "a=setup:active", "a=end-of-candidates"):
                self.assertIn(line + "\r\n", media_part)
            self.assertIn(f"a=fingerprint:sha-256 {FINGERPRINT}\r\n", media_part)
            self.assertEqual(media_part.count("a=candidate:"), 1)
            self.assertNotIn("a=crypto", text)
            self.assertNotIn("a=ptime", text)

    def test_one_candidate_per_address_and_component(self) -> None:
        local = dataclasses.replace(
            WEBRTC_LOCAL,
            candidates=(
                Candidate("1", 1, "udp", 2130706431, "127.0.0.1", 40000, "host"),
                Candidate("1", 2, "udp", 2130706430, "127.0.0.1", 40001, "host"),
                Candidate("2", 1, "udp", 2130706175, "::1", 40000, "host"),
            ),
        )
        answer, _ = accepted(
            answer_offer(load_sdp("chromium-jssip-offer-loopback.sdp"), WEBRTC_POLICY, local)
        )
        # rtcp-mux: the component 2 candidate is left out.
        self.assertEqual(
            answer.media[0].attrs("candidate"),
            [
                "1 1 udp 2130706431 127.0.0.1 40000 typ host",
                "2 1 udp 2130706175 ::1 40000 typ host",
            ],
        )

    def test_unrewritten_chromium_offer_and_asterisk_offer_are_accepted(self) -> None:
        for name, proto in [
            ("chromium-jssip-offer.sdp", "UDP/TLS/RTP/SAVPF"),
            ("chromium-sipjs-offer.sdp", "UDP/TLS/RTP/SAVPF"),
            # Asterisk offers DTLS as RTP/SAVPF with a fingerprint and no a=crypto.
            ("asterisk-offer-to-chromium-jssip.sdp", "RTP/SAVPF"),
        ]:
            answer, media = accepted(answer_offer(load_sdp(name), WEBRTC_POLICY, WEBRTC_LOCAL))
            self.assertEqual((media.security, media.profile), ("dtls", proto), name)
            self.assertEqual(answer.media[0].proto, proto)
        # Asterisk: no a=mid, no BUNDLE, SHA-256 spelled in upper case.
        answer, media = accepted(
            answer_offer(
                load_sdp("asterisk-offer-to-chromium-sipjs.sdp"), WEBRTC_POLICY, WEBRTC_LOCAL
            )
        )
        self.assertIsNone(answer.group("BUNDLE"))
        self.assertIsNone(answer.media[0].mid)
        self.assertEqual(
            media.remote_fingerprint[0] if media.remote_fingerprint else None, "sha-256"
        )
        self.assertEqual(
            (media.dtmf_pt, media.remote_ice_ufrag), (101, "26b3b44331d51db80cdfda6b748c5a12")
        )


class SecurityMatrixTests(SynchronousTestCase):
    def refused(self, offer: SessionDescription, policy: MediaPolicy, reason: str) -> None:
        local = DESK_LOCAL if not policy.dtls else WEBRTC_LOCAL
        self.assertEqual(answer_offer(offer, policy, local), NotAcceptable(reason))
        # The INVITE admission check refuses with the very same reason.
        self.assertEqual(check_offer(offer, policy, local), NotAcceptable(reason))

    def test_refusals_with_exact_reasons(self) -> None:
        sdes_desk = dataclasses.replace(DESK_POLICY, encryption=True)
        chromium = load_sdp("chromium-jssip-offer-loopback.sdp")
        for offer, policy, reason in [
            (
                load_sdp("baresip-offer.sdp"),
                sdes_desk,
                "plain RTP offered but peer desk1 has encryption=yes",
            ),
            (
                edited("baresip-offer.sdp", ("RTP/AVP", "RTP/AVPF")),
                WEBRTC_POLICY,
                "plain RTP offered but peer alice has encryption=yes",
            ),
            (chromium, DESK_POLICY, "DTLS-SRTP offered but peer desk1 has no dtlsenable=yes"),
            (
                load_sdp("asterisk-offer-to-chromium-jssip.sdp"),
                DESK_POLICY,
                "DTLS-SRTP offered but peer desk1 has no dtlsenable=yes",
            ),
            (
                sdes_offer(),
                DESK_POLICY,
                "secure profile RTP/SAVP offered without a=crypto or a=fingerprint",
            ),
            (
                sdes_offer(proto="RTP/SAVPF"),
                DESK_POLICY,
                "secure profile RTP/SAVPF offered without a=crypto or a=fingerprint",
            ),
            (
                edited(
                    "chromium-jssip-offer-loopback.sdp",
                    (
                        f"a=fingerprint:sha-256 {CHROMIUM_FP}\r\n",
                        "",
                    ),
                ),
                WEBRTC_POLICY,
                "secure profile UDP/TLS/RTP/SAVPF offered without a=fingerprint",
            ),
            (
                edited(
                    "chromium-jssip-offer-loopback.sdp", ("fingerprint:sha-256", "fingerprint:md5")
                ),
                WEBRTC_POLICY,
                "DTLS fingerprint hash md5 is not supported",
            ),
            (
                edited("chromium-jssip-offer-loopback.sdp", ("setup:actpass", "setup:holdconn")),
                WEBRTC_POLICY,
                "offer has a=setup:holdconn; DTLS-SRTP needs a connection",
            ),
            (
                edited("baresip-offer.sdp", ("RTP/AVP", "TCP/RTP/AVP")),
                DESK_POLICY,
                "unsupported audio profile TCP/RTP/AVP",
            ),
        ]:
            self.refused(offer, policy, reason)

    def test_sdes_refusals(self) -> None:
        for lines, reason in [
            (
                [f"1 AES_CM_128_HMAC_SHA1_80 inline:{RFC4568_KEY[:-4]}"],
                "a=crypto:1 AES_CM_128_HMAC_SHA1_80 has a bad inline key (not base64 of 30 bytes)",
            ),
            (
                [
                    "1 AES_256_CM_HMAC_SHA1_80 inline:x",
                    "2 AEAD_AES_128_GCM inline:y",
                    "3 AEAD_AES_128_GCM inline:z",
                ],
                "SDES suites AES_256_CM_HMAC_SHA1_80,AEAD_AES_128_GCM offered; "
                "pbx supports AES_CM_128_HMAC_SHA1_80,AES_CM_128_HMAC_SHA1_32",
            ),
            (
                [f"1 AES_CM_128_HMAC_SHA1_32 inline:{RFC4568_KEY}|1:5"],
                "a=crypto:1 AES_CM_128_HMAC_SHA1_32 MKI length 5 is not 1 to 4 bytes",
            ),
            (
                # Two usable suites, both unusable: the first reason is given.
                [
                    f"1 AES_CM_128_HMAC_SHA1_80 inline:{RFC4568_KEY}|2^20",
                    f"2 AES_CM_128_HMAC_SHA1_32 inline:{RFC4568_KEY} KDR=1",
                ],
                LIFETIME_REASON,
            ),
        ]:
            self.refused(sdes_offer(*lines), DESK_POLICY, reason)

    def test_rfc4568_example_offer_is_refused_for_its_key_lifetime(self) -> None:
        self.refused(
            load_sdp("rfc4568-example-audio.sdp"),
            DESK_POLICY,
            LIFETIME_REASON,
        )

    def test_sdes_is_accepted_even_without_encryption_and_answered_with_our_key(self) -> None:
        offer = sdes_offer(
            f"1 AES_CM_128_HMAC_SHA1_80 inline:{RFC4568_KEY}|2^20|1:4",
            f"2 AES_CM_128_HMAC_SHA1_80 inline:{RFC4568_KEY}|2^31|1:4",
        )
        answer, media = accepted(answer_offer(offer, DESK_POLICY, DESK_LOCAL))
        # The first line's key lifetime is too short; the second is usable and keeps its tag.
        # Its MKI is the peer's business: our answer key carries none.
        self.assertEqual(
            answer.media[0].attrs("crypto"),
            ["2 AES_CM_128_HMAC_SHA1_80 inline:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd"],
        )
        self.assertEqual(media.security, "sdes")
        self.assertEqual(media.local_crypto_suite, "AES_CM_128_HMAC_SHA1_80")
        self.assertEqual(media.remote_crypto and media.remote_crypto.tag, 2)
        self.assertEqual(answer.media[0].proto, "RTP/SAVP")
        self.assertFalse(answer.media[0].has_attr("fingerprint"))

    def test_plain_avpf_is_accepted_and_mirrored_without_avpf_policy(self) -> None:
        answer, media = accepted(
            answer_offer(
                edited("baresip-offer.sdp", ("RTP/AVP", "RTP/AVPF")), DESK_POLICY, DESK_LOCAL
            )
        )
        self.assertEqual(
            (answer.media[0].proto, media.avpf, media.security), ("RTP/AVPF", True, "none")
        )

    def test_savp_with_crypto_and_fingerprint_follows_the_policy(self) -> None:
        offer = edited(
            "asterisk-offer-to-chromium-jssip.sdp",
            (
                "a=rtcp-mux\r\n",
                f"a=rtcp-mux\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{RFC4568_KEY}\r\n",
            ),
        )
        _, media = accepted(answer_offer(offer, WEBRTC_POLICY, WEBRTC_LOCAL))
        self.assertEqual(media.security, "dtls")
        sdes_local = dataclasses.replace(
            WEBRTC_LOCAL, sdes_keys={"AES_CM_128_HMAC_SHA1_80": KEY_80}
        )
        no_dtls = dataclasses.replace(WEBRTC_POLICY, dtls=False)
        answer, media = accepted(answer_offer(offer, no_dtls, sdes_local))
        self.assertEqual(media.security, "sdes")
        self.assertFalse(answer.media[0].has_attr("fingerprint"))

    def test_dtls_offer_without_rtcp_mux_is_answered_without_mux(self) -> None:
        offer = edited("chromium-jssip-offer-loopback.sdp", ("a=rtcp-mux\r\n", ""))
        answer, media = accepted(answer_offer(offer, WEBRTC_POLICY, WEBRTC_LOCAL))
        self.assertFalse(media.rtcp_mux)
        # a=rtcp:9 in Chromium's offer is where it would take RTCP.
        self.assertEqual(media.remote_rtcp_port, 9)
        self.assertEqual(answer.media[0].attr("rtcp"), "40001")
        self.assertFalse(answer.media[0].has_attr("rtcp-mux"))
        self.assertEqual(len(answer.media[0].attrs("candidate")), 2)

    def test_dtls_roles(self) -> None:
        for setup, established, dtls_setup, ours, role in [
            ("actpass", None, "actpass", "active", "client"),
            ("actpass", None, "passive", "passive", "server"),
            ("actpass", "server", "actpass", "passive", "server"),
            ("actpass", "client", "passive", "active", "client"),
            ("active", "client", "actpass", "passive", "server"),
            ("passive", None, "passive", "active", "client"),
        ]:
            offer = edited("chromium-jssip-offer-loopback.sdp", ("setup:actpass", f"setup:{setup}"))
            policy = dataclasses.replace(WEBRTC_POLICY, dtls_setup=dtls_setup)
            answer, media = accepted(
                answer_offer(offer, policy, WEBRTC_LOCAL, dtls_role=established)
            )
            self.assertEqual((answer.media[0].setup, media.dtls_role), (ours, role), setup)

    def test_fingerprint_mirrors_the_peers_hash_when_we_have_it(self) -> None:
        offer = edited(
            "chromium-jssip-offer-loopback.sdp",
            (
                f"a=fingerprint:sha-256 {CHROMIUM_FP}",
                "a=fingerprint:SHA-1 5B:0E:93:1A:C7:44:D8:2F:61:B9:0C:75:E2:38:AF:16:D4:8B:29:C1",
            ),
        )
        local = dataclasses.replace(WEBRTC_LOCAL, fingerprints={"sha-1": SHA1_FINGERPRINT})
        answer, media = accepted(answer_offer(offer, WEBRTC_POLICY, local))
        self.assertEqual(answer.media[0].fingerprints, [("sha-1", SHA1_FINGERPRINT)])
        self.assertEqual(
            media.remote_fingerprint,
            ("sha-1", "5B:0E:93:1A:C7:44:D8:2F:61:B9:0C:75:E2:38:AF:16:D4:8B:29:C1"),
        )
        # Without a sha-1 certificate fingerprint we fall back to ours.
        answer, _ = accepted(answer_offer(offer, WEBRTC_POLICY, WEBRTC_LOCAL))
        self.assertEqual(answer.media[0].fingerprints, [("sha-256", FINGERPRINT)])

    def test_missing_local_material_is_a_local_error(self) -> None:
        chromium = load_sdp("chromium-jssip-offer-loopback.sdp")
        for local, message in [
            (
                dataclasses.replace(WEBRTC_LOCAL, ice_ufrag=None),
                "LocalMedia.ice_ufrag is needed for ICE",
            ),
            (
                dataclasses.replace(WEBRTC_LOCAL, ice_pwd=None),
                "LocalMedia.ice_pwd is needed for ICE",
            ),
            (
                dataclasses.replace(WEBRTC_LOCAL, fingerprint=None),
                "LocalMedia.fingerprint is needed for DTLS-SRTP",
            ),
        ]:
            error = self.assertRaises(
                LocalProtocolError, answer_offer, chromium, WEBRTC_POLICY, local
            )
            self.assertEqual(str(error), message)
        offer = sdes_offer(f"1 AES_CM_128_HMAC_SHA1_32 inline:{RFC4568_KEY}")
        local = dataclasses.replace(DESK_LOCAL, sdes_keys={"AES_CM_128_HMAC_SHA1_80": KEY_80})
        error = self.assertRaises(LocalProtocolError, answer_offer, offer, DESK_POLICY, local)
        self.assertEqual(str(error), "LocalMedia.sdes_keys has no AES_CM_128_HMAC_SHA1_32 key")


class CodecTests(SynchronousTestCase):
    def fmts(self, offer: SessionDescription, policy: MediaPolicy) -> list[str]:
        answer, _ = accepted(answer_offer(offer, policy, WEBRTC_LOCAL))
        return answer.media[0].fmts

    def test_joint_codecs_follow_the_peer_allow_order_with_the_offered_pts(self) -> None:
        chromium = load_sdp("chromium-jssip-offer-loopback.sdp")
        baresip = load_sdp("baresip-offer.sdp")
        te96 = edited(
            "baresip-offer.sdp",
            ("0 8 101", "0 8 96"),
            ("rtpmap:101", "rtpmap:96"),
            ("fmtp:101", "fmtp:96"),
        )
        for offer, base, codecs, dtmf, expected in [
            (chromium, WEBRTC_POLICY, ("ulaw", "alaw"), True, ["0", "8", "126"]),
            (chromium, WEBRTC_POLICY, ("alaw", "ulaw"), True, ["8", "0", "126"]),
            (chromium, WEBRTC_POLICY, ("opus", "ulaw"), True, ["111", "0", "110"]),
            (chromium, WEBRTC_POLICY, ("ulaw", "opus"), True, ["0", "111", "126"]),
            (chromium, WEBRTC_POLICY, ("g722",), True, ["9", "126"]),
            (chromium, WEBRTC_POLICY, ("h263", "gsm", "alaw"), True, ["8", "126"]),
            (chromium, WEBRTC_POLICY, ("ulaw", "alaw"), False, ["0", "8"]),
            (baresip, DESK_POLICY, ("alaw", "g729", "ulaw"), True, ["8", "0", "101"]),
            (te96, DESK_POLICY, ("ulaw",), True, ["0", "96"]),
        ]:
            policy = dataclasses.replace(base, codecs=codecs, dtmf_rfc4733=dtmf)
            self.assertEqual(self.fmts(offer, policy), expected, codecs)

    def test_no_joint_codec(self) -> None:
        opus_g722 = edited(
            "chromium-sipjs-offer-loopback.sdp", ("111 63 9 0 8 13 110 126", "111 63 9 13 110 126")
        )
        policy = dataclasses.replace(WEBRTC_POLICY, peer_name="desk1")
        self.assertEqual(
            answer_offer(opus_g722, policy, WEBRTC_LOCAL),
            NotAcceptable("offer has only opus,G722; peer desk1 allows ulaw,alaw"),
        )
        chromium = load_sdp("chromium-jssip-offer-loopback.sdp")
        gsm = dataclasses.replace(WEBRTC_POLICY, codecs=("gsm",))
        self.assertEqual(
            answer_offer(chromium, gsm, WEBRTC_LOCAL),
            NotAcceptable("offer has only opus,G722,PCMU,PCMA; peer alice allows gsm"),
        )
        only_events = edited("baresip-offer.sdp", ("RTP/AVP 0 8 101", "RTP/AVP 101"))
        self.assertEqual(
            answer_offer(only_events, DESK_POLICY, DESK_LOCAL),
            NotAcceptable("offer has no codec; peer desk1 allows ulaw,alaw"),
        )

    def test_ptime_is_echoed_only_when_offered(self) -> None:
        answer, media = accepted(
            answer_offer(
                edited("baresip-offer.sdp", ("a=ptime:20", "a=ptime:30")), DESK_POLICY, DESK_LOCAL
            )
        )
        self.assertEqual((answer.media[0].ptime, media.ptime), (30, 30))
        answer, media = accepted(
            answer_offer(
                edited("baresip-offer.sdp", ("a=ptime:20", "a=x")), DESK_POLICY, DESK_LOCAL
            )
        )
        self.assertEqual((answer.media[0].ptime, media.ptime), (None, None))


class DirectionTests(SynchronousTestCase):
    def test_direction_table(self) -> None:
        for offered, hold, answered, send, recv in [
            ("sendrecv", False, "sendrecv", True, True),
            ("sendonly", False, "recvonly", False, True),
            ("recvonly", False, "sendonly", True, False),
            ("inactive", False, "inactive", False, False),
            ("sendrecv", True, "sendonly", True, False),
            ("sendonly", True, "inactive", False, False),
            ("recvonly", True, "sendonly", True, False),
            ("inactive", True, "inactive", False, False),
        ]:
            offer = edited("baresip-offer.sdp", ("a=sendrecv", f"a={offered}"))
            answer, media = accepted(answer_offer(offer, DESK_POLICY, DESK_LOCAL, hold=hold))
            self.assertEqual(
                (answer.media[0].direction, media.direction, media.send, media.recv),
                (answered, answered, send, recv),
                (offered, hold),
            )

    def test_session_level_direction_applies(self) -> None:
        offer = edited("baresip-offer.sdp", ("a=tool", "a=sendonly\na=tool"), ("a=sendrecv\n", ""))
        answer, _ = accepted(answer_offer(offer, DESK_POLICY, DESK_LOCAL))
        self.assertEqual(answer.media[0].direction, "recvonly")

    def test_old_style_hold_address_means_do_not_send(self) -> None:
        offer = edited("baresip-offer.sdp", ("c=IN IP4 127.0.0.1", "c=IN IP4 0.0.0.0"))
        answer, media = accepted(answer_offer(offer, DESK_POLICY, DESK_LOCAL))
        self.assertEqual(
            (answer.media[0].direction, media.send, media.recv), ("recvonly", False, True)
        )
        self.assertEqual(media.remote_address, "0.0.0.0")
        # Our own address stays in the answer: we still receive.
        self.assertEqual(answer.connection and answer.connection.address, "127.0.0.1")


class StreamSelectionTests(SynchronousTestCase):
    def test_video_is_declined_with_port_0_and_left_out_of_bundle(self) -> None:
        answer, media = accepted(
            answer_offer(
                with_video("chromium-jssip-offer-loopback.sdp"), WEBRTC_POLICY, WEBRTC_LOCAL
            )
        )
        self.assertEqual(len(answer.media), 2)
        self.assertEqual(answer.media[0].port, 40000)
        video = answer.media[1]
        self.assertEqual(
            (video.media, video.port, video.proto, video.fmts),
            ("video", 0, "UDP/TLS/RTP/SAVPF", ["96"]),
        )
        self.assertEqual(video.mid, "1")
        self.assertEqual(answer.group("BUNDLE"), ["0"])
        self.assertEqual(media.mid, "0")

    def test_rfc8866_example_first_audio_accepted_the_rest_declined(self) -> None:
        answer, media = accepted(
            answer_offer(load_sdp("rfc8866-example.sdp"), DESK_POLICY, DESK_LOCAL)
        )
        self.assertEqual(
            [line for line in answer.lines() if line.startswith("m=")],
            ["m=audio 40002 RTP/AVP 0", "m=audio 0 RTP/AVP 0", "m=video 0 RTP/AVP 99"],
        )
        self.assertEqual(
            (media.remote_address, media.remote_rtp_port, media.dtmf_pt),
            ("198.51.100.1", 49170, None),
        )

    def test_first_acceptable_audio_line_wins(self) -> None:
        # A desk phone offering SRTP-or-plain as two audio lines, to a peer without SDES keys in
        # the first line: the DTLS line is refused, the plain one accepted.
        text = (
            load("chromium-jssip-offer-loopback.sdp").decode()
            + "m=audio 6000 RTP/AVP 8\r\nc=IN IP4 127.0.0.1\r\n"
        )
        answer, media = accepted(
            answer_offer(SessionDescription.parse(text), DESK_POLICY, DESK_LOCAL)
        )
        self.assertEqual([m.port for m in answer.media], [0, 40002])
        self.assertEqual((media.remote_rtp_port, media.codec), (6000, "alaw"))
        self.assertIsNone(answer.group("BUNDLE"))

    def test_the_first_refused_audio_line_gives_the_reason(self) -> None:
        text = load("baresip-offer.sdp").decode().replace("\n", "\r\n") + "\r\n"
        text = text.replace("RTP/AVP 0 8 101", "RTP/AVP 9 101")
        text += "m=audio 6000 TCP/RTP/AVP 0\r\n"
        self.assertEqual(
            answer_offer(SessionDescription.parse(text), DESK_POLICY, DESK_LOCAL),
            NotAcceptable("offer has only G722; peer desk1 allows ulaw,alaw"),
        )

    def test_no_audio_or_no_connection(self) -> None:
        video_only = SessionDescription.parse(
            "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\n"
            "m=video 5000 RTP/AVP 96\r\nm=audio 0 RTP/AVP 0\r\n"
        )
        self.assertEqual(
            answer_offer(video_only, DESK_POLICY, DESK_LOCAL),
            NotAcceptable("offer has no audio stream"),
        )
        no_c = edited("baresip-offer.sdp", ("c=IN IP4 127.0.0.1\n", ""))
        self.assertEqual(
            answer_offer(no_c, DESK_POLICY, DESK_LOCAL),
            NotAcceptable("offer has no c= line for the audio stream"),
        )

    def test_bundle_group_without_our_mid_is_not_echoed(self) -> None:
        offer = edited(
            "chromium-jssip-offer-loopback.sdp", ("a=group:BUNDLE 0", "a=group:BUNDLE 7")
        )
        answer, _ = accepted(answer_offer(offer, WEBRTC_POLICY, WEBRTC_LOCAL))
        self.assertIsNone(answer.group("BUNDLE"))


#: Chromium 156's offer and its ICE-restart re-offer (JsSIP ``renegotiate`` with
#: ``iceRestart``) from one call, as they crossed the WebSocket (test/data/sdp/README.md).
RESTART_OFFER = "chromium-jssip-ice-restart-offer-loopback.sdp"
RESTART_REOFFER = "chromium-jssip-ice-restart-reoffer-loopback.sdp"


class IceRestartTests(SynchronousTestCase):
    """RFC 8839 §4.4.1.1.2: which re-offers restart ICE."""

    def setUp(self) -> None:
        _, self.previous = accepted(
            answer_offer(load_sdp(RESTART_OFFER), WEBRTC_POLICY, WEBRTC_LOCAL)
        )

    def test_chromium_ice_restart_re_offer(self) -> None:
        self.assertEqual(
            (self.previous.remote_ice_ufrag, self.previous.remote_ice_pwd),
            ("GN8D", "j40Rwe5eDJX45e71byHUtp6I"),
        )
        self.assertTrue(restarts_ice(load_sdp(RESTART_REOFFER), self.previous))

    def test_same_credentials_are_no_restart(self) -> None:
        self.assertFalse(restarts_ice(load_sdp(RESTART_OFFER), self.previous))
        # A hold re-offer changes the direction, not the credentials.
        held = edited(RESTART_OFFER, ("a=sendrecv", "a=sendonly"))
        self.assertFalse(restarts_ice(held, self.previous))

    def test_either_credential_changing_is_a_restart(self) -> None:
        pwd_only = edited(
            RESTART_OFFER, ("a=ice-pwd:j40Rwe5eDJX45e71byHUtp6I", "a=ice-pwd:" + "x" * 24)
        )
        self.assertTrue(restarts_ice(pwd_only, self.previous))
        ufrag_only = edited(RESTART_OFFER, ("a=ice-ufrag:GN8D", "a=ice-ufrag:SjRo"))
        self.assertTrue(restarts_ice(ufrag_only, self.previous))

    def test_no_restart_without_ice_before_or_now(self) -> None:
        reoffer = load_sdp(RESTART_REOFFER)
        self.assertFalse(restarts_ice(reoffer, None))
        self.assertFalse(restarts_ice(reoffer, dataclasses.replace(self.previous, ice=False)))
        no_ice = edited(RESTART_REOFFER, ("a=ice-ufrag:SjRo\r\n", ""))
        self.assertFalse(restarts_ice(no_ice, self.previous))

    def test_the_stream_is_found_by_its_mid(self) -> None:
        # A new audio line in front (mid 1) does not hide the unchanged stream with mid 0.
        text = load(RESTART_OFFER).decode()
        head, sep, audio = text.partition("m=audio")
        extra = audio.replace("a=mid:0", "a=mid:1").replace("a=ice-ufrag:GN8D", "a=ice-ufrag:Othr")
        reordered = SessionDescription.parse(head + sep + extra + sep + audio)
        self.assertFalse(restarts_ice(reordered, self.previous))
        self.assertTrue(restarts_ice(reordered, dataclasses.replace(self.previous, mid=None)))

    def test_answer_carries_the_local_credentials_it_was_given(self) -> None:
        local = dataclasses.replace(WEBRTC_LOCAL, ice_ufrag="0f1e2d3c", ice_pwd="a" * 32)
        answer, media = accepted(answer_offer(load_sdp(RESTART_REOFFER), WEBRTC_POLICY, local))
        self.assertEqual(
            (answer.media[0].ice_ufrag, answer.media[0].ice_pwd), ("0f1e2d3c", "a" * 32)
        )
        self.assertEqual((media.local_ice_ufrag, media.local_ice_pwd), ("0f1e2d3c", "a" * 32))
        self.assertEqual(
            (media.remote_ice_ufrag, media.remote_ice_pwd), ("SjRo", "IdLENSKYfa3qVRhtqyxzIqbf")
        )


class IceAndSessionTests(SynchronousTestCase):
    def test_ice_only_when_offered_and_allowed(self) -> None:
        chromium = load_sdp("chromium-jssip-offer-loopback.sdp")
        no_ice = dataclasses.replace(WEBRTC_POLICY, ice=False)
        answer, media = accepted(answer_offer(chromium, no_ice, WEBRTC_LOCAL))
        self.assertFalse(answer.ice_lite or answer.media[0].has_attr("ice-ufrag") or media.ice)
        self.assertIsNone(media.remote_ice_ufrag)
        offer = edited("chromium-jssip-offer-loopback.sdp", ("a=ice-ufrag:nQ4c\r\n", ""))
        answer, media = accepted(answer_offer(offer, WEBRTC_POLICY, WEBRTC_LOCAL))
        self.assertFalse(answer.ice_lite or media.ice)

    def test_ice_needs_both_credentials(self) -> None:
        offer = edited(
            "chromium-jssip-offer-loopback.sdp", ("a=ice-pwd:o5VRzvL409K6tAZH+wYNFovZ\r\n", "")
        )
        answer, media = accepted(answer_offer(offer, WEBRTC_POLICY, WEBRTC_LOCAL))
        self.assertFalse(answer.ice_lite or media.ice)

    def test_session_level_ice_credentials_are_used(self) -> None:
        offer = edited(
            "chromium-jssip-offer-loopback.sdp",
            ("a=ice-ufrag:nQ4c\r\n", ""),
            ("a=extmap-allow-mixed\r\n", "a=extmap-allow-mixed\r\na=ice-ufrag:sess\r\n"),
        )
        _, media = accepted(answer_offer(offer, WEBRTC_POLICY, WEBRTC_LOCAL))
        self.assertEqual((media.ice, media.remote_ice_ufrag), (True, "sess"))

    def test_origin_and_connection_come_from_local_media(self) -> None:
        local = dataclasses.replace(
            DESK_LOCAL, address="::1", sess_owner="pbx", session_name="call"
        )
        answer, _ = accepted(
            answer_offer(load_sdp("baresip-offer.sdp"), DESK_POLICY, local, session=(7, 9))
        )
        self.assertEqual(answer.lines()[1:4], ["o=pbx 7 9 IN IP6 ::1", "s=call", "c=IN IP6 ::1"])
        answer, _ = accepted(answer_offer(load_sdp("baresip-offer.sdp"), DESK_POLICY, DESK_LOCAL))
        self.assertEqual(answer.lines()[1], "o=- 0 0 IN IP4 127.0.0.1")
