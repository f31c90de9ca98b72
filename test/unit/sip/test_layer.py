"""The transaction layer: matching (§17.1.3, §17.2.3, RFC 2543), hand-off, timers, memory."""

from __future__ import annotations

import gc
import random
import tracemalloc
from collections import Counter

from twisted.trial.unittest import SynchronousTestCase

from pbx.core.addr import Address, TransportKind
from pbx.core.errors import LocalProtocolError
from pbx.sip.flow import Flow
from pbx.sip.message import Request, Response, parse_message
from pbx.sip.transaction.base import (
    ClientTransaction,
    Send,
    ServerTransaction,
    State,
    Timer,
    TimerConfig,
)
from pbx.sip.transaction.ict import InviteClientTransaction
from pbx.sip.transaction.ist import InviteServerTransaction
from pbx.sip.transaction.layer import TransactionLayer
from pbx.sip.transaction.nict import NonInviteClientTransaction
from pbx.sip.transaction.nist import NonInviteServerTransaction

from .tx_support import (
    TCP,
    UDP,
    WS,
    Recorder,
    ack_for,
    answer,
    load,
    parse_request,
    parse_response,
    received,
    request,
)


class FakeTU:
    """Records every call; ``reply`` lets a test answer synchronously from request_received."""

    def __init__(self) -> None:
        self.requests: list[tuple[Request, Flow, ServerTransaction | None, float]] = []
        self.responses: list[tuple[Response, ClientTransaction | None, float]] = []
        self.reply: int | None = None

    def request_received(
        self, request: Request, flow: Flow, tx: ServerTransaction | None, now: float
    ) -> None:
        self.requests.append((request, flow, tx, now))
        if self.reply is not None and tx is not None:
            tx.respond(answer(request, self.reply), now)

    def response_received(
        self, response: Response, tx: ClientTransaction | None, now: float
    ) -> None:
        self.responses.append((response, tx, now))

    @property
    def methods(self) -> list[tuple[str, bool]]:
        """(method, had a transaction) per request received."""
        return [(r.method, tx is not None) for r, _f, tx, _n in self.requests]


def layer_with_tu() -> tuple[TransactionLayer, FakeTU]:
    tu = FakeTU()
    return TransactionLayer(tu), tu


def copy(message: Request) -> Request:
    """The same bytes again, as a retransmission arrives."""
    again = parse_message(bytes(message))
    assert isinstance(again, Request)
    return again


def statuses(outputs: list[Send]) -> list[str]:
    return [o.data.split(b"\r\n", 1)[0].decode() for o in outputs]


def advance(layer: TransactionLayer, until: float) -> None:
    """Fire every timer due up to ``until`` at its own time, as a punctual reactor would."""
    while (at := layer.timer_at()) is not None and at <= until:
        layer.handle_timer(at)


