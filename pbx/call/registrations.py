"""The outbound registrations of sip.conf (``register =>`` lines) and their REGISTER traffic.

:func:`registration_spec` resolves a line as chan_sip does: with ``peer?`` the registration
uses that device's settings where the line is silent — its first transport, its port, its
``secret`` (``remotesecret`` first), its ``fromdomain`` as the domain and its ``defaultuser`` /
``fromuser`` as the digest user — and goes to the device's static ``host`` when it has one.
:class:`Registrations` owns one :class:`~pbx.sip.outbound_registration.OutboundRegistration`
per line and is a timed object for :class:`pbx.adapters.timer_driver.TimerDriver`, as the
qualifier is: when a registration is due it finds a flow (``Transports.flow_to``), sends the
REGISTER through the transaction layer and feeds the answers back. ``sip reload`` keeps the
registrations whose resolved settings did not change and replaces the others.

Calls from the provider need nothing here: they match the provider's ``type=peer`` by source
address, and their Request-URI user is the line's ``/extension`` (our Contact user).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping

from pbx.call.credentials import outbound_login
from pbx.call.sip_endpoint import Transports
from pbx.config.sip_conf import PeerConfig, SipSettings
from pbx.config.sip_values import Registration
from pbx.core.addr import Address, TransportKind, bracket
from pbx.core.tokens import TokenSource
from pbx.sip.auth import Credentials, DigestLogin
from pbx.sip.message import Response
from pbx.sip.outbound_registration import OutboundRegistration, RegistrationSpec
from pbx.sip.transaction.layer import TransactionLayer

log = logging.getLogger(__name__)

#: chan_sip's Contact user when the line has no ``/extension`` (its ``callback`` default).
DEFAULT_EXTENSION = "s"


def registration_spec(
    line: Registration,
    peers: Mapping[str, PeerConfig],
    general: SipSettings,
    realms: Mapping[str, DigestLogin] | None = None,
) -> RegistrationSpec:
    """Resolve one ``register =>`` line (see the module docstring)."""
    peer = peers.get(line.peer) if line.peer is not None else None
    transport = line.transport or (peer.primary_transport if peer else TransportKind.UDP)
    host = line.host
    if peer is not None and peer.host is not None and not peer.dynamic:
        host = peer.host
    default_port = 5061 if transport is TransportKind.TLS else 5060
    port = line.port or (peer.port if peer is not None and peer.port else default_port)
    login: DigestLogin | None = None
    if line.secret:
        login = DigestLogin(line.authuser or line.user, Credentials(line.secret))
    elif peer is not None and (peer_login := outbound_login(peer)) is not None:
        # The peer's secret as for its calls; the user: authuser, defaultuser, fromuser, user.
        user = line.authuser or peer.defaultuser or peer.fromuser or line.user
        login = DigestLogin(user, peer_login.credentials)
    domain = line.domain or (peer.fromdomain if peer is not None else "") or ""
    if not domain:
        domain = bracket(line.host) + (f":{line.port}" if line.port else "")
    return RegistrationSpec(
        transport=transport,
        target=Address(host, port),
        domain=domain,
        user=line.user,
        contact_user=line.extension or DEFAULT_EXTENSION,
        login=login,
        expiry=line.expiry or general.defaultexpiry,
        retry_interval=float(general.registertimeout),
        max_attempts=general.registerattempts,
        retry_403=general.register_retry_403,
        useragent=general.useragent,
        realms=tuple(sorted((realms or {}).items())),
    )


def _binding(spec: RegistrationSpec) -> tuple[object, ...]:
    """What identifies the binding a registration makes at its registrar."""
    return (spec.transport, spec.target, spec.aor, spec.contact_user)


class Registrations:
    """Every ``register =>`` line's registration, sending through the transaction layer.

    :param transports: the adapters' flows; :param layer: set before the first timer fires.
    """

    def __init__(self, tokens: TokenSource, now: Callable[[], float]) -> None:
        self._tokens = tokens
        self._now = now
        self.transports: Transports | None = None
        self.layer: TransactionLayer | None = None
        self._lines: list[tuple[Registration, OutboundRegistration]] = []
        self._leaving: list[OutboundRegistration] = []

    def __iter__(self) -> Iterator[tuple[Registration, OutboundRegistration]]:
        return iter(self._lines)

    def configure(
        self,
        lines: tuple[Registration, ...],
        peers: Mapping[str, PeerConfig],
        general: SipSettings,
        now: float,
        realms: Mapping[str, DigestLogin] | None = None,
    ) -> None:
        """Start, keep or replace registrations to match ``lines`` (start-up and reload)."""
        kept: dict[RegistrationSpec, list[tuple[Registration, OutboundRegistration]]] = {}
        for line, reg in self._lines:
            kept.setdefault(reg.spec, []).append((line, reg))
        result = []
        for line in lines:
            spec = registration_spec(line, peers, general, realms)
            same = kept.get(spec)
            if same:
                result.append((line, same.pop(0)[1]))
            else:
                result.append((line, OutboundRegistration(spec, self._tokens, now)))
        # A replaced line whose successor registers the same Contact to the same registrar
        # must not un-REGISTER it: the Expires: 0 would arrive after the new REGISTER.
        successors = {_binding(reg.spec) for _, reg in result}
        for gone in kept.values():
            for _, reg in gone:
                self._stop(reg, now, _binding(reg.spec) not in successors)
        self._lines = result
        self.send_due(now)

    def stop(self, now: float) -> bool:
        """Stop every registration; True when some send a last ``Expires: 0`` REGISTER."""
        for _, reg in self._lines:
            self._stop(reg, now)
        self._lines = []
        self.send_due(now)
        return bool(self._leaving)

    def _stop(self, reg: OutboundRegistration, now: float, unregister: bool = True) -> None:
        if reg.stop(now, unregister):
            self._leaving.append(reg)

    @property
    def leaving(self) -> bool:
        """Whether some ``Expires: 0`` REGISTER still waits for its answer."""
        self._leaving = [reg for reg in self._leaving if not reg.finished]
        return bool(self._leaving)

    # -- Timed -------------------------------------------------------------------------------
    def _all(self) -> list[OutboundRegistration]:
        return [reg for _, reg in self._lines] + self._leaving

    def timer_at(self) -> float | None:
        times = [t for t in (reg.timer_at() for reg in self._all()) if t is not None]
        return min(times) if times else None

    def handle_timer(self, now: float) -> None:
        for reg in self._all():
            reg.handle_timer(now)
        self.send_due(now)

    def send_due(self, now: float) -> None:
        """Send the REGISTER of every registration that is due."""
        for reg in self._all():
            if reg.due(now):
                self._send(reg, now)

    def _send(self, reg: OutboundRegistration, now: float) -> None:
        layer, transports = self.layer, self.transports
        if layer is None or transports is None:
            return
        spec = reg.spec
        previous = reg.flow if reg.flow is not None and reg.flow.kind is spec.transport else None
        flow = transports.flow_to(spec.transport, previous, spec.target)
        if flow is None:
            log.warning("Cannot reach %s over %s to register", spec.target, spec.transport.value)
            reg.no_route(now)
            return
        request = reg.build(flow, transports.advertised(flow), now)
        if request is None:
            return
        cseq = reg.cseq
        tx = layer.send_request(request, flow, now)

        def answered(response: Response) -> None:
            if response.status >= 200:
                at = self._now()
                reg.response_received(response, at)
                self.send_due(at)

        def timed_out() -> None:
            at = self._now()
            reg.timed_out(cseq, at)
            self.send_due(at)

        tx.on_response = answered
        tx.on_timeout = timed_out
        tx.on_transport_error = lambda: reg.unreachable(cseq, self._now())
