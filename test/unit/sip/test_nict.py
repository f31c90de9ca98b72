"""Non-INVITE client transaction: RFC 3261 §17.1.2 (Figure 6)."""

from __future__ import annotations

import itertools

from twisted.trial.unittest import SynchronousTestCase

from pbx.core.errors import LocalProtocolError
from pbx.sip.flow import Flow
from pbx.sip.message import Request
from pbx.sip.transaction.base import Event, State, TimerConfig
from pbx.sip.transaction.nict import EVENTS, STATES, TRANSITIONS, NonInviteClientTransaction

from .tx_support import (
    TCP,
    UDP,
    WS,
    FakeHost,
    Recorder,
    load,
    parse_request,
    parse_response,
    received,
    request,
)


def started(
    flow: Flow = UDP, config: TimerConfig | None = None, req: Request | None = None
) -> tuple[NonInviteClientTransaction, FakeHost, Recorder, Request]:
    req = request("OPTIONS") if req is None else req
    host = FakeHost(config)
    tx = NonInviteClientTransaction(req, flow, ("z9hG4bKnashds8", req.method), host)
    recorder = Recorder()
    recorder.attach(tx)
    tx.start(0.0)
    return tx, host, recorder, req


def run_timers(tx: NonInviteClientTransaction, limit: int = 100) -> list[float]:
    times = []
    for _ in range(limit):
        at = tx.timer_at()
        if at is None:
            break
        times.append(at)
        tx.handle_timer(at)
    return times


class TransitionTableTests(SynchronousTestCase):
    def in_state(self, state: State) -> tuple[NonInviteClientTransaction, Request]:
        tx, _host, _rec, req = started()
        status = {State.PROCEEDING: 100, State.COMPLETED: 200}.get(state)
        if status is not None:
            tx.receive(received(req, status), 0.1)
        if state is State.TERMINATED:
            tx.terminate(0.1)
        self.assertIs(tx.state, state)
        return tx, req

    def apply(self, tx: NonInviteClientTransaction, req: Request, event: Event) -> None:
        statuses = {Event.RECV_1XX: 100, Event.RECV_2XX: 202, Event.RECV_3XX_6XX: 404}
        if event in statuses:
            tx.receive(received(req, statuses[event]), 0.2)
        elif event is Event.TRANSPORT_ERROR:
            tx.transport_error(0.2)
        elif event is Event.TU_TERMINATE:
            tx.terminate(0.2)
        else:
            tx._on_input(event, 0.2)  # a timer firing, straight into the table

    def test_table_uses_this_machines_vocabulary(self) -> None:
        self.assertLessEqual(set(TRANSITIONS), set(itertools.product(STATES, EVENTS)))

    def test_network_inputs_never_raise_in_a_live_state(self) -> None:
        network = (Event.RECV_1XX, Event.RECV_2XX, Event.RECV_3XX_6XX, Event.TRANSPORT_ERROR)
        for state in STATES:
            if state is not State.TERMINATED:
                for event in network:
                    self.assertIn((state, event), TRANSITIONS)

    def test_every_pair(self) -> None:
        for state, event in itertools.product(STATES, EVENTS):
            tx, req = self.in_state(state)
            entry = TRANSITIONS.get((state, event))
            if entry is None:
                with self.assertRaises(LocalProtocolError, msg=f"{state} {event}"):
                    self.apply(tx, req, event)
                self.assertIs(tx.state, state)
            else:
                self.apply(tx, req, event)
                self.assertIs(tx.state, entry[1], f"{state} {event}")