class ServerMatchingTests(SynchronousTestCase):
    """§17.2.3: branch + sent-by + method, ACK matched to INVITE."""

    def test_new_request_creates_a_server_transaction_for_the_tu(self) -> None:
        layer, tu = layer_with_tu()
        register = request("REGISTER")
        layer.receive(register, UDP, 1.0)
        [(req, flow, tx, now)] = tu.requests
        self.assertIs(req, register)
        self.assertEqual((flow, now), (UDP, 1.0))
        self.assertIsInstance(tx, NonInviteServerTransaction)
        assert tx is not None
        self.assertIs(tx.state, State.TRYING)
        self.assertEqual(tx.response_flow, UDP)
        self.assertEqual(len(layer), 1)
        self.assertEqual(layer.outputs(), [])  # no 100 for a non-INVITE (§17.2.2)

    def test_retransmissions_are_absorbed_and_answered(self) -> None:
        layer, tu = layer_with_tu()
        register = request("REGISTER")
        layer.receive(register, UDP, 0.0)
        layer.receive(copy(register), UDP, 0.5)
        self.assertEqual(len(tu.requests), 1)
        self.assertEqual(layer.outputs(), [])
        tx = tu.requests[0][2]
        assert tx is not None
        ok = answer(register, 200)
        tx.respond(ok, 0.6)
        layer.receive(copy(register), UDP, 1.5)
        self.assertEqual(layer.outputs(), [Send(bytes(ok), UDP), Send(bytes(ok), UDP)])
        self.assertEqual(len(tu.requests), 1)

    def test_the_key_is_branch_sent_by_and_method(self) -> None:
        layer, tu = layer_with_tu()
        layer.receive(request("OPTIONS", sent_by="atlanta.example.com:5062"), UDP, 0.0)
        # Same: host names compare case-insensitively.
        layer.receive(request("OPTIONS", sent_by="Atlanta.EXAMPLE.com:5062"), UDP, 0.1)
        # Different: another sent-by host, another port, no port, another branch, another method.
        layer.receive(request("OPTIONS", sent_by="biloxi.example.com:5062"), UDP, 0.2)
        layer.receive(request("OPTIONS", sent_by="atlanta.example.com:5070"), UDP, 0.3)
        layer.receive(request("OPTIONS", sent_by="atlanta.example.com"), UDP, 0.4)
        layer.receive(request("OPTIONS", branch="z9hG4bKother"), UDP, 0.5)
        layer.receive(request("INFO", sent_by="atlanta.example.com:5062"), UDP, 0.6)
        self.assertEqual([now for _r, _f, _t, now in tu.requests], [0.0, 0.2, 0.3, 0.4, 0.5, 0.6])
        self.assertEqual(len(layer), 6)

    def test_cancel_has_its_own_transaction_and_finds_the_invite(self) -> None:
        layer, tu = layer_with_tu()
        invite = request("INVITE")
        layer.receive(invite, UDP, 0.0)
        cancel = request("CANCEL")
        layer.receive(cancel, UDP, 1.0)
        self.assertEqual(tu.methods, [("INVITE", True), ("CANCEL", True)])
        ist, nist = tu.requests[0][2], tu.requests[1][2]
        self.assertIsInstance(nist, NonInviteServerTransaction)
        self.assertIs(layer.find_invite(cancel), ist)
        self.assertIsNone(layer.find_invite(request("CANCEL", branch="z9hG4bKunknown")))
        self.assertIsNone(layer.find_invite(request("CANCEL", sent_by="10.0.0.9:5060")))
        # The CANCEL NIST itself is not an INVITE transaction.
        self.assertIsNone(layer.find_invite(request("CANCEL", branch="z9hG4bKx", cseq=1)))

    def test_ack_for_a_non_2xx_ends_the_handshake_in_the_transaction(self) -> None:
        layer, tu = layer_with_tu()
        tu.reply = 486
        invite = request("INVITE")
        layer.receive(invite, UDP, 0.0)
        ist = tu.requests[0][2]
        assert ist is not None
        layer.receive(ack_for(invite, answer(invite, 486)), UDP, 0.1)
        self.assertIs(ist.state, State.CONFIRMED)
        self.assertEqual(tu.methods, [("INVITE", True)])
        self.assertEqual(statuses(layer.outputs()), ["SIP/2.0 486 Busy Here"])
        layer.handle_timer(5.1)  # Timer I
        self.assertEqual(len(layer), 0)

    def test_ack_for_a_2xx_goes_to_the_tu_without_a_transaction(self) -> None:
        layer, tu = layer_with_tu()
        tu.reply = 200
        invite = request("INVITE")
        layer.receive(invite, UDP, 0.0)
        ack = ack_for(invite, answer(invite, 200), branch="z9hG4bKack2xx")
        layer.receive(ack, UDP, 0.1)
        self.assertEqual(tu.requests[1], (ack, UDP, None, 0.1))
        self.assertEqual(len(layer), 1)  # the IST waits in Accepted

    def test_ack_reusing_the_invite_branch_passes_through_accepted(self) -> None:
        layer, tu = layer_with_tu()
        tu.reply = 200
        invite = request("INVITE")
        layer.receive(invite, UDP, 0.0)
        ack = ack_for(invite, answer(invite, 200))
        layer.receive(ack, UDP, 0.1)
        self.assertEqual(tu.requests[1], (ack, UDP, None, 0.1))
        # An INVITE retransmission in Accepted reaches nobody and gets nothing (RFC 6026 §8.7).
        layer.outputs()
        layer.receive(copy(invite), UDP, 0.2)
        self.assertEqual((len(tu.requests), layer.outputs()), (2, []))

    def test_stray_ack(self) -> None:
        layer, tu = layer_with_tu()
        ack = request("ACK")
        layer.receive(ack, UDP, 0.0)
        self.assertEqual(tu.requests, [(ack, UDP, None, 0.0)])
        self.assertEqual(len(layer), 0)

    def test_responses_follow_the_response_route(self) -> None:
        # §18.2.2 / RFC 3581 by default: no rport, so the Via's port at the source address.
        layer, tu = layer_with_tu()
        tu.reply = 200
        layer.receive(request("OPTIONS", sent_by="127.0.0.2:5070"), UDP, 0.0)
        [out] = layer.outputs()
        self.assertEqual(out.flow, Flow(TransportKind.UDP, UDP.local, Address("127.0.0.2", 5070)))
        # A policy given to the layer (chan_sip nat=force_rport: always the packet source).
        tu2 = FakeTU()
        tu2.reply = 200
        forced = TransactionLayer(tu2, response_route=lambda req, flow: flow)
        forced.receive(request("OPTIONS", sent_by="127.0.0.2:5070"), UDP, 0.0)
        self.assertEqual([o.flow for o in forced.outputs()], [UDP])


