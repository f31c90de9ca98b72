"""Tests for pbx.call.dial: ``Dial()`` as a B2BUA (app_dial semantics, ASTERISK-REFERENCE §3.4).

The caller is a real inbound call (the baresip desk phone's recorded INVITE through
``SipCalls``); the callees are answered with Asterisk's recorded 180/200. Parallel ringing,
first answer wins, early media, timeouts, either side hanging up, and ``DIALSTATUS``.
"""

from __future__ import annotations

import gc
import weakref

from twisted.trial.unittest import SynchronousTestCase

from pbx.call.channel import Channel
from pbx.call.dial import status_for
from pbx.call.dialplan_api import DialOptions, DialResult
from pbx.call.inbound_leg import InboundLeg
from pbx.call.outbound_leg import OutboundLeg
from pbx.call.transfer import Attended
from pbx.core import causes
from pbx.core.addr import Address
from pbx.core.errors import MediaError
from pbx.sdp.model import SessionDescription
from pbx.sip.flow import Flow
from pbx.sip.message import Request, Response
from pbx.sip.refer import Replaces
from test.unit.call.fakes import (
    UDP_FLOW,
    CallsHarness,
    edit,
    load,
    load_sip,
    reply,
    request,
)

CONF = """
[general]
context=public
allowguest=no
alwaysauthreject=no

[desk2]
type=friend
host=dynamic
context=phones
disallow=all
allow=ulaw,alaw

[bob]
type=friend
host=dynamic
context=phones
disallow=all
allow=alaw,ulaw

[trunk]
type=peer
host=127.0.0.5
port=5070
insecure=invite
context=from-trunk
disallow=all
allow=ulaw
"""

BOB = Address("127.0.0.1", 47310)
TRUNK = Address("127.0.0.5", 5070)


class Dial:
    """desk2 calls in; ``dial()`` starts Dial from its channel; the test plays the callees."""

    def __init__(self) -> None:
        self.h = CallsHarness(CONF, "100@phones", script=("as21ac11ec",))
        self.h.register("bob", "sip:bob@127.0.0.1:47310", BOB)
        self.h.network.deliver(
            request(edit(load("baresip-invite.sip"), ("<sip:desk1@", "<sip:desk2@"))), UDP_FLOW
        )
        self.caller: Channel = self.h.started[0][0]
        leg = self.caller.tech_pvt
        assert isinstance(leg, InboundLeg)
        self.caller_leg = leg
        self.h.network.sent()
        self.results: list[DialResult] = []

    def dial(self, *targets: str, timeout: float | None = 20, options: str = "") -> None:
        opts = DialOptions(ringback="r" in options, raw=options)
        self.caller.dial(list(targets), timeout, opts).addCallback(self.results.append)

    def out(self) -> list[tuple[Address, Request | Response]]:
        """What went out since the last look, with where to."""
        flows = [s.flow.remote for s in self.h.network.wire]
        return list(zip(flows, self.h.network.sent(), strict=True))

    def invites(self) -> dict[Address, Request]:
        found = {}
        for address, message in self.out():
            if isinstance(message, Request) and message.method == "INVITE":
                found[address] = message
        return found

    def to_caller(self) -> list[int]:
        return [m.status for a, m in self.out() if a == UDP_FLOW.remote and isinstance(m, Response)]

    def respond(self, invite: Request, to: Address, recorded: bytes, tag: str) -> None:
        """``recorded`` answers ``invite`` from ``to``, with To tag ``tag``."""
        for old in (b"tag=as21ac11ec", b"tag=8d52c78c"):
            recorded = recorded.replace(old, f"tag={tag}".encode())
        response = reply(invite, recorded)
        self.h.network.deliver(response, Flow(UDP_FLOW.kind, UDP_FLOW.local, to))

    def ring(self, invite: Request, to: Address, tag: str) -> None:
        self.respond(invite, to, load("asterisk-180-invite.sip"), tag)

    def answer(self, invite: Request, to: Address, tag: str, *edits: tuple[str, str]) -> None:
        self.respond(invite, to, edit(load("asterisk-200-invite.sip"), *edits), tag)

    def callee_bye(self, invite: Request, to: Address, tag: str) -> None:
        bye = edit(
            load("baresip-bye.sip"),
            ("From: <sip:desk1@127.0.0.1>;tag=7761f1dc63a4e98c", f"From: <{invite.uri}>;tag={tag}"),
            (
                "To: <sip:100@127.0.0.1;transport=udp>;tag=as21ac11ec",
                f"To: {invite.headers.get('From')}",
            ),
            ("Call-ID: 8c28da1169e6b780", f"Call-ID: {invite.call_id}"),
        )
        self.h.network.deliver(request(bye), Flow(UDP_FLOW.kind, UDP_FLOW.local, to))

    def callee(self, n: int = 0) -> Channel:
        return [c for c in self.h.created if c.outbound][n]


