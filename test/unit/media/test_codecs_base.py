"""Tests for pbx.media.codecs.base: codec descriptions and the RFC 3551 static PT table."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from pbx.media.codecs import base


class RegistryTests(SynchronousTestCase):
    def test_static_payload_types(self) -> None:
        # RFC 3551 §6 Table 4 (the audio formats pbx knows).
        expected = {
            0: ("PCMU", 8000),
            3: ("GSM", 8000),
            4: ("G723", 8000),
            8: ("PCMA", 8000),
            9: ("G722", 8000),
            13: ("CN", 8000),
            18: ("G729", 8000),
        }
        self.assertEqual(
            {pt: (c.encoding, c.clock_rate) for pt, c in base.STATIC_PAYLOAD_TYPES.items()},
            expected,
        )
        for pt, codec in base.STATIC_PAYLOAD_TYPES.items():
            self.assertEqual(codec.default_pt, pt)
            self.assertIs(base.by_payload_type(pt), codec)
        self.assertIsNone(base.by_payload_type(101))
        self.assertIsNone(base.by_payload_type(2))

    def test_lookup_by_name_and_encoding(self) -> None:
        self.assertIs(base.by_name("ulaw"), base.PCMU)
        self.assertIs(base.by_name("ALAW"), base.PCMA)
        self.assertIsNone(base.by_name("pcmu"))
        self.assertIs(base.by_encoding("pcmu", 8000), base.PCMU)
        self.assertIs(base.by_encoding("opus", 48000), base.OPUS)
        self.assertIs(base.by_encoding("TELEPHONE-EVENT", 8000), base.TELEPHONE_EVENT)
        self.assertIsNone(base.by_encoding("PCMU", 16000))
        self.assertIsNone(base.by_encoding("telephone-event", 48000))

    def test_codec_values(self) -> None:
        self.assertEqual(base.PCMU.samples_per_frame, 160)
        self.assertEqual(base.OPUS.samples_per_frame, 960)
        self.assertEqual(base.OPUS.channels, 2)
        self.assertEqual(base.G723.samples_per_frame, 240)
        self.assertIsNone(base.TELEPHONE_EVENT.default_pt)
