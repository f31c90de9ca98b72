"""Answer, Hangup, Progress, Ringing, Busy, Congestion."""

import logging

from twisted.trial.unittest import SynchronousTestCase

from ..fakes import Harness


class AnswerTests(SynchronousTestCase):
    def test_answer_then_delay(self) -> None:
        h = Harness(self, "[c]\nexten => 1,1,Answer(500)\n same => n,NoOp(after)\n")
        h.start("c", "1")
        self.assertEqual(h.channel.events, [("answer",), ("wait", 0.5)])
        h.clock.advance(0.5)
        self.assertEqual(h.executed[-1], "1@c:2 NoOp(after)")

    def test_answer_on_an_answered_channel_does_nothing(self) -> None:
        h = Harness(self, "[c]\nexten => 1,1,Answer(500)\n same => n,NoOp(after)\n", state="Up")
        h.start("c", "1")
        self.assertEqual(h.channel.events, [("hangup", 16)])


class HangupTests(SynchronousTestCase):
    def cause(self, data: str) -> int | None:
        h = Harness(self, f"[c]\nexten => 1,1,Hangup({data})\n same => n,NoOp(never)\n")
        h.start("c", "1")
        self.assertEqual(len(h.executed), 1)
        return h.channel.hangup_cause

    def test_causes(self) -> None:
        self.assertEqual(self.cause(""), 16)
        self.assertEqual(self.cause("17"), 17)
        self.assertEqual(self.cause("USER_BUSY"), 17)
        self.assertEqual(self.cause("call_rejected"), 21)

    def test_invalid_cause_warns(self) -> None:
        h = Harness(self, "[c]\nexten => 1,1,Hangup(bogus)\n")
        h.start("c", "1")
        self.assertIn('Invalid cause given to Hangup(): "bogus"', h.messages(logging.WARNING))
        self.assertEqual(h.channel.hangup_cause, 16)


class IndicationTests(SynchronousTestCase):
    def test_progress_and_ringing(self) -> None:
        h = Harness(
            self, "[c]\nexten => 1,1,Progress()\n same => n,Ringing()\n same => n,Wait(1)\n"
        )
        h.start("c", "1")
        self.assertEqual(h.channel.events[:2], [("indicate", "progress"), ("indicate", "ringing")])

    def test_busy_before_answer_rejects_with_17(self) -> None:
        h = Harness(self, "[c]\nexten => 1,1,Busy()\n same => n,NoOp(never)\n")
        h.start("c", "1")
        self.assertEqual(h.channel.events, [("indicate", "busy")])
        self.assertEqual(h.channel.hangup_cause, 17)
        self.assertEqual(h.results[0].cause, 17)

    def test_busy_after_answer_waits_the_timeout(self) -> None:
        h = Harness(self, "[c]\nexten => 1,1,Busy(5)\n same => n,NoOp(never)\n", state="Up")
        h.start("c", "1")
        h.clock.advance(4.9)
        self.assertFalse(h.done)
        h.clock.advance(0.1)
        self.assertEqual(h.channel.events, [("indicate", "busy"), ("wait", 5.0), ("hangup", 16)])
        self.assertEqual(len(h.executed), 1)

    def test_busy_without_timeout_waits_for_the_hangup(self) -> None:
        h = Harness(self, "[c]\nexten => 1,1,Busy()\n", state="Up")
        h.start("c", "1")
        h.clock.advance(3600)
        self.assertFalse(h.done)
        h.channel.remote_hangup(16)
        self.assertTrue(h.done)

    def test_congestion_before_answer_rejects_with_34(self) -> None:
        h = Harness(self, "[c]\nexten => 1,1,Congestion(3)\n")
        h.start("c", "1")
        self.assertEqual(h.channel.events, [("indicate", "congestion")])
        self.assertEqual(h.channel.hangup_cause, 34)
        self.assertEqual(h.channel.variables["HANGUPCAUSE"], "34")
