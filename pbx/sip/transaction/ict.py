"""The INVITE client transaction (RFC 3261 §17.1.1, as corrected by RFC 6026 §7.2 and §8.4).

Owns one outgoing INVITE: its retransmission (Timer A, unreliable transports only), its timeout
(Timer B), the ACK for a 300-699 final response (§17.1.1.3, built and retransmitted here) and the
RFC 6026 Accepted state (Timer M), in which further 2xx responses -- retransmissions, or other
branches of a downstream fork -- go to the TU without the transaction. ACKing a 2xx is the dialog
layer's job (§13.2.2.4), never this machine's.

RFC 6026 Figure 5 (replacing RFC 3261 Figure 5)::

                                   |INVITE from TU
                 Timer A fires     |INVITE sent      Timer B fires
                 Reset A,          V                 or Transport Err.
                 INVITE sent +-----------+           inform TU
                   +---------|           |--------------------------+
                   |         |  Calling  |                          |
                   +-------->|           |-----------+              |
  300-699                    +-----------+ 2xx       |              |
  ACK sent                      |  |       2xx to TU |              |
  resp. to TU                   |  |1xx              |              |
  +-----------------------------+  |1xx to TU        |              |
  |                                |                 |              |
  |                1xx             V                 |              |
  |                1xx to TU +-----------+           |              |
  |                +---------|           |           |              |
  |                |         |Proceeding |           |              |
  |                +-------->|           |           |              |
  |                          +-----------+ 2xx       |              |
  |         300-699             |    |     2xx to TU |              |
  |         ACK sent,  +--------+    +---------------+              |
  |         resp. to TU|                             |              |
  |                    |                             |              |
  |                    V                             V              |
  |              +-----------+                   +----------+       |
  +------------->|           |Transport Err.     |          |       |
                 | Completed |Inform TU          | Accepted |       |
              +--|           |-------+           |          |-+     |
      300-699 |  +-----------+       |           +----------+ |     |
      ACK sent|    ^  |              |               |  ^     |     |
              |    |  |              |               |  |     |     |
              +----+  |              |               |  +-----+     |
                      |Timer D fires |  Timer M fires|    2xx       |
                      |-             |             - |    2xx to TU |
                      +--------+     |   +-----------+              |
     NOTE:                     V     V   V                          |
  Transitions                 +------------+                        |
  are labeled                 |            |                        |
  with the event              | Terminated |<-----------------------+
  over the action             |            |
  to take.                    +------------+

Transition table (:data:`TRANSITIONS`). Pairs the figure does not draw are decided as follows:

=============  ===============  =======================================  ==========
state          event            action                                   next
=============  ===============  =======================================  ==========
Calling        Timer A          retransmit INVITE, A doubles (no cap)     Calling
Calling        Timer B          inform TU (timeout)                      Terminated
Calling        1xx              to TU; A and B stop                      Proceeding
Calling        2xx              to TU; A and B stop; start M             Accepted
Calling        300-699          ACK sent, to TU; start D                 Completed
Calling        transport error  inform TU                                Terminated
Proceeding     1xx              to TU                                    Proceeding
Proceeding     2xx              to TU; start M                           Accepted
Proceeding     300-699          ACK sent, to TU; start D                 Completed
Proceeding     transport error  inform TU [1]                            Terminated
Completed      300-699          ACK sent again, not to TU                Completed
Completed      1xx              absorbed                                 Completed
Completed      2xx              to TU without the transaction [2]        Completed
Completed      Timer D          --                                       Terminated
Completed      transport error  inform TU                                Terminated
Accepted       2xx              to TU without the transaction            Accepted
Accepted       1xx, 300-699     absorbed (RFC 6026 §8.4 names only 2xx)  Accepted
Accepted       Timer M          --                                       Terminated
Accepted       transport error  ignored: nothing is sent in Accepted     Accepted
any live       terminate        -- (§9.1, TU gives up)                   Terminated
Terminated     terminate        ignored (the TU raced Timer D/M)         Terminated
=============  ===============  =======================================  ==========

Every other pair raises :class:`~pbx.core.errors.LocalProtocolError`: a timer that does not
run in that state, or an input to a Terminated transaction, which the layer has already
forgotten -- either would be a bug in this package.

[1] Not in the figure, where nothing is sent in Proceeding. A dead connection (a closed WebSocket)
    can deliver no final response, and Proceeding has no timer of its own, so without this the
    transaction would live for ever.
[2] Not in the figure. A 2xx after a non-2xx final comes from another branch of a fork; the TU
    must ACK and BYE it (§13.2.2.4), so it is treated like any 2xx no transaction claims.
"""

