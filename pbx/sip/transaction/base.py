"""What the four RFC 3261 §17 transaction machines share: timers, states, events, outputs.

Owns the timer values (RFC 3261 §17.1.1.1 and Table 4 in Appendix A, RFC 6026 §8.4/§8.7 for
Timers L and M), the :class:`State` and :class:`Event` vocabularies the transition tables in
``ict``/``nict``/``ist``/``nist`` are written in, the :class:`Send` output, the
:class:`TransactionHost` Protocol through which a transaction talks to its layer, and the
:class:`Transaction` base class: timer bookkeeping and table dispatch. It does not own matching
(``layer``) or any message construction beyond serialising what it is given.

Time is an input: every entry point takes ``now`` and a transaction exposes ``timer_at()``; it
never reads a clock. A transaction keeps at most two timers, which is all any state of Figs. 5-8
needs: a *retransmit* timer (A, E or G, whose interval grows) and a *timeout* timer (B, D, F, H,
I, J, K, L or M; which one is implied by the state). Timers with the value zero (D, I, J and K on
reliable transports, §17) fire within the call that armed them.

Timer table (RFC 3261 Table 4, RFC 6026 §8.11)::

    Timer  Value                       Section          Meaning
    T1     500 ms                      §17.1.1.1        RTT estimate
    T2     4 s                         §17.1.2.2        max retransmit interval, non-INVITE
                                                        requests and INVITE responses
    T4     5 s                         §17.1.2.2        max time a message stays in the network
    A      initially T1, doubles       §17.1.1.2        INVITE request retransmit, UDP only
    B      64*T1                       §17.1.1.2        INVITE transaction timeout
    D      >= 32 s UDP, 0 reliable     §17.1.1.2        wait for response retransmits
    E      initially T1, doubles to T2 §17.1.2.2        non-INVITE request retransmit, UDP
    F      64*T1                       §17.1.2.2        non-INVITE transaction timeout
    G      initially T1, doubles to T2 §17.2.1          INVITE response retransmit, UDP only
    H      64*T1                       §17.2.1          wait for ACK receipt
    I      T4 UDP, 0 reliable          §17.2.1          wait for ACK retransmits
    J      64*T1 UDP, 0 reliable       §17.2.2          wait for non-INVITE request retransmits
    K      T4 UDP, 0 reliable          §17.1.2.2        wait for response retransmits
    L      64*T1                       RFC 6026 §8.7    wait for accepted INVITE retransmits
    M      64*T1                       RFC 6026 §8.4    wait for 2xx retransmits / other forks

The timers that only end a transaction quietly (D, I, J, K, L, M: "wait for retransmits") fire
at the next multiple of :attr:`TimerConfig.linger_resolution` after their value: the RFC sets
how long state must at least be kept, not an instant, and a burst of 1,000 REGISTERs then costs
the process a few dozen timer wake-ups 32 s later instead of a thousand. The timers a TU or a
peer waits on (A, B, E, F, G, H) keep their exact values.
"""

from __future__ import annotations

import abc
import enum
import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import ClassVar, Protocol, TypeVar, cast

from pbx.core.errors import LocalProtocolError
from pbx.sip.flow import Flow
from pbx.sip.message import Request, Response, parse_message

log = logging.getLogger(__name__)

T1 = 0.5
T2 = 4.0
T4 = 5.0

#: Timer D is "at least 32 seconds" on unreliable transports (§17.1.1.2): the client cannot know
#: the server's T1, so the figure stays absolute while 64*T1 is smaller.
TIMER_D_MIN = 32.0


class Timer(enum.Enum):
    """The timers of RFC 3261 Table 4 and RFC 6026, by letter."""

    A = "A"
    B = "B"
    D = "D"
    E = "E"
    F = "F"
    G = "G"
    H = "H"
    I = "I"  # noqa: E741 - the RFC's name
    J = "J"
    K = "K"
    L = "L"
    M = "M"


