"""Cutting SIP messages out of byte streams and WebSocket frames.

:class:`StreamFramer` implements RFC 3261 §18.3 for TCP/TLS: a message is its header block up to
the empty line plus exactly Content-Length bytes of body, and Content-Length is mandatory. CRLFs
between messages are skipped (§7.5); a bare double CRLF is the RFC 5626 §4.4.1 keep-alive ping,
reported as :data:`KEEPALIVE` so the connection can answer the single-CRLF pong.

:func:`check_websocket_frame` applies RFC 7118 §5: one SIP message per frame, so a Content-Length,
when present, must account for the rest of the frame exactly.

Nothing here interprets the message; :func:`pbx.sip.message.parse_message` does that on what
comes out.
"""

from __future__ import annotations

import re

from pbx.core.errors import LocalProtocolError
from pbx.sip.grammar import SipParseError
from pbx.sip.message import head_end, parse_content_length, salvage_request

__all__ = ["KEEPALIVE", "Keepalive", "StreamFramer", "check_websocket_frame", "is_keepalive"]

# Content-Length / its compact form "l", at the start of a header line (not a continuation).
_LENGTH_RE = re.compile(rb"^(?:content-length|l)[ \t]*:[ \t]*([^\r\n]*?)[ \t]*\r?$", re.I | re.M)
_PING = b"\r\n\r\n"


class Keepalive:
    """The marker for a CRLF keep-alive ping (RFC 5626 §4.4.1); answer it with ``b"\\r\\n"``."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "KEEPALIVE"


#: The one :class:`Keepalive` instance :meth:`StreamFramer.feed` returns.
KEEPALIVE = Keepalive()


def is_keepalive(frame: bytes) -> bool:
    """Whether a WebSocket frame or datagram is a CRLF keep-alive (ping or pong), not SIP."""
    return frame in (_PING, b"\r\n")


def _lengths(head: bytes) -> list[str]:
    return [v.decode("latin-1") for v in _LENGTH_RE.findall(head)]


class StreamFramer:
    """Frame SIP messages on one stream connection (RFC 3261 §18.3).

    After :class:`SipParseError` the stream cannot be resynchronised: the framer refuses further
    input and the caller closes the connection (optionally answering from ``error.partial``).
    """

    def __init__(self, max_size: int = 65536) -> None:
        self._max_size = max_size
        self._buffer = bytearray()
        self._scan = 0  # where the search for the end of the headers resumes
        self._total: int | None = None  # size of the message at the front, once its head is in
        self._failed = False

    def feed(self, data: bytes) -> list[bytes | Keepalive]:
        """Add received bytes; return every message (and keep-alive) now complete, in order.

        Raises :class:`SipParseError`: ``"Missing Content-Length on stream"`` (400), a bad
        Content-Length (400), ``"Message Too Large"`` (513).
        """
        if self._failed:
            raise LocalProtocolError("StreamFramer used after a framing error")
        self._buffer += data
        out: list[bytes | Keepalive] = []
        try:
            while self._step(out):
                pass
        except SipParseError:
            self._failed = True
            raise
        return out

    def _step(self, out: list[bytes | Keepalive]) -> bool:
        """Take one thing off the front of the buffer; ``False`` when more input is needed."""
        buf = self._buffer
        if self._total is None:
            if buf.startswith(_PING):
                out.append(KEEPALIVE)
                del buf[:4]
                self._scan = 0
                return True
            if buf.startswith(b"\r\n"):
                if _PING.startswith(buf):
                    return False  # "\r\n" or "\r\n\r": may still become a ping
                del buf[:2]
                self._scan = 0
                return True
            m = head_end(buf, self._scan)
            if m is None:
                if len(buf) > self._max_size:
                    raise SipParseError("Message Too Large", 513)
                self._scan = max(0, len(buf) - 3)
                return False
            head = bytes(buf[: m[1]])
            lengths = _lengths(head)
            if not lengths:
                raise SipParseError("Missing Content-Length on stream", 400, salvage_request(head))
            try:
                self._total = m[1] + parse_content_length(lengths)
            except SipParseError as exc:
                raise SipParseError(exc.message, 400, salvage_request(head)) from exc
            if self._total > self._max_size:
                raise SipParseError("Message Too Large", 513, salvage_request(head))
        if len(buf) < self._total:
            return False
        out.append(bytes(buf[: self._total]))
        del buf[: self._total]
        self._total = None
        self._scan = 0
        return True


def check_websocket_frame(data: bytes) -> None:
    """Check that a WebSocket frame holds exactly one SIP message (RFC 7118 §5).

    Without Content-Length the message is the whole frame; with one, the body must end where
    the frame does. Raises :class:`SipParseError` (400) otherwise. Keep-alive frames are for
    :func:`is_keepalive`, not for this check.
    """
    m = head_end(data)
    if m is None:
        raise SipParseError("Incomplete message in WebSocket frame")
    lengths = _lengths(data[: m[1]])
    if not lengths:
        return
    try:
        length = parse_content_length(lengths)
    except SipParseError as exc:
        raise SipParseError(exc.message, 400, salvage_request(data)) from exc
    if m[1] + length != len(data):
        raise SipParseError(
            "Content-Length does not match WebSocket frame", 400, salvage_request(data)
        )
