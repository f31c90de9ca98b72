"""$[...] expressions against ast_expr2 semantics."""

import logging

from twisted.trial.unittest import SynchronousTestCase

from pbx.dialplan.expr import evaluate, format_number

TABLE = [
    # arithmetic (long double in Asterisk: division is not integer division)
    ("1+2", "3"),
    ("1 + 2 * 3", "7"),
    ("(1 + 2) * 3", "9"),
    ("7/2", "3.5"),
    ("10/3", "3.33333333333333333"),
    ("6/3", "2"),
    ("7 % 3", "1"),
    ("-7 % 3", "-1"),
    ("2 - 5", "-3"),
    ("- 3 * 2", "-6"),
    ("1.5 + 1.5", "3"),
    ("0.1 + 0.2", "0.3"),
    ("007", "007"),
    ("007 + 0", "7"),
    # comparisons: numeric when both are numbers, else string compare
    ("2 = 2", "1"),
    ("2 == 2.0", "1"),
    ("10 > 9", "1"),
    ("abc < abd", "1"),
    ("10 < 9", "0"),
    ("abc = abc", "1"),
    ("abc != abc", "0"),
    ("10 >= 10", "1"),
    ("a <= b", "1"),
    ('"abc" = abc', "0"),
    ('"abc" = "abc"', "1"),
    ("10 < 9a", "1"),
    # logic
    ("1 & 0", "0"),
    ("abc & def", "abc"),
    ("0 | def", "def"),
    ("abc || 0", "abc"),
    ("!0", "1"),
    ("!1", "0"),
    ("!abc", "1"),
    # ternary
    ("1 ? yes :: no", "yes"),
    ("0 ? yes :: no", "no"),
    ('"" ? yes :: no', "no"),
    ("abc ? yes :: no", "yes"),
    ("1 ? 0 ? a :: b :: c", "b"),
    ("2 > 1 ? big :: small", "big"),
    # regex: ':' is anchored, '=~' is not
    ("abcde : ab", "2"),
    ("abcde : bc", "0"),
    ("abcde =~ bc", "2"),
    ('abcde : "a(b.)"', "bc"),
    ('abcde : "x(y)"', ""),
    ('"2125551234" : "212(.*)"', "5551234"),
    ('8005551212 : "[[:digit:]]{3}"', "3"),
    ("ab ~~ cd", "abcd"),
    # functions
    ("ABS(-3)", "3"),
    ("SQRT(16)", "4"),
    ("FLOOR(2.7) + CEIL(2.2)", "5"),
    ("POW(2,10)", "1024"),
    # quotes and empties
    ('"hello world"', '"hello world"'),
    ("", ""),
    ("   ", ""),
    ("abc", "abc"),
]


class EvaluateTests(SynchronousTestCase):
    def test_table(self) -> None:
        for expression, expected in TABLE:
            self.assertEqual(evaluate(expression), expected, expression)

    def test_syntax_error_is_zero_with_a_warning(self) -> None:
        with self.assertLogs("pbx.dialplan.expr", logging.WARNING) as logs:
            self.assertEqual(evaluate("1 +"), "0")
            self.assertEqual(evaluate("(1"), "0")
            self.assertEqual(evaluate("1 ? 2"), "0")
            self.assertEqual(evaluate("!"), "0")
        self.assertEqual(len(logs.records), 4)
        self.assertIn("syntax error", logs.output[0])

    def test_division_by_zero(self) -> None:
        with self.assertLogs("pbx.dialplan.expr", logging.WARNING) as logs:
            self.assertEqual(evaluate("5 / 0"), "2147483647")
            self.assertEqual(evaluate("5 % 0"), "0")
        self.assertIn("division by zero", logs.output[0])

    def test_non_numeric_arithmetic(self) -> None:
        with self.assertLogs("pbx.dialplan.expr", logging.WARNING):
            self.assertEqual(evaluate("abc + 1"), "1")
            self.assertEqual(evaluate("abc * 2"), "0")
            self.assertEqual(evaluate("abc - 1"), "-1")
        self.assertEqual(evaluate("2 + abc"), "2")

    def test_bad_regex(self) -> None:
        with self.assertLogs("pbx.dialplan.expr", logging.WARNING):
            self.assertEqual(evaluate('abc : "(("'), "")

    def test_dialplan_functions(self) -> None:
        calls: list[tuple[str, str]] = []

        def call(name: str, args: str) -> str | None:
            calls.append((name, args))
            return {"LEN": str(len(args)), "NAME": "bob"}.get(name)

        self.assertEqual(evaluate("LEN(hello) + 1", call), "6")
        self.assertEqual(evaluate("NAME(x) = bob", call), "1")
        self.assertEqual(calls, [("LEN", "hello"), ("NAME", "x")])
        with self.assertLogs("pbx.dialplan.expr", logging.ERROR):
            self.assertEqual(evaluate("NOPE(1)", call), "0")
            self.assertEqual(evaluate("lower(1)", call), "0")
            # As in Asterisk, an unquoted regex with a group parses as a function call.
            self.assertEqual(evaluate("abcde : a(b.)", call), "0")


class FormatTests(SynchronousTestCase):
    def test_printf_g(self) -> None:
        from fractions import Fraction

        table = [
            (Fraction(0), "0"),
            (Fraction(1200), "1200"),
            (Fraction(-1, 4), "-0.25"),
            (Fraction(1, 10000), "0.0001"),
            (Fraction(1, 100000), "1e-05"),
            (Fraction(10**18), "1e+18"),
            (Fraction(123456789012345678), "123456789012345678"),
            (Fraction(2, 3), "0.666666666666666667"),
        ]
        for value, text in table:
            self.assertEqual(format_number(value), text, value)
