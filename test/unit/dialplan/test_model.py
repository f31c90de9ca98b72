"""Dialplan lookups (pbx_find_extension): order, includes, caller ID, labels, overlap."""

from twisted.trial.unittest import SynchronousTestCase

from pbx.dialplan.model import Dialplan
from pbx.dialplan.parser import loads


def build(text: str) -> Dialplan:
    result = loads(text, "t.conf")
    assert not result.errors, [str(e) for e in result.errors]
    return result.dialplan


def app_data(dialplan: Dialplan, context: str, exten: str, priority: int = 1,
             callerid: str | None = None) -> str | None:  # fmt: skip
    found = dialplan.find(context, exten, priority, callerid)
    return None if found is None else found.priority.data


ORDER = """
[c]
exten => _1X,1,NoOp(1X)
exten => _12.,1,NoOp(12.)
exten => 123,1,NoOp(literal)
exten => _X.,1,NoOp(X.)
exten => _X.,2,NoOp(X. two)
exten => _NXX-XXXX,1,NoOp(seven)
exten => _[15-7]XX,1,NoOp(set)
exten => _9!,1,NoOp(bang)
"""


class OrderTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.dp = build(ORDER)

    def test_literal_beats_patterns(self) -> None:
        self.assertEqual(app_data(self.dp, "c", "123"), "literal")

    def test_more_specific_position_wins(self) -> None:
        self.assertEqual(app_data(self.dp, "c", "12"), "1X")  # _12. needs a third character
        self.assertEqual(app_data(self.dp, "c", "124"), "12.")
        self.assertEqual(app_data(self.dp, "c", "13"), "1X")

    def test_sets_and_dashes(self) -> None:
        self.assertEqual(app_data(self.dp, "c", "555"), "set")
        self.assertEqual(app_data(self.dp, "c", "5551234"), "seven")
        self.assertEqual(app_data(self.dp, "c", "455"), "X.")

    def test_missing_priority_falls_to_the_next_matching_extension(self) -> None:
        # _1X has no priority 2, so the lookup continues with _X. (pbx_find_extension).
        self.assertEqual(app_data(self.dp, "c", "13", 2), "X. two")

    def test_bang(self) -> None:
        self.assertEqual(app_data(self.dp, "c", "9"), "bang")
        self.assertFalse(self.dp.match_more("c", "9"))
        self.assertTrue(self.dp.can_match("c", "9"))

    def test_order_of_the_context(self) -> None:
        names = [e.name.text for e in self.dp.contexts["c"].extensions]
        self.assertEqual(names, ["123", "_12.", "_1X", "_9!", "_[15-7]XX", "_NXX-XXXX", "_X."])

    def test_special_extensions_need_a_catch_all(self) -> None:
        self.assertIsNone(app_data(self.dp, "c", "h"))
        self.assertEqual(app_data(build("[c]\nexten => _.,1,NoOp(any)\n"), "c", "h"), "any")


INCLUDES = """
[a]
exten => 1,1,NoOp(a1)
include => b
include => c
[b]
exten => 2,1,NoOp(b2)
include => a
include => d
[c]
exten => 2,1,NoOp(c2)
exten => 3,1,NoOp(c3)
[d]
exten => 4,1,NoOp(d4)
exten => _5!,1,NoOp(early)
include => e
[e]
exten => 567,1,NoOp(e567)
"""


class IncludeTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.dp = build(INCLUDES)

    def test_depth_first_in_listed_order(self) -> None:
        self.assertEqual(app_data(self.dp, "a", "2"), "b2")
        self.assertEqual(app_data(self.dp, "a", "3"), "c3")
        self.assertEqual(app_data(self.dp, "a", "4"), "d4")

    def test_found_context_is_reported(self) -> None:
        found = self.dp.find("a", "3", 1)
        assert found is not None
        self.assertEqual(found.context, "c")

    def test_cycles_are_harmless(self) -> None:
        self.assertIsNone(self.dp.find("b", "99", 1))
        self.assertEqual(app_data(self.dp, "b", "1"), "a1")

    def test_unknown_context(self) -> None:
        self.assertIsNone(self.dp.find("nope", "1", 1))
        self.assertFalse(self.dp.exists("nope", "1"))

    def test_overlap_queries(self) -> None:
        self.assertTrue(self.dp.can_match("a", ""))
        self.assertFalse(self.dp.match_more("c", "3"))
        self.assertTrue(self.dp.can_match("c", "3"))
        # "5" matches _5! early in [d]: final, so [e]'s 567 is not consulted.
        self.assertFalse(self.dp.match_more("d", "5"))
        self.assertTrue(self.dp.can_match("d", "5"))
        self.assertTrue(self.dp.match_more("e", "5"))
        # A context whose own extension wants more digits answers before reaching [d].
        dp = build("[x]\nexten => 55,1,NoOp()\ninclude => d\n" + INCLUDES)
        self.assertTrue(dp.match_more("x", "5"))


class CallerIdTests(SynchronousTestCase):
    def test_cid_variants_first_and_empty_cid(self) -> None:
        dp = build(
            "[c]\n"
            "exten => 100,1,NoOp(anyone)\n"
            "exten => 100/_2XXX,1,NoOp(desk)\n"
            "exten => 100/,1,NoOp(anonymous)\n"
        )
        self.assertEqual(app_data(dp, "c", "100", callerid="2001"), "desk")
        self.assertEqual(app_data(dp, "c", "100", callerid="1001"), "anyone")
        self.assertEqual(app_data(dp, "c", "100", callerid=None), "anonymous")


class LabelTests(SynchronousTestCase):
    def test_find_label_through_includes(self) -> None:
        dp = build("[a]\ninclude => b\n[b]\nexten => s,1,NoOp()\n same => n(here),NoOp()\n")
        self.assertEqual(dp.find_label("a", "s", "here"), 2)
        self.assertIsNone(dp.find_label("a", "s", "nowhere"))

    def test_counts(self) -> None:
        dp = build(ORDER)
        self.assertEqual(dp.counts(), (7, 8))
