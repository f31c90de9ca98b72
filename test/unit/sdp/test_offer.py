"""Tests for pbx.sdp.offer: golden offers, re-offers, and accepting recorded answers."""

from __future__ import annotations

import base64
import dataclasses

from twisted.trial.unittest import SynchronousTestCase

from pbx.core.errors import LocalProtocolError
from pbx.sdp.answer import answer_offer
from pbx.sdp.model import SessionDescription
from pbx.sdp.offer import accept_answer, make_offer
from pbx.sdp.policy import LocalMedia, MediaPolicy, NegotiatedMedia, NotAcceptable

from .sdpdata import (
    DESK_LOCAL,
    DESK_POLICY,
    KEY_32,
    KEY_80,
    SDES_32_POLICY,
    SDES_POLICY,
    WEBRTC_LOCAL,
    WEBRTC_POLICY,
    load,
    load_sdp,
)

SESSION = (4242424242, 1)
CHROMIUM_JSSIP_ANSWER_FP = (
    "34:09:11:04:86:88:BB:75:D2:0B:D2:2D:E0:D0:7A:71:47:40:96:E0:BE:C8:92:5C:D4:0D:2F:4B:"
    "DC:F4:16:70"
)


def negotiated(result: NegotiatedMedia | NotAcceptable) -> NegotiatedMedia:
    if isinstance(result, NotAcceptable):
        raise AssertionError(f"refused: {result.reason}")
    return result


def replaced(sd: SessionDescription, old: str, new: str) -> SessionDescription:
    text = str(sd)
    if text.count(old) != 1:
        raise AssertionError(f"{old!r} occurs {text.count(old)} times")
    return SessionDescription.parse(text.replace(old, new))


