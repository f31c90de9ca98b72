"""SIP requests and responses: parse, typed views, serialise (RFC 3261 §7, §8.2, §18.3, §21).

:func:`parse_message` is deliberately cheap, because every datagram goes through it: it splits
the start line and the header lines and frames the body by Content-Length, nothing more. The
typed views (:attr:`Message.via`, :attr:`Message.cseq`, :attr:`Message.to` ...) parse their
header on first access and are cached until that header field is edited (edits to other fields
keep them). :meth:`Message.validate` runs the checks the transaction layer relies on (mandatory
headers of §8.1.1, CSeq method, version) and is what the transports call before handing a
message on.

An untouched parsed message serialises to exactly the bytes it was parsed from; once its start
line, headers or body change, header lines that were not touched keep their received text and
the rest is rendered anew, with Content-Length set to the body size.

Framing rules of §18.3 for datagrams and single WebSocket frames: a Content-Length larger than
the data is an error, a smaller one truncates the body (the excess is discarded), a missing one
means "the rest of the data". Streams are framed by :mod:`pbx.sip.framing` first.

Errors are :class:`SipParseError` with a short exact reason and a response hint; when the message
was a request, ``partial`` carries it so that :func:`can_reply` can decide whether a 400/505/513
may be sent (§8.2: only with Via, From, To, Call-ID and CSeq recoverable).
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Literal, TypeVar, cast

from pbx.core.errors import LocalProtocolError
from pbx.sip.grammar import TOKEN, TOKEN_RE, SipParseError
from pbx.sip.headers import CSeq, Headers, Via
from pbx.sip.uri import AbsoluteUri, NameAddr, SipUri, parse_uri

__all__ = [
    "REASONS",
    "Message",
    "NameAddr",
    "Request",
    "Response",
    "SipParseError",
    "can_reply",
    "make_response",
    "parse_content_length",
    "parse_message",
    "salvage_request",
]

#: Reason phrases: RFC 3261 §21 plus the codes later RFCs registered.
REASONS: dict[int, str] = {
    100: "Trying",
    180: "Ringing",
    181: "Call Is Being Forwarded",
    182: "Queued",
    183: "Session Progress",
    199: "Early Dialog Terminated",  # RFC 6228
    200: "OK",
    202: "Accepted",  # RFC 3265/6665
    204: "No Notification",  # RFC 5839
    300: "Multiple Choices",
    301: "Moved Permanently",
    302: "Moved Temporarily",
    305: "Use Proxy",
    380: "Alternative Service",
    400: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    407: "Proxy Authentication Required",
    408: "Request Timeout",
    410: "Gone",
    412: "Conditional Request Failed",  # RFC 3903
    413: "Request Entity Too Large",
    414: "Request-URI Too Long",
    415: "Unsupported Media Type",
    416: "Unsupported URI Scheme",
    417: "Unknown Resource-Priority",  # RFC 4412
    420: "Bad Extension",
    421: "Extension Required",
    422: "Session Interval Too Small",  # RFC 4028
    423: "Interval Too Brief",
    424: "Bad Location Information",  # RFC 6442
    428: "Use Identity Header",  # RFC 8224
    429: "Provide Referrer Identity",  # RFC 3892
    430: "Flow Failed",  # RFC 5626
    433: "Anonymity Disallowed",  # RFC 5079
    436: "Bad Identity Info",  # RFC 8224
    437: "Unsupported Credential",  # RFC 8224
    438: "Invalid Identity Header",  # RFC 8224
    439: "First Hop Lacks Outbound Support",  # RFC 5626
    440: "Max-Breadth Exceeded",  # RFC 5393
    469: "Bad Info Package",  # RFC 6086
    470: "Consent Needed",  # RFC 5360
    480: "Temporarily Unavailable",
    481: "Call/Transaction Does Not Exist",
    482: "Loop Detected",
    483: "Too Many Hops",
    484: "Address Incomplete",
    485: "Ambiguous",
    486: "Busy Here",
    487: "Request Terminated",
    488: "Not Acceptable Here",
    489: "Bad Event",  # RFC 6665
    491: "Request Pending",
    493: "Undecipherable",
    494: "Security Agreement Required",  # RFC 3329
    500: "Server Internal Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Server Time-out",
    505: "Version Not Supported",
    513: "Message Too Large",
    555: "Push Notification Service Not Supported",  # RFC 8599
    580: "Precondition Failure",  # RFC 3312
    600: "Busy Everywhere",
    603: "Decline",
    604: "Does Not Exist Anywhere",
    606: "Not Acceptable",
    607: "Unwanted",  # RFC 8197
    608: "Rejected",  # RFC 8688
}

_T = TypeVar("_T")

# Header fields that may appear once only (RFC 4475 §3.3.8); Content-Length is checked while
# framing.
_SINGLE = ("From", "To", "Call-ID", "CSeq")

# The commonest shapes of a From value and a Request-URI, narrower than the grammar: whatever
# they match, NameAddr.parse and parse_uri accept too (test_message checks it), so validate()
# need not build those two, which nothing reads for most requests (a REGISTER's, for one).
#   <sip:user@host[:port]> *( ";" token "=" token )        sip:[user@]host[:port]
_SIMPLE_URI = r"sips?:(?:[A-Za-z0-9\-_.!~*'()&=+$,%]+@)?[A-Za-z0-9\-.]+(?::[0-9]{1,4})?"
_SIMPLE_URI_RE = re.compile(_SIMPLE_URI)
_SIMPLE_NAME_ADDR_RE = re.compile(rf"<{_SIMPLE_URI}>(?:;{TOKEN}={TOKEN})*")


class Message(ABC):
    """What requests and responses share: headers, body, version and the typed views.

    The views raise :class:`SipParseError` (400) with reasons such as ``"Missing Call-ID
    header"`` or ``"Malformed CSeq header"``. They are snapshots: to change a field, edit
    :attr:`headers` (the cache follows automatically).
    """

    headers: Headers
    body: bytes
    version: str

    def __init__(self, headers: Headers | None, body: bytes) -> None:
        self.headers = Headers() if headers is None else headers
        self.body = body
        self.version = "SIP/2.0"
        # What the message was parsed from, valid while nothing changed (see __bytes__).
        self._raw: bytes | None = None
        self._raw_start = ""
        self._raw_key: tuple[object, ...] = ()
        self._raw_revision = -1
        self._raw_body = b""
        # Typed views by the lookup key of the header field they are parsed from, valid for
        # _cache_headers at _cache_revision (see _cached).
        self._cache: dict[str, object] = {}
        self._cache_headers: Headers | None = None
        self._cache_revision = -1

    # -- serialisation -------------------------------------------------------------------------

    @abstractmethod
    def _start_key(self) -> tuple[object, ...]:
        """What the start line is made of (compared to know whether it changed)."""

    @abstractmethod
    def _start_line(self) -> str:
        """The start line rendered anew."""

    def _remember_raw(self, raw: bytes, start_line: str) -> None:
        self._raw = raw
        self._raw_start = start_line
        self._raw_key = self._start_key()
        self._raw_revision = self.headers.revision
        self._raw_body = self.body

    def __bytes__(self) -> bytes:
        unchanged_start = self._start_key() == self._raw_key
        if (
            self._raw is not None
            and unchanged_start
            and self.body is self._raw_body
            and self.headers.revision == self._raw_revision
        ):
            return self._raw
        length = str(len(self.body))
        if self.headers.get_all("Content-Length") != [length]:
            self.headers.set("Content-Length", length)
        start = self._raw_start if unchanged_start else self._start_line()
        head = f"{start}\r\n{self.headers.render()}\r\n"
        return head.encode("utf-8", "surrogateescape") + self.body

    # -- typed views ---------------------------------------------------------------------------

    def invalidate(self) -> None:
        """Drop the cached views (done automatically when :attr:`headers` is edited)."""
        self._cache = {}
        self._cache_headers = None

    def _cached(self, key: str, build: Callable[[], _T]) -> _T:
        """The view of the header field ``key`` (its lookup key), built once.

        An edit drops only the views of the field it touched: the transport stamping
        ``received`` into the top Via must not cost parsing From, To and CSeq again.
        """
        headers = self.headers
        if self._cache_headers is not headers or self._cache_revision != headers.revision:
            self._follow_edits(headers)
        cache = self._cache
        if key in cache:
            return cast(_T, cache[key])
        value = cache[key] = build()
        return value

    def _follow_edits(self, headers: Headers) -> None:
        if self._cache_headers is not headers:
            self._cache = {}
            self._cache_headers = headers
        else:
            since = self._cache_revision
            self._cache = {
                k: v for k, v in self._cache.items() if not headers.edited_since(k, since)
            }
        self._cache_revision = headers.revision

    def _partial(self) -> Request | None:
        return None

    def _fail(self, reason: str) -> SipParseError:
        return SipParseError(reason, 400, self._partial())

    def _required(self, name: str) -> str:
        value = self.headers.get(name)
        if value is None:
            raise self._fail(f"Missing {name} header")
        return value

    def _name_addr(self, name: str) -> NameAddr:
        value = self._required(name)
        try:
            return NameAddr.parse(value)
        except SipParseError as exc:
            raise self._fail(f"Malformed {name} header") from exc

    def _parse_vias(self) -> list[Via]:
        try:
            return [Via.parse(value) for value in self.headers.get_all("Via")]
        except SipParseError as exc:
            raise self._fail("Malformed Via header") from exc

    @property
    def via(self) -> list[Via]:
        """Every Via element, top first (empty when there is none)."""
        return self._cached("via", self._parse_vias)

    @property
    def top_via(self) -> Via:
        """The first Via element; ``"Missing Via header"`` when there is none."""
        vias = self.via
        if not vias:
            raise self._fail("Missing Via header")
        return vias[0]

    def replace_top_via(self, via: Via) -> None:
        """Put ``via`` in place of the first Via element, e.g. after stamping ``received``
        (§18.2.1); the other elements keep their text. ``via`` becomes the :attr:`top_via`
        view as it is (its text is what was just written, so it is not parsed again)."""
        try:
            vias = self.via
        except SipParseError:
            vias = []
        self.headers.replace_first("Via", str(via))
        if vias:
            self._cached("via", lambda: [via, *vias[1:]])

    def _parse_call_id(self) -> str:
        value = self._required("Call-ID")
        # callid = word [ "@" word ]: never empty, never blank inside
        if not value or _BLANK_RE.search(value):
            raise self._fail("Malformed Call-ID header")
        return value

    @property
    def call_id(self) -> str:
        """The Call-ID value."""
        return self._cached("call-id", self._parse_call_id)

    def _parse_cseq(self) -> CSeq:
        value = self._required("CSeq")
        try:
            return CSeq.parse(value)
        except SipParseError as exc:
            raise self._fail("Malformed CSeq header") from exc

    @property
    def cseq(self) -> CSeq:
        """The CSeq (sequence number below 2**32, method token)."""
        return self._cached("cseq", self._parse_cseq)

    def _parse_from(self) -> NameAddr:
        return self._name_addr("From")

    @property
    def from_(self) -> NameAddr:
        """The From value (first one, see :meth:`validate` for duplicates)."""
        return self._cached("from", self._parse_from)

    def _parse_to(self) -> NameAddr:
        return self._name_addr("To")

    @property
    def to(self) -> NameAddr:
        """The To value (first one, see :meth:`validate` for duplicates)."""
        return self._cached("to", self._parse_to)

    def _parse_contacts(self) -> list[NameAddr] | Literal["*"]:
        values = self.headers.get_all("Contact")
        if "*" in values:
            # §10.2.2: "*" stands alone (the Expires check is the registrar's)
            if values != ["*"]:
                raise self._fail("Malformed Contact header")
            return "*"
        try:
            return [NameAddr.parse(value) for value in values]
        except SipParseError as exc:
            raise self._fail("Malformed Contact header") from exc

    @property
    def contacts(self) -> list[NameAddr] | Literal["*"]:
        """Every Contact element, ``"*"`` for a wildcard, an empty list when absent."""
        return self._cached("contact", self._parse_contacts)

    def _parse_expires(self) -> int | None:
        value = self.headers.get("Expires")
        if value is None:
            return None
        if not (value.isascii() and value.isdigit()):
            raise self._fail("Malformed Expires header")
        # delta-seconds above 2**32-1 are capped (RFC 3261 §20.19, RFC 4475 §3.1.2.4)
        return min(int(value), 0xFFFFFFFF)

    @property
    def expires(self) -> int | None:
        """The Expires header value in seconds, or ``None``."""
        return self._cached("expires", self._parse_expires)

    def _parse_max_forwards(self) -> int | None:
        value = self.headers.get("Max-Forwards")
        if value is None:
            return None
        if not (value.isascii() and value.isdigit()) or int(value) > 255:
            raise self._fail("Invalid Max-Forwards")
        return int(value)

    @property
    def max_forwards(self) -> int | None:
        """Max-Forwards (0-255), or ``None`` when absent (accepted, as Asterisk does)."""
        return self._cached("max-forwards", self._parse_max_forwards)

    @property
    def content_type(self) -> str | None:
        """The Content-Type value as written (parameters included), or ``None``."""
        return self.headers.get("Content-Type")

    def validate(self) -> None:
        """Check the header fields every message must carry (RFC 3261 §8.1.1, §20).

        Parses the top Via and every other Via, From, To, Call-ID and CSeq, and rejects
        duplicates of the single-valued ones. Raises :class:`SipParseError`. A From value of
        the commonest shape is only matched, not built (:attr:`from_` builds it when read).
        """
        _ = self.top_via
        for name in _SINGLE:
            if self.headers.count(name) > 1:
                raise self._fail(f"Multiple {name} headers")
        if _SIMPLE_NAME_ADDR_RE.fullmatch(self._required("From")) is None:
            _ = self.from_
        _ = (self.to, self.call_id, self.cseq)


class Request(Message):
    """A SIP request. ``uri`` is the Request-URI as text; :attr:`request_uri` parses it."""

    method: str
    uri: str

    def __init__(
        self, method: str, uri: str, headers: Headers | None = None, body: bytes = b""
    ) -> None:
        super().__init__(headers, body)
        self.method = method
        self.uri = uri
        # The parsed Request-URI and the text it was parsed from (uri may be reassigned).
        self._request_uri: tuple[str, SipUri | AbsoluteUri] | None = None

    def _start_key(self) -> tuple[object, ...]:
        return (self.method, self.uri, self.version)

    def _start_line(self) -> str:
        return f"{self.method} {self.uri} {self.version}"

    def _partial(self) -> Request | None:
        return self

    def invalidate(self) -> None:
        super().invalidate()
        self._request_uri = None

    @property
    def request_uri(self) -> SipUri | AbsoluteUri:
        """The parsed Request-URI; any scheme parses (policy such as 416 is the caller's)."""
        cached = self._request_uri
        text = self.uri
        if cached is not None and cached[0] == text:
            return cached[1]
        try:
            uri = parse_uri(text)
        except SipParseError as exc:
            raise self._fail("Malformed Request-URI") from exc
        # RFC 3261 §19.1.1 table 1: headers are not allowed in a Request-URI (RFC 4475
        # §3.1.2.11 lets us reject it).
        if isinstance(uri, SipUri) and uri.headers:
            raise self._fail("Malformed Request-URI")
        self._request_uri = (text, uri)
        return uri

    def validate(self) -> None:
        """:meth:`Message.validate` plus the CSeq method, Max-Forwards and the Request-URI (as
        with From, one of the commonest shape is matched, not built)."""
        super().validate()
        if self.cseq.method != self.method:
            raise self._fail("CSeq method does not match request method")
        _ = self.max_forwards
        if _SIMPLE_URI_RE.fullmatch(self.uri) is None:
            _ = self.request_uri


class Response(Message):
    """A SIP response. ``reason`` defaults to the phrase in :data:`REASONS`."""

    status: int
    reason: str

    def __init__(
        self,
        status: int,
        reason: str | None = None,
        headers: Headers | None = None,
        body: bytes = b"",
    ) -> None:
        super().__init__(headers, body)
        self.status = status
        self.reason = REASONS.get(status, "") if reason is None else reason

    def _start_key(self) -> tuple[object, ...]:
        return (self.status, self.reason, self.version)

    def _start_line(self) -> str:
        return f"{self.version} {self.status} {self.reason}"


# -- parsing ---------------------------------------------------------------------------------

# Status-Line = SIP-Version SP Status-Code SP Reason-Phrase CRLF
# (the SP before an empty Reason-Phrase may be missing: RFC 4475 §3.1.1.13 calls that liberal)
_STATUS_RE = re.compile(r"(SIP/[0-9]+\.[0-9]+)[ \t]+([1-6][0-9][0-9])(?:[ \t](.*))?", re.I)
# Request-Line = Method SP Request-URI SP SIP-Version CRLF
# Extra blanks between and after the elements are tolerated (RFC 4475 §3.1.2.9, §3.1.2.10).
_REQUEST_RE = re.compile(r"([^ \t]+)[ \t]+(.+?)[ \t]+([^ \t]+)[ \t]*")
_VERSION_RE = re.compile(r"SIP/[0-9]+\.[0-9]+", re.I)
_BLANK_RE = re.compile(r"\s")


def head_end(data: bytes | bytearray, start: int = 0) -> tuple[int, int] | None:
    """Where the empty line ending the headers starts and ends: the first ``\r?\n\r?\n``.

    Bare LF line ends are tolerated (chan_sip does). Two substring searches find it: as a
    regular expression the search costs more than the rest of splitting the head, because an
    optional first character rules out the regex engine's fast literal scan.
    """
    lf_lf, lf_crlf = data.find(b"\n\n", start), data.find(b"\n\r\n", start)
    if lf_lf < 0 and lf_crlf < 0:
        return None
    # The earliest LF that ends a line followed by an empty one, and that empty line's length.
    if lf_crlf < 0 or 0 <= lf_lf < lf_crlf:
        lf, end = lf_lf, lf_lf + 2
    else:
        lf, end = lf_crlf, lf_crlf + 3
    begin = lf - 1 if lf > start and data[lf - 1] == 0x0D else lf  # the CR of that line end
    return begin, end


def _parse(data: bytes) -> tuple[Request | Response | None, SipParseError | None]:
    """Parse one message; never raises: returns the message as far as it went and the error."""
    start = 0
    # §7.5: CRLFs before the start-line are ignored
    while data.startswith(b"\r\n", start):
        start += 2
    end = len(data)
    found = head_end(data, start)
    if found is not None:
        head_stop, body_start = found
    else:
        # No empty line: all of it is head (tolerated for datagrams; streams never get here).
        head_stop = body_start = end
        if data.endswith(b"\n"):
            head_stop -= 2 if data.endswith(b"\r\n") else 1
    lines = data[start:head_stop].decode("utf-8", "surrogateescape").split("\n")
    first = lines[0].rstrip("\r")
    headers, well_formed = Headers.from_lines(lines[1:])

    msg: Request | Response
    if first[:4].upper() == "SIP/":
        sm = _STATUS_RE.fullmatch(first)
        if sm is None:
            return None, SipParseError("Malformed Status-Line")
        msg = Response(int(sm.group(2)), (sm.group(3) or "").rstrip(" \t"), headers)
        msg.version = sm.group(1)
    elif not first.strip():
        return None, SipParseError("Empty message")
    else:
        rm = _REQUEST_RE.fullmatch(first)
        if (
            rm is None
            or not TOKEN_RE.fullmatch(rm.group(1))
            or not _VERSION_RE.fullmatch(rm.group(3))
        ):
            return None, SipParseError("Malformed Request-Line")
        msg = Request(rm.group(1), rm.group(2), headers)
        msg.version = rm.group(3)
    partial = msg if isinstance(msg, Request) else None

    if msg.version.upper() != "SIP/2.0":
        return msg, SipParseError(f"Unsupported SIP version '{msg.version}'", 505, partial)
    if isinstance(msg, Request) and _BLANK_RE.search(msg.uri):
        return msg, SipParseError("Malformed Request-URI", 400, partial)
    if not well_formed:
        return msg, SipParseError("Malformed header line", 400, partial)

    lengths = headers.get_all("Content-Length")
    if not lengths:
        length = end - body_start
    else:
        try:
            length = parse_content_length(lengths)
        except SipParseError as exc:
            return msg, SipParseError(exc.message, 400, partial)
        if body_start + length > end:
            return msg, SipParseError("Content-Length larger than message", 400, partial)
    msg.body = data[body_start : body_start + length]
    msg._remember_raw(data[start : body_start + length], first)
    return msg, None


def parse_content_length(values: list[str]) -> int:
    """The body size from the Content-Length value(s) of one message.

    Raises :class:`SipParseError` (400, no partial): ``"Multiple Content-Length headers"`` when
    they disagree (RFC 4475 §3.3.9), ``"Negative Content-Length"`` (§3.1.2.3), ``"Malformed
    Content-Length header"``.
    """
    if len(set(values)) > 1:
        raise SipParseError("Multiple Content-Length headers")
    value = values[0]
    if value.isascii() and value.isdigit():
        return int(value)
    if value.startswith("-") and value[1:].isascii() and value[1:].isdigit():
        raise SipParseError("Negative Content-Length")
    raise SipParseError("Malformed Content-Length header")


def parse_message(data: bytes, max_size: int = 65536) -> Request | Response:
    """Parse one SIP message from a datagram, a WebSocket frame or a framed stream message.

    Only the start line and the header lines are split here; header values are parsed when a
    view is read. Raises :class:`SipParseError`: ``"Message Too Large"`` (513) above
    ``max_size`` bytes, ``"Unsupported SIP version '...'"`` (505), ``"Content-Length larger than
    message"`` (400) ... Bytes beyond Content-Length are discarded (§18.3).
    """
    if len(data) > max_size:
        raise SipParseError("Message Too Large", 513, salvage_request(data))
    msg, error = _parse(data)
    if error is not None:
        raise error
    return cast(Request | Response, msg)


def salvage_request(data: bytes) -> Request | None:
    """The request in ``data`` as far as its headers go, for answering an error; else ``None``.

    Used when the whole message cannot be taken (too large, unframeable) but its head may still
    say where a 400/513 should go.
    """
    found = head_end(data)
    msg, _error = _parse(data if found is None else data[: found[1]])
    return msg if isinstance(msg, Request) else None


def can_reply(req: Request | None) -> bool:
    """Whether a response can be built for ``req``: its top Via, From, To, Call-ID and CSeq
    all parse (RFC 3261 §8.2; otherwise the request is dropped)."""
    if req is None:
        return False
    try:
        _ = (req.top_via, req.from_, req.to, req.call_id, req.cseq)
    except SipParseError:
        return False
    return True


def _copy(req: Request, resp: Response, name: str, suffix: str = "") -> None:
    value = req.headers.get(name)
    if value is None:
        raise LocalProtocolError(f"cannot answer a request without {name} (see can_reply)")
    resp.headers.add(name, value + suffix)


def make_response(
    req: Request, status: int, reason: str | None = None, to_tag: str | None = None
) -> Response:
    """Build a response to ``req`` as RFC 3261 §8.2.6 says.

    Copies every Via in order, From, To, Call-ID and CSeq, and Timestamp into a 100 (§8.2.6.1);
    adds ``;tag=to_tag`` to To when given, when To has no tag yet and the status is not 100;
    ends with ``Content-Length: 0``. The caller adds any other header field and the body.
    """
    resp = Response(status, reason)
    for via in req.headers.get_all("Via"):
        resp.headers.add("Via", via)
    _copy(req, resp, "From")
    tag = to_tag is not None and status != 100 and req.to.tag is None
    _copy(req, resp, "To", f";tag={to_tag}" if tag else "")
    _copy(req, resp, "Call-ID")
    _copy(req, resp, "CSeq")
    if status == 100 and "Timestamp" in req.headers:
        _copy(req, resp, "Timestamp")
    resp.headers.add("Content-Length", "0")
    return resp