class Rfc2543MatchingTests(SynchronousTestCase):
    """§17.2.3 fallback for requests whose branch lacks the magic cookie."""

    def test_invite_retransmission_and_ack_by_to_tag(self) -> None:
        layer, tu = layer_with_tu()
        tu.reply = 486
        invite = request("INVITE", branch=None)
        layer.receive(invite, UDP, 0.0)
        layer.receive(copy(invite), UDP, 0.3)
        self.assertEqual(statuses(layer.outputs()), ["SIP/2.0 486 Busy Here"] * 2)
        ist = tu.requests[0][2]
        assert isinstance(ist, InviteServerTransaction)
        self.assertEqual(ist.to_tag, "a6c85cf")
        # An ACK with another To tag acknowledges some other response: not this transaction.
        wrong = ack_for(invite, answer(invite, 486, to_tag="other"))
        layer.receive(wrong, UDP, 0.6)
        self.assertIs(ist.state, State.COMPLETED)
        layer.receive(ack_for(invite, answer(invite, 486)), UDP, 0.7)
        self.assertIs(ist.state, State.CONFIRMED)
        self.assertEqual(tu.methods, [("INVITE", True), ("ACK", False)])

    def test_a_branch_without_the_cookie_is_rfc_2543(self) -> None:
        layer, tu = layer_with_tu()
        layer.receive(request("OPTIONS", branch="1234"), UDP, 0.0)
        layer.receive(request("OPTIONS", branch="1234"), UDP, 0.1)
        # Every field takes part: Call-ID, CSeq, From tag, To tag, Request-URI, top Via, method.
        for changed in (
            request("OPTIONS", branch="1234", call_id="other@atlanta.example.com"),
            request("OPTIONS", branch="1234", cseq=2),
            request("OPTIONS", branch="1234", from_tag="f2"),
            request("OPTIONS", branch="1234", to_tag="t2"),
            request("OPTIONS", branch="1234", uri="sip:carol@biloxi.example.com"),
            request("OPTIONS", branch="5678"),
            request("INFO", branch="1234"),
        ):
            layer.receive(changed, UDP, 0.2)
        self.assertEqual(len(tu.requests), 8)

    def test_reinvite_ack_for_2xx_and_cancel(self) -> None:
        layer, tu = layer_with_tu()
        reinvite = request("INVITE", branch=None, to_tag="dlg1")
        layer.receive(reinvite, UDP, 0.0)
        ist = tu.requests[0][2]
        assert isinstance(ist, InviteServerTransaction)
        cancel = request("CANCEL", branch=None, to_tag="dlg1")
        self.assertIs(layer.find_invite(cancel), ist)
        ist.respond(answer(reinvite, 200, to_tag="dlg1"), 0.1)
        ack = ack_for(reinvite, answer(reinvite, 200, to_tag="dlg1"))
        layer.receive(ack, UDP, 0.2)
        self.assertEqual(tu.requests[-1], (ack, UDP, None, 0.2))
        self.assertIs(ist.state, State.ACCEPTED)


