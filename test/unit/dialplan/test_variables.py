"""${...} / $[...] substitution (main/pbx_variables.c)."""

import logging

from twisted.trial.unittest import SynchronousTestCase

from pbx.dialplan.variables import (
    INT_MAX,
    MappingScope,
    split_function,
    split_variable_name,
    substitute,
    substring,
)


class TableScope:
    """Variables from a dict; CUTFIRST/LEN/ECHO functions; records function calls."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values
        self.calls: list[tuple[str, str]] = []

    def lookup(self, name: str) -> str | None:
        return self.values.get(name)

    def call(self, name: str, args: str) -> str | None:
        self.calls.append((name, args))
        if name == "LEN":
            return str(len(args))
        if name == "ECHO":
            return args
        if name == "CUTFIRST":
            return args.split(",")[0]
        return None


VALUES = {
    "EXTEN": "91234567",
    "NAME": "alice",
    "X": "NAME",
    "Y": "X",
    "ARRAY_2": "two",
    "I": "2",
    "EMPTY": "",
    "N": "5",
    "PRICE": "$5",
}

TABLE = [
    ("plain text", "plain text"),
    ("${NAME}", "alice"),
    ("<${NAME}>", "<alice>"),
    ("${UNSET}", ""),
    ("a${UNSET}b", "ab"),
    ("${EXTEN:1}", "1234567"),
    ("${EXTEN:-4}", "4567"),
    ("${EXTEN:1:3}", "123"),
    ("${EXTEN:-4:2}", "45"),
    ("${EXTEN:0:-2}", "912345"),
    ("${EXTEN:2:-2}", "2345"),
    ("${EXTEN:-20}", "91234567"),
    ("${EXTEN:20}", ""),
    ("${EXTEN:6:-5}", ""),
    ("${EXTEN::2}", "91234567"),
    ("${${X}}", "alice"),
    ("${${${Y}}}", "alice"),
    ("${ARRAY_${I}}", "two"),
    ("${LEN(${NAME})}", "5"),
    ("${LEN(hello world)}", "11"),
    ("${ECHO(${EXTEN:1:2})}", "12"),
    ("${CUTFIRST(a,b,c):0:1}", "a"),
    ("${NOSUCHFUNC(x)}", ""),
    ("$[1 + ${N}]", "6"),
    ("$[${N} * 2]x", "10x"),
    ("$[$[1+1] * 3]", "6"),
    ("${ECHO($[2+2])}", "4"),
    ("cost: $5", "cost: $5"),
    ("${PRICE}", "$5"),
    ("\\${NAME}", "${NAME}"),
    ("a\\$[1+1]", "a$[1+1]"),
    ("$", "$"),
    ("$$${NAME}", "$$alice"),
]


class SubstituteTests(SynchronousTestCase):
    def test_table(self) -> None:
        for template, expected in TABLE:
            self.assertEqual(substitute(template, TableScope(VALUES)), expected, template)

    def test_values_are_not_substituted_again(self) -> None:
        scope = TableScope({"A": "${B}", "B": "no"})
        self.assertEqual(substitute("${A}", scope), "${B}")

    def test_missing_brace_warns_and_uses_the_rest(self) -> None:
        with self.assertLogs("pbx.dialplan.variables", logging.WARNING) as logs:
            self.assertEqual(substitute("x${NAME", TableScope(VALUES)), "xalice")
        self.assertIn("missing '}'", logs.output[0])

    def test_function_arguments_are_substituted_first(self) -> None:
        scope = TableScope(VALUES)
        substitute("${ECHO(${NAME},${I})}", scope)
        self.assertEqual(scope.calls, [("ECHO", "alice,2")])

    def test_mapping_scope_has_no_functions(self) -> None:
        scope = MappingScope({"A": "1"})
        self.assertEqual(substitute("${A}", scope), "1")
        with self.assertLogs("pbx.dialplan.variables", logging.WARNING):
            self.assertEqual(substitute("${LEN(x)}", scope), "")


class HelperTests(SynchronousTestCase):
    def test_split_variable_name(self) -> None:
        self.assertEqual(split_variable_name("EXTEN"), ("EXTEN", 0, INT_MAX, False))
        self.assertEqual(split_variable_name("EXTEN:1"), ("EXTEN", 1, INT_MAX, False))
        self.assertEqual(split_variable_name("EXTEN:-3:2"), ("EXTEN", -3, 2, False))
        self.assertEqual(split_variable_name("CUT(a,b:c,1):2:3"), ("CUT(a,b:c,1)", 2, 3, True))
        self.assertEqual(split_variable_name("X:abc"), ("X", 0, INT_MAX, False))

    def test_substring(self) -> None:
        self.assertEqual(substring("abcdef", 0, INT_MAX), "abcdef")
        self.assertEqual(substring("abcdef", -2, INT_MAX), "ef")
        self.assertEqual(substring("abcdef", 1, -1), "bcde")
        self.assertEqual(substring("abcdef", 0, 0), "")

    def test_split_function(self) -> None:
        self.assertEqual(split_function("CUT(a,b,c)"), ("CUT", "a,b,c"))
        self.assertEqual(split_function("IF(1?(x):y)"), ("IF", "1?(x):y"))
        self.assertEqual(split_function("LEN"), ("LEN", ""))
        with self.assertLogs("pbx.dialplan.variables", logging.WARNING):
            self.assertEqual(split_function("LEN(abc"), ("LEN", "abc"))
