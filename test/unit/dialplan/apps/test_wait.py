"""Wait and WaitExten, timed on a Clock."""

import logging

from twisted.trial.unittest import SynchronousTestCase

from ..fakes import Harness


class WaitTests(SynchronousTestCase):
    def test_wait_is_exact(self) -> None:
        h = Harness(self, "[c]\nexten => 1,1,Wait(2.5)\n same => n,NoOp(done)\n")
        h.start("c", "1")
        h.clock.advance(2.4999)
        self.assertEqual(len(h.executed), 1)
        h.clock.advance(0.0001)
        self.assertEqual(h.executed[-1], "1@c:2 NoOp(done)")

    def test_bad_or_zero_wait_continues_at_once(self) -> None:
        for data in ("abc", "0", "-3", ""):
            h = Harness(self, f"[c]\nexten => 1,1,Wait({data})\n same => n,NoOp(done)\n")
            h.start("c", "1")
            self.assertEqual(h.executed[-1], "1@c:2 NoOp(done)", data)


WAITEXTEN = """
[c]
exten => 1,1,WaitExten(${W})
exten => 12,1,NoOp(twelve)
exten => 123,1,NoOp(one-two-three)
exten => t,1,NoOp(timeout)
"""


class WaitExtenTests(SynchronousTestCase):
    def start(self, text: str = WAITEXTEN, wait: str = "3") -> Harness:
        h = Harness(self, text)
        h.channel.variables["W"] = wait
        h.start("c", "1")
        return h

    def test_timeout_goes_to_t_exactly(self) -> None:
        h = self.start()
        self.assertEqual(h.channel.events[-1], ("wait_for_digit", 3.0))
        h.clock.advance(2.999)
        self.assertEqual(len(h.executed), 1)
        h.clock.advance(0.001)
        self.assertEqual(h.executed[-1], "t@c:1 NoOp(timeout)")
        self.assertIn("    -- Timeout on SIP/alice-00000001, going to 't'", h.messages())

    def test_default_timeout_is_the_response_timeout(self) -> None:
        h = self.start(wait="")
        self.assertEqual(h.channel.events[-1], ("wait_for_digit", 10.0))
        h = self.start("[c]\nexten => 1,1,Set(TIMEOUT(response)=7)\n same => n,WaitExten()\n")
        self.assertEqual(h.channel.events[-1], ("wait_for_digit", 7.0))

    def test_timeout_continues_with_a_next_priority(self) -> None:
        h = self.start(
            "[c]\nexten => 1,1,WaitExten(2)\n same => n,NoOp(next)\nexten => t,1,NoOp(t)\n"
        )
        h.clock.advance(2)
        self.assertEqual(h.executed[-1], "1@c:2 NoOp(next)")

    def test_timeout_without_t_uses_e_then_ends(self) -> None:
        h = self.start("[c]\nexten => 1,1,WaitExten(2)\nexten => e,1,NoOp(${EXCEPTION(reason)})\n")
        h.clock.advance(2)
        self.assertEqual(h.executed[-1], "e@c:1 NoOp(RESPONSETIMEOUT)")
        h = self.start("[c]\nexten => 1,1,WaitExten(2)\n")
        h.clock.advance(2)
        self.assertIn("Timeout but no rule 't' or 'e' in context 'c'", h.messages(logging.WARNING))
        self.assertTrue(h.done)

    def test_digits_are_collected_with_the_digit_timeout(self) -> None:
        h = self.start()
        h.channel.press("1")
        self.assertEqual(h.channel.events[-1], ("wait_for_digit", 5.0))
        h.channel.press("2")
        # "12" exists but "123" could still follow: wait the digit timeout again.
        h.clock.advance(4.999)
        self.assertEqual(len(h.executed), 1)
        h.clock.advance(0.001)
        self.assertEqual(h.executed[-1], "12@c:1 NoOp(twelve)")

    def test_a_complete_unique_number_goes_at_once(self) -> None:
        h = self.start()
        h.channel.press("123")
        self.assertEqual(h.executed[-1], "123@c:1 NoOp(one-two-three)")

    def test_digit_timeout_is_configurable(self) -> None:
        h = self.start(
            WAITEXTEN.replace("WaitExten(${W})", "Set(TIMEOUT(digit)=2)\n same => n,WaitExten(9)")
        )
        h.channel.press("12")
        h.clock.advance(2)
        self.assertEqual(h.executed[-1], "12@c:1 NoOp(twelve)")
