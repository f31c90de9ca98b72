"""Non-INVITE server transaction: RFC 3261 §17.2.2 (Figure 8)."""

from __future__ import annotations

import itertools

from twisted.trial.unittest import SynchronousTestCase

from pbx.core.errors import LocalProtocolError
from pbx.sip.flow import Flow
from pbx.sip.message import Request
from pbx.sip.transaction.base import Event, State, TimerConfig
from pbx.sip.transaction.nist import EVENTS, STATES, TRANSITIONS, NonInviteServerTransaction

from .tx_support import (
    TCP,
    UDP,
    WS,
    FakeHost,
    Recorder,
    answer,
    load,
    parse_request,
    request,
)


def created(
    flow: Flow = UDP, config: TimerConfig | None = None, req: Request | None = None
) -> tuple[NonInviteServerTransaction, FakeHost, Recorder, Request]:
    req = request("REGISTER") if req is None else req
    host = FakeHost(config)
    key = ("z9hG4bKnashds8", "127.0.0.2", 5062, req.method)
    tx = NonInviteServerTransaction(req, flow, key, host, flow)
    recorder = Recorder()
    recorder.attach(tx)
    return tx, host, recorder, req


class TransitionTableTests(SynchronousTestCase):
    def in_state(self, state: State) -> tuple[NonInviteServerTransaction, Request]:
        flow = WS if state is State.TERMINATED else UDP
        tx, _host, _rec, req = created(flow)
        if state is State.PROCEEDING:
            tx.respond(answer(req, 100, to_tag=None), 0.1)
        if state is State.COMPLETED or state is State.TERMINATED:
            tx.respond(answer(req, 200), 0.1)
        self.assertIs(tx.state, state)
        return tx, req

    def apply(self, tx: NonInviteServerTransaction, req: Request, event: Event) -> None:
        statuses = {Event.TU_1XX: 100, Event.TU_2XX: 200, Event.TU_3XX_6XX: 401}
        if event in statuses:
            tx.respond(answer(req, statuses[event]), 0.3)
        elif event is Event.RECV_REQUEST:
            tx.receive(req, UDP, 0.3)
        elif event is Event.TRANSPORT_ERROR:
            tx.transport_error(0.3)
        else:
            tx._on_input(event, 0.3)  # a timer firing, straight into the table

    def test_table_uses_this_machines_vocabulary(self) -> None:
        self.assertLessEqual(set(TRANSITIONS), set(itertools.product(STATES, EVENTS)))

    def test_network_inputs_never_raise_in_a_live_state(self) -> None:
        for state in STATES:
            if state is not State.TERMINATED:
                for event in (Event.RECV_REQUEST, Event.TRANSPORT_ERROR):
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
    def test_retransmissions_before_the_answer_are_discarded(self) -> None:
        tx, host, _rec, req = created()
        for now in (0.5, 1.5, 3.5):
            tx.receive(req, UDP, now)
        tx.transport_error(3.6)  # nothing was sent: nothing to fail
        self.assertEqual(host.sent, [])
        self.assertIs(tx.state, State.TRYING)
        self.assertIsNone(tx.timer_at())

    def test_final_response_starts_timer_j(self) -> None:
        tx, host, _rec, req = created()
        ok = answer(req, 200)
        tx.respond(ok, 2.0)
        self.assertIs(tx.state, State.COMPLETED)
        self.assertEqual(tx.timer_at(), 34.0)  # 64*T1
        self.assertEqual(host.scheduled, [34.0])
        self.assertEqual(host.take(), [bytes(ok)])

    def test_timer_j_follows_t1(self) -> None:
        tx, _host, _rec, req = created(config=TimerConfig(t1=0.25))
        tx.respond(answer(req, 200), 0.0)
        self.assertEqual(tx.timer_at(), 16.0)

    def test_reliable_transports_terminate_with_the_final_response(self) -> None:
        for flow in (TCP, WS):
            tx, host, _rec, req = created(flow)
            tx.respond(answer(req, 401), 0.0)
            self.assertIs(tx.state, State.TERMINATED)
            self.assertEqual(host.ended, [tx])
            self.assertEqual(host.scheduled, [])
            # The TU could not know: a second answer is dropped, not an error.
            tx.respond(answer(req, 200), 0.1)
            self.assertEqual(len(host.take()), 1)


class StatelessTests(SynchronousTestCase):
    """RFC 3261 §8.2.7: a challenge answered without lingering transaction state."""

    def test_ends_at_once_on_udp(self) -> None:
        tx, host, _rec, req = created()
        challenge = answer(req, 401)
        tx.respond_statelessly(challenge, 2.0)
        self.assertIs(tx.state, State.TERMINATED)
        self.assertEqual(host.ended, [tx])
        self.assertEqual(host.scheduled, [])
        self.assertEqual(host.take(), [bytes(challenge)])
        # Nothing lingers, so nothing was compacted: the request is the parsed one.
        self.assertIs(tx.request, req)

    def test_after_a_provisional(self) -> None:
        tx, host, _rec, req = created()
        tx.respond(answer(req, 100, to_tag=None), 0.0)
        tx.respond_statelessly(answer(req, 407), 0.1)
        self.assertIs(tx.state, State.TERMINATED)
        self.assertEqual(len(host.take()), 2)

    def test_provisional_refused(self) -> None:
        tx, host, _rec, req = created()
        with self.assertRaises(LocalProtocolError) as caught:
            tx.respond_statelessly(answer(req, 100, to_tag=None), 0.0)
        self.assertEqual(caught.exception.message, "A stateless response must be final")
        self.assertIs(tx.state, State.TRYING)
        self.assertEqual(host.sent, [])

    def test_stateful_answers_still_linger(self) -> None:
        tx, _host, _rec, req = created()
        tx.respond(answer(req, 200), 0.0)
        self.assertIs(tx.state, State.COMPLETED)
        self.assertIsNot(tx.request, req)  # compacted to bytes for its 32 s in Completed