class TryingResponseTests(SynchronousTestCase):
    """§17.2.1: 100 Trying unless the TU answers within 200 ms (here: within the call)."""

    def test_sent_when_the_tu_does_not_answer(self) -> None:
        layer, tu = layer_with_tu()
        invite = request("INVITE", extra=("Timestamp: 54",))
        layer.receive(invite, UDP, 0.0)
        [out] = layer.outputs()
        trying = parse_response(out.data)
        self.assertEqual((trying.status, trying.reason), (100, "Trying"))
        self.assertIsNone(trying.to.tag)  # §17.2.1: SHOULD NOT add a To tag
        self.assertEqual(trying.headers.get("Timestamp"), "54")  # §8.2.6.1
        self.assertEqual(trying.headers.get_all("Via"), invite.headers.get_all("Via"))
        # The INVITE retransmission gets the 100 again.
        layer.receive(copy(invite), UDP, 0.5)
        self.assertEqual([o.data for o in layer.outputs()], [out.data])

    def test_not_sent_when_the_tu_answered(self) -> None:
        layer, tu = layer_with_tu()
        tu.reply = 180
        layer.receive(request("INVITE"), UDP, 0.0)
        self.assertEqual(statuses(layer.outputs()), ["SIP/2.0 180 Ringing"])
        tu.reply = 401
        layer.receive(request("INVITE", branch="z9hG4bKsecond"), UDP, 0.0)
        self.assertEqual(statuses(layer.outputs()), ["SIP/2.0 401 Unauthorized"])


