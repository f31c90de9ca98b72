"""extensions.conf -> :class:`~pbx.dialplan.model.Dialplan` (Asterisk ``pbx/pbx_config.c``).

Reuses :class:`pbx.config.lexer.Lexer` for the file syntax (comments, ``#include``, section
headers with templates) and works on its tokens directly, because the dialplan needs the order
of ``exten =>`` lines across repeated sections, which merge into one context.

Per context line (``=>`` and ``=`` are equivalent, names case-insensitive):

* ``exten => ext[/cid],prio[(label)],App(args)`` and ``same => prio[(label)],App(args)``;
  priorities are numbers, ``n``/``next`` (previous + 1), ``s``/``same`` (previous), ``hint``, or
  an existing label, each with an optional ``+N``; ``App`` without parentheses takes no
  arguments; the arguments are kept raw (substitution and splitting happen at run time);
* ``include => ctx`` (time arguments are accepted with a warning and not evaluated);
* ``ignorepat => 9`` (kept for ``dialplan show``; no effect on SIP);
* ``switch``/``lswitch``/``eswitch`` (kept, warned about: remote switches are not supported).

``[general]`` holds the pbx_config options, ``[globals]`` the global variables (each value may
use the globals defined before it). Problems are collected with ``file:line``: errors make the
load fail as a whole; warnings do not.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection
from dataclasses import dataclass, field

from pbx.config.lexer import Assignment, Lexer, Reader, SectionHeader, Token, read_file
from pbx.core.errors import ConfigError, ConfigErrors
from pbx.dialplan.model import (
    HINT,
    Context,
    Dialplan,
    Extension,
    GeneralSettings,
    Include,
    Located,
    Priority,
)
from pbx.dialplan.pattern import PatternError, compile_name, shrink_callerid
from pbx.dialplan.variables import MappingScope, substitute

_TRUE = {"yes", "true", "y", "t", "1", "on"}
_FALSE = {"no", "false", "n", "f", "0", "off"}
_GENERAL_BOOLS = (
    "static",
    "writeprotect",
    "autofallthrough",
    "clearglobalvars",
    "extenpatternmatchnew",
)
# [general] options Asterisk knows that pbx accepts and ignores.
_GENERAL_IGNORED = ("priorityjumping", "dontwarn")
_PRIORITY = re.compile(r"\s*(?P<base>.*?)\s*(?:\+\s*(?P<plus>\d+))?\s*$")


@dataclass(slots=True)
class LoadResult:
    """A parsed dialplan plus everything worth telling the admin about it."""

    dialplan: Dialplan
    errors: list[ConfigError] = field(default_factory=list)
    warnings: list[ConfigError] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    def raise_for_errors(self) -> Dialplan:
        """The dialplan, or :class:`ConfigErrors` listing every error (reload keeps the old)."""
        if self.errors:
            raise ConfigErrors(self.errors)
        return self.dialplan


def load(
    config_dir: str,
    name: str = "extensions.conf",
    reader: Reader = read_file,
    applications: Collection[str] | None = None,
) -> LoadResult:
    """Parse ``config_dir/name`` (with its includes).

    :param applications: names of the registered applications; when given, a line using an
        unknown application draws a warning naming the closest match.
    """
    lexer = Lexer(config_dir, reader)
    # Lexer.tokens resolves a relative name against config_dir itself.
    tokens = lexer.tokens(name)
    return _Builder(lexer.errors, applications).build(tokens, lexer.files)


def loads(
    text: str,
    path: str = "extensions.conf",
    config_dir: str = ".",
    reader: Reader = read_file,
    applications: Collection[str] | None = None,
) -> LoadResult:
    """Parse in-memory text as if it were the file ``path`` (tests, reload previews)."""
    lexer = Lexer(config_dir, reader)
    tokens = lexer.tokens_from_text(text, path)
    return _Builder(lexer.errors, applications).build(tokens, lexer.files)


@dataclass(slots=True)
class _Section:
    header: SectionHeader
    lines: list[Assignment]


@dataclass(slots=True)
class _Cursor:
    """What ``n``, ``s`` and ``same =>`` refer to: the previous line of the section."""

    extension: Extension | None = None
    ext_text: str = ""
    cid_text: str | None = None
    priority: int | None = None


class _Builder:
    def __init__(self, errors: list[ConfigError], applications: Collection[str] | None) -> None:
        self.errors = errors
        self.warnings: list[ConfigError] = []
        self.dialplan = Dialplan()
        self._apps = {a.lower(): a for a in applications} if applications is not None else None
        self._bools: dict[str, bool] = {}
        self._userscontext: str | None = None

    def build(self, tokens: list[Token], files: list[str]) -> LoadResult:
        for section in self._sections(tokens):
            name = section.header.name
            if name == "general":
                self._general_section(section)
            elif name == "globals":
                self._globals_section(section)
            else:
                self._context_section(section)
        self.dialplan.settings = self._settings()
        for context in self.dialplan.contexts.values():
            context.sort()
            for include in context.includes:
                if include.name not in self.dialplan.contexts:
                    self._warn(
                        include.path,
                        include.line,
                        f"includes context '{include.name}', which does not exist",
                        context.name,
                    )
        # Report in reading order: files as the lexer met them, then by line.
        order = {path: i for i, path in enumerate(files)}

        def position(error: ConfigError) -> tuple[int, int]:
            return (order.get(error.path, -1), error.line or 0)

        self.errors.sort(key=position)
        self.warnings.sort(key=position)
        return LoadResult(self.dialplan, self.errors, self.warnings, list(files))

    def _error(self, path: str, line: int, message: str, section: str | None = None) -> None:
        self.errors.append(ConfigError(path, line, message, section))

    def _warn(self, path: str, line: int, message: str, section: str | None = None) -> None:
        self.warnings.append(ConfigError(path, line, message, section))

    # -- sections and templates (main/config.c semantics) -------------------------------------

    def _sections(self, tokens: list[Token]) -> list[_Section]:
        sections: list[_Section] = []
        latest: dict[str, _Section] = {}
        current: _Section | None = None
        for token in tokens:
            if isinstance(token, SectionHeader):
                current = self._open(token, latest, sections)
            elif current is None:
                self._error(token.path, token.line, f"'{token.key}' outside of any [section]")
            else:
                current.lines.append(token)
        return [s for s in sections if not s.header.template]

    def _open(
        self, header: SectionHeader, latest: dict[str, _Section], sections: list[_Section]
    ) -> _Section | None:
        if header.append:
            existing = latest.get(header.name)
            if existing is None:
                self._error(
                    header.path,
                    header.line,
                    f"cannot append with (+): no earlier section [{header.name}]",
                    header.name,
                )
            return existing
        section = _Section(header, [])
        for base in header.bases:
            inherited = latest.get(base)
            if inherited is None:
                self._error(
                    header.path,
                    header.line,
                    f"inherits from '{base}', which is not defined earlier",
                    header.name,
                )
                continue
            section.lines.extend(inherited.lines)
        latest[header.name] = section
        sections.append(section)
        return section

    # -- [general] and [globals] ---------------------------------------------------------------

    def _settings(self) -> GeneralSettings:
        d = GeneralSettings()
        b = self._bools
        return GeneralSettings(
            static=b.get("static", d.static),
            writeprotect=b.get("writeprotect", d.writeprotect),
            autofallthrough=b.get("autofallthrough", d.autofallthrough),
            clearglobalvars=b.get("clearglobalvars", d.clearglobalvars),
            extenpatternmatchnew=b.get("extenpatternmatchnew", d.extenpatternmatchnew),
            userscontext=d.userscontext if self._userscontext is None else self._userscontext,
        )

    def _general_section(self, section: _Section) -> None:
        for item in section.lines:
            key = item.key.lower()
            value = item.value.strip()
            if key in _GENERAL_BOOLS:
                if value.lower() in _TRUE:
                    self._bools[key] = True
                elif value.lower() in _FALSE:
                    self._bools[key] = False
                else:
                    self._error(
                        item.path, item.line, f"{key} must be yes or no, not '{value}'", "general"
                    )
            elif key == "userscontext":
                self._userscontext = value
            elif key in _GENERAL_IGNORED:
                self._warn(item.path, item.line, f"option '{key}' is ignored", "general")
            else:
                self._error(item.path, item.line, f"unknown option '{item.key}'", "general")

    def _globals_section(self, section: _Section) -> None:
        scope = MappingScope(self.dialplan.globals)
        for item in section.lines:
            name = item.key.strip()
            self.dialplan.globals[name] = substitute(item.value, scope)

    # -- contexts ------------------------------------------------------------------------------

    def _context_section(self, section: _Section) -> None:
        header = section.header
        context = self.dialplan.contexts.get(header.name)
        if context is None:
            context = Context(header.name, header.path, header.line)
            self.dialplan.contexts[header.name] = context
        cursor = _Cursor()
        for item in section.lines:
            key = item.key.strip().lower()
            if key in ("exten", "same"):
                self._exten_line(context, cursor, item, same=key == "same")
            elif key == "include":
                self._include_line(context, item)
            elif key == "ignorepat":
                context.ignorepats.append(Located(item.value.strip(), item.path, item.line))
            elif key in ("switch", "lswitch", "eswitch"):
                context.switches.append(Located(item.value.strip(), item.path, item.line))
                self._warn(
                    item.path,
                    item.line,
                    f"'{key} => {item.value}' ignored: remote dialplan switches are not supported",
                    context.name,
                )
            else:
                self._error(
                    item.path,
                    item.line,
                    f"unknown directive '{item.key}' (expected exten, same, include, ignorepat)",
                    context.name,
                )

    def _include_line(self, context: Context, item: Assignment) -> None:
        parts = re.split(r"[,|]", item.value, maxsplit=1)
        name = parts[0].strip()
        if not name:
            self._error(item.path, item.line, "include => needs a context name", context.name)
            return
        if len(parts) > 1 and parts[1].strip():
            self._warn(
                item.path,
                item.line,
                f"time arguments of include '{name}' are ignored (always included)",
                context.name,
            )
        context.includes.append(Include(name, item.path, item.line))

    def _exten_line(self, context: Context, cursor: _Cursor, item: Assignment, same: bool) -> None:
        path, line, ctx = item.path, item.line, context.name
        if same:
            if cursor.extension is None:
                self._error(path, line, "'same =>' without an earlier 'exten =>'", ctx)
                return
            prio_text, comma, appl = item.value.partition(",")
            if not comma:
                self._error(path, line, "expected 'same => priority,Application(args)'", ctx)
                return
            ext_text, cid_text = cursor.ext_text, cursor.cid_text
        else:
            parts = item.value.split(",", 2)
            if len(parts) < 3:
                self._error(
                    path,
                    line,
                    f"expected 'exten => extension,priority,Application(args)', got '{item.value}'",
                    ctx,
                )
                return
            raw_ext, prio_text, appl = parts
            ext_text, cid_text = self._split_cid(raw_ext)
            if not ext_text:
                self._error(path, line, "empty extension name", ctx)
                return
        try:
            name = compile_name(ext_text)
            cid = None if cid_text is None else compile_name(cid_text)
        except PatternError as e:
            self._error(path, line, str(e), ctx)
            return
        for remark in name.warnings:
            self._warn(path, line, remark, ctx)
        extension = context.extension(name, cid)
        if extension is not cursor.extension:
            cursor.priority = None
        number, label = self._priority(prio_text, extension, cursor, item, ctx)
        if number is None:
            return
        app, data = _split_application(appl)
        if not app:
            self._error(path, line, "missing application", ctx)
            return
        if number != HINT:
            self._check_application(app, item, ctx)
        existing = extension.priorities.get(number)
        if existing is not None:
            shown = "hint" if number == HINT else str(number)
            self._error(
                path,
                line,
                f"extension '{ext_text}' priority {shown} is already defined at {existing.where}",
                ctx,
            )
            return
        if label is not None:
            other = extension.labels.get(label)
            if other is not None:
                self._error(
                    path,
                    line,
                    f"label '{label}' of extension '{ext_text}' is already used at "
                    f"{extension.priorities[other].where}",
                    ctx,
                )
                return
            extension.labels[label] = number
        extension.priorities[number] = Priority(number, app, data, label, path, line)
        cursor.extension = extension
        cursor.ext_text, cursor.cid_text = ext_text, cid_text
        cursor.priority = number

    def _split_cid(self, raw: str) -> tuple[str, str | None]:
        text = raw.strip()
        if "${" in text or "$[" in text:
            text = substitute(text, MappingScope(self.dialplan.globals))
        ext_text, slash, cid = text.partition("/")
        return ext_text.strip(), (shrink_callerid(cid) if slash else None)

    def _priority(
        self,
        text: str,
        extension: Extension,
        cursor: _Cursor,
        item: Assignment,
        context: str,
    ) -> tuple[int | None, str | None]:
        label: str | None = None
        text = text.strip()
        if "(" in text:
            text, _, rest = text.partition("(")
            label, closed, _ = rest.partition(")")
            label = label.strip()
            if not closed:
                self._warn(item.path, item.line, f"label '{label}' is missing its ')'", context)
            if not label:
                label = None
        m = _PRIORITY.match(text)
        assert m is not None  # the pattern accepts any string
        base, plus = m.group("base"), m.group("plus")
        number: int | None
        if base == "hint":
            number = HINT
        elif base in ("n", "next", "s", "same"):
            if cursor.priority is None or cursor.priority == HINT:
                self._error(
                    item.path,
                    item.line,
                    f"priority '{base}' needs an earlier numbered line of the same extension",
                    context,
                )
                return None, None
            number = cursor.priority + (1 if base in ("n", "next") else 0)
        elif re.fullmatch(r"\d+", base):
            number = int(base)
        elif base in extension.labels:
            number = extension.labels[base]
        else:
            self._error(
                item.path,
                item.line,
                f"invalid priority '{base}' (expected a number, n, s, hint or a known label)",
                context,
            )
            return None, None
        if plus is not None:
            if number == HINT:
                self._error(item.path, item.line, "'hint' takes no '+N' offset", context)
                return None, None
            number += int(plus)
        if number == 0 or number < HINT:
            self._error(item.path, item.line, "priorities start at 1", context)
            return None, None
        return number, label

    def _check_application(self, app: str, item: Assignment, context: str) -> None:
        if self._apps is None or app.lower() in self._apps:
            return
        hint = difflib.get_close_matches(app.lower(), list(self._apps), n=1)
        suggestion = f" (did you mean '{self._apps[hint[0]]}'?)" if hint else ""
        self._warn(
            item.path,
            item.line,
            f"application '{app}' is not available{suggestion}; calls reaching it hang up",
            context,
        )


def _split_application(appl: str) -> tuple[str, str]:
    """``App(args)`` -> (App, raw args): pbx_config takes the first '(' and the last ')'."""
    appl = appl.strip()
    paren = appl.find("(")
    if paren < 0:
        return appl, ""
    app = appl[:paren]
    if "${" in app or "$[" in app:
        # A hint such as 'SIP/${GLOBAL(X)}' has no application syntax at all.
        return appl, ""
    rest = appl[paren + 1 :]
    close = rest.rfind(")")
    data = rest if close < 0 else rest[:close]
    return app.strip(), data
