"""extensions.conf parsing (pbx_config.c semantics) and its error reporting."""

import os
import re

from twisted.trial.unittest import SynchronousTestCase

from pbx.core.errors import ConfigError, ConfigErrors
from pbx.dialplan.apps import default_applications
from pbx.dialplan.model import HINT
from pbx.dialplan.parser import load, loads

HERE = os.path.dirname(__file__)
DATA = os.path.join(HERE, "..", "..", "data", "dialplan")
ETC = os.path.join(HERE, "..", "..", "..", "etc")


def located(errors: list[ConfigError]) -> list[tuple[str, int | None, str]]:
    """(file, line, message) with " at <path>:<line>" tails reduced to the file name."""
    return [
        (os.path.basename(e.path), e.line, re.sub(r" at \S*/", " at ", e.message)) for e in errors
    ]


class SampleTests(SynchronousTestCase):
    def test_sample_extensions_conf_loads_cleanly(self) -> None:
        result = load(ETC, applications=default_applications().names())
        self.assertEqual([str(e) for e in result.errors], [])
        self.assertEqual([str(w) for w in result.warnings], [])
        dialplan = result.raise_for_errors()
        for context in ("desk-phones", "browsers"):
            for exten in ("1001", "1002", "2001", "2002", "alice", "bob", "desk1", "desk2"):
                self.assertTrue(dialplan.exists(context, exten), (context, exten))
            self.assertTrue(dialplan.exists(context, "600"))
            self.assertTrue(dialplan.exists(context, "601"))
            self.assertTrue(dialplan.exists(context, "h"))
        found = dialplan.find("browsers", "2001", 1)
        assert found is not None
        self.assertEqual(
            (found.priority.app, found.priority.data), ("Dial", "SIP/desk1,${RING_TIMEOUT}")
        )
        self.assertEqual(dialplan.globals["RING_TIMEOUT"], "30")


class FeatureTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.result = load(DATA, "features.conf")
        self.dialplan = self.result.dialplan

    def test_no_errors_and_the_expected_warnings(self) -> None:
        self.assertEqual(self.result.errors, [])
        self.assertEqual(
            located(self.result.warnings),
            [
                (
                    "features.conf",
                    30,
                    "time arguments of include 'office-hours' are ignored (always included)",
                ),
                ("features.conf", 30, "includes context 'office-hours', which does not exist"),
                (
                    "features.conf",
                    32,
                    "'switch => IAX2/box/context' ignored: remote dialplan switches are not "
                    "supported",
                ),
            ],
        )

    def test_general_and_globals(self) -> None:
        settings = self.dialplan.settings
        self.assertTrue(settings.static)
        self.assertFalse(settings.autofallthrough)
        self.assertTrue(settings.clearglobalvars)
        self.assertEqual(settings.userscontext, "users")
        self.assertEqual(self.dialplan.globals["DIALOUT"], "SIP/desk1/9")

    def test_priorities_labels_and_offsets(self) -> None:
        phones = self.dialplan.contexts["phones"]
        ext = next(e for e in phones.extensions if e.name.text == "100" and e.cid is None)
        self.assertEqual(sorted(ext.priorities), [HINT, 1, 2, 3, 11])
        self.assertEqual(ext.labels, {"start": 1, "again": 3})
        self.assertEqual(ext.priorities[HINT].app, "SIP/alice")
        self.assertEqual(ext.priorities[11].data, "start")
        self.assertEqual(ext.priorities[3].where.rsplit("/", 1)[-1], "features.conf:22")

    def test_raw_application_data(self) -> None:
        found = self.dialplan.find("phones", "300", 1)
        assert found is not None
        self.assertEqual((found.priority.app, found.priority.data), ("Set", "A=b,c"))
        found = self.dialplan.find("phones", "5551234", 1)
        assert found is not None
        self.assertEqual((found.priority.app, found.priority.data), ("NoOp", ""))

    def test_callerid_variant(self) -> None:
        found = self.dialplan.find("phones", "100", 1, "2001")
        assert found is not None
        self.assertEqual(found.priority.data, "desk1 calling")
        found = self.dialplan.find("phones", "100", 1, "2002")
        assert found is not None
        self.assertEqual(found.priority.app, "Answer")

    def test_repeated_sections_merge_and_append(self) -> None:
        self.assertTrue(self.dialplan.exists("phones", "400"))
        self.assertTrue(self.dialplan.exists("phones", "401"))
        self.assertEqual(list(self.dialplan.contexts), ["phones", "common", "users"])

    def test_templates_and_include_files(self) -> None:
        self.assertNotIn("sub-template", self.dialplan.contexts)
        users = self.dialplan.contexts["users"]
        self.assertEqual(sorted(users.extensions[0].priorities), [1, 2])
        self.assertTrue(self.dialplan.exists("phones", "600", 2))
        found = self.dialplan.find("phones", "600", 1)
        assert found is not None
        self.assertEqual(found.context, "common")
        self.assertEqual(os.path.basename(found.priority.path), "extra.conf")
        self.assertEqual(
            [os.path.basename(f) for f in self.result.files], ["features.conf", "extra.conf"]
        )

    def test_ignorepat_and_switch_are_kept(self) -> None:
        phones = self.dialplan.contexts["phones"]
        self.assertEqual([i.value for i in phones.ignorepats], ["9"])
        self.assertEqual([s.value for s in phones.switches], ["IAX2/box/context"])
        self.assertEqual([i.name for i in phones.includes], ["common", "office-hours"])


