"""INVITE client transaction: RFC 3261 §17.1.1 with RFC 6026's Accepted state."""

from __future__ import annotations

import itertools

from twisted.trial.unittest import SynchronousTestCase

from pbx.core.errors import LocalProtocolError
from pbx.sip.flow import Flow
from pbx.sip.message import Request
from pbx.sip.transaction.base import Event, State, TimerConfig
from pbx.sip.transaction.ict import (
    EVENTS,
    STATES,
    TRANSITIONS,
    InviteClientTransaction,
    build_ack,
)

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
    flow: Flow = UDP, config: TimerConfig | None = None, invite: Request | None = None
) -> tuple[InviteClientTransaction, FakeHost, Recorder, Request]:
    invite = request("INVITE") if invite is None else invite
    host = FakeHost(config)
    tx = InviteClientTransaction(invite, flow, ("z9hG4bKnashds8", "INVITE"), host)
    recorder = Recorder()
    recorder.attach(tx)
    tx.start(0.0)
    return tx, host, recorder, invite


def run_timers(tx: InviteClientTransaction, limit: int = 100) -> list[float]:
    """Fire the transaction's timers one at a time at their exact times; the times."""
    times = []
    for _ in range(limit):
        at = tx.timer_at()
        if at is None:
            break
        times.append(at)
        tx.handle_timer(at)
    return times


class TransitionTableTests(SynchronousTestCase):
    """Every (state, event) pair does what the table says or raises LocalProtocolError."""

    def in_state(self, state: State) -> tuple[InviteClientTransaction, Request]:
        tx, _host, _rec, invite = started()
        status = {State.PROCEEDING: 180, State.COMPLETED: 486, State.ACCEPTED: 200}.get(state)
        if status is not None:
            tx.receive(received(invite, status), 0.1)
        if state is State.TERMINATED:
            tx.terminate(0.1)
        self.assertIs(tx.state, state)
        return tx, invite

    def apply(self, tx: InviteClientTransaction, invite: Request, event: Event) -> None:
        statuses = {Event.RECV_1XX: 183, Event.RECV_2XX: 200, Event.RECV_3XX_6XX: 603}
        if event in statuses:
            tx.receive(received(invite, statuses[event]), 0.2)
        elif event is Event.TRANSPORT_ERROR:
            tx.transport_error(0.2)
        elif event is Event.TU_TERMINATE:
            tx.terminate(0.2)
        else:
            # A timer firing: fed straight into the table, as _settle would once it is due.
            tx._on_input(event, 0.2)

    def test_table_uses_this_machines_vocabulary(self) -> None:
        self.assertLessEqual(set(TRANSITIONS), set(itertools.product(STATES, EVENTS)))
        self.assertLessEqual({nxt for _action, nxt in TRANSITIONS.values()}, set(STATES))

    def test_network_inputs_never_raise_in_a_live_state(self) -> None:
        network = (Event.RECV_1XX, Event.RECV_2XX, Event.RECV_3XX_6XX, Event.TRANSPORT_ERROR)
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


class CallingTests(SynchronousTestCase):
    def test_start_sends_the_invite_and_arms_a_and_b(self) -> None:
        tx, host, _rec, invite = started()
        self.assertEqual(host.take(), [bytes(invite)])
        self.assertEqual(host.sent, [])
        self.assertEqual(tx.timer_at(), 0.5)
        self.assertEqual(host.scheduled, [0.5])
        self.assertIs(tx.state, State.CALLING)

    def test_timer_a_doubles_without_cap_until_timer_b(self) -> None:
        # §17.1.1.2: 0.5, 1, 2, 4, 8, 16 s apart; Timer B (64*T1) ends it: 7 transmissions.
        tx, host, rec, invite = started()
        self.assertEqual(run_timers(tx), [0.5, 1.5, 3.5, 7.5, 15.5, 31.5, 32.0])
        self.assertEqual(host.take(), [bytes(invite)] * 7)
        self.assertIs(tx.state, State.TERMINATED)
        self.assertEqual(rec.events, [("timeout", None)])
        self.assertEqual(host.ended, [tx])
        self.assertIsNone(tx.timer_at())

    def test_timer_values_follow_t1(self) -> None:
        tx, host, _rec, _invite = started(config=TimerConfig(t1=0.25))
        self.assertEqual(run_timers(tx), [0.25, 0.75, 1.75, 3.75, 7.75, 15.75, 16.0])
        self.assertEqual(len(host.take()), 7)

    def test_no_timer_a_on_reliable_transports(self) -> None:
        tx, host, rec, _invite = started(TCP)
        self.assertEqual(tx.timer_at(), 32.0)
        tx.handle_timer(31.9)
        self.assertIs(tx.state, State.CALLING)
        self.assertEqual(run_timers(tx), [32.0])
        self.assertEqual(len(host.take()), 1)
        self.assertEqual(rec.events, [("timeout", None)])

    def test_late_timer_call_catches_up_in_order(self) -> None:
        # A driver that wakes up late fires what is due, earliest first, and ends with B.
        tx, host, rec, _invite = started()
        tx.handle_timer(40.0)
        self.assertIs(tx.state, State.TERMINATED)
        self.assertEqual(len(host.take()), 2)
        self.assertEqual(rec.events, [("timeout", None)])

    def test_handle_timer_before_due_does_nothing(self) -> None:
        tx, host, _rec, _invite = started()
        host.take()
        tx.handle_timer(0.4999)
        self.assertEqual(host.sent, [])
        self.assertEqual(tx.timer_at(), 0.5)

    def test_transport_error(self) -> None:
        tx, host, rec, _invite = started(WS)
        tx.transport_error(1.0)
        self.assertIs(tx.state, State.TERMINATED)
        self.assertEqual(rec.events, [("transport error", None)])
        self.assertEqual(host.ended, [tx])


