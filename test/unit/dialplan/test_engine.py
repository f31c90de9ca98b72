"""The dialplan engine (__ast_pbx_run): stepping, fallthrough, i/t/T/e/h, hangups, timing."""

import logging

from twisted.internet.defer import Deferred
from twisted.trial.unittest import SynchronousTestCase

from pbx.call.dialplan_api import DialResult
from pbx.dialplan.engine import RunResult
from pbx.dialplan.parser import loads

from .fakes import Harness


class StepTests(SynchronousTestCase):
    def test_executing_line_is_asterisk_shaped(self) -> None:
        h = Harness(self, "[phones]\nexten => 100,1,Answer()\n same => n,NoOp(hi ${EXTEN})\n")
        h.start("phones", "100")
        lines = [r for r in h.records if "Executing" in r.getMessage()]
        self.assertEqual(
            [r.getMessage() for r in lines],
            [
                '    -- Executing [100@phones:1] Answer("SIP/alice-00000001", "") in new stack',
                '    -- Executing [100@phones:2] NoOp("SIP/alice-00000001", "hi 100") in new stack',
            ],
        )
        self.assertEqual(lines[0].channel, "SIP/alice-00000001")  # type: ignore[attr-defined]
        self.assertEqual(lines[0].verbose, 3)  # type: ignore[attr-defined]
        self.assertEqual(lines[0].name, "pbx.dialplan.engine")
        self.assertEqual(h.channel.location, ("phones", "100", 2, "NoOp", "hi 100"))

    def test_priorities_run_in_order_then_hang_up_normally(self) -> None:
        h = Harness(
            self, "[c]\nexten => 1,1,Answer()\n same => n,Set(A=1)\n same => n,NoOp(${A})\n"
        )
        h.start("c", "1")
        self.assertEqual(h.executed, ["1@c:1 Answer()", "1@c:2 Set(A=1)", "1@c:3 NoOp(1)"])
        self.assertEqual(h.channel.events, [("answer",), ("hangup", 16)])
        self.assertEqual(h.results, [RunResult("c", "1", 4, "NoOp", "1", 16)])

    def test_lastapp_is_from_the_main_run_not_h(self) -> None:
        h = Harness(self, "[c]\nexten => 1,1,Set(X=y)\nexten => h,1,NoOp(bye)\n")
        h.start("c", "1")
        (result,) = h.results
        self.assertEqual((result.lastapp, result.lastdata), ("Set", "X=y"))
        self.assertEqual(h.executed[-1], "h@c:1 NoOp(bye)")

    def test_unknown_application_ends_the_call(self) -> None:
        h = Harness(self, "[c]\nexten => 1,1,Frobnicate(x)\n same => n,NoOp()\n")
        h.start("c", "1")
        self.assertIn(
            "No application 'Frobnicate' for extension (c, 1, 1)", h.messages(logging.WARNING)
        )
        self.assertEqual(h.executed, [])
        self.assertEqual(h.channel.events, [("hangup", 16)])

    def test_application_crash_is_logged_and_ends_the_call(self) -> None:
        h = Harness(self, "[c]\nexten => 1,1,NoOp()\n same => n,NoOp(after)\n")

        class Boom:
            name = "NoOp"
            synopsis = "explodes"
            cancel_on_hangup = True

            async def run(self, ctx: object, args: str) -> object:
                raise RuntimeError("boom")

        h.engine.services.applications.register(Boom())  # type: ignore[arg-type]
        h.start("c", "1")
        self.assertIn("application NoOp failed on SIP/alice-00000001", h.messages(logging.ERROR))
        self.assertEqual(h.channel.events, [("hangup", 16)])

    def test_start_falls_back_to_s_then_default(self) -> None:
        h = Harness(self, "[c]\nexten => s,1,NoOp(s)\n")
        h.start("c", "999")
        self.assertEqual(h.executed, ["s@c:1 NoOp(s)"])
        h = Harness(self, "[c]\n[default]\nexten => s,1,NoOp(default s)\n")
        h.start("c", "999")
        self.assertEqual(h.executed, ["s@default:1 NoOp(default s)"])

    def test_a_call_keeps_the_dialplan_it_started_with(self) -> None:
        h = Harness(self, "[c]\nexten => 1,1,Wait(5)\n same => n,NoOp(old)\n")
        h.start("c", "1")
        h.dialplan = loads("[c]\nexten => 1,1,Wait(5)\n same => n,NoOp(new)\n").dialplan
        h.clock.advance(5)
        self.assertEqual(h.executed[-1], "1@c:2 NoOp(old)")


