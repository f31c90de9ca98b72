"""The http.conf front end (pbx.adapters.http): routing, handshake outcomes, the upgrade,
sessionlimit, ``/ca.crt`` and ``/trust``, ``/static/``, and wss:// through real TLS.

Every request goes through the factory the daemon listens with (``HttpFrontEnd.site``), over a
``StringTransport`` (or in-memory TLS with ``twisted.test.iosim``), with the site's timeouts on a
``task.Clock``; the expected outcomes are Asterisk's (ASTERISK-REFERENCE §2.2 and §8.1), written
out here rather than computed from the module under test.
"""

from __future__ import annotations

import base64
import gc
import hashlib
from dataclasses import dataclass
from pathlib import Path

from twisted.internet import _producer_helpers, ssl
from twisted.internet.address import IPv4Address
from twisted.internet.interfaces import IProtocol
from twisted.internet.protocol import Factory, Protocol, connectionDone
from twisted.internet.task import Clock, Cooperator
from twisted.internet.testing import StringTransport
from twisted.protocols.tls import TLSMemoryBIOFactory
from twisted.python.failure import Failure
from twisted.test import iosim
from twisted.trial.unittest import SynchronousTestCase
from twisted.web import server
from wsproto import WSConnection
from wsproto.connection import ConnectionType
from wsproto.events import AcceptConnection, Request, TextMessage

from pbx.adapters.http import HttpFrontEnd, http_status
from pbx.adapters.local_ca import ca_certificate_path, server_tls_options
from pbx.core.addr import Address, TransportKind
from pbx.sip.flow import Flow
from pbx.sip.message import Request as SipRequest
from test.adapters.test_sip_ws import JSSIP_REGISTER, SERVER, http_settings, make_hub

BROWSER = IPv4Address("TCP", "127.0.0.1", 40000)

#: Asterisk's 404 page (main/http.c ast_http_error) with servername=pbx/test.
NOT_FOUND_HTML = (
    b'<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\n'
    b"<html><head>\n"
    b"<title>404 Not Found</title>\n"
    b"</head><body>\n"
    b"<h1>Not Found</h1>\n"
    b"<p>The requested URL was not found on this server.</p>\n"
    b"<hr />\n"
    b"<address>pbx/test</address>\n"
    b"</body></html>\n"
)

WS_HEADERS = (
    "Host: 127.0.0.1:8088\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
)


@dataclass
class Reply:
    status: int
    reason: str
    headers: dict[str, str]  # lower-case names; the last value of a repeated header
    body: bytes


def parse_reply(raw: bytes) -> Reply:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    _, status, reason = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Reply(int(status), reason, headers, body)


def closing(transport: StringTransport) -> bool:
    """Whether the server asked to close the connection (a function: mypy would otherwise take
    the attribute for the False it was before the call)."""
    return bool(transport.disconnecting)


