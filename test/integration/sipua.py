"""A minimal SIP user agent on plain sockets, for what sipp cannot do in these tests.

Debian's sipp 3.6.1 is built without OpenSSL (``-t l1`` is refused), some tests must put exact,
malformed bytes on the wire, and the qualify tests need a phone whose answers the test times
itself. :class:`SipClient` sends request text over UDP, TCP or TLS (verifying the server against
a CA file), reads responses (TCP/TLS framed by Content-Length, RFC 3261 §18.3) and answers MD5
or SHA-256 digest challenges (RFC 2617 §3.2.2 / RFC 8760, without qop, as chan_sip challenges).

It is deliberately independent of ``pbx.sip``: it is the far side of the wire, so a bug in the
daemon's parser or digest code cannot cancel out in the test.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import socket
import ssl
import time
from dataclasses import dataclass
from pathlib import Path

from test.integration.daemon import bracket

_COMPACT = {
    "i": "call-id", "m": "contact", "e": "content-encoding", "l": "content-length",
    "c": "content-type", "f": "from", "s": "subject", "k": "supported", "t": "to", "v": "via",
}  # fmt: skip


@dataclass(frozen=True)
class SipMessage:
    """A received message, split but not interpreted."""

    start_line: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    raw: bytes

    @property
    def status(self) -> int | None:
        m = re.match(r"SIP/2\.0 (\d{3}) ", self.start_line + " ")
        return int(m.group(1)) if m else None

    @property
    def reason(self) -> str:
        parts = self.start_line.split(" ", 2)
        return parts[2] if self.status is not None and len(parts) == 3 else ""

    @property
    def method(self) -> str | None:
        return None if self.status is not None else self.start_line.split(" ", 1)[0]

    def all(self, name: str) -> list[str]:
        wanted = _COMPACT.get(name.lower(), name.lower())
        return [v for n, v in self.headers if _COMPACT.get(n.lower(), n.lower()) == wanted]

    def header(self, name: str) -> str | None:
        values = self.all(name)
        return values[0] if values else None

    def header_names(self) -> list[str]:
        return [_COMPACT.get(n.lower(), n.lower()) for n, _ in self.headers]

    def __str__(self) -> str:
        return self.raw.decode("utf-8", "replace")


def parse(data: bytes) -> SipMessage:
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("utf-8", "replace").split("\r\n")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and headers:
            name, value = headers[-1]
            headers[-1] = (name, f"{value} {line.strip()}")
        elif ":" in line:
            name, _, value = line.partition(":")
            headers.append((name.strip(), value.strip()))
    return SipMessage(lines[0], tuple(headers), body, data)


def digest_params(header: str) -> dict[str, str]:
    """``Digest a="b", c=d`` -> ``{"a": "b", "c": "d"}`` (scheme checked by the caller)."""
    return {
        m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
        for m in re.finditer(r'([\w-]+)\s*=\s*(?:"([^"]*)"|([^\s,]+))', header)
    }


def digest_response(
    user: str, realm: str, password: str, method: str, uri: str, nonce: str, algorithm: str = "MD5"
) -> str:
    """RFC 2617 §3.2.2.1 request-digest without qop (RFC 8760 for SHA-256)."""

    def h(text: str) -> str:
        fn = hashlib.sha256 if algorithm.upper() == "SHA-256" else hashlib.md5
        return fn(text.encode()).hexdigest()

    return h(f"{h(f'{user}:{realm}:{password}')}:{nonce}:{h(f'{method}:{uri}')}")


class SipClient:
    """One local socket (UDP) or connection (TCP/TLS) to the daemon.

    :param kind: ``"udp"``, ``"tcp"`` or ``"tls"``.
    :param cafile: for TLS, the CA the server certificate must chain to; the certificate must
        also name the server address (``check_hostname``), as a phone verifying it would.
    """

    def __init__(
        self,
        kind: str,
        server: tuple[str, int],
        local_host: str = "127.0.0.1",
        local_port: int = 0,
        cafile: Path | None = None,
    ) -> None:
        self.kind = kind
        self.server = server
        family = socket.AF_INET6 if ":" in local_host else socket.AF_INET
        self._buffer = b""
        if kind == "udp":
            self.sock = socket.socket(family, socket.SOCK_DGRAM)
            self.sock.bind((local_host, local_port))
        else:
            raw = socket.socket(family, socket.SOCK_STREAM)
            raw.bind((local_host, local_port))
            raw.settimeout(5.0)
            raw.connect(server)
            if kind == "tls":
                context = ssl.create_default_context(cafile=str(cafile) if cafile else None)
                if cafile is None:
                    context.check_hostname = False
                    context.verify_mode = ssl.CERT_NONE
                self.sock = context.wrap_socket(raw, server_hostname=server[0])
            else:
                self.sock = raw
        self.local: tuple[str, int] = self.sock.getsockname()[:2]
        self.tag = secrets.token_hex(4)

    def server_certificate(self) -> bytes:
        """The DER certificate the TLS server presented."""
        assert isinstance(self.sock, ssl.SSLSocket), "not a TLS client"
        der = self.sock.getpeercert(binary_form=True)
        assert der is not None
        return der

    @property
    def via_transport(self) -> str:
        return self.kind.upper()

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> SipClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- bytes ---------------------------------------------------------------------------
    def send(self, data: bytes) -> None:
        if self.kind == "udp":
            self.sock.sendto(data, self.server)
        else:
            self.sock.sendall(data)

    def recv(self, timeout: float = 2.0) -> SipMessage | None:
        """The next message from the daemon, or ``None`` when nothing came in ``timeout``."""
        deadline = time.monotonic() + timeout
        if self.kind == "udp":
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.sock.settimeout(left)
                try:
                    data, _ = self.sock.recvfrom(65536)
                except TimeoutError:
                    return None
                except ConnectionRefusedError:  # an ICMP error for an earlier datagram
                    continue
                return parse(data)
        while True:
            frame = self._frame()
            if frame is not None:
                return parse(frame)
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                return None
            if not chunk:
                return None
            self._buffer += chunk

    def _frame(self) -> bytes | None:
        # CRLFs between messages (and a keep-alive pong) are not messages (RFC 3261 §7.5).
        self._buffer = self._buffer.lstrip(b"\r\n")
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            return None
        m = re.search(rb"(?im)^(?:content-length|l)\s*:\s*(\d+)", self._buffer[:end])
        length = int(m.group(1)) if m else 0
        total = end + 4 + length
        if len(self._buffer) < total:
            return None
        frame, self._buffer = self._buffer[:total], self._buffer[total:]
        return frame

    def recv_bytes(self, timeout: float = 2.0) -> bytes | None:
        """Raw bytes from a stream (``b""`` when the daemon closed it, None on timeout)."""
        if self._buffer:
            data, self._buffer = self._buffer, b""
            return data
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(65536)
        except TimeoutError:
            return None
        except ConnectionResetError:
            return b""

    def closed_by_peer(self, timeout: float = 2.0) -> bool:
        """Whether the daemon closes this connection within ``timeout`` (data is discarded)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            data = self.recv_bytes(max(0.01, deadline - time.monotonic()))
            if data == b"":
                return True
        return False

    # -- requests ------------------------------------------------------------------------
    def request(
        self,
        method: str,
        user: str,
        *,
        cseq: int = 1,
        call_id: str | None = None,
        headers: list[tuple[str, str]] | None = None,
        uri: str | None = None,
    ) -> bytes:
        """A well-formed request from this client, as bytes."""
        host, port = self.server
        local_host, local_port = self.local
        uri = uri or f"sip:{bracket(host)}:{port}"
        lines = [
            f"{method} {uri} SIP/2.0",
            f"Via: SIP/2.0/{self.via_transport} {bracket(local_host)}:{local_port}"
            f";branch=z9hG4bK{secrets.token_hex(8)};rport",
            f"From: <sip:{user}@{bracket(host)}>;tag={self.tag}",
            f"To: <sip:{user}@{bracket(host)}>",
            f"Call-ID: {call_id or secrets.token_hex(10)}",
            f"CSeq: {cseq} {method}",
            "Max-Forwards: 70",
            *(f"{n}: {v}" for n, v in headers or []),
            "Content-Length: 0",
            "",
            "",
        ]
        return "\r\n".join(lines).encode()

    def invite(
        self, exten: str, user: str, call_id: str, *, listening_port: int | None = None
    ) -> bytes:
        """``user``'s INVITE to ``exten`` offering PCMU, as bytes. Via and Contact name
        ``listening_port`` (default: this socket's port): where the phone says it listens."""
        host = self.local[0]
        port = listening_port or self.local[1]
        server_host, server_port = self.server
        transport = "" if self.kind == "udp" else f";transport={self.kind}"
        sdp = (
            f"v=0\r\no={user} 1 1 IN IP4 {host}\r\ns=-\r\nc=IN IP4 {host}\r\nt=0 0\r\n"
            f"m=audio {port + 2} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
        ).encode()
        lines = [
            f"INVITE sip:{exten}@{bracket(server_host)}:{server_port}{transport} SIP/2.0",
            f"Via: SIP/2.0/{self.via_transport} {bracket(host)}:{port}"
            f";branch=z9hG4bK{secrets.token_hex(8)};rport",
            f"From: <sip:{user}@{bracket(server_host)}>;tag={self.tag}",
            f"To: <sip:{exten}@{bracket(server_host)}>",
            f"Call-ID: {call_id}",
            "CSeq: 1 INVITE",
            f"Contact: <sip:{user}@{bracket(host)}:{port}{transport}>",
            "Max-Forwards: 70",
            "Content-Type: application/sdp",
            f"Content-Length: {len(sdp)}",
            "",
            "",
        ]
        return "\r\n".join(lines).encode() + sdp

    def contact(self, user: str) -> str:
        host, port = self.local
        return f"<sip:{user}@{bracket(host)}:{port};transport={self.kind}>"

    def register(
        self,
        user: str,
        password: str,
        *,
        expires: int = 300,
        contact: str | None = None,
        user_agent: str = "pbx-test-ua",
        call_id: str | None = None,
        timeout: float = 2.0,
    ) -> list[SipMessage]:
        """REGISTER, answer a 401 once, return every final response (e.g. ``[401, 200]``)."""
        call_id = call_id or secrets.token_hex(10)
        base = [
            ("Contact", contact or self.contact(user)),
            ("Expires", str(expires)),
            ("User-Agent", user_agent),
        ]
        self.send(self.request("REGISTER", user, cseq=1, call_id=call_id, headers=base))
        first = self.final(timeout)
        if first is None:
            return []
        responses = [first]
        challenge = first.header("WWW-Authenticate")
        if first.status != 401 or challenge is None:
            return responses
        params = digest_params(challenge)
        host, port = self.server
        uri = f"sip:{bracket(host)}:{port}"
        algorithm = params.get("algorithm", "MD5")
        answer = digest_response(
            user, params["realm"], password, "REGISTER", uri, params["nonce"], algorithm
        )
        authorization = (
            f'Digest username="{user}", realm="{params["realm"]}", nonce="{params["nonce"]}", '
            f'uri="{uri}", response="{answer}", algorithm={algorithm}'
        )
        self.send(
            self.request(
                "REGISTER", user, cseq=2, call_id=call_id,
                headers=[*base[:1], ("Authorization", authorization), *base[1:]],
            )
        )  # fmt: skip
        second = self.final(timeout)
        if second is not None:
            responses.append(second)
        return responses

    def final(self, timeout: float = 2.0) -> SipMessage | None:
        """The next final response (provisional ones and requests are skipped)."""
        deadline = time.monotonic() + timeout
        while True:
            message = self.recv(max(0.0, deadline - time.monotonic()))
            if message is None:
                return None
            if message.status is not None and message.status >= 200:
                return message

    def answer(self, request: SipMessage, status: int = 200, reason: str = "OK") -> None:
        """Answer a request the daemon sent us (qualify OPTIONS) as a UAS would (§8.2.6)."""
        lines = [f"SIP/2.0 {status} {reason}"]
        for name in ("Via", "From", "To", "Call-ID", "CSeq"):
            for value in request.all(name):
                if name == "To" and ";tag=" not in value:
                    value += f";tag={self.tag}"
                lines.append(f"{name}: {value}")
        lines += ["Content-Length: 0", "", ""]
        self.send("\r\n".join(lines).encode())