class ClientMatchingTests(SynchronousTestCase):
    """§17.1.3: branch + CSeq method; what no transaction claims."""

    def test_send_request_picks_the_machine_and_sends(self) -> None:
        layer, _tu = layer_with_tu()
        invite, bye = request("INVITE"), request("BYE", branch="z9hG4bKbye")
        ict = layer.send_request(invite, UDP, 0.0)
        nict = layer.send_request(bye, TCP, 0.0)
        self.assertIsInstance(ict, InviteClientTransaction)
        self.assertIsInstance(nict, NonInviteClientTransaction)
        self.assertEqual(layer.outputs(), [Send(bytes(invite), UDP), Send(bytes(bye), TCP)])
        self.assertEqual(len(layer), 2)
        self.assertEqual(layer.timer_at(), 0.5)

    def test_responses_reach_their_transaction(self) -> None:
        layer, tu = layer_with_tu()
        invite = request("INVITE")
        ict = layer.send_request(invite, UDP, 0.0)
        rec = Recorder()
        rec.attach(ict)
        cancel = request("CANCEL")
        cancel_tx = layer.send_request(cancel, UDP, 0.1)
        layer.receive(received(invite, 180), UDP, 0.2)
        layer.receive(received(cancel, 200), UDP, 0.3)  # same branch, method CANCEL
        self.assertEqual(rec.events, [("response", 180)])
        # The CANCEL transaction has no on_response: the TU gets it with the transaction.
        self.assertEqual([(r.status, t) for r, t, _n in tu.responses], [(200, cancel_tx)])
        self.assertIs(cancel_tx.state, State.COMPLETED)
        self.assertIs(ict.state, State.PROCEEDING)

    def test_unclaimed_2xx_goes_to_the_tu_and_others_are_dropped(self) -> None:
        layer, tu = layer_with_tu()
        invite = request("INVITE")
        layer.receive(received(invite, 200), UDP, 0.0)
        layer.receive(received(invite, 486), UDP, 0.1)
        layer.receive(received(invite, 180), UDP, 0.2)
        no_branch = request("INVITE", branch=None)
        layer.receive(received(no_branch, 200), UDP, 0.3)
        layer.receive(received(no_branch, 404), UDP, 0.4)
        self.assertEqual(
            [(r.status, t, n) for r, t, n in tu.responses],
            [
                (200, None, 0.0),
                (200, None, 0.3),
            ],
        )
        self.assertEqual((layer.outputs(), len(layer)), ([], 0))

    def test_2xx_after_the_ict_ended_still_reaches_the_tu(self) -> None:
        layer, tu = layer_with_tu()
        invite = request("INVITE")
        ict = layer.send_request(invite, UDP, 0.0)
        rec = Recorder()
        rec.attach(ict)
        layer.receive(received(invite, 200), UDP, 0.1)
        layer.receive(received(invite, 200), UDP, 0.6)  # Accepted: to the TU alone
        layer.handle_timer(32.1)  # Timer M
        self.assertEqual(len(layer), 0)
        layer.receive(received(invite, 200), UDP, 40.0)  # no transaction at all
        self.assertEqual(rec.events, [("response", 200)])
        self.assertEqual([(t, n) for _r, t, n in tu.responses], [(None, 0.6), (None, 40.0)])

    def test_send_request_refuses_what_it_cannot_match(self) -> None:
        layer, _tu = layer_with_tu()
        cookie = "Cannot send OPTIONS: branch must start with z9hG4bK"
        cases = [
            (request("ACK"), "ACK has no client transaction: use send_stateless"),
            (request("OPTIONS", branch="1234"), cookie),
            (request("OPTIONS", branch=None), cookie),
        ]
        no_call_id = request("OPTIONS")
        no_call_id.headers.remove("Call-ID")
        cases.append((no_call_id, "Cannot send OPTIONS: Missing Call-ID header"))
        layer.send_request(request("OPTIONS"), UDP, 0.0)
        cases.append((request("OPTIONS"), "Branch z9hG4bKnashds8 is already used by a OPTIONS"))
        for req, message in cases:
            with self.assertRaises(LocalProtocolError) as caught:
                layer.send_request(req, UDP, 0.0)
            self.assertEqual(caught.exception.message, message)
        self.assertEqual(len(layer), 1)

    def test_send_stateless_and_outputs_drain(self) -> None:
        layer, _tu = layer_with_tu()
        invite = request("INVITE")
        ack = ack_for(invite, answer(invite, 200), branch="z9hG4bKack")
        layer.send_stateless(ack, WS)
        self.assertEqual(layer.outputs(), [Send(bytes(ack), WS)])
        self.assertEqual(layer.outputs(), [])
        self.assertEqual(len(layer), 0)


class ServerTimerTests(SynchronousTestCase):
    def test_invite_answered_486_without_ack_until_timer_h(self) -> None:
        # No callbacks set: the TU is not told, the failure is only logged.
        layer, tu = layer_with_tu()
        tu.reply = 486
        layer.receive(request("INVITE"), UDP, 0.0)
        advance(layer, 31.9)
        self.assertEqual(statuses(layer.outputs()), ["SIP/2.0 486 Busy Here"] * 11)
        self.assertEqual(len(layer), 1)
        self.assertEqual(layer.timer_at(), 32.0)
        layer.handle_timer(32.0)
        self.assertEqual((len(layer), layer.outputs(), layer.timer_at()), (0, [], None))

    def test_register_lingers_for_timer_j_on_udp_only(self) -> None:
        layer, tu = layer_with_tu()
        tu.reply = 200
        layer.receive(request("REGISTER"), UDP, 0.0)
        layer.receive(request("REGISTER", transport="TCP"), TCP, 0.0)
        self.assertEqual((len(layer), layer.timer_at()), (1, 32.0))
        layer.handle_timer(32.0)
        self.assertEqual(len(layer), 0)

    def test_a_stateless_challenge_leaves_nothing_behind(self) -> None:
        # RFC 3261 §8.2.7: the retransmission is a new request, answered anew by the TU.
        layer, tu = layer_with_tu()
        register = request("REGISTER")
        layer.receive(register, UDP, 0.0)
        tx = tu.requests[0][2]
        assert isinstance(tx, NonInviteServerTransaction)
        tx.respond_statelessly(answer(register, 401), 0.0)
        self.assertEqual((len(layer), layer.timer_at()), (0, None))
        layer.receive(copy(register), UDP, 0.5)
        self.assertEqual(tu.methods, [("REGISTER", True), ("REGISTER", True)])
        self.assertIsNot(tu.requests[1][2], tx)
        self.assertEqual(len(layer.outputs()), 1)


