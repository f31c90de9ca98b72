"""Tests for pbx.config.lexer: Asterisk .conf syntax to located tokens."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from pbx.config.lexer import Assignment, Lexer, SectionHeader, Token, read_file

DATA = Path(__file__).resolve().parents[2] / "data" / "config"


def fake_reader(files: dict[str, str]) -> Callable[[str], str]:
    """A reader serving ``files`` (names relative to /cfg) from memory."""

    def read(path: str) -> str:
        name = os.path.relpath(path, "/cfg")
        if name not in files:
            raise FileNotFoundError(2, "No such file or directory", path)
        return files[name]

    return read


def lex(text: str) -> tuple[list[Token], list[str]]:
    lexer = Lexer("/cfg", fake_reader({}))
    tokens = lexer.tokens_from_text(text, "t.conf")
    return tokens, [str(e) for e in lexer.errors]


def assignments(tokens: list[Token]) -> list[tuple[str, str, int]]:
    return [(t.key, t.value, t.line) for t in tokens if isinstance(t, Assignment)]


class AssignmentTests(SynchronousTestCase):
    def test_equals_and_arrow(self) -> None:
        tokens, errors = lex("[s]\na = 1\nb => 2\nc=>3\n  d   =   spaced value  \ne =\n")
        self.assertEqual(errors, [])
        self.assertEqual(
            assignments(tokens),
            [("a", "1", 2), ("b", "2", 3), ("c", "3", 4), ("d", "spaced value", 5), ("e", "", 6)],
        )
        arrows = [t.arrow for t in tokens if isinstance(t, Assignment)]
        self.assertEqual(arrows, [False, True, True, False, False])

    def test_only_the_first_equals_splits(self) -> None:
        tokens, _ = lex("[s]\nsetvar=A=b=c\nexten => 1,1,Set(X=1)\n")
        self.assertEqual(
            assignments(tokens), [("setvar", "A=b=c", 2), ("exten", "1,1,Set(X=1)", 3)]
        )

    def test_line_without_equals_is_an_error(self) -> None:
        tokens, errors = lex("[s]\nnovalue\n= orphan\n")
        self.assertEqual(assignments(tokens), [])
        self.assertEqual(
            errors,
            [
                "t.conf:2: expected 'name = value', got 'novalue'",
                "t.conf:3: expected 'name = value', got '= orphan'",
            ],
        )

    def test_crlf_line_ends(self) -> None:
        tokens, _ = lex("[s]\r\na = 1\r\nb = 2\r\n")
        self.assertEqual(assignments(tokens), [("a", "1", 2), ("b", "2", 3)])

    def test_only_newline_ends_a_line(self) -> None:
        # str.splitlines() would split at the form feed and shift the line numbers.
        tokens, _ = lex("[s]\na = x\x0cy\nb = 2\n")
        self.assertEqual(assignments(tokens), [("a", "x\x0cy", 2), ("b", "2", 3)])


class CommentTests(SynchronousTestCase):
    def test_semicolon_starts_a_comment(self) -> None:
        tokens, _ = lex("; whole line\n[s] ; after a header\na = 1 ; trailing\n")
        self.assertEqual(assignments(tokens), [("a", "1", 3)])

    def test_escaped_semicolon_is_literal(self) -> None:
        tokens, _ = lex("[s]\na = x\\;y ; comment\n")
        self.assertEqual(assignments(tokens), [("a", "x;y", 2)])

    def test_block_comment_inside_a_line(self) -> None:
        tokens, _ = lex("[s]\na = 1 ;-- hidden --; 2\n")
        self.assertEqual(assignments(tokens), [("a", "1  2", 2)])

    def test_block_comment_across_lines_keeps_line_numbers(self) -> None:
        text = "[s]\n;-- start\nhidden = 1\n[hidden]\nend --; a = 1\nb = 2\n"
        tokens, errors = lex(text)
        self.assertEqual(errors, [])
        self.assertEqual(assignments(tokens), [("a", "1", 5), ("b", "2", 6)])
        self.assertEqual([t.name for t in tokens if isinstance(t, SectionHeader)], ["s"])

    def test_block_comments_nest(self) -> None:
        text = "[s]\n;-- outer\n;-- inner --;\nstill = hidden\n--;\nvisible = 1\n"
        tokens, _ = lex(text)
        self.assertEqual(assignments(tokens), [("visible", "1", 6)])

    def test_ruler_of_dashes_is_a_plain_comment(self) -> None:
        # ";---" does not open a block comment in Asterisk, so rulers are harmless.
        tokens, _ = lex("[s]\n;----------------------\na = 1\n")
        self.assertEqual(assignments(tokens), [("a", "1", 3)])

    def test_unterminated_block_comment_hides_the_rest(self) -> None:
        tokens, errors = lex("[s]\na = 1\n;-- never closed\nb = 2\n")
        self.assertEqual(assignments(tokens), [("a", "1", 2)])
        self.assertEqual(errors, [])


class SectionHeaderTests(SynchronousTestCase):
    def headers(self, text: str) -> list[SectionHeader]:
        tokens, errors = lex(text)
        self.assertEqual(errors, [])
        return [t for t in tokens if isinstance(t, SectionHeader)]

    def test_plain_and_options(self) -> None:
        found = self.headers("[a]\n[t](!)\n[d](t1, t2)\n[e](!,t)\n[a](+)\n[f] (t)\n")
        self.assertEqual(
            [(h.name, h.template, h.append, h.bases, h.line) for h in found],
            [
                ("a", False, False, (), 1),
                ("t", True, False, (), 2),
                ("d", False, False, ("t1", "t2"), 3),
                ("e", True, False, ("t",), 4),
                ("a", False, True, (), 5),
                ("f", False, False, ("t",), 6),
            ],
        )

    def test_header_errors(self) -> None:
        tokens, errors = lex("[broken\n[]\n[x] junk\n")
        self.assertEqual(tokens, [])
        self.assertEqual(
            errors,
            [
                "t.conf:1: missing ']' in section header '[broken'",
                "t.conf:2: empty section name",
                "t.conf:3: [x] garbage after section header: 'junk'",
            ],
        )


class DirectiveTests(SynchronousTestCase):
    def lexer(self, files: dict[str, str]) -> Lexer:
        return Lexer("/cfg", fake_reader(files))

    def test_include_forms(self) -> None:
        files = {
            "main.conf": '[s]\n#include a.conf\n#include "b.conf"\n#include <c.conf>\n'
            "#include\td.conf\nz = 9\n",
            "a.conf": "a = 1\n",
            "b.conf": "b = 2\n",
            "c.conf": "c = 3\n",
            "d.conf": "d = 4\n",
        }
        lexer = self.lexer(files)
        tokens = lexer.tokens("main.conf")
        self.assertEqual(lexer.errors, [])
        self.assertEqual(
            [(t.key, t.path, t.line) for t in tokens if isinstance(t, Assignment)],
            [
                ("a", lexer.display("/cfg/a.conf"), 1),
                ("b", lexer.display("/cfg/b.conf"), 1),
                ("c", lexer.display("/cfg/c.conf"), 1),
                ("d", lexer.display("/cfg/d.conf"), 1),
                ("z", lexer.display("/cfg/main.conf"), 6),
            ],
        )
        self.assertEqual(len(lexer.files), 5)

    def test_missing_include_is_an_error_at_the_directive(self) -> None:
        lexer = self.lexer({"main.conf": "[s]\na = 1\n#include nothere.conf\nb = 2\n"})
        tokens = lexer.tokens("main.conf")
        main = lexer.display("/cfg/main.conf")
        self.assertEqual(
            [str(e) for e in lexer.errors],
            [
                f"{main}:3: cannot include '{lexer.display('/cfg/nothere.conf')}': "
                "No such file or directory"
            ],
        )
        self.assertEqual(len(assignments(tokens)), 2)

    def test_tryinclude_tolerates_a_missing_file(self) -> None:
        lexer = self.lexer({"main.conf": "[s]\n#tryinclude nothere.conf\na = 1\n"})
        tokens = lexer.tokens("main.conf")
        self.assertEqual(lexer.errors, [])
        self.assertEqual(assignments(tokens), [("a", "1", 3)])

    def test_missing_top_level_file(self) -> None:
        lexer = self.lexer({})
        self.assertEqual(lexer.tokens("sip.conf"), [])
        self.assertEqual(
            [str(e) for e in lexer.errors],
            [f"{lexer.display('/cfg/sip.conf')}: cannot read: No such file or directory"],
        )

    def test_include_loop_stops_at_the_depth_limit(self) -> None:
        lexer = Lexer(str(DATA / "lexer"))
        lexer.tokens("self.conf")
        self.assertEqual(len(lexer.errors), 1)
        self.assertIn("#include nested deeper than 10", str(lexer.errors[0]))
        self.assertTrue(
            str(lexer.errors[0]).endswith("self.conf:1: #include nested deeper than 10")
        )

    def test_bad_directives(self) -> None:
        lexer = self.lexer({"main.conf": "#include\n#exec /bin/date\n#bogus x\n"})
        lexer.tokens("main.conf")
        main = lexer.display("/cfg/main.conf")
        self.assertEqual(
            [str(e) for e in lexer.errors],
            [
                f"{main}:1: #include needs a file name",
                f"{main}:2: #exec is not supported (pbx never runs commands)",
                f"{main}:3: unknown directive '#bogus'",
            ],
        )

    def test_globs_from_the_config_dir_in_sorted_order(self) -> None:
        lexer = Lexer(str(DATA / "lexer"))
        tokens = lexer.tokens("main.conf")
        self.assertEqual(lexer.errors, [])
        self.assertEqual(
            [t.name for t in tokens if isinstance(t, SectionHeader)],
            ["first", "second", "glob-a", "glob-b"],
        )
        self.assertEqual(
            [(t.key, t.value) for t in tokens if isinstance(t, Assignment)],
            [("a", "1"), ("c", "3"), ("d", "4"), ("x", "a"), ("x", "b"), ("b", "2")],
        )
        last = tokens[-1]
        self.assertTrue(last.path.endswith("main.conf"))
        self.assertEqual(last.line, 7)

    def test_glob_without_match_is_an_error(self) -> None:
        lexer = Lexer(str(DATA / "lexer"))
        lexer.tokens_from_text("#include nowhere/*.conf\n", "t.conf")
        self.assertEqual(
            [str(e) for e in lexer.errors], ["t.conf:1: #include 'nowhere/*.conf' matches no file"]
        )

    def test_relative_names_resolve_against_the_config_dir(self) -> None:
        lexer = Lexer("etc")
        self.assertEqual(lexer.resolve("sip.conf"), os.path.join("etc", "sip.conf"))
        self.assertEqual(lexer.resolve("/abs/sip.conf"), "/abs/sip.conf")


class ReadFileTests(SynchronousTestCase):
    def test_byte_order_mark_is_dropped(self) -> None:
        folder = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, folder)
        path = os.path.join(folder, "bom.conf")
        with open(path, "wb") as f:
            f.write(b"\xef\xbb\xbf[general]\nx=1\n")
        self.assertEqual(read_file(path), "[general]\nx=1\n")
        lexer = Lexer(folder)
        tokens = lexer.tokens("bom.conf")
        self.assertEqual(lexer.errors, [])
        self.assertIsInstance(tokens[0], SectionHeader)
