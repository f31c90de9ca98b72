"""The desk-phone harness on its own, without pbx: tone checks, recordings, SIP trace, and two
baresip phones calling each other directly (so a failure in test_audio_calls.py that this file
does not share is pbx's, not the harness's).

The recorded inputs are real: ``test/data/deskphone/baresip-invite-488-trace.log`` is baresip's
``-s`` output for an INVITE that pbx refused (colour escapes kept), and
``sndfile-dec-during-call.wav`` is the head of a ``-dec.wav`` copied while its call was up (the
RIFF and data sizes still say empty; libsndfile fixes them at close).
"""

from __future__ import annotations

import shutil
import tempfile
import time
import unittest
from array import array
from pathlib import Path

import pytest
from twisted.trial.unittest import SynchronousTestCase

from pbx.core.errors import MediaError
from pbx.media.tone import read_wav, sine, write_wav
from test.e2e.deskphone.baresip import Baresip, BaresipError, missing_baresip, read_recording
from test.e2e.deskphone.tones import tone_seconds, voiced_seconds, write_tone_wav

pytestmark = pytest.mark.e2e

DATA = Path(__file__).resolve().parents[2] / "data" / "deskphone"


def temp_dir(test: SynchronousTestCase) -> Path:
    path = Path(tempfile.mkdtemp(prefix="deskphone-"))
    test.addCleanup(shutil.rmtree, path, True)
    return path


class ToneTests(SynchronousTestCase):
    def test_tone_seconds_counts_only_windows_of_that_tone(self) -> None:
        samples = array("h", [0] * 4000) + sine(440, 1500) + sine(1000, 500)
        self.assertEqual(tone_seconds(samples, 8000, 440), 1.5)
        self.assertEqual(tone_seconds(samples, 8000, 1000), 0.5)
        self.assertEqual(tone_seconds(samples, 8000, 700), 0.0)
        self.assertEqual(voiced_seconds(samples, 8000), 2.0)

    def test_tone_file_is_what_aufile_accepts(self) -> None:
        path = write_tone_wav(temp_dir(self) / "t.wav", 1000, seconds=1.5)
        audio = read_wav(path.read_bytes())
        self.assertEqual((audio.rate, len(audio.samples)), (8000, 12000))
        # aufile: "input file must have format S16LE", mono, at ausrc_srate.
        self.assertEqual(path.read_bytes()[20:24], b"\x01\x00\x01\x00")
        self.assertEqual(tone_seconds(audio.samples, 8000, 1000), 1.5)


class RecordingTests(SynchronousTestCase):
    def test_recording_of_a_live_call_is_read_to_the_end_of_the_file(self) -> None:
        path = DATA / "sndfile-dec-during-call.wav"
        with self.assertRaises(MediaError):  # a strict reader trusts the sizes: data is empty,
            read_wav(path.read_bytes())  # and the samples after it are a "truncated chunk"
        rate, samples = read_recording(path)
        self.assertEqual((rate, len(samples)), (8000, 1600))
        self.assertEqual(tone_seconds(samples, rate, 440), 0.2)

    def test_anything_but_16_bit_mono_pcm_is_refused(self) -> None:
        path = temp_dir(self) / "ulaw.wav"
        path.write_bytes(write_wav(sine(440, 100), 8000, "ulaw"))
        with self.assertRaises(BaresipError):
            read_recording(path)


class TraceTests(SynchronousTestCase):
    def test_sip_trace_splits_the_log_into_sent_and_received_messages(self) -> None:
        phone = Baresip(
            temp_dir(self),
            user="alawdesk",
            password="pw",
            registrar=("127.0.0.1", 56913),
            tone_hz=440,
        )
        shutil.copy(DATA / "baresip-invite-488-trace.log", phone.log_path)
        trace = phone.sip_trace()
        self.assertEqual(
            [(t.sent, t.message.start_line.split(" ")[0 if t.sent else 1]) for t in trace],
            [(True, "INVITE"), (False, "401"), (True, "ACK"), (True, "INVITE"), (False, "488")],
        )
        self.assertEqual(trace[0].destination, "127.0.0.1:56913")
        self.assertIn(b"m=audio 41800 RTP/AVP 0 101\r\n", trace[0].message.body)
        [refusal] = phone.received_responses(488)
        self.assertEqual(
            refusal.header("Warning"),
            '399 127.0.0.1 "offer has only PCMU; peer alawdesk allows alaw"',
        )


class DirectCallTests(SynchronousTestCase):
    """Two baresip phones call each other straight (no registrar, no pbx)."""

    def setUp(self) -> None:
        reason = missing_baresip()
        if reason is not None:
            raise unittest.SkipTest(reason)
        root = temp_dir(self)
        self.phones: list[Baresip] = []
        for user, hz in (("a", 440), ("b", 1000)):
            (root / user).mkdir()
            phone = Baresip(
                root / user, user=user, password="pw", registrar=("127.0.0.1", 9), tone_hz=hz
            )
            self.addCleanup(phone.close)
            phone.start()
            phone.add_account()
            self.phones.append(phone)

    def test_each_hears_the_other_and_gets_the_digits(self) -> None:
        a, b = self.phones
        a.dial(f"sip:b@127.0.0.1:{b.sip_port}")
        b.accept()
        a.wait_established()
        b.wait_established()
        time.sleep(1.0)
        rate, live = b.received_audio()  # while the call is up
        self.assertGreater(tone_seconds(live, rate, 440), 0.3)
        a.send_dtmf("1#")
        time.sleep(0.3)
        self.assertEqual(b.received_digits(), "1#")
        time.sleep(1.0)
        self.assertEqual(a.hangup(), "Connection reset by user")
        self.assertEqual(b.wait_closed(), "Connection reset by peer")
        a.close()
        b.close()
        for phone, far, own in ((a, 1000, 440), (b, 440, 1000)):
            rate, samples = phone.received_audio()  # moved into workdir/snd at close
            self.assertGreaterEqual(tone_seconds(samples, rate, far), 1.5, phone.explain())
            self.assertEqual(tone_seconds(samples, rate, own), 0.0)
        self.assertFalse(any(p.running for p in self.phones))
