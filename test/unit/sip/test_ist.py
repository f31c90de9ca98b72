"""INVITE server transaction: RFC 3261 §17.2.1 with RFC 6026's Accepted state (Figure 7)."""

from __future__ import annotations

import itertools

from twisted.trial.unittest import SynchronousTestCase

from pbx.core.errors import LocalProtocolError
from pbx.sip.flow import Flow
from pbx.sip.message import Request
from pbx.sip.transaction.base import Event, State, TimerConfig
from pbx.sip.transaction.ist import EVENTS, STATES, TRANSITIONS, InviteServerTransaction

from .tx_support import (
    TCP,
    UDP,
    WS,
    FakeHost,
    Recorder,
    ack_for,
    answer,
    load,
    parse_request,
    request,
)


def created(
    flow: Flow = UDP, config: TimerConfig | None = None, invite: Request | None = None
) -> tuple[InviteServerTransaction, FakeHost, Recorder, Request]:
    invite = request("INVITE") if invite is None else invite
    host = FakeHost(config)
    key = ("z9hG4bKnashds8", "127.0.0.2", 5062, "INVITE")
    tx = InviteServerTransaction(invite, flow, key, host, flow)
    recorder = Recorder()
    recorder.attach(tx)
    return tx, host, recorder, invite


def run_timers(tx: InviteServerTransaction, limit: int = 100) -> list[float]:
    times = []
    for _ in range(limit):
        at = tx.timer_at()
        if at is None:
            break
        times.append(at)
        tx.handle_timer(at)
    return times


class TransitionTableTests(SynchronousTestCase):
    def in_state(self, state: State) -> tuple[InviteServerTransaction, Request]:
        tx, _host, _rec, invite = created()
        if state is State.COMPLETED or state is State.CONFIRMED:
            tx.respond(answer(invite, 486), 0.1)
        if state is State.CONFIRMED:
            tx.receive(ack_for(invite, answer(invite, 486)), UDP, 0.2)
        if state is State.ACCEPTED:
            tx.respond(answer(invite, 200), 0.1)
        if state is State.TERMINATED:
            tx.respond(answer(invite, 200), 0.1)
            tx.handle_timer(100.0)
        self.assertIs(tx.state, state)
        return tx, invite

    def apply(self, tx: InviteServerTransaction, invite: Request, event: Event) -> None:
        statuses = {Event.TU_1XX: 180, Event.TU_2XX: 200, Event.TU_3XX_6XX: 486}
        if event in statuses:
            tx.respond(answer(invite, statuses[event]), 0.3)
        elif event is Event.RECV_REQUEST:
            tx.receive(invite, UDP, 0.3)
        elif event is Event.RECV_ACK:
            tx.receive(ack_for(invite, answer(invite, 486)), UDP, 0.3)
        elif event is Event.TRANSPORT_ERROR:
            tx.transport_error(0.3)
        else:
            tx._on_input(event, 0.3)  # a timer firing, straight into the table

    def test_table_uses_this_machines_vocabulary(self) -> None:
        self.assertLessEqual(set(TRANSITIONS), set(itertools.product(STATES, EVENTS)))

    def test_network_inputs_never_raise_in_a_live_state(self) -> None:
        network = (Event.RECV_REQUEST, Event.RECV_ACK, Event.TRANSPORT_ERROR)
        for state in STATES:
            if state is not State.TERMINATED:
                for event in network:
                    self.assertIn((state, event), TRANSITIONS)

    def test_every_pair(self) -> None:
        for state, event in itertools.product(STATES, EVENTS):
            tx, invite = self.in_state(state)
            entry = TRANSITIONS.get((state, event))
            if entry is None:
                with self.assertRaises(LocalProtocolError, msg=f"{state} {event}"):
                    self.apply(tx, invite, event)
                self.assertIs(tx.state, state)
            else:
                self.apply(tx, invite, event)
                self.assertIs(tx.state, entry[1], f"{state} {event}")


