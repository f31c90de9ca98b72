"""Every SIP socket of the process, and the path from bytes to the transaction layer.

:class:`SipTransportHub` owns the UDP listeners and the live TCP/TLS/WebSocket connections. It
turns received bytes into validated messages (answering unparseable requests with ``400`` and
a reason phrase when RFC 3261 §8.2 lets it, dropping them otherwise — a bad packet never
costs a listener), stamps ``received``/``rport``, hands messages to the transaction layer and
writes the layer's outputs to the right socket. ``sip set debug`` traces are written here, in
chan_sip's framing.

Outbound connections (RFC 3261 §18.1.1, §18.2.2): when a request must go over TCP or TLS to a
target that no open connection reaches, the hub opens one through an injected
:data:`Connector` and queues what is sent on it until it is up. pbx keeps one flow per
``(transport, target)``: every later request to the target uses it, and the peer's requests on
that connection are received like on an accepted one. The connection under the flow may close
and be opened again by the next request (a dialog keeps working after a trunk closed an idle
connection, as chan_sip reconnects). A refused, timed-out or failed TLS connection is a transport
error for the transactions waiting on it (RFC 3261 §8.1.3.1, §17.1.1.2), logged once per target
at WARNING. Idle outbound connections stay open until the peer closes them or pbx stops
(chan_sip keeps them too). What pbx still sends on a connection a phone opened and then closed
(a BYE in its dialog, a 2xx retransmission) goes over a new connection to where the phone
listens: the host it connected from, at the port of its Via (RFC 3261 §18.2.2).
"""

from __future__ import annotations

import ipaddress
import logging
import secrets
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from pbx.core.addr import Address, TransportKind
from pbx.core.clock import Cancellable, Scheduler
from pbx.core.hosts import HostTable
from pbx.core.nat import NatMap
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


class ConnectAttempt(Protocol):
    """A connection being opened; :meth:`cancel` gives up on it (and drops it if it is up)."""

    def cancel(self) -> None: ...


Connector = Callable[[Flow, str], ConnectAttempt]
"""Opens a TCP/TLS connection for ``flow``: to ``flow.remote``, with ``flow.local`` the listener
that Via and Contact advertise; the ``str`` is the server's name as configured (a TLS server's
certificate must name it), ``flow.remote.host`` when it was configured as an address. The
adapter reports back with
:meth:`SipTransportHub.connection_made` (a :class:`Connection` whose ``flow`` is this very flow)
or :meth:`SipTransportHub.connect_failed`; it never calls back before returning."""

#: Seconds an outbound connection (TCP connect plus TLS handshake) may take: below Timer B/F
#: (64*T1 = 32 s), so a silent target is a transport error (503, CHANUNAVAIL) rather than a
#: transaction timeout.
CONNECT_TIMEOUT = 30.0
#: Outbound flows remembered by target; beyond this, closed ones are forgotten.
MAX_OUTBOUND_FLOWS = 4096

_WILDCARDS = ("0.0.0.0", "::")
_STREAMS = (TransportKind.TCP, TransportKind.TLS)


@dataclass(slots=True)
class _Pending:
    """An outbound connection on its way up, and what waits to be sent on it."""

    flow: Flow
    queue: list[bytes] = field(default_factory=list)
    attempt: ConnectAttempt | None = None
    timer: Cancellable | None = None


class DatagramSender(Protocol):
    def write(self, data: bytes, addr: tuple[str, int]) -> None: ...


class SipDebug:
    """``sip set debug on|off|ip ADDR|peer NAME``: which flows get full message traces."""

    def __init__(self) -> None:
        #: chan_sip's ``(NAT)``/``(no NAT)`` in sent-message frames: its per-dialog
        #: ``force_rport`` flag; pbx shows sip.conf's ``[general]`` ``nat`` (a device whose
        #: ``nat`` differs is warned about at start-up).
        self.nat_label = "no NAT"
        self.all = False
        #: ``ip``/``peer`` targets: a host with the port to match, or ``None`` for any port.
        self.hosts: dict[str, int | None] = {}

    @property
    def active(self) -> bool:
        return self.all or bool(self.hosts)

    def wants(self, address: Address) -> bool:
        if self.all:
            return True
        if address.host not in self.hosts:
            return False
        port = self.hosts[address.host]
        return port is None or port == address.port