class RingingTests(SynchronousTestCase):
    def test_targets_ring_in_parallel(self) -> None:
        d = Dial()
        d.dial("SIP/bob", "SIP/trunk/100")
        invites = d.invites()
        self.assertEqual(set(invites), {BOB, TRUNK})
        self.assertEqual(invites[BOB].uri, "sip:bob@127.0.0.1:47310")
        self.assertEqual(invites[TRUNK].uri, "sip:100@127.0.0.5:5070")
        self.assertEqual(d.results, [])
        self.assertEqual([c.linkedid for c in d.h.created[1:]], [d.caller.linkedid] * 2)

    def test_first_ringing_is_passed_to_the_caller_once(self) -> None:
        d = Dial()
        d.dial("SIP/bob", "SIP/trunk/100")
        invites = d.invites()
        d.ring(invites[BOB], BOB, "b1")
        d.ring(invites[TRUNK], TRUNK, "t1")
        self.assertEqual(d.to_caller(), [180])
        self.assertEqual(d.caller.state, "Ringing")

    def test_ringback_option_rings_the_caller_at_once(self) -> None:
        d = Dial()
        d.dial("SIP/bob", options="r")
        self.assertEqual(d.to_caller(), [180])

    def test_callee_offer_is_limited_to_what_bridges_in_the_callee_order(self) -> None:
        d = Dial()
        d.dial("SIP/bob")
        offer = SessionDescription.parse(d.invites()[BOB].body)
        self.assertEqual(offer.media[0].payload_types, [8, 0, 101])  # bob prefers alaw


