"""Asterisk ``.conf`` syntax: lines to located tokens (Asterisk ``main/config.c``).

Owns the file syntax shared by sip.conf, http.conf, rtp.conf, cdr.conf, pbx.conf and
extensions.conf; knows nothing about what any option means. Handles:

* ``;`` comments, ``\\;`` for a literal semicolon, ``;-- ... --;`` block comments (they
  nest, and ``;---`` is an ordinary comment, as in Asterisk);
* ``[name]`` and ``[name](options)`` section headers, where options is a comma list of ``!``
  (template), ``+`` (append to an existing section) and template names to inherit from;
* ``key = value`` and ``key => value`` (equivalent, whitespace trimmed);
* ``#include file`` / ``#include "file"`` / ``#include <file>`` (globs allowed) and ``#tryinclude``,
  resolved against the configuration directory as Asterisk does; ``#exec`` is refused.

Every token carries its file and line so that later stages can name ``file:line`` in errors.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from pbx.core.errors import ConfigError

Reader = Callable[[str], str]
"""Reads a file's text by path; raises ``OSError`` when it cannot."""


def read_file(path: str) -> str:
    """Read a file as text; a UTF-8 byte-order mark (Windows editors) is dropped."""
    with open(path, encoding="utf-8-sig", errors="replace") as f:
        return f.read()


@dataclass(frozen=True, slots=True)
class SectionHeader:
    """``[name](options)``: ``template`` for ``!``, ``append`` for ``+``, ``bases`` in order."""

    name: str
    template: bool
    append: bool
    bases: tuple[str, ...]
    path: str
    line: int


@dataclass(frozen=True, slots=True)
class Assignment:
    """``key = value`` or ``key => value`` (``arrow`` tells which)."""

    key: str
    value: str
    arrow: bool
    path: str
    line: int


Token = SectionHeader | Assignment

MAX_INCLUDE_DEPTH = 10