class Server:
    """One HttpFrontEnd and its factory for one transport kind; connections over
    StringTransport, the Site's timeouts on ``clock``."""

    def __init__(
        self,
        kind: TransportKind = TransportKind.WS,
        ca_path: str | None = None,
        **settings: object,
    ) -> None:
        self.clock = Clock()
        self.lost: list[Flow] = []
        self.hub, self.layer = make_hub(self.clock, self.lost)
        self.front = HttpFrontEnd(http_settings(**settings), self.hub, self.clock, ca_path=ca_path)
        self.front.bound.append("Server Enabled and Bound to 127.0.0.1:8088")
        self.factory = self.front.site(kind)
        # HTTPFactory takes its timeouts from .reactor, the global reactor unless told; the
        # front end may wrap its Site (to count sessions), so look inside a wrapper.
        site = getattr(self.factory, "wrappedFactory", self.factory)
        assert isinstance(site, server.Site), site
        site.reactor = self.clock

    def connect(self) -> tuple[IProtocol, StringTransport] | None:
        """A new TCP connection; None when the server refuses it (no protocol, or closed at
        once, as Asterisk does past sessionlimit)."""
        protocol: IProtocol | None = self.factory.buildProtocol(BROWSER)
        if protocol is None:
            return None
        transport = StringTransport(hostAddress=SERVER, peerAddress=BROWSER)
        protocol.makeConnection(transport)
        if closing(transport):
            self.lose(protocol)
            return None
        return protocol, transport

    @staticmethod
    def lose(protocol: IProtocol) -> None:
        """What the reactor does once a connection is gone."""
        protocol.connectionLost(connectionDone)

    def request(self, raw: bytes) -> Reply:
        """Send one request on a new connection and parse what comes back."""
        conn = self.connect()
        assert conn is not None, "connection refused"
        protocol, transport = conn
        protocol.dataReceived(raw)
        # Files are written by a pull producer that a Cooperator drives (see files_on_clock).
        while any(c.getTime() <= self.clock.seconds() for c in self.clock.getDelayedCalls()):
            self.clock.advance(0)
        return parse_reply(transport.value())

    def get(self, path: str, headers: str = "Host: 127.0.0.1:8088\r\n") -> Reply:
        return self.request(f"GET {path} HTTP/1.1\r\n{headers}\r\n".encode())

    def ws(
        self, path: str, method: str = "GET", protocol: str | None = "sip", extra: str = ""
    ) -> Reply:
        """A WebSocket handshake to ``path``."""
        offer = f"Sec-WebSocket-Protocol: {protocol}\r\n" if protocol is not None else ""
        return self.request(f"{method} {path} HTTP/1.1\r\n{WS_HEADERS}{offer}{extra}\r\n".encode())

    def upgrade(self) -> tuple[IProtocol, StringTransport, WSConnection]:
        """An accepted WebSocket connection (the handshake checked with wsproto's client)."""
        conn = self.connect()
        assert conn is not None, "connection refused"
        protocol, transport = conn
        client = WSConnection(ConnectionType.CLIENT)
        protocol.dataReceived(
            client.send(Request(host="127.0.0.1", target="/ws", subprotocols=["sip"]))
        )
        client.receive_data(transport.value())
        [accept] = list(client.events())
        assert isinstance(accept, AcceptConnection), accept
        transport.clear()
        return protocol, transport, client

    def status(self) -> str:
        return http_status(self.front).splitlines()[-1]


def files_on_clock(test: SynchronousTestCase, server: Server) -> None:
    """Make ``static.File`` responses complete on ``server.clock``.

    HTTPChannel wraps a file's pull producer in ``_PullToPush``, which calls the module-level
    ``cooperate`` (global reactor); point that name at a Cooperator scheduled on the test clock.
    """
    cooperator = Cooperator(scheduler=lambda work: server.clock.callLater(0, work))
    test.patch(_producer_helpers, "cooperate", cooperator.cooperate)


class WebSocketRoutingTests(SynchronousTestCase):
    """Which URLs reach the handshake (ASTERISK-REFERENCE §8.1's table)."""

    def assert_upgraded(self, reply: Reply, label: str) -> None:
        self.assertEqual((reply.status, reply.reason), (101, "Switching Protocols"), label)
        self.assertEqual(reply.headers.get("sec-websocket-protocol"), "sip", label)
        self.assertEqual(
            reply.headers.get("sec-websocket-accept"), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", label
        )

    def assert_not_found(self, reply: Reply, label: str) -> None:
        self.assertEqual((reply.status, reply.reason), (404, "Not Found"), label)
        self.assertEqual(reply.body, NOT_FOUND_HTML, label)
        self.assertEqual(reply.headers["content-type"], "text/html", label)
        self.assertEqual(reply.headers["server"], "pbx/test", label)

    def test_ws_paths_accepted(self) -> None:
        for path in ("/ws", "/WS", "/ws/", "/ws?x=1", "/Ws/?transport=ws"):
            self.assert_upgraded(Server().ws(path), path)

    def test_wss_site_accepts_too(self) -> None:
        self.assert_upgraded(Server(TransportKind.WSS).ws("/ws"), "wss")

    def test_other_paths_are_404_with_the_html_page(self) -> None:
        server = Server()
        for path in (
            "/",
            "/sip",
            "/ws/x",
            "/asterisk/ws",
            "/wss",
            "/ws.html",
            "/ws/ws",
            "/ca.crt",
            "/trust",
            "/static/index.html",
            "/httpstatus",
        ):
            self.assert_not_found(server.ws(path), path)
            self.assert_not_found(server.get(path), f"plain GET {path}")

    def test_prefix(self) -> None:
        server = Server(prefix="/asterisk")
        self.assert_not_found(server.ws("/ws"), "/ws with prefix")
        self.assert_not_found(server.ws("/asterisk"), "/asterisk")
        self.assert_not_found(server.ws("/asteriskws"), "/asteriskws")
        self.assert_not_found(server.ws("/asterisk/ws/x"), "/asterisk/ws/x")
        self.assert_upgraded(server.ws("/asterisk/ws"), "/asterisk/ws")
        self.assert_upgraded(server.ws("/asterisk/ws/?x=1"), "/asterisk/ws/?x=1")

    def test_no_servername_no_server_header_no_footer(self) -> None:
        reply = Server(servername="").get("/nope")
        self.assertEqual(reply.status, 404)
        self.assertNotIn("server", reply.headers)
        self.assertNotIn(b"<address>", reply.body)
        self.assertIn(b"<h1>Not Found</h1>", reply.body)

    def test_redirect_before_prefix(self) -> None:
        server = Server(prefix="/asterisk", redirects=(("/", "/asterisk/static/index.html"),))
        reply = server.get("/")
        # Asterisk's phrase (main/http.c ast_http_send with "Moved Temporarily")
        self.assertEqual((reply.status, reply.reason), (302, "Moved Temporarily"))
        self.assertEqual(reply.headers["location"], "/asterisk/static/index.html")


