"""The SDP data model (RFC 8866 §5) and its serialization.

A :class:`SessionDescription` holds typed session-level fields and a list of
:class:`MediaDescription` objects; every ``a=`` line is kept as an :class:`Attribute` in its
original order, known or not, so ``str(SessionDescription.parse(x)) == x`` for well-formed CRLF
input.  Fields are written in the order RFC 8866 §5 prescribes (v o s i u e p c b t r z k a, then
m i c b k a per media description).

The structured attribute values pbx interprets have small value types with ``parse`` (raising
``ValueError``) and ``__str__``: :class:`RtpMap` (§6.6), :class:`Crypto` (RFC 4568 §9.1),
:class:`Candidate` (RFC 8839 §5.1).  Media descriptions resolve session-level fallbacks
(``c=``, ``a=ice-ufrag``, ``a=fingerprint``, ``a=setup``, direction) through their ``session``.

Parsing text lives in :mod:`pbx.sdp.parse`; offer/answer rules in :mod:`pbx.sdp.negotiator`.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")
"""The RFC 8866 §6.7 direction attributes."""

SETUP_ROLES = ("active", "passive", "actpass", "holdconn")
"""The RFC 4145 §4 ``a=setup`` values."""

_HEX_PAIRS = re.compile(r"[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2})*")


def is_uint(text: str) -> bool:
    """Whether ``text`` is one or more ASCII digits (``isdigit()`` alone takes other scripts'
    digits too; this is several times cheaper than a regular expression, and SDP is full of
    numbers)."""
    return text.isascii() and text.isdigit()


def parse_uint(text: str) -> int:
    """A non-negative decimal integer; ``int()`` alone would also take ``+1``, ``-1``, ``1_0``.

    :raises ValueError: for anything but ASCII digits.
    """
    if not is_uint(text):
        raise ValueError(f"not a number: {text!r}")
    return int(text)


@dataclass(frozen=True)
class Origin:
    """The ``o=`` line (RFC 8866 §5.2)."""

    username: str
    sess_id: int
    sess_version: int
    nettype: str
    addrtype: str
    address: str

    @classmethod
    def parse(cls, value: str) -> Origin:
        parts = value.split(" ")
        if len(parts) != 6 or not all(parts):
            raise ValueError("o= needs 6 fields")
        return cls(
            parts[0], parse_uint(parts[1]), parse_uint(parts[2]), parts[3], parts[4], parts[5]
        )

    def __str__(self) -> str:
        return (
            f"{self.username} {self.sess_id} {self.sess_version} "
            f"{self.nettype} {self.addrtype} {self.address}"
        )


@dataclass(frozen=True)
class Connection:
    """A ``c=`` line (RFC 8866 §5.7); a multicast ``address`` keeps its ``/ttl[/n]`` suffix."""

    nettype: str
    addrtype: str
    address: str

    @classmethod
    def parse(cls, value: str) -> Connection:
        parts = value.split(" ")
        if len(parts) != 3 or not all(parts):
            raise ValueError("c= needs 3 fields")
        return cls(*parts)

    @classmethod
    def for_address(cls, address: str) -> Connection:
        """``IN IP4 <address>`` or ``IN IP6 <address>`` for an IP literal."""
        return cls("IN", "IP6" if ":" in address else "IP4", address)

    @property
    def host(self) -> str:
        """The address without a multicast TTL or address count."""
        return self.address.split("/", 1)[0]

    @property
    def is_hold_address(self) -> bool:
        """``0.0.0.0``: RFC 2543 hold, "send no RTP or RTCP to me" (RFC 3264 §8.4)."""
        return self.host == "0.0.0.0"

    def __str__(self) -> str:
        return f"{self.nettype} {self.addrtype} {self.address}"


@dataclass(frozen=True)
class Bandwidth:
    """A ``b=`` line (RFC 8866 §5.8)."""

    bwtype: str
    bandwidth: int

    @classmethod
    def parse(cls, value: str) -> Bandwidth:
        bwtype, sep, amount = value.partition(":")
        if not sep or not bwtype or " " in bwtype:
            raise ValueError("b= needs <bwtype>:<bandwidth>")
        return cls(bwtype, parse_uint(amount))

    def __str__(self) -> str:
        return f"{self.bwtype}:{self.bandwidth}"


@dataclass(frozen=True)
class Timing:
    """A ``t=`` line and the ``r=`` lines that follow it (RFC 8866 §5.9, §5.10; kept raw)."""

    start: int
    stop: int
    repeats: tuple[str, ...] = ()

    @classmethod
    def parse(cls, value: str) -> Timing:
        parts = value.split(" ")
        if len(parts) != 2:
            raise ValueError("t= needs 2 fields")
        return cls(parse_uint(parts[0]), parse_uint(parts[1]))


@dataclass(frozen=True)
class Attribute:
    """An ``a=`` line: ``a=<name>`` (a property attribute, value ``None``) or ``a=<name>:<value>``.

    The value is kept byte for byte, leading spaces included (``a=msid-semantic: WMS``).
    """

    name: str
    value: str | None = None

    def __str__(self) -> str:
        return self.name if self.value is None else f"{self.name}:{self.value}"


@dataclass(frozen=True)
class RtpMap:
    """``a=rtpmap:<pt> <encoding>/<clock rate>[/<params>]`` (RFC 8866 §6.6)."""

    payload_type: int
    encoding: str
    clock_rate: int
    params: str | None = None

    @staticmethod
    def parse(value: str) -> RtpMap:
        """:raises ValueError: for a malformed value."""
        return _parse_rtpmap(value)

    @property
    def channels(self) -> int:
        """The audio channel count: the numeric encoding parameter, else 1 (RFC 8866 §6.6)."""
        if self.params is not None and is_uint(self.params):
            return int(self.params)
        return 1

    def __str__(self) -> str:
        tail = "" if self.params is None else f"/{self.params}"
        return f"{self.payload_type} {self.encoding}/{self.clock_rate}{tail}"


# Every call brings the same few rtpmap lines, each read several times (parse check, codec
# matching on both legs): parsed once, the immutable result is shared.
@functools.lru_cache(maxsize=256)
def _parse_rtpmap(value: str) -> RtpMap:
    pt_text, sep, rest = value.strip().partition(" ")
    pt = parse_uint(pt_text)
    parts = rest.split("/")
    if not sep or pt > 127 or len(parts) not in (2, 3) or not parts[0]:
        raise ValueError("bad rtpmap")
    params = parts[2] if len(parts) == 3 else None
    if params == "":
        raise ValueError("empty encoding parameters")
    return RtpMap(pt, parts[0], parse_uint(parts[1]), params)


@dataclass(frozen=True)
class Crypto:
    """``a=crypto:<tag> <suite> <key-params> [<session-param> ...]`` (RFC 4568 §9.1).

    ``key_params`` stays raw (``inline:<base64>[|lifetime][|MKI:len]``, ``;``-separated); its
    meaning is checked by the negotiator, which answers with a reason instead of a 400.
    """

    tag: int
    suite: str
    key_params: str
    session_params: tuple[str, ...] = ()

    @classmethod
    def parse(cls, value: str) -> Crypto:
        parts = value.split()
        if len(parts) < 3 or len(parts[0]) > 9:
            raise ValueError("bad crypto")
        return cls(parse_uint(parts[0]), parts[1], parts[2], tuple(parts[3:]))

    def __str__(self) -> str:
        return " ".join((str(self.tag), self.suite, self.key_params, *self.session_params))


@dataclass(frozen=True)
class Candidate:
    """``a=candidate:`` (RFC 8839 §5.1); ``extensions`` keeps raddr/rport/generation ... raw."""

    foundation: str
    component: int
    transport: str
    priority: int
    address: str
    port: int
    type: str
    extensions: tuple[str, ...] = ()

    @classmethod
    def parse(cls, value: str) -> Candidate:
        parts = value.split()
        if len(parts) < 8 or parts[6] != "typ":
            raise ValueError("bad candidate")
        return cls(
            parts[0],
            parse_uint(parts[1]),
            parts[2],
            parse_uint(parts[3]),
            parts[4],
            parse_uint(parts[5]),
            parts[7],
            tuple(parts[8:]),
        )

    def __str__(self) -> str:
        return " ".join(
            (
                self.foundation,
                str(self.component),
                self.transport,
                str(self.priority),
                self.address,
                str(self.port),
                "typ",
                self.type,
                *self.extensions,
            )
        )


def parse_fingerprint(value: str) -> tuple[str, str]:
    """``a=fingerprint:<hash-func> <hex pairs>`` (RFC 8122 §5) -> (hash, hex) as written."""
    hash_func, sep, hexvalue = value.strip().partition(" ")
    if not sep or not hash_func or not _HEX_PAIRS.fullmatch(hexvalue):
        raise ValueError("bad fingerprint")
    return hash_func, hexvalue


def parse_rtcp(value: str) -> tuple[int, Connection | None]:
    """``a=rtcp:<port> [<nettype> <addrtype> <address>]`` (RFC 3605 §2.1)."""
    port_text, _, rest = value.strip().partition(" ")
    port = parse_uint(port_text)
    if port > 65535:
        raise ValueError("bad port")
    return port, Connection.parse(rest) if rest else None


def parse_ptime(value: str) -> int:
    """``a=ptime``/``a=maxptime`` in ms; fractions (``20.0``, RFC 8866 §6.4 allows them) drop."""
    whole, _, fraction = value.strip().partition(".")
    if fraction:
        parse_uint(fraction)
    return parse_uint(whole)


class _Attributes:
    """Lookup helpers shared by session- and media-level attribute lists."""

    attributes: list[Attribute]

    def attrs(self, name: str) -> list[str]:
        """Values of every ``a=<name>`` in order; ``""`` for a property attribute."""
        return [a.value or "" for a in self.attributes if a.name == name]

    def attr(self, name: str) -> str | None:
        """The value of the first ``a=<name>``, ``""`` for a property attribute, else ``None``."""
        values = self.attrs(name)
        return values[0] if values else None

    def has_attr(self, name: str) -> bool:
        return any(a.name == name for a in self.attributes)

    def _own_direction(self) -> str | None:
        found = [a.name for a in self.attributes if a.name in DIRECTIONS]
        return found[-1] if found else None


@dataclass(eq=True)
class MediaDescription(_Attributes):
    """One ``m=`` section (RFC 8866 §5.14) with its ``i= c= b= k= a=`` lines.

    ``session`` is the owning description (set by :class:`SessionDescription`), used for the
    session-level fallbacks; it takes no part in equality or ``repr``.
    """

    media: str
    port: int
    proto: str
    fmts: list[str]
    port_count: int | None = None
    title: str | None = None
    connections: list[Connection] = field(default_factory=list)
    bandwidths: list[Bandwidth] = field(default_factory=list)
    key: str | None = None
    attributes: list[Attribute] = field(default_factory=list)
    session: SessionDescription | None = field(default=None, repr=False, compare=False)

    @property
    def payload_types(self) -> list[int]:
        """The numeric formats of the ``m=`` line (RTP payload types) in order."""
        return [int(f) for f in self.fmts if is_uint(f)]

    def rtpmaps(self) -> dict[int, RtpMap]:
        """``a=rtpmap`` by payload type (the first one wins on duplicates)."""
        result: dict[int, RtpMap] = {}
        for value in self.attrs("rtpmap"):
            rtpmap = RtpMap.parse(value)
            result.setdefault(rtpmap.payload_type, rtpmap)
        return result

    def fmtp(self, payload_type: int) -> str | None:
        """The parameters of ``a=fmtp:<payload_type>``, or ``None``."""
        for value in self.attrs("fmtp"):
            fmt, _, params = value.partition(" ")
            if fmt == str(payload_type):
                return params
        return None

    @property
    def direction(self) -> str:
        """Media-level direction, else session-level, else ``sendrecv`` (RFC 8866 §6.7)."""
        own = self._own_direction()
        if own is None and self.session is not None:
            own = self.session._own_direction()
        return own or "sendrecv"

    @property
    def mid(self) -> str | None:
        """``a=mid`` (RFC 5888 §4)."""
        return self.attr("mid")

    @property
    def rtcp_mux(self) -> bool:
        """``a=rtcp-mux`` present (RFC 5761 §5.1.1)."""
        return self.has_attr("rtcp-mux")

    @property
    def rtcp(self) -> tuple[int, Connection | None] | None:
        """``a=rtcp`` port and optional address (RFC 3605), or ``None``."""
        value = self.attr("rtcp")
        return None if value is None else parse_rtcp(value)

    def rtcp_port(self, muxed: bool) -> int:
        """Where the peer receives RTCP: the RTP port when muxed (RFC 5761), else ``a=rtcp``
        (RFC 3605), else RTP port + 1 (RFC 3550 §11)."""
        rtcp = self.rtcp
        if muxed:
            return self.port
        return self.port + 1 if rtcp is None else rtcp[0]

    @property
    def ptime(self) -> int | None:
        """``a=ptime`` in ms, or ``None``."""
        value = self.attr("ptime")
        return None if value is None else parse_ptime(value)

    def _with_fallback(self, name: str) -> str | None:
        value = self.attr(name)
        if value is None and self.session is not None:
            value = self.session.attr(name)
        return value

    @property
    def ice_ufrag(self) -> str | None:
        """``a=ice-ufrag``, media level first, then session level (RFC 8839 §5.4)."""
        return self._with_fallback("ice-ufrag")

    @property
    def ice_pwd(self) -> str | None:
        """``a=ice-pwd``, media level first, then session level (RFC 8839 §5.4)."""
        return self._with_fallback("ice-pwd")

    @property
    def setup(self) -> str | None:
        """``a=setup`` in lower case, media level first, then session level (RFC 4145 §4)."""
        value = self._with_fallback("setup")
        return None if value is None else value.lower()

    @property
    def fingerprints(self) -> list[tuple[str, str]]:
        """``a=fingerprint`` as (hash, hex); media-level ones replace session-level ones
        (RFC 8122 §5)."""
        values = self.attrs("fingerprint")
        if not values and self.session is not None:
            values = self.session.attrs("fingerprint")
        return [parse_fingerprint(v) for v in values]

    @property
    def cryptos(self) -> list[Crypto]:
        """``a=crypto`` lines in order (RFC 4568 §9.1)."""
        return [Crypto.parse(v) for v in self.attrs("crypto")]

    @property
    def candidates(self) -> list[Candidate]:
        """``a=candidate`` lines in order (RFC 8839 §5.1)."""
        return [Candidate.parse(v) for v in self.attrs("candidate")]

    @property
    def connection(self) -> Connection | None:
        """The first media-level ``c=``, else the session-level one (RFC 8866 §5.7)."""
        if self.connections:
            return self.connections[0]
        return None if self.session is None else self.session.connection

    @property
    def connection_address(self) -> str | None:
        """The address media goes to (without multicast suffixes), or ``None``."""
        conn = self.connection
        return None if conn is None else conn.host

    def lines(self) -> list[str]:
        """The section's lines in RFC 8866 §5 order, without line endings."""
        count = "" if self.port_count is None else f"/{self.port_count}"
        out = [f"m={self.media} {self.port}{count} {' '.join([self.proto, *self.fmts])}"]
        if self.title is not None:
            out.append(f"i={self.title}")
        out += [f"c={c}" for c in self.connections]
        out += [f"b={b}" for b in self.bandwidths]
        if self.key is not None:
            out.append(f"k={self.key}")
        out += [f"a={a}" for a in self.attributes]
        return out


