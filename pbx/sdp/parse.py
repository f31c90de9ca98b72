"""SDP text -> :class:`~pbx.sdp.model.SessionDescription` (RFC 8866 §5, §9).

Accepts CRLF or bare LF line ends (RFC 8866 §5 asks parsers to), a missing final line end and
blank lines; lines may come in any order within their section, and the serializer writes them
back in RFC order, so well-formed input round-trips exactly.  There are no size limits: SDP
arrives inside a SIP message whose size the SIP layer bounds.

Integers on ``o= t= b= m=`` lines are written back without leading zeros (no implementation
seen sends them).  Everything else that is not well-formed raises :class:`SdpError` (a 400-class
``RemoteProtocolError``) naming the line: the structural lines ``v= o= s= c= b= t= r= m=``, the
attribute name syntax, and the attributes pbx interprets (``rtpmap fmtp crypto fingerprint setup
candidate rtcp ptime maxptime mid ice-ufrag ice-pwd group``).  Unknown attributes are kept
unchecked.  Unknown line types are rejected, as RFC 8866 §5 allows.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from pbx.core.errors import RemoteProtocolError
from pbx.sdp.model import (
    SETUP_ROLES,
    Attribute,
    Bandwidth,
    Candidate,
    Connection,
    Crypto,
    MediaDescription,
    Origin,
    RtpMap,
    SessionDescription,
    Timing,
    parse_fingerprint,
    parse_ptime,
    parse_rtcp,
    parse_uint,
)


class SdpError(RemoteProtocolError):
    """Malformed SDP.

    :param reason: what is wrong, e.g. ``malformed m= line 'm=audio x RTP/AVP 0'``.
    :param line_no: the 1-based line it was found on, if it is about one line.

    ``str()`` and ``message`` are ``line 7: <reason>`` (or just the reason); the response hint
    is 400 (RFC 3261 §21.4.1).
    """

    def __init__(self, reason: str, line_no: int | None = None) -> None:
        self.reason = reason
        self.line_no = line_no
        super().__init__(reason if line_no is None else f"line {line_no}: {reason}", 400)


# RFC 8866 §9: token-char, the syntax of an attribute name.
_TOKEN = re.compile(r"[!#$%&'*+\-.0-9A-Z^_`a-z{|}~]+")
_SESSION_ONLY = frozenset("vosuepztr")
_REPEATABLE = frozenset("epbtra")


def _nonempty(value: str) -> object:
    if not value.strip():
        raise ValueError("empty")
    return value


def _setup(value: str) -> object:
    # ABNF literals are case-insensitive (RFC 5234 §2.3).
    if value.lower() not in SETUP_ROLES:
        raise ValueError("unknown setup role")
    return value


def _fmtp(value: str) -> object:
    return _nonempty(value.partition(" ")[0])


# The attributes pbx reads; their values must parse or the SDP is rejected with the line number.
_ATTRIBUTE_CHECKS: dict[str, Callable[[str], object]] = {
    "rtpmap": RtpMap.parse,
    "fmtp": _fmtp,
    "crypto": Crypto.parse,
    "fingerprint": parse_fingerprint,
    "setup": _setup,
    "candidate": Candidate.parse,
    "rtcp": parse_rtcp,
    "ptime": parse_ptime,
    "maxptime": parse_ptime,
    "mid": _nonempty,
    "ice-ufrag": _nonempty,
    "ice-pwd": _nonempty,
    "group": _nonempty,
}


def parse_attribute(value: str) -> Attribute:
    """The part of an ``a=`` line after ``a=`` -> :class:`Attribute`.

    :raises ValueError: if the name is not a token or a checked value does not parse.
    """
    name, sep, attr_value = value.partition(":")
    if not _TOKEN.fullmatch(name):
        raise ValueError("bad attribute name")
    check = _ATTRIBUTE_CHECKS.get(name)
    if check is not None:
        if not sep:
            raise ValueError("value required")
        check(attr_value)
    return Attribute(name, attr_value if sep else None)


def parse_media_line(value: str) -> MediaDescription:
    """``<media> <port>[/<count>] <proto> <fmt> ...`` -> an empty :class:`MediaDescription`.

    :raises ValueError: on a wrong field count, empty field, or a port outside 0..65535.
    """
    parts = value.split(" ")
    if len(parts) < 4 or not all(parts):
        raise ValueError("m= needs at least 4 fields")
    port_text, slash, count_text = parts[1].partition("/")
    port = parse_uint(port_text)
    if port > 65535:
        raise ValueError("bad port")
    count = parse_uint(count_text) if slash else None
    return MediaDescription(parts[0], port, parts[2], parts[3:], port_count=count)


class _Builder:
    """Collects the fields of one SDP body while lines arrive."""

    def __init__(self) -> None:
        self.origin: Origin | None = None
        self.name: str | None = None
        self.fields: dict[str, str] = {}
        self.emails: list[str] = []
        self.phones: list[str] = []
        self.connection: Connection | None = None
        self.bandwidths: list[Bandwidth] = []
        self.times: list[Timing] = []
        self.attributes: list[Attribute] = []
        self.media: list[MediaDescription] = []
        self.seen: set[str] = set()

    def session_line(self, kind: str, value: str) -> None:
        # A second v= is caught here too: the parser marks "v" seen on line 1.
        if kind not in _REPEATABLE and kind in self.seen:
            raise _Duplicate
        self.seen.add(kind)
        if kind == "o":
            self.origin = Origin.parse(value)
        elif kind == "s":
            self.name = value
        elif kind in "iuzk":
            self.fields[kind] = value
        elif kind == "e":
            self.emails.append(value)
        elif kind == "p":
            self.phones.append(value)
        elif kind == "c":
            self.connection = Connection.parse(value)
        elif kind == "b":
            self.bandwidths.append(Bandwidth.parse(value))
        elif kind == "t":
            self.times.append(Timing.parse(value))
        elif kind == "r":
            if not self.times:
                raise _Orphan
            last = self.times[-1]
            self.times[-1] = Timing(last.start, last.stop, (*last.repeats, value))
        else:  # "a"
            self.attributes.append(parse_attribute(value))

    def media_line(self, kind: str, value: str, seen: set[str]) -> None:
        md = self.media[-1]
        if kind in "ik" and kind in seen:
            raise _Duplicate
        seen.add(kind)
        if kind == "i":
            md.title = value
        elif kind == "k":
            md.key = value
        elif kind == "c":
            md.connections.append(Connection.parse(value))
        elif kind == "b":
            md.bandwidths.append(Bandwidth.parse(value))
        else:  # "a"
            md.attributes.append(parse_attribute(value))

    def build(self) -> SessionDescription:
        if self.origin is None:
            raise SdpError("missing o= line")
        if self.name is None:
            raise SdpError("missing s= line")
        if not self.times:
            raise SdpError("missing t= line")
        return SessionDescription(
            origin=self.origin,
            session_name=self.name,
            information=self.fields.get("i"),
            uri=self.fields.get("u"),
            emails=self.emails,
            phones=self.phones,
            connection=self.connection,
            bandwidths=self.bandwidths,
            times=self.times,
            zone=self.fields.get("z"),
            key=self.fields.get("k"),
            attributes=self.attributes,
            media=self.media,
        )


class _Duplicate(Exception):
    """A line type that may appear once appeared again."""


class _Orphan(Exception):
    """An ``r=`` line before any ``t=`` line."""


def _decode(data: str | bytes) -> str:
    if isinstance(data, str):
        return data
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise SdpError("invalid UTF-8", data.count(b"\n", 0, e.start) + 1) from e


def parse_sdp(data: str | bytes) -> SessionDescription:
    """Parse one SDP body.

    :raises SdpError: with the exact reason and line number.
    """
    lines = _decode(data).split("\n")
    builder = _Builder()
    media_seen: set[str] = set()
    first = True
    for line_no, raw in enumerate(lines, start=1):
        line = raw[:-1] if raw.endswith("\r") else raw
        if not line:
            continue
        if len(line) < 2 or line[1] != "=" or "\r" in line or "\0" in line:
            raise SdpError(f"malformed line '{line}'", line_no)
        kind, value = line[0], line[2:]
        if first:
            if line != "v=0":
                raise SdpError(f"expected 'v=0', got '{line}'", line_no)
            first = False
            builder.seen.add("v")
            continue
        if kind not in "vosiuepcbtrzkam":
            raise SdpError(f"unknown line type '{kind}='", line_no)
        try:
            if kind == "m":
                builder.media.append(parse_media_line(value))
                media_seen = set()
            elif not builder.media:
                builder.session_line(kind, value)
            elif kind in _SESSION_ONLY:
                raise SdpError(f"{kind}= line inside a media description", line_no)
            else:
                builder.media_line(kind, value, media_seen)
        except _Duplicate:
            raise SdpError(f"duplicate {kind}= line", line_no) from None
        except _Orphan:
            raise SdpError("r= line without a t= line", line_no) from None
        except ValueError:
            name = value.partition(":")[0]
            what = f"a={name}" if kind == "a" and _TOKEN.fullmatch(name) else f"{kind}="
            raise SdpError(f"malformed {what} line '{line}'", line_no) from None
    if first:
        raise SdpError("empty SDP")
    return builder.build()