class ProceedingTests(SynchronousTestCase):
    def test_starts_in_proceeding_with_no_timer(self) -> None:
        tx, host, _rec, _invite = created()
        self.assertIs(tx.state, State.PROCEEDING)
        self.assertIsNone(tx.timer_at())
        self.assertFalse(tx.has_responded)
        self.assertEqual(host.sent, [])

    def test_retransmission_before_any_response_is_absorbed(self) -> None:
        tx, host, _rec, invite = created()
        tx.receive(invite, UDP, 0.5)
        self.assertEqual(host.sent, [])

    def test_retransmission_gets_the_latest_provisional(self) -> None:
        tx, host, _rec, invite = created()
        trying, ringing = answer(invite, 100, to_tag=None), answer(invite, 180)
        tx.respond(trying, 0.0)
        self.assertTrue(tx.has_responded)
        tx.receive(invite, UDP, 0.5)
        tx.respond(ringing, 1.0)
        tx.receive(invite, UDP, 1.5)
        tx.receive(invite, UDP, 2.5)
        self.assertEqual(host.take(), [bytes(trying)] * 2 + [bytes(ringing)] * 3)
        self.assertIs(tx.state, State.PROCEEDING)

    def test_responses_go_to_the_response_flow(self) -> None:
        tx, host, _rec, invite = created()
        other = Flow(UDP.kind, UDP.local, UDP.remote._replace(port=40000))
        tx.response_flow = other
        tx.respond(answer(invite, 180), 0.0)
        tx.receive(invite, UDP, 0.1)
        self.assertEqual([flow for _data, flow in host.sent], [other, other])

    def test_ack_before_a_final_response_is_absorbed(self) -> None:
        tx, host, _rec, invite = created()
        tx.receive(ack_for(invite, answer(invite, 486)), UDP, 0.1)
        self.assertIs(tx.state, State.PROCEEDING)
        self.assertEqual((host.sent, host.acks), ([], []))

    def test_transport_error_informs_tu_and_stays(self) -> None:
        # RFC 6026 Fig. 7: the TU may still answer.
        tx, host, rec, invite = created(WS)
        tx.transport_error(0.1)
        self.assertIs(tx.state, State.PROCEEDING)
        self.assertEqual(rec.events, [("transport error", None)])
        tx.respond(answer(invite, 486), 0.2)
        self.assertIs(tx.state, State.COMPLETED)
        self.assertEqual(len(host.take()), 1)

    def test_bad_status_is_a_local_error(self) -> None:
        tx, _host, _rec, invite = created()
        for status in (99, 700):
            response = answer(invite, 200)
            response.status = status
            with self.assertRaises(LocalProtocolError):
                tx.respond(response, 0.0)
        self.assertIs(tx.state, State.PROCEEDING)


class CompletedTests(SynchronousTestCase):
    def test_timer_g_doubles_to_t2_until_timer_h(self) -> None:
        # §17.2.1: G = 0.5, 1, 2, 4, 4 ... s apart; H = 64*T1 without an ACK.
        tx, host, rec, invite = created()
        busy = answer(invite, 486)
        tx.respond(busy, 0.0)
        self.assertIs(tx.state, State.COMPLETED)
        self.assertEqual(tx.to_tag, "a6c85cf")
        self.assertEqual(
            run_timers(tx), [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5, 32.0]
        )
        self.assertEqual(host.take(), [bytes(busy)] * 11)
        self.assertIs(tx.state, State.TERMINATED)
        self.assertEqual(rec.events, [("timeout", None)])
        self.assertEqual(host.ended, [tx])

    def test_invite_retransmission_gets_the_final_again(self) -> None:
        tx, host, _rec, invite = created()
        busy = answer(invite, 486)
        tx.respond(answer(invite, 180), 0.0)
        tx.respond(busy, 0.1)
        host.take()
        tx.receive(invite, UDP, 0.3)
        self.assertEqual(host.take(), [bytes(busy)])
        self.assertEqual(tx.timer_at(), 0.6)

    def test_ack_confirms_stops_g_and_h_and_starts_i(self) -> None:
        tx, host, rec, invite = created()
        busy = answer(invite, 486)
        tx.respond(busy, 0.0)
        tx.handle_timer(0.5)
        host.take()
        tx.receive(ack_for(invite, busy), UDP, 0.9)
        self.assertIs(tx.state, State.CONFIRMED)
        self.assertEqual(tx.timer_at(), 5.9)  # T4
        # §17.2.1: Confirmed absorbs further ACKs (and INVITE retransmissions).
        tx.receive(ack_for(invite, busy), UDP, 1.0)
        tx.receive(invite, UDP, 1.1)
        tx.transport_error(1.2)
        self.assertEqual(run_timers(tx), [5.9])
        self.assertIs(tx.state, State.TERMINATED)
        self.assertEqual(host.sent, [])
        self.assertEqual(host.acks, [])  # the ACK for a non-2xx stays in the transaction
        self.assertEqual(rec.events, [])

    def test_reliable_transport_no_g_and_i_is_zero(self) -> None:
        tx, host, _rec, invite = created(TCP)
        busy = answer(invite, 603)
        tx.respond(busy, 0.0)
        self.assertEqual(tx.timer_at(), 32.0)  # H only
        tx.receive(ack_for(invite, busy), TCP, 0.1)
        self.assertIs(tx.state, State.TERMINATED)
        self.assertEqual(host.ended, [tx])
        self.assertEqual(len(host.take()), 1)

    def test_timer_h_on_reliable_transport(self) -> None:
        tx, _host, rec, invite = created(TCP)
        tx.respond(answer(invite, 603), 0.0)
        self.assertEqual(run_timers(tx), [32.0])
        self.assertEqual(rec.events, [("timeout", None)])

    def test_transport_error_ends_it(self) -> None:
        tx, _host, rec, invite = created()
        tx.respond(answer(invite, 486), 0.0)
        tx.transport_error(0.1)
        self.assertIs(tx.state, State.TERMINATED)
        self.assertEqual(rec.events, [("transport error", None)])

    def test_no_more_responses_after_a_non_2xx(self) -> None:
        tx, host, _rec, invite = created()
        tx.respond(answer(invite, 486), 0.0)
        for status in (180, 200, 500):
            with self.assertRaises(LocalProtocolError) as caught:
                tx.respond(answer(invite, status), 0.1)
        self.assertEqual(
            caught.exception.message, "IST: 300-699 from TU is not allowed in state Completed"
        )
        self.assertEqual(len(host.take()), 1)

    def test_request_kept_as_bytes(self) -> None:
        tx, _host, _rec, invite = created()
        tx.respond(answer(invite, 486), 0.0)
        self.assertIsNot(tx.request, invite)
        self.assertEqual(bytes(tx.request), bytes(invite))


