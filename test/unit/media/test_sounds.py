"""Tests for pbx.media.sounds: lookup order, formats, resampling, caching, the shipped prompts."""

from __future__ import annotations

import os
from array import array
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from pbx.core.errors import MediaError
from pbx.media.codecs.g711 import alaw_encode, ulaw_encode
from pbx.media.sounds import SoundLibrary
from pbx.media.tone import detect_tone, sine, write_wav

CONTRIB = Path(__file__).resolve().parents[3] / "contrib" / "sounds"
TONE = sine(1000, 100)


class SoundLibraryTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.first = Path(self.mktemp()).resolve()
        self.second = Path(self.mktemp()).resolve()
        for d in (self.first, self.second, self.second / "digits"):
            d.mkdir(parents=True)
        self.library = SoundLibrary([str(self.first), str(self.second)])

    def write(self, path: Path, data: bytes) -> None:
        path.write_bytes(data)

    def test_every_format_decodes_to_8khz(self) -> None:
        pcm16 = array("h", sine(1000, 100, rate=16000))
        files = {
            "a.wav": write_wav(TONE, 8000, "ulaw"),
            "b.wav": write_wav(pcm16, 16000),
            "c.ulaw": ulaw_encode(TONE.tobytes()),
            "d.alaw": alaw_encode(TONE.tobytes()),
            "e.sln": TONE.tobytes(),
            "f.sln16": pcm16.tobytes(),
            "g.sln48": sine(1000, 100, rate=48000).tobytes(),
        }
        for name, data in files.items():
            self.write(self.first / name, data)
        for name in files:
            loaded = self.library.load(name.split(".")[0])
            assert loaded is not None, name
            samples, rate = loaded
            self.assertEqual((rate, len(samples)), (8000, 800), name)
            self.assertTrue(detect_tone(samples, 8000, 1000), name)

    def test_directory_order_extension_order_and_subdirectories(self) -> None:
        self.write(self.second / "x.wav", write_wav(TONE, 8000))
        self.write(self.first / "x.sln", bytes(4))
        self.write(self.first / "x.ulaw", bytes(4))
        self.assertEqual(self.library.find("x"), str(self.first / "x.ulaw"))
        self.write(self.second / "digits" / "1.sln", bytes(4))
        self.assertEqual(self.library.find("digits/1"), str(self.second / "digits" / "1.sln"))
        absolute = str(self.second / "x")
        self.assertEqual(self.library.find(absolute), absolute + ".wav")
        self.assertIsNone(self.library.find("missing"))
        self.assertIsNone(self.library.find(""))
        self.assertIsNone(self.library.load("missing"))

    def test_decoded_once_until_cleared(self) -> None:
        path = self.first / "y.sln"
        self.write(path, TONE.tobytes())
        first = self.library.load("y")
        assert first is not None
        os.remove(path)
        cached = self.library.load("y")
        assert cached is not None
        self.assertIs(cached[0], first[0])
        self.library.clear()
        self.assertIsNone(self.library.load("y"))

    def test_undecodable_file_names_the_path(self) -> None:
        self.write(self.first / "bad.wav", b"RIFF....WAVEjunk")
        e = self.assertRaises(MediaError, self.library.load, "bad")
        self.assertTrue(str(e).startswith(str(self.first / "bad.wav") + ": "))
        self.assertRaises(MediaError, self.library.decode, str(self.first / "x.mp3"))
        self.assertRaises(MediaError, self.library.decode, str(self.first / "none.wav"))

    def test_shipped_prompts(self) -> None:
        library = SoundLibrary([str(CONTRIB)])
        for name in ("hello-world", "demo-congrats", "demo-echotest", "vm-goodbye"):
            loaded = library.load(name)
            assert loaded is not None, name
            self.assertGreater(len(loaded[0]), 4000, name)
        tone = library.load("tone-1000hz")
        assert tone is not None
        self.assertEqual(len(tone[0]), 8000)
        self.assertTrue(detect_tone(tone[0], 8000, 1000, min_ratio=0.99))
