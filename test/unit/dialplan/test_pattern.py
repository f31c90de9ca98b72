"""Extension patterns: the (pattern, dialed, match) table and ext_cmp ordering (main/pbx.c)."""

from twisted.trial.unittest import SynchronousTestCase

from pbx.dialplan.pattern import (
    CANMATCH,
    EARLY,
    MATCH,
    MATCHMORE,
    NO,
    YES,
    PatternError,
    can_match,
    compile_name,
    could_match_more,
    match,
    shrink_callerid,
)

# (pattern, dialed, complete match?) in the style of Asterisk's test_pbx.c.
MATCH_TABLE = [
    ("100", "100", True),
    ("100", "1000", False),
    ("100", "10", False),
    ("555-1234", "5551234", True),
    ("555-1234", "555-1234", True),
    ("s", "s", True),
    ("_X", "0", True),
    ("_X", "a", False),
    ("_x", "9", True),
    ("_Z", "0", False),
    ("_Z", "1", True),
    ("_N", "1", False),
    ("_N", "2", True),
    ("_NXX", "200", True),
    ("_NXX", "199", False),
    ("_NXX", "20", False),
    ("_NXX", "2000", False),
    ("_NXX-XXXX", "5551234", True),
    ("_NXX-XXXX", "555-1234", True),
    ("_NXX-XXXX", "1551234", False),
    ("_[15-7]", "1", True),
    ("_[15-7]", "6", True),
    ("_[15-7]", "4", False),
    ("_[15-7]", "8", False),
    ("_[a-c]X", "b5", True),
    ("_[a-c]X", "d5", False),
    ("_[-1]", "-", False),  # '-' in the dialed string is ignored, like in the pattern
    ("_1[]2", "12", True),  # an empty set is skipped
    ("_1.", "1", False),
    ("_1.", "12", True),
    ("_1.", "1abc", True),
    ("_1!", "1", True),
    ("_1!", "123", True),
    ("_1!", "2", False),
    ("_.", "h", True),
    ("_X.", "s", False),
    ("_12.", "123", True),
    ("_1X", "12", True),
    ("_1X", "123", False),
    ("_alice", "alice", True),
    ("_ALICE", "alice", False),
]


class MatchTests(SynchronousTestCase):
    def test_table(self) -> None:
        for pattern, dialed, expected in MATCH_TABLE:
            self.assertEqual(match(pattern, dialed), expected, (pattern, dialed))

    def test_pattern_given_as_data_matches_itself(self) -> None:
        self.assertTrue(match("_X.", "_X."))
        self.assertFalse(match("_X.", "_N."))

    def test_modes(self) -> None:
        name = compile_name("_NXX")
        self.assertEqual(name.match("2", MATCH), NO)
        self.assertEqual(name.match("2", CANMATCH), YES)
        self.assertEqual(name.match("2", MATCHMORE), YES)
        self.assertEqual(name.match("200", MATCHMORE), NO)
        self.assertEqual(name.match("200", CANMATCH), YES)
        self.assertEqual(name.match("", CANMATCH), YES)

    def test_literal_modes(self) -> None:
        name = compile_name("1001")
        self.assertEqual(name.match("10", CANMATCH), YES)
        self.assertEqual(name.match("10", MATCHMORE), YES)
        self.assertEqual(name.match("1001", MATCHMORE), NO)
        self.assertEqual(name.match("1001", CANMATCH), YES)
        self.assertEqual(name.match("11", CANMATCH), NO)
        self.assertEqual(name.match("", MATCHMORE), YES)

    def test_bang_is_an_early_match(self) -> None:
        name = compile_name("_1!")
        self.assertEqual(name.match("1", MATCH), EARLY)
        self.assertEqual(name.match("1", MATCHMORE), EARLY)
        self.assertEqual(name.match("", MATCHMORE), YES)

    def test_overlap_helpers(self) -> None:
        self.assertTrue(could_match_more("_NXX", "55"))
        self.assertFalse(could_match_more("_NXX", "555"))
        self.assertFalse(could_match_more("_1!", "1"))
        self.assertTrue(could_match_more("_1.", "1"))
        self.assertTrue(can_match("_1.", "1"))
        self.assertFalse(can_match("_2.", "1"))

    def test_unterminated_set(self) -> None:
        with self.assertRaises(PatternError) as e:
            compile_name("_1[23")
        self.assertEqual(str(e.exception), "pattern '_1[23': '[' without a closing ']'")


class OrderTests(SynchronousTestCase):
    def ordered(self, *names: str) -> list[str]:
        return sorted(names, key=lambda n: compile_name(n).sort_key)

    def test_reference_example(self) -> None:
        # §3.2: _12. beats _1X even though _1X is "longer".
        self.assertEqual(self.ordered("_1X", "_12."), ["_12.", "_1X"])

    def test_literals_before_patterns(self) -> None:
        self.assertEqual(self.ordered("_X.", "_1", "500", "100"), ["100", "500", "_1", "_X."])

    def test_smaller_sets_first(self) -> None:
        self.assertEqual(
            self.ordered("_!", "_.", "_X", "_Z", "_N", "_5", "_[1-3]"),
            ["_5", "_[1-3]", "_N", "_Z", "_X", "_.", "_!"],
        )

    def test_position_by_position(self) -> None:
        self.assertEqual(self.ordered("_NXX", "_2XX", "_NX5"), ["_2XX", "_NX5", "_NXX"])
        # At the end of a pattern, '.' continues and sorts before "end of pattern".
        self.assertEqual(self.ordered("_1X", "_1X."), ["_1X.", "_1X"])

    def test_equal_sized_sets_lowest_first(self) -> None:
        self.assertEqual(self.ordered("_[89]", "_[12]", "_[23]"), ["_[12]", "_[23]", "_[89]"])

    def test_dash_is_ignored(self) -> None:
        self.assertEqual(compile_name("_NXX-XXXX").sort_key, compile_name("_NXXXXXX").sort_key)


class WarningTests(SynchronousTestCase):
    def test_catch_all_patterns_warn(self) -> None:
        for text in ("_.", "_!"):
            (warning,) = compile_name(text).warnings
            self.assertIn("matches everything", warning)

    def test_text_after_wildcard_warns(self) -> None:
        (warning,) = compile_name("_1.2").warnings
        self.assertEqual(warning, "pattern '_1.2': '2' after '.' can never be matched")
        self.assertEqual(compile_name("_1[.]2").warnings, ())
        self.assertEqual(compile_name("_X.").warnings, ())


class ShrinkTests(SynchronousTestCase):
    def test_shrink_callerid(self) -> None:
        self.assertEqual(shrink_callerid("(555) 123-4567"), "5551234567")
        self.assertEqual(shrink_callerid("_555.1."), "_5551.")
        self.assertEqual(shrink_callerid("_[0-5]XX"), "_[0-5]XX")
