"""Tests for pbx.sdp.codecs: the Asterisk name <-> SDP table and format resolution."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from pbx.sdp.codecs import (
    AUDIO_CODECS,
    TELEPHONE_EVENT,
    joint_codecs,
    offered_codec_labels,
    offered_formats,
    telephone_event,
)
from pbx.sdp.model import SessionDescription

from .sdpdata import load_sdp


def media(fmts: str, *attributes: str) -> SessionDescription:
    lines = "".join(f"a={a}\r\n" for a in attributes)
    return SessionDescription.parse(
        f"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\nm=audio 5000 RTP/AVP {fmts}\r\n{lines}"
    )


class RegistryTests(SynchronousTestCase):
    def test_asterisk_names_and_sdp_encodings(self) -> None:
        table = {
            name: (str(c.rtpmap), c.offer_pt, c.static, c.fmtp) for name, c in AUDIO_CODECS.items()
        }
        self.assertEqual(
            table,
            {
                "ulaw": ("0 PCMU/8000", 0, True, None),
                "alaw": ("8 PCMA/8000", 8, True, None),
                "g722": ("9 G722/8000", 9, True, None),
                "gsm": ("3 GSM/8000", 3, True, None),
                "g729": ("18 G729/8000", 18, True, "annexb=no"),
                "opus": ("111 opus/48000/2", 111, False, "minptime=10;useinbandfec=1"),
            },
        )
        self.assertEqual(
            (str(TELEPHONE_EVENT.rtpmap), TELEPHONE_EVENT.fmtp),
            ("101 telephone-event/8000", "0-16"),
        )

    def test_matching_is_case_insensitive_but_exact_on_rate_and_channels(self) -> None:
        opus, ulaw = AUDIO_CODECS["opus"], AUDIO_CODECS["ulaw"]
        self.assertTrue(opus.matches("OPUS", 48000, 2))
        self.assertFalse(opus.matches("opus", 48000, 1))
        self.assertTrue(ulaw.matches("pcmu", 8000, 1))
        self.assertFalse(ulaw.matches("PCMU", 16000, 1))
        self.assertFalse(ulaw.matches("PCMU", 8000, 2))


class OfferedFormatTests(SynchronousTestCase):
    def test_chromium_offer(self) -> None:
        formats = offered_formats(load_sdp("chromium-jssip-offer.sdp").media[0])
        self.assertEqual(
            [(f.payload_type, f.label, f.codec.name if f.codec else None) for f in formats],
            [
                (111, "opus", "opus"),
                (63, "red", None),
                (9, "G722", "g722"),
                (0, "PCMU", "ulaw"),
                (8, "PCMA", "alaw"),
                (13, "CN", None),
                (110, "telephone-event", "telephone-event"),
                (126, "telephone-event", "telephone-event"),
            ],
        )
        self.assertEqual(offered_codec_labels(formats), ["opus", "G722", "PCMU", "PCMA"])

    def test_static_types_without_rtpmap_and_unknowns(self) -> None:
        formats = offered_formats(media("18 3 4 96 0 x", "rtpmap:0 foo/8000").media[0])
        self.assertEqual(
            [(f.payload_type, f.label, f.codec.name if f.codec else None) for f in formats],
            [
                (18, "G729", "g729"),
                (3, "GSM", "gsm"),
                (4, "G723", None),
                (96, "96", None),
                (0, "foo", None),
            ],
        )
        self.assertEqual(offered_codec_labels(formats), ["G729", "GSM", "G723", "96", "foo"])

    def test_labels_drop_duplicates(self) -> None:
        formats = offered_formats(media("0 96 13", "rtpmap:96 PCMU/8000").media[0])
        self.assertEqual(offered_codec_labels(formats), ["PCMU"])


class JointCodecTests(SynchronousTestCase):
    def test_peer_order_with_the_first_offered_pt(self) -> None:
        formats = offered_formats(media("96 8 0", "rtpmap:96 PCMU/8000").media[0])
        for allowed, expected in [
            (("ulaw", "alaw"), [("ulaw", 96), ("alaw", 8)]),
            (("alaw", "ulaw"), [("alaw", 8), ("ulaw", 96)]),
            (("vp8", "alaw", "alaw"), [("alaw", 8), ("alaw", 8)]),
            (("gsm",), []),
            ((), []),
        ]:
            self.assertEqual([(c.name, pt) for c, pt in joint_codecs(formats, allowed)], expected)

    def test_telephone_event_follows_the_codec_clock(self) -> None:
        chromium = offered_formats(load_sdp("chromium-jssip-offer.sdp").media[0])
        baresip = offered_formats(load_sdp("baresip-offer.sdp").media[0])
        plain = offered_formats(media("0").media[0])
        # telephone-event at a rate no codec uses is not recognised.
        odd = offered_formats(media("0 96", "rtpmap:96 telephone-event/16000").media[0])
        for formats, rate, expected in [
            (chromium, 8000, 126),
            (chromium, 48000, 110),
            (baresip, 48000, 101),
            (plain, 8000, None),
            (odd, 8000, None),
        ]:
            event = telephone_event(formats, rate)
            self.assertEqual(None if event is None else event.payload_type, expected)