class TransportErrorTests(SynchronousTestCase):
    def test_a_closed_connection_fails_its_own_transactions(self) -> None:
        layer, tu = layer_with_tu()
        other = Flow(TransportKind.WS, WS.local, WS.remote, conn_id=8)
        ict = layer.send_request(request("INVITE", branch="z9hG4bKa"), WS, 0.0)
        nict = layer.send_request(request("MESSAGE", branch="z9hG4bKb"), WS, 0.0)
        spare = layer.send_request(request("INVITE", branch="z9hG4bKc"), other, 0.0)
        layer.receive(request("INVITE", branch="z9hG4bKd", transport="WS"), WS, 0.0)
        layer.receive(request("OPTIONS", branch="z9hG4bKe", transport="WS"), WS, 0.0)
        ist, nist = tu.requests[0][2], tu.requests[1][2]
        assert ist is not None and nist is not None
        nist.respond(answer(nist.request, 100, to_tag=None), 0.1)
        txs: list[ClientTransaction | ServerTransaction] = [ict, nict, ist, nist]
        recorders = [Recorder() for _ in txs]
        for rec, tx in zip(recorders, txs, strict=True):
            rec.attach(tx)
        layer.transport_error(WS, 1.0)
        self.assertEqual([r.events for r in recorders], [[("transport error", None)]] * 4)
        self.assertEqual(
            [tx.state for tx in (ict, nict, ist, nist, spare)],
            [State.TERMINATED, State.TERMINATED, State.PROCEEDING, State.TERMINATED, State.CALLING],
        )
        self.assertEqual(len(layer), 2)  # the IST (RFC 6026: it stays) and the other flow's

    def test_udp_flows_are_found_without_an_index(self) -> None:
        layer, _tu = layer_with_tu()
        elsewhere = Flow(TransportKind.UDP, UDP.local, Address("127.0.0.3", 5060))
        a = layer.send_request(request("OPTIONS", branch="z9hG4bKa"), UDP, 0.0)
        b = layer.send_request(request("OPTIONS", branch="z9hG4bKb"), elsewhere, 0.0)
        layer.transport_error(UDP, 0.1)
        self.assertEqual((a.state, b.state), (State.TERMINATED, State.TRYING))
        layer.transport_error(TCP, 0.2)  # nothing on it: nothing happens
        self.assertEqual(len(layer), 1)

    def test_without_callbacks_it_is_only_logged(self) -> None:
        layer, tu = layer_with_tu()
        tu.reply = 100
        layer.receive(request("MESSAGE", transport="TCP"), TCP, 0.0)
        layer.transport_error(TCP, 0.1)
        self.assertEqual(len(layer), 0)


