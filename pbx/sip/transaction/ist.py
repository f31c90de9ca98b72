"""The INVITE server transaction (RFC 3261 §17.2.1, as corrected by RFC 6026 §7.1 and §8.5-8.7).

Owns one received INVITE: answering its retransmissions with the last response, retransmitting a
300-699 final response (Timer G, unreliable transports only) until the ACK arrives or Timer H
fires, absorbing ACK retransmissions (Timer I), and the RFC 6026 Accepted state (Timer L) that
absorbs INVITE retransmissions after a 2xx and hands ACKs that match it to the TU.

A 2xx is sent once per :meth:`~InviteServerTransaction.respond` call: retransmitting it until the
ACK arrives (§13.3.1.4) belongs to the dialog layer, which calls ``respond`` again for each
retransmission while the transaction is Accepted. The 100 Trying of §17.2.1 is sent by the layer
(see ``layer``), through ``respond`` like any provisional response.

RFC 6026 Figure 7 (replacing RFC 3261 Figure 7)::

                                     |INVITE
                                     |pass INV to TU
                  INVITE             V send 100 if TU won't in 200 ms
                  send response+------------+
                      +--------|            |--------+ 101-199 from TU
                      |        |            |        | send response
                      +------->|            |<-------+
                               | Proceeding |
                               |            |--------+ Transport Err.
                               |            |        | Inform TU
                               |            |<-------+
                               +------------+
                  300-699 from TU |    |2xx from TU
                  send response   |    |send response
                   +--------------+    +------------+
                   |                                |
  INVITE           V          Timer G fires         |
  send response +-----------+ send response         |
       +--------|           |--------+              |
       |        |           |        |              |
       +------->| Completed |<-------+      INVITE  |  Transport Err.
                |           |               -       |  Inform TU
       +--------|           |----+          +-----+ |  +---+
       |        +-----------+    | ACK      |     | v  |   v
       |          ^   |          | -        |  +------------+
       |          |   |          |          |  |            |---+ ACK
       +----------+   |          |          +->|  Accepted  |   | to TU
       Transport Err. |          |             |            |<--+
       Inform TU      |          V             +------------+
                      |      +-----------+        |  ^     |
                      |      |           |        |  |     |
                      |      | Confirmed |        |  +-----+
                      |      |           |        |  2xx from TU
        Timer H fires |      +-----------+        |  send response
        -             |          |                |
                      |          | Timer I fires  |
                      |          | -              | Timer L fires
                      |          V                | -
                      |        +------------+     |
                      |        |            |<----+
                      +------->| Terminated |
                               |            |
                               +------------+

Transition table (:data:`TRANSITIONS`). Pairs the figure does not draw are decided as follows:

=============  =================  ====================================  ==========
state          event              action                                next
=============  =================  ====================================  ==========
Proceeding     INVITE             send the last provisional, if any     Proceeding
Proceeding     ACK                absorbed: no final response yet       Proceeding
Proceeding     1xx from TU        send                                  Proceeding
Proceeding     2xx from TU        send; start L                         Accepted
Proceeding     300-699 from TU    send; start G (unreliable) and H      Completed
Proceeding     transport error    inform TU                             Proceeding
Completed      INVITE             send the final response again         Completed
Completed      ACK                G and H stop; start I                 Confirmed
Completed      Timer G            send the final again, G = min(2G,T2)  Completed
Completed      Timer H            inform TU (timeout)                   Terminated
Completed      transport error    inform TU                             Terminated
Confirmed      INVITE, ACK        absorbed (§17.2.1)                    Confirmed
Confirmed      Timer I            --                                    Terminated
Confirmed      transport error    ignored: nothing left to send         Confirmed
Accepted       INVITE             absorbed (RFC 6026 §8.7)              Accepted
Accepted       ACK                to TU (RFC 6026 §8.7)                 Accepted
Accepted       2xx from TU        send                                  Accepted
Accepted       Timer L            --                                    Terminated
Accepted       transport error    inform TU                             Accepted
Terminated     any TU response    dropped and logged [1]                Terminated
=============  =================  ====================================  ==========

Every other pair raises :class:`~pbx.core.errors.LocalProtocolError`: a response the TU may not
send in that state (anything after a 300-699; a 1xx or 300-699 after a 2xx), a timer that does not
run in that state, or a request reaching a transaction the layer has already forgotten.

[1] The TU cannot avoid these races: its last 2xx retransmission (§13.3.1.4) and Timer L both end
    64*T1 after the first 2xx, and a transport error may end the transaction before the TU
    answers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from pbx.sip.flow import Flow
from pbx.sip.message import Request, Response
from pbx.sip.transaction.base import (
    Event,
    ServerTransaction,
    State,
    Timer,
    TransactionHost,
    TransactionKey,
    request_of,
    response_of,
    tu_event,
)

log = logging.getLogger(__name__)

STATES = (State.PROCEEDING, State.COMPLETED, State.CONFIRMED, State.ACCEPTED, State.TERMINATED)
EVENTS = (
    Event.RECV_REQUEST,
    Event.RECV_ACK,
    Event.TU_1XX,
    Event.TU_2XX,
    Event.TU_3XX_6XX,
    Event.TIMER_G,
    Event.TIMER_H,
    Event.TIMER_I,
    Event.TIMER_L,
    Event.TRANSPORT_ERROR,
)


class InviteServerTransaction(ServerTransaction):
    """One INVITE received; created by the layer, answered by the TU through :meth:`respond`."""

    __slots__ = ("_to_tag",)

    KIND = "IST"
    RETRANSMIT_EVENTS = {State.COMPLETED: Event.TIMER_G}
    TIMEOUT_EVENTS = {
        State.COMPLETED: Event.TIMER_H,
        State.CONFIRMED: Event.TIMER_I,
        State.ACCEPTED: Event.TIMER_L,
    }

    def __init__(
        self,
        request: Request,
        flow: Flow,
        key: TransactionKey,
        host: TransactionHost,
        response_flow: Flow,
    ) -> None:
        super().__init__(request, flow, key, State.PROCEEDING, host, response_flow)
        self._to_tag: str | None = None

    @property
    def has_responded(self) -> bool:
        """Whether any response went out yet (the layer's 100 Trying rule, §17.2.1)."""
        return bool(self._data) or self.state is not State.PROCEEDING

    @property
    def to_tag(self) -> str | None:
        """The To tag of the final response sent; an RFC 2543 ACK must carry it (§17.2.3)."""
        return self._to_tag

    def receive(self, request: Request, flow: Flow, now: float) -> None:
        before = self.timer_at()
        event = Event.RECV_ACK if request.method == "ACK" else Event.RECV_REQUEST
        self._dispatch(event, request, flow, now)
        self._settle(before, now)

    def respond(self, response: Response, now: float) -> None:
        before = self.timer_at()
        self._dispatch(tu_event(response.status), response, self.response_flow, now)
        self._settle(before, now)

    def _on_input(self, event: Event, now: float) -> None:
        self._dispatch(event, None, self.flow, now)

    def _dispatch(
        self, event: Event, message: Request | Response | None, flow: Flow, now: float
    ) -> None:
        self._step(TRANSITIONS, event)(self, message, flow, now)

    # -- actions ---------------------------------------------------------------------------

    def _absorb(self, message: Request | Response | None, flow: Flow, now: float) -> None:
        """Inputs the machine takes without doing anything (retransmissions, state-only moves)."""

    def _resend_last(self, message: Request | Response | None, flow: Flow, now: float) -> None:
        self._resend()

    def _provisional(self, message: Request | Response | None, flow: Flow, now: float) -> None:
        # §17.2.1: each provisional goes out once and is what an INVITE retransmission gets.
        self._data = self._send_response(response_of(message))

    def _accept(self, message: Request | Response | None, flow: Flow, now: float) -> None:
        # RFC 6026 §8.5: send, enter Accepted, Timer L = 64*T1. Nothing answers an INVITE
        # retransmission from here on, so no bytes are kept.
        response = response_of(message)
        self._to_tag = response.to.tag
        self._send_response(response)
        self._data = b""
        self._release_request()
        self._start_timeout(Timer.L, now)

    def _send_2xx(self, message: Request | Response | None, flow: Flow, now: float) -> None:
        self._send_response(response_of(message))

    def _complete(self, message: Request | Response | None, flow: Flow, now: float) -> None:
        # §17.2.1: Timer G = T1 on unreliable transports, Timer H = 64*T1 on all.
        response = response_of(message)
        self._to_tag = response.to.tag
        self._data = self._send_response(response)
        self._release_request()
        self._start_retransmit(Timer.G, now)
        self._start_timeout(Timer.H, now)

    def _retransmit(self, message: Request | Response | None, flow: Flow, now: float) -> None:
        # §17.2.1: "reset with a value that doubles, unless that value exceeds T2".
        self._resend()
        self._rt_interval = min(2 * self._rt_interval, self._host.config.t2)
        self._rt_at = now + self._rt_interval

    def _confirm(self, message: Request | Response | None, flow: Flow, now: float) -> None:
        # §17.2.1: G stops (H too: Confirmed has only I); Timer I = T4 unreliable, 0 reliable.
        self._rt_at = None
        self._data = b""
        self._start_timeout(Timer.I, now)

    def _timeout(self, message: Request | Response | None, flow: Flow, now: float) -> None:
        self._inform_timeout()

    def _transport_failed(self, message: Request | Response | None, flow: Flow, now: float) -> None:
        self._inform_transport_error()

    def _ack_to_tu(self, message: Request | Response | None, flow: Flow, now: float) -> None:
        self._host.deliver_ack(request_of(message), flow, now)

    def _dropped(self, message: Request | Response | None, flow: Flow, now: float) -> None:
        log.info("%s: response after the transaction ended, not sent", self)


Action = Callable[[InviteServerTransaction, Request | Response | None, Flow, float], None]
_IST = InviteServerTransaction

#: RFC 6026 Figure 7 as ``(state, event) -> (action, next state)``; see the module docstring.
TRANSITIONS: dict[tuple[State, Event], tuple[Action, State]] = {
    (State.PROCEEDING, Event.RECV_REQUEST): (_IST._resend_last, State.PROCEEDING),
    (State.PROCEEDING, Event.RECV_ACK): (_IST._absorb, State.PROCEEDING),
    (State.PROCEEDING, Event.TU_1XX): (_IST._provisional, State.PROCEEDING),
    (State.PROCEEDING, Event.TU_2XX): (_IST._accept, State.ACCEPTED),
    (State.PROCEEDING, Event.TU_3XX_6XX): (_IST._complete, State.COMPLETED),
    (State.PROCEEDING, Event.TRANSPORT_ERROR): (_IST._transport_failed, State.PROCEEDING),
    (State.COMPLETED, Event.RECV_REQUEST): (_IST._resend_last, State.COMPLETED),
    (State.COMPLETED, Event.RECV_ACK): (_IST._confirm, State.CONFIRMED),
    (State.COMPLETED, Event.TIMER_G): (_IST._retransmit, State.COMPLETED),
    (State.COMPLETED, Event.TIMER_H): (_IST._timeout, State.TERMINATED),
    (State.COMPLETED, Event.TRANSPORT_ERROR): (_IST._transport_failed, State.TERMINATED),
    (State.CONFIRMED, Event.RECV_REQUEST): (_IST._absorb, State.CONFIRMED),
    (State.CONFIRMED, Event.RECV_ACK): (_IST._absorb, State.CONFIRMED),
    (State.CONFIRMED, Event.TIMER_I): (_IST._absorb, State.TERMINATED),
    (State.CONFIRMED, Event.TRANSPORT_ERROR): (_IST._absorb, State.CONFIRMED),
    (State.ACCEPTED, Event.RECV_REQUEST): (_IST._absorb, State.ACCEPTED),
    (State.ACCEPTED, Event.RECV_ACK): (_IST._ack_to_tu, State.ACCEPTED),
    (State.ACCEPTED, Event.TU_2XX): (_IST._send_2xx, State.ACCEPTED),
    (State.ACCEPTED, Event.TIMER_L): (_IST._absorb, State.TERMINATED),
    (State.ACCEPTED, Event.TRANSPORT_ERROR): (_IST._transport_failed, State.ACCEPTED),
    (State.TERMINATED, Event.TU_1XX): (_IST._dropped, State.TERMINATED),
    (State.TERMINATED, Event.TU_2XX): (_IST._dropped, State.TERMINATED),
    (State.TERMINATED, Event.TU_3XX_6XX): (_IST._dropped, State.TERMINATED),
}
