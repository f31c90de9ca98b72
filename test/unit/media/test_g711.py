"""Tests for pbx.media.codecs.g711 against ITU-T G.711 values and a real encoder's output."""

from __future__ import annotations

import sys
import warnings
from array import array
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from pbx.media.codecs import g711
from pbx.media.codecs.base import Decoder, Encoder

DATA = Path(__file__).parents[2] / "data"

ALL_SAMPLES = array("h", range(-32768, 32768)).tobytes()


def decode_values(payload: bytes, law: str) -> list[int]:
    table = g711.ULAW_DECODE_TABLE if law == "ulaw" else g711.ALAW_DECODE_TABLE
    return [table[c] for c in payload]


class DecodeTableTests(SynchronousTestCase):
    def test_ulaw_reference_values(self) -> None:
        # G.711 Table 2a decoder outputs (14-bit scale x 4): the code on the line is the
        # complement of sign|segment|step; 0xFF and 0x7F are +0 and -0.
        cases = {
            0xFF: 0,
            0x7F: 0,
            0xFE: 2 * 4,
            0xF0: 30 * 4,  # top of segment 0
            0xEF: 33 * 4,  # first of segment 1 (step 4)
            0xE0: 93 * 4,
            0xDF: 99 * 4,  # segment 2 (step 8)
            0x8F: 4191 * 4,  # first of segment 7 (step 256)
            0x80: 8031 * 4,  # largest positive
            0x00: -8031 * 4,
            0x7E: -2 * 4,
        }
        for code, value in cases.items():
            self.assertEqual(g711.ULAW_DECODE_TABLE[code], value, hex(code))

    def test_alaw_reference_values(self) -> None:
        # G.711 Table 1a decoder outputs (13-bit scale x 8): even bits inverted (0x55),
        # sign bit 1 = positive.
        cases = {
            0xD5: 1 * 8,  # smallest positive
            0x55: -1 * 8,
            0xD4: 3 * 8,
            0xDA: 31 * 8,  # top of segment 0 (step 2)
            0xC5: 33 * 8,  # segment 1 (step 2)
            0xF5: 66 * 8,  # segment 2 (step 4)
            0xA5: 2112 * 8,  # first of segment 7 (step 128)
            0xAA: 4032 * 8,  # largest positive
            0x2A: -4032 * 8,
        }
        for code, value in cases.items():
            self.assertEqual(g711.ALAW_DECODE_TABLE[code], value, hex(code))

    def test_tables_are_odd_symmetric(self) -> None:
        for code in range(128):
            self.assertEqual(g711.ULAW_DECODE_TABLE[code], -g711.ULAW_DECODE_TABLE[code | 0x80])
            self.assertEqual(g711.ALAW_DECODE_TABLE[code], -g711.ALAW_DECODE_TABLE[code | 0x80])
        self.assertEqual(len(set(g711.ULAW_DECODE_TABLE)), 255)
        self.assertEqual(len(set(g711.ALAW_DECODE_TABLE)), 256)

    def test_decode_buffers(self) -> None:
        self.assertEqual(
            g711.ulaw_decode(bytes([0x80, 0x00, 0xFF])), array("h", [32124, -32124, 0]).tobytes()
        )
        self.assertEqual(
            g711.alaw_decode(bytearray([0xAA, 0x2A, 0xD5])),
            array("h", [32256, -32256, 8]).tobytes(),
        )
        every = bytes(range(256))
        self.assertEqual(array("h", g711.ulaw_decode(every)).tolist(), list(g711.ULAW_DECODE_TABLE))
        self.assertEqual(array("h", g711.alaw_decode(every)).tolist(), list(g711.ALAW_DECODE_TABLE))
        self.assertEqual(g711.ulaw_decode(b""), b"")