class AnswerTests(SynchronousTestCase):
    def answered(self) -> tuple[Dial, dict[Address, Request]]:
        d = Dial()
        d.dial("SIP/bob", "SIP/trunk/100")
        invites = d.invites()
        d.ring(invites[BOB], BOB, "b1")
        d.ring(invites[TRUNK], TRUNK, "t1")
        d.out()
        d.h.clock.advance(5)
        d.answer(invites[BOB], BOB, "b1")
        return d, invites

    def test_first_answer_wins_and_the_others_are_cancelled(self) -> None:
        d, invites = self.answered()
        sent = d.out()
        kinds = sorted(
            (str(a), m.method if isinstance(m, Request) else str(m.status)) for a, m in sent
        )
        self.assertEqual(
            kinds,
            [
                ("127.0.0.1:47300", "200"),  # the caller answered
                ("127.0.0.1:47310", "ACK"),  # bob's 200 acknowledged
                ("127.0.0.5:5070", "CANCEL"),  # the trunk is no longer wanted
            ],
        )
        bob, trunk = d.callee(0), d.callee(1)
        self.assertEqual((bob.state, trunk.hangup_cause), ("Up", 26))
        self.assertEqual(trunk.variables["HANGUPCAUSE"], "26")
        self.assertEqual(
            (d.caller.state, d.caller.bridged_to, bob.bridged_to), ("Up", bob, d.caller)
        )
        self.assertEqual(d.caller.variables["DIALEDPEERNAME"], bob.name)
        self.assertEqual(d.caller.variables["BRIDGEPEER"], bob.name)
        self.assertEqual(d.h.bridged, [(d.caller, bob)])
        (bridge,) = d.h.bridges.bridges
        self.assertEqual(bridge.legs, (d.caller.media, bob.media))
        self.assertEqual(d.results, [])

    def test_losing_callees_were_answered_elsewhere(self) -> None:
        d, _ = self.answered()
        self.assertEqual(d.callee(1).hangup_cause, 26)

    def test_caller_is_answered_with_the_callee_codec_first(self) -> None:
        d = Dial()
        d.dial("SIP/bob")
        invite = d.invites()[BOB]
        d.answer(
            invite,
            BOB,
            "b1",
            ("RTP/AVP 0 8 101", "RTP/AVP 8 101"),
            ("a=rtpmap:0 PCMU/8000\r\n", ""),
        )
        (ok,) = [m for a, m in d.out() if isinstance(m, Response)]
        self.assertEqual(SessionDescription.parse(ok.body).media[0].payload_types[0], 8)

    def test_call_goes_on_when_the_media_cannot_be_bridged(self) -> None:
        d = Dial()
        d.h.bridges.error = MediaError("no joint codec and no transcoding")
        d.dial("SIP/bob")
        invite = d.invites()[BOB]
        with self.assertLogs("pbx.call.dial", "WARNING"):
            d.answer(invite, BOB, "b1")
        self.assertEqual((d.caller.state, d.caller.bridged_to), ("Up", d.callee()))
        self.assertEqual(d.h.bridges.bridges, [])
        d.callee_bye(invite, BOB, "b1")
        self.assertEqual(d.results[0].status, "ANSWER")

    def test_an_ended_call_is_freed_by_reference_counting(self) -> None:
        # The transactions that linger 64*T1 for retransmissions (RFC 6026 Timers L and M) must
        # not keep the call: checked with the cyclic collector off.
        gc.disable()
        self.addCleanup(gc.enable)
        d = Dial()
        d.dial("SIP/bob", "SIP/trunk/100")
        invites = d.invites()
        bob, trunk = (weakref.ref(c.tech_pvt) for c in d.h.created if c.outbound)
        caller = weakref.ref(d.caller_leg)
        d.ring(invites[BOB], BOB, "b1")
        d.ring(invites[TRUNK], TRUNK, "t1")
        d.answer(invites[BOB], BOB, "b1")
        ack = edit(
            load("baresip-ack.sip"), ("<sip:desk1@", "<sip:desk2@"), ("CSeq: 45695", "CSeq: 45694")
        )
        d.h.network.deliver(request(ack), UDP_FLOW)
        del d.caller_leg
        d.callee_bye(invites[BOB], BOB, "b1")
        d.caller.hangup()
        self.assertGreater(len(d.h.network.layer), 0)
        self.assertEqual((caller(), bob()), (None, None))
        self.assertEqual((d.caller.bridged_to, d.callee().bridged_to), (None, None))
        # The losing callee waits for the final response to its CANCELled INVITE (or the §9.1
        # give-up 64*T1 later), which it must still ACK.
        self.assertIsNotNone(trunk())
        d.h.clock.advance(33)
        self.assertIsNone(trunk())

    def test_callee_hangup_ends_the_dial_with_peer_hangup(self) -> None:
        d, invites = self.answered()
        d.out()
        d.h.clock.advance(30)
        d.callee_bye(invites[BOB], BOB, "b1")
        (result,) = d.results
        self.assertEqual(
            result,
            DialResult(
                "ANSWER", 35.0, 30.0, peer_hangup=True, cause=16, peer_name=d.callee(0).name
            ),
        )
        self.assertEqual(d.h.bridges.bridges[0].stopped, 1)
        self.assertIsNone(d.caller.bridged_to)
        self.assertFalse(d.caller.gone)  # the dialplan decides what happens to the caller
        # The ended Dial no longer waits for the caller's hang-up (nothing keeps it alive).
        self.assertEqual(d.caller._hungup_waiters, [])

    def test_caller_hangup_after_the_answer_hangs_up_the_callee(self) -> None:
        d, _ = self.answered()
        d.out()
        d.h.clock.advance(10)
        d.caller.hangup()
        byes = {(a, m.method) for a, m in d.out() if isinstance(m, Request) and m.method == "BYE"}
        # The caller never ACKed our 200 here: its BYE waits for the ACK or the 64*T1 give-up
        # (RFC 3261 §15); the callee's goes at once.
        self.assertEqual(byes, {(BOB, "BYE")})
        d.h.clock.advance(32)
        later = {(a, m.method) for a, m in d.out() if isinstance(m, Request)}
        self.assertIn((UDP_FLOW.remote, "BYE"), later)
        (result,) = d.results
        self.assertEqual((result.status, result.answered_time), ("ANSWER", 10.0))
        self.assertTrue(d.h.bridges.bridges[0].stopped)

    def test_caller_hangup_after_the_answer_is_not_a_peer_hangup(self) -> None:
        d, _ = self.answered()
        d.caller.hangup(causes.NORMAL_CLEARING)
        (result,) = d.results
        self.assertFalse(result.peer_hangup)

    def test_late_answer_from_another_callee_is_hung_up(self) -> None:
        d, invites = self.answered()
        d.out()
        d.answer(invites[TRUNK], TRUNK, "t1")  # its 200 crossed our CANCEL
        sent = [(a, m.method) for a, m in d.out() if isinstance(m, Request)]
        self.assertEqual(sent, [(TRUNK, "ACK"), (TRUNK, "BYE")])
        self.assertEqual(d.caller.bridged_to, d.callee(0))

    def test_hold_from_the_caller_is_passed_to_the_callee(self) -> None:
        d, invites = self.answered()
        d.h.network.deliver(
            request(load("baresip-ack.sip").replace(b"desk1@", b"desk2@")), UDP_FLOW
        )
        d.out()
        assert d.caller_leg.peer_hold_changed is not None
        d.caller_leg.peer_hold_changed(True)
        ((address, reinvite),) = d.out()
        assert isinstance(reinvite, Request)
        self.assertEqual((address, reinvite.method), (BOB, "INVITE"))
        self.assertEqual(SessionDescription.parse(reinvite.body).media[0].direction, "sendonly")
        callee_leg = d.callee(0).tech_pvt
        assert isinstance(callee_leg, OutboundLeg) and callee_leg.peer_hold_changed is not None