class TimerTests(SynchronousTestCase):
    def test_idle_layer_has_no_timer(self) -> None:
        layer, _tu = layer_with_tu()
        self.assertIsNone(layer.timer_at())
        layer.handle_timer(100.0)
        self.assertIsNone(layer.timer_at())

    def test_thousands_of_transactions_fire_in_time_order(self) -> None:
        # 2,000 OPTIONS on UDP started at random instants (on a 1/64 s grid, exact in binary
        # floating point) and 500 REGISTERs answered at random instants. Every Timer E must
        # fire at its exact time and in order, every Timer F/J end its transaction (J at the
        # next linger tick).
        rng = random.Random(3261)
        layer, tu = layer_with_tu()
        expected: Counter[float] = Counter()  # retransmissions due at each instant
        ends: Counter[float] = Counter()
        retransmits = (0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5)
        starts = sorted(rng.randrange(0, 640) / 64 for _ in range(2000))
        for i, start in enumerate(starts):
            advance(layer, start)
            layer.send_request(request("OPTIONS", branch=f"z9hG4bKo{i}"), UDP, start)
            expected.update(start + offset for offset in retransmits)
            ends[start + 32.0] += 1
        for i in range(500):
            layer.receive(request("REGISTER", branch=f"z9hG4bKr{i}"), UDP, 10.0)
        answers = sorted(10.0 + rng.randrange(1, 64) / 64 for _ in tu.requests)
        for (req, _flow, tx, _now), at in zip(tu.requests, answers, strict=True):
            assert tx is not None
            advance(layer, at)
            tx.respond(answer(req, 200), at)
            ends[TimerConfig().expiry(Timer.J, False, at)] += 1
        advance(layer, 11.0)
        expected -= Counter({k: v for k, v in expected.items() if k <= 11.0})
        layer.outputs()
        # Everything due up to 11 s has fired; now step from timer to timer.
        fired: list[float] = []
        while (due := layer.timer_at()) is not None:
            live_before = len(layer)
            layer.handle_timer(due)
            fired.append(due)
            sends = sum(1 for o in layer.outputs() if o.data.startswith(b"OPTIONS"))
            self.assertEqual(sends, expected.pop(due, 0), due)
            self.assertEqual(live_before - len(layer), ends.pop(due, 0), due)
            self.assertLessEqual(len(layer._heap), 2 * len(layer) + 1024)
        self.assertEqual(fired, sorted(fired))
        self.assertEqual((sum(expected.values()), sum(ends.values()), len(layer)), (0, 0, 0))

    def test_stale_entries_are_skipped(self) -> None:
        layer, _tu = layer_with_tu()
        for i in range(200):
            invite = request("INVITE", branch=f"z9hG4bKi{i}")
            layer.send_request(invite, UDP, 0.0)
            layer.receive(received(invite, 180), UDP, 0.1)  # A and B stop: entries go stale
        self.assertEqual((len(layer), len(layer._heap)), (200, 200))
        self.assertIsNone(layer.timer_at())
        self.assertEqual(layer._heap, [])
        layer.handle_timer(1000.0)
        self.assertEqual(len(layer.outputs()), 200)  # the INVITEs, no retransmission

    def test_the_heap_is_rebuilt_when_stale_entries_pile_up(self) -> None:
        # Over TCP a final response ends a NICT at once (K = 0), leaving its Timer F entry.
        layer, _tu = layer_with_tu()
        slow = layer.send_request(request("OPTIONS", branch="z9hG4bKslow"), TCP, 0.0)
        ringing = request("INVITE", branch="z9hG4bKring")
        layer.send_request(ringing, TCP, 0.0)
        layer.receive(received(ringing, 180), TCP, 0.1)  # live, but without a timer
        sizes = []
        for i in range(1500):
            options = request("OPTIONS", branch=f"z9hG4bKf{i}")
            layer.send_request(options, TCP, 1.0)
            layer.receive(received(options, 200), TCP, 1.1)
            sizes.append(len(layer._heap))
        self.assertEqual(len(layer), 2)
        self.assertEqual(max(sizes), 2 * 3 + 1024)  # three live while the next one is pushed
        self.assertLess(sizes[-1], 1024)
        self.assertEqual(layer.timer_at(), 32.0)
        layer.handle_timer(32.0)
        self.assertIs(slow.state, State.TERMINATED)


