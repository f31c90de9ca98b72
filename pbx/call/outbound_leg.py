"""The UAC of a call pbx places (a B leg of ``Dial``): sends the INVITE with our offer, answers a
challenge once with the peer's credentials (RFC 3261 §22.2), reports 1xx/2xx/failures, ACKs every
2xx, CANCELs only once a provisional response arrived (§9.1) and BYEs; the shared dialog
machinery is :class:`pbx.call.sip_leg.SipLeg`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from twisted.internet.defer import Deferred, succeed

from pbx.call.dialplan_api import Indication
from pbx.core import causes
from pbx.core.clock import Cancellable
from pbx.sdp.model import SessionDescription
from pbx.sdp.negotiator import NotAcceptable, SdpSession
from pbx.sip.auth import DigestLogin, authorization_for
from pbx.sip.dialog import Dialog
from pbx.sip.flow import Flow
from pbx.sip.headers import Headers
from pbx.sip.message import Request, Response
from pbx.sip.transaction.base import ClientTransaction, State
from pbx.sip.ua import new_branch, via_value

if TYPE_CHECKING:
    from pbx.call.channel import Channel
    from pbx.call.media import MediaLeg

from pbx.call.sip_leg import T1, LegContext, SipLeg, cannot_authenticate

log = logging.getLogger(__name__)


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
        realms = self.ctx.realm_logins
        if self._authenticated or self.terminated or self.cancel_pending:
            return False
        if self.login is None and not realms:
            return False
        answer = authorization_for(
            response, "INVITE", self.request.uri, self.login, self.ctx.tokens.hex(8), realms
        )
        if answer is None:
            cannot_authenticate(response, self.channel.peer_name, self.channel.name, self.login)
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
        request.headers.add(answer[0], str(answer[1]))
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
