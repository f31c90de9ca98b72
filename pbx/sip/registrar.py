"""REGISTER processing, chan_sip style (RFC 3261 §10.3, RFC 5626, ASTERISK-REFERENCE §1.2).

Given a REGISTER, the flow it came on and ``now``, :meth:`Registrar.handle` returns the response
to send and what changed in the location service. The peer is the user part of the ``To`` URI
(the host when the URI has no user). Rules, in chan_sip's order:

* unknown name, a peer that is not ``host=dynamic``, a source the peer's ACL denies, or a digest
  username that is not the device name: with ``alwaysauthreject=yes`` (default) these look
  exactly like a known user with a wrong password (401 with a fresh nonce, then 403), else 404
  (unknown name, username mismatch) / 403;
* digest: 401 challenge, 403 for a wrong password over a current nonce, 401 ``stale=true`` for a
  right password over an old nonce; no challenge at all when the peer has no secret;
* only then, a transport the peer's ``transport=`` does not list (``ws`` and ``wss`` alike) ->
  403 (checked after authentication, as chan_sip does, so it tells a prober nothing);
* ``Contact: *`` needs ``Expires: 0`` and no other Contact, else 400;
* expiry: ``Expires`` header, else the contact's ``expires`` parameter, else ``defaultexpiry``;
  clamped to ``[minexpiry, maxexpiry]`` (chan_sip never answers 423 to REGISTER); 0 removes;
* ``contactpermit``/``contactdeny`` against the address the contact will be reached at -> 603;
* at most ``max_contacts`` contacts of one REGISTER are bound (chan_sip: the first one); the
  request is checked whole before anything changes;
* no Contact at all: a query, answered with the current bindings.

Where to reach a contact later is decided here too. While the connection a contact registered
on is open, requests go over it. The address kept for later is: the packet source when the
Contact is a WebSocket one (a browser cannot be connected to; never resolved, RFC 7118 §5),
``nat=force_rport`` is on (or ``auto_force_rport`` and NAT is detected), or the Via asked for
``rport``; otherwise the Contact's host and port. Over TCP/TLS the source port is an ephemeral
one nothing listens on, so the address to connect to once the connection has closed is the
source host at the Contact's port (5060, 5061 for TLS/sips): the Contact's host is that very
host for a phone on the LAN, an unreachable private one behind NAT, or a name pbx would have to
resolve.
"""

from __future__ import annotations

import email.utils
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from pbx.core.addr import Address, TransportKind, is_ip_literal
from pbx.sip.auth import AuthResult, Credentials, DigestAuthenticator
from pbx.sip.flow import Flow
from pbx.sip.grammar import unescape
from pbx.sip.headers import Auth
from pbx.sip.location import Binding, Location
from pbx.sip.message import NameAddr, Request, Response, SipParseError, make_response
from pbx.sip.transport import same_host
from pbx.sip.uri import SipUri

log = logging.getLogger(__name__)


class SourceAcl(Protocol):
    def allows(self, ip: str) -> bool: ...


class NatPolicy(Protocol):
    @property
    def force_rport(self) -> bool: ...

    @property
    def auto_force_rport(self) -> bool: ...


class RegistrarPeer(Protocol):
    """What the registrar needs of a configured device (``PeerConfig`` satisfies it)."""

    @property
    def name(self) -> str: ...

    @property
    def dynamic(self) -> bool: ...

    @property
    def secret(self) -> str: ...

    @property
    def md5secret(self) -> str: ...

    @property
    def transports(self) -> tuple[TransportKind, ...]: ...

    @property
    def acl(self) -> SourceAcl: ...

    @property
    def contactacl(self) -> SourceAcl: ...

    @property
    def nat(self) -> NatPolicy: ...

    @property
    def max_contacts(self) -> int: ...


@dataclass(frozen=True, slots=True)
class RegistrarSettings:
    """The ``[general]`` options that shape REGISTER handling."""

    minexpiry: int = 60
    maxexpiry: int = 3600
    defaultexpiry: int = 120
    alwaysauthreject: bool = True
    server: str = ""


@dataclass(slots=True)
class RegisterOutcome:
    """The response plus what changed, for persistence, logs and peer status events."""

    response: Response
    peer: str | None = None
    saved: list[Binding] = field(default_factory=list)
    removed: list[Binding] = field(default_factory=list)
    #: Why it failed, in chan_sip's words, for the NOTICE log line (``Wrong password`` ...).
    failure: str | None = None


def _transport_allowed(kind: TransportKind, allowed: tuple[TransportKind, ...]) -> bool:
    if kind.websocket:  # RFC 7118 flows: ws and wss are one family for routing and policy
        return any(t.websocket for t in allowed)
    return kind in allowed


def nat_detected(request: Request, flow: Flow) -> bool:
    """chan_sip's NAT test: the top Via's sent-by differs from the packet source."""
    via = request.top_via
    port = via.port or (5061 if via.transport == "TLS" else 5060)
    return not same_host(via.host, flow.remote.host) or port != flow.remote.port


