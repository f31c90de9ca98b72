"""The SIP side of one channel: an INVITE usage (RFC 3261 §13-§15) as a :class:`ChannelDriver`.

:class:`InboundLeg` is the UAS of a call that arrived (the A leg): it answers with 180/183/200,
retransmits its 2xx until the ACK (§13.3.1.4), handles CANCEL (§9.2: 200 to the CANCEL, 487 to
the INVITE), BYE, re-INVITE (hold/unhold; 491 while one of ours is pending) and DTMF by INFO.
:class:`OutboundLeg` is the UAC of a call pbx places (a B leg of ``Dial``): it sends the INVITE
with our offer, reports 1xx/2xx/failures, ACKs every 2xx (retransmissions too), CANCELs only once
a provisional response arrived (§9.1) and BYEs. Both negotiate SDP through
:class:`pbx.sdp.negotiator.SdpSession` against their own :class:`~pbx.call.media.MediaLeg`, so
media is anchored: each leg talks to pbx, the bridge joins them.

Responses that refuse an offer carry chan_sip's ``488 Not Acceptable Here`` plus a
``Warning: 399 <host> "<reason>"`` header naming the exact mismatch (RFC 3261 §20.43).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from twisted.internet.defer import Deferred, succeed

from pbx.call.dialplan_api import Indication
from pbx.core import causes
from pbx.core.addr import Address
from pbx.core.clock import Cancellable, Scheduler
from pbx.core.errors import LocalProtocolError
from pbx.core.tokens import TokenSource
from pbx.sdp.model import SessionDescription
from pbx.sdp.negotiator import NegotiatedMedia, NotAcceptable, SdpSession
from pbx.sip.auth import DigestLogin, digest_answer
from pbx.sip.dialog import Dialog
from pbx.sip.flow import Flow
from pbx.sip.headers import Auth, Headers
from pbx.sip.message import Request, Response, SipParseError, make_response
from pbx.sip.transaction.base import ClientTransaction, ServerTransaction, State
from pbx.sip.transaction.layer import TransactionLayer
from pbx.sip.ua import new_branch, via_value

if TYPE_CHECKING:
    from pbx.call.channel import Channel
    from pbx.call.media import MediaLeg

log = logging.getLogger(__name__)

T1 = 0.5
T2 = 4.0
ALLOW = "INVITE, ACK, CANCEL, OPTIONS, BYE, REGISTER, INFO"
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

    # -- helpers ---------------------------------------------------------------------------
    @property
    def now(self) -> float:
        return self.ctx.scheduler.seconds()

    @property
    def call_id(self) -> str:
        return self.dialog.call_id if self.dialog is not None else ""

    def _sdp_body(self, sdp: SessionDescription) -> bytes:
        return sdp.to_bytes()

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
        local = self.ctx.advertised(dialog.flow)
        headers = list(extra or ())
        if body and sdp:
            headers.append(("Content-Type", SDP))
        request = dialog.create_request(
            method,
            local,
            new_branch(self.ctx.tokens),
            user_agent=self.ctx.useragent,
            extra=headers,
            body=body,
        )
        self.last_message = f"Tx: {method}"
        tx = self.ctx.layer.send_request(request, dialog.flow, self.now)
        self.ctx.kick()
        return tx

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
        if tx is not None:
            tx.on_response = lambda r: None

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
        elif method in ("OPTIONS", "UPDATE") and not request.body:
            tx.respond(self._reply(request, 200), self.now)
            self.ctx.kick()
        else:
            response = self._reply(request, 501 if method != "UPDATE" else 501)
            response.headers.add("Allow", ALLOW)
            tx.respond(response, self.now)
            self.ctx.kick()

    def _reply(self, request: Request, status: int, reason: str | None = None) -> Response:
        tag = self.dialog.local_tag if self.dialog is not None else None
        response = make_response(request, status, reason, to_tag=tag)
        response.headers.add("Server", self.ctx.useragent)
        return response

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
            raise
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
        except LocalProtocolError:
            del self._unacked[seq]
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


class InboundLeg(SipLeg):
    """The UAS of an incoming call (chan_sip's incoming ``SIP/peer-…`` channel)."""

    def __init__(
        self,
        ctx: LegContext,
        channel: Channel,
        media: MediaLeg,
        sdp: SdpSession,
        invite: Request,
        tx: ServerTransaction,
        flow: Flow,
    ) -> None:
        super().__init__(ctx, channel, media, sdp)
        self.invite = invite
        self.tx = tx
        local = ctx.advertised(flow)
        from pbx.sip.ua import contact_uri

        contact = f"<{contact_uri(flow, local)}>"
        self.dialog = Dialog.from_uas(invite, ctx.tokens.hex(4), contact, flow)
        self.offer_in_invite = bool(invite.body)
        self.sent_180 = False
        self.early_media = False
        self.answered = False
        self.confirmed = False
        self.remote_user_agent = invite.headers.get("User-Agent") or ""
        tx.on_timeout = self._no_ack
        tx.on_transport_error = self._transport_failed

    def _detach(self) -> None:
        # Both callbacks are no-ops once the leg has ended.
        self.tx.on_timeout = None
        self.tx.on_transport_error = None

    def accept_offer(self, offer: SessionDescription | None = None) -> NotAcceptable | None:
        """Process the INVITE's offer now (before the dialplan runs): refused -> reason.

        :param offer: the INVITE's body already parsed (by the admission checks), else it is
            parsed here.
        """
        if not self.offer_in_invite:
            return None
        if offer is None:
            try:
                offer = SessionDescription.parse(self.invite.body)
            except Exception as e:
                return NotAcceptable(f"unparseable SDP offer: {e}")
        self.sdp.receive_offer(offer)
        return None

    def _answer_sdp(self) -> bytes | NotAcceptable:
        """Our SDP for a 183/200: the answer to the INVITE's offer, or our offer."""
        if self.sdp.state.name == "REMOTE_OFFER":
            result = self.sdp.create_answer()
            if isinstance(result, NotAcceptable):
                return result
            answer, negotiated = result
            self._configure(negotiated)
            return answer.to_bytes()
        if self.sdp.local_sdp is not None:
            return self.sdp.local_sdp.to_bytes()
        # Delayed offer (no SDP in the INVITE): we offer, the answer comes in the ACK.
        self._awaiting_ack_answer = True
        return self.sdp.create_offer().to_bytes()

    # -- ChannelDriver -----------------------------------------------------------------------
    def answer(self) -> Deferred[None]:
        if self.answered or self.terminated:
            return succeed(None)
        body = self._answer_sdp()
        if isinstance(body, NotAcceptable):
            self._fail_offer(body.reason)
            return succeed(None)
        response = self._reply(self.invite, 200)
        assert self.dialog is not None
        response.headers.add("Contact", self.dialog.local_contact)
        response.headers.add("Allow", ALLOW)
        response.headers.add("Content-Type", SDP)
        response.body = body
        self.answered = True
        self.last_message = "Tx: 200"
        self._send_2xx(self.tx, response)
        self.channel.set_state("Up")
        return succeed(None)

    def _transport_failed(self) -> None:
        """The INVITE transaction's connection died. Once the call is confirmed that says
        nothing more: a browser's media keeps going (ICE consent decides, RFC 7675) and the
        dialog reaches it again if it reconnects."""
        if not self.confirmed and not self.terminated:
            self._remote_hangup(causes.NETWORK_OUT_OF_ORDER)

    def _no_ack(self) -> None:
        if not self.confirmed and not self.terminated and not self.answered:
            self._remote_hangup(causes.NO_USER_RESPONSE)

    def ack_received(self, request: Request) -> None:
        if not self.confirmed and request.cseq.seq == self.invite.cseq.seq:
            self.confirmed = True
            self.last_message = "Rx: ACK"
        super().ack_received(request)

    def indicate(self, what: Indication) -> None:
        if self.terminated:
            return
        if what == "ringing":
            if self.answered or self.sent_180:
                return
            self.sent_180 = True
            self._provisional(180, None)
            if self.channel.state in ("Down", "Ring"):
                self.channel.set_state("Ringing")
        elif what == "progress":
            if self.answered or self.early_media:
                return
            body = self._answer_sdp()
            if isinstance(body, NotAcceptable):
                self._fail_offer(body.reason)
                return
            self.early_media = True
            self._provisional(183, body)
        elif what in ("busy", "congestion") and not self.answered:
            cause = causes.USER_BUSY if what == "busy" else causes.CONGESTION
            self.channel.hangup(cause)

    def _provisional(self, status: int, body: bytes | None) -> None:
        response = self._reply(self.invite, status)
        assert self.dialog is not None
        response.headers.add("Contact", self.dialog.local_contact)
        if body is not None:
            response.headers.add("Content-Type", SDP)
            response.body = body
        self.last_message = f"Tx: {status}"
        self.tx.respond(response, self.now)
        self.ctx.kick()

    def hangup(self, cause: int) -> None:
        if self.terminated:
            return
        if self.answered:
            self.send_bye()  # after the ACK if it has not come yet (§15)
        else:
            status, reason = causes.cause_to_sip(cause)
            response = self._reply(self.invite, status, reason)
            try:
                self.tx.respond(response, self.now)
            except LocalProtocolError:
                pass
            self.last_message = f"Tx: {status}"
            self.ctx.kick()
        self.finish()

    def _fail_offer(self, reason: str) -> None:
        """Nothing in the offer is acceptable: 488 with the reason (and hang up)."""
        response = self._reply(self.invite, 488, "Not Acceptable Here")
        host = self.ctx.advertised(self.tx.flow).host
        response.headers.add("Warning", f'399 {host} "{reason}"')
        self.channel.userfield = reason
        log.log(25, "Call %s: %s", self.channel.name, reason, extra={"channel": self.channel.name})
        try:
            self.tx.respond(response, self.now)
        except LocalProtocolError:
            pass
        self.ctx.kick()
        self.finish()
        self.channel.ended(causes.BEARERCAPABILITY_NOTAVAIL)

    def cancelled(self, cancel: Request, cancel_tx: ServerTransaction) -> None:
        """§9.2: 200 to the CANCEL; 487 to the INVITE if still unanswered."""
        cancel_tx.respond(
            make_response(cancel, 200, to_tag=self.dialog.local_tag if self.dialog else None),
            self.now,
        )
        if not self.answered and not self.terminated:
            response = self._reply(self.invite, 487, "Request Terminated")
            try:
                self.tx.respond(response, self.now)
            except LocalProtocolError:
                pass
            self.last_message = "Rx: CANCEL"
            self.ctx.kick()
            self._remote_hangup(causes.NORMAL_CLEARING)
        else:
            self.ctx.kick()


class OutboundLeg(SipLeg):
    """The UAC of a call pbx places (a ``Dial()`` target)."""

    def __init__(
        self,
        ctx: LegContext,
        channel: Channel,
        media: MediaLeg,
        sdp: SdpSession,
        request: Request,
        flow: Flow,
        login: DigestLogin | None = None,
    ) -> None:
        super().__init__(ctx, channel, media, sdp)
        self.request = request
        self.flow = flow
        self.login = login
        self._authenticated = False
        self.tx: ClientTransaction | None = None
        self.provisional = False
        self.answered = False
        self.cancel_pending = False
        self._cancel_cause = causes.NORMAL_CLEARING
        self.on_ringing: Callable[[], None] | None = None
        self.on_progress: Callable[[], None] | None = None
        self.on_answer: Callable[[], None] | None = None
        self.on_failure: Callable[[int, int, str], None] | None = None
        """(Q.850 cause, SIP status, reason phrase)."""
        self._give_up: Cancellable | None = None

    def start(self) -> None:
        self.last_message = "Tx: INVITE"
        self.tx = self.ctx.layer.send_request(self.request, self.flow, self.now)
        self.tx.on_response = self._response
        self.tx.on_timeout = lambda: self._failed(causes.NO_USER_RESPONSE, 408, "Request Timeout")
        self.tx.on_transport_error = lambda: self._failed(
            causes.DESTINATION_OUT_OF_ORDER, 503, "Service Unavailable"
        )
        self.ctx.kick()

    def _detach(self) -> None:
        # Dial's callbacks (a cycle through the DialAttempt that holds this leg) always go.
        self.on_ringing = self.on_progress = self.on_answer = self.on_failure = None
        tx = self.tx
        if tx is not None and tx.state in (State.CALLING, State.PROCEEDING):
            # Given up before the final response: the transaction keeps the leg until that
            # response (ACKed, and BYEd if a 2xx, §15) or the §9.1 give-up, then detaches.
            return
        if tx is not None:
            tx.on_response = tx.on_timeout = tx.on_transport_error = None
        if self._give_up is not None and self._give_up.active():
            self._give_up.cancel()
        self._give_up = None

    def _response(self, response: Response) -> None:
        self._handle_response(response)
        if response.status >= 200 and self.terminated:
            self._detach()

    def _handle_response(self, response: Response) -> None:
        status = response.status
        self.last_message = f"Rx: {status}"
        if status < 200:
            # §9.1: any provisional response, 100 included, makes a CANCEL possible; one we
            # owe (the call was given up before anything came back) goes out now.
            first = not self.provisional
            self.provisional = True
            if self.cancel_pending:
                if first:
                    self._send_cancel()
                return
            if self.terminated or status == 100:
                return
            if response.to.tag and self.dialog is None:
                self.dialog = Dialog.from_uac(self.request, response, self.flow)
            if response.body and self.sdp.state.name == "LOCAL_OFFER":
                if not self._take_answer(response):
                    return  # the leg failed: no ringing or early media from it
            if status in (180, 181, 182):
                self.channel.set_state("Ringing")
                if self.on_ringing is not None:
                    self.on_ringing()
            elif status == 183 and self.on_progress is not None:
                self.on_progress()
            return
        if 200 <= status < 300:
            if self.answered:
                self.retransmitted_2xx(response)
                return
            self.dialog = Dialog.from_uac(self.request, response, self.flow)
            self.remote_user_agent = response.headers.get("Server") or ""
            self._ack(response)
            if self.terminated or self.cancel_pending:
                # Answered after we gave up: ACK then BYE (§15).
                self.send_bye()
                return
            self.answered = True
            if self.sdp.state.name == "LOCAL_OFFER":
                if not response.body:
                    self.send_bye()
                    self._failed(causes.BEARERCAPABILITY_NOTAVAIL, 488, "No SDP answer")
                    return
                if not self._take_answer(response):
                    return
            self.channel.set_state("Up")
            if self.on_answer is not None:
                self.on_answer()
            return
        if status in (401, 407) and self._authenticate(response):
            return
        if self.sdp.state.name == "LOCAL_OFFER":
            self.sdp.cancel_offer()
        self._failed(causes.sip_to_cause(status), status, response.reason)

    def _authenticate(self, response: Response) -> bool:
        """§22.2: send the INVITE again, once, with credentials answering the peer's challenge
        (a trunk that authenticates calls); a second challenge fails the call like chan_sip's."""
        if self.login is None or self._authenticated or self.terminated or self.cancel_pending:
            return False
        name = "WWW-Authenticate" if response.status == 401 else "Proxy-Authenticate"
        answer = None
        for value in response.headers.get_all(name):
            try:
                challenge = Auth.parse(value, name)
            except SipParseError:
                continue
            answer = digest_answer(
                challenge, "INVITE", self.request.uri, self.login, self.ctx.tokens.hex(8)
            )
            if answer is not None:
                break
        if answer is None:
            log.warning(
                "Cannot answer the %d challenge of %s to %s (username '%s')",
                response.status,
                self.channel.peer_name,
                self.channel.name,
                self.login.username,
                extra={"channel": self.channel.name},
            )
            return False
        self._authenticated = True
        # §22.2: same Call-ID, From tag and body; a new branch and the next CSeq.
        request = Request(
            self.request.method,
            self.request.uri,
            Headers(self.request.headers.items()),
            self.request.body,
        )
        local = self.ctx.advertised(self.flow)
        request.headers.replace_first(
            "Via", via_value(self.flow, local, new_branch(self.ctx.tokens))
        )
        request.headers.set("CSeq", f"{self.request.cseq.seq + 1} INVITE")
        request.headers.add(
            "Authorization" if response.status == 401 else "Proxy-Authorization", str(answer)
        )
        old = self.tx
        if old is not None:
            old.on_response = old.on_timeout = old.on_transport_error = None
        self.request = request
        self.provisional = False
        self.dialog = None
        self.start()
        return True

    def _take_answer(self, response: Response) -> bool:
        try:
            answer = SessionDescription.parse(response.body)
        except Exception as e:
            reason = f"unparseable SDP answer: {e}"
        else:
            result = self.sdp.receive_answer(answer)
            if not isinstance(result, NotAcceptable):
                self._configure(result)
                return True
            reason = result.reason
        log.log(
            25,
            "SDP answer refused on %s: %s",
            self.channel.name,
            reason,
            extra={"channel": self.channel.name},
        )
        if response.status >= 200:
            self.send_bye()
        else:
            self.cancel()
        self._failed(causes.BEARERCAPABILITY_NOTAVAIL, 488, reason)
        return False

    def _failed(self, cause: int, status: int, reason: str) -> None:
        if self.terminated:
            return
        on_failure = self.on_failure  # finish() detaches it
        self.finish()
        if status == 488:
            self.channel.userfield = reason
        # The channel is gone before Dial hears of it, so "all callees failed" sees it.
        self.channel.ended(cause)
        if on_failure is not None:
            on_failure(cause, status, reason)

    # -- ChannelDriver -----------------------------------------------------------------------
    def answer(self) -> Deferred[None]:
        return succeed(None)

    def indicate(self, what: Indication) -> None:
        return

    def hangup(self, cause: int) -> None:
        if self.terminated:
            return
        if self.answered:
            self.send_bye()
        else:
            self._cancel_cause = cause
            self.cancel()
        self.finish()

    def cancel(self) -> None:
        """CANCEL the INVITE; before any provisional response, wait for one (§9.1)."""
        if self.answered:
            return
        self.cancel_pending = True
        if self.provisional:
            self._send_cancel()

    def _send_cancel(self) -> None:
        """§9.1: same Request-URI, Call-ID, To, From, CSeq number and top Via as the INVITE."""
        headers = Headers()
        invite = self.request
        headers.add("Via", invite.headers.get_all("Via")[0])
        headers.add("Max-Forwards", "70")
        headers.add("From", invite.headers.get("From") or "")
        headers.add("To", invite.headers.get("To") or "")
        headers.add("Call-ID", invite.call_id)
        headers.add("CSeq", f"{invite.cseq.seq} CANCEL")
        if self._cancel_cause == causes.ANSWERED_ELSEWHERE:
            # RFC 3326: phones show "answered elsewhere", not a missed call.
            headers.add("Reason", 'SIP;cause=200;text="Call completed elsewhere"')
        headers.add("User-Agent", self.ctx.useragent)
        cancel = Request("CANCEL", invite.uri, headers)
        tx = self.ctx.layer.send_request(cancel, self.flow, self.now)
        tx.on_response = lambda r: None
        self.ctx.kick()
        # §9.1: without a final response to the INVITE 64*T1 after the CANCEL, consider the
        # INVITE transaction cancelled (else it would wait in Proceeding forever).
        self._give_up = self.ctx.scheduler.callLater(64 * T1, self._give_up_invite)

    def _give_up_invite(self) -> None:
        self._give_up = None
        tx = self.tx
        if tx is not None and tx.state in (State.CALLING, State.PROCEEDING):
            tx.terminate(self.now)
            self.ctx.kick()
        if self.terminated:
            self._detach()
