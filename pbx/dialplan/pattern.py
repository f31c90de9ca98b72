"""Extension names and patterns: matching and specificity order (Asterisk ``main/pbx.c``).

An extension name is either a literal (``100``, ``555-1234``: ``-`` is ignored on both sides) or
a pattern starting with ``_``:

===========  ==================================================================
``X Z N``    one digit 0-9, 1-9, 2-9 (lower case accepted, as Asterisk does)
``[15-7]``   one character of the set; ranges ``a-c``; an empty set ``[]`` is skipped
``.``        one or more characters (the rest of the pattern is ignored)
``!``        zero or more characters, and "complete as soon as unambiguous"
``-``        ignored (``_NXX-XXXX``)
other        itself, case-sensitive
===========  ==================================================================

Three match modes mirror ``_extension_match_core``: :data:`MATCH` (the dialed string is a
complete match), :data:`CANMATCH` (complete or a prefix of a match) and :data:`MATCHMORE` (a
strict prefix: more digits could still match). A ``!`` pattern answers :data:`EARLY`, which the
lookup treats as "matches now, and the decision is final" for overlap dialing.

:func:`ExtensionName.sort_key` reproduces ``ext_cmp``: literals before patterns; patterns compare
position by position, a smaller character set first (literal < ``N`` < ``Z`` < ``X`` < ``.`` <
``!`` < end of pattern), ties broken by the set's contents, lowest characters first.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache


class MatchMode(enum.Enum):
    """How a dialed string is compared with an extension name (``enum ext_match_t``)."""

    MATCH = "match"
    CANMATCH = "canmatch"
    MATCHMORE = "matchmore"


MATCH = MatchMode.MATCH
CANMATCH = MatchMode.CANMATCH
MATCHMORE = MatchMode.MATCHMORE

NO = 0
YES = 1
EARLY = 2
"""Results of :meth:`ExtensionName.match`: no, yes, or yes-by-``!`` (early match)."""


class PatternError(ValueError):
    """An extension pattern that can never match as written (an unterminated ``[`` set)."""


class _Wild(enum.Enum):
    DOT = "."
    BANG = "!"


_Element = frozenset[str] | _Wild

_DIGITS = {
    "X": frozenset("0123456789"),
    "Z": frozenset("123456789"),
    "N": frozenset("23456789"),
}

# Scores of ext_cmp_pattern_pos() for the non-set positions.
_SCORE_DOT = 0x18000
_SCORE_BANG = 0x28000
_SCORE_END = 0x30000


@dataclass(frozen=True, slots=True)
class ExtensionName:
    """A compiled extension name; build with :func:`compile_name`.

    :ivar text: the name as written (``_NXX`` keeps its underscore).
    :ivar warnings: load-time remarks (``_.`` also matches ``h``/``i``/``t`` ...).
    """

    text: str
    is_pattern: bool
    literal: str
    elements: tuple[_Element, ...]
    sort_key: tuple[object, ...]
    warnings: tuple[str, ...] = ()

    def match(self, data: str, mode: MatchMode = MATCH) -> int:
        """:data:`NO`, :data:`YES` or :data:`EARLY` for dialed ``data`` under ``mode``."""
        if not self.is_pattern:
            return self._match_literal(data, mode)
        if mode is MATCH and data.startswith("_") and _same_pattern(self, data):
            # Asterisk compares a pattern given as data as a pattern first ("_X." matches "_X.").
            return YES
        digits = data.replace("-", "")
        i = 0
        for element in self.elements:
            if i == len(digits):
                # Ran off the end of the dialed string with pattern left: a prefix.
                if element is _Wild.BANG:
                    return EARLY
                return NO if mode is MATCH else YES
            if element is _Wild.DOT:
                return YES
            if element is _Wild.BANG:
                return EARLY
            assert isinstance(element, frozenset)
            if digits[i] not in element:
                return NO
            i += 1
        if i < len(digits):
            return NO
        return NO if mode is MATCHMORE else YES

    def _match_literal(self, data: str, mode: MatchMode) -> int:
        digits = data.replace("-", "")
        if len(self.literal) < len(digits):
            return NO
        if mode is MATCH:
            return YES if self.literal == digits else NO
        if not self.literal.startswith(digits):
            return NO
        if mode is MATCHMORE:
            return YES if len(self.literal) > len(digits) else NO
        return YES

    def matches(self, data: str) -> bool:
        """True when ``data`` is a complete match (``ast_extension_match``)."""
        return self.match(data, MATCH) != NO

    def __str__(self) -> str:
        return self.text


@lru_cache(maxsize=4096)
def compile_name(text: str) -> ExtensionName:
    """Compile an extension name once (cached: reloads reuse unchanged patterns).

    :raises PatternError: for a ``[`` without its ``]``.
    """
    if not text.startswith("_"):
        literal = text.replace("-", "")
        return ExtensionName(text, False, literal, (), (0, tuple(ord(c) for c in literal)))
    elements: list[_Element] = []
    key: list[tuple[int, int]] = []
    warnings: list[str] = []
    for element, score, bits in _scan(text[1:], text):
        elements.append(element)
        key.append((score, -bits))
        if isinstance(element, _Wild):
            break
    key.append((_SCORE_END, 0))
    if elements and isinstance(elements[-1], _Wild):
        rest = _after_wildcard(text)
        if rest:
            warnings.append(
                f"pattern '{text}': '{rest}' after '{elements[-1].value}' can never be matched"
            )
        if len(elements) == 1:
            warnings.append(
                f"pattern '{text}' matches everything, including the special extensions "
                "h, i, t and s; use a more specific pattern"
            )
    return ExtensionName(text, True, "", tuple(elements), (1, tuple(key)), tuple(warnings))


def _same_pattern(name: ExtensionName, data: str) -> bool:
    try:
        return compile_name(data).sort_key == name.sort_key
    except PatternError:
        return False


def _after_wildcard(text: str) -> str:
    in_set = False
    for i, c in enumerate(text[1:], start=1):
        if c == "[":
            in_set = True
        elif c == "]":
            in_set = False
        elif c in ".!" and not in_set:
            return text[i + 1 :].replace("-", "")
    return ""


def _scan(body: str, text: str) -> Iterator[tuple[_Element, int, int]]:
    """Pattern positions with their ``ext_cmp_pattern_pos`` score and character bitmap."""
    i = 0
    n = len(body)
    while i < n:
        c = body[i]
        i += 1
        if c == "-":
            continue
        upper = c.upper()
        if upper in _DIGITS:
            chars = _DIGITS[upper]
            yield chars, (len(chars) << 8) | ord(min(chars)), _bitmap(chars)
        elif c == ".":
            yield _Wild.DOT, _SCORE_DOT, 0
        elif c == "!":
            yield _Wild.BANG, _SCORE_BANG, 0
        elif c == "[":
            end = body.find("]", i)
            if end < 0:
                raise PatternError(f"pattern '{text}': '[' without a closing ']'")
            chars = _set_members(body[i:end])
            i = end + 1
            if chars:
                yield chars, (len(chars) << 8) | ord(min(chars)), _bitmap(chars)
        else:
            yield frozenset(c), 0x100 | ord(c), _bitmap(frozenset(c))


def _set_members(inner: str) -> frozenset[str]:
    """Characters of ``[...]``: ``a-c`` is a range unless the ``-`` is first or last."""
    members: set[str] = set()
    j = 0
    while j < len(inner):
        if j + 2 < len(inner) and inner[j + 1] == "-":
            members.update(chr(o) for o in range(ord(inner[j]), ord(inner[j + 2]) + 1))
            j += 3
        else:
            members.add(inner[j])
            j += 1
    return frozenset(members)


def _bitmap(chars: frozenset[str]) -> int:
    """Asterisk's 256-bit set bitmap read as a big-endian integer (lower characters weigh more)."""
    value = 0
    for c in chars:
        value |= 1 << (255 - (ord(c) & 0xFF))
    return value


def match(pattern: str, number: str) -> bool:
    """True when ``number`` completely matches extension name ``pattern``."""
    return compile_name(pattern).matches(number)


def could_match_more(pattern: str, number: str) -> bool:
    """True when more digits after ``number`` could still match ``pattern`` (overlap dialing).

    A ``!`` pattern that already matches says no: its decision is final (Asterisk E_MATCHMORE).
    """
    return compile_name(pattern).match(number, MATCHMORE) == YES


def can_match(pattern: str, number: str) -> bool:
    """True when ``number`` matches ``pattern`` now or is a prefix of a match."""
    return compile_name(pattern).match(number, CANMATCH) != NO


def shrink_callerid(cid: str) -> str:
    """``ast_shrink_phone_number``: drop ``( )`` and spaces, ``-`` outside sets, inner ``.``.

    Applied to the caller-ID half of ``exten => 100/(555) 123-4567`` at load time.
    """
    out: list[str] = []
    bracketed = 0
    for i, c in enumerate(cid):
        if c == "[":
            bracketed += 1
            out.append(c)
        elif c == "]":
            bracketed -= 1
            out.append(c)
        elif c == "-":
            if bracketed:
                out.append(c)
        elif c == ".":
            if i == len(cid) - 1:
                out.append(c)
        elif c not in "( )":
            out.append(c)
    return "".join(out)