class TransferTests(SynchronousTestCase):
    """Blind transfer through the hooks the SIP legs call on a REFER (the REFER itself is
    tested in test_sip_leg.py): who goes where, the bridge, the CDR hook, the other leg."""

    def bridged(self) -> tuple[Dial, Channel, list[tuple[Channel, Channel]]]:
        d = Dial()
        d.h.dialplan.extensions |= {("2003", "phones"), ("700", "parking")}
        transferred: list[tuple[Channel, Channel]] = []
        d.h.dialer.on_transferred = lambda a, b: transferred.append((a, b))
        d.dial("SIP/bob")
        self.invite = d.invites()[BOB]
        d.answer(self.invite, BOB, "b1")
        d.out()
        d.h.clock.advance(10)
        return d, d.callee(), transferred

    def test_callee_sends_the_caller_to_an_extension_of_its_context(self) -> None:
        d, bob, transferred = self.bridged()
        bob_leg = bob.tech_pvt
        assert isinstance(bob_leg, OutboundLeg) and bob_leg.blind_transfer is not None
        transfer = bob_leg.blind_transfer("2003")
        assert transfer is not None
        self.assertEqual((d.results, transferred), ([], []))  # nothing before the 202
        transfer()
        (result,) = d.results
        self.assertEqual(
            result, DialResult("ANSWER", 10.0, 10.0, cause=16, transfer=("phones", "2003"))
        )
        self.assertEqual(transferred, [(d.caller, bob)])
        self.assertEqual(d.caller.cdr_start, d.h.now)  # the continuation's CDR starts here
        self.assertTrue(d.h.bridges.bridges[0].stopped)
        self.assertEqual((d.caller.bridged_to, bob.bridged_to), (None, None))
        self.assertEqual((bob_leg.blind_transfer, d.caller_leg.blind_transfer), (None, None))
        self.assertEqual((d.caller.gone, bob.gone), (False, False))  # the leg BYEs bob later
        bob.hangup()
        self.assertFalse(d.caller.gone)
        self.assertEqual(len(d.results), 1)

    def test_transfer_context_variable_wins(self) -> None:
        d, bob, _ = self.bridged()
        bob.variables["__TRANSFER_CONTEXT"] = "parking"
        assert isinstance(bob.tech_pvt, OutboundLeg) and bob.tech_pvt.blind_transfer is not None
        self.assertIsNone(bob.tech_pvt.blind_transfer("2003"))
        transfer = bob.tech_pvt.blind_transfer("700")
        assert transfer is not None
        transfer()
        self.assertEqual(d.results[0].transfer, ("parking", "700"))

    def test_unknown_extension_changes_nothing(self) -> None:
        d, bob, transferred = self.bridged()
        assert isinstance(bob.tech_pvt, OutboundLeg) and bob.tech_pvt.blind_transfer is not None
        assert d.caller_leg.blind_transfer is not None
        with self.assertLogs("pbx.call.dial", "INFO") as logs:
            self.assertIsNone(bob.tech_pvt.blind_transfer("2099"))
            self.assertIsNone(d.caller_leg.blind_transfer("2099"))
        self.assertIn("to '2099@phones' refused: no such extension", logs.output[0])
        self.assertEqual((d.results, transferred, d.h.started[1:]), ([], [], []))
        self.assertEqual(d.caller.bridged_to, bob)

    def test_caller_sends_the_callee_into_the_dialplan(self) -> None:
        d, bob, transferred = self.bridged()
        assert d.caller_leg.blind_transfer is not None
        transfer = d.caller_leg.blind_transfer("2003")
        assert transfer is not None
        transfer()
        self.assertEqual(d.h.started[1:], [(bob, "phones", "2003")])
        self.assertIs(bob.dialer, d.h.dialer)
        self.assertEqual(bob.cdr_start, d.h.now)  # its own CDR from here
        self.assertEqual((d.caller.bridged_to, bob.bridged_to, transferred), (None, None, []))
        self.assertEqual(d.results, [])  # the caller's Dial ends when the caller leaves
        d.h.clock.advance(1)
        d.caller.hangup()
        (result,) = d.results
        self.assertEqual(
            (result.status, result.peer_hangup, result.transfer), ("ANSWER", False, None)
        )
        self.assertFalse(bob.gone)
        bob.hangup()
        self.assertEqual(len(d.results), 1)

    def test_no_transfer_once_the_dial_is_over(self) -> None:
        d, bob, _ = self.bridged()
        d.callee_bye(self.invite, BOB, "b1")
        self.assertEqual(d.results[0].peer_hangup, True)
        self.assertIsNone(d.caller_leg.blind_transfer)  # a REFER from the caller now gets 603