class CapturedScenarioTests(SynchronousTestCase):
    def test_jssip_registers_and_calls_pbx_over_ws(self) -> None:
        # JsSIP's real messages; pbx answers REGISTER 401, INVITE 401, then 486.
        layer, tu = layer_with_tu()
        tu.reply = 401
        for name in ("001-sent-REGISTER", "005-sent-INVITE", "007-sent-ACK"):
            layer.receive(parse_request(load(f"jssip-mock/{name}.txt")), WS, 0.0)
        self.assertEqual(tu.methods, [("REGISTER", True), ("INVITE", True)])
        self.assertEqual(len(layer), 0)  # WS: J and I are zero
        tu.reply = None
        invite = parse_request(load("jssip-mock/008-sent-INVITE.txt"))
        layer.receive(invite, WS, 1.0)
        ist = tu.requests[-1][2]
        assert ist is not None
        ist.respond(answer(invite, 486, to_tag="8d52c78c"), 2.0)
        layer.receive(parse_request(load("jssip-mock/011-sent-ACK.txt")), WS, 2.1)
        self.assertEqual(
            statuses(layer.outputs()),
            [
                "SIP/2.0 401 Unauthorized",
                "SIP/2.0 401 Unauthorized",
                "SIP/2.0 100 Trying",
                "SIP/2.0 486 Busy Here",
            ],
        )
        self.assertEqual(len(tu.requests), 3)
        self.assertEqual(len(layer), 0)

    def test_pbx_calls_a_browser_over_ws(self) -> None:
        # pbx in Asterisk's place: INVITE, the browser's 100/180/200, ACK for 2xx, BYE, 200.
        base = "jssip-asterisk-incoming/"
        layer, tu = layer_with_tu()
        ict = layer.send_request(parse_request(load(base + "005-recv-INVITE.txt")), WS, 0.0)
        rec = Recorder()
        rec.attach(ict)
        for name in ("006-sent-100-INVITE", "007-sent-180-INVITE", "008-sent-200-INVITE"):
            layer.receive(parse_response(load(base + name + ".txt")), WS, 1.0)
        layer.receive(parse_response(load(base + "008-sent-200-INVITE.txt")), WS, 1.5)
        self.assertEqual(rec.events, [("response", 100), ("response", 180), ("response", 200)])
        self.assertEqual([(r.status, t) for r, t, _n in tu.responses], [(200, None)])
        layer.send_stateless(parse_request(load(base + "009-recv-ACK.txt")), WS)
        bye = layer.send_request(parse_request(load(base + "010-recv-BYE.txt")), WS, 5.0)
        layer.receive(parse_response(load(base + "011-sent-200-BYE.txt")), WS, 5.1)
        self.assertIs(bye.state, State.TERMINATED)
        self.assertEqual(
            [o.data for o in layer.outputs()],
            [load(base + n + ".txt") for n in ("005-recv-INVITE", "009-recv-ACK", "010-recv-BYE")],
        )
        self.assertEqual(len(layer), 1)  # the ICT, Accepted until Timer M
        layer.handle_timer(33.0)
        self.assertEqual(len(layer), 0)


class _Registrar:
    """A TU that answers every request 200 and keeps nothing."""

    def request_received(
        self, request: Request, flow: Flow, tx: ServerTransaction | None, now: float
    ) -> None:
        assert tx is not None
        tx.respond(answer(request, 200), now)

    def response_received(
        self, response: Response, tx: ClientTransaction | None, now: float
    ) -> None:
        raise AssertionError("no client transactions here")


class MemoryTests(SynchronousTestCase):
    def test_bytes_per_completed_nist(self) -> None:
        # The REGISTER rate target keeps ~50,000 NISTs in Completed (Timer J, 32 s on UDP).
        # Counted: the datagram as a transport hands it over (JsSIP's REGISTER, 553 bytes),
        # everything the layer and the transaction keep, and the 200 kept for retransmissions.
        template = load("jssip-mock/001-sent-REGISTER.txt").replace(
            b"WSS 94sbnb3892jg.invalid", b"UDP 127.0.0.2:5062"
        )
        layer = TransactionLayer(_Registrar())
        count = 500
        gc.collect()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            for i in range(count):
                data = template.replace(b"z9hG4bK5723442", b"z9hG4bK%07d" % i)
                message = parse_message(data)
                message.validate()
                layer.receive(message, UDP, i / 1000)
                layer.outputs()
            del data, message
            gc.collect()
            per_nist = (tracemalloc.get_traced_memory()[0] - before) / count
        finally:
            tracemalloc.stop()
        self.assertEqual(len(layer), count)
        self.assertLess(per_nist, 1800)
