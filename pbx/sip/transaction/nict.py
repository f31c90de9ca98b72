"""The non-INVITE client transaction (RFC 3261 §17.1.2).

Owns one outgoing non-INVITE request (OPTIONS qualify, BYE, CANCEL, NOTIFY, MESSAGE ...): its
retransmission by Timer E (unreliable transports only; doubling up to T2, and every T2 once a
provisional response arrived), its timeout by Timer F, and the Completed state that absorbs
retransmitted final responses until Timer K.

RFC 3261 Figure 6::

                                   |Request from TU
                                   |send request
               Timer E             V
               send request  +-----------+
                   +---------|           |-------------------+
                   |         |  Trying   |  Timer F          |
                   +-------->|           |  or Transport Err.|
                             +-----------+  inform TU        |
                200-699         |  |                         |
                resp. to TU     |  |1xx                      |
                +---------------+  |resp. to TU              |
                |                  |                         |
                |   Timer E        V       Timer F           |
                |   send req +-----------+ or Transport Err. |
                |  +---------|           | inform TU         |
                |  |         |Proceeding |------------------>|
                |  +-------->|           |-----+             |
                |            +-----------+     |1xx          |
                |              |      ^        |resp to TU   |
                | 200-699      |      +--------+             |
                | resp. to TU  |                             |
                |              |                             |
                |              V                             |
                |            +-----------+                   |
                |            |           |                   |
                |            | Completed |                   |
                |            |           |                   |
                |            +-----------+                   |
                |              ^   |                         |
                |              |   | Timer K                 |
                +--------------+   | -                       |
                                   |                         |
                                   V                         |
             NOTE:           +-----------+                   |
                             |           |                   |
         transitions         | Terminated|<------------------+
         labeled with        |           |
         the event           +-----------+
         over the action
         to take

Transition table (:data:`TRANSITIONS`). Pairs the figure does not draw are decided as follows:

=============  ===============  =======================================  ==========
state          event            action                                   next
=============  ===============  =======================================  ==========
Trying         Timer E          retransmit, E = min(2E, T2)              Trying
Trying         Timer F          inform TU (timeout)                      Terminated
Trying         1xx              to TU                                    Proceeding
Trying         200-699          to TU; E and F stop; start K             Completed
Trying         transport error  inform TU                                Terminated
Proceeding     Timer E          retransmit, E = T2                       Proceeding
Proceeding     Timer F          inform TU (timeout)                      Terminated
Proceeding     1xx              to TU                                    Proceeding
Proceeding     200-699          to TU; E and F stop; start K             Completed
Proceeding     transport error  inform TU                                Terminated
Completed      any response     absorbed (§17.1.2.2: K buffers them)     Completed
Completed      Timer K          --                                       Terminated
Completed      transport error  ignored: nothing left to send            Completed
any live       terminate        -- (TU gives up)                         Terminated
Terminated     terminate        ignored (the TU raced Timer K)           Terminated
=============  ===============  =======================================  ==========

Every other pair raises :class:`~pbx.core.errors.LocalProtocolError`: a timer that does not run
in that state, or an input to a Terminated transaction, which the layer has already forgotten.
"""

from __future__ import annotations

from collections.abc import Callable

from pbx.sip.flow import Flow
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

STATES = (State.TRYING, State.PROCEEDING, State.COMPLETED, State.TERMINATED)
EVENTS = (
    Event.RECV_1XX,
    Event.RECV_2XX,
    Event.RECV_3XX_6XX,
    Event.TIMER_E,
    Event.TIMER_F,
    Event.TIMER_K,
    Event.TRANSPORT_ERROR,
    Event.TU_TERMINATE,
)