class HandshakeOutcomeTests(SynchronousTestCase):
    """Asterisk's res_http_websocket answers at /ws when the handshake is not acceptable."""

    def test_post_is_501(self) -> None:
        reply = Server().ws("/ws", method="POST", extra="Content-Length: 0\r\n")
        self.assertEqual((reply.status, reply.reason), (501, "Not Implemented"))

    def test_no_upgrade_is_426(self) -> None:
        reply = Server().get("/ws")
        self.assertEqual((reply.status, reply.reason), (426, "Upgrade Required"))
        self.assertEqual(reply.headers["upgrade"], "websocket")

    def test_no_subprotocol_is_400(self) -> None:
        reply = Server().ws("/ws", protocol=None)
        self.assertEqual(reply.status, 400)
        self.assertIn(b"sip", reply.body)
        self.assertEqual(reply.headers["sec-websocket-version"], "13")

    def test_other_subprotocol_is_400(self) -> None:
        for offer in ("chat", "sip2", "echo"):
            reply = Server().ws("/ws", protocol=offer)
            self.assertEqual(reply.status, 400, offer)
            self.assertNotIn("sec-websocket-protocol", reply.headers, offer)

    def test_sip_among_offers_is_selected(self) -> None:
        reply = Server().ws("/ws", protocol="echo, sip")
        self.assertEqual(reply.status, 101)
        self.assertEqual(reply.headers["sec-websocket-protocol"], "sip")

    def test_bad_version_is_400_naming_13(self) -> None:
        reply = Server().request(
            b"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n"
            b"Sec-WebSocket-Protocol: sip\r\n\r\n"
        )
        self.assertEqual(reply.status, 400)
        self.assertEqual(reply.headers["sec-websocket-version"], "13")

    def test_refused_handshake_does_not_count_as_websocket(self) -> None:
        server = Server()
        server.ws("/ws", protocol=None)
        self.assertEqual(server.front.websockets, 0)
        self.assertEqual(server.hub.connection_count, 0)