class GoldenOfferTests(SynchronousTestCase):
    def test_offers_per_chan_sip_profile_rules(self) -> None:
        for policy, local, name in [
            (WEBRTC_POLICY, WEBRTC_LOCAL, "offer-webrtc.sdp"),
            (SDES_POLICY, DESK_LOCAL, "offer-sdes.sdp"),
            (SDES_32_POLICY, DESK_LOCAL, "offer-sdes-taglen32.sdp"),
            (DESK_POLICY, DESK_LOCAL, "offer-plain.sdp"),
        ]:
            offer = make_offer(policy, local, session=SESSION)
            self.assertEqual(offer.to_bytes(), load(f"expected/{name}"), name)

    def test_webrtc_offer_is_what_a_browser_needs(self) -> None:
        offer = load_sdp("expected/offer-webrtc.sdp")
        audio = offer.media[0]
        self.assertEqual(offer.group("BUNDLE"), ["0"])
        self.assertTrue(offer.ice_lite)
        self.assertEqual(
            (audio.proto, audio.mid, audio.setup), ("UDP/TLS/RTP/SAVPF", "0", "actpass")
        )
        self.assertTrue(audio.rtcp_mux)
        self.assertEqual(audio.attrs("end-of-candidates"), [""])
        self.assertEqual(audio.cryptos, [])

    def test_sdes_offer_carries_both_suites_with_our_keys(self) -> None:
        cryptos = load_sdp("expected/offer-sdes.sdp").media[0].cryptos
        self.assertEqual(
            [(c.tag, c.suite) for c in cryptos],
            [(1, "AES_CM_128_HMAC_SHA1_80"), (2, "AES_CM_128_HMAC_SHA1_32")],
        )
        local = dataclasses.replace(DESK_LOCAL, sdes_keys={"AES_CM_128_HMAC_SHA1_32": KEY_80})
        only_32 = make_offer(SDES_POLICY, local).media[0].cryptos
        self.assertEqual([(c.tag, c.suite) for c in only_32], [(1, "AES_CM_128_HMAC_SHA1_32")])

    def test_encryption_taglen_32_puts_the_32_bit_suite_first(self) -> None:
        """chan_sip's ``encryption_taglen=32``: AES_CM_128_HMAC_SHA1_32 is tag 1; pbx keeps
        _80 as tag 2 (chan_sip writes one line) so an 80-only answerer still connects."""
        cryptos = load_sdp("expected/offer-sdes-taglen32.sdp").media[0].cryptos
        self.assertEqual(
            [str(c) for c in cryptos],
            [
                "1 AES_CM_128_HMAC_SHA1_32 inline:" + base64.b64encode(KEY_32).decode(),
                "2 AES_CM_128_HMAC_SHA1_80 inline:" + base64.b64encode(KEY_80).decode(),
            ],
        )
        # Every other line is the default offer's.
        default = load("expected/offer-sdes.sdp").split(b"\r\n")
        taglen32 = load("expected/offer-sdes-taglen32.sdp").split(b"\r\n")
        self.assertEqual(default[13][:9], b"a=crypto:")
        self.assertEqual(default[:13] + default[15:], taglen32[:13] + taglen32[15:])
        # Without a _32 key the _80 line is still offered, as tag 1.
        local = dataclasses.replace(DESK_LOCAL, sdes_keys={"AES_CM_128_HMAC_SHA1_80": KEY_80})
        only_80 = make_offer(SDES_32_POLICY, local).media[0].cryptos
        self.assertEqual([(c.tag, c.suite) for c in only_80], [(1, "AES_CM_128_HMAC_SHA1_80")])

    def test_encryption_taglen_changes_nothing_without_sdes(self) -> None:
        for policy in (DESK_POLICY, WEBRTC_POLICY):
            local = dataclasses.replace(WEBRTC_LOCAL, sdes_keys=DESK_LOCAL.sdes_keys)
            taglen32 = dataclasses.replace(policy, sdes_taglen=32)
            self.assertEqual(
                make_offer(taglen32, local, session=SESSION).to_bytes(),
                make_offer(policy, local, session=SESSION).to_bytes(),
            )

    def test_codecs_ptime_dtmf_and_hold(self) -> None:
        for codecs, dtmf, hold, fmts, ptime, direction in [
            (("ulaw", "alaw"), True, False, ["0", "8", "101"], 20, "sendrecv"),
            # RFC 4733 §2.1: opus's events on its own 48 kHz clock.
            (("opus",), True, False, ["111", "110"], None, "sendrecv"),
            (("opus", "ulaw"), True, False, ["111", "0", "110", "101"], 20, "sendrecv"),
            (("opus", "alaw", "opus"), False, True, ["111", "8"], 20, "sendonly"),
            (("g729", "gsm", "g722", "h263"), False, False, ["18", "3", "9"], None, "sendrecv"),
        ]:
            policy = dataclasses.replace(DESK_POLICY, codecs=codecs, dtmf_rfc4733=dtmf)
            audio = make_offer(policy, DESK_LOCAL, hold=hold).media[0]
            self.assertEqual((audio.fmts, audio.ptime, audio.direction), (fmts, ptime, direction))
        opus = make_offer(dataclasses.replace(DESK_POLICY, codecs=("opus", "g729")), DESK_LOCAL)
        self.assertEqual(
            opus.media[0].attrs("fmtp"),
            ["111 minptime=10;useinbandfec=1", "18 annexb=no", "110 0-16", "101 0-16"],
        )
        self.assertEqual(
            [str(m) for m in opus.media[0].rtpmaps().values()][-2:],
            ["110 telephone-event/48000", "101 telephone-event/8000"],
        )

    def test_profile_follows_the_policy(self) -> None:
        for dtls, encryption, avpf, proto in [
            (True, True, True, "UDP/TLS/RTP/SAVPF"),
            (True, False, False, "UDP/TLS/RTP/SAVP"),
            (False, True, True, "RTP/SAVPF"),
            (False, False, True, "RTP/AVPF"),
        ]:
            policy = dataclasses.replace(WEBRTC_POLICY, dtls=dtls, encryption=encryption, avpf=avpf)
            local = dataclasses.replace(WEBRTC_LOCAL, sdes_keys=DESK_LOCAL.sdes_keys)
            audio = make_offer(policy, local).media[0]
            self.assertEqual(audio.proto, proto)
            self.assertEqual(bool(audio.cryptos), encryption and not dtls)
            self.assertEqual(bool(audio.fingerprints), dtls)

    def test_ice_without_mux_advertises_both_components(self) -> None:
        policy = dataclasses.replace(WEBRTC_POLICY, rtcp_mux=False)
        audio = make_offer(policy, WEBRTC_LOCAL).media[0]
        self.assertEqual(audio.attr("rtcp"), "40001")
        self.assertEqual(
            audio.attrs("candidate"),
            [
                "1 1 udp 2130706431 127.0.0.1 40000 typ host",
                "1 2 udp 2130706430 127.0.0.1 40001 typ host",
            ],
        )

    def test_missing_local_material_is_a_local_error(self) -> None:
        for policy, local, message in [
            (
                dataclasses.replace(DESK_POLICY, codecs=("h263", "vp8")),
                DESK_LOCAL,
                "peer desk1 allows no codec pbx can offer (h263,vp8)",
            ),
            (
                WEBRTC_POLICY,
                dataclasses.replace(WEBRTC_LOCAL, fingerprint=None),
                "LocalMedia.fingerprint is needed for DTLS-SRTP",
            ),
            (SDES_POLICY, WEBRTC_LOCAL, "LocalMedia.sdes_keys is needed for SDES-SRTP"),
            (
                WEBRTC_POLICY,
                dataclasses.replace(WEBRTC_LOCAL, ice_pwd=None),
                "LocalMedia.ice_pwd is needed for ICE",
            ),
        ]:
            error = self.assertRaises(LocalProtocolError, make_offer, policy, local)
            self.assertEqual(str(error), message)