class Lexer:
    """Turns a configuration file (and its includes) into tokens, collecting errors.

    :param config_dir: directory that relative ``#include`` paths resolve against (Asterisk
        resolves them against its configuration directory, not the including file's folder).
    :param reader: file reader, injectable for tests.
    """

    def __init__(self, config_dir: str, reader: Reader = read_file) -> None:
        self.config_dir = config_dir
        self._reader = reader
        self.errors: list[ConfigError] = []
        self.files: list[str] = []

    def tokens(self, name: str) -> list[Token]:
        """All tokens of ``name`` (resolved by :meth:`resolve`) with includes expanded in place."""
        return list(self._file_tokens(self.resolve(name), depth=0, optional=False, where=None))

    def tokens_from_text(self, text: str, path: str) -> list[Token]:
        """Tokens of an in-memory file (includes still resolve against ``config_dir``)."""
        return list(self._text_tokens(text, path, depth=0))

    def resolve(self, name: str) -> str:
        """Where a file name points: relative names are inside ``config_dir``."""
        if os.path.isabs(name):
            return name
        return os.path.join(self.config_dir, name)

    def display(self, path: str) -> str:
        """Paths in messages are shown relative to the working directory when shorter."""
        try:
            rel = os.path.relpath(path)
        except ValueError:
            return path
        return rel if len(rel) < len(path) else path

    def _file_tokens(
        self, path: str, depth: int, optional: bool, where: tuple[str, int] | None
    ) -> Iterator[Token]:
        try:
            text = self._reader(path)
        except OSError as e:
            if not optional:
                shown = self.display(path)
                if where is None:
                    self.errors.append(ConfigError(shown, None, f"cannot read: {e.strerror}"))
                else:
                    self.errors.append(
                        ConfigError(where[0], where[1], f"cannot include '{shown}': {e.strerror}")
                    )
            return
        yield from self._text_tokens(text, self.display(path), depth)

    def _text_tokens(self, text: str, path: str, depth: int) -> Iterator[Token]:
        self.files.append(path)
        comment_depth = 0
        # Only "\n" ends a line, as in Asterisk: str.splitlines() would also split on form
        # feeds and other separators and shift every later line number.
        for lineno, raw in enumerate(text.split("\n"), start=1):
            line, comment_depth = _strip_comments(raw.rstrip("\r"), comment_depth)
            line = line.strip()
            if not line:
                continue
            if line.startswith("#"):
                yield from self._directive(line, path, lineno, depth)
            elif line.startswith("["):
                header = self._section_header(line, path, lineno)
                if header is not None:
                    yield header
            else:
                assignment = self._assignment(line, path, lineno)
                if assignment is not None:
                    yield assignment

    def _directive(self, line: str, path: str, lineno: int, depth: int) -> Iterator[Token]:
        parts = line[1:].split(None, 1)
        word = parts[0].lower() if parts else ""
        arg = parts[1].strip() if len(parts) > 1 else ""
        if word in ("include", "tryinclude"):
            if not arg:
                self.errors.append(ConfigError(path, lineno, f"#{word} needs a file name"))
                return
            if depth >= MAX_INCLUDE_DEPTH:
                self.errors.append(
                    ConfigError(path, lineno, f"#{word} nested deeper than {MAX_INCLUDE_DEPTH}")
                )
                return
            name = arg
            if len(name) >= 2 and (name[0], name[-1]) in (('"', '"'), ("<", ">")):
                name = name[1:-1]
            target = self.resolve(name)
            matches = sorted(glob.glob(target)) if glob.has_magic(target) else [target]
            if not matches and word == "include":
                self.errors.append(ConfigError(path, lineno, f"#include '{name}' matches no file"))
            for match in matches:
                yield from self._file_tokens(
                    match, depth + 1, optional=word == "tryinclude", where=(path, lineno)
                )
        elif word == "exec":
            self.errors.append(
                ConfigError(path, lineno, "#exec is not supported (pbx never runs commands)")
            )
        else:
            self.errors.append(ConfigError(path, lineno, f"unknown directive '#{word}'"))

    def _section_header(self, line: str, path: str, lineno: int) -> SectionHeader | None:
        end = line.find("]")
        if end < 0:
            self.errors.append(ConfigError(path, lineno, f"missing ']' in section header {line!r}"))
            return None
        name = line[1:end].strip()
        if not name:
            self.errors.append(ConfigError(path, lineno, "empty section name"))
            return None
        rest = line[end + 1 :].strip()
        template = append = False
        bases: list[str] = []
        if rest:
            if not (rest.startswith("(") and rest.endswith(")")):
                self.errors.append(
                    ConfigError(path, lineno, f"garbage after section header: {rest!r}", name)
                )
                return None
            for opt in rest[1:-1].split(","):
                opt = opt.strip()
                if opt == "!":
                    template = True
                elif opt == "+":
                    append = True
                elif opt:
                    bases.append(opt)
        return SectionHeader(name, template, append, tuple(bases), path, lineno)

    def _assignment(self, line: str, path: str, lineno: int) -> Assignment | None:
        eq = line.find("=")
        if eq <= 0:
            self.errors.append(ConfigError(path, lineno, f"expected 'name = value', got {line!r}"))
            return None
        arrow = line[eq + 1 : eq + 2] == ">"
        key = line[:eq].strip()
        value = line[eq + 2 :] if arrow else line[eq + 1 :]
        if not key:
            self.errors.append(ConfigError(path, lineno, f"missing option name in {line!r}"))
            return None
        return Assignment(key, value.strip(), arrow, path, lineno)


def _strip_comments(raw: str, depth: int) -> tuple[str, int]:
    """Remove ``;`` and ``;-- --;`` comments; unescape ``\\;``.

    ``depth`` is how many block comments are open at the start of the line (Asterisk nests
    them); returns the text outside comments and the depth at the end of the line. As in
    Asterisk's ``config_text_file_load``, ``;---`` does not open a block comment: it is an
    ordinary comment, so rulers such as ``;-----`` stay harmless.
    """
    out: list[str] = []
    i = 0
    n = len(raw)
    while i < n:
        c = raw[i]
        if c == "\\" and i + 1 < n and raw[i + 1] == ";":
            if not depth:
                out.append(";")
            i += 2
        elif raw.startswith("--;", i) and depth:
            depth -= 1
            i += 3
        elif c == ";" and raw.startswith(";--", i) and not raw.startswith(";---", i):
            depth += 1
            i += 3
        elif c == ";" and not depth:
            break
        else:
            if not depth:
                out.append(c)
            i += 1
    return "".join(out), depth


def config_path(config_dir: str, name: str) -> str:
    """``config_dir/name`` as a string (helper for loaders)."""
    return str(Path(config_dir) / name)