class FallthroughTests(SynchronousTestCase):
    TEXT = "[c]\nexten => 1,1,Dial(SIP/bob,20)\nexten => h,1,NoOp(${DIALSTATUS} ${HANGUPCAUSE})\n"

    def test_busy_dial_falls_through_to_busy(self) -> None:
        h = Harness(self, self.TEXT)
        h.channel.dial_outcome = DialResult("BUSY", 2.0, cause=17)
        h.start("c", "1")
        self.assertEqual(h.channel.names(), ["dial", "indicate"])
        self.assertEqual(h.channel.events[1], ("indicate", "busy"))
        self.assertEqual(h.channel.hangup_cause, 17)
        self.assertIn(
            "    -- Auto fallthrough, channel 'SIP/alice-00000001' status is 'BUSY'", h.messages()
        )
        self.assertEqual(h.executed[-1], "h@c:1 NoOp(BUSY 17)")
        self.assertEqual(h.results[0].cause, 17)

    def test_busy_on_an_answered_channel_plays_the_tone_for_ten_seconds(self) -> None:
        h = Harness(self, self.TEXT, state="Up")
        h.channel.dial_outcome = DialResult("BUSY", 2.0, cause=17)
        h.start("c", "1")
        self.assertEqual(h.channel.events[1:], [("indicate", "busy"), ("wait", 10.0)])
        h.clock.advance(9.9)
        self.assertFalse(h.done)
        h.clock.advance(0.1)
        self.assertEqual(h.channel.events[-1], ("hangup", 17))
        self.assertTrue(h.done)

    def test_congestion_and_chanunavail_fall_through_to_congestion(self) -> None:
        for status in ("CONGESTION", "CHANUNAVAIL"):
            h = Harness(self, self.TEXT)
            h.channel.dial_outcome = DialResult(status, 0.0, cause=34)
            h.start("c", "1")
            self.assertEqual(h.channel.events[1], ("indicate", "congestion"), status)
            self.assertEqual(h.channel.hangup_cause, 34)

    def test_noanswer_hangs_up_with_the_dial_cause(self) -> None:
        h = Harness(self, self.TEXT)
        h.channel.dial_outcome = DialResult("NOANSWER", 20.0, cause=19)
        h.start("c", "1")
        self.assertEqual(h.channel.events[1:], [("hangup", 19)])

    def test_autofallthrough_no_waits_for_an_extension(self) -> None:
        h = Harness(
            self,
            "[general]\nautofallthrough=no\n[c]\nexten => 1,1,Answer()\n"
            "exten => 22,1,NoOp(twenty-two)\nexten => t,1,NoOp(timeout)\n",
        )
        h.start("c", "1")
        self.assertEqual(h.channel.events[-1], ("wait_for_digit", 10.0))
        h.clock.advance(10)
        self.assertEqual(h.executed[-1], "t@c:1 NoOp(timeout)")

    def test_autofallthrough_no_collects_digits(self) -> None:
        h = Harness(
            self,
            "[general]\nautofallthrough=no\n[c]\nexten => 1,1,Answer()\n"
            "exten => 22,1,NoOp(twenty-two)\n",
        )
        h.start("c", "1")
        h.channel.press("2")
        self.assertEqual(h.channel.events[-1], ("wait_for_digit", 5.0))
        h.channel.press("2")
        self.assertEqual(h.executed[-1], "22@c:1 NoOp(twenty-two)")