#: The quiet timers (see the module docstring).
LINGER_TIMERS = frozenset({Timer.D, Timer.I, Timer.J, Timer.K, Timer.L, Timer.M})


@dataclass(frozen=True)
class TimerConfig:
    """T1, T2 and T4 (RFC 3261 §17.1.1.1: "T1 SHOULD be 500 ms ... MAY be chosen larger"), and
    the resolution of the quiet timers in seconds (0: exact)."""

    t1: float = T1
    t2: float = T2
    t4: float = T4
    linger_resolution: float = 0.1

    def expiry(self, timer: Timer, reliable: bool, now: float) -> float:
        """When ``timer`` started at ``now`` fires: ``now`` plus its value, rounded up to the
        linger resolution for the quiet timers that are not zero."""
        at = now + self.value(timer, reliable)
        step = self.linger_resolution
        if timer not in LINGER_TIMERS or step <= 0 or at == now:
            return at
        # Rounded to the microsecond: n * 0.1 is not exact in binary floating point.
        return round(math.ceil(at / step - 1e-9) * step, 6)

    def value(self, timer: Timer, reliable: bool) -> float:
        """The (initial) value of ``timer`` for a flow of the given reliability (Table 4).

        A, E and G are only ever started on unreliable transports; their value here is the
        first interval. D, I, J and K are zero on reliable transports (§17.1.1.2, §17.1.2.2,
        §17.2.1, §17.2.2).
        """
        if timer in (Timer.A, Timer.E, Timer.G):
            return self.t1
        if timer in (Timer.B, Timer.F, Timer.H, Timer.L, Timer.M):
            return 64 * self.t1
        if reliable:
            return 0.0
        if timer is Timer.D:
            return max(TIMER_D_MIN, 64 * self.t1)
        if timer is Timer.J:
            return 64 * self.t1
        return self.t4  # I and K


class State(enum.Enum):
    """Every state of Figs. 5-8 and RFC 6026 Figs. 5/7; each machine uses a subset."""

    CALLING = "Calling"
    TRYING = "Trying"
    PROCEEDING = "Proceeding"
    COMPLETED = "Completed"
    CONFIRMED = "Confirmed"
    ACCEPTED = "Accepted"
    TERMINATED = "Terminated"


class Event(enum.Enum):
    """The inputs the transition tables are written in; each machine uses a subset."""

    # Responses received (client transactions), classified by status.
    RECV_1XX = "1xx received"
    RECV_2XX = "2xx received"
    RECV_3XX_6XX = "300-699 received"
    # Requests received (server transactions): a retransmission of the request, or an ACK.
    RECV_REQUEST = "request retransmission received"
    RECV_ACK = "ACK received"
    # Responses passed down by the TU (server transactions).
    TU_1XX = "1xx from TU"
    TU_2XX = "2xx from TU"
    TU_3XX_6XX = "300-699 from TU"
    # The TU gives up on a client transaction (§9.1: no final response 64*T1 after a CANCEL).
    TU_TERMINATE = "terminate from TU"
    TIMER_A = "Timer A"
    TIMER_B = "Timer B"
    TIMER_D = "Timer D"
    TIMER_E = "Timer E"
    TIMER_F = "Timer F"
    TIMER_G = "Timer G"
    TIMER_H = "Timer H"
    TIMER_I = "Timer I"
    TIMER_J = "Timer J"
    TIMER_K = "Timer K"
    TIMER_L = "Timer L"
    TIMER_M = "Timer M"
    TRANSPORT_ERROR = "transport error"


def received_event(status: int) -> Event:
    """Classify a received response's status for a client transaction."""
    if status < 200:
        return Event.RECV_1XX
    if status < 300:
        return Event.RECV_2XX
    return Event.RECV_3XX_6XX


def tu_event(status: int) -> Event:
    """Classify a status the TU answers with; anything outside 100-699 is a TU bug."""
    if not 100 <= status <= 699:
        raise LocalProtocolError(f"Cannot send a response with status {status}")
    if status < 200:
        return Event.TU_1XX
    if status < 300:
        return Event.TU_2XX
    return Event.TU_3XX_6XX