class ReOfferTests(SynchronousTestCase):
    def test_dtls_setup_in_re_offers(self) -> None:
        for configured, established, new, setup in [
            ("actpass", None, False, "actpass"),
            ("passive", None, False, "passive"),
            ("actpass", "client", False, "active"),
            ("actpass", "server", False, "passive"),
            ("actpass", "server", True, "actpass"),
        ]:
            policy = dataclasses.replace(WEBRTC_POLICY, dtls_setup=configured)
            offer = make_offer(
                policy, WEBRTC_LOCAL, dtls_role=established, new_dtls_association=new
            )
            self.assertEqual(offer.media[0].setup, setup)

    def test_re_offer_keeps_the_m_line_layout_and_mid(self) -> None:
        text = (
            load("chromium-jssip-offer-loopback.sdp")
            .decode()
            .replace("a=group:BUNDLE 0", "a=group:BUNDLE 0 1")
        )
        text = text.replace("a=mid:0", "a=mid:audio").replace("BUNDLE 0 1", "BUNDLE audio 1")
        text = text.replace("m=audio", "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\nm=audio", 1)
        result = answer_offer(SessionDescription.parse(text), WEBRTC_POLICY, WEBRTC_LOCAL)
        assert not isinstance(result, NotAcceptable)
        previous, _ = result
        offer = make_offer(WEBRTC_POLICY, WEBRTC_LOCAL, previous=previous)
        self.assertEqual(
            [(m.media, m.port, m.mid) for m in offer.media],
            [
                ("video", 0, "1"),
                ("audio", 40000, "audio"),
            ],
        )
        self.assertEqual(offer.group("BUNDLE"), ["audio"])

    def test_re_offer_to_a_desk_phone_keeps_its_plain_layout(self) -> None:
        result = answer_offer(load_sdp("rfc8866-example.sdp"), DESK_POLICY, DESK_LOCAL)
        assert not isinstance(result, NotAcceptable)
        offer = make_offer(DESK_POLICY, DESK_LOCAL, hold=True, previous=result[0])
        self.assertEqual(
            [line for line in offer.lines() if line.startswith(("m=", "a=mid", "a=group"))],
            ["m=audio 40002 RTP/AVP 0 8 101", "m=audio 0 RTP/AVP 0", "m=video 0 RTP/AVP 99"],
        )
        self.assertEqual(offer.media[0].direction, "sendonly")

    def test_re_offer_keeps_bundle_for_a_peer_without_dtls(self) -> None:
        # An SDES browser peer (encryption=yes, no dtlsenable) that bundled the first offer.
        sdes_webrtc = dataclasses.replace(WEBRTC_POLICY, dtls=False, rtcp_mux=False)
        previous = SessionDescription.parse(
            "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\na=group:BUNDLE a\r\n"
            "m=audio 5000 RTP/SAVPF 0\r\na=mid:a\r\n"
        )
        local = dataclasses.replace(WEBRTC_LOCAL, sdes_keys=DESK_LOCAL.sdes_keys)
        offer = make_offer(sdes_webrtc, local, previous=previous)
        self.assertEqual((offer.group("BUNDLE"), offer.media[0].mid), (["a"], "a"))
        self.assertIsNone(make_offer(sdes_webrtc, local).group("BUNDLE"))

    def test_re_offer_to_a_peer_without_mids_adds_none(self) -> None:
        result = answer_offer(
            load_sdp("asterisk-offer-to-chromium-jssip.sdp"), WEBRTC_POLICY, WEBRTC_LOCAL
        )
        assert not isinstance(result, NotAcceptable)
        offer = make_offer(WEBRTC_POLICY, WEBRTC_LOCAL, previous=result[0])
        self.assertEqual((offer.media[0].mid, offer.group("BUNDLE")), (None, None))
        self.assertEqual(make_offer(WEBRTC_POLICY, WEBRTC_LOCAL).media[0].mid, "0")

    def test_re_offer_to_a_peer_with_mid_but_no_bundle_adds_no_group(self) -> None:
        unbundled = SessionDescription.parse(
            load("chromium-jssip-offer-loopback.sdp").decode().replace("a=group:BUNDLE 0\r\n", "")
        )
        result = answer_offer(unbundled, WEBRTC_POLICY, WEBRTC_LOCAL)
        assert not isinstance(result, NotAcceptable)
        offer = make_offer(WEBRTC_POLICY, WEBRTC_LOCAL, previous=result[0])
        self.assertEqual((offer.media[0].mid, offer.group("BUNDLE")), ("0", None))

    def test_re_offer_uses_the_active_audio_line(self) -> None:
        text = load("chromium-jssip-offer-loopback.sdp").decode()
        text += "m=audio 6000 RTP/AVP 8\r\nc=IN IP4 127.0.0.1\r\n"
        result = answer_offer(SessionDescription.parse(text), DESK_POLICY, DESK_LOCAL)
        assert not isinstance(result, NotAcceptable)
        offer = make_offer(DESK_POLICY, DESK_LOCAL, previous=result[0])
        self.assertEqual(
            [(m.port, m.proto, m.mid) for m in offer.media],
            [(0, "UDP/TLS/RTP/SAVPF", "0"), (40002, "RTP/AVP", None)],
        )

    def test_previous_sdp_without_audio_gets_audio_appended(self) -> None:
        previous = SessionDescription.parse(
            "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\nm=video 0 RTP/AVP 96\r\n"
        )
        offer = make_offer(DESK_POLICY, DESK_LOCAL, previous=previous)
        self.assertEqual([(m.media, m.port) for m in offer.media], [("video", 0), ("audio", 40002)])

    def test_previous_declined_audio_is_reused_when_no_audio_is_active(self) -> None:
        previous = SessionDescription.parse(
            "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\nm=video 0 RTP/AVP 96\r\n"
            "m=audio 0 RTP/AVP 0\r\n"
        )
        offer = make_offer(DESK_POLICY, DESK_LOCAL, previous=previous)
        self.assertEqual([(m.media, m.port) for m in offer.media], [("video", 0), ("audio", 40002)])


