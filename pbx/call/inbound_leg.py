"""The UAS of a call that arrived (the A leg): answers with 180/183/200, retransmits its 2xx
until the ACK (RFC 3261 §13.3.1.4), handles CANCEL (§9.2: 200 to the CANCEL, 487 to the INVITE);
the shared dialog machinery is :class:`pbx.call.sip_leg.SipLeg`."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from twisted.internet.defer import Deferred, succeed

from pbx.call.dialplan_api import Indication
from pbx.core import causes
from pbx.core.errors import LocalProtocolError
from pbx.sdp.model import SessionDescription
from pbx.sdp.negotiator import NotAcceptable, SdpSession
from pbx.sip.dialog import Dialog
from pbx.sip.flow import Flow
from pbx.sip.message import Request, make_response
from pbx.sip.transaction.base import ServerTransaction

if TYPE_CHECKING:
    from pbx.call.channel import Channel
    from pbx.call.media import MediaLeg

from pbx.call.sip_leg import SDP, LegContext, SipLeg

log = logging.getLogger(__name__)


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
        self.answered = True
        self.last_message = "Tx: 200"
        self._respond_2xx(self.invite, self.tx, body)
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
