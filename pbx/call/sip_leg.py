"""The SIP side of one channel: an INVITE usage (RFC 3261 §13-§15) as a :class:`ChannelDriver`.

This module holds what both directions share (:class:`SipLeg`: the dialog, in-dialog requests,
BYE, re-INVITE handling, 2xx retransmission and ACK); :mod:`pbx.call.inbound_leg` and
:mod:`pbx.call.outbound_leg` hold one direction each.

:class:`~pbx.call.inbound_leg.InboundLeg` is the UAS of a call that arrived (the A leg); it
handles CANCEL (§9.2), BYE, re-INVITE (hold/unhold; 491 while one of ours is pending) and DTMF
by INFO. :class:`~pbx.call.outbound_leg.OutboundLeg` is the UAC of a call pbx places (a B leg
of ``Dial``); it CANCELs only once a provisional response arrived (§9.1). Both negotiate SDP through
:class:`pbx.sdp.negotiator.SdpSession` against their own :class:`~pbx.call.media.MediaLeg`, so
media is anchored: each leg talks to pbx, the bridge joins them.

REFER (call transfer) is answered as :mod:`pbx.call.transfer` decides; the leg sends the
NOTIFYs and leaves afterwards.

Responses that refuse an offer carry chan_sip's ``488 Not Acceptable Here`` plus a
``Warning: 399 <host> "<reason>"`` header naming the exact mismatch (RFC 3261 §20.43).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pbx.call.transfer import AttendedTransfer, BlindTransfer, decide_refer
from pbx.core import causes
from pbx.core.addr import Address
from pbx.core.clock import Cancellable, Scheduler
from pbx.core.errors import LocalProtocolError
from pbx.core.tokens import TokenSource
from pbx.sdp.model import SessionDescription
from pbx.sdp.negotiator import NegotiatedMedia, NotAcceptable, SdpSession
from pbx.sip.auth import DigestLogin, authorization_for
from pbx.sip.dialog import Dialog
from pbx.sip.flow import Flow
from pbx.sip.message import Request, Response, SipParseError, make_response
from pbx.sip.refer import notify_headers, sipfrag
from pbx.sip.transaction.base import ClientTransaction, ServerTransaction
from pbx.sip.transaction.layer import TransactionLayer
from pbx.sip.ua import new_branch

if TYPE_CHECKING:
    from pbx.call.channel import Channel
    from pbx.call.media import MediaLeg

log = logging.getLogger(__name__)

T1 = 0.5
T2 = 4.0
ALLOW = "INVITE, ACK, CANCEL, OPTIONS, BYE, REGISTER, INFO, REFER"
SDP = "application/sdp"


@dataclass
class LegContext:
    """What every leg of the process shares."""

    layer: TransactionLayer
    scheduler: Scheduler
    tokens: TokenSource
    useragent: str
    advertised: Callable[[Flow], Address]
    kick: Callable[[], None]
    """Flush the transaction layer's outputs and re-arm its timer (after any send)."""
    forget: Callable[[SipLeg], None]
    """Drop the leg from the call registry once it is over."""
    realm_logins: dict[str, DigestLogin] = field(default_factory=dict)
    """sip.conf ``[authentication]`` credentials by realm (updated in place on reload)."""


@dataclass
class _Unacked:
    """A 2xx being retransmitted until its ACK (§13.3.1.4)."""

    tx: ServerTransaction
    response: Response
    interval: float
    give_up_at: float
    call: Cancellable | None = None