DUPLICATE = "extension '100' priority 1 is already defined at"


class ErrorTests(SynchronousTestCase):
    def test_every_error_is_located(self) -> None:
        result = load(DATA, "errors.conf")
        self.assertEqual(
            located(result.errors),
            [
                ("errors.conf", 2, "autofallthrough must be yes or no, not 'maybe'"),
                ("errors.conf", 3, "unknown option 'colour'"),
                ("errors.conf", 7, f"{DUPLICATE} errors.conf:6"),
                ("errors.conf", 8, "priority 'n' needs an earlier numbered line of the same "
                                   "extension"),
                ("errors.conf", 9, f"{DUPLICATE} errors.conf:6"),
                ("errors.conf", 10, "expected 'exten => extension,priority,Application(args)', "
                                    "got '102'"),
                ("errors.conf", 12, "label 'a' of extension '103' is already used at "
                                    "errors.conf:11"),
                ("errors.conf", 13, "pattern '_1[23': '[' without a closing ']'"),
                ("errors.conf", 14, "invalid priority 'nope' (expected a number, n, s, hint or a "
                                    "known label)"),
                ("errors.conf", 15, "missing application"),
                ("errors.conf", 16, "empty extension name"),
                ("errors.conf", 17, "priorities start at 1"),
                ("errors.conf", 18, "'hint' takes no '+N' offset"),
                ("errors.conf", 19, "unknown directive 'bogus' (expected exten, same, include, "
                                    "ignorepat)"),
                ("errors.conf", 20, "include => needs a context name"),
                ("errors.conf", 22, "inherits from 'nosuch', which is not defined earlier"),
                ("errors.conf", 23, "cannot append with (+): no earlier section [missing]"),
            ],
        )  # fmt: skip
        self.assertEqual(result.errors[4].section, "ctx")
        with self.assertRaises(ConfigErrors) as raised:
            result.raise_for_errors()
        self.assertEqual(len(raised.exception.errors), 17)

    def test_error_text_names_file_and_line(self) -> None:
        result = loads("[c]\nexten => 1,1,NoOp()\nexten => 1,1,NoOp()\n", "x.conf")
        self.assertEqual(
            [str(e) for e in result.errors],
            ["x.conf:3: [c] extension '1' priority 1 is already defined at x.conf:2"],
        )

    def test_missing_file(self) -> None:
        result = load(DATA, "nosuch.conf")
        self.assertEqual(len(result.errors), 1)
        self.assertIn("cannot read", result.errors[0].message)

    def test_lines_outside_sections(self) -> None:
        result = loads("exten => 1,1,NoOp()\n", "x.conf")
        self.assertEqual(
            [str(e) for e in result.errors], ["x.conf:1: 'exten' outside of any [section]"]
        )