class TryingTests(SynchronousTestCase):
    def test_timer_e_doubles_to_t2_until_timer_f(self) -> None:
        # §17.1.2.2: E = 0.5, 1, 2, 4, 4, 4 ... s apart; F at 64*T1: 11 transmissions.
        tx, host, rec, req = started()
        self.assertEqual(
            run_timers(tx), [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5, 32.0]
        )
        self.assertEqual(host.take(), [bytes(req)] * 11)
        self.assertIs(tx.state, State.TERMINATED)
        self.assertEqual(rec.events, [("timeout", None)])
        self.assertEqual(host.ended, [tx])

    def test_t2_is_configurable(self) -> None:
        tx, _host, _rec, _req = started(config=TimerConfig(t1=0.5, t2=2.0))
        self.assertEqual(run_timers(tx)[:6], [0.5, 1.5, 3.5, 5.5, 7.5, 9.5])

    def test_no_timer_e_on_reliable_transports(self) -> None:
        tx, host, rec, _req = started(TCP)
        self.assertEqual(run_timers(tx), [32.0])
        self.assertEqual(len(host.take()), 1)
        self.assertEqual(rec.events, [("timeout", None)])

    def test_final_response_completes_with_timer_k(self) -> None:
        tx, host, rec, req = started()
        tx.handle_timer(0.5)
        tx.receive(received(req, 200), 1.0)
        self.assertIs(tx.state, State.COMPLETED)
        self.assertEqual(tx.timer_at(), 6.0)  # T4
        # §17.1.2.2: Completed buffers response retransmissions; none reaches the TU.
        tx.receive(received(req, 200), 1.5)
        tx.receive(received(req, 100), 1.6)
        tx.transport_error(1.7)
        self.assertEqual(run_timers(tx), [6.0])
        self.assertIs(tx.state, State.TERMINATED)
        self.assertEqual(rec.events, [("response", 200)])
        self.assertEqual(len(host.take()), 2)

    def test_final_response_on_reliable_transport_terminates_at_once(self) -> None:
        tx, host, rec, req = started(WS)
        tx.receive(received(req, 404), 0.1)
        self.assertIs(tx.state, State.TERMINATED)
        self.assertEqual(host.ended, [tx])
        self.assertEqual(rec.events, [("response", 404)])

    def test_transport_error(self) -> None:
        tx, _host, rec, _req = started(WS)
        tx.transport_error(0.1)
        self.assertIs(tx.state, State.TERMINATED)
        self.assertEqual(rec.events, [("transport error", None)])

    def test_without_callbacks_the_host_gets_responses(self) -> None:
        tx, host, _rec, req = started()
        tx.on_response = tx.on_timeout = None
        tx.receive(received(req, 100), 0.1)
        self.assertEqual([(r.status, t) for r, t, _n in host.responses], [(100, tx)])
        tx.handle_timer(32.0)  # a timeout nobody listens to is only logged
        self.assertIs(tx.state, State.TERMINATED)


class ProceedingTests(SynchronousTestCase):
    def test_timer_e_continues_at_t2(self) -> None:
        # §17.1.2.2: in Proceeding the request is still retransmitted, every T2.
        tx, host, rec, req = started()
        tx.handle_timer(0.5)  # next E at 1.5
        tx.receive(received(req, 100, to_tag=None), 0.7)
        self.assertIs(tx.state, State.PROCEEDING)
        self.assertEqual(tx.timer_at(), 1.5)
        self.assertEqual(run_timers(tx), [1.5, 5.5, 9.5, 13.5, 17.5, 21.5, 25.5, 29.5, 32.0])
        self.assertEqual(len(host.take()), 1 + 1 + 8)
        self.assertEqual(rec.events, [("response", 100), ("timeout", None)])

    def test_provisionals_then_final(self) -> None:
        tx, _host, rec, req = started()
        tx.receive(received(req, 100), 0.1)
        tx.receive(received(req, 180), 0.2)
        tx.receive(received(req, 486), 0.3)
        self.assertEqual(rec.events, [("response", 100), ("response", 180), ("response", 486)])
        self.assertIs(tx.state, State.COMPLETED)
        self.assertEqual(tx.timer_at(), 5.3)

    def test_transport_error(self) -> None:
        tx, host, rec, req = started(WS)
        tx.receive(received(req, 100), 0.1)
        tx.transport_error(0.2)
        self.assertIs(tx.state, State.TERMINATED)
        self.assertEqual(rec.events, [("response", 100), ("transport error", None)])
        self.assertEqual(host.ended, [tx])

    def test_terminate_from_tu(self) -> None:
        tx, host, _rec, req = started()
        tx.receive(received(req, 100), 0.1)
        tx.terminate(0.2)
        tx.terminate(0.3)
        self.assertEqual(host.ended, [tx])
        self.assertIsNone(tx.timer_at())


class CapturedTests(SynchronousTestCase):
    def test_register_challenged_over_wss(self) -> None:
        # pbx in JsSIP's place (an outbound registration): the server's real 401.
        register = parse_request(load("jssip-mock/001-sent-REGISTER.txt"))
        tx, host, rec, _ = started(WS, req=register)
        tx.receive(parse_response(load("jssip-mock/002-recv-401-REGISTER.txt")), 0.03)
        self.assertEqual(rec.events, [("response", 401)])
        self.assertIs(tx.state, State.TERMINATED)
        self.assertEqual(host.take(), [load("jssip-mock/001-sent-REGISTER.txt")])

    def test_bye_to_a_browser_over_ws(self) -> None:
        # pbx in Asterisk's place: its BYE to JsSIP and the browser's real 200.
        base = "jssip-asterisk-incoming/"
        bye = parse_request(load(base + "010-recv-BYE.txt"))
        tx, host, rec, _ = started(WS, req=bye)
        self.assertEqual(host.take(), [load(base + "010-recv-BYE.txt")])
        self.assertEqual(tx.timer_at(), 32.0)
        tx.receive(parse_response(load(base + "011-sent-200-BYE.txt")), 0.02)
        self.assertEqual(rec.events, [("response", 200)])
        self.assertIs(tx.state, State.TERMINATED)
        self.assertEqual(bytes(tx.request), load(base + "010-recv-BYE.txt"))