class AttendedTransferTests(SynchronousTestCase):
    """Attended transfer through the hooks the SIP legs call on a REFER with Replaces (the REFER
    itself is tested in test_sip_leg.py). desk2 (A) called bob (B1); bob called the trunk (C)
    from its own second call (B2); bob joins A and C."""

    def setUp(self) -> None:
        d = self.d = Dial()
        d.dial("SIP/bob")
        self.invite1 = d.invites()[BOB]
        d.answer(self.invite1, BOB, "b1")
        self.b1 = d.callee()
        b1_leg = self.b1.tech_pvt
        assert isinstance(b1_leg, OutboundLeg)
        self.b1_leg = b1_leg
        # bob's second call, to 200, which dials the trunk.
        invite = edit(
            load("baresip-invite.sip"),
            ("<sip:desk1@127.0.0.1>;tag=7761f1dc63a4e98c", "<sip:bob@127.0.0.1>;tag=bobtag2"),
            ("Call-ID: 8c28da1169e6b780", "Call-ID: bob-call-2"),
            ("UDP 127.0.0.1:47300", "UDP 127.0.0.1:47310"),
            ("0x5598df4abb30@127.0.0.1:47300", "0x5598df4abb30@127.0.0.1:47310"),
            ("branch=z9hG4bK05a5c07a84fb15f8", "branch=z9hG4bK05a5c07a84fb15f9"),
        )
        d.h.network.deliver(request(invite), Flow(UDP_FLOW.kind, UDP_FLOW.local, BOB))
        self.b2: Channel = d.h.started[1][0]
        b2_leg = self.b2.tech_pvt
        assert isinstance(b2_leg, InboundLeg) and b2_leg.dialog is not None
        self.b2_leg = b2_leg
        self.results2: list[DialResult] = []
        self.b2.dial(["SIP/trunk/100"], 20, DialOptions()).addCallback(self.results2.append)
        self.invite2 = d.invites()[TRUNK]
        d.answer(self.invite2, TRUNK, "t1")
        self.c = d.callee(1)
        d.out()
        d.h.clock.advance(10)
        self.replaces_b2 = Replaces("bob-call-2", b2_leg.dialog.local_tag, "bobtag2")
        assert b1_leg.dialog is not None
        self.replaces_b1 = Replaces(self.invite1.call_id, b1_leg.dialog.local_tag, "b1")

    def transfer(self, leg: InboundLeg | OutboundLeg, replaces: Replaces) -> Attended:
        assert leg.attended_transfer is not None
        outcome = leg.attended_transfer(replaces)
        assert isinstance(outcome, Attended), outcome
        return outcome

    def assert_joined(self, outcome: Attended) -> None:
        d, c = self.d, self.c
        # The A<->C bridge is made before the REFER is accepted (it may refuse); nothing else.
        old1, old2, joined = d.h.bridges.bridges
        self.assertEqual(joined.legs, (d.caller.media, c.media))
        self.assertEqual((old1.stopped, old2.stopped, d.caller.bridged_to), (0, 0, self.b1))
        outcome.join()
        self.assertEqual((old1.stopped, old2.stopped), (1, 1))
        self.assertEqual((d.caller.bridged_to, c.bridged_to), (c, d.caller))
        self.assertEqual((self.b1.bridged_to, self.b2.bridged_to), (None, None))
        self.assertEqual(d.caller.variables["DIALEDPEERNAME"], c.name)  # A's CDR dstchannel
        self.assertEqual(d.h.bridged[-1], (d.caller, c))
        for leg in (self.b1_leg, self.b2_leg):
            self.assertEqual((leg.attended_transfer, leg.blind_transfer), (None, None))
        c_leg = c.tech_pvt
        assert isinstance(c_leg, OutboundLeg)
        self.assertIsNotNone(c_leg.attended_transfer)  # C may transfer in turn
        self.assertEqual(c_leg.peer_hold_changed, d.caller_leg.hold)
        self.assertEqual(d.caller_leg.peer_hold_changed, c_leg.hold)
        # The transferor's legs leave (the REFER's leg hangs them up after the final NOTIFY).
        self.b1.hangup()
        self.b2.hangup()
        self.assertEqual((d.results, c.gone, d.caller.gone), ([], False, False))
        (result2,) = self.results2
        self.assertEqual((result2.status, result2.peer_name), ("ANSWER", c.name))

    def test_refer_on_the_first_call_naming_the_second(self) -> None:
        outcome = self.transfer(self.b1_leg, self.replaces_b2)
        self.assertIs(outcome.replaced, self.b2)
        self.assert_joined(outcome)

    def test_refer_on_the_second_call_naming_the_first(self) -> None:
        outcome = self.transfer(self.b2_leg, self.replaces_b1)
        self.assertIs(outcome.replaced, self.b1)
        self.assert_joined(outcome)

    def test_then_the_target_hangs_up(self) -> None:
        d = self.d
        self.assert_joined(self.transfer(self.b1_leg, self.replaces_b2))
        d.h.clock.advance(5)
        d.callee_bye(self.invite2, TRUNK, "t1")
        (result,) = d.results
        self.assertEqual(
            (result.status, result.peer_hangup, result.peer_name, result.answered_time),
            ("ANSWER", True, self.c.name, 15.0),
        )
        self.assertEqual(d.h.bridges.bridges[-1].stopped, 1)

    def test_then_the_transferee_hangs_up(self) -> None:
        d = self.d
        self.assert_joined(self.transfer(self.b1_leg, self.replaces_b2))
        d.out()
        d.caller.hangup()
        (result,) = d.results
        self.assertEqual((result.status, result.peer_hangup), ("ANSWER", False))
        self.assertEqual(self.c.hangup_cause, causes.NORMAL_CLEARING)
        sent = [(a, m.method) for a, m in d.out() if isinstance(m, Request)]
        self.assertEqual(sent, [(TRUNK, "BYE")])

    def test_unknown_dialog_is_481(self) -> None:
        assert self.b1_leg.attended_transfer is not None
        for replaces in (
            Replaces("nope", self.replaces_b2.to_tag, "bobtag2"),
            Replaces("bob-call-2", "bobtag2", self.replaces_b2.to_tag),  # tags swapped
        ):
            self.assertEqual(
                self.b1_leg.attended_transfer(replaces), (481, "Call/Transaction Does Not Exist")
            )
        self.assertEqual([b.stopped for b in self.d.h.bridges.bridges], [0, 0])

    def test_no_common_codec_is_488_and_keeps_both_calls(self) -> None:
        self.d.h.bridges.error = MediaError("cannot bridge opus with ulaw")
        assert self.b1_leg.attended_transfer is not None
        with self.assertLogs("pbx.call.dial", "INFO"):
            outcome = self.b1_leg.attended_transfer(self.replaces_b2)
        self.assertEqual(outcome, (488, "Not Acceptable Here"))
        self.assertEqual([b.stopped for b in self.d.h.bridges.bridges], [0, 0])
        self.assertEqual(self.d.caller.bridged_to, self.b1)

    def test_same_role_in_both_calls_is_501(self) -> None:
        # bob's second call (its caller leg) naming desk2's leg, also a Dial's caller.
        dialog = self.d.caller_leg.dialog
        assert dialog is not None
        replaces = Replaces(dialog.call_id, dialog.local_tag, dialog.remote_tag)
        assert self.b2_leg.attended_transfer is not None
        self.assertEqual(
            self.b2_leg.attended_transfer(replaces),
            (501, "Not Implemented (attended transfer between these calls)"),
        )

    def test_replacing_a_call_of_the_same_dial_or_an_ended_one_is_declined(self) -> None:
        dialog = self.d.caller_leg.dialog
        assert dialog is not None and self.b1_leg.attended_transfer is not None
        own = Replaces(dialog.call_id, dialog.local_tag, dialog.remote_tag)
        self.assertEqual(self.b1_leg.attended_transfer(own), (603, "Declined (No bridged channel)"))
        self.d.callee_bye(self.invite2, TRUNK, "t1")  # call 2 is over
        self.assertIsNone(self.b2_leg.attended_transfer)
        self.assertEqual(
            self.b1_leg.attended_transfer(self.replaces_b2)[:1],  # type: ignore[index]
            (603,),
        )


