"""Goto, GotoIf, Gosub, Return."""

import logging

from twisted.trial.unittest import SynchronousTestCase

from ..fakes import Harness

TARGETS = """
[c]
exten => 1,1,Goto(${T})
exten => 2,1,NoOp(two-1)
 same => n(lbl),NoOp(two-2)
[d]
exten => 3,1,NoOp(d3)
"""


class GotoTests(SynchronousTestCase):
    def first_jump(self, target: str) -> str:
        h = Harness(self, TARGETS)
        h.channel.variables["T"] = target
        h.start("c", "1")
        return h.executed[1]

    def test_target_forms(self) -> None:
        self.assertEqual(self.first_jump("2,1"), "2@c:1 NoOp(two-1)")
        self.assertEqual(self.first_jump("2,lbl"), "2@c:2 NoOp(two-2)")
        self.assertEqual(self.first_jump("d,3,1"), "3@d:1 NoOp(d3)")
        self.assertEqual(self.first_jump("c,2,lbl"), "2@c:2 NoOp(two-2)")

    def test_relative_priority(self) -> None:
        h = Harness(
            self, "[c]\nexten => 1,1,Goto(+2)\n same => n,NoOp(skipped)\n same => n,NoOp(three)\n"
        )
        h.start("c", "1")
        self.assertEqual(h.executed[1], "1@c:3 NoOp(three)")

    def test_negative_relative_priority(self) -> None:
        h = Harness(
            self,
            "[c]\nexten => 1,1,NoOp(${X})\n same => n,Set(X=${X}x)\n"
            " same => n,GotoIf($[${LEN(${X})} < 2]?-2)\n",
        )
        h.start("c", "1")
        self.assertEqual(
            h.executed,
            [
                "1@c:1 NoOp()",
                "1@c:2 Set(X=x)",
                "1@c:3 GotoIf(1?-2)",
                "1@c:1 NoOp(x)",
                "1@c:2 Set(X=xx)",
                "1@c:3 GotoIf(0?-2)",
            ],
        )

    def test_goto_logs_the_destination(self) -> None:
        h = Harness(self, TARGETS)
        h.channel.variables["T"] = "2,lbl"
        h.start("c", "1")
        self.assertIn("    -- Goto (c,2,2)", h.messages())

    def test_empty_goto_ends(self) -> None:
        h = Harness(self, "[c]\nexten => 1,1,Goto()\n same => n,NoOp(no)\n")
        h.start("c", "1")
        self.assertEqual(len(h.executed), 1)
        self.assertIn(
            "Goto requires an argument ([[context,]extension,]priority)",
            h.messages(logging.WARNING),
        )


class GotoIfTests(SynchronousTestCase):
    TEXT = (
        "[c]\nexten => 1,1,GotoIf($[${X} > 5]?big:small)\n"
        " same => n(big),NoOp(big)\n same => n,Hangup()\n"
        " same => n(small),NoOp(small)\n"
    )

    def run_with(self, text: str, x: str) -> list[str]:
        h = Harness(self, text)
        h.channel.variables["X"] = x
        h.start("c", "1")
        return h.executed

    def test_both_branches(self) -> None:
        self.assertEqual(self.run_with(self.TEXT, "9")[1], "1@c:2 NoOp(big)")
        self.assertEqual(self.run_with(self.TEXT, "1")[1], "1@c:4 NoOp(small)")

    def test_missing_branch_continues(self) -> None:
        text = (
            "[c]\nexten => 1,1,GotoIf(${X}?2,1)\n same => n,NoOp(next)\nexten => 2,1,NoOp(jumped)\n"
        )
        self.assertEqual(self.run_with(text, "0")[1], "1@c:2 NoOp(next)")
        self.assertEqual(self.run_with(text, "1")[1], "2@c:1 NoOp(jumped)")
        self.assertEqual(self.run_with(text, "")[1], "1@c:2 NoOp(next)")
        self.assertEqual(self.run_with(text, "yes")[1], "2@c:1 NoOp(jumped)")

    def test_false_only_branch(self) -> None:
        text = (
            "[c]\nexten => 1,1,GotoIf(${X}?:no)\n same => n,NoOp(next)\n same => n(no),NoOp(no)\n"
        )
        self.assertEqual(self.run_with(text, "0")[1], "1@c:3 NoOp(no)")
        self.assertEqual(self.run_with(text, "1")[1], "1@c:2 NoOp(next)")


GOSUB = """
[c]
exten => 1,1,Set(ARG1=outer)
 same => n,Gosub(sub,s,1(a,b c))
 same => n,NoOp(back: ${GOSUB_RETVAL} ${ARG1} ${ARG2})
[sub]
exten => s,1,NoOp(args: ${ARG1} ${ARG2})
 same => n,Gosub(inner,s,1(x))
 same => n,NoOp(after inner: ${ARG1} ${ARG2} ${GOSUB_RETVAL})
 same => n,Return(${ARG1}+${ARG2})
[inner]
exten => s,1,NoOp(inner: ${ARG1} ${ARG2})
 same => n,Return(done)
"""


class GosubTests(SynchronousTestCase):
    def test_arguments_nesting_and_return_values(self) -> None:
        h = Harness(self, GOSUB)
        h.start("c", "1")
        self.assertEqual(
            h.executed,
            [
                "1@c:1 Set(ARG1=outer)",
                "1@c:2 Gosub(sub,s,1(a,b c))",
                "s@sub:1 NoOp(args: a b c)",
                "s@sub:2 Gosub(inner,s,1(x))",
                "s@inner:1 NoOp(inner: x )",
                "s@inner:2 Return(done)",
                "s@sub:3 NoOp(after inner: a b c done)",
                "s@sub:4 Return(a+b c)",
                "1@c:3 NoOp(back: a+b c outer )",
            ],
        )

    def test_gosub_to_nowhere_ends(self) -> None:
        h = Harness(self, "[c]\nexten => 1,1,Gosub(nosuch,s,1)\n same => n,NoOp(no)\n")
        h.start("c", "1")
        self.assertEqual(len(h.executed), 1)
        self.assertIn(
            "SIP/alice-00000001 attempted to reach non-existent destination 'nosuch,s,1' from "
            "'c,1,1'",
            h.messages(logging.ERROR),
        )
        self.assertEqual(h.results[0].exten, "1")

    def test_return_without_gosub_ends(self) -> None:
        h = Harness(self, "[c]\nexten => 1,1,Return()\n same => n,NoOp(no)\n")
        h.start("c", "1")
        self.assertIn("Return without Gosub: stack is empty", h.messages(logging.ERROR))
        self.assertEqual(len(h.executed), 1)

    def test_gosub_by_label(self) -> None:
        h = Harness(
            self,
            "[c]\nexten => 1,1,Gosub(sub)\n same => n,NoOp(${GOSUB_RETVAL})\n"
            " same => n(sub),Return(lbl)\n",
        )
        h.start("c", "1")
        self.assertEqual(
            h.executed[1:], ["1@c:3 Return(lbl)", "1@c:2 NoOp(lbl)", "1@c:3 Return(lbl)"]
        )
        self.assertIn("Return without Gosub: stack is empty", h.messages(logging.ERROR))