class AcceptRecordedAnswerTests(SynchronousTestCase):
    def test_chromium_answer_to_asterisk_offer(self) -> None:
        # A real exchange: Asterisk's offer to the browser and Chromium's 200 OK answer.
        media = negotiated(
            accept_answer(
                load_sdp("asterisk-offer-to-chromium-jssip.sdp"),
                load_sdp("chromium-jssip-answer-loopback.sdp"),
                WEBRTC_POLICY,
            )
        )
        self.assertEqual(
            media,
            NegotiatedMedia(
                remote_address="127.0.0.1",
                remote_rtp_port=48517,
                remote_rtcp_port=48517,
                rtcp_mux=True,
                codec="ulaw",
                payload_type=0,
                clock_rate=8000,
                codecs=(("ulaw", 0), ("alaw", 8)),
                dtmf_pt=101,
                dtmf_clock_rate=8000,
                ptime=None,
                direction="sendrecv",
                send=True,
                recv=True,
                security="dtls",
                remote_crypto=None,
                local_crypto_suite=None,
                remote_fingerprint=("sha-256", CHROMIUM_JSSIP_ANSWER_FP),
                dtls_role="server",
                remote_ice_ufrag="x8id",
                remote_ice_pwd="vuteEAK5HC4Uu/SpkCokhhDe",
                ice=True,
                mid="0",
                avpf=True,
                profile="RTP/SAVPF",
            ),
        )

    def test_asterisk_answer_to_chromium_offer(self) -> None:
        # The other real exchange, read from the browser's side: Asterisk answers RTP/SAVPF
        # (not the offered UDP/TLS/RTP/SAVPF), no a=mid, SHA-256 in upper case, setup active.
        media = negotiated(
            accept_answer(
                load_sdp("chromium-sipjs-offer-loopback.sdp"),
                load_sdp("asterisk-answer-to-chromium-sipjs.sdp"),
                WEBRTC_POLICY,
            )
        )
        self.assertEqual(media.codecs, (("ulaw", 0), ("alaw", 8)))
        self.assertEqual((media.dtmf_pt, media.dtls_role, media.mid), (126, "server", "0"))
        self.assertEqual((media.remote_rtp_port, media.ice), (19858, True))
        self.assertEqual(media.remote_fingerprint and media.remote_fingerprint[0], "sha-256")

    def test_baresip_offer_and_asterisk_answer(self) -> None:
        media = negotiated(
            accept_answer(
                load_sdp("baresip-offer.sdp"),
                load_sdp("asterisk-answer-to-baresip.sdp"),
                DESK_POLICY,
            )
        )
        self.assertEqual(
            (media.security, media.remote_rtp_port, media.remote_rtcp_port, media.ptime),
            ("none", 15108, 15109, 20),
        )


