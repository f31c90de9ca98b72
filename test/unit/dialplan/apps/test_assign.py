"""Set and MSet."""

import logging

from twisted.trial.unittest import SynchronousTestCase

from ..fakes import Harness


class SetTests(SynchronousTestCase):
    def run_lines(self, *lines: str) -> Harness:
        text = "[c]\n" + "".join(f"exten => 1,{i},{line}\n" for i, line in enumerate(lines, 1))
        h = Harness(self, text)
        h.start("c", "1")
        return h

    def test_value_keeps_commas_and_equals(self) -> None:
        h = self.run_lines("Set(A=1,B=2)", "Set(URL=a=b)")
        self.assertEqual(h.channel.variables["A"], "1,B=2")
        self.assertEqual(h.channel.variables["URL"], "a=b")

    def test_empty_value_unsets(self) -> None:
        h = self.run_lines("Set(A=1)", "Set(A=)")
        self.assertNotIn("A", h.channel.variables)

    def test_inheritance_prefixes_replace_each_other(self) -> None:
        h = self.run_lines("Set(_A=1)", "NoOp(${A})", "Set(__A=2)")
        self.assertEqual(h.executed[1], "1@c:2 NoOp(1)")
        self.assertEqual(h.channel.variables, {"__A": "2", "HANGUPCAUSE": "16"})

    def test_global_and_functions(self) -> None:
        h = self.run_lines("Set(GLOBAL(G)=shared)", "Set(CALLERID(num)=2001)", "NoOp(${G})")
        self.assertEqual(h.globals["G"], "shared")
        self.assertEqual(h.channel.caller_id_num, "2001")
        self.assertEqual(h.executed[2], "1@c:3 NoOp(shared)")

    def test_without_equals_warns(self) -> None:
        h = self.run_lines("Set(A)", "NoOp(next)")
        self.assertIn("Set requires an '=' to be a valid assignment.", h.messages(logging.WARNING))
        self.assertEqual(len(h.executed), 2)

    def test_spaces_in_names_warn(self) -> None:
        h = self.run_lines("Set(A =1)")
        self.assertIn("Please avoid unnecessary spaces", h.messages(logging.WARNING)[0])

    def test_unwritable_function(self) -> None:
        h = self.run_lines("Set(LEN(x)=3)")
        self.assertIn("Function LEN cannot be written to", h.messages(logging.ERROR))

    def test_mset(self) -> None:
        h = self.run_lines('MSet(A=1,B="two, three",C=x\\,y,bogus)')
        variables = h.channel.variables
        self.assertEqual(
            (variables["A"], variables["B"], variables["C"]), ("1", "two, three", "x,y")
        )
        self.assertIn("MSet: ignoring entry 'bogus' with no '='", h.messages(logging.WARNING))