@dataclass(frozen=True, slots=True)
class Send:
    """One message for the transport: ``data`` to be written on ``flow``."""

    data: bytes
    flow: Flow


#: A transaction key: ``(branch, method)`` for clients (§17.1.3); for servers
#: ``(branch, sent-by host, sent-by port, method)`` (§17.2.3) or the longer RFC 2543 tuple.
TransactionKey = tuple[str | int | None, ...]


class TransactionHost(Protocol):
    """What a transaction needs from its layer (the layer implements it; tests fake it)."""

    @property
    def config(self) -> TimerConfig: ...

    def send(self, data: bytes, flow: Flow) -> None:
        """Queue ``data`` for the transport."""
        ...

    def timer_changed(self, tx: Transaction, at: float) -> None:
        """``tx.timer_at()`` moved to ``at``."""
        ...

    def terminated(self, tx: Transaction) -> None:
        """``tx`` entered Terminated: forget it (§17.1.1.2 "MUST be destroyed immediately")."""
        ...

    def deliver_response(
        self, response: Response, tx: ClientTransaction | None, now: float
    ) -> None:
        """Give ``response`` to the TU: when ``tx.on_response`` is unset, or with ``tx`` None
        for a 2xx that belongs to the dialog layer, not the transaction (RFC 6026 §7.2)."""
        ...

    def deliver_ack(self, ack: Request, flow: Flow, now: float) -> None:
        """Give an ACK that matched an Accepted INVITE server transaction to the TU."""
        ...


_ActionT = TypeVar("_ActionT")


