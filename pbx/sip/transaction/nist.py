"""The non-INVITE server transaction (RFC 3261 §17.2.2).

Owns one received non-INVITE request (REGISTER, OPTIONS, BYE, CANCEL ...): absorbing its
retransmissions before the TU answers, answering them with the last response afterwards, and
lingering in Completed for Timer J (64*T1 on UDP, zero on reliable transports) so that late
retransmissions get the final response instead of reaching the TU as new requests. No response
is ever retransmitted on a timer by this machine.

Memory: at the REGISTER rate pbx is sized for, most live transactions are NISTs in Completed;
each keeps only the final response's bytes besides its request and key.

Stateless answers (RFC 3261 §8.2.7): :meth:`NonInviteServerTransaction.respond_statelessly`
sends a final response with Timer J zero, as on a reliable transport, so the transaction ends
at once and a retransmitted request reaches the TU again, which answers it anew. §8.2.7 names
the use: challenges to unauthenticated requests, which would otherwise let a flood of them fill
the server with transaction state (and which cost a registrar a lingering transaction for every
REGISTER it challenges). The TU may only do this where answering a retransmission again gives an
equivalent response.

RFC 3261 Figure 8::

                                  |Request received
                                  |pass to TU
                                  V
                            +-----------+
                            |           |
                            | Trying    |-------------+
                            |           |             |
                            +-----------+             |200-699 from TU
                                  |                   |send response
                                  |1xx from TU        |
                                  |send response      |
                                  |                   |
               Request            V      1xx from TU  |
               send response+-----------+send response|
                   +--------|           |--------+    |
                   |        | Proceeding|        |    |
                   +------->|           |<-------+    |
            +<--------------|           |             |
            |Trnsprt Err    +-----------+             |
            |Inform TU            |                   |
            |                     |                   |
            |                     |200-699 from TU    |
            |                     |send response      |
            |  Request            V                   |
            |  send response+-----------+             |
            |      +--------|           |             |
            |      |        | Completed |<------------+
            |      +------->|           |
            +<--------------|           |
            |Trnsprt Err    +-----------+
            |Inform TU            |
            |                     |Timer J fires
            |                     |-
            |                     |
            |                     V
            |               +-----------+
            |               |           |
            +-------------->| Terminated|
                            |           |
                            +-----------+

Transition table (:data:`TRANSITIONS`). Pairs the figure does not draw are decided as follows:

=============  =================  ====================================  ==========
state          event              action                                next
=============  =================  ====================================  ==========
Trying         request            discarded (§17.2.2)                   Trying
Trying         1xx from TU        send                                  Proceeding
Trying         200-699 from TU    send; start J                         Completed
Trying         transport error    ignored: nothing sent yet             Trying
Proceeding     request            send the last provisional             Proceeding
Proceeding     1xx from TU        send                                  Proceeding
Proceeding     200-699 from TU    send; start J                         Completed
Proceeding     transport error    inform TU                             Terminated
Completed      request            send the final response again         Completed
Completed      200-699 from TU    discarded and logged (§17.2.2)        Completed
Completed      Timer J            --                                    Terminated
Completed      transport error    inform TU                             Terminated
Terminated     any TU response    dropped and logged [1]                Terminated
=============  =================  ====================================  ==========

Every other pair raises :class:`~pbx.core.errors.LocalProtocolError`: a provisional response
after the final one, Timer J outside Completed, or a request reaching a transaction the layer has
already forgotten.

[1] On a reliable transport Timer J is zero, so the transaction ends with its final response; a
    transport error may also end it before the TU answers. Neither is the TU's mistake.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import ClassVar

from pbx.core.errors import LocalProtocolError
from pbx.sip.flow import Flow
from pbx.sip.message import Request, Response
from pbx.sip.transaction.base import (
    Event,
    ServerTransaction,
    State,
    Timer,
    TransactionHost,
    TransactionKey,
    no_action,
    response_of,
    tu_event,
)

log = logging.getLogger(__name__)

STATES = (State.TRYING, State.PROCEEDING, State.COMPLETED, State.TERMINATED)
EVENTS = (
    Event.RECV_REQUEST,
    Event.TU_1XX,
    Event.TU_2XX,
    Event.TU_3XX_6XX,
    Event.TIMER_J,
    Event.TRANSPORT_ERROR,
)


class NonInviteServerTransaction(ServerTransaction):
    """One non-INVITE request received (never ACK, which has no transaction of its own)."""

    __slots__ = ("_stateless",)

    KIND = "NIST"
    RETRANSMIT_EVENTS: ClassVar[dict[State, Event]] = {}  # §17.2.2: no response retransmits
    TIMEOUT_EVENTS = {State.COMPLETED: Event.TIMER_J}

    def __init__(
        self,
        request: Request,
        flow: Flow,
        key: TransactionKey,
        host: TransactionHost,
        response_flow: Flow,
    ) -> None:
        super().__init__(request, flow, key, State.TRYING, host, response_flow)
        self._stateless = False

    def receive(self, request: Request, flow: Flow, now: float) -> None:
        before = self.timer_at()
        self._dispatch(Event.RECV_REQUEST, request, now)
        self._settle(before, now)

    def respond(self, response: Response, now: float) -> None:
        before = self.timer_at()
        self._dispatch(tu_event(response.status), response, now)
        self._settle(before, now)

    def respond_statelessly(self, response: Response, now: float) -> None:
        """Send a final response and end the transaction at once (RFC 3261 §8.2.7; see the
        module docstring): Timer J is zero, retransmissions of the request are new requests.

        :raises LocalProtocolError: ``response`` is provisional, or the machine does not allow
            a final response now.
        """
        if response.status < 200:
            raise LocalProtocolError("A stateless response must be final")
        self._stateless = True
        self.respond(response, now)

    def _on_input(self, event: Event, now: float) -> None:
        self._dispatch(event, None, now)

    def _dispatch(self, event: Event, message: Request | Response | None, now: float) -> None:
        self._step(TRANSITIONS, event)(self, message, now)

    # -- actions ---------------------------------------------------------------------------

    def _resend_last(self, message: Request | Response | None, now: float) -> None:
        self._resend()

    def _provisional(self, message: Request | Response | None, now: float) -> None:
        self._data = self._send_response(response_of(message))

    def _complete(self, message: Request | Response | None, now: float) -> None:
        # §17.2.2: Timer J = 64*T1 unreliable, 0 reliable; the final answers retransmissions.
        # Zero as well for a stateless answer (§8.2.7).
        self._data = self._send_response(response_of(message))
        if self._stateless:
            self._to_at = now
        else:
            self._start_timeout(Timer.J, now)
        if self._to_at is not None and self._to_at > now:
            # Only a transaction that lingers needs its request compacted (see request).
            self._release_request()

    def _transport_failed(self, message: Request | Response | None, now: float) -> None:
        self._inform_transport_error()

    def _discard(self, message: Request | Response | None, now: float) -> None:
        log.warning("%s: a second final response from the TU, discarded (§17.2.2)", self)

    def _dropped(self, message: Request | Response | None, now: float) -> None:
        log.info("%s: response after the transaction ended, not sent", self)


Action = Callable[[NonInviteServerTransaction, Request | Response | None, float], None]
_NIST = NonInviteServerTransaction

#: RFC 3261 Figure 8 as ``(state, event) -> (action, next state)``; see the module docstring.
TRANSITIONS: dict[tuple[State, Event], tuple[Action, State]] = {
    (State.TRYING, Event.RECV_REQUEST): (no_action, State.TRYING),
    (State.TRYING, Event.TU_1XX): (_NIST._provisional, State.PROCEEDING),
    (State.TRYING, Event.TU_2XX): (_NIST._complete, State.COMPLETED),
    (State.TRYING, Event.TU_3XX_6XX): (_NIST._complete, State.COMPLETED),
    (State.TRYING, Event.TRANSPORT_ERROR): (no_action, State.TRYING),
    (State.PROCEEDING, Event.RECV_REQUEST): (_NIST._resend_last, State.PROCEEDING),
    (State.PROCEEDING, Event.TU_1XX): (_NIST._provisional, State.PROCEEDING),
    (State.PROCEEDING, Event.TU_2XX): (_NIST._complete, State.COMPLETED),
    (State.PROCEEDING, Event.TU_3XX_6XX): (_NIST._complete, State.COMPLETED),
    (State.PROCEEDING, Event.TRANSPORT_ERROR): (_NIST._transport_failed, State.TERMINATED),
    (State.COMPLETED, Event.RECV_REQUEST): (_NIST._resend_last, State.COMPLETED),
    (State.COMPLETED, Event.TU_2XX): (_NIST._discard, State.COMPLETED),
    (State.COMPLETED, Event.TU_3XX_6XX): (_NIST._discard, State.COMPLETED),
    (State.COMPLETED, Event.TIMER_J): (no_action, State.TERMINATED),
    (State.COMPLETED, Event.TRANSPORT_ERROR): (_NIST._transport_failed, State.TERMINATED),
    (State.TERMINATED, Event.TU_1XX): (_NIST._dropped, State.TERMINATED),
    (State.TERMINATED, Event.TU_2XX): (_NIST._dropped, State.TERMINATED),
    (State.TERMINATED, Event.TU_3XX_6XX): (_NIST._dropped, State.TERMINATED),
}