@dataclass(eq=True)
class SessionDescription(_Attributes):
    """A whole SDP body (RFC 8866 §5).  ``v=`` is always 0 and is not stored."""

    origin: Origin
    session_name: str = "-"
    information: str | None = None
    uri: str | None = None
    emails: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    connection: Connection | None = None
    bandwidths: list[Bandwidth] = field(default_factory=list)
    times: list[Timing] = field(default_factory=lambda: [Timing(0, 0)])
    zone: str | None = None
    key: str | None = None
    attributes: list[Attribute] = field(default_factory=list)
    media: list[MediaDescription] = field(default_factory=list)

    def __post_init__(self) -> None:
        for md in self.media:
            md.session = self

    def add_media(self, md: MediaDescription) -> MediaDescription:
        """Append ``md`` and link it to this session (for session-level fallbacks)."""
        md.session = self
        self.media.append(md)
        return md

    @classmethod
    def parse(cls, data: str | bytes) -> SessionDescription:
        """Parse SDP text (CRLF or LF line ends).

        :raises pbx.sdp.parse.SdpError: with the line number and exact reason.
        """
        # parse.py builds these model objects, so it can only be imported at call time.
        from pbx.sdp.parse import parse_sdp

        return parse_sdp(data)

    def group(self, semantics: str) -> list[str] | None:
        """The identification tags of the first ``a=group:<semantics>`` (RFC 5888 §5)."""
        for value in self.attrs("group"):
            tokens = value.split()
            if tokens and tokens[0] == semantics:
                return tokens[1:]
        return None

    @property
    def ice_lite(self) -> bool:
        """Session-level ``a=ice-lite`` (RFC 8839 §5.3)."""
        return self.has_attr("ice-lite")

    def lines(self) -> list[str]:
        """Every line in RFC 8866 §5 order, without line endings."""
        out = ["v=0", f"o={self.origin}", f"s={self.session_name}"]
        if self.information is not None:
            out.append(f"i={self.information}")
        if self.uri is not None:
            out.append(f"u={self.uri}")
        out += [f"e={e}" for e in self.emails]
        out += [f"p={p}" for p in self.phones]
        if self.connection is not None:
            out.append(f"c={self.connection}")
        out += [f"b={b}" for b in self.bandwidths]
        for t in self.times:
            out.append(f"t={t.start} {t.stop}")
            out += [f"r={r}" for r in t.repeats]
        if self.zone is not None:
            out.append(f"z={self.zone}")
        if self.key is not None:
            out.append(f"k={self.key}")
        out += [f"a={a}" for a in self.attributes]
        for md in self.media:
            out += md.lines()
        return out

    def __str__(self) -> str:
        return "".join(line + "\r\n" for line in self.lines())

    def to_bytes(self) -> bytes:
        """The UTF-8 body for a SIP message."""
        return str(self).encode("utf-8")
