"""The HTTP/HTTPS front end of http.conf (Asterisk's ``main/http.c`` behaviour, on Twisted web).

URIs, all under ``prefix``:

* ``/ws`` (also ``/ws/``, any case, query ignored; no subtree) — SIP over WebSocket;
* ``/ca.crt`` and ``/trust`` — pbx's local CA and how to trust it, when pbx made the TLS
  certificate itself;
* ``/static/...`` — files from ``staticdir`` when ``enablestatic=yes`` (a web phone served from
  the same origin as the WebSocket);
* ``/httpstatus`` — when ``enable_status=yes``;
* ``redirect = /from /to`` lines -> ``302 Moved Temporarily`` (checked before the prefix);
* anything else -> ``404`` with Asterisk's small HTML page.

``sessionlimit`` caps concurrent HTTP connections (a wrapping factory counts them); an upgraded
WebSocket gives its slot back (unlike Asterisk, where each WebSocket holds one for life), so
browsers are not limited by it.
``session_inactivity`` is the idle timeout of HTTP connections.
"""

from __future__ import annotations

import html
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field

from twisted.internet.interfaces import IProtocolNegotiationFactory
from twisted.internet.protocol import connectionDone
from twisted.protocols import policies
from twisted.python.failure import Failure
from twisted.web import http, resource, server, static
from twisted.web.server import NOT_DONE_YET
from zope.interface import implementer

from pbx import __version__
from pbx.adapters.sip_transport import SipTransportHub
from pbx.adapters.sip_ws import KeepAlive, SipWebSocket, handshake_rejection, upgrade
from pbx.config.http_conf import HttpSettings
from pbx.core.addr import TransportKind
from pbx.core.clock import Scheduler

log = logging.getLogger(__name__)

