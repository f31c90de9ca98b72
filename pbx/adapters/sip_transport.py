"""Every SIP socket of the process, and the path from bytes to the transaction layer.

:class:`SipTransportHub` owns the UDP listeners and the live TCP/TLS/WebSocket connections. It
turns received bytes into validated messages (answering unparseable requests with ``400`` and
a reason phrase when RFC 3261 §8.2 lets it, dropping them otherwise — a bad packet never
costs a listener), stamps ``received``/``rport``, hands messages to the transaction layer and
writes the layer's outputs to the right socket. ``sip set debug`` traces are written here, in
chan_sip's framing.
"""

from __future__ import annotations

import ipaddress
import logging
import secrets
import socket
from collections.abc import Callable
from typing import Protocol

from pbx.core.addr import Address, TransportKind
from pbx.core.clock import Scheduler
from pbx.sip.flow import Flow
from pbx.sip.message import (
    Request,
    Response,
    SipParseError,
    can_reply,
    make_response,
    parse_message,
)
from pbx.sip.transaction.layer import TransactionLayer
from pbx.sip.transport import response_flow, stamp_received

log = logging.getLogger(__name__)
trace_log = logging.getLogger("pbx.sip.trace")


class Connection(Protocol):
    """A connection-oriented flow's sending side (TCP/TLS stream or WebSocket)."""

    flow: Flow

    def send_message(self, data: bytes) -> None: ...

    def close(self) -> None: ...


class DatagramSender(Protocol):
    def write(self, data: bytes, addr: tuple[str, int]) -> None: ...


class SipDebug:
    """``sip set debug on|off|ip ADDR|peer NAME``: which flows get full message traces."""

    def __init__(self) -> None:
        self.all = False
        self.hosts: set[str] = set()

    @property
    def active(self) -> bool:
        return self.all or bool(self.hosts)

    def wants(self, address: Address) -> bool:
        return self.all or address.host in self.hosts


