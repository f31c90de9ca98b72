"""NoOp, Verbose, Log, UserEvent."""

import logging

from twisted.trial.unittest import SynchronousTestCase

from ..fakes import Harness


class MessageTests(SynchronousTestCase):
    def run_line(self, line: str) -> Harness:
        h = Harness(self, f"[c]\nexten => 1,1,{line}\n same => n,NoOp(next)\n")
        h.start("c", "1")
        self.assertEqual(h.executed[-1], "1@c:2 NoOp(next)")
        return h

    def test_verbose_levels(self) -> None:
        # The text is the raw rest of the data, commas included (AST_STANDARD_APP_ARGS).
        self.assertIn("  == hello, world", self.run_line("Verbose(2,hello, world)").messages())
        self.assertIn("just text", self.run_line("Verbose(just text)").messages())
        h = self.run_line("Verbose(loud,text)")
        self.assertIn("'loud' is not a verboser number", h.messages(logging.WARNING))

    def test_log(self) -> None:
        h = self.run_line("Log(WARNING,disk ${EXTEN} full)")
        records = [r for r in h.records if r.name == "pbx.dialplan.Log"]
        self.assertEqual([(r.levelno, r.getMessage()) for r in records],
                         [(logging.WARNING, "Ext. 1 @ c: disk 1 full")])  # fmt: skip
        h = self.run_line("Log(LOUD,x)")
        self.assertIn("Unknown log level 'LOUD'", h.messages(logging.WARNING))

    def test_user_event(self) -> None:
        h = self.run_line("UserEvent(Ready,status: ok)")
        self.assertIn("UserEvent Ready: status: ok", h.messages())