TRUST_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Trust this pbx</title></head>
<body><h1>Trust this pbx's certificate</h1>
<p>pbx made its own certificate authority so that browsers and phones can reach it over
<code>wss://</code> and <code>sips:</code> without warnings. Import it once:</p>
<ol>
<li>Download <a href="{ca}">ca.crt</a>.</li>
<li><b>Chrome / Chromium / Edge:</b> Settings &rarr; Privacy and security &rarr; Security &rarr;
Manage certificates &rarr; Authorities &rarr; Import, tick "Trust this certificate for identifying
websites". On Linux from a shell: <code>certutil -d sql:$HOME/.pki/nssdb -A -t C,, -n pbx -i
ca.crt</code>.</li>
<li><b>Firefox:</b> Settings &rarr; Privacy &amp; Security &rarr; Certificates &rarr; View
Certificates &rarr; Authorities &rarr; Import, tick "Trust this CA to identify websites".</li>
<li><b>Desk phones:</b> load <code>ca.crt</code> as a trusted/custom CA certificate in the
phone's web interface (often under Security &rarr; Trusted Certificates), then use transport TLS
to port 5061.</li>
</ol>
<p>The WebSocket for SIP clients (JsSIP, SIP.js) is <code>{ws}</code>.</p>
</body></html>
"""


def not_found_page(servername: str) -> bytes:
    footer = f"<hr />\n<address>{html.escape(servername)}</address>\n" if servername else ""
    return (
        '<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\n<html><head>\n'
        "<title>404 Not Found</title>\n</head><body>\n<h1>Not Found</h1>\n"
        "<p>The requested URL was not found on this server.</p>\n"
        f"{footer}</body></html>\n"
    ).encode()


#: Phrases Twisted lacks.
REASONS = {302: b"Moved Temporarily", 426: b"Upgrade Required"}


class ErrorPage(resource.Resource):
    isLeaf = True

    def __init__(
        self, code: int, text: str, servername: str, headers: tuple[tuple[str, str], ...] = ()
    ) -> None:
        super().__init__()
        self.code = code
        self.text = text
        self.servername = servername
        self.headers = headers

    def render(self, request: server.Request) -> bytes:
        phrase = REASONS.get(self.code) or http.RESPONSES.get(self.code, b"Error")
        request.setResponseCode(self.code, phrase)
        for name, value in self.headers:
            request.setHeader(name, value)
        if self.code == 404:
            request.setHeader(b"content-type", b"text/html")
            return not_found_page(self.servername)
        request.setHeader(b"content-type", b"text/plain")
        return f"{self.code} {self.text}\n".encode()


class WebSocketEndpoint(resource.Resource):
    isLeaf = True

    def __init__(self, front: HttpFrontEnd, kind: TransportKind) -> None:
        super().__init__()
        self.front = front
        self.kind = kind

    def render(self, request: server.Request) -> bytes | int:
        rejection = handshake_rejection(request)
        if rejection is not None:
            code, text = rejection
            log.info(
                "WebSocket handshake from %s refused: %d %s", request.getClientAddress(), code, text
            )
            headers: tuple[tuple[str, str], ...] = ()
            if code == 400:
                headers = (("Sec-WebSocket-Version", "13"),)
            if code == 426:
                headers = (("Upgrade", "websocket"), ("Connection", "Upgrade"))
            return ErrorPage(code, text, self.front.servername, headers).render(request)
        result = upgrade(
            request,
            self.front.hub,
            self.kind,
            self.front.clock,
            self.front.settings.session_keep_alive / 1000.0,
            self.front.websocket_closed,
            self.front.keepalive,
        )
        if result == NOT_DONE_YET:  # upgraded: the connection leaves the HTTP session count
            self.front.upgraded(request)
        return result


class Router(resource.Resource):
    """Maps a path to its resource exactly as described in the module docstring."""

    def __init__(self, front: HttpFrontEnd, kind: TransportKind) -> None:
        super().__init__()
        self.front = front
        self.kind = kind

    def getChildWithDefault(self, path: bytes, request: server.Request) -> resource.Resource:  # noqa: N802
        # Route on the whole path at once; nothing is left for Twisted to traverse.
        target = self.route(request)
        request.prepath = list(request.prepath or []) + list(request.postpath or [])
        request.postpath = []
        return target

    def render(self, request: server.Request) -> bytes | int:
        rendered: bytes | int = self.route(request).render(request)
        return rendered

    def route(self, request: server.Request) -> resource.Resource:
        front = self.front
        if front.servername:
            request.setHeader(b"server", front.servername.encode())
        else:
            request.responseHeaders.removeHeader(b"server")
        full = request.path.decode("utf-8", "replace")
        for source, target in front.settings.redirects:
            if full == source:
                request.setHeader(b"location", target.encode())
                return ErrorPage(302, "Moved Temporarily", front.servername)
        prefix = front.settings.prefix.rstrip("/")
        if prefix:
            if not full.lower().startswith(prefix.lower() + "/"):
                return front.not_found
            full = full[len(prefix) :]
        path = full.lower()
        if path in ("/ws", "/ws/"):
            return WebSocketEndpoint(front, self.kind)
        if front.ca_path is not None:
            if path == "/ca.crt":
                return front.ca_resource
            if path in ("/trust", "/trust/"):
                return front.trust_page(request)
        if front.settings.enablestatic and full.startswith("/static/"):
            return front.static_file(full[len("/static/") :])
        if front.settings.enable_status and path == "/httpstatus":
            return front.status_page()
        return front.not_found


class CountedSession(policies.ProtocolWrapper):
    """One HTTP connection holding a ``sessionlimit`` slot until it closes or upgrades."""

    factory: SessionLimiter

    def connectionMade(self) -> None:  # noqa: N802
        front = self.factory.front
        limit = front.settings.sessionlimit
        if limit > 0 and front.http_sessions >= limit:
            log.warning("HTTP session limit (%d) reached; refusing %s", limit, self.getPeer())
            self.counted = False
            self.transport.loseConnection()  # type: ignore[union-attr]
            return
        self.counted = True
        front.http_sessions += 1
        super().connectionMade()

    def release(self) -> None:
        """The connection became a WebSocket: it no longer counts as an HTTP session."""
        if getattr(self, "counted", False):
            self.counted = False
            self.factory.front.http_sessions -= 1
            self.factory.front.websockets += 1

    def connectionLost(self, reason: Failure = connectionDone) -> None:  # noqa: N802
        if getattr(self, "counted", False):
            self.counted = False
            self.factory.front.http_sessions -= 1
        super().connectionLost(reason)


@implementer(IProtocolNegotiationFactory)
class SessionLimiter(policies.WrappingFactory):
    """Wraps a Site so every connection is counted against ``sessionlimit`` (Asterisk closes
    connections beyond it)."""

    protocol = CountedSession
    noisy = False

    def __init__(self, site: server.Site, front: HttpFrontEnd) -> None:
        super().__init__(site)
        self.front = front
        self.site = site

    def acceptableProtocols(self) -> list[bytes]:  # noqa: N802 - Twisted's interface
        """TLS negotiates ALPN with what the wrapped Site speaks; without this a browser's
        ALPN offer (h2, http/1.1) finds no match and the handshake fails with an alert."""
        protocols: list[bytes] = self.site.acceptableProtocols()
        return protocols


@dataclass
class HttpFrontEnd:
    """State shared by the HTTP and HTTPS sites."""

    settings: HttpSettings
    hub: SipTransportHub
    clock: Scheduler
    ca_path: str | None = None
    bound: list[str] = field(default_factory=list)
    http_sessions: int = 0
    websockets: int = 0
    on_websocket_closed: Callable[[SipWebSocket], None] | None = None

    @property
    def servername(self) -> str:
        return self.settings.servername

    def __post_init__(self) -> None:
        self.keepalive = KeepAlive(self.clock, self.settings.session_keep_alive / 1000.0)
        self.not_found = ErrorPage(404, "Not Found", self.servername)
        self.ca_resource: resource.Resource = self.not_found
        if self.ca_path is not None:
            self.ca_resource = static.File(self.ca_path, defaultType="application/x-x509-ca-cert")

    def site(self, kind: TransportKind) -> SessionLimiter:
        timeout = self.settings.session_inactivity / 1000.0 or None
        site = server.Site(Router(self, kind), timeout=timeout, reactor=self.clock)
        site.noisy = False
        site.displayTracebacks = False
        return SessionLimiter(site, self)

    def static_file(self, relative: str) -> resource.Resource:
        """A file under ``staticdir`` (``index.html`` for a folder); never a listing."""
        segments = relative.split("/")
        if any(seg in ("", ".", "..") for seg in segments[:-1]) or segments[-1] in (".", ".."):
            return self.not_found
        path = os.path.join(self.settings.staticdir, *[seg for seg in segments if seg])
        if os.path.isdir(path):
            path = os.path.join(path, "index.html")
        if not os.path.isfile(path):
            return self.not_found
        return static.File(path)

    def upgraded(self, request: server.Request) -> None:
        """A WebSocket leaves the HTTP session count (see the module docstring)."""
        wrapper: object = request.channel.transport
        if isinstance(wrapper, CountedSession):
            wrapper.release()

    def websocket_closed(self, ws: SipWebSocket) -> None:
        self.websockets -= 1
        if self.on_websocket_closed is not None:
            self.on_websocket_closed(ws)

    def trust_page(self, request: server.Request) -> resource.Resource:
        host = request.getRequestHostname().decode("utf-8", "replace")
        port = self.settings.tlsbindaddr.port if self.settings.tlsbindaddr else 8089
        prefix = self.settings.prefix.rstrip("/")
        page = TRUST_PAGE.format(ca=f"{prefix}/ca.crt", ws=f"wss://{host}:{port}{prefix}/ws")
        return static.Data(page.encode(), "text/html; charset=utf-8")

    def status_page(self) -> resource.Resource:
        rows = "".join(f"<tr><td>{html.escape(b)}</td></tr>" for b in self.bound)
        page = (
            f"<html><body><h1>pbx {__version__} HTTP status</h1><table>{rows}</table>"
            f"<p>WebSockets: {self.websockets}</p></body></html>"
        )
        return static.Data(page.encode(), "text/html; charset=utf-8")


def http_status(front: HttpFrontEnd) -> str:
    """``http show status`` in Asterisk's shape."""
    s = front.settings
    lines = ["HTTP Server Status:", f"Prefix: {s.prefix}", f"Server: {s.servername}"]
    if not s.enabled:
        lines.append("Server Disabled")
        return "\n".join(lines) + "\n"
    for entry in front.bound:
        lines.append(entry)
        lines.append("")
    prefix = s.prefix.rstrip("/")
    lines.append("Enabled URI's:")
    if s.enable_status:
        lines.append(f"{prefix}/httpstatus => pbx HTTP General Status")
    if s.enablestatic:
        lines.append(f"{prefix}/static/... => pbx HTTP Static Delivery ({s.staticdir})")
    if front.ca_path is not None:
        lines.append(f"{prefix}/ca.crt => pbx local certificate authority")
        lines.append(f"{prefix}/trust => How to trust the local certificate authority")
    lines.append(f"{prefix}/ws => pbx SIP WebSocket (RFC 7118, subprotocol sip)")
    lines.append("")
    lines.append("Enabled Redirects:")
    if s.redirects:
        lines.extend(f"  {a} => {b}" for a, b in s.redirects)
    else:
        lines.append("  None.")
    lines.append(
        f"\nOpen HTTP sessions: {front.http_sessions} (limit {s.sessionlimit}); "
        f"WebSocket connections: {front.websockets}"
    )
    return "\n".join(lines) + "\n"