class EarlyMediaTests(SynchronousTestCase):
    def test_183_is_passed_on_and_bridged_early(self) -> None:
        d = Dial()
        d.dial("SIP/bob")
        invite = d.invites()[BOB]
        d.answer(invite, BOB, "b1", ("200 OK", "183 Session Progress"))
        self.assertEqual(d.to_caller(), [183])
        (bridge,) = d.h.bridges.bridges
        d.answer(invite, BOB, "b1")
        self.assertEqual(d.h.bridges.bridges, [bridge])  # the early bridge is kept
        self.assertEqual(bridge.stopped, 0)
        self.assertEqual(d.caller.bridged_to, d.callee())

    def test_ringback_option_keeps_early_media_away(self) -> None:
        d = Dial()
        d.dial("SIP/bob", options="r")
        invite = d.invites()[BOB]
        d.answer(invite, BOB, "b1", ("200 OK", "183 Session Progress"))
        self.assertEqual((d.to_caller(), d.h.bridges.bridges), ([], []))

    def test_early_bridge_stops_when_that_callee_fails(self) -> None:
        d = Dial()
        d.dial("SIP/bob", "SIP/trunk/100")
        invites = d.invites()
        d.answer(invites[BOB], BOB, "b1", ("200 OK", "183 Session Progress"))
        (bridge,) = d.h.bridges.bridges
        d.respond(
            invites[BOB],
            BOB,
            edit(
                load_sip("captures/mock-486-invite.sip"),
                ("486 Busy Here", "480 Temporarily Unavailable"),
            ),
            "b1",
        )
        self.assertEqual(bridge.stopped, 1)
        self.assertEqual(d.results, [])  # the trunk still rings


