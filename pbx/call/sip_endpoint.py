"""The SIP transaction user: what pbx does with each request and response it receives.

A request of a method pbx implements that ``Require``s an option tag pbx does not gets 420 Bad
Extension before anything else looks at it (RFC 3261 §8.2.2.3, :mod:`pbx.sip.option_tags`),
in-dialog requests included. Then REGISTER goes to the registrar (with persistence, logs and
qualify hooks), OPTIONS is answered here (chan_sip answers 200 with Allow/Accept/Supported), ACKs
to our 2xx and in-dialog requests go to the call layer, anything else we do not implement gets
501. Qualify pings leave from here too. The endpoint never touches a socket: it talks to a
:class:`Transports` Protocol for flows and to the transaction layer for sending.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from pbx.call.peers import PeerRegistry
from pbx.call.qualify import Qualifier, Reachability
from pbx.call.sip_leg import ALLOW
from pbx.core.addr import Address, TransportKind, bracket
from pbx.core.tokens import TokenSource
from pbx.sip.flow import Flow
from pbx.sip.location import Binding
from pbx.sip.message import Request, Response, make_response
from pbx.sip.option_tags import supported_header, unsupported_required
from pbx.sip.registrar import Registrar, nat_detected
from pbx.sip.transaction.base import ClientTransaction, ServerTransaction
from pbx.sip.transaction.layer import TransactionLayer
from pbx.sip.transaction.nist import NonInviteServerTransaction
from pbx.sip.transport import response_flow
from pbx.sip.ua import build_request, contact_uri, new_branch

log = logging.getLogger(__name__)

CallHandler = Callable[[Request, Flow, "ServerTransaction | None", float], bool]
"""Takes INVITE, in-dialog requests and ACKs; returns False for requests it does not own."""

#: Methods whose ``Require`` is checked (RFC 3261 §8.2.2.3 exempts ACK and CANCEL): those pbx
#: implements, UPDATE included (a dialog answers a bodiless one). Any other method is answered
#: 501 whatever it requires, as §8.2.1 inspects the method first.
REQUIRE_CHECKED = frozenset(ALLOW.split(", ")) - {"ACK", "CANCEL"} | {"UPDATE"}


class Transports(Protocol):
    """What the endpoint needs from the adapters that own the sockets."""

    def flow_to(
        self, kind: TransportKind, binding_flow: Flow | None, target: Address
    ) -> Flow | None:
        """A flow that reaches ``target``: the binding's own connection when it is still open,
        else a new UDP flow from our matching listener; ``None`` if unreachable."""
        ...

    def advertised(self, flow: Flow) -> Address:
        """Our address as seen on ``flow`` (Via sent-by, Contact)."""
        ...


class PersistenceSink(Protocol):
    def save_binding(self, binding: Binding) -> None: ...

    def delete_binding(self, binding: Binding) -> None: ...


@dataclass
class EndpointSettings:
    useragent: str
    realm: str


class SipEndpoint:
    """Implements :class:`pbx.sip.transaction.layer.TransactionUser`."""

    def __init__(
        self,
        peers: PeerRegistry,
        registrar: Registrar,
        qualifier: Qualifier,
        tokens: TokenSource,
        store: PersistenceSink,
        settings: EndpointSettings,
        now: Callable[[], float],
    ) -> None:
        self.peers = peers
        self.registrar = registrar
        self.qualifier = qualifier
        self.tokens = tokens
        self.store = store
        self.settings = settings
        self._now = now
        self.layer: TransactionLayer | None = None
        self.transports: Transports | None = None
        #: Hook for the call layer (INVITE and in-dialog requests); None until calls exist.
        self.call_handler: CallHandler | None = None
        self.stray_response: Callable[[Response], None] | None = None
        self._pings: dict[str, str] = {}  # peer name -> Call-ID of its outstanding ping

    # -- TransactionUser ---------------------------------------------------------------------
    def request_received(
        self, request: Request, flow: Flow, tx: ServerTransaction | None, now: float
    ) -> None:
        method = request.method
        if tx is None:
            if self.call_handler is not None:
                self.call_handler(request, flow, None, now)
            return
        if method in REQUIRE_CHECKED and self._bad_extension(request, flow, tx, now):
            return
        if method == "REGISTER":
            self._register(request, flow, tx, now)
        elif method == "OPTIONS":
            self._options(request, tx, now)
        elif self.call_handler is not None and self.call_handler(request, flow, tx, now):
            pass
        else:
            response = self._response(request, 501)
            response.headers.add("Allow", ALLOW)
            tx.respond(response, now)

    def response_received(
        self, response: Response, tx: ClientTransaction | None, now: float
    ) -> None:
        if tx is None and self.stray_response is not None:
            # 2xx retransmissions after the INVITE transaction ended: the call layer ACKs.
            self.stray_response(response)

    # -- helpers -------------------------------------------------------------------------------
    def _response(self, request: Request, status: int, reason: str | None = None) -> Response:
        response = make_response(request, status, reason, to_tag=self.tokens.hex(4))
        response.headers.add("Server", self.settings.useragent)
        return response

    def _bad_extension(
        self, request: Request, flow: Flow, tx: ServerTransaction, now: float
    ) -> bool:
        """Answer 420 when ``request`` requires extensions pbx lacks; True when it did so.

        Checked before authentication, as chan_sip does for INVITE: the answer says only what
        pbx cannot do, and spares the caller a challenge round for a request bound to fail.
        """
        unsupported = unsupported_required(request)
        if not unsupported:
            return False
        response = self._response(request, 420)
        response.headers.add("Unsupported", ", ".join(unsupported))
        tx.respond(response, now)
        log.warning(
            "Received SIP %s from %s with unsupported required extension: "
            "required:%s unsupported:%s",
            request.method,
            flow.remote,
            ", ".join(request.headers.get_all("Require")),
            ", ".join(unsupported),
        )
        return True

    def _register(self, request: Request, flow: Flow, tx: ServerTransaction, now: float) -> None:
        outcome = self.registrar.handle(request, flow, now)
        peer = self.peers.get(outcome.peer) if outcome.peer else None
        force = False
        if peer is not None:
            force = peer.nat.force_rport or (
                peer.nat.auto_force_rport and nat_detected(request, flow)
            )
        else:
            nat = self.peers.guest.nat
            force = nat.force_rport or (nat.auto_force_rport and nat_detected(request, flow))
        tx.response_flow = response_flow(request, flow, force)
        status = outcome.response.status
        if status == 401 and isinstance(tx, NonInviteServerTransaction):
            # A challenge is answered statelessly (RFC 3261 §8.2.7): no transaction lingers
            # 32 s for it, and a retransmitted REGISTER simply gets a fresh challenge.
            tx.respond_statelessly(outcome.response, now)
        else:
            tx.respond(outcome.response, now)
        if outcome.failure and status in (403, 404):
            log.log(
                25,
                "Registration from '%s' failed for '%s' - %s",
                request.headers.get("From") or "",
                flow.remote,
                outcome.failure,
            )
        for binding in outcome.removed:
            self.store.delete_binding(binding)
        for binding in outcome.saved:
            self.store.save_binding(binding)
        if status == 200 and outcome.peer:
            if outcome.saved:
                first = outcome.saved[0]
                log.info(
                    "Registered SIP '%s' at %s (%s)",
                    outcome.peer,
                    first.source,
                    first.transport.value,
                )
            elif outcome.removed:
                log.info("Unregistered SIP '%s'", outcome.peer)
            if outcome.saved or outcome.removed:
                self.qualifier.reset(outcome.peer, now)

    def _options(self, request: Request, tx: ServerTransaction, now: float) -> None:
        response = self._response(request, 200)
        response.headers.add("Allow", ALLOW)
        response.headers.add("Accept", "application/sdp")
        response.headers.add("Accept-Language", "en")
        response.headers.add("Supported", supported_header())
        tx.respond(response, now)

    # -- qualify -----------------------------------------------------------------------------
    def expire(self, bindings: list[Binding], now: float) -> None:
        """Bindings the location service timed out: forget them durably and say so."""
        for binding in bindings:
            self.store.delete_binding(binding)
            log.info("Registration for '%s' expired (%s)", binding.aor, binding.contact)
            if not self.peers.location.lookup(binding.aor, now):
                self.qualifier.reset(binding.aor, now)

    def send_pings(self, now: float) -> None:
        """Send OPTIONS to every peer the qualifier says is due."""
        for name in self.qualifier.due():
            self._ping(name, now)
        for change in self.qualifier.changes():
            level = logging.INFO if change.new in (Reachability.OK, Reachability.UNKNOWN) else 25
            ms = f" ({change.ms} ms)" if change.ms is not None else ""
            log.log(level, "Peer '%s' is now %s%s", change.name, change.new.value, ms)

    def _ping(self, name: str, now: float) -> None:
        peer = self.peers.get(name)
        layer, transports = self.layer, self.transports
        if peer is None or layer is None or transports is None:
            return
        target = self.peers.reach(name, now)
        if target is None:
            self.qualifier.no_address(name, now)
            return
        flow = transports.flow_to(target.kind, target.flow, target.address)
        if flow is None:
            self.qualifier.unreachable(name, now)
            return
        call_id = self.tokens.hex(16)
        local = transports.advertised(flow)
        request = build_request(
            "OPTIONS",
            target.uri,
            flow,
            local=local,
            from_=f"<sip:pbx@{bracket(local.host)}>",
            from_tag=self.tokens.hex(4),
            to=f"<{target.uri}>",
            call_id=call_id,
            cseq=102,
            branch=new_branch(self.tokens),
            contact=f"<{contact_uri(flow, local, 'pbx')}>",
            user_agent=self.settings.useragent,
            extra=[("Accept", "application/sdp")],
        )
        tx = layer.send_request(request, flow, now)
        self._pings[name] = call_id

        def answered(response: Response) -> None:
            # Only the answer to the peer's current ping counts: a late answer to an older one
            # (after a re-registration or a retransmission) says nothing about this one's delay.
            if response.status >= 200 and self._pings.get(name) == call_id:
                del self._pings[name]
                self.qualifier.answered(name, self._now())

        def failed() -> None:
            # Silence is judged by the qualifier's own deadline (2 x maxms).
            if self._pings.get(name) == call_id:
                del self._pings[name]

        tx.on_response = answered
        tx.on_timeout = failed
        tx.on_transport_error = failed
