"""Tests for pbx.media.player: prompt pacing, the DTMF queue, and LocalSource packets."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from pbx.core.errors import MediaError
from pbx.media.codecs.telephone_event import TelephoneEvent
from pbx.media.player import DIGIT_GAP, MAX_BURST, DtmfQueue, LocalSource, Prompt
from pbx.media.rtp import RtpHeader, payload


class PromptTests(SynchronousTestCase):
    def test_frames_and_offsets(self) -> None:
        prompt = Prompt(bytes(range(250)), 100, 0xFF, 5.0, 0.02)
        self.assertEqual(prompt.next_at(), 5.0)
        [first] = prompt.due(5.0)
        self.assertEqual((first.payload, first.ts_offset), (bytes(range(100)), 0))
        self.assertEqual(prompt.due(5.01), [])
        self.assertEqual(prompt.next_at(), 5.02)
        frames = prompt.due(5.04)
        self.assertEqual([f.ts_offset for f in frames], [100, 200])
        self.assertEqual(frames[1].payload, bytes(range(200, 250)) + b"\xff" * 50)
        self.assertTrue(prompt.done)
        self.assertIsNone(prompt.next_at())

    def test_a_timer_a_hair_early_still_gets_its_frame(self) -> None:
        prompt = Prompt(bytes(300), 100, 0, 0.0, 0.02)
        prompt.due(0.0)
        self.assertEqual(len(prompt.due(0.0199995)), 1)

    def test_late_timer_skips_old_frames(self) -> None:
        prompt = Prompt(bytes(100 * 50), 100, 0, 0.0, 0.02)
        frames = prompt.due(0.5)
        self.assertEqual(len(frames), MAX_BURST)
        self.assertEqual(frames[-1].ts_offset, 2500)

    def test_empty_prompt_is_done_at_once(self) -> None:
        prompt = Prompt(b"", 160, 0xFF, 0.0, 0.02)
        self.assertTrue(prompt.done)
        self.assertEqual(prompt.due(1.0), [])


class DtmfQueueTests(SynchronousTestCase):
    def test_digits_follow_each_other_with_a_gap(self) -> None:
        queue = DtmfQueue(8000, 20)
        queue.add("1", 40)
        queue.add("2", 40)
        self.assertTrue(queue.active)
        self.assertEqual(queue.next_at(), 0.0)
        sent = queue.due(1.0)
        self.assertEqual([p.offset_ms for p, _ in sent], [0])
        self.assertEqual(queue.next_at(), 1.02)
        for at in (1.02, 1.04, 1.06):
            sent += queue.due(at)
        self.assertEqual(len(sent), 4)  # 2 updates + 2 more copies of the end packet
        self.assertEqual(queue.next_at(), 1.06 + DIGIT_GAP)
        self.assertEqual(queue.due(1.1), [])
        second = queue.due(1.06 + DIGIT_GAP)
        self.assertEqual(TelephoneEvent.parse(second[0][0].payload).event, 2)
        self.assertEqual(second[0][1], 1.06 + DIGIT_GAP)

    def test_bad_digit_is_refused_when_queued(self) -> None:
        queue = DtmfQueue()
        self.assertRaises(ValueError, queue.add, "x", 100)
        self.assertFalse(queue.active)
        queue.add("9", 100)
        queue.clear()
        self.assertIsNone(queue.next_at())


class LocalSourceTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.sent: list[tuple[bytes, float]] = []
        self.source = LocalSource(0x1234, lambda p, now: self.sent.append((bytes(p), now)))
        self.source.configure("ulaw", 0, 8000, 20, 101, 8000)

    def test_prompt_packets(self) -> None:
        done: list[bool] = []
        self.source.play(b"\x10" * 320, 2.0, lambda: done.append(True))
        self.source.run(self.source.next_at() or 0)
        self.assertEqual(done, [True])
        headers = [RtpHeader.parse(p) for p, _ in self.sent]
        self.assertEqual([h.ssrc for h in headers], [0x1234] * 2)
        self.assertEqual([h.marker for h in headers], [True, False])
        self.assertEqual(headers[1].sequence - headers[0].sequence, 1)
        self.assertEqual(headers[0].timestamp, 16000)
        self.assertEqual(headers[1].timestamp - headers[0].timestamp, 160)

    def test_digit_takes_the_line_from_a_prompt(self) -> None:
        self.source.play(bytes(160 * 10), 0.0, lambda: None)
        self.source.send_dtmf("5", 40, 0.01)
        self.assertTrue(self.source.active)
        for at in (0.02, 0.03, 0.05, 0.07):
            self.source.run(at)
        kinds = [RtpHeader.parse(p).payload_type for p, _ in self.sent]
        # Prompt frames due at 0.02-0.04 are skipped; the prompt resumes with the digit's end.
        self.assertEqual(kinds, [0, 101, 101, 101, 101, 0])
        event = TelephoneEvent.parse(payload(self.sent[1][0]))
        self.assertEqual((event.event, event.end), (5, False))
        offsets = [RtpHeader.parse(p).timestamp for p, _ in self.sent if p[1] & 0x7F == 0]
        self.assertEqual(offsets[1] - offsets[0], 3 * 160)

    def test_stop_and_replace(self) -> None:
        calls: list[str] = []
        self.source.play(bytes(1600), 0.0, lambda: calls.append("first"))
        self.source.play(bytes(1600), 0.0, lambda: calls.append("second"))
        self.assertEqual(calls, ["first"])
        self.source.clear()
        self.assertEqual(calls, ["first", "second"])
        self.assertFalse(self.source.active)

    def test_refusals(self) -> None:
        self.source.configure("opus", 111, 48000, 20, None, 48000)
        e = self.assertRaises(MediaError, self.source.play, b"", 0.0, lambda: None)
        self.assertEqual(str(e), "cannot play to an opus leg")
        self.assertRaises(MediaError, self.source.send_dtmf, "1", 100, 0.0)
