"""The SIP channel technology: INVITEs in (chan_sip's matching and checks), calls out.

Inbound, in chan_sip's order (ASTERISK-REFERENCE §1.2, §1.6): a non-SIP Request-URI -> 416;
the device is the ``user``/``friend`` named by the From user, else the ``peer``/``friend`` whose
address is the packet source, else a guest (``allowguest=yes``, ``[general] context``) — or 403,
or with ``alwaysauthreject`` the same 401-then-403 an unknown user gets on REGISTER; the source
ACL (403); digest authentication with 401 unless the device has no secret or ``insecure=invite``;
``call-limit`` (480 "Temporarily Unavailable (Call limit)"); the extension must exist in the
device's context (404, or 484 with ``allowoverlap`` when more digits could match); the SDP offer
must be acceptable (488 with a Warning naming the mismatch). Then a channel runs the dialplan.

Outbound (``Dial(SIP/…)``): ``SIP/peer`` rings every live binding of the peer (browser tabs and
desk phones alike) or its ``host``/``defaultip``; ``SIP/peer/exten`` and ``SIP/exten@peer`` put
``exten`` in the Request-URI; ``SIP/user@host[:port]`` calls an address directly. An
unreachable peer is cause 20 (CHANUNAVAIL), a peer at its call-limit cause 17 (BUSY).

In-dialog requests, ACKs, CANCELs and stray 2xx retransmissions are routed to their leg here;
a REFER outside any dialog gets chan_sip's ``603 Declined (No dialog)``.
"""

from __future__ import annotations

import logging
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from pbx.call.channel import Channel, Dialer, SoundLibrary
from pbx.call.credentials import outbound_login
from pbx.call.dial_targets import DialTarget, resolve_dial_string
from pbx.call.inbound_leg import InboundLeg
from pbx.call.media_plan import media_policy
from pbx.call.outbound_leg import OutboundLeg
from pbx.call.peers import PeerRegistry, behind_nat
from pbx.call.sip_leg import ALLOW, LegContext, SipLeg
from pbx.config.sip_conf import PeerConfig
from pbx.core import causes
from pbx.core.addr import Address, TransportKind, bracket
from pbx.core.clock import Cancellable
from pbx.core.errors import MediaError
from pbx.sdp.model import SessionDescription
from pbx.sdp.negotiator import SdpSession, check_offer
from pbx.sip.auth import AuthResult, Credentials, DigestAuthenticator
from pbx.sip.dialog import DialogId
from pbx.sip.flow import Flow
from pbx.sip.headers import Auth
from pbx.sip.message import Request, Response, SipParseError, make_response, parse_message
from pbx.sip.registrar import nat_detected
from pbx.sip.transaction.base import ServerTransaction
from pbx.sip.ua import build_request, contact_uri, new_branch
from pbx.sip.uri import SipUri

if TYPE_CHECKING:
    from pbx.call.media import MediaFactory


class ExtensionLookup(Protocol):
    """The two dialplan questions an INVITE needs answered before the dialplan runs."""

    def exists(
        self, context: str, exten: str, priority: int = 1, callerid: str | None = None
    ) -> bool: ...

    def match_more(
        self, context: str, exten: str, callerid: str | None = None, priority: int = 1
    ) -> bool: ...


log = logging.getLogger(__name__)


@dataclass
class CallHooks:
    """What the technology tells the rest of the PBX."""

    start_dialplan: Callable[[Channel, str, str], None]
    """Run a new inbound channel from ``exten@context``."""
    dialplan: Callable[[], ExtensionLookup]
    """The current dialplan (extension checks before the dialplan runs)."""
    channel_created: Callable[[Channel], None] = lambda c: None
    call_refused: Callable[[Channel], None] = lambda c: None
    """A call refused before the dialplan (488): it still gets a CDR."""


