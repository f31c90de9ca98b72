"""Echo, Playback, Background and Read on a FakeChannel."""

import logging

from twisted.trial.unittest import SynchronousTestCase

from ..fakes import Harness


class EchoTests(SynchronousTestCase):
    def test_echo_until_hangup(self) -> None:
        h = Harness(self, "[c]\nexten => 600,1,Answer()\n same => n,Echo()\n same => n,Hangup()\n")
        h.start("c", "600")
        self.assertEqual(h.channel.events, [("answer",), ("echo",)])
        h.clock.advance(3600)
        self.assertFalse(h.done)
        h.channel.remote_hangup()
        self.assertTrue(h.done)


class PlaybackTests(SynchronousTestCase):
    def test_answers_plays_each_file_and_reports_success(self) -> None:
        h = Harness(
            self,
            "[c]\nexten => 1,1,Playback(hello-world&beep)\n same => n,NoOp(${PLAYBACKSTATUS})\n",
        )
        h.start("c", "1")
        self.assertEqual(h.channel.events, [("answer",), ("play", ["hello-world"], "")])
        h.clock.advance(1)
        self.assertEqual(h.channel.events[-1], ("play", ["beep"], ""))
        h.clock.advance(1)
        self.assertEqual(h.executed[-1], "1@c:2 NoOp(SUCCESS)")

    def test_missing_file_fails_but_plays_the_others(self) -> None:
        h = Harness(
            self, "[c]\nexten => 1,1,Playback(nosuch&beep)\n same => n,NoOp(${PLAYBACKSTATUS})\n"
        )
        h.channel.missing_sounds = {"nosuch"}
        h.start("c", "1")
        h.clock.advance(1)
        self.assertEqual(h.executed[-1], "1@c:2 NoOp(FAILED)")
        self.assertEqual([e[1] for e in h.channel.events if e[0] == "play"], [["nosuch"], ["beep"]])
        self.assertIn(
            "Playback failed on SIP/alice-00000001 for nosuch&beep (no sound file 'nosuch')",
            h.messages(logging.WARNING),
        )

    def test_noanswer_and_skip(self) -> None:
        h = Harness(self, "[c]\nexten => 1,1,Playback(beep,noanswer)\n")
        h.start("c", "1")
        self.assertEqual(h.channel.events[0], ("play", ["beep"], ""))
        h = Harness(
            self, "[c]\nexten => 1,1,Playback(beep,skip)\n same => n,NoOp(${PLAYBACKSTATUS})\n"
        )
        h.start("c", "1")
        self.assertEqual(h.executed[-1], "1@c:2 NoOp(SUCCESS)")
        self.assertNotIn("play", h.channel.names())

    def test_hangup_during_playback(self) -> None:
        h = Harness(self, "[c]\nexten => 1,1,Playback(long)\n same => n,NoOp(no)\n")
        h.channel.sound_seconds = 60
        h.start("c", "1")
        h.channel.remote_hangup()
        self.assertTrue(h.done)
        self.assertEqual(h.clock.getDelayedCalls(), [])


BACKGROUND = """
[menu]
exten => s,1,Background(welcome&options)
 same => n,WaitExten(4)
exten => 1,1,NoOp(sales)
exten => 21,1,NoOp(support)
exten => 22,1,NoOp(billing)
exten => i,1,NoOp(invalid ${INVALID_EXTEN})
exten => t,1,NoOp(timeout)
"""


class BackgroundTests(SynchronousTestCase):
    def test_single_digit_extension_jumps_at_once(self) -> None:
        h = Harness(self, BACKGROUND)
        h.start("menu", "s")
        self.assertEqual(h.channel.events[1], ("play", ["welcome"], "0123456789*#ABCD"))
        h.channel.press("1")
        self.assertEqual(h.executed[-1], "1@menu:1 NoOp(sales)")
        self.assertEqual(h.channel.variables["BACKGROUNDSTATUS"], "SUCCESS")

    def test_partial_digit_is_collected_by_the_engine(self) -> None:
        h = Harness(self, BACKGROUND)
        h.start("menu", "s")
        h.clock.advance(1)  # second file playing
        h.channel.press("2")
        self.assertEqual(h.channel.events[-1], ("wait_for_digit", 5.0))
        h.channel.press("2")
        self.assertEqual(h.executed[-1], "22@menu:1 NoOp(billing)")

    def test_partial_digit_then_silence_is_invalid(self) -> None:
        h = Harness(self, BACKGROUND)
        h.start("menu", "s")
        h.channel.press("2")
        h.clock.advance(5)
        self.assertEqual(h.executed[-1], "i@menu:1 NoOp(invalid 2)")

    def test_no_digit_continues_to_waitexten(self) -> None:
        h = Harness(self, BACKGROUND)
        h.start("menu", "s")
        h.clock.advance(1)
        h.clock.advance(1)
        self.assertEqual(h.executed[-1], "s@menu:2 WaitExten(4)")
        h.clock.advance(4)
        self.assertEqual(h.executed[-1], "t@menu:1 NoOp(timeout)")

    def test_m_option_only_listens_for_useful_digits(self) -> None:
        h = Harness(self, BACKGROUND.replace("welcome&options)", "welcome,m)"))
        h.start("menu", "s")
        self.assertEqual(h.channel.events[1], ("play", ["welcome"], "12"))

    def test_other_context_and_missing_file(self) -> None:
        text = (
            BACKGROUND.replace("welcome&options)", "nosuch,,,other)")
            + "[other]\nexten => 1,1,NoOp(other)\n"
        )
        h = Harness(self, text)
        h.channel.missing_sounds = {"nosuch"}
        h.start("menu", "s")
        self.assertEqual(h.channel.variables["BACKGROUNDSTATUS"], "FAILED")
        text = (
            BACKGROUND.replace("welcome&options)", "welcome,,,other)")
            + "[other]\nexten => 1,1,NoOp(other)\n"
        )
        h = Harness(self, text)
        h.start("menu", "s")
        h.channel.press("1")
        self.assertEqual(h.executed[-1], "1@other:1 NoOp(other)")

    def test_skip_when_not_answered(self) -> None:
        h = Harness(self, BACKGROUND.replace("welcome&options)", "welcome,s)"))
        h.start("menu", "s")
        self.assertEqual(h.executed[-1], "s@menu:2 WaitExten(4)")
        self.assertNotIn("answer", h.channel.names())


