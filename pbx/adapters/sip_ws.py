"""SIP over WebSocket (RFC 7118): the handshake at ``/ws`` and the connection afterwards.

The handshake follows Asterisk's ``res_http_websocket`` outcomes (ASTERISK-REFERENCE §2.2):
a method other than GET -> ``501``; no ``Upgrade: websocket`` -> ``426``; no
``Sec-WebSocket-Protocol`` offering ``sip`` -> ``400``; a bad version or key -> ``400`` with
``Sec-WebSocket-Version: 13``; otherwise ``101`` *selecting* the ``sip`` subprotocol, which
RFC 7118 §4.1 requires and Twisted's own ``WebSocketResource`` never does — hence this module
owns the handshake, with wsproto.

After the upgrade each connection is one flow of the SIP stack: one SIP message per frame, text
or binary (RFC 7118 §5); requests to the browser go back over this very connection. Pings detect
a vanished tab (:class:`KeepAlive`): it is closed within ``session_keep_alive``, and its
registrations go with it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from twisted.internet.interfaces import IAddress
from twisted.internet.protocol import Protocol, connectionDone
from twisted.python.failure import Failure
from twisted.web.server import NOT_DONE_YET, Request
from wsproto.connection import Connection, ConnectionType
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Ping,
    Pong,
    TextMessage,
)
from wsproto.handshake import H11Handshake
from wsproto.utilities import RemoteProtocolError as WsProtocolError

from pbx.adapters.sip_transport import SipTransportHub
from pbx.core.addr import Address, TransportKind, unmap_ipv4
from pbx.core.clock import Cancellable, Scheduler
from pbx.sip.flow import Flow
from pbx.sip.framing import check_websocket_frame, is_keepalive
from pbx.sip.message import SipParseError

log = logging.getLogger(__name__)

SUBPROTOCOL = "sip"


def _header(request: Request, name: bytes) -> str:
    value = request.getHeader(name)
    return value.decode("latin-1") if isinstance(value, bytes) else (value or "")


def _tokens(value: str) -> list[str]:
    return [t.strip().lower() for t in value.split(",") if t.strip()]


def handshake_rejection(request: Request) -> tuple[int, str] | None:
    """Asterisk's checks, in its order; ``None`` when the upgrade may proceed."""
    if request.method != b"GET":
        return 501, "Not Implemented"
    if "websocket" not in _tokens(_header(request, b"upgrade")):
        return 426, "Upgrade Required"
    if SUBPROTOCOL not in _tokens(_header(request, b"sec-websocket-protocol")):
        return 400, "Bad Request: the 'sip' WebSocket subprotocol (RFC 7118) is required"
    if _header(request, b"sec-websocket-version").strip() != "13":
        return 400, "Bad Request: unsupported WebSocket version"
    if not _header(request, b"sec-websocket-key"):
        return 400, "Bad Request: missing Sec-WebSocket-Key"
    return None


class SipWebSocket(Protocol):
    """One upgraded connection: wsproto framing in, SIP messages to the hub, pings out."""

    def __init__(
        self,
        hub: SipTransportHub,
        kind: TransportKind,
        connection: Connection,
        clock: Scheduler,
        keep_alive: float,
        closed: Callable[[SipWebSocket], None] | None = None,
        keepalive: KeepAlive | None = None,
    ) -> None:
        self.hub = hub
        self.kind = kind
        self.ws = connection
        self.clock = clock
        self.keep_alive = keep_alive
        self._closed_hook = closed
        self.flow = Flow(kind, Address("0.0.0.0", 0), Address("0.0.0.0", 0))
        self._parts: list[str | bytes | bytearray] = []
        self._size = 0
        self.last_heard = 0.0
        self.pinged_at = -1.0
        self.keepalive = keepalive if keepalive is not None else KeepAlive(clock, keep_alive)
        self.user_agent = ""

    # -- the protocol HTTPChannel hands its connection to -----------------------------------
    def connectionMade(self) -> None:  # noqa: N802
        transport = self.transport
        assert transport is not None
        local = _address(transport.getHost())
        remote = _address(transport.getPeer())
        self.flow = Flow(self.kind, local, remote, self.hub.new_conn_id())
        self.hub.add_connection(self)
        self.last_heard = self.clock.seconds()
        self.keepalive.add(self)
        log.info("WebSocket %s connection from %s", self.kind.value.upper(), remote)

    def dataReceived(self, data: bytes) -> None:  # noqa: N802
        self.last_heard = self.clock.seconds()
        try:
            self.ws.receive_data(data)
            events = list(self.ws.events())
        except WsProtocolError as e:
            log.warning("WebSocket protocol error from %s: %s", self.flow, e)
            self.abort()
            return
        for event in events:
            if isinstance(event, (TextMessage, BytesMessage)):
                self._message_part(event.data, event.message_finished)
            elif isinstance(event, Ping):
                self.write(self.ws.send(event.response()))
            elif isinstance(event, Pong):
                pass
            elif isinstance(event, CloseConnection):
                if self.ws.state.name not in ("CLOSED", "LOCAL_CLOSING"):
                    self.write(self.ws.send(event.response()))
                self.abort()
                return

    def connectionLost(self, reason: Failure = connectionDone) -> None:  # noqa: N802
        self.keepalive.discard(self)
        self.transport = None
        self.hub.remove_connection(self)
        if self._closed_hook is not None:
            self._closed_hook(self)
        log.info(
            "WebSocket %s connection from %s closed", self.kind.value.upper(), self.flow.remote
        )

    # -- messages ------------------------------------------------------------------------
    def _message_part(self, data: str | bytes | bytearray, finished: bool) -> None:
        self._parts.append(data)
        self._size += len(data)
        if self._size > self.hub.max_size:
            log.warning(
                "WebSocket message from %s exceeds %d bytes; closing", self.flow, self.hub.max_size
            )
            self.close(1009)
            return
        if not finished:
            return
        parts, self._parts, self._size = self._parts, [], 0
        raw = b"".join(p.encode("utf-8") if isinstance(p, str) else p for p in parts)
        if is_keepalive(raw):
            return
        try:
            check_websocket_frame(raw)
        except SipParseError as e:
            self.hub.reject(e, raw, self.flow)
            return
        self.hub.receive(raw, self.flow)

    # -- Connection (the hub's sending side) ---------------------------------------------
    def send_message(self, data: bytes) -> None:
        # RFC 7118 §5.1: SIP messages are UTF-8 text; JsSIP and SIP.js expect text frames.
        self.write(self.ws.send(TextMessage(data.decode("utf-8", "replace"))))

    def close(self, code: int = 1000) -> None:
        if self.transport is None:
            return
        try:
            self.write(self.ws.send(CloseConnection(code)))
        except Exception:
            pass
        self.abort()

    def write(self, data: bytes) -> None:
        if self.transport is not None and data:
            self.transport.write(data)

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.loseConnection()