@dataclass
class Registry:
    """Live legs only, each findable in O(1); an ended call leaves no more than its ACKs."""

    live: set[SipLeg] = field(default_factory=set)
    by_dialog: dict[DialogId, SipLeg] = field(default_factory=dict)
    by_invite: dict[int, InboundLeg] = field(default_factory=dict)
    outbound: dict[str, list[OutboundLeg]] = field(default_factory=dict)
    """Live outbound legs by Call-ID: their dialogs appear with the first tagged response."""
    per_peer: Counter[str] = field(default_factory=Counter)
    acks: dict[tuple[str, str], tuple[bytes, Flow, float]] = field(default_factory=dict)
    """(Call-ID, remote tag) -> our ACK to a 2xx, its flow and when it may go: kept at least
    64*T1 after the leg ended so a retransmitted 2xx is still ACKed (§13.2.2.4) without
    keeping the whole call alive. Only bytes: at 300 calls/s about 10,000 of these wait, and a
    parsed request is a dozen objects for every collection to walk."""
    ack_expiry: deque[tuple[float, tuple[str, str]]] = field(default_factory=deque)
    """The keys of :attr:`acks` in the order they expire."""


#: How long an ended outbound leg's ACK stays at least (RFC 6026 Timer M, 64*T1).
ACK_LINGER = 32.0
#: Kept ACKs are dropped in batches at most this often (one timer, not one per call).
ACK_SWEEP = 1.0