class Transaction(abc.ABC):
    """State, timers and dispatch shared by the four machines.

    :ivar flow: for a client, where the request goes; for a server, where it came from.
    :ivar key: the matching key the layer files it under (§17.1.3, §17.2.3).
    :ivar state: the current :class:`State`.
    """

    __slots__ = (
        "_request",
        "flow",
        "key",
        "state",
        "_host",
        "_data",
        "_rt_at",
        "_rt_interval",
        "_to_at",
    )

    #: Short name in log lines ("ICT", "NIST" ...).
    KIND: ClassVar[str]
    #: Which retransmit timer (A, E or G) a state runs: the event it raises when it fires.
    RETRANSMIT_EVENTS: ClassVar[Mapping[State, Event]]
    #: Which timeout timer a state runs: the event it raises when it fires.
    TIMEOUT_EVENTS: ClassVar[Mapping[State, Event]]

    def __init__(
        self, request: Request, flow: Flow, key: TransactionKey, state: State, host: TransactionHost
    ) -> None:
        self._request: Request | bytes = request
        self.flow = flow
        self.key = key
        self.state = state
        self._host = host
        # The bytes a retransmission or an absorbed request retransmission sends again: the
        # request (client), the ACK (ICT Completed) or the last response (server); empty when
        # there is nothing to send again. Only bytes are kept, never a second parsed message.
        self._data = b""
        self._rt_at: float | None = None
        self._rt_interval = 0.0
        self._to_at: float | None = None

    def __str__(self) -> str:
        # For log lines: "NIST z9hG4bK776asdhds REGISTER Call-ID a84b4c76e66710" (the first key
        # element is the branch, or "rfc2543" for the fallback key).
        request = self.request
        call_id = request.headers.get("Call-ID")
        return f"{self.KIND} {self.key[0]} {request.method} Call-ID {call_id}"

    @property
    def request(self) -> Request:
        """The request that created the transaction.

        Once the transaction no longer needs it (a final response was sent or received) but
        lingers for retransmissions, only its bytes are kept and every access parses them
        again: at 1,500 REGISTER/s tens of thousands of NISTs wait out Timer J, and a parsed
        request costs about ten times its size. The TU reads what it needs while it handles
        the request.
        """
        request = self._request
        if isinstance(request, Request):
            return request
        # These bytes parsed as this request before; they parse the same way again.
        return cast(Request, parse_message(request))

    def _release_request(self) -> None:
        """Keep the request as bytes only (see :attr:`request`)."""
        self._request = bytes(self._request)

    def timer_at(self) -> float | None:
        """When :meth:`handle_timer` next has work, or ``None``."""
        rt, to = self._rt_at, self._to_at
        if rt is None:
            return to
        if to is None or rt < to:
            return rt
        return to

    def handle_timer(self, now: float) -> None:
        """Fire every timer due at ``now``, earliest first."""
        before = self.timer_at()
        self._settle(before, now)

    def transport_error(self, now: float) -> None:
        """The transport failed to deliver on :attr:`flow` (a connection died, §17.1.1.2)."""
        before = self.timer_at()
        self._on_input(Event.TRANSPORT_ERROR, now)
        self._settle(before, now)

    @abc.abstractmethod
    def _on_input(self, event: Event, now: float) -> None:
        """Dispatch a message-less ``event`` (a timer, a transport error) through the table."""

    def _step(
        self, table: Mapping[tuple[State, Event], tuple[_ActionT, State]], event: Event
    ) -> _ActionT:
        """Look ``(state, event)`` up, move to the next state and return the action to run.

        The state changes before the action runs, so a TU callback made by the action already
        sees the new state, and a transaction entering Terminated has left the layer's tables even
        if the TU raises.

        :raises LocalProtocolError: the pair is not in the table (see the module's docstring).
        """
        try:
            action, next_state = table[(self.state, event)]
        except KeyError:
            raise LocalProtocolError(
                f"{self.KIND}: {event.value} is not allowed in state {self.state.value}"
            ) from None
        if next_state is not self.state:
            log.debug("%s: %s -> %s on %s", self, self.state.value, next_state.value, event.value)
            self.state = next_state
            if next_state is State.TERMINATED:
                self._rt_at = self._to_at = None
                self._data = b""
                self._host.terminated(self)
        return action

    def _settle(self, before: float | None, now: float) -> None:
        """Fire due timers, then tell the host if the next timer moved."""
        while self.state is not State.TERMINATED:
            rt, to = self._rt_at, self._to_at
            if to is not None and to <= now and (rt is None or to <= rt):
                self._to_at = None
                self._on_input(self.TIMEOUT_EVENTS[self.state], now)
            elif rt is not None and rt <= now:
                self._rt_at = None
                self._on_input(self.RETRANSMIT_EVENTS[self.state], now)
            else:
                break
        if self.state is State.TERMINATED:
            return
        after = self.timer_at()
        if after is not None and after != before:
            self._host.timer_changed(self, after)

    def _start_timeout(self, timer: Timer, now: float) -> None:
        """Arm the timeout timer with ``timer``'s value for this flow."""
        self._to_at = self._host.config.expiry(timer, self.flow.reliable, now)

    def _start_retransmit(self, timer: Timer, now: float) -> None:
        """Arm A, E or G on unreliable transports; they SHOULD NOT run on reliable ones."""
        if not self.flow.reliable:
            self._rt_interval = self._host.config.value(timer, reliable=False)
            self._rt_at = now + self._rt_interval


def no_action(tx: Transaction, message: Request | Response | None, now: float) -> None:
    """The action of transitions that only change state, and of absorbed inputs."""


def response_of(message: Request | Response | None) -> Response:
    """The response an event carries (received, or from the TU). Actions share one signature
    whose message is optional because timer events carry none; this narrows it back."""
    assert isinstance(message, Response), "a response event without its response"
    return message


def request_of(message: Request | Response | None) -> Request:
    """The request a received-request event carries (see :func:`response_of`)."""
    assert isinstance(message, Request), "a request event without its request"
    return message