class FailureTests(SynchronousTestCase):
    def test_every_callee_busy(self) -> None:
        d = Dial()
        d.h.clock.advance(3)
        d.dial("SIP/bob", "SIP/trunk/100")
        for address, invite in d.invites().items():
            d.respond(invite, address, load_sip("captures/mock-486-invite.sip"), "x")
        (result,) = d.results
        self.assertEqual((result.status, result.cause, result.peer_name), ("BUSY", 17, ""))

    def test_refused_offer_names_the_reason_in_the_userfield(self) -> None:
        d = Dial()
        d.dial("SIP/bob")
        invite = d.invites()[BOB]
        busy = load_sip("captures/mock-486-invite.sip")
        d.respond(invite, BOB, edit(busy, ("486 Busy Here", "488 Not Acceptable Here")), "x")
        (result,) = d.results
        self.assertEqual((result.status, result.cause), ("CHANUNAVAIL", 58))
        self.assertEqual(d.caller.userfield, "Not Acceptable Here")

    def test_nobody_reachable_fails_at_once(self) -> None:
        d = Dial()
        d.dial("SIP/nobody", "SIP/desk2")  # unknown; known but not registered
        self.assertEqual(d.results, [DialResult("CHANUNAVAIL", cause=causes.SUBSCRIBER_ABSENT)])
        self.assertEqual(d.out(), [])

    def test_other_technologies_are_unavailable(self) -> None:
        d = Dial()
        d.dial("IAX2/bob", "SIP/")
        self.assertEqual(d.results, [DialResult("CHANUNAVAIL", cause=causes.CHAN_NOT_IMPLEMENTED)])

    def test_without_the_sip_technology(self) -> None:
        d = Dial()
        d.h.dialer.sip = None
        d.dial("SIP/bob")
        self.assertEqual(d.results, [DialResult("CHANUNAVAIL", cause=causes.CHAN_NOT_IMPLEMENTED)])

    def test_timeout_is_noanswer_and_cancels(self) -> None:
        d = Dial()
        d.dial("SIP/bob", timeout=20)
        invite = d.invites()[BOB]
        d.ring(invite, BOB, "b1")
        d.out()
        d.h.clock.advance(20)
        sent = [(a, m.method) for a, m in d.out() if isinstance(m, Request)]
        self.assertEqual(sent, [(BOB, "CANCEL")])
        self.assertEqual(d.results, [DialResult("NOANSWER", 20.0, 0.0, cause=causes.NO_ANSWER)])
        self.assertEqual(d.callee().hangup_cause, causes.NO_ANSWER)
        self.assertFalse(d.caller.gone)

    def test_caller_hangup_before_answer_is_cancel(self) -> None:
        d = Dial()
        d.dial("SIP/bob", timeout=None)
        invite = d.invites()[BOB]
        d.ring(invite, BOB, "b1")
        d.out()
        d.h.clock.advance(7)
        d.caller.hangup()
        sent = sorted((str(a), m.method) for a, m in d.out() if isinstance(m, Request))
        self.assertEqual(sent, [("127.0.0.1:47310", "CANCEL")])
        self.assertEqual(d.results, [DialResult("CANCEL", 7.0, 0.0, cause=16)])

    def test_no_timeout_rings_until_someone_gives_up(self) -> None:
        d = Dial()
        d.dial("SIP/bob", timeout=None)
        d.ring(d.invites()[BOB], BOB, "b1")
        d.h.clock.advance(3600)
        self.assertEqual(d.results, [])