class InvalidTests(SynchronousTestCase):
    def test_goto_missing_extension_goes_to_i(self) -> None:
        h = Harness(
            self,
            "[c]\nexten => 1,1,Goto(404,1)\nexten => i,1,NoOp(invalid ${INVALID_EXTEN})\n",
        )
        h.start("c", "1")
        self.assertEqual(h.executed, ["1@c:1 Goto(404,1)", "i@c:1 NoOp(invalid 404)"])
        self.assertIn(
            "    -- Channel 'SIP/alice-00000001' sent to invalid extension: "
            "context,exten,priority=c,404,1",
            h.messages(),
        )

    def test_goto_missing_priority_falls_through(self) -> None:
        # Asterisk: the extension exists at priority 1, so it is not "invalid"; the
        # priorities simply ran out and autofallthrough hangs up.
        h = Harness(
            self,
            "[c]\nexten => 1,1,Goto(2,5)\nexten => 2,1,NoOp()\nexten => i,1,NoOp(invalid)\n",
        )
        h.start("c", "1")
        self.assertEqual(h.executed, ["1@c:1 Goto(2,5)"])
        self.assertEqual(h.channel.events, [("hangup", 16)])

    def test_goto_unknown_label_ends_the_call(self) -> None:
        h = Harness(self, "[c]\nexten => 1,1,Goto(nolabel)\n same => n,NoOp(no)\n")
        h.start("c", "1")
        self.assertIn(
            "Priority 'nolabel' must be a number > 0, or valid label", h.messages(logging.WARNING)
        )
        self.assertEqual(h.executed, ["1@c:1 Goto(nolabel)"])

    def test_invalid_without_i_goes_to_e(self) -> None:
        h = Harness(
            self,
            "[c]\nexten => 1,1,Goto(404,1)\n"
            "exten => e,1,NoOp(${EXCEPTION(reason)} from ${EXCEPTION(exten)})\n",
        )
        h.start("c", "1")
        self.assertEqual(h.executed[-1], "e@c:1 NoOp(INVALID from 404)")

    def test_invalid_without_handlers_ends(self) -> None:
        h = Harness(self, "[c]\nexten => 1,1,Goto(404,1)\n")
        h.start("c", "1")
        self.assertIn(
            "Channel 'SIP/alice-00000001' sent to invalid extension but no invalid handler: "
            "context,exten,priority=c,404,1",
            h.messages(logging.WARNING),
        )
        self.assertTrue(h.done)

    def test_collected_digits_that_match_nothing_go_to_i(self) -> None:
        h = Harness(
            self,
            "[c]\nexten => 1,1,WaitExten(5)\nexten => 23,1,NoOp()\n"
            "exten => i,1,NoOp(${INVALID_EXTEN})\n",
        )
        h.start("c", "1")
        h.channel.press("25")
        self.assertEqual(h.executed[-1], "i@c:1 NoOp(25)")


class HangupTests(SynchronousTestCase):
    TEXT = (
        "[c]\nexten => 1,1,Answer()\n same => n,Wait(10)\n same => n,NoOp(never)\n"
        "exten => h,1,NoOp(cause ${HANGUPCAUSE})\n same => n,Wait(3)\n same => n,NoOp(still)\n"
    )

    def test_hangup_during_wait_cancels_it_and_runs_h(self) -> None:
        h = Harness(self, self.TEXT)
        h.start("c", "1")
        h.clock.advance(3)
        h.channel.remote_hangup(16)
        self.assertEqual(
            h.executed,
            [
                "1@c:1 Answer()",
                "1@c:2 Wait(10)",
                "h@c:1 NoOp(cause 16)",
                "h@c:2 Wait(3)",
            ],
        )
        # Waits on a hung-up channel are cancelled at once and end the h extension.
        self.assertEqual(h.clock.getDelayedCalls(), [])
        self.assertTrue(h.done)
        self.assertNotIn("hangup", h.channel.names())

    def test_nothing_runs_after_a_hangup_that_wakes_a_digit_wait(self) -> None:
        h = Harness(
            self,
            "[c]\nexten => 1,1,WaitExten(10)\nexten => t,1,NoOp(timeout)\nexten => h,1,NoOp(bye)\n",
        )
        h.channel.wake_digit_waiter_on_hangup = True
        h.start("c", "1")
        h.channel.remote_hangup()
        self.assertEqual(h.executed, ["1@c:1 WaitExten(10)", "h@c:1 NoOp(bye)"])

    def test_channel_already_gone_runs_only_h(self) -> None:
        h = Harness(self, self.TEXT)
        h.channel.remote_hangup(21)
        h.start("c", "1")
        self.assertEqual(h.executed, ["h@c:1 NoOp(cause 21)", "h@c:2 Wait(3)"])

    def test_h_is_found_through_includes(self) -> None:
        h = Harness(
            self, "[c]\ninclude => x\nexten => 1,1,NoOp()\n[x]\nexten => h,1,NoOp(from x)\n"
        )
        h.start("c", "1")
        self.assertEqual(h.executed[-1], "h@c:1 NoOp(from x)")