class UpgradeTests(SynchronousTestCase):
    """The 101 a browser sees, and the connection becoming a flow of the hub."""

    def test_101_selects_sip(self) -> None:
        reply = Server().request(
            b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:8088\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: sip\r\n"
            b"User-Agent: Mozilla/5.0 test\r\n\r\n"
        )
        self.assertEqual((reply.status, reply.reason), (101, "Switching Protocols"))
        self.assertEqual(reply.headers["sec-websocket-protocol"], "sip")
        self.assertEqual(reply.headers["upgrade"].lower(), "websocket")
        self.assertEqual(reply.headers["connection"].lower(), "upgrade")
        # RFC 6455 §1.3's worked example
        self.assertEqual(reply.headers["sec-websocket-accept"], "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        self.assertEqual(reply.body, b"")

    def test_accept_key_computed_from_the_client_key(self) -> None:
        key = base64.b64encode(b"0123456789abcdef").decode()
        reply = Server().request(
            f"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Sec-WebSocket-Protocol: sip\r\n\r\n".encode()
        )
        magic = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
        expected = base64.b64encode(hashlib.sha1(key.encode() + magic).digest()).decode()
        self.assertEqual(reply.headers["sec-websocket-accept"], expected)

    def test_upgraded_connection_is_a_hub_flow(self) -> None:
        srv = Server()
        protocol, _, client = srv.upgrade()
        self.assertEqual(srv.hub.connection_count, 1)
        protocol.dataReceived(client.send(TextMessage(JSSIP_REGISTER.decode())))
        [(message, flow)] = srv.layer.received
        assert isinstance(message, SipRequest)
        self.assertEqual(message.method, "REGISTER")
        self.assertEqual(flow.kind, TransportKind.WS)
        self.assertEqual(flow.remote, Address("127.0.0.1", 40000))
        self.assertEqual(flow.local, Address("127.0.0.1", 8088))
        self.assertTrue(srv.hub.is_open(flow))

    def test_wss_site_makes_wss_flows(self) -> None:
        srv = Server(TransportKind.WSS)
        protocol, _, client = srv.upgrade()
        protocol.dataReceived(client.send(TextMessage(JSSIP_REGISTER.decode())))
        [(_, flow)] = srv.layer.received
        self.assertEqual(flow.kind, TransportKind.WSS)

    def test_connection_lost_drops_the_flow(self) -> None:
        srv = Server()
        protocol, _, client = srv.upgrade()
        protocol.dataReceived(client.send(TextMessage(JSSIP_REGISTER.decode())))
        [(_, flow)] = srv.layer.received
        srv.lose(protocol)
        self.assertEqual(srv.hub.connection_count, 0)
        self.assertFalse(srv.hub.is_open(flow))
        self.assertEqual(srv.lost, [flow])
        self.assertEqual(srv.layer.transport_errors, [flow])
        self.assertEqual(
            srv.status(), "Open HTTP sessions: 0 (limit 100); WebSocket connections: 0"
        )

    def test_handshake_refused_by_wsproto_leaves_counts_alone(self) -> None:
        # Passes Asterisk's checks but not RFC 6455 §4.2.1 (Connection must include Upgrade):
        # refused with 400, and nothing may count it as a WebSocket afterwards.
        srv = Server()
        conn = srv.connect()
        assert conn is not None
        protocol, transport = conn
        protocol.dataReceived(
            b"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: keep-alive\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            b"Sec-WebSocket-Protocol: sip\r\n\r\n"
        )
        reply = parse_reply(transport.value())
        self.assertEqual(reply.status, 400)
        self.assertEqual(srv.hub.connection_count, 0)
        self.assertEqual(
            srv.status(), "Open HTTP sessions: 1 (limit 100); WebSocket connections: 0"
        )
        srv.lose(protocol)
        self.assertEqual(
            srv.status(), "Open HTTP sessions: 0 (limit 100); WebSocket connections: 0"
        )


class ClientWebSocket(Protocol):
    """The browser side over TLS: sends the handshake, keeps what comes back."""

    def __init__(self) -> None:
        self.client = WSConnection(ConnectionType.CLIENT)
        self.received = b""
        self.lost: Failure | None = None

    def connectionMade(self) -> None:  # noqa: N802
        assert self.transport is not None
        self.transport.write(
            self.client.send(Request(host="127.0.0.1", target="/ws", subprotocols=["sip"]))
        )

    def dataReceived(self, data: bytes) -> None:  # noqa: N802
        self.received += data

    def connectionLost(self, reason: Failure = connectionDone) -> None:  # noqa: N802
        self.lost = reason


class TlsTests(SynchronousTestCase):
    """wss:// through real TLS (in memory, twisted.test.iosim) as a browser connects: with ALPN
    offering h2 and http/1.1 (Chromium and Firefox always do)."""

    def handshake(self, alpn: list[bytes] | None) -> ClientWebSocket:
        tls_dir = self.mktemp()
        options = server_tls_options("", "", tls_dir)
        ca = Path(ca_certificate_path(tls_dir)).read_bytes()
        srv = Server(TransportKind.WSS, ca_path=ca_certificate_path(tls_dir))
        # TLS transports gather small writes until the next reactor turn: the test clock's.
        server_tls = TLSMemoryBIOFactory(
            options,
            False,
            srv.factory,
            clock=srv.clock,
        )
        client_options = ssl.optionsForClientTLS(
            "localhost",
            trustRoot=ssl.Certificate.loadPEM(ca),
            acceptableProtocols=alpn,
        )
        browser = ClientWebSocket()
        client_factory = Factory.forProtocol(lambda: browser)
        client_tls = TLSMemoryBIOFactory(client_options, True, client_factory, clock=srv.clock)
        _, _, pump = iosim.connectedServerAndClient(
            lambda: server_tls.buildProtocol(SERVER),
            lambda: client_tls.buildProtocol(BROWSER),
        )
        for _ in range(5):
            srv.clock.advance(0)
            pump.flush()
        return browser

    def assert_upgraded(self, browser: ClientWebSocket) -> None:
        self.assertTrue(browser.received, f"no answer; connection lost: {browser.lost}")
        browser.client.receive_data(browser.received)
        events = list(browser.client.events())
        self.assertEqual(len(events), 1, browser.received)
        accept = events[0]
        assert isinstance(accept, AcceptConnection), accept
        self.assertEqual(accept.subprotocol, "sip")

    def test_browser_alpn(self) -> None:
        # A server that selects nothing fails the TLS handshake (internal_error alert), which
        # Chromium reports as ERR_SSL_PROTOCOL_ERROR.
        self.assert_upgraded(self.handshake([b"h2", b"http/1.1"]))

    def test_http11_only_alpn(self) -> None:
        self.assert_upgraded(self.handshake([b"http/1.1"]))

    def test_no_alpn(self) -> None:
        self.assert_upgraded(self.handshake(None))


class SessionLimitTests(SynchronousTestCase):
    """sessionlimit caps concurrent HTTP connections; upgraded WebSockets give their slot back."""

    def test_limit_plus_one_is_refused(self) -> None:
        server = Server(sessionlimit=3)
        held = [server.connect() for _ in range(3)]
        self.assertNotIn(None, held)
        self.assertIsNone(server.connect())
        self.assertEqual(
            server.status(), "Open HTTP sessions: 3 (limit 3); WebSocket connections: 0"
        )

    def test_closed_connection_frees_its_slot(self) -> None:
        server = Server(sessionlimit=1)
        conn = server.connect()
        assert conn is not None
        self.assertIsNone(server.connect())
        server.lose(conn[0])
        self.assertIsNotNone(server.connect())

    def test_websockets_do_not_count(self) -> None:
        server = Server(sessionlimit=2)
        for _ in range(5):
            server.upgrade()
        self.assertEqual(server.hub.connection_count, 5)
        self.assertIsNotNone(server.connect())
        self.assertIsNotNone(server.connect())
        self.assertIsNone(server.connect())
        self.assertEqual(
            server.status(), "Open HTTP sessions: 2 (limit 2); WebSocket connections: 5"
        )

    def test_counts_stay_right_as_browsers_come_and_go(self) -> None:
        # Browsers reconnect all day: every closed WebSocket and every closed HTTP connection
        # must give its count back, or the site ends up refusing everyone. (Channel objects are
        # freed and their memory reused between rounds, as in a long-running daemon.)
        server = Server(sessionlimit=3)
        for round_ in range(60):
            protocol, _, _ = server.upgrade()
            server.lose(protocol)
            del protocol
            reply_conn = server.connect()
            self.assertIsNotNone(reply_conn, f"round {round_}: refused; {server.status()}")
            assert reply_conn is not None
            reply_conn[0].dataReceived(b"GET /nope HTTP/1.1\r\nHost: h\r\n\r\n")
            server.lose(reply_conn[0])
            del reply_conn
            gc.collect()
        self.assertEqual(
            server.status(), "Open HTTP sessions: 0 (limit 3); WebSocket connections: 0"
        )
        held = [server.connect() for _ in range(3)]
        self.assertNotIn(None, held)

    def test_idle_http_connection_closed_after_session_inactivity(self) -> None:
        server = Server(session_inactivity=30000)
        conn = server.connect()
        assert conn is not None
        _, transport = conn
        server.clock.advance(29.9)
        self.assertFalse(transport.disconnecting)
        server.clock.advance(0.2)
        self.assertTrue(transport.disconnecting)

    def test_websocket_outlives_session_inactivity(self) -> None:
        server = Server(session_inactivity=30000, session_keep_alive=0)
        _, transport, _ = server.upgrade()
        server.clock.advance(3600)
        self.assertFalse(transport.disconnecting)


class LocalCaTests(SynchronousTestCase):
    """/ca.crt and /trust exist only when pbx made its own certificate."""

    def setUp(self) -> None:
        self.ca = Path(self.mktemp())
        self.ca.mkdir()
        self.ca_file = self.ca / "ca.crt"
        self.pem = b"-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n"
        self.ca_file.write_bytes(self.pem)

    def test_ca_served(self) -> None:
        for kind in (TransportKind.WS, TransportKind.WSS):
            server = Server(kind, ca_path=str(self.ca_file))
            files_on_clock(self, server)
            reply = server.get("/ca.crt")
            self.assertEqual(reply.status, 200, kind)
            self.assertEqual(reply.headers["content-type"], "application/x-x509-ca-cert", kind)
            self.assertEqual(reply.body, self.pem, kind)

    def test_ca_under_prefix(self) -> None:
        server = Server(ca_path=str(self.ca_file), prefix="/asterisk")
        files_on_clock(self, server)
        self.assertEqual(server.get("/asterisk/ca.crt").body, self.pem)
        self.assertEqual(server.get("/ca.crt").status, 404)

    def test_trust_page(self) -> None:
        server = Server(
            TransportKind.WSS, ca_path=str(self.ca_file), tlsbindaddr=Address("127.0.0.1", 8089)
        )
        reply = server.get("/trust", headers="Host: pbx.example.test:8089\r\n")
        self.assertEqual(reply.status, 200)
        self.assertTrue(reply.headers["content-type"].startswith("text/html"))
        self.assertIn(b'href="/ca.crt"', reply.body)
        self.assertIn(b"wss://pbx.example.test:8089/ws", reply.body)
        self.assertIn(b"certutil", reply.body)

    def test_no_ca_no_pages(self) -> None:
        server = Server(TransportKind.WSS)
        self.assertEqual(server.get("/ca.crt").status, 404)
        self.assertEqual(server.get("/trust").status, 404)

    def test_status_lists_the_ca_uris(self) -> None:
        text = http_status(Server(ca_path=str(self.ca_file)).front)
        self.assertIn("/ca.crt => pbx local certificate authority", text)
        self.assertIn("/ws => pbx SIP WebSocket (RFC 7118, subprotocol sip)", text)
        self.assertIn("Server Enabled and Bound to 127.0.0.1:8088", text)


class StaticTests(SynchronousTestCase):
    """enablestatic=yes serves staticdir at /static/, never anything outside it."""

    def setUp(self) -> None:
        root = Path(self.mktemp())
        self.static = root / "static"
        (self.static / "js").mkdir(parents=True)
        (self.static / "index.html").write_bytes(b"<html>phone</html>")
        (self.static / "js" / "phone.js").write_bytes(b"console.log('phone');")
        (root / "secret.txt").write_bytes(b"SECRET")
        (root / "sip.conf").write_bytes(b"[alice]\nsecret=SECRET\n")
        self.server = Server(enablestatic=True, staticdir=str(self.static))
        files_on_clock(self, self.server)

    def test_files_served(self) -> None:
        self.assertEqual(self.server.get("/static/js/phone.js").body, b"console.log('phone');")
        self.assertEqual(self.server.get("/static/index.html").body, b"<html>phone</html>")
        self.assertEqual(self.server.get("/static/").body, b"<html>phone</html>")

    def test_missing_and_listing_are_404(self) -> None:
        for path in ("/static/nope.js", "/static/js/", "/static/js"):
            reply = self.server.get(path)
            self.assertEqual(reply.status, 404, path)
            self.assertNotIn(b"phone.js", reply.body, path)

    def test_path_traversal_refused(self) -> None:
        for path in (
            "/static/../secret.txt",
            "/static/js/../../secret.txt",
            "/static/../sip.conf",
            "/static/..",
            "/static/%2e%2e/secret.txt",
            "/static/..%2fsecret.txt",
            "/static//etc/passwd",
            "/static/./js/phone.js",
            "/static/js/./../../secret.txt",
        ):
            reply = self.server.get(path)
            self.assertEqual(reply.status, 404, path)
            self.assertNotIn(b"SECRET", reply.body, path)

    def test_disabled(self) -> None:
        server = Server(enablestatic=False, staticdir=str(self.static))
        self.assertEqual(server.get("/static/index.html").status, 404)

    def test_websocket_still_beside_static(self) -> None:
        self.assertEqual(self.server.ws("/ws").status, 101)
