"""``${...}`` and ``$[...]`` substitution (Asterisk ``main/pbx_variables.c``).

:func:`substitute` walks a template once, left to right:

* ``${NAME}`` is looked up in a :class:`Scope` (the engine's scope puts the built-ins ``EXTEN``,
  ``CONTEXT``, ``PRIORITY``, ``CHANNEL``, ``UNIQUEID`` first, then channel variables, then
  globals); an unknown name expands to nothing;
* ``${FUNC(args)}`` calls a dialplan function through the scope;
* ``${NAME:offset}`` / ``${NAME:offset:length}`` take a substring; a negative offset counts from
  the end, a negative length leaves that many characters off the end;
* names may nest (``${${X}}``, ``${ARRAY_${I}}``) and contain ``$[...]``;
* ``$[expr]`` is substituted, then evaluated by :mod:`pbx.dialplan.expr`;
* ``\\$`` gives a literal ``$`` that starts nothing (a pbx extension to Asterisk, where the
  backslash only matters later, to argument splitting).

Substituted values are never substituted again.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Protocol

from pbx.dialplan.expr import evaluate

log = logging.getLogger(__name__)

INT_MAX = 2147483647
_INT = re.compile(r"\s*([+-]?\d+)")


class Scope(Protocol):
    """Where substitution finds values."""

    def lookup(self, name: str) -> str | None:
        """A variable's value, or None when it is not set."""
        ...

    def call(self, name: str, args: str) -> str | None:
        """Read function ``name`` with raw ``args``; None when it fails (expands to nothing)."""
        ...


class MappingScope:
    """A scope over a plain mapping (``[globals]`` at load time); it has no functions."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = values

    def lookup(self, name: str) -> str | None:
        return self._values.get(name)

    def call(self, name: str, args: str) -> str | None:
        log.warning("function %s() cannot be used here (no channel)", name)
        return None


def split_variable_name(text: str) -> tuple[str, int, int, bool]:
    """``parse_variable_name``: (name, offset, length, is_function).

    ``CUT(a,b,1):2:3`` -> (``CUT(a,b,1)``, 2, 3, True). Without a ``:length`` the length is
    ``INT_MAX``; an unparsable offset leaves both at their defaults, as ``sscanf`` does.
    """
    parens = 0
    is_function = False
    for i, c in enumerate(text):
        if c == "(":
            is_function = True
            parens += 1
        elif c == ")":
            parens -= 1
        elif c == ":" and parens == 0:
            offset, length = _offsets(text[i + 1 :])
            return text[:i], offset, length, is_function
    return text, 0, INT_MAX, is_function


def _offsets(spec: str) -> tuple[int, int]:
    m = _INT.match(spec)
    if m is None:
        return 0, INT_MAX
    offset = int(m.group(1))
    rest = spec[m.end() :]
    if rest.startswith(":"):
        m2 = _INT.match(rest, 1)
        if m2 is not None:
            return offset, int(m2.group(1))
    return offset, INT_MAX


def substring(value: str, offset: int, length: int) -> str:
    """``substring()``: Asterisk's ``${VAR:offset:length}`` arithmetic."""
    size = len(value)
    if offset == 0 and length >= size:
        return value
    if offset < 0:
        offset = max(0, size + offset)
    if offset >= size:
        return ""
    rest = value[offset:]
    if length >= 0:
        return rest[:length]
    keep = len(rest) + length
    return rest[:keep] if keep > 0 else ""


def split_function(text: str) -> tuple[str, str]:
    """``NAME(args)`` -> (NAME, args): args run to the last ``)`` (``func_args``)."""
    name, paren, rest = text.partition("(")
    if not paren:
        return text, ""
    close = rest.rfind(")")
    if close < 0:
        log.warning("Can't find trailing parenthesis for function '%s(%s'?", name, rest)
        return name, rest
    return name, rest[:close]


def substitute(template: str, scope: Scope) -> str:
    """Expand every ``${...}`` and ``$[...]`` of ``template`` once."""
    if "$" not in template:
        return template
    out: list[str] = []
    i = 0
    n = len(template)
    while i < n:
        dollar = template.find("$", i)
        if dollar < 0:
            out.append(template[i:])
            break
        if dollar > i and template[dollar - 1] == "\\":
            out.append(template[i : dollar - 1])
            out.append("$")
            i = dollar + 1
            continue
        out.append(template[i:dollar])
        opener = template[dollar + 1 : dollar + 2]
        if opener == "{":
            end, body, nested = _enclosed(template, dollar + 2, "{", "}", "[")
            i = end
            if nested:
                body = substitute(body, scope)
            value = _variable(body, scope)
            if value is not None:
                out.append(value)
        elif opener == "[":
            end, body, nested = _enclosed(template, dollar + 2, "[", "]", "{")
            i = end
            if nested:
                body = substitute(body, scope)
            out.append(evaluate(body, scope.call))
        else:
            out.append("$")
            i = dollar + 1
    return "".join(out)


def _enclosed(text: str, start: int, open_: str, close: str, other: str) -> tuple[int, str, bool]:
    """Find the end of ``${...}``/``$[...]`` by bracket counting, as the C loop does.

    Returns (index after the closing bracket, body, whether the body needs substitution).
    """
    depth = 1
    nested = False
    i = start
    n = len(text)
    while depth and i < n:
        c = text[i]
        if c == "$" and i + 1 < n and text[i + 1] == open_:
            nested = True
            depth += 1
            i += 1
        elif c == open_:
            depth += 1
        elif c == close:
            depth -= 1
        elif c == "$" and i + 1 < n and text[i + 1] == other:
            nested = True
            i += 1
        i += 1
    if depth:
        log.warning("Error in extension logic (missing '%s')", close)
        return i, text[start:i], nested
    return i, text[start : i - 1], nested


def _variable(body: str, scope: Scope) -> str | None:
    name, offset, length, is_function = split_variable_name(body)
    if is_function:
        fname, args = split_function(name)
        value = scope.call(fname, args)
    else:
        value = scope.lookup(name)
    if value is None:
        return None
    return substring(value, offset, length)