from __future__ import annotations

from collections.abc import Callable

from pbx.core.errors import LocalProtocolError
from pbx.sip.flow import Flow
from pbx.sip.headers import Headers
from pbx.sip.message import Request, Response
from pbx.sip.transaction.base import (
    ClientTransaction,
    Event,
    State,
    Timer,
    TransactionHost,
    TransactionKey,
    no_action,
    received_event,
    response_of,
)

STATES = (State.CALLING, State.PROCEEDING, State.COMPLETED, State.ACCEPTED, State.TERMINATED)
EVENTS = (
    Event.RECV_1XX,
    Event.RECV_2XX,
    Event.RECV_3XX_6XX,
    Event.TIMER_A,
    Event.TIMER_B,
    Event.TIMER_D,
    Event.TIMER_M,
    Event.TRANSPORT_ERROR,
    Event.TU_TERMINATE,
)


class InviteClientTransaction(ClientTransaction):
    """One INVITE sent by the TU; created by ``TransactionLayer.send_request``."""

    __slots__ = ()

    KIND = "ICT"
    RETRANSMIT_EVENTS = {State.CALLING: Event.TIMER_A}
    TIMEOUT_EVENTS = {
        State.CALLING: Event.TIMER_B,
        State.COMPLETED: Event.TIMER_D,
        State.ACCEPTED: Event.TIMER_M,
    }

    def __init__(
        self, request: Request, flow: Flow, key: TransactionKey, host: TransactionHost
    ) -> None:
        super().__init__(request, flow, key, State.CALLING, host)

    def start(self, now: float) -> None:
        self._data = bytes(self.request)
        self._host.send(self._data, self.flow)
        self._start_retransmit(Timer.A, now)  # §17.1.1.2: T1, unreliable transports only
        self._start_timeout(Timer.B, now)
        self._settle(None, now)

    def receive(self, response: Response, now: float) -> None:
        before = self.timer_at()
        self._dispatch(received_event(response.status), response, now)
        self._settle(before, now)

    def _on_input(self, event: Event, now: float) -> None:
        self._dispatch(event, None, now)

    def _dispatch(self, event: Event, response: Response | None, now: float) -> None:
        self._step(TRANSITIONS, event)(self, response, now)

    # -- actions ---------------------------------------------------------------------------

    def _retransmit(self, response: Response | None, now: float) -> None:
        # §17.1.1.2: "retransmitted with intervals that double after each transmission"; unlike
        # E and G there is no T2 cap -- Timer B ends it after 7 transmissions.
        self._host.send(self._data, self.flow)
        self._rt_interval *= 2
        self._rt_at = now + self._rt_interval

    def _timeout(self, response: Response | None, now: float) -> None:
        self._inform_timeout()

    def _transport_failed(self, response: Response | None, now: float) -> None:
        self._inform_transport_error()

    def _proceed(self, response: Response | None, now: float) -> None:
        # §17.1.1.2: no retransmissions in Proceeding; Timer B only matters in Calling.
        self._rt_at = self._to_at = None
        self._to_tu(response_of(response), now)

    def _provisional(self, response: Response | None, now: float) -> None:
        self._to_tu(response_of(response), now)

    def _accept(self, response: Response | None, now: float) -> None:
        # RFC 6026 §8.4: to Accepted, 2xx to TU, Timer M = 64*T1. The INVITE bytes are no longer
        # needed: nothing is retransmitted from here on.
        self._rt_at = None
        self._data = b""
        self._release_request()
        self._start_timeout(Timer.M, now)
        self._to_tu(response_of(response), now)

    def _complete(self, response: Response | None, now: float) -> None:
        # §17.1.1.2: ACK even on reliable transports, to the same flow as the INVITE; Timer D.
        response = response_of(response)
        self._rt_at = None
        self._start_timeout(Timer.D, now)
        self._data = bytes(build_ack(self.request, response))
        self._host.send(self._data, self.flow)
        self._release_request()
        self._to_tu(response, now)

    def _resend_ack(self, response: Response | None, now: float) -> None:
        # §17.1.1.2: "retransmissions of the final response ... MUST cause the ACK to be re-passed
        # to the transport layer ... but the newly received response MUST NOT be passed up".
        self._host.send(self._data, self.flow)

    def _late_2xx(self, response: Response | None, now: float) -> None:
        # RFC 6026 §8.4: "A 2xx response received while in the Accepted state MUST be passed to
        # the TU"; the dialog layer matches it by dialog id, so it goes without the transaction.
        self._host.deliver_response(response_of(response), None, now)