class Registrar:
    """REGISTER rules over a :class:`Location` and a :class:`DigestAuthenticator`.

    :param peers: looks a device up by name (``None`` when unknown).
    :param new_tag: makes a To tag for responses.
    """

    def __init__(
        self,
        location: Location,
        authenticator: DigestAuthenticator,
        peers: Callable[[str], RegistrarPeer | None],
        settings: RegistrarSettings,
        new_tag: Callable[[], str],
    ) -> None:
        self.location = location
        self.auth = authenticator
        self.peers = peers
        self.settings = settings
        self._new_tag = new_tag
        # The Date header of the current second: every 200 carries one, and formatting it
        # costs as much as a header parse.
        self._date_second = -1
        self._date = ""

    def handle(self, request: Request, flow: Flow, now: float) -> RegisterOutcome:
        try:
            return self._handle(request, flow, now)
        except SipParseError as e:
            return RegisterOutcome(self._reply(request, 400, e.message))

    def _reply(self, request: Request, status: int, reason: str | None = None) -> Response:
        response = make_response(request, status, reason, to_tag=self._new_tag())
        if self.settings.server:
            response.headers.add("Server", self.settings.server)
        return response

    def _challenge(self, request: Request, now: float, stale: bool = False) -> Response:
        response = self._reply(request, 401)
        response.headers.add("WWW-Authenticate", self.auth.challenge(now, stale))
        return response

    def _handle(self, request: Request, flow: Flow, now: float) -> RegisterOutcome:
        to_uri = request.to.uri
        if not isinstance(to_uri, SipUri):
            return RegisterOutcome(self._reply(request, 404, "Not found"))
        # chan_sip decodes %-escapes of the name (ast_uri_decode), as the digest username is.
        name = unescape(to_uri.user) if to_uri.user else to_uri.host
        peer = self.peers(name)
        failure: str | None = None
        if peer is None:
            failure = "No matching peer found"
        elif not peer.dynamic:
            failure = "Peer is not supposed to register"
        elif not peer.acl.allows(flow.remote.host):
            failure = "Device does not match ACL"

        credentials = None
        if peer is not None and failure is None:
            if not peer.secret and not peer.md5secret:
                return self._authorized(request, flow, peer, now)
            credentials = Credentials(peer.secret, peer.md5secret)
        elif not self.settings.alwaysauthreject:
            return self._not_found(request, name, peer, failure)

        auth_value = request.headers.get("Authorization")
        try:
            auth = None if auth_value is None else Auth.parse(auth_value)
        except SipParseError:
            return RegisterOutcome(self._reply(request, 400, "Malformed Authorization header"))
        result = self.auth.verify(auth, "REGISTER", name, credentials, now)
        if result is AuthResult.OK and credentials is not None and peer is not None:
            return self._authorized(request, flow, peer, now)
        if result is AuthResult.MALFORMED:
            return RegisterOutcome(self._reply(request, 400, "Malformed Authorization header"))
        if result is AuthResult.STALE:
            return RegisterOutcome(self._challenge(request, now, stale=True), name)
        if result in (AuthResult.MISSING, AuthResult.BAD_NONCE):
            return RegisterOutcome(self._challenge(request, now), name)
        if (
            auth is not None
            and auth.params.get("username") != name
            and not self.settings.alwaysauthreject
        ):
            # chan_sip: a digest username that is not the device name is an unknown user.
            return self._not_found(request, name, None, "Username/auth name mismatch")
        return RegisterOutcome(self._reply(request, 403), name, failure=failure or "Wrong password")

    def _not_found(
        self, request: Request, name: str, peer: RegistrarPeer | None, failure: str | None
    ) -> RegisterOutcome:
        """``alwaysauthreject=no``: 404 for an unknown name, 403 for a peer that may not
        register from here."""
        if peer is None:
            response = self._reply(request, 404, "Not found")
        else:
            response = self._reply(request, 403)
        return RegisterOutcome(response, name, failure=failure)

    def _authorized(
        self, request: Request, flow: Flow, peer: RegistrarPeer, now: float
    ) -> RegisterOutcome:
        # Checked only once the device proved who it is, as chan_sip does: refusing earlier
        # would tell a prober which names exist (alwaysauthreject).
        if not _transport_allowed(flow.kind, peer.transports):
            return RegisterOutcome(self._reply(request, 403), peer.name, failure="Bad transport")
        return self._bind(request, flow, peer, now)

    def _expiry(self, request: Request, contact: NameAddr | None) -> int:
        header = request.expires
        if header is not None:
            value = header
        elif contact is not None and contact.params.get("expires"):
            raw = contact.params["expires"] or ""
            if not raw.isdigit():
                raise SipParseError("Malformed expires parameter", 400, None)
            value = int(raw)
        else:
            value = self.settings.defaultexpiry
        if value == 0:
            return 0
        return max(self.settings.minexpiry, min(self.settings.maxexpiry, value))

    def _target(self, request: Request, flow: Flow, peer: RegistrarPeer, uri: SipUri) -> Address:
        """Where requests to this contact will go (see the module docstring)."""
        default = 5061 if uri.scheme == "sips" or uri.transport == "tls" else 5060
        if flow.connection_oriented and not flow.kind.websocket:
            # The phone listens for the transport it registered over, whatever its Contact says.
            listening = 5061 if flow.kind is TransportKind.TLS else default
            return Address(flow.remote.host, uri.port or listening)
        if (
            flow.connection_oriented
            or (uri.transport or "") in ("ws", "wss")
            or peer.nat.force_rport
            or request.top_via.rport_requested
            or (peer.nat.auto_force_rport and nat_detected(request, flow))
        ):
            return flow.remote
        if not is_ip_literal(uri.host):
            # pbx resolves no names for contacts: reaching the source is what a NATed or
            # name-advertising phone needs anyway, and it keeps REGISTER free of DNS.
            return flow.remote
        return Address(uri.host, uri.port or default)

    def _bind(
        self, request: Request, flow: Flow, peer: RegistrarPeer, now: float
    ) -> RegisterOutcome:
        contacts = request.contacts
        if contacts == "*":
            if request.expires != 0 or len(request.headers.get_all("Contact")) != 1:
                return RegisterOutcome(self._reply(request, 400, "Bad wildcard Contact"))
            outcome = RegisterOutcome(self._reply(request, 200), peer.name)
            outcome.removed = self.location.remove_all(peer.name)
            self._finish(outcome.response, peer.name, now, expires=0)
            return outcome
        if not contacts:
            # A query (RFC 3261 §10.2.3): report the bindings, change nothing.
            outcome = RegisterOutcome(self._reply(request, 200), peer.name)
            bindings = self.location.lookup(peer.name, now)
            expires = bindings[0].expires_in(now) if bindings else 0
            self._finish(outcome.response, peer.name, now, expires)
            return outcome
        # Check every contact before changing anything: a REGISTER is applied whole or not
        # at all (RFC 3261 §10.3 step 6 rejects the request, not a part of it).
        changes: list[tuple[Binding, int]] = []
        for contact in contacts:
            uri = contact.uri
            if not isinstance(uri, SipUri):
                return RegisterOutcome(self._reply(request, 400, "Unsupported Contact URI"))
            expires = self._expiry(request, contact)
            binding = self._make_binding(request, flow, peer, contact, uri, expires, now)
            # chan_sip applies contactacl to the address it will send to (peer->addr), so a
            # WebSocket contact with a made-up host is checked by its connection's address.
            if expires and not peer.contactacl.allows(binding.target.host):
                return RegisterOutcome(
                    self._reply(request, 603, "Denied"),
                    peer.name,
                    failure="Contact address denied by contactacl",
                )
            changes.append((binding, expires))
        outcome = RegisterOutcome(self._reply(request, 200), peer.name)
        this_expiry = 0
        for binding, expires in changes:
            if expires == 0:
                gone = self.location.remove(peer.name, binding.key)
                if gone is not None:
                    outcome.removed.append(gone)
                continue
            if len(outcome.saved) >= max(1, peer.max_contacts):
                # chan_sip binds the first Contact; more than the peer may hold are ignored
                # rather than evicting the ones this very request just bound.
                continue
            outcome.removed.extend(self.location.save(binding, peer.max_contacts))
            outcome.saved.append(binding)
            this_expiry = this_expiry or expires
        self._finish(outcome.response, peer.name, now, expires=this_expiry)
        return outcome

    def _make_binding(
        self,
        request: Request,
        flow: Flow,
        peer: RegistrarPeer,
        contact: NameAddr,
        uri: SipUri,
        expires: int,
        now: float,
    ) -> Binding:
        instance = contact.params.get("+sip.instance")
        reg_id_text = contact.params.get("reg-id")
        reg_id = int(reg_id_text) if reg_id_text and reg_id_text.isdigit() else None
        return Binding(
            aor=peer.name,
            contact=str(uri),
            expires_at=now + expires,
            registered_at=now,
            source=flow.remote,
            transport=flow.kind,
            target=self._target(request, flow, peer, uri),
            flow=flow,
            call_id=request.call_id,
            cseq=request.cseq.seq,
            # Interned: thousands of bindings share a handful of phone models' strings.
            user_agent=sys.intern(request.headers.get("User-Agent") or ""),
            instance=instance.strip('"') if instance else None,
            reg_id=reg_id,
        )

    def _finish(self, response: Response, aor: str, now: float, expires: int) -> None:
        """RFC 3261 §10.3 step 8: list every current binding; chan_sip adds Expires and Date."""
        response.headers.add("Expires", str(expires))
        for binding in self.location.lookup(aor, now):
            response.headers.add(
                "Contact", f"<{binding.contact}>;expires={binding.expires_in(now)}"
            )
        response.headers.add("Date", self._http_date(now))

    def _http_date(self, now: float) -> str:
        """``now`` as an RFC 1123 date (RFC 3261 §20.17), rendered once per second."""
        second = int(now)
        if second != self._date_second:
            self._date = email.utils.formatdate(second, usegmt=True)
            self._date_second = second
        return self._date
