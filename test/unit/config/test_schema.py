"""Tests for pbx.config.schema: option tables, section parsing, diagnostics, help text."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from pbx.config import parsers as p
from pbx.config.model import loads
from pbx.config.schema import (
    Diagnostics,
    Option,
    OptionTable,
    Scope,
    Status,
    Values,
    finish,
    format_table,
    obsolete,
    parse_section,
    unsupported,
)
from pbx.core.errors import ConfigError, ConfigErrors

NAME = Option("name", p.TEXT, "", "A name.", deprecated_aliases=("username",), scope=Scope.DEVICE)
PORT = Option("port", p.integer(1, 65535), 5060, "A port.", aliases=("bindport",))
QUALIFY = Option("qualify", p.BOOL, False, "Ping.", scope=Scope.BOTH)
CALLERID = Option("callerid", p.TEXT, "", "Caller ID.", scope=Scope.BOTH, inherit=False)
ALLOW = Option("allow", p.TEXT, None, "Codecs.", scope=Scope.BOTH, multi=True)
OLDPORT = Option("oldport", p.integer(1), None, "Old.", status=Status.DEPRECATED, note="use port")


def _note(text: str, ctx: p.ParseContext) -> str:
    ctx.warn(f"'{text}' was adjusted")
    return text.upper()


NOTED = Option("noted", p.ValueType("text", "text", _note), "", "Adjusted.")

TABLE = OptionTable(
    "test.conf",
    (
        NAME,
        PORT,
        QUALIFY,
        CALLERID,
        ALLOW,
        OLDPORT,
        NOTED,
        unsupported("callgroup", "Groups.", Scope.BOTH),
        obsolete("registertrying", "removed in Asterisk 11", "Trying."),
    ),
    elsewhere={"rtpstart": "rtp.conf"},
)


def run(
    text: str, scope: Scope = Scope.GENERAL, parent: Values | None = None
) -> tuple[Values, list[str], list[str]]:
    cfg = loads(text, "t.conf")
    diag = Diagnostics()
    section = next(cfg.sections())
    values = parse_section(section, TABLE, scope, diag, "/cfg", parent)
    return values, [str(e) for e in diag.errors], [str(w) for w in diag.warnings]


class ParseSectionTests(SynchronousTestCase):
    def test_values_and_defaults(self) -> None:
        values, errors, warnings = run("[general]\nPort = 5070\nqualify=yes\n")
        self.assertEqual((errors, warnings), ([], []))
        self.assertEqual(values.get(PORT), 5070)
        self.assertIs(values.get(QUALIFY), True)
        self.assertEqual(values.get(CALLERID), "")
        self.assertTrue(values.explicit(PORT))
        self.assertFalse(values.explicit(CALLERID))
        item = values.item(PORT)
        assert item is not None
        self.assertEqual((item.line, item.key), (2, "Port"))

    def test_unknown_option_with_suggestion(self) -> None:
        _, errors, _ = run("[alice]\nqualfy=yes\nzzzz=1\n", Scope.DEVICE)
        self.assertEqual(
            errors,
            [
                "t.conf:2: [alice] unknown option 'qualfy' (did you mean 'qualify'?)",
                "t.conf:3: [alice] unknown option 'zzzz'",
            ],
        )

    def test_bad_value_names_the_option_and_what_is_allowed(self) -> None:
        values, errors, _ = run("[general]\nport=99999\nqualify=maybe\n")
        self.assertEqual(
            errors,
            [
                "t.conf:2: [general] option 'port': expected a whole number from 1 to 65535, "
                "got '99999'",
                "t.conf:3: [general] option 'qualify': expected yes or no, got 'maybe'",
            ],
        )
        self.assertEqual(values.get(PORT), 5060)

    def test_aliases(self) -> None:
        values, errors, warnings = run("[alice]\nbindport=5062\nusername=al\n", Scope.GENERAL)
        self.assertEqual(errors, [])
        self.assertEqual(values.get(PORT), 5062)
        self.assertEqual(
            warnings,
            [
                "t.conf:3: [alice] option 'username' is deprecated, use 'name'",
                "t.conf:3: [alice] option 'username' is only valid in a device section; "
                "ignored here",
            ],
        )

    def test_unsupported_and_obsolete_warn_once_per_line(self) -> None:
        _, errors, warnings = run(
            "[general]\ncallgroup=1\ncallgroup=2\nregistertrying=yes\nrtpstart=10000\n"
        )
        self.assertEqual(errors, [])
        self.assertEqual(
            warnings,
            [
                "t.conf:2: [general] option 'callgroup' is not supported by pbx and is ignored",
                "t.conf:3: [general] option 'callgroup' is not supported by pbx and is ignored",
                "t.conf:4: [general] option 'registertrying' is obsolete, removed in "
                "Asterisk 11; ignored",
                "t.conf:5: [general] option 'rtpstart' belongs in rtp.conf, not here; ignored",
            ],
        )

    def test_deprecated_option_is_used_with_a_warning(self) -> None:
        values, _, warnings = run("[general]\noldport=7\n")
        self.assertEqual(values.get(OLDPORT), 7)
        self.assertEqual(warnings, ["t.conf:2: [general] option 'oldport' is deprecated, use port"])

    def test_scope(self) -> None:
        _, _, warnings = run("[alice]\nport=5061\n", Scope.DEVICE)
        self.assertEqual(
            warnings, ["t.conf:2: [alice] option 'port' is only valid in [general]; ignored here"]
        )

    def test_parser_notes_become_warnings(self) -> None:
        values, _, warnings = run("[general]\nnoted=abc\n")
        self.assertEqual(values.get(NOTED), "ABC")
        self.assertEqual(warnings, ["t.conf:2: [general] option 'noted': 'abc' was adjusted"])

    def test_device_values_fall_back_to_general(self) -> None:
        general, _, _ = run("[general]\nqualify=yes\ncallerid=asterisk\nallow=ulaw\n")
        device, _, _ = run("[alice]\nallow=alaw\n", Scope.DEVICE, general)
        self.assertIs(device.get(QUALIFY), True)
        self.assertFalse(device.explicit(QUALIFY))
        item = device.item(QUALIFY)
        assert item is not None
        self.assertEqual(item.section, "general")
        # callerid in [general] is a different setting: not inherited.
        self.assertEqual(device.get(CALLERID), "")
        self.assertIsNone(device.item(CALLERID))
        self.assertEqual([e.value for e in device.entries(ALLOW)], ["ulaw", "alaw"])
        self.assertTrue(device.explicit(ALLOW))


class DiagnosticsTests(SynchronousTestCase):
    def test_same_message_at_same_line_is_reported_once(self) -> None:
        diag = Diagnostics()
        diag.error("t.conf", 3, "bad", "tpl")
        diag.error("t.conf", 3, "bad", "tpl")
        diag.warn("t.conf", 3, "bad", "tpl")
        self.assertEqual(len(diag.errors), 1)
        self.assertEqual(len(diag.warnings), 1)

    def test_sort_by_file_then_line(self) -> None:
        diag = Diagnostics()
        diag.error("b.conf", 1, "x")
        diag.error("a.conf", 9, "y")
        diag.error("a.conf", 2, "z")
        diag.error("a.conf", None, "w")
        diag.sort(["a.conf", "b.conf"])
        self.assertEqual(
            [str(e) for e in diag.errors],
            ["a.conf: w", "a.conf:2: z", "a.conf:9: y", "b.conf:1: x"],
        )

    def test_finish_raises_all_errors(self) -> None:
        diag = Diagnostics()
        diag.warn("a.conf", 1, "careful")
        self.assertEqual(finish(diag, ["a.conf"], 42).value, 42)
        diag.error("a.conf", 2, "broken")
        diag.error("a.conf", 1, "first")
        with self.assertRaises(ConfigErrors) as cm:
            finish(diag, ["a.conf"], 42)
        self.assertEqual(
            [str(e) for e in cm.exception.errors], ["a.conf:1: first", "a.conf:2: broken"]
        )
        self.assertIsInstance(cm.exception.errors[0], ConfigError)


class TableTests(SynchronousTestCase):
    def test_duplicate_names_are_refused(self) -> None:
        with self.assertRaises(ValueError):
            OptionTable("x", (PORT, Option("bindport", p.TEXT, "", "Clash.")))

    def test_lookup_and_suggest(self) -> None:
        self.assertEqual(TABLE.lookup("USERNAME"), (NAME, True))
        self.assertEqual(TABLE.lookup("bindport"), (PORT, False))
        self.assertIsNone(TABLE.lookup("nope"))
        self.assertEqual(TABLE.suggest("qualfy"), "qualify")
        self.assertIsNone(TABLE.suggest("xyzzy"))

    def test_format_table(self) -> None:
        text = format_table(TABLE)
        self.assertTrue(text.startswith("test.conf\n=========\n"))
        self.assertIn(
            "port (alias: bindport)  [scope general; values 1-65535; default 5060]\n", text
        )
        self.assertIn(
            'name (alias: username (deprecated))  [scope device; values text; default ""]', text
        )
        self.assertIn("allow  [scope G; values text; repeatable]\n", text)
        self.assertIn("callgroup  [scope G; unsupported]\n", text)
        self.assertIn(
            "registertrying  [scope general; obsolete]\n    Trying. (removed in Asterisk 11)\n",
            text,
        )