class SelfNegotiationTests(SynchronousTestCase):
    """pbx offering to pbx: both ends must agree on everything."""

    def exchange(
        self, offerer: MediaPolicy, answerer: MediaPolicy, local: LocalMedia
    ) -> tuple[NegotiatedMedia, NegotiatedMedia]:
        offer = make_offer(offerer, local)
        result = answer_offer(offer, answerer, local)
        assert not isinstance(result, NotAcceptable), result
        answer, theirs = result
        return negotiated(accept_answer(offer, answer, offerer)), theirs

    def test_plain_sdes_and_dtls(self) -> None:
        both = dataclasses.replace(WEBRTC_LOCAL, sdes_keys=DESK_LOCAL.sdes_keys)
        for policy, security in [
            (DESK_POLICY, "none"),
            (SDES_POLICY, "sdes"),
            (WEBRTC_POLICY, "dtls"),
        ]:
            ours, theirs = self.exchange(policy, policy, both)
            self.assertEqual((ours.security, theirs.security), (security, security))
            self.assertEqual(ours.codecs, theirs.codecs)
            self.assertEqual(ours.dtmf_pt, theirs.dtmf_pt)
            self.assertEqual(ours.rtcp_mux, theirs.rtcp_mux)
        ours, theirs = self.exchange(WEBRTC_POLICY, WEBRTC_POLICY, WEBRTC_LOCAL)
        self.assertEqual((ours.dtls_role, theirs.dtls_role), ("server", "client"))
        ours, theirs = self.exchange(SDES_POLICY, SDES_POLICY, both)
        self.assertEqual(ours.local_crypto_suite, "AES_CM_128_HMAC_SHA1_80")
        self.assertEqual(ours.remote_crypto and ours.remote_crypto.tag, 1)

    def test_sdes_taglen_32_offer_is_answered_with_the_32_bit_suite(self) -> None:
        # pbx answering pbx takes the first usable line, whatever its own encryption_taglen.
        for answerer in (SDES_POLICY, SDES_32_POLICY):
            ours, theirs = self.exchange(SDES_32_POLICY, answerer, DESK_LOCAL)
            self.assertEqual(ours.local_crypto_suite, "AES_CM_128_HMAC_SHA1_32")
            self.assertEqual(theirs.local_crypto_suite, "AES_CM_128_HMAC_SHA1_32")
            assert ours.remote_crypto is not None
            self.assertEqual(
                (ours.remote_crypto.tag, ours.remote_crypto.suite), (1, "AES_CM_128_HMAC_SHA1_32")
            )
        # An answerer that has only _80 takes tag 2, and the offerer keys _80.
        offer = make_offer(SDES_32_POLICY, DESK_LOCAL)
        result = answer_offer(offer, SDES_POLICY, DESK_LOCAL)
        assert not isinstance(result, NotAcceptable), result
        only_80 = replaced(
            result[0], "crypto:1 AES_CM_128_HMAC_SHA1_32", "crypto:2 AES_CM_128_HMAC_SHA1_80"
        )
        ours = negotiated(accept_answer(offer, only_80, SDES_32_POLICY))
        self.assertEqual(
            (ours.security, ours.local_crypto_suite), ("sdes", "AES_CM_128_HMAC_SHA1_80")
        )

    def test_hold_both_ways(self) -> None:
        offer = make_offer(DESK_POLICY, DESK_LOCAL, hold=True)
        result = answer_offer(offer, DESK_POLICY, DESK_LOCAL)
        assert not isinstance(result, NotAcceptable)
        answer, theirs = result
        ours = negotiated(accept_answer(offer, answer, DESK_POLICY))
        self.assertEqual((ours.send, ours.recv, ours.direction), (True, False, "sendonly"))
        self.assertEqual((theirs.send, theirs.recv, theirs.direction), (False, True, "recvonly"))