class ClientTransaction(Transaction):
    """ICT/NICT common API: the TU sets the callbacks after ``send_request`` returns.

    :ivar on_response: called with every response the TU should see (provisional and final);
        when ``None`` the layer calls ``TransactionUser.response_received(response, tx, now)``.
    :ivar on_timeout: Timer B or F fired; the TU acts as if a 408 had arrived (§8.1.3.1).
    :ivar on_transport_error: the flow failed (§8.1.3.1: also treated like a 503 by the TU).
    """

    __slots__ = ("on_response", "on_timeout", "on_transport_error")

    def __init__(
        self, request: Request, flow: Flow, key: TransactionKey, state: State, host: TransactionHost
    ) -> None:
        super().__init__(request, flow, key, state, host)
        self.on_response: Callable[[Response], None] | None = None
        self.on_timeout: Callable[[], None] | None = None
        self.on_transport_error: Callable[[], None] | None = None

    @abc.abstractmethod
    def start(self, now: float) -> None:
        """Send the request and arm the initial timers (the "from TU" arrow of Figs. 5/6)."""

    @abc.abstractmethod
    def receive(self, response: Response, now: float) -> None:
        """A response matched this transaction (§17.1.3)."""

    def terminate(self, now: float) -> None:
        """Destroy the transaction without waiting for a response.

        For the TU's own timeouts: §9.1 lets a UAC "consider the original transaction cancelled
        and ... destroy the client transaction" when a CANCEL got no final response within
        64*T1, and an INVITE client transaction in Proceeding has no timer of its own.
        """
        before = self.timer_at()
        self._on_input(Event.TU_TERMINATE, now)
        self._settle(before, now)

    def _to_tu(self, response: Response, now: float) -> None:
        if self.on_response is not None:
            self.on_response(response)
        else:
            self._host.deliver_response(response, self, now)

    def _inform_timeout(self) -> None:
        log.info("%s: no final response (timeout)", self)
        if self.on_timeout is not None:
            self.on_timeout()

    def _inform_transport_error(self) -> None:
        log.info("%s: transport error on %s", self, self.flow)
        if self.on_transport_error is not None:
            self.on_transport_error()


class ServerTransaction(Transaction):
    """IST/NIST common API.

    :ivar response_flow: where responses go; initialised by the layer from §18.2.2 and RFC 3581
        (:func:`pbx.sip.transport.response_flow`). The TU may replace it before responding, e.g.
        for a peer with chan_sip's ``nat=force_rport``.
    :ivar on_timeout: IST only: Timer H fired without an ACK (§17.2.1).
    :ivar on_transport_error: sending a response failed (Figs. 7/8).
    """

    __slots__ = ("response_flow", "on_timeout", "on_transport_error")

    def __init__(
        self,
        request: Request,
        flow: Flow,
        key: TransactionKey,
        state: State,
        host: TransactionHost,
        response_flow: Flow,
    ) -> None:
        super().__init__(request, flow, key, state, host)
        self.response_flow = response_flow
        self.on_timeout: Callable[[], None] | None = None
        self.on_transport_error: Callable[[], None] | None = None

    @abc.abstractmethod
    def receive(self, request: Request, flow: Flow, now: float) -> None:
        """``request``, received on ``flow``, matched this transaction: a retransmission, or an
        ACK (§17.2.3)."""

    @abc.abstractmethod
    def respond(self, response: Response, now: float) -> None:
        """Send ``response`` (built by the TU, e.g. with ``make_response``) through the machine.

        :raises LocalProtocolError: the machine does not allow this response now (see the table
            in the module docstring), or the status is outside 100-699.
        """

    def _send_response(self, response: Response) -> bytes:
        data = bytes(response)
        self._host.send(data, self.response_flow)
        return data

    def _resend(self) -> None:
        """Send the last response again, if there is one."""
        if self._data:
            self._host.send(self._data, self.response_flow)

    def _inform_timeout(self) -> None:
        log.info("%s: no ACK for the final response (Timer H)", self)
        if self.on_timeout is not None:
            self.on_timeout()

    def _inform_transport_error(self) -> None:
        log.info("%s: transport error on %s", self, self.response_flow)
        if self.on_transport_error is not None:
            self.on_transport_error()