class ReadTests(SynchronousTestCase):
    def start(self, args: str, state: str = "Up") -> Harness:
        h = Harness(
            self,
            f"[c]\nexten => 1,1,Read({args})\n same => n,NoOp(${{PIN}} ${{READSTATUS}})\n",
            state=state,
        )
        h.start("c", "1")
        return h

    def test_default_timeouts_are_response_then_digit(self) -> None:
        h = self.start("PIN")
        self.assertEqual(h.channel.events[-1], ("wait_for_digit", 10.0))
        h.clock.advance(9.99)
        h.channel.press("4")
        self.assertEqual(h.channel.events[-1], ("wait_for_digit", 5.0))
        h.clock.advance(5)
        self.assertEqual(h.executed[-1], "1@c:2 NoOp(4 TIMEOUT)")

    def test_explicit_timeout_applies_to_every_digit(self) -> None:
        h = self.start("PIN,,,,,3")
        self.assertEqual(h.channel.events[-1], ("wait_for_digit", 3.0))
        h.channel.press("1")
        self.assertEqual(h.channel.events[-1], ("wait_for_digit", 3.0))
        h.clock.advance(2.999)
        self.assertEqual(len(h.executed), 1)
        h.clock.advance(0.001)
        self.assertEqual(h.executed[-1], "1@c:2 NoOp(1 TIMEOUT)")

    def test_pound_terminates_and_maxdigits_completes(self) -> None:
        h = self.start("PIN")
        h.channel.press("12#")
        self.assertEqual(h.executed[-1], "1@c:2 NoOp(12 OK)")
        h = self.start("PIN,,3")
        h.channel.press("9876")
        self.assertEqual(h.executed[-1], "1@c:2 NoOp(987 OK)")
        self.assertIn("    -- Accepting a maximum of 3 digits.", h.messages())

    def test_prompt_is_interruptible(self) -> None:
        h = self.start("PIN,enter-pin,4")
        self.assertEqual(h.channel.events[-1], ("play", ["enter-pin"], "0123456789*#ABCD"))
        h.channel.press("1234")
        self.assertEqual(h.executed[-1], "1@c:2 NoOp(1234 OK)")

    def test_attempts(self) -> None:
        h = self.start("PIN,,,,2,1")
        h.clock.advance(1)
        self.assertIn("    -- User entered nothing, 1 chance left", h.messages())
        h.clock.advance(1)
        self.assertIn("    -- User entered nothing.", h.messages())
        self.assertEqual(h.executed[-1], "1@c:2 NoOp( TIMEOUT)")

    def test_skip_and_answer(self) -> None:
        h = self.start("PIN,,,s", state="Ring")
        self.assertEqual(h.executed[-1], "1@c:2 NoOp( SKIPPED)")
        h = self.start("PIN,,,,,1", state="Ring")
        self.assertEqual(h.channel.events[0], ("answer",))
        h = self.start("PIN,,,n,,1", state="Ring")
        self.assertNotIn("answer", h.channel.names())

    def test_missing_prompt_is_an_error(self) -> None:
        h = Harness(self, "[c]\nexten => 1,1,Read(PIN,nosuch)\n same => n,NoOp(${READSTATUS})\n")
        h.channel.missing_sounds = {"nosuch"}
        h.start("c", "1")
        self.assertEqual(h.executed[-1], "1@c:2 NoOp(ERROR)")

    def test_hangup_sets_hangup_status(self) -> None:
        h = Harness(self, "[c]\nexten => 1,1,Read(PIN)\nexten => h,1,NoOp(${READSTATUS})\n")
        h.start("c", "1")
        h.channel.remote_hangup()
        self.assertEqual(h.executed[-1], "h@c:1 NoOp(HANGUP)")

    def test_without_variable(self) -> None:
        h = self.start("")
        self.assertIn("Read requires an argument (variable)", h.messages(logging.WARNING))