class ProceedingTests(SynchronousTestCase):
    def test_provisional_stops_retransmission_and_timer_b(self) -> None:
        tx, host, rec, invite = started()
        tx.handle_timer(0.5)
        tx.receive(received(invite, 100, to_tag=None), 0.6)
        self.assertIs(tx.state, State.PROCEEDING)
        self.assertIsNone(tx.timer_at())
        tx.receive(received(invite, 180), 5.0)
        tx.receive(received(invite, 183), 6.0)
        tx.handle_timer(1000.0)
        self.assertEqual(len(host.take()), 2)
        self.assertEqual(rec.events, [("response", 100), ("response", 180), ("response", 183)])
        self.assertIs(tx.state, State.PROCEEDING)

    def test_without_on_response_the_host_gets_it_with_the_transaction(self) -> None:
        tx, host, _rec, invite = started()
        tx.on_response = None
        tx.receive(received(invite, 180), 0.1)
        self.assertEqual([(r.status, t, n) for r, t, n in host.responses], [(180, tx, 0.1)])

    def test_transport_error_ends_it(self) -> None:
        # Beyond Fig. 5: Proceeding has no timer, a dead connection would leave it for ever.
        tx, host, rec, invite = started(WS)
        tx.receive(received(invite, 180), 0.1)
        tx.transport_error(3.0)
        self.assertIs(tx.state, State.TERMINATED)
        self.assertEqual(rec.events, [("response", 180), ("transport error", None)])
        self.assertEqual(host.ended, [tx])

    def test_terminate_from_tu(self) -> None:
        # §9.1: no final response 64*T1 after a CANCEL: the TU destroys the transaction.
        tx, host, rec, invite = started()
        tx.receive(received(invite, 180), 0.1)
        tx.terminate(40.0)
        self.assertIs(tx.state, State.TERMINATED)
        self.assertEqual(host.ended, [tx])
        tx.terminate(41.0)
        self.assertEqual(host.ended, [tx])
        self.assertEqual(rec.events, [("response", 180)])