class ProceedingTests(SynchronousTestCase):
    def test_retransmission_gets_the_latest_provisional(self) -> None:
        tx, host, _rec, req = created()
        first, second = answer(req, 100, to_tag=None), answer(req, 183)
        tx.respond(first, 0.0)
        self.assertIs(tx.state, State.PROCEEDING)
        tx.receive(req, UDP, 0.5)
        tx.respond(second, 0.6)
        tx.receive(req, UDP, 1.5)
        self.assertEqual(host.take(), [bytes(first), bytes(first), bytes(second), bytes(second)])
        self.assertIsNone(tx.timer_at())

    def test_final_after_provisional(self) -> None:
        tx, host, _rec, req = created()
        tx.respond(answer(req, 100, to_tag=None), 0.0)
        tx.respond(answer(req, 200), 1.0)
        self.assertIs(tx.state, State.COMPLETED)
        self.assertEqual(tx.timer_at(), 33.0)
        self.assertEqual(len(host.take()), 2)

    def test_transport_error_ends_it(self) -> None:
        tx, host, rec, req = created(WS)
        tx.respond(answer(req, 100, to_tag=None), 0.0)
        tx.transport_error(0.1)
        self.assertIs(tx.state, State.TERMINATED)
        self.assertEqual(rec.events, [("transport error", None)])
        self.assertEqual(host.ended, [tx])


class CompletedTests(SynchronousTestCase):
    def test_retransmissions_get_the_final_response_until_timer_j(self) -> None:
        tx, host, _rec, req = created()
        ok = answer(req, 200)
        tx.respond(ok, 0.0)
        for now in (0.5, 1.5, 3.5, 31.9):
            tx.receive(req, UDP, now)
        self.assertEqual(host.take(), [bytes(ok)] * 5)
        tx.handle_timer(31.99)
        self.assertIs(tx.state, State.COMPLETED)
        tx.handle_timer(32.0)
        self.assertIs(tx.state, State.TERMINATED)
        self.assertEqual(host.ended, [tx])
        self.assertEqual(host.sent, [])

    def test_second_final_response_is_discarded(self) -> None:
        # §17.2.2: "Any other final responses passed by the TU ... MUST be discarded".
        tx, host, _rec, req = created()
        ok = answer(req, 200)
        tx.respond(ok, 0.0)
        tx.respond(answer(req, 500), 0.1)
        tx.respond(answer(req, 202), 0.2)
        tx.receive(req, UDP, 0.3)
        self.assertEqual(host.take(), [bytes(ok), bytes(ok)])
        self.assertEqual(tx.timer_at(), 32.0)

    def test_provisional_after_final_is_a_local_error(self) -> None:
        tx, _host, _rec, req = created()
        tx.respond(answer(req, 200), 0.0)
        with self.assertRaises(LocalProtocolError) as caught:
            tx.respond(answer(req, 100, to_tag=None), 0.1)
        self.assertEqual(
            caught.exception.message, "NIST: 1xx from TU is not allowed in state Completed"
        )

    def test_transport_error_ends_it(self) -> None:
        tx, _host, rec, req = created()
        tx.respond(answer(req, 200), 0.0)
        tx.transport_error(0.1)
        self.assertIs(tx.state, State.TERMINATED)
        self.assertEqual(rec.events, [("transport error", None)])

    def test_only_bytes_are_kept(self) -> None:
        tx, _host, _rec, req = created()
        tx.respond(answer(req, 200), 0.0)
        self.assertIsNot(tx.request, req)
        self.assertEqual(bytes(tx.request), bytes(req))
        self.assertEqual(tx.request.method, "REGISTER")


class CapturedTests(SynchronousTestCase):
    def test_jssip_register_challenged(self) -> None:
        register = parse_request(load("jssip-mock/001-sent-REGISTER.txt"))
        tx, host, _rec, _ = created(WS, req=register)
        tx.receive(register, WS, 0.01)
        self.assertEqual(host.sent, [])
        challenge = answer(register, 401, to_tag="e9a6bc5c")
        challenge.headers.add("WWW-Authenticate", 'Digest realm="pbx", nonce="1", qop="auth"')
        tx.respond(challenge, 0.02)
        self.assertEqual(host.sent, [(bytes(challenge), WS)])
        self.assertIs(tx.state, State.TERMINATED)
        self.assertEqual(tx.request.call_id, register.call_id)
