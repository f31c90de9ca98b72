"""SIP header fields: the ordered multimap and the typed values of a few of them.

:class:`Headers` keeps header fields in received order with their names as written, and the
raw text of each line so that an untouched field is sent back byte for byte. Lookups are
case-insensitive and understand the compact forms of RFC 3261 §7.3.3 and later RFCs. Header
fields may repeat or carry comma lists (§7.3.1); :meth:`Headers.get_all` returns the elements
either way, except for fields whose grammar uses commas inside one value (Date, the
authentication fields ...).

Typed values parsed on demand: :class:`Via` (§20.42, RFC 3581 rport), :class:`CSeq` (§20.16)
and :class:`Auth`, the credentials and challenges of §20.7, §20.27, §20.44 and §22 (Digest per
RFC 2617/7616). From/To/Contact values are :class:`pbx.sip.uri.NameAddr`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from pbx.sip.grammar import (
    QUOTED,
    TOKEN,
    TOKEN_RE,
    SipParseError,
    parse_params,
    quote,
    split_commas,
    unquote,
)

__all__ = ["COMPACT", "Auth", "CSeq", "Headers", "Via", "canonical_name"]

# RFC 3261 §7.3.3 and the compact forms registered since (RFC 3265/6665 o u, RFC 3515 r,
# RFC 3892 b, RFC 4028 x, RFC 3841 a d j, RFC 4474/8224 n y).
COMPACT: dict[str, str] = {
    "i": "Call-ID",
    "m": "Contact",
    "f": "From",
    "t": "To",
    "v": "Via",
    "l": "Content-Length",
    "c": "Content-Type",
    "e": "Content-Encoding",
    "k": "Supported",
    "s": "Subject",
    "o": "Event",
    "u": "Allow-Events",
    "r": "Refer-To",
    "b": "Referred-By",
    "x": "Session-Expires",
    "a": "Accept-Contact",
    "d": "Request-Disposition",
    "j": "Reject-Contact",
    "y": "Identity",
    "n": "Identity-Info",
}

# Names whose canonical spelling is not plain capitalisation of the dash-separated words.
_CANONICAL: dict[str, str] = {
    name.lower(): name
    for name in (
        *COMPACT.values(),
        "CSeq",
        "WWW-Authenticate",
        "RAck",
        "RSeq",
        "MIME-Version",
        "Min-SE",
        "SIP-ETag",
        "SIP-If-Match",
        "P-Asserted-Identity",
        "P-Preferred-Identity",
    )
}
_COMPACT_KEY: dict[str, str] = {k: v.lower() for k, v in COMPACT.items()}

# Fields whose values may contain commas that do not separate list elements (auth-params,
# HTTP dates, free text, comments), or that are single-valued by definition.
_NO_SPLIT = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "www-authenticate",
        "proxy-authenticate",
        "authentication-info",
        "date",
        "subject",
        "organization",
        "user-agent",
        "server",
        "retry-after",
        "identity",
        "call-id",
        "cseq",
        "content-length",
        "content-type",
        "max-forwards",
        "expires",
        "min-expires",
        "timestamp",
        "from",
        "to",
        "reply-to",
        "refer-to",
        "referred-by",
        "session-expires",
        "min-se",
        "event",
        "subscription-state",
        "rseq",
        "rack",
        "priority",
        "mime-version",
        "content-disposition",
    }
)

_Entry = tuple[str, str, str, str | None]  # lookup key, name as written, value, raw line


def _key(name: str) -> str:
    key = _KEYS.get(name)
    if key is None:
        lower = name.lower()
        key = _COMPACT_KEY.get(lower, lower)
        if len(_KEYS) < _MEMO_MAX:
            _KEYS[name] = key
    return key


# Names as callers pass them -> lookup key, and -> (lookup key, canonical spelling) for add().
# Every message is looked at through the same few dozen names, tens of times each; the memos
# are capped in case a caller passes names taken from messages.
_KEYS: dict[str, str] = {}
_ADD_NAMES: dict[str, tuple[str, str]] = {}
_MEMO_MAX = 512


def canonical_name(name: str) -> str:
    """The conventional spelling of a header name: ``"i"``/``"call-id"`` -> ``"Call-ID"``.

    Unknown names get each dash-separated word capitalised, the rest of the word untouched.
    """
    key = _key(name)
    known = _CANONICAL.get(key)
    if known is not None:
        return known
    return "-".join(word[:1].upper() + word[1:] for word in name.split("-"))


class Headers:
    """Ordered multimap of header fields.

    Names keep the case they were received (or added) with; lookups ignore case and accept
    compact forms. Every edit bumps :attr:`revision`, which :class:`pbx.sip.message.Message`
    uses to know it must re-render, and records which field it touched
    (:meth:`edited_since`), so that the message drops only the typed views of that field.
    """

    __slots__ = ("_edits", "_entries", "_keys", "_revision")

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._entries: list[_Entry] = []
        # The entries' lookup keys in order, so that lookups run in C (list.index/count): a
        # message is looked at through its headers some thirty times. Rebuilt after an edit.
        self._keys: list[str] | None = []
        self._revision = 0
        # lookup key -> revision of its last edit (see edited_since)
        self._edits: dict[str, int] = {}
        for name, value in items:
            self.add(name, value)

    @classmethod
    def from_lines(cls, lines: Iterable[str]) -> tuple[Headers, bool]:
        """Build from received header lines, keeping each line's raw text for re-sending.

        A trailing CR on a line is dropped. A line starting with SP/HTAB continues the previous
        field (folding, §7.3.1): the value reads as if the line break and indentation were one
        SP. Lines that are not ``name: value`` are skipped; the flag returned is ``False`` when
        there was one.
        """
        entries: list[_Entry] = []
        well_formed = True
        for line in lines:
            if line.endswith("\r"):
                line = line[:-1]
            if line[:1] in (" ", "\t"):
                if not entries:
                    well_formed = False
                    continue
                key, name, value, raw = entries[-1]
                more = line.strip(" \t")
                entries[-1] = (key, name, f"{value} {more}".strip(), f"{raw}\r\n{line}")
                continue
            name, colon, value = line.partition(":")
            name = name.rstrip(" \t")
            if not colon or not name:
                well_formed = False
                continue
            lower = name.lower()
            entries.append((_COMPACT_KEY.get(lower, lower), name, value.strip(" \t"), line))
        headers = cls()
        headers._entries = entries
        headers._keys = None
        return headers, well_formed

    @property
    def revision(self) -> int:
        """Incremented by every edit."""
        return self._revision

    def edited_since(self, name: str, revision: int) -> bool:
        """Whether a field called ``name`` was added, changed or removed after ``revision``."""
        return self._edits.get(_key(name), -1) > revision

    def _edited(self, key: str, appended: bool = False) -> None:
        self._revision += 1
        self._edits[key] = self._revision
        if appended and self._keys is not None:
            self._keys.append(key)  # still in step: an append needs no rebuild
        else:
            self._keys = None

    def _lookup_keys(self) -> list[str]:
        keys = self._keys
        if keys is None:
            keys = self._keys = [entry[0] for entry in self._entries]
        return keys

    def get(self, name: str) -> str | None:
        """The value of the first field called ``name``, or ``None``."""
        try:
            return self._entries[self._lookup_keys().index(_key(name))][2]
        except ValueError:
            return None

    def get_all(self, name: str) -> list[str]:
        """Every value of ``name`` in order, comma lists split into their elements."""
        key = _key(name)
        if key not in self._lookup_keys():
            return []
        values = [entry[2] for entry in self._entries if entry[0] == key]
        if key in _NO_SPLIT:
            return values
        return [item for value in values for item in split_commas(value)]

    def count(self, name: str) -> int:
        """How many fields are called ``name`` (fields, not comma-list elements)."""
        return self._lookup_keys().count(_key(name))

    def add(self, name: str, value: str) -> None:
        """Append a field (the name is canonicalised)."""
        names = _ADD_NAMES.get(name)
        if names is None:
            names = (_key(name), canonical_name(name))
            if len(_ADD_NAMES) < _MEMO_MAX:
                _ADD_NAMES[name] = names
        key, canonical = names
        self._entries.append((key, canonical, value, None))
        self._edited(key, appended=True)

    def prepend(self, name: str, value: str) -> None:
        """Insert a field before the first one of the same name (or first of all), e.g. Via."""
        key = _key(name)
        index = next((i for i, e in enumerate(self._entries) if e[0] == key), 0)
        self._entries.insert(index, (key, canonical_name(name), value, None))
        self._edited(key)

    def set(self, name: str, value: str) -> None:
        """Replace every field called ``name`` by one, at the position of the first."""
        key = _key(name)
        entry = (key, canonical_name(name), value, None)
        index = next((i for i, e in enumerate(self._entries) if e[0] == key), None)
        if index is None:
            self._entries.append(entry)
        else:
            self._entries[index] = entry
            self._entries[index + 1 :] = [e for e in self._entries[index + 1 :] if e[0] != key]
        self._edited(key)

    def remove(self, name: str) -> None:
        """Remove every field called ``name`` (no error when there is none)."""
        key = _key(name)
        self._entries = [e for e in self._entries if e[0] != key]
        self._edited(key)

    def remove_first(self, name: str) -> None:
        """Remove the first *element* of ``name``: the top Via, even inside a comma list."""
        self._edit_first(name, None)

    def replace_first(self, name: str, value: str) -> None:
        """Replace the first *element* of ``name`` (inside a comma list, only that element)."""
        self._edit_first(name, value)

    def _edit_first(self, name: str, value: str | None) -> None:
        key = _key(name)
        for i, (k, written, old, _raw) in enumerate(self._entries):
            if k == key:
                rest = [] if key in _NO_SPLIT else split_commas(old)[1:]
                items = rest if value is None else [value, *rest]
                if items:
                    self._entries[i] = (k, written, ", ".join(items), None)
                else:
                    del self._entries[i]
                self._edited(key)
                return

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        return _key(name) in self._lookup_keys()

    def __len__(self) -> int:
        return len(self._entries)

    def items(self) -> list[tuple[str, str]]:
        """``(name as written, value)`` for every field, in order."""
        return [(entry[1], entry[2]) for entry in self._entries]

    def render(self) -> str:
        """The header lines, CRLF-terminated: raw text for untouched fields, else re-rendered."""
        return "".join(
            f"{name}: {value}\r\n" if raw is None else raw + "\r\n"
            for _key_, name, value, raw in self._entries
        )


# via-parm     = sent-protocol LWS sent-by *( SEMI via-params )
# sent-protocol = protocol-name SLASH protocol-version SLASH transport
# sent-by      = host [ COLON port ]
_VIA_RE = re.compile(
    rf"[ \t]*({TOKEN})[ \t]*/[ \t]*({TOKEN})[ \t]*/[ \t]*({TOKEN})[ \t]+"
    r"(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9\-._]+))(?:[ \t]*:[ \t]*([0-9]{1,5}))?"
)


def _host_port(host: str, port: int | None) -> str:
    host = f"[{host}]" if ":" in host else host
    return host if port is None else f"{host}:{port}"


def _render_params(params: dict[str, str | None]) -> str:
    return "".join(f";{k}" if v is None else f";{k}={v}" for k, v in params.items())


@dataclass(slots=True)
class Via:
    """One via-parm (RFC 3261 §20.42): ``SIP/2.0/UDP host:port;branch=...;rport``.

    ``transport`` is upper-cased; ``host`` is an IPv6 address without brackets or a name as
    written; ``params`` keys are lower-cased, a flag (``rport``) maps to ``None``.
    """

    transport: str
    host: str
    port: int | None = None
    params: dict[str, str | None] = field(default_factory=dict)
    protocol: str = "SIP/2.0"

    @classmethod
    def parse(cls, text: str) -> Via:
        """Parse one Via element; raises :class:`SipParseError` ("Malformed Via header")."""
        m = _VIA_RE.match(text)
        params = None if m is None else parse_params(text[m.end() :].rstrip())
        if m is None or params is None or (m.group(6) is not None and int(m.group(6)) > 65535):
            raise SipParseError("Malformed Via header")
        return cls(
            transport=m.group(3).upper(),
            host=m.group(4) or m.group(5),
            port=None if m.group(6) is None else int(m.group(6)),
            params=params,
            protocol=f"{m.group(1).upper()}/{m.group(2)}",
        )

    @property
    def branch(self) -> str | None:
        """The branch parameter (transaction id, §17.2.3), or ``None``."""
        return self.params.get("branch")

    @property
    def rport_requested(self) -> bool:
        """Whether the client asked for symmetric response routing (RFC 3581 ``;rport``)."""
        return "rport" in self.params

    @property
    def rport_value(self) -> int | None:
        """The port filled in by a server (``;rport=5060``), or ``None``."""
        value = self.params.get("rport")
        return int(value) if value is not None and value.isdigit() else None

    @property
    def received(self) -> str | None:
        """The ``received`` address without IPv6 brackets (RFC 5118 §4.5 allows both)."""
        value = self.params.get("received")
        return None if value is None else value.strip("[]")

    def host_port(self) -> str:
        """``sent-by`` as text, IPv6 in brackets."""
        return _host_port(self.host, self.port)

    def __str__(self) -> str:
        return f"{self.protocol}/{self.transport} {self.host_port()}" + _render_params(self.params)


# CSeq = 1*DIGIT LWS Method
_CSEQ_RE = re.compile(rf"[ \t]*([0-9]+)[ \t]+({TOKEN})[ \t]*")


@dataclass(slots=True)
class CSeq:
    """The CSeq header field (RFC 3261 §20.16)."""

    seq: int
    method: str

    @classmethod
    def parse(cls, text: str) -> CSeq:
        """Parse ``seq method``; the number must fit 32 bits (§8.1.1.5, RFC 4475 §3.1.2.4)."""
        m = _CSEQ_RE.fullmatch(text)
        if m is None or int(m.group(1)) > 0xFFFFFFFF:
            raise SipParseError("Malformed CSeq header")
        return cls(int(m.group(1)), m.group(2))

    def __str__(self) -> str:
        return f"{self.seq} {self.method}"


# credentials / challenge = auth-scheme LWS auth-param *(COMMA auth-param)
# auth-param = auth-param-name EQUAL ( token / quoted-string )
_AUTH_SCHEME_RE = re.compile(rf"[ \t]*({TOKEN})(?:[ \t]+|$)")
_AUTH_PARAM_RE = re.compile(rf'[ \t]*({TOKEN})[ \t]*=[ \t]*({QUOTED}|[^\s,"]+)[ \t]*(,|$)')
# RFC 2617 §3.2.1/§3.2.2 and RFC 7616: these values are always quoted-strings ...
_ALWAYS_QUOTED = frozenset(
    {"realm", "nonce", "uri", "response", "opaque", "username", "cnonce", "domain"}
)
# ... these never are (qop is quoted in a challenge only, see Auth.__str__).
_NEVER_QUOTED = frozenset({"algorithm", "nc", "stale"})


@dataclass(slots=True)
class Auth:
    """Digest credentials or challenge: scheme plus auth-params with quoted values unquoted.

    Parameter names are lower-cased. ``str()`` quotes what RFC 2617/7616 quote: realm, nonce,
    uri, response, opaque, username, cnonce, domain always; algorithm, nc and stale never; qop
    only in a challenge (a value set without ``response``), and any other value that is not a
    token.
    """

    scheme: str
    params: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str, header_name: str = "Authorization") -> Auth:
        """Parse a WWW-Authenticate/Authorization/Proxy-* value.

        :param header_name: named in the error: ``"Malformed <header_name> header"``.
        """
        m = _AUTH_SCHEME_RE.match(text)
        if m is None:
            raise SipParseError(f"Malformed {header_name} header")
        params: dict[str, str] = {}
        pos, end = m.end(), len(text.rstrip())
        while pos < end:
            pm = _AUTH_PARAM_RE.match(text, pos)
            if pm is None:
                raise SipParseError(f"Malformed {header_name} header")
            params[pm.group(1).lower()] = unquote(pm.group(2))
            pos = pm.end()
        return cls(m.group(1), params)

    def __str__(self) -> str:
        challenge = "response" not in self.params
        items = []
        for name, value in self.params.items():
            if name in _ALWAYS_QUOTED or (name == "qop" and challenge):
                items.append(f"{name}={quote(value)}")
            elif name in _NEVER_QUOTED or name == "qop" or TOKEN_RE.fullmatch(value):
                items.append(f"{name}={value}")
            else:
                items.append(f"{name}={quote(value)}")
        return f"{self.scheme} {', '.join(items)}" if items else self.scheme