class EncodeTests(SynchronousTestCase):
    def encode(self, samples: list[int], law: str) -> bytes:
        pcm = array("h", samples).tobytes()
        return g711.ulaw_encode(pcm) if law == "ulaw" else g711.alaw_encode(pcm)

    def test_ulaw_decision_values(self) -> None:
        # 14-bit decision value 1 is 16-bit 4; negative inputs use the one's complement, as
        # the ITU-T G.191 reference encoder does (-4 is still -0, -5 is the first step).
        cases = [
            (0, 0xFF),
            (3, 0xFF),
            (4, 0xFE),
            (-1, 0x7F),
            (-4, 0x7F),
            (-5, 0x7E),
            (123, 0xF0),
            (124, 0xEF),
            (32124, 0x80),
            (32767, 0x80),
            (-32768, 0x00),
        ]
        self.assertEqual(
            list(self.encode([x for x, _ in cases], "ulaw")), [code for _, code in cases]
        )

    def test_alaw_decision_values(self) -> None:
        # 13-bit decision value 2 is 16-bit 16.
        cases = [
            (0, 0xD5),
            (15, 0xD5),
            (16, 0xD4),
            (-1, 0x55),
            (-16, 0x55),
            (-17, 0x54),
            (255, 0xDA),
            (256, 0xC5),
            (32767, 0xAA),
            (-32768, 0x2A),
        ]
        self.assertEqual(
            list(self.encode([x for x, _ in cases], "alaw")), [code for _, code in cases]
        )

    def test_every_code_round_trips(self) -> None:
        for code in range(256):
            value = g711.ULAW_DECODE_TABLE[code]
            expected = 0xFF if code == 0x7F else code  # -0 re-encodes as +0
            self.assertEqual(self.encode([value], "ulaw")[0], expected, hex(code))
            value = g711.ALAW_DECODE_TABLE[code]
            self.assertEqual(self.encode([value], "alaw")[0], code, hex(code))

    def test_quantisation_error_and_monotonicity(self) -> None:
        # Over all 65536 inputs: outside overload the decoded value is within half a step of
        # the input (steps: mu-law 8 << segment, A-law 16 << max(segment - 1, 0) in 16-bit
        # units), and it never decreases as the input grows.
        for law, codes, overload in (
            ("ulaw", g711.ulaw_encode(ALL_SAMPLES), 32124),
            ("alaw", g711.alaw_encode(ALL_SAMPLES), 32256),
        ):
            decoded = decode_values(codes, law)
            for x, code, y in zip(range(-32768, 32768), codes, decoded, strict=True):
                if abs(x) > overload:
                    continue
                if law == "ulaw":
                    step = 8 << ((~code >> 4) & 7)
                else:
                    step = 16 << max(((code ^ 0x55) >> 4 & 7) - 1, 0)
                self.assertLessEqual(abs(y - x), step // 2, (law, x))
            self.assertTrue(
                all(a <= b for a, b in zip(decoded[:-1], decoded[1:], strict=True)), law
            )
            self.assertEqual((decoded[0], decoded[-1]), (-overload, overload))

    def test_odd_length_rejected(self) -> None:
        self.assertRaises(ValueError, g711.ulaw_encode, b"\x00\x01\x02")
        self.assertRaises(ValueError, g711.alaw_encode, b"\x00")

    def test_matches_baresip_encoder(self) -> None:
        # baresip 1.0.0 encoded this sox-generated frame into the captured packet's payload.
        pcm = array("h", (DATA / "media" / "sox-1000hz-s16le-first-frame.raw").read_bytes())
        if sys.byteorder != "little":
            pcm.byteswap()
        packet = (DATA / "rtp" / "baresip-pcmu-first.bin").read_bytes()
        self.assertEqual(g711.ulaw_encode(pcm.tobytes()), packet[12:])


class AudioopOracleTests(SynchronousTestCase):
    """``audioop`` (Python <= 3.12) as an independent implementation of the same tables."""

    def setUp(self) -> None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                import audioop
        except ImportError:
            self.skipTest("audioop was removed in Python 3.13")
        self.audioop = audioop

    def test_decoders_identical(self) -> None:
        every = bytes(range(256))
        self.assertEqual(g711.ulaw_decode(every), self.audioop.ulaw2lin(every, 2))
        self.assertEqual(g711.alaw_decode(every), self.audioop.alaw2lin(every, 2))

    def test_alaw_encoder_identical(self) -> None:
        self.assertEqual(g711.alaw_encode(ALL_SAMPLES), self.audioop.lin2alaw(ALL_SAMPLES, 2))

    def test_ulaw_encoder_differs_only_at_negative_decision_values(self) -> None:
        ours = g711.ulaw_encode(ALL_SAMPLES)
        theirs = self.audioop.lin2ulaw(ALL_SAMPLES, 2)
        diffs = [x for x, a, b in zip(range(-32768, 32768), ours, theirs, strict=True) if a != b]
        # audioop (Sun's g711.c) negates before truncating, the ITU reference takes the one's
        # complement: they disagree on one input per negative decision value, each time by
        # one step.
        self.assertTrue(all(x < 0 for x in diffs))
        self.assertEqual(len(diffs), 508)
        for x in diffs:
            i = x + 32768
            self.assertEqual(abs(ours[i] - theirs[i]), 1)


class TranscodeTests(SynchronousTestCase):
    def test_tables_are_decode_then_encode(self) -> None:
        every = bytes(range(256))
        self.assertEqual(g711.ULAW_TO_ALAW, g711.alaw_encode(g711.ulaw_decode(every)))
        self.assertEqual(g711.ALAW_TO_ULAW, g711.ulaw_encode(g711.alaw_decode(every)))

    def test_round_trip_properties(self) -> None:
        u2a, a2u = g711.ULAW_TO_ALAW, g711.ALAW_TO_ULAW
        # Transparent except for 8 magnitudes per sign where the two laws' steps differ.
        self.assertEqual(sum(a2u[u2a[c]] != c for c in range(256)), 16)
        self.assertEqual(sum(u2a[a2u[c]] != c for c in range(256)), 16)
        # A second tandem changes nothing more (no drift over repeated transcoding).
        for c in range(256):
            once = a2u[u2a[c]]
            self.assertEqual(a2u[u2a[once]], once)
            self.assertEqual(u2a[a2u[u2a[a2u[c]]]], u2a[a2u[c]])

    def test_sign_and_order_preserved(self) -> None:
        u_order = sorted(range(256), key=lambda c: g711.ULAW_DECODE_TABLE[c])
        a_values = [g711.ALAW_DECODE_TABLE[g711.ULAW_TO_ALAW[c]] for c in u_order]
        self.assertEqual(a_values, sorted(a_values))
        for c in range(256):
            u = g711.ULAW_DECODE_TABLE[c]
            a = g711.ALAW_DECODE_TABLE[g711.ULAW_TO_ALAW[c]]
            self.assertTrue(u == 0 or (u > 0) == (a > 0), hex(c))

    def test_payload_translate(self) -> None:
        payload = (DATA / "rtp" / "baresip-pcmu-first.bin").read_bytes()[12:]
        alaw = g711.ulaw_to_alaw(payload)
        self.assertEqual(alaw, bytes(g711.ULAW_TO_ALAW[c] for c in payload))
        self.assertEqual(g711.alaw_to_ulaw(alaw), bytes(g711.ALAW_TO_ULAW[c] for c in alaw))
        self.assertIsInstance(g711.ulaw_to_alaw(bytearray(payload)), bytearray)
        # Same audio within half an A-law step (16 << max(segment - 1, 0)).
        for code, u in zip(alaw, decode_values(payload, "ulaw"), strict=True):
            half_step = 8 << max(((code ^ 0x55) >> 4 & 7) - 1, 0)
            self.assertLessEqual(abs(u - g711.ALAW_DECODE_TABLE[code]), half_step)


class CoderTests(SynchronousTestCase):
    def test_protocols(self) -> None:
        pcm = array("h", [0, 1000, -1000, 32767]).tobytes()
        for coder, law in ((g711.UlawCoder(), "ulaw"), (g711.AlawCoder(), "alaw")):
            encoder: Encoder = coder
            decoder: Decoder = coder
            payload = encoder.encode(pcm)
            self.assertEqual(len(payload), 4)
            self.assertEqual(
                array("h", decoder.decode(payload)).tolist(), decode_values(payload, law)
            )