class SipTransportHub:
    """Routes SIP bytes between sockets and the transaction layer.

    :param connection_lost: told when a connection-oriented flow ends (the registrar drops the
        bindings bound to it, RFC 5626 §4.4).
    """

    def __init__(
        self,
        clock: Scheduler,
        max_size: int,
        useragent: str,
        connection_lost: Callable[[Flow], None] | None = None,
    ) -> None:
        self.clock = clock
        self.max_size = max_size
        self.useragent = useragent
        self.layer: TransactionLayer | None = None
        self.after_input: Callable[[], None] = lambda: None
        self.connection_lost_hook = connection_lost
        self.debug = SipDebug()
        self._udp: dict[Address, DatagramSender] = {}
        self._connections: dict[int, Connection] = {}
        self._next_conn_id = 1
        self.dropped = 0
        self.rejected = 0
        self._route_cache: dict[str, str] = {}

    # -- registration of sockets -------------------------------------------------------------
    def add_udp(self, local: Address, sender: DatagramSender) -> None:
        self._udp[local] = sender

    def remove_udp(self, local: Address) -> None:
        self._udp.pop(local, None)

    def new_conn_id(self) -> int:
        conn_id = self._next_conn_id
        self._next_conn_id += 1
        return conn_id

    def add_connection(self, connection: Connection) -> None:
        self._connections[connection.flow.conn_id] = connection

    def remove_connection(self, connection: Connection) -> None:
        if self._connections.pop(connection.flow.conn_id, None) is None:
            return
        now = self.clock.seconds()
        if self.layer is not None:
            self.layer.transport_error(connection.flow, now)
        if self.connection_lost_hook is not None:
            self.connection_lost_hook(connection.flow)
        self.after_input()

    def is_open(self, flow: Flow) -> bool:
        if not flow.connection_oriented:
            return True
        conn = self._connections.get(flow.conn_id)
        return conn is not None and conn.flow == flow

    @property
    def connection_count(self) -> int:
        return len(self._connections)

    # -- receiving ---------------------------------------------------------------------------
    def receive(self, data: bytes, flow: Flow) -> None:
        """One complete SIP message (a datagram, a framed stream message or a WS frame)."""
        if self.debug.active and self.debug.wants(flow.remote):
            trace_log.info(
                "\n<--- SIP read from %s:%s --->\n%s\n<------------->",
                flow.kind.value.upper(),
                flow.remote,
                data.decode("utf-8", "replace"),
            )
        try:
            message = parse_message(data, self.max_size)
            message.validate()
        except SipParseError as e:
            self.reject(e, data, flow)
            return
        layer = self.layer
        if layer is None:
            return
        now = self.clock.seconds()
        try:
            if isinstance(message, Request):
                stamp_received(message, flow)
            layer.receive(message, flow, now)
        except SipParseError as e:
            self.reject(e, data, flow)
        except Exception:
            log.exception("error handling a message from %s", flow)
        self.after_input()

    def reject(self, error: SipParseError, data: bytes, flow: Flow) -> None:
        partial = error.partial
        first_line = data.split(b"\n", 1)[0][:120].decode("utf-8", "replace").strip()
        if isinstance(partial, Request) and partial.method != "ACK" and can_reply(partial):
            self.rejected += 1
            log.warning(
                "Rejecting %r from %s: %s %s", first_line, flow, error.response_hint, error.message
            )
            try:
                stamp_received(partial, flow)
                target = response_flow(partial, flow)
            except SipParseError:
                target = flow
            # §8.2.6.2: a final response carries a To tag.
            response = make_response(
                partial, error.response_hint, _reason(error), to_tag=secrets.token_hex(4)
            )
            response.headers.add("Server", self.useragent)
            self.send(bytes(response), target)
        else:
            self.dropped += 1
            log.warning(
                "Dropping unparseable message %r from %s: %s", first_line, flow, error.message
            )

    # -- sending -----------------------------------------------------------------------------
    def send(self, data: bytes, flow: Flow) -> bool:
        if self.debug.active and self.debug.wants(flow.remote):
            trace_log.info(
                "\n<--- Transmitting to %s:%s --->\n%s\n<------------>",
                flow.kind.value.upper(),
                flow.remote,
                data.decode("utf-8", "replace"),
            )
        if flow.connection_oriented:
            conn = self._connections.get(flow.conn_id)
            if conn is None or conn.flow != flow:
                log.debug("no connection for %s; message dropped", flow)
                return False
            conn.send_message(data)
            return True
        sender = self._udp.get(flow.local)
        if sender is None:
            sender = self._udp_for(flow.remote)
            if sender is None:
                return False
        sender.write(data, (flow.remote.host, flow.remote.port))
        return True

    def flush(self) -> None:
        layer = self.layer
        if layer is None:
            return
        for out in layer.outputs():
            self.send(out.data, out.flow)

    def send_stateless(self, message: Request | Response, flow: Flow) -> None:
        self.send(bytes(message), flow)

    # -- choosing flows ----------------------------------------------------------------------
    def advertised(self, flow: Flow) -> Address:
        """Our address as the peer should see it on ``flow`` (Via sent-by, Contact, SDP).

        A wildcard listener (``0.0.0.0``/``::``) has no address of its own: the kernel's route
        to the peer names the source it would use. Results are cached per remote host.
        """
        host = flow.local.host
        if host not in ("0.0.0.0", "::"):
            return flow.local
        cached = self._route_cache.get(flow.remote.host)
        if cached is None:
            cached = route_source(flow.remote) or ("127.0.0.1" if host == "0.0.0.0" else "::1")
            if len(self._route_cache) > 4096:
                self._route_cache.clear()
            self._route_cache[flow.remote.host] = cached
        return Address(cached, flow.local.port)

    def _udp_for(self, remote: Address) -> DatagramSender | None:
        local = self.udp_local_for(remote)
        return None if local is None else self._udp.get(local)

    def udp_local_for(self, remote: Address) -> Address | None:
        """The UDP listener that can reach ``remote`` (same address family, loopback first)."""
        v6 = ":" in remote.host
        best: Address | None = None
        for local in self._udp:
            if (":" in local.host) != v6 and local.host not in ("::", "0.0.0.0"):
                continue
            if local.host == "::" and not v6:
                # A dual-stack [::] listener reaches IPv4 only through mapped addresses; prefer
                # a real IPv4 listener when there is one.
                best = best or local
                continue
            best = local
            if _same_scope(local.host, remote.host):
                break
        return best

    def flow_to(
        self, kind: TransportKind, binding_flow: Flow | None, target: Address
    ) -> Flow | None:
        """A flow to ``target``: the binding's connection when still open, else UDP."""
        if binding_flow is not None:
            if not binding_flow.connection_oriented or self.is_open(binding_flow):
                if binding_flow.connection_oriented:
                    return binding_flow
                return Flow(binding_flow.kind, binding_flow.local, target)
            if binding_flow.connection_oriented:
                return None  # the browser's socket is gone: unreachable until it reconnects
        if kind is not TransportKind.UDP:
            for conn in self._connections.values():
                if conn.flow.kind is kind and conn.flow.remote == target:
                    return conn.flow
            return None
        local = self.udp_local_for(target)
        if local is None:
            return None
        return Flow(TransportKind.UDP, local, target)


def route_source(remote: Address) -> str | None:
    """The local IP the kernel would send from to reach ``remote`` (no packet is sent)."""
    family = socket.AF_INET6 if ":" in remote.host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.connect((remote.host, remote.port or 9))
            return str(probe.getsockname()[0])
    except OSError:
        return None


def _same_scope(local: str, remote: str) -> bool:
    try:
        lo, re = ipaddress.ip_address(local), ipaddress.ip_address(remote)
    except ValueError:
        return False
    return lo.is_loopback == re.is_loopback or lo.is_unspecified


def _reason(error: SipParseError) -> str:
    # Reason-Phrase must stay on one line (RFC 3261 §25.1).
    return error.message.replace("\r", " ").replace("\n", " ")[:120]