class AcceptedTests(SynchronousTestCase):
    """RFC 6026 §7.1, §8.5-8.7."""

    def test_2xx_enters_accepted_with_timer_l(self) -> None:
        tx, host, _rec, invite = created()
        ok = answer(invite, 200)
        tx.respond(ok, 1.0)
        self.assertIs(tx.state, State.ACCEPTED)
        self.assertEqual(tx.timer_at(), 33.0)
        self.assertEqual(host.take(), [bytes(ok)])
        self.assertEqual(tx.to_tag, "a6c85cf")

    def test_invite_retransmission_absorbed_and_ack_to_tu(self) -> None:
        tx, host, rec, invite = created()
        tx.respond(answer(invite, 200), 0.0)
        host.take()
        tx.receive(invite, UDP, 0.5)
        self.assertEqual(host.sent, [])
        ack = ack_for(invite, answer(invite, 200))
        tx.receive(ack, UDP, 0.6)
        tx.receive(ack, UDP, 0.7)
        self.assertEqual(host.acks, [(ack, UDP, 0.6), (ack, UDP, 0.7)])
        self.assertIs(tx.state, State.ACCEPTED)
        self.assertEqual(rec.events, [])

    def test_tu_retransmits_the_2xx_through_it_until_timer_l(self) -> None:
        tx, host, _rec, invite = created()
        ok = answer(invite, 200)
        tx.respond(ok, 0.0)
        tx.respond(ok, 0.5)
        tx.respond(ok, 1.5)
        self.assertEqual(host.take(), [bytes(ok)] * 3)
        for status in (180, 486):
            with self.assertRaises(LocalProtocolError):
                tx.respond(answer(invite, status), 2.0)
        self.assertEqual(run_timers(tx), [32.0])
        self.assertIs(tx.state, State.TERMINATED)
        self.assertEqual(host.ended, [tx])
        # The TU's last retransmission races Timer L: dropped, not an error.
        tx.respond(ok, 32.0)
        self.assertEqual(host.sent, [])

    def test_transport_error_informs_tu_and_stays(self) -> None:
        tx, _host, rec, invite = created(WS)
        tx.respond(answer(invite, 200), 0.0)
        tx.transport_error(0.1)
        self.assertIs(tx.state, State.ACCEPTED)
        self.assertEqual(rec.events, [("transport error", None)])

    def test_accepted_on_reliable_transport_still_waits_timer_l(self) -> None:
        tx, _host, _rec, invite = created(TCP)
        tx.respond(answer(invite, 200), 0.0)
        self.assertEqual(tx.timer_at(), 32.0)


class CapturedTests(SynchronousTestCase):
    def test_jssip_invite_401_ack(self) -> None:
        # JsSIP's real INVITE, our 401, JsSIP's real ACK for it: the handshake completes.
        invite = parse_request(load("jssip-mock/005-sent-INVITE.txt"))
        tx, host, rec, _ = created(WS, invite=invite)
        tx.respond(answer(invite, 401, to_tag="9917a369"), 0.0)
        self.assertEqual(tx.timer_at(), 32.0)
        tx.receive(parse_request(load("jssip-mock/007-sent-ACK.txt")), WS, 0.05)
        self.assertIs(tx.state, State.TERMINATED)
        self.assertEqual(len(host.take()), 1)
        self.assertEqual((host.acks, rec.events), ([], []))