class StatusForTests(SynchronousTestCase):
    """app_dial's DIALSTATUS once every callee failed."""

    def test_table(self) -> None:
        cases = [
            ([causes.USER_BUSY], "BUSY"),
            ([causes.USER_BUSY, causes.CONGESTION], "BUSY"),
            ([causes.CONGESTION], "CONGESTION"),
            ([causes.CONGESTION, causes.UNALLOCATED], "CONGESTION"),
            ([causes.NO_ANSWER], "NOANSWER"),
            ([causes.SUBSCRIBER_ABSENT], "CHANUNAVAIL"),
            ([causes.UNALLOCATED, causes.CALL_REJECTED], "CHANUNAVAIL"),
            ([causes.BEARERCAPABILITY_NOTAVAIL], "CHANUNAVAIL"),
            ([], "CHANUNAVAIL"),
        ]
        self.assertEqual([(f, status_for(f)) for f, _ in cases], cases)

    def test_app_dial_handle_cause(self) -> None:
        cases = [
            ([causes.NO_USER_RESPONSE], "CHANUNAVAIL"),
            ([causes.NETWORK_OUT_OF_ORDER], "CHANUNAVAIL"),
            ([causes.NORMAL_TEMPORARY_FAILURE], "CHANUNAVAIL"),
            ([causes.USER_BUSY, causes.NO_ANSWER], "NOANSWER"),
        ]
        self.assertEqual([(f, status_for(f)) for f, _ in cases], cases)