class LineSyntaxTests(SynchronousTestCase):
    def test_same_priority_s(self) -> None:
        result = loads("[c]\nexten => 1,1,NoOp()\n same => s,NoOp()\n", "x.conf")
        self.assertEqual(
            [e.message for e in result.errors],
            ["extension '1' priority 1 is already defined at x.conf:2"],
        )
        result = loads("[c]\nexten => 1,1,NoOp()\n same => s+2,NoOp(three)\n", "x.conf")
        self.assertEqual(result.errors, [])
        self.assertTrue(result.dialplan.exists("c", "1", 3))

    def test_bad_offset(self) -> None:
        result = loads("[c]\nexten => 1,1,NoOp()\n same => n+x,NoOp()\n", "x.conf")
        self.assertEqual(
            [e.message for e in result.errors],
            ["invalid priority 'n+x' (expected a number, n, s, hint or a known label)"],
        )

    def test_same_without_exten(self) -> None:
        result = loads("[c]\nsame => n,NoOp()\n", "x.conf")
        self.assertEqual(
            [e.message for e in result.errors], ["'same =>' without an earlier 'exten =>'"]
        )

    def test_application_forms(self) -> None:
        text = (
            "[c]\n"
            "exten => 1,1,Answer\n"
            "exten => 2,1,Dial(SIP/a,,m(x(y)))\n"
            "exten => 3,hint,SIP/${GLOBAL(X)}\n"
            "exten => 4,1,NoOp(unclosed\n"
            "exten => 5 , 1 , Verbose( spaced )\n"
        )
        result = loads(text, "x.conf")
        self.assertEqual(result.errors, [])
        c = result.dialplan.contexts["c"]
        got = {e.name.text: (p.app, p.data) for e in c.extensions for p in e.ordered()}
        self.assertEqual(
            got,
            {
                "1": ("Answer", ""),
                "2": ("Dial", "SIP/a,,m(x(y))"),
                "3": ("SIP/${GLOBAL(X)}", ""),
                "4": ("NoOp", "unclosed"),
                "5": ("Verbose", " spaced "),
            },
        )

    def test_extension_names_use_globals(self) -> None:
        result = loads("[globals]\nOP=0\n[c]\nexten => ${OP},1,NoOp()\n", "x.conf")
        self.assertTrue(result.dialplan.exists("c", "0"))

    def test_unknown_application_warns_with_a_suggestion(self) -> None:
        result = loads("[c]\nexten => 1,1,Dail(SIP/a)\n", "x.conf", applications=["Dial", "Echo"])
        self.assertEqual(
            [str(w) for w in result.warnings],
            ["x.conf:2: [c] application 'Dail' is not available (did you mean 'Dial'?); calls "
             "reaching it hang up"],
        )  # fmt: skip

    def test_catch_all_pattern_warns(self) -> None:
        result = loads("[c]\nexten => _.,1,NoOp()\n", "x.conf")
        self.assertEqual(len(result.warnings), 1)
        self.assertIn("matches everything", result.warnings[0].message)

    def test_general_ignored_option(self) -> None:
        result = loads("[general]\npriorityjumping=yes\n", "x.conf")
        self.assertEqual(
            [str(w) for w in result.warnings],
            ["x.conf:2: [general] option 'priorityjumping' is ignored"],
        )

    def test_empty_context_exists(self) -> None:
        result = loads("[empty]\n", "x.conf")
        self.assertIn("empty", result.dialplan.contexts)