class AbsoluteTimeoutTests(SynchronousTestCase):
    def test_absolute_timeout_goes_to_T(self) -> None:
        h = Harness(
            self,
            "[c]\nexten => 1,1,Set(TIMEOUT(absolute)=30)\n same => n,Wait(100)\n"
            "exten => T,1,NoOp(too long)\n",
        )
        h.start("c", "1")
        h.clock.advance(29.9)
        self.assertEqual(len(h.executed), 2)
        h.clock.advance(0.1)
        self.assertEqual(h.executed[-1], "T@c:1 NoOp(too long)")
        self.assertTrue(h.done)
        self.assertEqual(h.clock.getDelayedCalls(), [])

    def test_absolute_timeout_without_T_hangs_up(self) -> None:
        h = Harness(self, "[c]\nexten => 1,1,Set(TIMEOUT(absolute)=5)\n same => n,Wait(100)\n")
        h.start("c", "1")
        h.clock.advance(5)
        self.assertEqual(h.channel.events[-1], ("hangup", 16))

    def test_absolute_timeout_goes_to_e_without_T(self) -> None:
        h = Harness(
            self,
            "[c]\nexten => 1,1,Set(TIMEOUT(absolute)=5)\n same => n,Wait(100)\n"
            "exten => e,1,NoOp(${EXCEPTION(reason)})\n",
        )
        h.start("c", "1")
        h.clock.advance(5)
        self.assertEqual(h.executed[-1], "e@c:1 NoOp(ABSOLUTETIMEOUT)")


class DialLifecycleTests(SynchronousTestCase):
    def test_dial_is_not_cancelled_by_the_callers_hangup(self) -> None:
        h = Harness(
            self,
            "[c]\nexten => 1,1,Dial(SIP/bob)\nexten => h,1,NoOp(${DIALSTATUS} ${ANSWEREDTIME})\n",
        )
        outcome: Deferred[DialResult] = Deferred()
        h.channel.dial_outcome = outcome
        h.start("c", "1")
        h.channel.remote_hangup(16)
        self.assertFalse(h.done)
        outcome.callback(DialResult("ANSWER", 12.0, 10.0))
        self.assertEqual(h.executed[-1], "h@c:1 NoOp(ANSWER 10)")


class LoopTests(SynchronousTestCase):
    def test_an_endless_loop_yields_to_the_reactor(self) -> None:
        from pbx.dialplan.engine import STEPS_BEFORE_YIELD

        h = Harness(self, "[c]\nexten => 1,1,Goto(1)\n")
        h.start("c", "1")
        self.assertEqual(len(h.executed), STEPS_BEFORE_YIELD - 1)
        # One reactor turn later (Clock.advance would rerun same-time calls forever).
        (pending,) = h.clock.getDelayedCalls()
        self.assertEqual(pending.getTime(), 0)
        h.clock.calls.remove(pending)  # type: ignore[arg-type]
        pending.func(*pending.args, **pending.kw)  # type: ignore[attr-defined]
        self.assertEqual(len(h.executed), 2 * STEPS_BEFORE_YIELD - 1)
        h.channel.remote_hangup()
        self.assertTrue(h.done)
        self.assertEqual(h.clock.getDelayedCalls(), [])