class NonInviteClientTransaction(ClientTransaction):
    """One non-INVITE request (never ACK) sent by the TU; created by ``send_request``."""

    __slots__ = ()

    KIND = "NICT"
    RETRANSMIT_EVENTS = {State.TRYING: Event.TIMER_E, State.PROCEEDING: Event.TIMER_E}
    TIMEOUT_EVENTS = {
        State.TRYING: Event.TIMER_F,
        State.PROCEEDING: Event.TIMER_F,
        State.COMPLETED: Event.TIMER_K,
    }

    def __init__(
        self, request: Request, flow: Flow, key: TransactionKey, host: TransactionHost
    ) -> None:
        super().__init__(request, flow, key, State.TRYING, host)

    def start(self, now: float) -> None:
        self._data = bytes(self.request)
        self._host.send(self._data, self.flow)
        self._start_retransmit(Timer.E, now)  # §17.1.2.2: T1, unreliable transports only
        self._start_timeout(Timer.F, now)
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

    def _retransmit_backoff(self, response: Response | None, now: float) -> None:
        # §17.1.2.2: "reset the timer with a value of MIN(2*T1, T2)", doubling each time.
        self._retransmit(min(2 * self._rt_interval, self._host.config.t2), now)

    def _retransmit_t2(self, response: Response | None, now: float) -> None:
        # §17.1.2.2: "If Timer E fires while in the Proceeding state ... reset with a value of T2".
        self._retransmit(self._host.config.t2, now)

    def _retransmit(self, interval: float, now: float) -> None:
        self._host.send(self._data, self.flow)
        self._rt_interval = interval
        self._rt_at = now + interval

    def _timeout(self, response: Response | None, now: float) -> None:
        self._inform_timeout()

    def _transport_failed(self, response: Response | None, now: float) -> None:
        self._inform_transport_error()

    def _provisional(self, response: Response | None, now: float) -> None:
        self._to_tu(response_of(response), now)

    def _complete(self, response: Response | None, now: float) -> None:
        # §17.1.2.2: final response to TU; Timer K (T4 unreliable, 0 reliable). The request bytes
        # are dropped: nothing is retransmitted from here on.
        self._rt_at = None
        self._data = b""
        self._release_request()
        self._start_timeout(Timer.K, now)
        self._to_tu(response_of(response), now)


Action = Callable[[NonInviteClientTransaction, Response | None, float], None]
_NICT = NonInviteClientTransaction

#: RFC 3261 Figure 6 as ``(state, event) -> (action, next state)``; see the module docstring.
TRANSITIONS: dict[tuple[State, Event], tuple[Action, State]] = {
    (State.TRYING, Event.TIMER_E): (_NICT._retransmit_backoff, State.TRYING),
    (State.TRYING, Event.TIMER_F): (_NICT._timeout, State.TERMINATED),
    (State.TRYING, Event.RECV_1XX): (_NICT._provisional, State.PROCEEDING),
    (State.TRYING, Event.RECV_2XX): (_NICT._complete, State.COMPLETED),
    (State.TRYING, Event.RECV_3XX_6XX): (_NICT._complete, State.COMPLETED),
    (State.TRYING, Event.TRANSPORT_ERROR): (_NICT._transport_failed, State.TERMINATED),
    (State.TRYING, Event.TU_TERMINATE): (no_action, State.TERMINATED),
    (State.PROCEEDING, Event.TIMER_E): (_NICT._retransmit_t2, State.PROCEEDING),
    (State.PROCEEDING, Event.TIMER_F): (_NICT._timeout, State.TERMINATED),
    (State.PROCEEDING, Event.RECV_1XX): (_NICT._provisional, State.PROCEEDING),
    (State.PROCEEDING, Event.RECV_2XX): (_NICT._complete, State.COMPLETED),
    (State.PROCEEDING, Event.RECV_3XX_6XX): (_NICT._complete, State.COMPLETED),
    (State.PROCEEDING, Event.TRANSPORT_ERROR): (_NICT._transport_failed, State.TERMINATED),
    (State.PROCEEDING, Event.TU_TERMINATE): (no_action, State.TERMINATED),
    (State.COMPLETED, Event.RECV_1XX): (no_action, State.COMPLETED),
    (State.COMPLETED, Event.RECV_2XX): (no_action, State.COMPLETED),
    (State.COMPLETED, Event.RECV_3XX_6XX): (no_action, State.COMPLETED),
    (State.COMPLETED, Event.TIMER_K): (no_action, State.TERMINATED),
    (State.COMPLETED, Event.TRANSPORT_ERROR): (no_action, State.COMPLETED),
    (State.COMPLETED, Event.TU_TERMINATE): (no_action, State.TERMINATED),
    (State.TERMINATED, Event.TU_TERMINATE): (no_action, State.TERMINATED),
}