class SipCalls:
    """Implements the endpoint's call hook and the ``SIP`` technology for ``Dial``."""

    def __init__(
        self,
        ctx: LegContext,
        peers: PeerRegistry,
        authenticator: DigestAuthenticator,
        media: MediaFactory,
        hooks: CallHooks,
        dialer: Dialer,
        sounds: SoundLibrary | None,
        transports_flow: Callable[[TransportKind, Flow | None, Address], Flow | None],
    ) -> None:
        self.ctx = ctx
        self.peers = peers
        self.auth = authenticator
        self.media = media
        self.hooks = hooks
        self.dialer = dialer
        self.sounds = sounds
        self.flow_to = transports_flow
        self.registry = Registry()
        self._ack_sweep: Cancellable | None = None
        ctx.forget = self._forget
        self.calls_processed = 0
        #: ``core stop gracefully``: new calls get 503 while the active ones finish.
        self.refusing = False

    # -- bookkeeping ---------------------------------------------------------------------------
    def _remember(self, leg: SipLeg) -> None:
        registry = self.registry
        registry.live.add(leg)
        registry.per_peer[leg.channel.peer_name] += 1
        if isinstance(leg, InboundLeg):
            registry.by_invite[id(leg.tx)] = leg
            if leg.dialog is not None:
                registry.by_dialog[leg.dialog.id] = leg
        elif isinstance(leg, OutboundLeg):
            registry.outbound.setdefault(leg.request.call_id, []).append(leg)

    def _forget(self, leg: SipLeg) -> None:
        """The leg ended: drop every reference to it now (memory and GC stay flat under load)."""
        registry = self.registry
        if leg not in registry.live:
            return
        registry.live.discard(leg)
        peer = leg.channel.peer_name
        registry.per_peer[peer] -= 1
        if registry.per_peer[peer] <= 0:
            del registry.per_peer[peer]
        if leg.dialog is not None and registry.by_dialog.get(leg.dialog.id) is leg:
            del registry.by_dialog[leg.dialog.id]
        if isinstance(leg, InboundLeg):
            registry.by_invite.pop(id(leg.tx), None)
        elif isinstance(leg, OutboundLeg):
            same = registry.outbound.get(leg.request.call_id)
            if same is not None and leg in same:
                same.remove(leg)
                if not same:
                    del registry.outbound[leg.request.call_id]
        if leg.dialog is not None and leg.acks:
            until = self.ctx.scheduler.seconds() + ACK_LINGER
            for ack in leg.acks.values():
                key = (ack.call_id, ack.to.tag or "")
                registry.acks[key] = (bytes(ack), leg.dialog.flow, until)
                registry.ack_expiry.append((until, key))
            if self._ack_sweep is None:
                self._ack_sweep = self.ctx.scheduler.callLater(ACK_LINGER, self._sweep_acks)

    def _sweep_acks(self) -> None:
        """Drop the kept ACKs whose time is up; come back for the next ones."""
        self._ack_sweep = None
        registry = self.registry
        now = self.ctx.scheduler.seconds()
        expiry = registry.ack_expiry
        while expiry and expiry[0][0] <= now:
            _, key = expiry.popleft()
            kept = registry.acks.get(key)
            if kept is not None and kept[2] <= now:
                del registry.acks[key]
        if expiry:
            delay = max(expiry[0][0] - now, ACK_SWEEP)
            self._ack_sweep = self.ctx.scheduler.callLater(delay, self._sweep_acks)

    def active_calls(self, peer_name: str) -> int:
        return self.registry.per_peer.get(peer_name, 0)

    @property
    def live_legs(self) -> list[SipLeg]:
        return list(self.registry.live)

    # -- the endpoint's call hook ----------------------------------------------------------
    def handle(
        self, request: Request, flow: Flow, tx: ServerTransaction | None, now: float
    ) -> bool:
        method = request.method
        if method == "ACK":
            leg = self._leg_for(request)
            if leg is not None:
                leg.ack_received(request)
            return True
        if tx is None:
            return True
        if method == "CANCEL":
            self._cancel(request, tx, now)
            return True
        if request.to.tag:
            leg = self._leg_for(request)
            if leg is None:
                response = make_response(request, 481, "Call/Transaction Does Not Exist")
                response.headers.add("Server", self.ctx.useragent)
                tx.respond(response, now)
                return True
            leg.in_dialog_request(request, tx)
            return True
        if method == "INVITE":
            self._invite(request, flow, tx, now)
            return True
        if method == "BYE":
            response = make_response(request, 481, "Call/Transaction Does Not Exist")
            tx.respond(response, now)
            return True
        if method == "REFER":
            # chan_sip: a REFER outside a call has nothing to transfer.
            response = make_response(
                request, 603, "Declined (No dialog)", to_tag=self.ctx.tokens.hex(4)
            )
            response.headers.add("Server", self.ctx.useragent)
            tx.respond(response, now)
            return True
        return False

    def response_without_transaction(self, response: Response) -> None:
        """A 2xx retransmission after our INVITE transaction ended: ACK it again."""
        if response.cseq.method != "INVITE" or not 200 <= response.status < 300:
            return
        remote_tag = response.to.tag or ""
        # Our re-INVITE on an inbound leg, or our INVITE/re-INVITE on an outbound one.
        mine = self.leg_by_dialog((response.call_id, response.from_.tag or "", remote_tag))
        if mine is not None:
            mine.retransmitted_2xx(response)
            return
        kept = self.registry.acks.get((response.call_id, remote_tag))
        if kept is not None:
            ack, flow, _ = kept
            self.ctx.layer.send_stateless(parse_message(ack), flow)
            self.ctx.kick()

    def _leg_for(self, request: Request) -> SipLeg | None:
        """The live leg whose dialog this in-dialog request (or ACK) belongs to."""
        return self.leg_by_dialog((request.call_id, request.to.tag or "", request.from_.tag or ""))

    def leg_by_dialog(self, key: DialogId) -> SipLeg | None:
        """The live leg with dialog ``(Call-ID, local tag, remote tag)`` (also how an attended
        transfer finds the call its ``Replaces`` names)."""
        leg = self.registry.by_dialog.get(key)
        if leg is not None:
            return leg
        # An outbound leg's dialog comes from its first tagged response and may change (another
        # fork's 2xx, a challenge): look it up among the few legs of that Call-ID, never cache it.
        for candidate in self.registry.outbound.get(key[0], ()):
            if candidate.dialog is not None and candidate.dialog.id == key:
                return candidate
        return None

    def _cancel(self, cancel: Request, tx: ServerTransaction, now: float) -> None:
        invite_tx = self.ctx.layer.find_invite(cancel)
        leg = None if invite_tx is None else self.registry.by_invite.get(id(invite_tx))
        if leg is None:
            response = make_response(cancel, 481, "Call/Transaction Does Not Exist")
            response.headers.add("Server", self.ctx.useragent)
            tx.respond(response, now)
            return
        leg.cancelled(cancel, tx)

    # -- inbound INVITE ----------------------------------------------------------------------
    def _reject(
        self,
        request: Request,
        tx: ServerTransaction,
        status: int,
        reason: str | None = None,
        extra: list[tuple[str, str]] | None = None,
    ) -> None:
        response = make_response(request, status, reason, to_tag=self.ctx.tokens.hex(4))
        response.headers.add("Server", self.ctx.useragent)
        for name, value in extra or ():
            response.headers.add(name, value)
        tx.respond(response, self.ctx.scheduler.seconds())

    def _challenge(
        self, request: Request, tx: ServerTransaction, now: float, stale: bool = False
    ) -> None:
        self._reject(
            request, tx, 401, None, [("WWW-Authenticate", self.auth.challenge(now, stale))]
        )

    def _authenticate(
        self,
        request: Request,
        tx: ServerTransaction,
        name: str,
        credentials: Credentials | None,
        now: float,
    ) -> bool:
        """Digest for INVITE as chan_sip does it (401, never 407). True when authenticated."""
        value = request.headers.get("Authorization")
        try:
            auth = None if value is None else Auth.parse(value)
        except SipParseError:
            self._reject(request, tx, 400, "Malformed Authorization header")
            return False
        result = self.auth.verify(auth, "INVITE", name, credentials, now)
        if result is AuthResult.OK and credentials is not None:
            return True
        if result is AuthResult.MALFORMED:
            self._reject(request, tx, 400, "Malformed Authorization header")
        elif result is AuthResult.STALE:
            self._challenge(request, tx, now, stale=True)
        elif result in (AuthResult.MISSING, AuthResult.BAD_NONCE):
            self._challenge(request, tx, now)
        else:
            log.log(
                25,
                "Failed to authenticate device %s for INVITE from %s",
                request.headers.get("From"),
                tx.flow.remote,
            )
            self._reject(request, tx, 403)
        return False

    def _match_peer(self, request: Request, flow: Flow) -> PeerConfig | None:
        """chan_sip's ``check_peer_ok`` order: From user (user/friend), then source address."""
        from_uri = request.from_.uri
        if isinstance(from_uri, SipUri) and from_uri.user:
            peer = self.peers.get(from_uri.user)
            if peer is not None and peer.is_user:
                return peer
        return self.peers.match_source(flow.remote, flow.kind)

    def _invite(self, request: Request, flow: Flow, tx: ServerTransaction, now: float) -> None:
        uri = request.request_uri
        if not isinstance(uri, SipUri):
            self._reject(request, tx, 416, "Unsupported URI Scheme")
            return
        if self.refusing:
            self._reject(request, tx, 503, "Service Unavailable")
            return
        general = self.peers.general
        peer = self._match_peer(request, flow)
        guest = False
        if peer is None:
            if general.allowguest:
                peer = self.peers.guest
                guest = True
            elif general.alwaysauthreject:
                from_uri = request.from_.uri
                name = from_uri.user or "" if isinstance(from_uri, SipUri) else ""
                self._authenticate(request, tx, name or "anonymous", None, now)
                return
            else:
                self._reject(request, tx, 403)
                return
        if not guest and not peer.acl.allows(flow.remote.host):
            log.log(25, "Call from '%s' (%s) rejected by ACL", peer.name, flow.remote)
            self._reject(request, tx, 403)
            return
        if not guest and (peer.secret or peer.md5secret) and not peer.insecure.invite:
            credentials = Credentials(peer.secret, peer.md5secret)
            if not self._authenticate(request, tx, peer.name, credentials, now):
                return
        if peer.call_limit and self.active_calls(peer.name) >= peer.call_limit:
            log.log(
                25, "Call from '%s' rejected: call-limit %d reached", peer.name, peer.call_limit
            )
            self._reject(request, tx, 480, "Temporarily Unavailable (Call limit)")
            return
        context = general.context if guest else peer.context
        exten = _unescape(uri.user) if uri.user else "s"
        dialplan = self.hooks.dialplan()
        callerid_num = _caller_num(request, peer, guest)
        if not dialplan.exists(context, exten, 1, callerid_num):
            if general.allowoverlap and dialplan.match_more(context, exten, callerid_num):
                self._reject(request, tx, 484, "Address Incomplete")
            else:
                log.log(
                    25,
                    "Call from '%s' (%s) to extension '%s' rejected because extension "
                    "not found in context '%s'.",
                    peer.name,
                    flow.remote,
                    exten,
                    context,
                )
                self._reject(request, tx, 404, "Not Found")
            return
        policy = media_policy(peer)
        offer: SessionDescription | None = None
        if request.body:
            try:
                offer = SessionDescription.parse(request.body)
            except Exception as e:
                self._reject_sdp(request, tx, flow, f"unparseable SDP offer: {e}")
                self._refused(request, peer, guest, context, exten, f"unparseable SDP offer: {e}")
                return
        try:
            media = self.media.create_leg(
                peer.name,
                policy,
                _family(flow),
                timeouts=(peer.rtptimeout, peer.rtpholdtimeout),
                peer_host=flow.remote.host,
            )
        except MediaError as e:
            log.error("No media ports for a call from %s: %s", peer.name, e)
            self._reject(request, tx, 503, "Service Unavailable")
            return
        # Symmetric RTP: nat=comedia, or auto_comedia when the request shows NAT (§1.5).
        media.comedia = peer.nat.comedia or (peer.nat.auto_comedia and nat_detected(request, flow))
        local = media.local_media()
        if offer is not None:
            refused = check_offer(offer, policy, local)
            if refused is not None:
                media.close()
                self._reject_sdp(request, tx, flow, refused.reason)
                self._refused(request, peer, guest, context, exten, refused.reason)
                return
        channel = self._inbound_channel(request, peer, guest, context, exten, callerid_num)
        channel.variables.update(dict(peer.setvar))
        channel.set_state("Ring")
        sdp = SdpSession(policy, local, self.ctx.tokens)
        leg = InboundLeg(self.ctx, channel, media, sdp, request, tx, flow)
        leg.login = outbound_login(peer)
        leg.allowtransfer = peer.allowtransfer
        leg.accept_offer(offer)
        channel.driver = leg
        channel.media = media
        channel.dialer = self.dialer
        channel.sounds = self.sounds
        media.on_dtmf = channel.digit_received
        media.on_dead = lambda reason: _media_dead(channel, reason)
        channel.tech_pvt = leg
        self._remember(leg)
        self.calls_processed += 1
        self.hooks.channel_created(channel)
        log.info(
            "Accepting call from '%s' to '%s' in context '%s' as %s",
            peer.name,
            exten,
            context,
            channel.name,
            extra={"channel": channel.name},
        )
        self.hooks.start_dialplan(channel, context, exten)

    def _inbound_channel(
        self,
        request: Request,
        peer: PeerConfig,
        guest: bool,
        context: str,
        exten: str,
        callerid_num: str,
    ) -> Channel:
        """The channel of a call from ``peer`` (its caller ID and account code)."""
        channel = Channel(
            "SIP",
            peer.name,
            self.ctx.scheduler,
            context=context,
            exten=exten,
            caller_id_name=_caller_name(request, peer, guest),
            caller_id_num=callerid_num,
        )
        channel.account_code = peer.accountcode
        return channel

    def _refused(
        self, request: Request, peer: PeerConfig, guest: bool, context: str, exten: str, reason: str
    ) -> None:
        """An offer refused with 488 still leaves a CDR (FAILED, the reason in userfield), so
        the admin finds why the call never rang (pbx goes beyond chan_sip here)."""
        channel = self._inbound_channel(
            request, peer, guest, context, exten, _caller_num(request, peer, guest)
        )
        channel.userfield = reason
        channel.ended(causes.BEARERCAPABILITY_NOTAVAIL)
        self.hooks.call_refused(channel)

    def _reject_sdp(self, request: Request, tx: ServerTransaction, flow: Flow, reason: str) -> None:
        host = self.ctx.advertised(flow).host
        log.log(25, "Rejecting call %s: %s", request.call_id, reason)
        self._reject(
            request, tx, 488, "Not Acceptable Here", [("Warning", f'399 {host} "{reason}"')]
        )

    # -- outbound ------------------------------------------------------------------------------
    def resolve(self, resource: str, now: float) -> tuple[list[DialTarget], int]:
        """Dial string (after ``SIP/``) -> the legs to ring, or ([], cause) when impossible."""
        return resolve_dial_string(resource, self.peers, now, self.active_calls)

    def originate(
        self, caller: Channel, target: DialTarget, codecs: list[str] | None
    ) -> tuple[Channel, OutboundLeg] | int:
        """Create the outbound channel and its leg (not started); an int is a failure cause."""
        peer = target.peer or self.peers.guest
        flow = self.flow_to(target.reach.kind, target.reach.flow, target.reach.address)
        if flow is None:
            return causes.SUBSCRIBER_ABSENT
        policy = media_policy(peer, codecs)
        if not policy.codecs:
            log.warning("No codec in common to call %s from %s", peer.name, caller.name)
            return causes.BEARERCAPABILITY_NOTAVAIL
        try:
            media = self.media.create_leg(
                peer.name,
                policy,
                _family(flow),
                timeouts=(peer.rtptimeout, peer.rtpholdtimeout),
                peer_host=flow.remote.host,
            )
        except MediaError as e:
            log.error("No media ports to call %s: %s", peer.name, e)
            return causes.CONGESTION
        # Symmetric RTP: nat=comedia, or auto_comedia when the peer registered from behind a
        # NAT (its Contact names another host than the packets came from).
        media.comedia = peer.nat.comedia or (
            peer.nat.auto_comedia
            and target.reach.binding is not None
            and behind_nat(target.reach.binding)
        )
        channel = Channel(
            "SIP",
            target.display,
            self.ctx.scheduler,
            context=peer.context,
            exten=caller.exten,
            caller_id_name=caller.caller_id_name,
            caller_id_num=caller.caller_id_num,
            outbound=True,
        )
        channel.linkedid = caller.linkedid
        channel.peer_name = peer.name
        for key, value in caller.variables.items():
            if key.startswith("__"):
                channel.variables[key] = value
            elif key.startswith("_"):
                channel.variables[key[1:]] = value
        sdp = SdpSession(policy, media.local_media(), self.ctx.tokens)
        offer = sdp.create_offer()
        local = self.ctx.advertised(flow)
        from_user = peer.fromuser or caller.caller_id_num or "pbx"
        from_host = peer.fromdomain or bracket(local.host)
        display = caller.caller_id_name.replace('"', "")
        from_ = (
            f'"{display}" <sip:{from_user}@{from_host}>'
            if display
            else f"<sip:{from_user}@{from_host}>"
        )
        request = build_request(
            "INVITE",
            target.request_uri,
            flow,
            local=local,
            from_=from_,
            from_tag=self.ctx.tokens.hex(4),
            to=f"<{target.request_uri}>",
            call_id=self.ctx.tokens.hex(16),
            cseq=102,
            branch=new_branch(self.ctx.tokens),
            contact=f"<{contact_uri(flow, local, from_user)}>",
            user_agent=self.ctx.useragent,
            extra=[
                ("Allow", ALLOW),
                ("Content-Type", "application/sdp"),
            ],
            body=offer.to_bytes(),
        )
        leg = OutboundLeg(self.ctx, channel, media, sdp, request, flow, outbound_login(peer))
        leg.allowtransfer = peer.allowtransfer
        channel.driver = leg
        channel.media = media
        channel.sounds = self.sounds
        media.on_dtmf = channel.digit_received
        media.on_dead = lambda reason: _media_dead(channel, reason)
        channel.tech_pvt = leg
        self._remember(leg)
        self.hooks.channel_created(channel)
        return channel, leg


def _media_dead(channel: Channel, reason: str) -> None:
    log.log(25, "Hanging up %s: %s", channel.name, reason, extra={"channel": channel.name})
    channel.hangup(causes.NETWORK_OUT_OF_ORDER)


def _family(flow: Flow) -> str:
    return "IPv6" if ":" in flow.local.host else "IPv4"


def _unescape(user: str) -> str:
    from urllib.parse import unquote

    return unquote(user)


def _caller_num(request: Request, peer: PeerConfig, guest: bool) -> str:
    if not guest and peer.callerid_num:
        return peer.callerid_num
    uri = request.from_.uri
    return _unescape(uri.user) if isinstance(uri, SipUri) and uri.user else ""


def _caller_name(request: Request, peer: PeerConfig, guest: bool) -> str:
    if not guest and peer.callerid_name:
        return peer.callerid_name
    return request.from_.display_name or ""