class AcceptAnswerRefusalTests(SynchronousTestCase):
    def test_refusals_with_exact_reasons(self) -> None:
        webrtc = make_offer(WEBRTC_POLICY, WEBRTC_LOCAL)
        sdes = make_offer(SDES_POLICY, DESK_LOCAL)
        plain = make_offer(DESK_POLICY, DESK_LOCAL)
        chromium = load_sdp("chromium-jssip-answer-loopback.sdp")
        baresip_answer = answer_offer(plain, DESK_POLICY, DESK_LOCAL)
        sdes_answer = answer_offer(sdes, SDES_POLICY, DESK_LOCAL)
        assert not isinstance(baresip_answer, NotAcceptable)
        assert not isinstance(sdes_answer, NotAcceptable)
        plain_answer, secure_answer = baresip_answer[0], sdes_answer[0]
        key = "inline:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd"
        for offer, answer, reason in [
            (
                webrtc,
                SessionDescription.parse(str(chromium) + "m=video 0 RTP/AVP 96\r\n"),
                "answer has 2 m= lines; the offer had 1",
            ),
            (
                webrtc,
                replaced(chromium, "m=audio 48517", "m=audio 0"),
                "answer declined the audio stream",
            ),
            (
                webrtc,
                replaced(chromium, "RTP/SAVPF", "RTP/AVPF"),
                "answer has RTP/AVPF; we offered UDP/TLS/RTP/SAVPF",
            ),
            (plain, secure_answer, "answer has RTP/SAVP; we offered RTP/AVP"),
            (
                webrtc,
                replaced(chromium, f"a=fingerprint:sha-256 {CHROMIUM_JSSIP_ANSWER_FP}\r\n", ""),
                "answer has no a=fingerprint for DTLS-SRTP",
            ),
            (
                webrtc,
                replaced(chromium, "fingerprint:sha-256", "fingerprint:md2"),
                "DTLS fingerprint hash md2 is not supported",
            ),
            (
                webrtc,
                replaced(chromium, "a=setup:active", "a=setup:actpass"),
                "answer has a=setup:actpass; we offered a=setup:actpass",
            ),
            (
                make_offer(WEBRTC_POLICY, WEBRTC_LOCAL, dtls_role="client"),
                chromium,
                "answer has a=setup:active; we offered a=setup:active",
            ),
            (
                make_offer(WEBRTC_POLICY, WEBRTC_LOCAL, dtls_role="server"),
                replaced(chromium, "a=setup:active\r\n", ""),
                "answer has no a=setup; we offered a=setup:passive",
            ),
            (
                sdes,
                replaced(secure_answer, "a=crypto:1", "a=crypto:3"),
                "answer has no a=crypto matching our offer",
            ),
            (
                sdes,
                replaced(secure_answer, "AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32"),
                "answer has no a=crypto matching our offer",
            ),
            (
                sdes,
                replaced(secure_answer, key, key + "|2^16"),
                "a=crypto:1 AES_CM_128_HMAC_SHA1_80 key lifetime 2^16 is below 2^24 packets "
                "(no re-keying)",
            ),
            (
                plain,
                replaced(plain_answer, "RTP/AVP 0 8 101", "RTP/AVP 9 101"),
                "answer has only G722; we offered ulaw,alaw",
            ),
            (
                plain,
                replaced(plain_answer, "RTP/AVP 0 8 101", "RTP/AVP 101"),
                "answer has no codec; we offered ulaw,alaw",
            ),
            (
                plain,
                replaced(plain_answer, "c=IN IP4 127.0.0.1\r\n", ""),
                "answer has no c= line for the audio stream",
            ),
        ]:
            self.assertEqual(accept_answer(offer, answer, WEBRTC_POLICY), NotAcceptable(reason))

    def test_answer_keys_and_directions(self) -> None:
        plain = make_offer(DESK_POLICY, DESK_LOCAL)
        result = answer_offer(plain, DESK_POLICY, DESK_LOCAL)
        assert not isinstance(result, NotAcceptable)
        answer = result[0]
        for old, new, send, recv in [
            ("a=sendrecv", "a=recvonly", True, False),
            ("a=sendrecv", "a=inactive", False, False),
            ("c=IN IP4 127.0.0.1", "c=IN IP4 0.0.0.0", False, True),
        ]:
            media = negotiated(accept_answer(plain, replaced(answer, old, new), DESK_POLICY))
            self.assertEqual((media.send, media.recv), (send, recv), new)
        # Only codecs we offered count, in the answer's order; PTs are the answer's.
        media = negotiated(
            accept_answer(plain, replaced(answer, "RTP/AVP 0 8 101", "RTP/AVP 9 8 0"), DESK_POLICY)
        )
        self.assertEqual((media.codecs, media.dtmf_pt), ((("alaw", 8), ("ulaw", 0)), None))

    def test_rtcp_mux_needs_both_sides(self) -> None:
        offer = make_offer(dataclasses.replace(DESK_POLICY, rtcp_mux=False), DESK_LOCAL)
        result = answer_offer(offer, DESK_POLICY, DESK_LOCAL)
        assert not isinstance(result, NotAcceptable)
        muxed = replaced(result[0], "a=rtcp:40003", "a=rtcp-mux")
        media = negotiated(accept_answer(offer, muxed, DESK_POLICY))
        self.assertEqual((media.rtcp_mux, media.remote_rtcp_port), (False, 40003))
        muxed_offer = make_offer(dataclasses.replace(DESK_POLICY, rtcp_mux=True), DESK_LOCAL)
        media = negotiated(accept_answer(muxed_offer, muxed, DESK_POLICY))
        self.assertEqual((media.rtcp_mux, media.remote_rtcp_port), (True, 40002))

    def test_answer_without_setup_to_our_active_offer_makes_us_client(self) -> None:
        offer = make_offer(WEBRTC_POLICY, WEBRTC_LOCAL, dtls_role="client")
        answer = replaced(load_sdp("chromium-jssip-answer-loopback.sdp"), "a=setup:active\r\n", "")
        self.assertEqual(
            negotiated(accept_answer(offer, answer, WEBRTC_POLICY)).dtls_role, "client"
        )

    def test_offer_without_active_audio_is_a_local_error(self) -> None:
        offer = SessionDescription.parse(
            "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\nm=audio 0 RTP/AVP 0\r\n"
        )
        error = self.assertRaises(LocalProtocolError, accept_answer, offer, offer, DESK_POLICY)
        self.assertEqual(str(error), "the offer has no active audio stream")
