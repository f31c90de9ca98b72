"""Lexical rules of SIP (RFC 3261 §25.1) shared by the parsers in :mod:`pbx.sip`.

This module owns the handful of compiled regular expressions and lexical helpers (quoting,
%-escapes, splitting comma lists and ``;`` parameters) that :mod:`pbx.sip.uri`,
:mod:`pbx.sip.headers` and :mod:`pbx.sip.message` build on, and :class:`SipParseError`, the one
error every SIP parser raises (it lives here because every parser module imports this one; it is
re-exported by :mod:`pbx.sip.message`). It knows nothing about particular header fields.

The ABNF each expression implements is quoted beside it. Where the expression is more liberal
than the ABNF the comment says so and why.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import unquote as _percent_decode

from pbx.core.errors import RemoteProtocolError

if TYPE_CHECKING:
    from pbx.sip.message import Request

__all__ = [
    "QUOTED",
    "TOKEN",
    "TOKEN_RE",
    "SipParseError",
    "parse_params",
    "quote",
    "split_commas",
    "unescape",
    "unquote",
]


class SipParseError(RemoteProtocolError):
    """A SIP message, or a part of one, does not parse.

    :param message: short exact reason (it becomes the reason phrase of the rejecting response).
    :param response_hint: status a server should answer with (400, 505, 513 ...).
    :param partial: the request as far as it could be read, so that a transport can still send
        the error response when Via/From/To/Call-ID/CSeq are recoverable
        (:func:`pbx.sip.message.can_reply`); ``None`` for responses and unreadable input.
    """

    def __init__(
        self, message: str, response_hint: int = 400, partial: Request | None = None
    ) -> None:
        super().__init__(message, response_hint)
        self.partial = partial


# token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~")
TOKEN = r"[A-Za-z0-9\-.!%*_+`'~]+"
TOKEN_RE = re.compile(TOKEN)

# quoted-string = SWS DQUOTE *(qdtext / quoted-pair) DQUOTE
# qdtext        = LWS / %x21 / %x23-5B / %x5D-7E / UTF8-NONASCII
# quoted-pair   = "\" (%x00-09 / %x0B-0C / %x0E-7F)
# (qdtext is taken as "anything but DQUOTE and backslash": header values reach us unfolded, so
# CR/LF cannot occur, and RFC 4475 §3.1.1.2 puts raw NUL/BEL/DEL after backslashes.)
QUOTED = r'"(?:[^"\\]|\\[\x00-\x09\x0b\x0c\x0e-\x7f])*"'
_QUOTED_PAIR_RE = re.compile(r"\\([\x00-\x09\x0b\x0c\x0e-\x7f])")

# generic-param = token [ EQUAL gen-value ]
# gen-value     = token / host / quoted-string
# host includes IPv6reference "[" IPv6address "]"; via-received also allows a bare IPv6address
# (RFC 5118 §4.5), so ":" "[" "]" are accepted in unquoted values.
_PARAM_RE = re.compile(
    rf"[ \t]*;[ \t]*({TOKEN})(?:[ \t]*=[ \t]*({QUOTED}|[A-Za-z0-9\-.!%*_+`'~:\[\]]+))?[ \t]*"
)

# A list element of a comma-separated header value: commas inside quoted strings and <URIs> do
# not separate. An unbalanced quote or "<" swallows the rest so the element fails later instead
# of being silently repaired.
_LIST_ITEM_RE = re.compile(r'(?:[^,"<]+|"(?:[^"\\]|\\.)*"|<[^>]*>|["<].*)+', re.DOTALL)


def split_commas(value: str) -> list[str]:
    """Split a header value at commas outside quoted strings and ``<...>``; empty items drop."""
    if '"' not in value and "<" not in value:
        items = value.split(",")
    else:
        items = _LIST_ITEM_RE.findall(value)
    return [s for s in (item.strip() for item in items) if s]


def parse_params(text: str) -> dict[str, str | None] | None:
    """Parse ``*(SEMI generic-param)``; keys lower-cased, a flag parameter maps to ``None``.

    Values are kept as written (a quoted value keeps its quotes). Returns ``None`` when the text
    is not a parameter list, so that the caller can raise with its own header name.
    """
    params: dict[str, str | None] = {}
    pos, end = 0, len(text)
    while pos < end:
        m = _PARAM_RE.match(text, pos)
        if m is None:
            return None
        params[m.group(1).lower()] = m.group(2)
        pos = m.end()
    return params


def unquote(text: str) -> str:
    """The content of a quoted-string with quoted-pairs resolved; other text is returned as is."""
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        inner = text[1:-1]
        return _QUOTED_PAIR_RE.sub(r"\1", inner) if "\\" in inner else inner
    return text


def quote(text: str) -> str:
    """Render ``text`` as a quoted-string (backslash and DQUOTE escaped)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def unescape(text: str) -> str:
    """Decode ``%HH`` escapes (RFC 3261 §19.1.2 ``escaped``), e.g. for comparing URI user parts.

    Undecodable UTF-8 is kept as surrogate escapes, so nothing is lost.
    """
    return _percent_decode(text, errors="surrogateescape")
