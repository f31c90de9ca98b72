"""Application argument splitting and option strings (main/app.c)."""

from twisted.trial.unittest import SynchronousTestCase

from pbx.dialplan.args import parse_options, separate_args


class SeparateArgsTests(SynchronousTestCase):
    def test_table(self) -> None:
        table = [
            ("", []),
            ("a", ["a"]),
            ("a,b", ["a", "b"]),
            ("a,", ["a", ""]),
            (",", ["", ""]),
            ("a,,c", ["a", "", "c"]),
            ('a,"b,c",d', ["a", "b,c", "d"]),
            ("SIP/alice&SIP/bob,30,tT", ["SIP/alice&SIP/bob", "30", "tT"]),
            ("d(e,f),g", ["d(e,f)", "g"]),
            ("[a,b],c", ["[a,b]", "c"]),
            ("a\\,b,c", ["a,b", "c"]),
            ("a\\\\,b", ["a\\", "b"]),
            (")a,b", [")a", "b"]),
        ]
        for data, expected in table:
            self.assertEqual(separate_args(data), expected, data)

    def test_max_args_keeps_the_raw_rest(self) -> None:
        self.assertEqual(separate_args('a,"b",c', max_args=2), ["a", '"b",c'])
        self.assertEqual(separate_args("x,y,z", max_args=1), ["x,y,z"])

    def test_raw_mode_keeps_quotes_and_backslashes(self) -> None:
        self.assertEqual(separate_args('a,"b,c"', remove_chars=False), ["a", '"b,c"'])
        self.assertEqual(separate_args("a\\,b", remove_chars=False), ["a\\,b"])

    def test_other_delimiters(self) -> None:
        self.assertEqual(separate_args("x?y:z", "?", max_args=2), ["x", "y:z"])


class ParseOptionsTests(SynchronousTestCase):
    def test_flags_and_arguments(self) -> None:
        self.assertEqual(
            parse_options("tTm(jazz)g"), {"t": None, "T": None, "m": "jazz", "g": None}
        )
        self.assertEqual(parse_options("U(sub(a,b))"), {"U": "sub(a,b)"})
        self.assertEqual(parse_options(""), {})

    def test_unclosed_argument(self) -> None:
        with self.assertRaises(ValueError) as e:
            parse_options("m(jazz")
        self.assertEqual(str(e.exception), "missing closing parenthesis for option 'm'")