#: RFC 6455 §5.5.2: a server's Ping frame is unmasked, so it is the same bytes every time.
PING_FRAME = b"\x89\x03pbx"


class KeepAlive:
    """One timer for every WebSocket of a listener: ping the quiet, close the silent.

    A sweep runs every quarter of ``keep_alive``. A connection quiet for 3/8 of it gets one
    ping (any frame it sends counts as life); one silent for 3/4 of it is closed, so a
    vanished tab is gone within ``keep_alive`` (http.conf ``session_keep_alive``). One shared
    timer and a constant ping frame keep thousands of idle browsers cheap.
    """

    def __init__(self, clock: Scheduler, keep_alive: float) -> None:
        self.clock = clock
        self.keep_alive = keep_alive
        self._members: set[SipWebSocket] = set()
        self._timer: Cancellable | None = None

    def add(self, ws: SipWebSocket) -> None:
        if self.keep_alive <= 0:
            return
        self._members.add(ws)
        if self._timer is None:
            self._timer = self.clock.callLater(self.keep_alive / 4, self._sweep)

    def discard(self, ws: SipWebSocket) -> None:
        self._members.discard(ws)
        if not self._members and self._timer is not None:
            if self._timer.active():
                self._timer.cancel()
            self._timer = None

    def _sweep(self) -> None:
        self._timer = None
        now = self.clock.seconds()
        close_after = self.keep_alive * 0.75
        ping_after = self.keep_alive * 0.375
        for ws in list(self._members):
            silent = now - ws.last_heard
            if silent >= close_after:
                log.log(
                    25,
                    "WebSocket %s from %s silent for %.0f s; closing",
                    ws.kind.value,
                    ws.flow.remote,
                    silent,
                )
                ws.abort()
            elif silent >= ping_after and ws.pinged_at <= ws.last_heard:
                ws.pinged_at = now
                ws.write(PING_FRAME)
        if self._members:
            self._timer = self.clock.callLater(self.keep_alive / 4, self._sweep)


def upgrade(
    request: Request,
    hub: SipTransportHub,
    kind: TransportKind,
    clock: Scheduler,
    keep_alive: float,
    closed: Callable[[SipWebSocket], None] | None = None,
    keepalive: KeepAlive | None = None,
) -> bytes | int:
    """Complete an accepted handshake and hand the connection to a :class:`SipWebSocket`.

    Twisted's HTTPChannel is re-pointed at the WebSocket protocol exactly as Twisted's own
    ``WebSocketResource`` does (``HTTPChannel._protocolUpgradeForWebsockets``): from now on its
    bytes go to wsproto, and its idle timeout no longer applies.
    """
    handshake = H11Handshake(ConnectionType.SERVER)
    raw = request.requestHeaders.getAllRawHeaders()
    headers = [(name, value) for name, values in raw for value in values]
    try:
        handshake.initiate_upgrade_connection(headers, request.path)
    except WsProtocolError as e:
        request.setResponseCode(400)
        return f"WebSocket handshake failed: {e}\n".encode()
    reply = handshake.send(AcceptConnection(subprotocol=SUBPROTOCOL))
    connection = handshake.connection
    channel = request.channel
    transport = channel.transport
    if connection is None or transport is None:
        request.setResponseCode(400)
        return b"WebSocket handshake failed\n"
    sip = SipWebSocket(hub, kind, connection, clock, keep_alive, closed, keepalive)
    sip.user_agent = _header(request, b"user-agent")
    channel.setTimeout(None)
    channel._protocolUpgradeForWebsockets(sip)  # noqa: SLF001 - see docstring
    transport.write(reply)
    return NOT_DONE_YET


def _address(addr: IAddress) -> Address:
    return Address(unmap_ipv4(str(getattr(addr, "host", "0.0.0.0"))), int(getattr(addr, "port", 0)))