class SipLeg:
    """Shared machinery of inbound and outbound legs."""

    def __init__(self, ctx: LegContext, channel: Channel, media: MediaLeg, sdp: SdpSession) -> None:
        self.ctx = ctx
        self.channel = channel
        self.media = media
        self.sdp = sdp
        #: Who pbx is when the peer challenges a request of ours (RFC 3261 §22.2).
        self.login: DigestLogin | None = None
        self.dialog: Dialog | None = None
        self.terminated = False
        self.hold_remote = False
        self._reinvite: ClientTransaction | None = None
        self._bye_pending = False
        self._unacked: dict[int, _Unacked] = {}
        """Our 2xx responses to INVITEs still waiting for their ACK, by CSeq."""
        self.peer_hold_changed: Callable[[bool], None] | None = None
        self.last_message = ""
        self.remote_user_agent = ""
        self.acks: dict[int, Request] = {}
        """Our ACKs to 2xx responses by CSeq, resent when a 2xx is retransmitted."""
        self.allowtransfer = True
        """sip.conf ``allowtransfer`` of the device: False answers every REFER 603."""
        self.blind_transfer: BlindTransfer | None = None
        """Set while the channel is bridged (by ``Dial``): given the Refer-To extension, the
        action that moves the other party there, or None when the extension does not exist."""
        self.attended_transfer: AttendedTransfer | None = None
        """Set while the channel is bridged (by ``Dial``): given the dialog a REFER's
        ``Replaces`` names, what joins the two other parties, or the (status, reason) the REFER
        is refused with."""

    # -- helpers ---------------------------------------------------------------------------
    @property
    def now(self) -> float:
        return self.ctx.scheduler.seconds()

    def _configure(self, negotiated: NegotiatedMedia) -> None:
        try:
            self.media.configure(negotiated)
        except Exception:
            log.exception(
                "media setup failed on %s", self.channel.name, extra={"channel": self.channel.name}
            )

    def _send_in_dialog(
        self,
        method: str,
        body: bytes = b"",
        extra: list[tuple[str, str]] | None = None,
        sdp: bool = True,
    ) -> ClientTransaction | None:
        dialog = self.dialog
        if dialog is None:
            return None
        headers = list(extra or ())
        if body and sdp:
            headers.append(("Content-Type", SDP))
        self.last_message = f"Tx: {method}"
        return send_in_dialog(self.ctx, dialog, method, body, headers)

    def send_bye(self) -> None:
        """BYE the peer. While our re-INVITE is pending: right after its final response (and
        our ACK), so the peer sees ACK then BYE rather than a BYE racing its own 200. While
        our 2xx waits for its ACK: once it arrives or we give up (RFC 3261 §15)."""
        if self._reinvite is not None or self._unacked:
            self._bye_pending = True
            return
        self._send_bye_now()

    def _send_bye_now(self) -> None:
        tx = self._send_in_dialog("BYE")
        if tx is None:
            return
        dialog, login, realms = self.dialog, self.login, self.ctx.realm_logins
        if dialog is None or (login is None and not realms):
            tx.on_response = lambda r: None
            return
        # A closure over the dialog, not the leg: the transaction outlives the call (Timer K)
        # and must not keep the leg alive (see _forget).
        ctx, name, peer = self.ctx, self.channel.name, self.channel.peer_name

        def answered(response: Response) -> None:
            """§22.2: a peer that challenges our BYE (many trunks do) gets it once more with
            credentials, as chan_sip sends them; the call is over here either way."""
            if response.status not in (401, 407):
                return
            answer = authorization_for(
                response, "BYE", dialog.remote_target, login, ctx.tokens.hex(8), realms
            )
            if answer is None:
                cannot_authenticate(response, peer, name, login)
                return
            retry = send_in_dialog(ctx, dialog, "BYE", b"", [(answer[0], str(answer[1]))])
            retry.on_response = lambda r: None

        tx.on_response = answered

    def finish(self) -> None:
        """The leg is over: forget it (the channel records the cause itself) — once no 2xx of
        ours still waits for its ACK, which must find the leg to release our BYE."""
        if self.terminated:
            return
        self.terminated = True
        if not self._unacked:
            self._forget()

    def _forget(self) -> None:
        """Out of the call registry, and out of reach of whatever outlives the call: the
        transactions that linger 64*T1 for retransmissions (RFC 6026 Timers L and M) and the
        other leg. Then the whole call is freed by reference counting the moment it ends,
        instead of staying whole for 32 s and lengthening every garbage collection."""
        self.ctx.forget(self)
        self.peer_hold_changed = None
        self.blind_transfer = None
        self.attended_transfer = None
        self._detach()

    def _detach(self) -> None:
        """Drop the callbacks that transactions of this leg hold (see :meth:`_forget`)."""

    # -- in-dialog requests common to both sides (§12.2.2) ---------------------------------
    def in_dialog_request(self, request: Request, tx: ServerTransaction) -> None:
        dialog = self.dialog
        if dialog is None:
            tx.respond(self._reply(request, 481, "Call/Transaction Does Not Exist"), self.now)
            self.ctx.kick()
            return
        if not dialog.accept_remote_cseq(request):
            tx.respond(self._reply(request, 500, "Server Internal Error"), self.now)
            self.ctx.kick()
            return
        self.last_message = f"Rx: {request.method}"
        method = request.method
        if method == "BYE":
            tx.respond(self._reply(request, 200), self.now)
            self.ctx.kick()
            self._remote_hangup(causes.NORMAL_CLEARING)
        elif method == "INVITE":
            self._reinvite_received(request, tx)
        elif method == "INFO":
            self._info(request, tx)
        elif method == "REFER":
            self._refer(request, tx)
        elif method in ("OPTIONS", "UPDATE") and not request.body:
            tx.respond(self._reply(request, 200), self.now)
            self.ctx.kick()
        else:
            response = self._reply(request, 501)
            response.headers.add("Allow", ALLOW)
            tx.respond(response, self.now)
            self.ctx.kick()

    def _reply(self, request: Request, status: int, reason: str | None = None) -> Response:
        tag = self.dialog.local_tag if self.dialog is not None else None
        response = make_response(request, status, reason, to_tag=tag)
        response.headers.add("Server", self.ctx.useragent)
        return response

    def _refer(self, request: Request, tx: ServerTransaction) -> None:
        """A transfer request (RFC 3515); see the module docstring for the answers."""
        outcome = decide_refer(
            request,
            allowed=self.allowtransfer,
            bridged=self.channel.up and not self.terminated,
            blind=self.blind_transfer,
            attended=self.attended_transfer,
        )
        status, reason, action = outcome.status, outcome.reason, outcome.action
        replaced, target = outcome.replaced, outcome.target
        tx.respond(self._reply(request, status, reason), self.now)
        self.ctx.kick()
        name = self.channel.name
        if action is None:
            log.log(
                25, "REFER from %s refused: %d %s", name, status, reason, extra={"channel": name}
            )
            return
        if replaced is None:
            exten = target.exten if target is not None else ""
            log.info("Blind transfer by %s to '%s'", name, exten, extra={"channel": name})
        else:
            log.info(
                "Attended transfer by %s replacing %s", name, replaced.name, extra={"channel": name}
            )
        seq = request.cseq.seq
        self._notify_refer(seq, 100, final=False)
        action()
        final = self._notify_refer(seq, 200, final=True)
        leaving = [self.channel] if replaced is None else [self.channel, replaced]

        def leave() -> None:
            # The phone usually sends its BYEs after the final NOTIFY; if it has not, ours.
            # The NOTIFY's transaction lingers (Timer K): it must not keep the channels alive.
            final.on_response = final.on_timeout = None
            for channel in leaving:
                channel.hangup(causes.NORMAL_CLEARING)

        final.on_response = lambda r: leave() if r.status >= 200 else None
        final.on_timeout = leave

    def _notify_refer(self, refer_cseq: int, status: int, final: bool) -> ClientTransaction:
        """A NOTIFY reporting ``status`` as a sipfrag on the REFER's implicit subscription
        (only ever sent while the REFER's dialog exists)."""
        tx = self._send_in_dialog(
            "NOTIFY", sipfrag(status), extra=notify_headers(refer_cseq, final), sdp=False
        )
        assert tx is not None
        if not final:
            tx.on_response = lambda r: None
        return tx

    def _info(self, request: Request, tx: ServerTransaction) -> None:
        """SIP INFO DTMF (``dtmfmode=info``): application/dtmf-relay ``Signal=5``."""
        ctype = (request.content_type or "").lower()
        digit = None
        if ctype.startswith("application/dtmf-relay"):
            for line in request.body.decode("utf-8", "replace").splitlines():
                key, _, value = line.partition("=")
                if key.strip().lower() == "signal":
                    digit = value.strip()
        elif ctype.startswith("application/dtmf"):
            digit = request.body.decode("utf-8", "replace").strip()
        tx.respond(self._reply(request, 200), self.now)
        self.ctx.kick()
        if digit:
            # Some phones send events 10/11 for * and # (RFC 4733 numbering).
            digit = {"10": "*", "11": "#"}.get(digit, digit)[:1].upper()
            self.channel.digit_received(digit, via_info=True)

    def send_info_dtmf(self, digit: str, duration_ms: int = 100) -> None:
        """A digit as SIP INFO (``dtmfmode=info``), ``application/dtmf-relay`` as chan_sip."""
        body = f"Signal={digit}\r\nDuration={duration_ms}\r\n".encode()
        tx = self._send_in_dialog(
            "INFO", body, extra=[("Content-Type", "application/dtmf-relay")], sdp=False
        )
        if tx is not None:
            tx.on_response = lambda r: None

    def _reinvite_received(self, request: Request, tx: ServerTransaction) -> None:
        """A re-INVITE: hold/unhold or a new offer (RFC 3264 §8); 491 on glare (§14.2)."""
        if self._reinvite is not None:
            response = self._reply(request, 491, "Request Pending")
            tx.respond(response, self.now)
            self.ctx.kick()
            return
        assert self.dialog is not None
        self.dialog.update_target(request)
        if not request.body:
            # An offerless re-INVITE: we offer in the 200, the answer comes in the ACK.
            offer = self.sdp.create_offer()
            self._respond_2xx(request, tx, offer.to_bytes())
            self._awaiting_ack_answer = True
            return
        try:
            offer = SessionDescription.parse(request.body)
        except SipParseError:
            raise  # the SIP message itself is bad: the transport answers 400, not 488
        except Exception as e:
            self._reject_offer(request, tx, f"unparseable SDP: {e}")
            return
        self.sdp.receive_offer(offer)
        result = self.sdp.create_answer()
        if isinstance(result, NotAcceptable):
            self._reject_offer(request, tx, result.reason)
            return
        answer, negotiated = result
        self._respond_2xx(request, tx, answer.to_bytes())
        self._configure(negotiated)
        # NegotiatedMedia says what *we* may do: the peer holding us (sendonly/inactive offer)
        # means we may no longer send.
        held = not negotiated.send
        if held != self.hold_remote:
            self.hold_remote = held
            log.info(
                "%s %s",
                self.channel.name,
                "put the call on hold" if held else "took the call off hold",
                extra={"channel": self.channel.name},
            )
            if self.peer_hold_changed is not None:
                self.peer_hold_changed(held)

    def _reject_offer(self, request: Request, tx: ServerTransaction, reason: str) -> None:
        response = self._reply(request, 488, "Not Acceptable Here")
        host = self.ctx.advertised(tx.flow).host
        response.headers.add("Warning", f'399 {host} "{reason}"')
        tx.respond(response, self.now)
        self.ctx.kick()
        log.log(
            25,
            "Rejecting SDP from %s: %s",
            self.channel.name,
            reason,
            extra={"channel": self.channel.name},
        )

    def _respond_2xx(self, request: Request, tx: ServerTransaction, body: bytes) -> None:
        response = self._reply(request, 200)
        assert self.dialog is not None
        response.headers.add("Contact", self.dialog.local_contact)
        response.headers.add("Allow", ALLOW)
        response.headers.add("Content-Type", SDP)
        response.body = body
        self._send_2xx(tx, response)

    def _send_2xx(self, tx: ServerTransaction, response: Response) -> None:
        """Send a 2xx to an INVITE and keep sending it until its ACK (§13.3.1.4): every T1,
        doubling up to T2, over any transport ("independent of whatever transport protocols
        are used"), giving up after 64*T1 with a BYE."""
        tx.respond(response, self.now)
        self.ctx.kick()
        seq = response.cseq.seq
        self._unacked[seq] = _Unacked(tx, response, T1, self.now + 64 * T1)
        self._arm_2xx(seq)

    def _arm_2xx(self, seq: int) -> None:
        pending = self._unacked[seq]
        delay = min(pending.interval, max(0.0, pending.give_up_at - self.now))
        pending.call = self.ctx.scheduler.callLater(delay, self._resend_2xx, seq)

    def _resend_2xx(self, seq: int) -> None:
        pending = self._unacked.get(seq)
        if pending is None:
            return
        if self.terminated and not self._bye_pending:
            self._stop_2xx(seq)
            return
        if self.now >= pending.give_up_at:
            log.warning(
                "No ACK for 200 OK on %s; hanging up",
                self.channel.name,
                extra={"channel": self.channel.name},
            )
            self._stop_2xx(seq)
            self._bye_pending = False
            self._send_bye_now()
            self._remote_hangup(causes.NO_USER_RESPONSE)
            return
        try:
            pending.tx.respond(pending.response, self.now)
        except LocalProtocolError:  # the transaction ended meanwhile: stop as for an ACK
            self._stop_2xx(seq)
            return
        self.ctx.kick()
        pending.interval = min(pending.interval * 2, T2)
        self._arm_2xx(seq)

    def _stop_2xx(self, seq: int) -> None:
        pending = self._unacked.pop(seq, None)
        if pending is not None and pending.call is not None and pending.call.active():
            pending.call.cancel()
        if self.terminated and not self._unacked:
            self._forget()

    _awaiting_ack_answer = False

    def ack_received(self, request: Request) -> None:
        """An ACK in this dialog stops our 2xx; for a delayed offer it carries the answer."""
        self._stop_2xx(request.cseq.seq)
        if self._bye_pending and not self._unacked:
            # §15: the callee waited for this ACK before sending its BYE.
            self._bye_pending = False
            self._send_bye_now()
        if self._awaiting_ack_answer and request.body:
            self._awaiting_ack_answer = False
            try:
                answer = SessionDescription.parse(request.body)
            except Exception:
                log.warning("unparseable SDP answer in ACK on %s", self.channel.name)
                return
            result = self.sdp.receive_answer(answer)
            if isinstance(result, NotAcceptable):
                log.warning("SDP answer in ACK refused on %s: %s", self.channel.name, result.reason)
                self.channel.hangup(causes.BEARERCAPABILITY_NOTAVAIL)
                return
            self._configure(result)

    def hold(self, on: bool) -> None:
        """Re-INVITE the peer with ``sendonly`` (hold) or ``sendrecv`` (unhold)."""
        if self.dialog is None or self._reinvite is not None or self.terminated:
            return
        if self.sdp.state.name != "DONE":
            return
        offer = self.sdp.create_offer(hold=on)
        tx = self._send_in_dialog("INVITE", offer.to_bytes())
        if tx is None:
            return
        self._reinvite = tx

        def response(resp: Response) -> None:
            if resp.status < 200:
                return
            # Retransmitted 2xx come without the transaction from now on (RFC 6026 §8.4): the
            # Accepted transaction need not keep this leg for Timer M.
            reinvite = self._reinvite
            if reinvite is not None:
                reinvite.on_response = reinvite.on_timeout = None
            self._reinvite = None
            if resp.status >= 300:
                self.sdp.cancel_offer()
            else:
                self._ack(resp)
                self._take_reinvite_answer(resp)
            self._reinvite_done()

        def timed_out() -> None:
            # RFC 3261 §14.1: the session stays as it was; the offer is withdrawn.
            self._reinvite = None
            self.sdp.cancel_offer()
            self._reinvite_done()

        tx.on_response = response
        tx.on_timeout = timed_out

    def _take_reinvite_answer(self, resp: Response) -> None:
        if not resp.body:
            self.sdp.cancel_offer()
            return
        try:
            result = self.sdp.receive_answer(SessionDescription.parse(resp.body))
        except Exception:
            log.warning("bad SDP in re-INVITE answer on %s", self.channel.name)
            self.sdp.cancel_offer()
            return
        if not isinstance(result, NotAcceptable) and not self.terminated:
            self._configure(result)

    def _reinvite_done(self) -> None:
        if self._bye_pending:
            self._bye_pending = False
            self.send_bye()

    def _ack(self, response: Response) -> None:
        """ACK a 2xx (§13.2.2.4): a new transaction-less request with the INVITE's CSeq."""
        dialog = self.dialog
        if dialog is None:
            return
        dialog.update_target(response)
        local = self.ctx.advertised(dialog.flow)
        ack = dialog.create_request(
            "ACK",
            local,
            new_branch(self.ctx.tokens),
            user_agent=self.ctx.useragent,
            cseq=response.cseq.seq,
        )
        # Kept so a retransmitted 2xx gets the very same ACK (§13.2.2.4).
        self.acks[response.cseq.seq] = ack
        self.ctx.layer.send_stateless(ack, dialog.flow)
        self.ctx.kick()

    def retransmitted_2xx(self, response: Response) -> None:
        """A 2xx again (our ACK was lost): send the same ACK again (§13.2.2.4)."""
        dialog = self.dialog
        if dialog is None:
            return
        ack = self.acks.get(response.cseq.seq)
        if ack is not None:
            self.ctx.layer.send_stateless(ack, dialog.flow)
            self.ctx.kick()

    def _remote_hangup(self, cause: int) -> None:
        self.finish()
        self.channel.ended(cause)


def send_in_dialog(
    ctx: LegContext, dialog: Dialog, method: str, body: bytes, extra: list[tuple[str, str]]
) -> ClientTransaction:
    """Send ``method`` within ``dialog`` (RFC 3261 §12.2.1.1) in a new client transaction."""
    request = dialog.create_request(
        method,
        ctx.advertised(dialog.flow),
        new_branch(ctx.tokens),
        user_agent=ctx.useragent,
        extra=extra,
        body=body,
    )
    tx = ctx.layer.send_request(request, dialog.flow, ctx.scheduler.seconds())
    ctx.kick()
    return tx


def cannot_authenticate(
    response: Response, peer: str, channel: str, login: DigestLogin | None
) -> None:
    """One WARNING for a challenge ``login`` cannot answer (an unsupported algorithm or qop)."""
    log.warning(
        "Cannot answer the %d challenge of %s on %s (username '%s')",
        response.status,
        peer,
        channel,
        login.username if login is not None else "",
        extra={"channel": channel},
    )