class CompletedTests(SynchronousTestCase):
    def test_non_2xx_is_acked_and_timer_d_runs_32s(self) -> None:
        tx, host, rec, invite = started()
        tx.handle_timer(0.5)
        host.take()
        tx.receive(received(invite, 486), 0.7)
        self.assertIs(tx.state, State.COMPLETED)
        [ack] = host.take()
        self.assertEqual(ack, bytes(build_ack(invite, received(invite, 486))))
        self.assertEqual(tx.timer_at(), 32.7)
        # §17.1.1.2: a retransmitted final gets the ACK again and does not reach the TU.
        tx.receive(received(invite, 486), 1.0)
        tx.receive(received(invite, 486), 2.0)
        self.assertEqual(host.take(), [ack, ack])
        self.assertEqual(rec.events, [("response", 486)])
        tx.handle_timer(32.6)
        self.assertIs(tx.state, State.COMPLETED)
        tx.handle_timer(32.7)
        self.assertIs(tx.state, State.TERMINATED)
        self.assertEqual(host.sent, [])

    def test_timer_d_is_at_least_32s_and_covers_64_t1(self) -> None:
        tx, _host, _rec, invite = started(config=TimerConfig(t1=0.25))
        tx.receive(received(invite, 404), 1.0)
        self.assertEqual(tx.timer_at(), 33.0)
        tx, _host, _rec, invite = started(config=TimerConfig(t1=1.0))
        tx.receive(received(invite, 404), 1.0)
        self.assertEqual(tx.timer_at(), 65.0)

    def test_reliable_transport_acks_and_terminates_at_once(self) -> None:
        tx, host, rec, invite = started(TCP)
        host.take()
        tx.receive(received(invite, 503), 0.2)
        self.assertEqual(len(host.take()), 1)
        self.assertIs(tx.state, State.TERMINATED)
        self.assertEqual(host.ended, [tx])
        self.assertEqual(rec.events, [("response", 503)])

    def test_late_provisional_absorbed_and_fork_2xx_goes_to_tu_alone(self) -> None:
        tx, host, rec, invite = started()
        tx.receive(received(invite, 480), 0.2)
        host.take()
        tx.receive(received(invite, 180), 0.3)
        fork = received(invite, 200, to_tag="otherfork")
        tx.receive(fork, 0.4)
        self.assertEqual(host.sent, [])
        self.assertEqual(rec.events, [("response", 480)])
        self.assertEqual(host.responses, [(fork, None, 0.4)])

    def test_transport_error(self) -> None:
        tx, _host, rec, invite = started()
        tx.receive(received(invite, 480), 0.2)
        tx.transport_error(0.3)
        self.assertIs(tx.state, State.TERMINATED)
        self.assertEqual(rec.events, [("response", 480), ("transport error", None)])

    def test_request_kept_as_bytes_after_the_final_response(self) -> None:
        tx, _host, _rec, invite = started()
        tx.receive(received(invite, 486), 0.2)
        self.assertIsNot(tx.request, invite)
        self.assertEqual(bytes(tx.request), bytes(invite))
        self.assertEqual(tx.request.call_id, invite.call_id)


class AcceptedTests(SynchronousTestCase):
    """RFC 6026 §7.2, §8.4."""

    def test_2xx_enters_accepted_with_timer_m(self) -> None:
        tx, host, rec, invite = started()
        host.take()
        ok = received(invite, 200)
        tx.receive(ok, 0.4)
        self.assertIs(tx.state, State.ACCEPTED)
        self.assertEqual(rec.events, [("response", 200)])
        self.assertEqual(tx.timer_at(), 32.4)
        # No ACK from the transaction: that is the dialog layer's (§13.2.2.4).
        self.assertEqual(host.sent, [])

    def test_every_further_2xx_goes_to_the_tu_without_the_transaction(self) -> None:
        tx, host, rec, invite = started()
        tx.receive(received(invite, 180), 0.1)
        tx.receive(received(invite, 200), 2.0)
        again = received(invite, 200)
        fork = received(invite, 200, to_tag="b2")
        tx.receive(again, 2.5)
        tx.receive(fork, 2.6)
        tx.receive(received(invite, 183), 2.7)
        tx.receive(received(invite, 500), 2.8)
        tx.transport_error(2.9)
        self.assertEqual(rec.events, [("response", 180), ("response", 200)])
        self.assertEqual(host.responses, [(again, None, 2.5), (fork, None, 2.6)])
        self.assertIs(tx.state, State.ACCEPTED)
        self.assertEqual(run_timers(tx), [34.0])
        self.assertIs(tx.state, State.TERMINATED)
        self.assertEqual(host.ended, [tx])
        self.assertEqual(len(host.take()), 1)  # just the INVITE

    def test_asterisk_calling_a_browser_over_ws(self) -> None:
        # pbx in Asterisk's place: its INVITE to JsSIP, and the browser's real 100/180/200.
        base = "jssip-asterisk-incoming/"
        invite = parse_request(load(base + "005-recv-INVITE.txt"))
        tx, host, rec, _ = started(WS, invite=invite)
        self.assertEqual(host.take(), [load(base + "005-recv-INVITE.txt")])
        self.assertEqual(tx.timer_at(), 32.0)  # no Timer A on WS
        for name, now in (("006-sent-100-INVITE", 0.05), ("007-sent-180-INVITE", 0.06)):
            tx.receive(parse_response(load(base + name + ".txt")), now)
        self.assertIs(tx.state, State.PROCEEDING)
        ok = parse_response(load(base + "008-sent-200-INVITE.txt"))
        tx.receive(ok, 3.0)
        self.assertEqual(rec.events, [("response", 100), ("response", 180), ("response", 200)])
        self.assertIs(tx.state, State.ACCEPTED)
        self.assertEqual(tx.timer_at(), 35.0)