Action = Callable[[InviteClientTransaction, Response | None, float], None]
_ICT = InviteClientTransaction

#: RFC 6026 Figure 5 as ``(state, event) -> (action, next state)``; see the module docstring.
TRANSITIONS: dict[tuple[State, Event], tuple[Action, State]] = {
    (State.CALLING, Event.TIMER_A): (_ICT._retransmit, State.CALLING),
    (State.CALLING, Event.TIMER_B): (_ICT._timeout, State.TERMINATED),
    (State.CALLING, Event.RECV_1XX): (_ICT._proceed, State.PROCEEDING),
    (State.CALLING, Event.RECV_2XX): (_ICT._accept, State.ACCEPTED),
    (State.CALLING, Event.RECV_3XX_6XX): (_ICT._complete, State.COMPLETED),
    (State.CALLING, Event.TRANSPORT_ERROR): (_ICT._transport_failed, State.TERMINATED),
    (State.CALLING, Event.TU_TERMINATE): (no_action, State.TERMINATED),
    (State.PROCEEDING, Event.RECV_1XX): (_ICT._provisional, State.PROCEEDING),
    (State.PROCEEDING, Event.RECV_2XX): (_ICT._accept, State.ACCEPTED),
    (State.PROCEEDING, Event.RECV_3XX_6XX): (_ICT._complete, State.COMPLETED),
    (State.PROCEEDING, Event.TRANSPORT_ERROR): (_ICT._transport_failed, State.TERMINATED),
    (State.PROCEEDING, Event.TU_TERMINATE): (no_action, State.TERMINATED),
    (State.COMPLETED, Event.RECV_1XX): (no_action, State.COMPLETED),
    (State.COMPLETED, Event.RECV_2XX): (_ICT._late_2xx, State.COMPLETED),
    (State.COMPLETED, Event.RECV_3XX_6XX): (_ICT._resend_ack, State.COMPLETED),
    (State.COMPLETED, Event.TIMER_D): (no_action, State.TERMINATED),
    (State.COMPLETED, Event.TRANSPORT_ERROR): (_ICT._transport_failed, State.TERMINATED),
    (State.COMPLETED, Event.TU_TERMINATE): (no_action, State.TERMINATED),
    (State.ACCEPTED, Event.RECV_1XX): (no_action, State.ACCEPTED),
    (State.ACCEPTED, Event.RECV_2XX): (_ICT._late_2xx, State.ACCEPTED),
    (State.ACCEPTED, Event.RECV_3XX_6XX): (no_action, State.ACCEPTED),
    (State.ACCEPTED, Event.TIMER_M): (no_action, State.TERMINATED),
    (State.ACCEPTED, Event.TRANSPORT_ERROR): (no_action, State.ACCEPTED),
    (State.ACCEPTED, Event.TU_TERMINATE): (no_action, State.TERMINATED),
    (State.TERMINATED, Event.TU_TERMINATE): (no_action, State.TERMINATED),
}


def build_ack(invite: Request, response: Response) -> Request:
    """The ACK for a 300-699 response to ``invite`` (RFC 3261 §17.1.1.3).

    Request-URI, Call-ID and From as in the INVITE; To from the response (it carries the UAS's
    tag); one Via, equal to the INVITE's top Via (so the same branch); CSeq number of the INVITE
    with method ACK; the INVITE's Route headers; no body. Max-Forwards repeats the INVITE's (the
    ACK takes the same path), 70 when it had none (§8.1.1.6).
    """
    headers = Headers()
    vias = invite.headers.get_all("Via")
    if not vias:
        raise LocalProtocolError("Cannot build an ACK: the INVITE has no Via")
    headers.add("Via", vias[0])
    headers.add("Max-Forwards", invite.headers.get("Max-Forwards") or "70")
    headers.add("From", _header(invite, "From"))
    headers.add("To", _header(response, "To"))
    headers.add("Call-ID", _header(invite, "Call-ID"))
    headers.add("CSeq", f"{invite.cseq.seq} ACK")
    for route in invite.headers.get_all("Route"):
        headers.add("Route", route)
    return Request("ACK", invite.uri, headers)


def _header(message: Request | Response, name: str) -> str:
    value = message.headers.get(name)
    if value is None:
        raise LocalProtocolError(f"Cannot build an ACK: no {name} header")
    return value