class SipTransportHub:
    """Routes SIP bytes between sockets and the transaction layer.

    :param connection_lost: told when a connection-oriented flow ends (the registrar drops the
        bindings bound to it, RFC 5626 §4.4).
    :param connector: opens outbound TCP/TLS connections; without one, TCP/TLS targets are
        reachable only over connections they opened.
    """

    def __init__(
        self,
        clock: Scheduler,
        max_size: int,
        useragent: str,
        connection_lost: Callable[[Flow], None] | None = None,
        connector: Connector | None = None,
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
        self.connector = connector
        #: ``externaddr``/``localnet`` (sip.conf; replaced on reload).
        self.nat = NatMap()
        #: sip.conf's host names and their addresses (filled by the service).
        self.hosts = HostTable()
        self._unresolved: set[str] = set()
        # (transport, resolved target) -> the host name it was configured as (TLS verifies it).
        self._server_names: dict[tuple[TransportKind, Address], str] = {}
        #: Stream listeners by transport: the local address of outbound flows.
        self._listeners: dict[TransportKind, list[Address]] = {}
        # Open connections by (transport, remote address), accepted ones included: a request to
        # an address some connection already reaches goes over it.
        self._by_remote: dict[tuple[TransportKind, Address], int] = {}
        # The flow pbx uses for each TCP/TLS target it connects to, open or not.
        self._outbound: dict[tuple[TransportKind, Address], Flow] = {}
        self._pending: dict[int, _Pending] = {}
        # Targets whose last connection attempt failed: warned about once, until one succeeds.
        self._failing: set[tuple[TransportKind, Address]] = set()
        self._warned_no_listener: set[TransportKind] = set()
        # Accepted TCP/TLS connections -> where their peer listens (its first request's Via),
        # and the same for closed ones, oldest first, bounded.
        self._listening: dict[int, Address] = {}
        self._listeners_of_closed: dict[int, Address] = {}
        self._closing = False
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

    def add_listener(self, kind: TransportKind, local: Address) -> None:
        """A TCP/TLS listener is bound at ``local`` (with its real port)."""
        self._listeners.setdefault(kind, []).append(local)

    def add_connection(self, connection: Connection) -> None:
        flow = connection.flow
        self._connections[flow.conn_id] = connection
        self._by_remote[(flow.kind, flow.remote)] = flow.conn_id

    def remove_connection(self, connection: Connection) -> None:
        flow = connection.flow
        if self._connections.get(flow.conn_id) is not connection:
            return
        del self._connections[flow.conn_id]
        listener = self._listening.pop(flow.conn_id, None)
        if listener is not None:
            closed = self._listeners_of_closed
            if len(closed) >= MAX_OUTBOUND_FLOWS:
                del closed[next(iter(closed))]  # the oldest
            closed[flow.conn_id] = listener
        if self._by_remote.get((flow.kind, flow.remote)) == flow.conn_id:
            del self._by_remote[(flow.kind, flow.remote)]
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

    def _remember_listener(self, request: Request, flow: Flow) -> None:
        """Where the sender of ``request`` listens: the received host at its Via sent-by port
        (RFC 3261 §18.2.2), kept per connection for when the connection has closed."""
        if flow.conn_id in self._listening:
            return
        port = request.top_via.port or (5061 if flow.kind is TransportKind.TLS else 5060)
        self._listening[flow.conn_id] = Address(flow.remote.host, port)

    # -- outbound connections ----------------------------------------------------------------
    def connection_made(self, connection: Connection) -> None:
        """The connector's connection for ``connection.flow`` is up (TLS: handshake done):
        it becomes a normal flow and what waited for it goes out, in order."""
        flow = connection.flow
        pending = self._pending.get(flow.conn_id)
        if pending is None or pending.flow != flow:
            connection.close()  # given up on meanwhile (timeout, shutdown)
            return
        self._finish_pending(pending)
        target = (flow.kind, flow.remote)
        if target in self._failing:
            self._failing.discard(target)
            log.info("SIP %s connection to %s is up again", flow.kind.via_token, flow.remote)
        else:
            log.debug("SIP %s connection to %s is up", flow.kind.via_token, flow.remote)
        self.add_connection(connection)
        for data in pending.queue:
            connection.send_message(data)

    def connect_failed(self, flow: Flow, reason: str) -> None:
        """The connector could not open ``flow`` (refused, unreachable, TLS handshake failed):
        a transport error for every transaction waiting on it (RFC 3261 §8.1.3.1)."""
        pending = self._pending.get(flow.conn_id)
        if pending is None or pending.flow != flow:
            return  # given up on already
        self._finish_pending(pending)
        target = (flow.kind, flow.remote)
        if target in self._failing:
            log.debug(
                "SIP %s connection to %s failed again: %s", flow.kind.via_token, flow.remote, reason
            )
        else:
            self._failing.add(target)
            log.warning(
                "Unable to connect SIP %s socket to %s: %s",
                flow.kind.via_token,
                flow.remote,
                reason,
            )
        if self.layer is not None:
            self.layer.transport_error(flow, self.clock.seconds())
        self.after_input()

    def close_outbound(self) -> None:
        """Shutdown: close every connection pbx opened and give up on those still opening;
        no new ones are opened afterwards."""
        self._closing = True
        for pending in list(self._pending.values()):
            self._finish_pending(pending)
            if pending.attempt is not None:
                pending.attempt.cancel()
        for flow in self._outbound.values():
            connection = self._connections.get(flow.conn_id)
            if connection is not None and connection.flow == flow:
                connection.close()

    def _finish_pending(self, pending: _Pending) -> None:
        del self._pending[pending.flow.conn_id]
        if pending.timer is not None and pending.timer.active():
            pending.timer.cancel()

    def _connect(self, flow: Flow) -> _Pending | None:
        if self._closing or self.connector is None:
            return None
        pending = _Pending(flow)
        self._pending[flow.conn_id] = pending
        pending.timer = self.clock.callLater(CONNECT_TIMEOUT, self._timed_out, flow)
        try:
            name = self._server_names.get((flow.kind, flow.remote), flow.remote.host)
            pending.attempt = self.connector(flow, name)
        except Exception as e:  # a bad CA file, say: fail like a refused connection, later
            log.exception("cannot open a SIP %s connection to %s", flow.kind.via_token, flow.remote)
            self.clock.callLater(0, self.connect_failed, flow, str(e) or type(e).__name__)
        return pending

    def _timed_out(self, flow: Flow) -> None:
        pending = self._pending.get(flow.conn_id)
        if pending is None or pending.flow != flow:
            return
        pending.timer = None
        if pending.attempt is not None:
            pending.attempt.cancel()
        self.connect_failed(flow, f"no connection within {CONNECT_TIMEOUT:g} s")

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
                if flow.kind in _STREAMS and self._outbound.get((flow.kind, flow.remote)) != flow:
                    # Accepted connections only: pbx's own flows reconnect by themselves.
                    self._remember_listener(message, flow)
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
                "\n<--- Transmitting (%s) to %s --->\n%s\n<------------>",
                self.debug.nat_label,
                flow.remote,
                data.decode("utf-8", "replace"),
            )
        if flow.connection_oriented:
            conn = self._connections.get(flow.conn_id)
            if conn is not None and conn.flow == flow:
                conn.send_message(data)
                return True
            pending = self._pending.get(flow.conn_id)
            if pending is None and self._outbound.get((flow.kind, flow.remote)) == flow:
                pending = self._connect(flow)  # §18.1.1: (re)open the flow's connection
            if pending is None:
                listener = self._listeners_of_closed.get(flow.conn_id)
                if listener is not None:
                    # §18.2.2's rule, for what pbx still sends on a dialog whose connection the
                    # phone closed (a BYE, a 2xx retransmission): connect to where it listens.
                    again = self._outbound_flow(flow.kind, listener)
                    if again is not None:
                        return self.send(data, again)
            if pending is None or pending.flow != flow:
                log.debug("no connection for %s; message dropped", flow)
                return False
            pending.queue.append(data)
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
        """Our address as the peer should see it on ``flow`` (Via sent-by, Contact, SDP):
        ``externaddr`` for a peer outside ``localnet`` (:mod:`pbx.core.nat`).

        A wildcard listener (``0.0.0.0``/``::``) has no address of its own: the kernel's route
        to the peer names the source it would use. Results are cached per remote host.
        """
        external = self.nat.external_for(flow.remote.host)
        if external is not None:
            # chan_sip: externaddr's port for UDP; stream listeners keep theirs.
            return (
                external
                if flow.kind is TransportKind.UDP
                else Address(external.host, flow.local.port)
            )
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
        return _local_for(self._udp, remote)

    def flow_to(
        self, kind: TransportKind, binding_flow: Flow | None, target: Address
    ) -> Flow | None:
        """A flow to ``target`` over ``kind``; ``None`` when it cannot be reached.

        A registration's own connection while it is open (or opening); once it closed, a
        WebSocket binding is unreachable until the browser reconnects, while a TCP/TLS one is
        reached by connecting to ``target`` (chan_sip's behaviour). A TCP/TLS target goes over
        an open connection to that address, else over pbx's own flow to it, whose connection
        opens when the first message is sent. A host name goes to the address it resolved to
        (:attr:`hosts`); one that has not resolved is unreachable.
        """
        address = self.hosts.address_of(target.host)
        if address is None:
            if target.host not in self._unresolved:
                if len(self._unresolved) >= MAX_OUTBOUND_FLOWS:  # names from Contacts too
                    self._unresolved.clear()
                self._unresolved.add(target.host)
                log.warning("Cannot reach %s: host '%s' has not resolved", target, target.host)
            return None
        if address != target.host:
            self._server_names[(kind, Address(address, target.port))] = target.host
            target = Address(address, target.port)
        if binding_flow is not None:
            if not binding_flow.connection_oriented:
                return Flow(binding_flow.kind, binding_flow.local, target)
            if self.is_open(binding_flow) or binding_flow.conn_id in self._pending:
                return binding_flow
            if binding_flow.kind.websocket:
                return None  # the browser's socket is gone: unreachable until it reconnects
            kind = binding_flow.kind
        if kind is TransportKind.UDP:
            local = self.udp_local_for(target)
            if local is None:
                return None
            return Flow(TransportKind.UDP, local, target)
        conn_id = self._by_remote.get((kind, target))
        if conn_id is not None:
            return self._connections[conn_id].flow
        if kind.websocket:
            return None  # a browser cannot be connected to
        return self._outbound_flow(kind, target)

    def _outbound_flow(self, kind: TransportKind, target: Address) -> Flow | None:
        if self.connector is None or self._closing:
            return None
        flow = self._outbound.get((kind, target))
        if flow is not None:
            return flow
        local = _local_for(self._listeners.get(kind, ()), target)
        if local is None:
            if kind not in self._warned_no_listener:
                self._warned_no_listener.add(kind)
                log.warning(
                    "No SIP %s listener for %s: cannot connect to it", kind.via_token, target
                )
            return None
        if len(self._outbound) >= MAX_OUTBOUND_FLOWS:
            self._forget_closed_outbound()
        flow = Flow(kind, local, target, self.new_conn_id())
        self._outbound[(kind, target)] = flow
        return flow

    def _forget_closed_outbound(self) -> None:
        for key, flow in list(self._outbound.items()):
            if flow.conn_id not in self._connections and flow.conn_id not in self._pending:
                del self._outbound[key]
                self._failing.discard(key)


def route_source(remote: Address) -> str | None:
    """The local IP the kernel would send from to reach ``remote`` (no packet is sent)."""
    family = socket.AF_INET6 if ":" in remote.host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.connect((remote.host, remote.port or 9))
            return str(probe.getsockname()[0])
    except OSError:
        return None


def _local_for(candidates: Iterable[Address], remote: Address) -> Address | None:
    """The listener that can reach ``remote`` (same address family, loopback first)."""
    v6 = ":" in remote.host
    best: Address | None = None
    for local in candidates:
        if (":" in local.host) != v6 and local.host not in _WILDCARDS:
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


def _same_scope(local: str, remote: str) -> bool:
    try:
        lo, re = ipaddress.ip_address(local), ipaddress.ip_address(remote)
    except ValueError:
        return False
    return lo.is_loopback == re.is_loopback or lo.is_unspecified


def _reason(error: SipParseError) -> str:
    # Reason-Phrase must stay on one line (RFC 3261 §25.1).
    return error.message.replace("\r", " ").replace("\n", " ")[:120]
