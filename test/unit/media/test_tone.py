"""Tests for pbx.media.tone: tone generation/detection, WAV files, resampling."""

from __future__ import annotations

import random
import struct
from array import array
from collections.abc import Callable
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from pbx.core.errors import MediaError
from pbx.media import tone
from pbx.media.codecs import g711

DATA = Path(__file__).parents[2] / "data" / "media"


def energy(samples: array[int]) -> float:
    return float(sum(x * x for x in samples))


class ToneTests(SynchronousTestCase):
    def test_sine(self) -> None:
        s = tone.sine(1000, 20, 8000, amplitude=0.5)
        self.assertEqual(len(s), 160)
        self.assertEqual(s.typecode, "h")
        # 1000 Hz at 8 kHz: 8 samples per period, peak at sample 2.
        self.assertEqual(s[:5].tolist(), [0, 11585, 16384, 11585, 0])
        self.assertEqual(len(tone.sine(440, 1000, 48000)), 48000)

    def test_goertzel_scale(self) -> None:
        s = tone.sine(1000, 100, 8000, amplitude=1.0)
        expected = (32767 * len(s) / 2) ** 2
        self.assertAlmostEqual(tone.goertzel_power(s, 1000, 8000) / expected, 1.0, places=3)
        self.assertLess(tone.goertzel_power(s, 440, 8000) / expected, 0.001)

    def test_detect_1000_vs_440(self) -> None:
        s1000 = tone.sine(1000, 200, 8000)
        s440 = tone.sine(440, 200, 8000)
        self.assertTrue(tone.detect_tone(s1000, 8000, 1000))
        self.assertFalse(tone.detect_tone(s1000, 8000, 440))
        self.assertTrue(tone.detect_tone(s440, 8000, 440))
        self.assertFalse(tone.detect_tone(s440, 8000, 1000))

    def test_dominant_frequency(self) -> None:
        mix = array(
            "h",
            (a + b // 4 for a, b in zip(tone.sine(440, 100), tone.sine(1000, 100), strict=True)),
        )
        self.assertEqual(tone.dominant_frequency(mix, 8000, [350, 440, 1000, 2000]), 440)
        self.assertRaises(ValueError, tone.dominant_frequency, mix, 8000, [])

    def test_silence_and_noise(self) -> None:
        self.assertFalse(tone.detect_tone(array("h", bytes(320)), 8000, 1000))
        self.assertFalse(tone.detect_tone(array("h"), 8000, 1000))
        rng = random.Random(4733)
        noise = array("h", (rng.randint(-8000, 8000) for _ in range(1600)))
        self.assertFalse(tone.detect_tone(noise, 8000, 1000))

    def test_tone_survives_g711(self) -> None:
        s = tone.sine(1000, 100)
        through = array("h", g711.alaw_decode(g711.ulaw_to_alaw(g711.ulaw_encode(s.tobytes()))))
        self.assertTrue(tone.detect_tone(through, 8000, 1000, min_ratio=0.95))


class WavTests(SynchronousTestCase):
    def test_sox_ulaw_file(self) -> None:
        data = (DATA / "sox-1000hz-ulaw.wav").read_bytes()
        audio = tone.read_wav(data)
        self.assertEqual((audio.rate, len(audio.samples)), (8000, 800))
        self.assertAlmostEqual(audio.duration, 0.1)
        self.assertTrue(tone.detect_tone(audio.samples, 8000, 1000, min_ratio=0.95))
        # Our writer produces the same layout sox does (fmt 18 octets, fact, data).
        self.assertEqual(tone.write_wav(audio.samples, 8000, "ulaw"), data)

    def test_round_trip_pcm16(self) -> None:
        for rate in tone.SUPPORTED_RATES:
            samples = tone.sine(1000, 50, rate)
            data = tone.write_wav(samples, rate)
            self.assertEqual(data[20:22], b"\x01\x00")  # format tag PCM
            audio = tone.read_wav(data)
            self.assertEqual((audio.rate, audio.samples), (rate, samples))

    def test_round_trip_g711(self) -> None:
        samples = tone.sine(440, 30, 8000)
        cases: list[
            tuple[tone.WavEncoding, int, Callable[[bytes], bytes], Callable[[bytes], bytes]]
        ]
        cases = [
            ("ulaw", 7, g711.ulaw_encode, g711.ulaw_decode),
            ("alaw", 6, g711.alaw_encode, g711.alaw_decode),
        ]
        for encoding, tag, encode, decode in cases:
            data = tone.write_wav(samples, 8000, encoding)
            self.assertEqual(struct.unpack_from("<H", data, 20)[0], tag)
            audio = tone.read_wav(data)
            self.assertEqual(audio.samples.tobytes(), decode(encode(samples.tobytes())))

    def test_odd_data_chunk_padded(self) -> None:
        data = tone.write_wav(array("h", [1, 2, 3]), 8000, "alaw")
        self.assertEqual(len(data) % 2, 0)
        self.assertEqual(len(tone.read_wav(data).samples), 3)

    def test_unknown_chunks_skipped(self) -> None:
        data = tone.write_wav(tone.sine(1000, 10), 8000, "ulaw")
        # Insert a LIST chunk with an odd size (and its pad byte) before fmt.
        extra = b"LIST" + struct.pack("<I", 3) + b"abc\x00"
        body = data[12:]
        patched = b"RIFF" + struct.pack("<I", 4 + len(extra) + len(body)) + b"WAVE" + extra + body
        self.assertEqual(tone.read_wav(patched).samples, tone.read_wav(data).samples)

    def fmt_variant(self, tag: int, channels: int, rate: int, bits: int) -> bytes:
        fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * bits // 8, bits // 8, bits)
        body = b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", 4)
        body += bytes(4)
        return b"RIFF" + struct.pack("<I", len(body)) + body

    def test_errors(self) -> None:
        good = tone.write_wav(tone.sine(1000, 10), 8000)
        cases = [
            (b"RIFX" + good[4:], "not a RIFF/WAVE file"),
            (good[:8], "not a RIFF/WAVE file"),
            (good[:36], "WAV file without fmt or data chunk"),
            (good[:20], "WAV chunk b'fmt ' truncated"),
            (self.fmt_variant(1, 2, 8000, 16), "WAV has 2 channels; only mono is supported"),
            (
                self.fmt_variant(1, 1, 44100, 16),
                "WAV sample rate 44100 Hz not supported (8000, 16000, 48000)",
            ),
            (self.fmt_variant(1, 1, 8000, 8), "WAV PCM with 8 bits; only 16-bit is supported"),
            (self.fmt_variant(7, 1, 8000, 16), "G.711 WAV with 16 bits per sample"),
            (
                self.fmt_variant(3, 1, 8000, 32),
                "WAV format tag 0x3 not supported (PCM, A-law, mu-law)",
            ),
        ]
        for data, message in cases:
            exc = self.assertRaises(MediaError, tone.read_wav, data)
            self.assertEqual(str(exc), message)

    def test_pcm_rejected_by_wave_module(self) -> None:
        # The stdlib reader insists on fmt before data; the error is reported as MediaError.
        good = tone.write_wav(tone.sine(1000, 10), 8000)
        fmt, data = good[12:36], good[36:]
        swapped = good[:12] + data + fmt
        exc = self.assertRaises(MediaError, tone.read_wav, swapped)
        self.assertEqual(str(exc), "bad WAV file: data chunk before fmt chunk")

    def test_short_fmt_chunk(self) -> None:
        body = b"WAVEfmt " + struct.pack("<I", 4) + bytes(4) + b"data" + struct.pack("<I", 0)
        exc = self.assertRaises(
            MediaError, tone.read_wav, b"RIFF" + struct.pack("<I", len(body)) + body
        )
        self.assertEqual(str(exc), "WAV fmt chunk too short")


class ResampleTests(SynchronousTestCase):
    def test_8k_is_a_copy(self) -> None:
        s = tone.sine(1000, 20)
        out = tone.resample_to_8k(s, 8000)
        self.assertEqual(out, s)
        self.assertIsNot(out, s)

    def test_passband(self) -> None:
        for rate in (16000, 48000):
            for freq in (440, 1000, 3000):
                out = tone.resample_to_8k(tone.sine(freq, 200, rate), rate)
                self.assertEqual(len(out), 1600)
                self.assertTrue(tone.detect_tone(out[100:-100], 8000, freq, 0.95), (rate, freq))
                # Gain within 1 dB of the input level (0.5 full scale).
                ratio = energy(out[100:-100]) / energy(tone.sine(freq, 175, 8000))
                self.assertTrue(0.79 < ratio < 1.26, (rate, freq, ratio))

    def test_stopband(self) -> None:
        # Above 4 kHz would alias into the telephone band: it must be attenuated > 30 dB.
        for rate, freq in ((16000, 4400), (16000, 7000), (48000, 5000), (48000, 12000)):
            out = tone.resample_to_8k(tone.sine(freq, 200, rate), rate)
            reference = energy(tone.sine(1000, 200, 8000))
            self.assertLess(energy(out[100:-100]) / reference, 10**-3, (rate, freq))

    def test_clipping(self) -> None:
        square = array("h", ([32767] * 24 + [-32768] * 24) * 40)
        out = tone.resample_to_8k(square, 48000)
        self.assertEqual(out.typecode, "h")
        self.assertEqual(len(out), 320)

    def test_unsupported_rate(self) -> None:
        exc = self.assertRaises(MediaError, tone.resample_to_8k, array("h", [0]), 44100)
        self.assertEqual(str(exc), "cannot resample 44100 Hz to 8 kHz")