class BuildAckTests(SynchronousTestCase):
    """§17.1.1.3, checked against the ACK JsSIP sent for a real 401."""

    def test_matches_the_jssip_ack_for_the_same_401(self) -> None:
        invite = parse_request(load("jssip-mock/005-sent-INVITE.txt"))
        challenge = parse_response(load("jssip-mock/006-recv-401-INVITE.txt"))
        jssip = parse_request(load("jssip-mock/007-sent-ACK.txt"))
        ack = build_ack(invite, challenge)
        self.assertEqual(
            bytes(ack),
            b"ACK sip:600@127.0.0.1 SIP/2.0\r\n"
            b"Via: SIP/2.0/WSS 94sbnb3892jg.invalid;branch=z9hG4bK4384324\r\n"
            b"Max-Forwards: 69\r\n"
            b"From: <sip:alice@127.0.0.1>;tag=gmvnjj8p0s\r\n"
            b"To: <sip:600@127.0.0.1>;tag=9917a369\r\n"
            b"Call-ID: kk91voo21g1regihvsgc\r\n"
            b"CSeq: 1324 ACK\r\n"
            b"Content-Length: 0\r\n"
            b"\r\n",
        )
        # Every field §17.1.1.3 fixes is what JsSIP put in its own ACK.
        self.assertEqual((ack.method, ack.uri), (jssip.method, jssip.uri))
        for name in ("Via", "Max-Forwards", "From", "To", "Call-ID", "CSeq"):
            self.assertEqual(ack.headers.get_all(name), jssip.headers.get_all(name), name)

    def test_matches_the_jssip_ack_for_a_486_after_100(self) -> None:
        # pbx in JsSIP's place: its INVITE, the server's real 100 and 486, JsSIP's own ACK.
        invite = parse_request(load("jssip-mock/008-sent-INVITE.txt"))
        tx, host, rec, _ = started(WS, invite=invite)
        host.take()
        tx.receive(parse_response(load("jssip-mock/009-recv-100-INVITE.txt")), 0.1)
        tx.receive(parse_response(load("jssip-mock/010-recv-486-INVITE.txt")), 0.2)
        self.assertEqual(rec.events, [("response", 100), ("response", 486)])
        [data] = host.take()
        ack = parse_request(data)
        jssip = parse_request(load("jssip-mock/011-sent-ACK.txt"))
        self.assertEqual((ack.method, ack.uri), (jssip.method, jssip.uri))
        for name in ("Via", "Max-Forwards", "From", "To", "Call-ID", "CSeq"):
            self.assertEqual(ack.headers.get_all(name), jssip.headers.get_all(name), name)

    def test_ict_sends_that_ack(self) -> None:
        invite = parse_request(load("jssip-mock/005-sent-INVITE.txt"))
        tx, host, _rec, _ = started(WS, invite=invite)
        host.take()
        challenge = parse_response(load("jssip-mock/006-recv-401-INVITE.txt"))
        tx.receive(challenge, 0.1)
        self.assertEqual(host.take(), [bytes(build_ack(invite, challenge))])
        self.assertIs(tx.state, State.TERMINATED)  # Timer D is zero on WS

    def test_one_via_routes_copied_and_max_forwards_default(self) -> None:
        invite = request(
            "INVITE",
            extra=(
                "Route: <sip:p1.example.com;lr>",
                "Route: <sip:p2.example.com;lr>",
                "Record-Route: <sip:rr.example.com;lr>",
                "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKlower",
            ),
        )
        invite.headers.remove("Max-Forwards")
        ack = build_ack(invite, received(invite, 404, to_tag="t404"))
        self.assertEqual(ack.headers.get_all("Via"), [invite.headers.get_all("Via")[0]])
        self.assertEqual(
            ack.headers.get_all("Route"), ["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"]
        )
        self.assertNotIn("Record-Route", ack.headers)
        self.assertEqual(ack.headers.get("Max-Forwards"), "70")
        self.assertEqual(ack.to.tag, "t404")
        self.assertEqual((ack.cseq.seq, ack.cseq.method), (314159, "ACK"))
        self.assertEqual(ack.body, b"")

    def test_missing_headers_are_local_errors(self) -> None:
        invite = request("INVITE")
        response = received(invite, 404)
        no_via = request("INVITE")
        no_via.headers.remove("Via")
        with self.assertRaises(LocalProtocolError):
            build_ack(no_via, response)
        response.headers.remove("To")
        with self.assertRaises(LocalProtocolError) as caught:
            build_ack(invite, response)
        self.assertEqual(caught.exception.message, "Cannot build an ACK: no To header")
