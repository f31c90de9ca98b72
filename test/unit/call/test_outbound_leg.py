"""Tests for pbx.call.outbound_leg: the UAC of a call pbx places (RFC 3261 §9, §13-§15, §22.2).

pbx calls a desk phone and Asterisk's recorded 180/200 (test/data/call/) play the callee.
Everything crosses the real transaction layer (see ``fakes.Network``) on a Clock.
"""

from __future__ import annotations

import hashlib

from twisted.trial.unittest import SynchronousTestCase

from pbx.call.channel import Channel
from pbx.call.outbound_leg import OutboundLeg
from pbx.call.sip_leg import T1
from pbx.sdp.negotiator import MediaPolicy, SdpSession
from pbx.sip.auth import Credentials, DigestLogin, compute_response
from pbx.sip.flow import Flow
from pbx.sip.headers import Auth
from pbx.sip.message import Request
from pbx.sip.ua import build_request, new_branch
from test.unit.call.fakes import (
    DESK_POLICY,
    LOCAL_MEDIA,
    RECORDED_TO_TAG,
    TCP_FLOW,
    UDP_FLOW,
    FakeMediaLeg,
    Harness,
    edit,
    load,
    load_sip,
    reply,
    request,
)


class Outbound:
    """pbx calling the desk phone at ``flow``'s remote address; ``events`` records callbacks."""

    def __init__(self, flow: Flow = UDP_FLOW, policy: MediaPolicy = DESK_POLICY) -> None:
        self.h = Harness()
        self.network = self.h.network
        self.flow = flow
        tokens = self.h.tokens
        self.channel = Channel("SIP", "desk1", self.h.clock, outbound=True)
        self.media = FakeMediaLeg()
        self.sdp = SdpSession(policy, LOCAL_MEDIA, tokens)
        offer = self.sdp.create_offer()
        self.invite = build_request(
            "INVITE",
            "sip:desk1@127.0.0.1:47300",
            flow,
            local=flow.local,
            from_='"Alice" <sip:1001@127.0.0.1>',
            from_tag="pbxtag",
            to="<sip:desk1@127.0.0.1:47300>",
            call_id="pbxcall",
            cseq=102,
            branch=new_branch(tokens),
            contact="<sip:1001@127.0.0.1:5060>",
            extra=[("Content-Type", "application/sdp")],
            body=offer.to_bytes(),
        )
        self.leg = OutboundLeg(self.h.ctx, self.channel, self.media, self.sdp, self.invite, flow)
        self.channel.driver = self.leg
        self.channel.media = self.media
        self.events: list[object] = []
        self.leg.on_ringing = lambda: self.events.append("ringing")
        self.leg.on_progress = lambda: self.events.append("progress")
        self.leg.on_answer = lambda: self.events.append("answer")
        self.leg.on_failure = lambda *failure: self.events.append(failure)
        self.network.route_to(self.leg)
        self.leg.start()
        (sent,) = self.network.sent()
        assert isinstance(sent, Request)
        self.sent_invite = sent

    def respond(self, recorded: bytes, *edits: tuple[str, str]) -> None:
        self.network.deliver(reply(self.invite, edit(recorded, *edits)), self.flow)

    def requests(self) -> list[Request]:
        return [m for m in self.network.sent() if isinstance(m, Request)]

    def answered(self) -> Request:
        """Ringing then the recorded 200; returns our ACK."""
        self.respond(load("asterisk-180-invite.sip"))
        self.respond(load("asterisk-200-invite.sip"))
        (ack,) = self.requests()
        return ack


class OutboundProgressTests(SynchronousTestCase):
    def test_invite_goes_out_as_built(self) -> None:
        call = Outbound()
        self.assertEqual(bytes(call.sent_invite), bytes(call.invite))
        self.assertEqual(call.leg.last_message, "Tx: INVITE")

    def test_100_trying_changes_nothing_visible(self) -> None:
        call = Outbound()
        call.respond(load("asterisk-180-invite.sip"), ("180 Ringing", "100 Trying"))
        self.assertEqual((call.events, call.channel.state, call.leg.dialog), ([], "Down", None))

    def test_180_rings_and_makes_an_early_dialog(self) -> None:
        call = Outbound()
        call.respond(load("asterisk-180-invite.sip"))
        self.assertEqual((call.events, call.channel.state), (["ringing"], "Ringing"))
        assert call.leg.dialog is not None
        self.assertEqual(call.leg.dialog.id, ("pbxcall", "pbxtag", RECORDED_TO_TAG))
        self.assertTrue(call.leg.provisional)

    def test_183_with_sdp_is_early_media(self) -> None:
        call = Outbound()
        call.respond(load("asterisk-200-invite.sip"), ("200 OK", "183 Session Progress"))
        self.assertEqual(call.events, ["progress"])
        self.assertEqual([n.remote_rtp_port for n in call.media.configured], [15108])
        self.assertEqual(call.sdp.state.name, "DONE")

    def refused_early_answer(self) -> Outbound:
        call = Outbound()
        call.respond(
            load("asterisk-200-invite.sip"),
            ("200 OK", "183 Session Progress"),
            ("RTP/AVP 0 8 101", "RTP/AVP 9"),
        )
        return call

    def test_refused_early_answer_cancels(self) -> None:
        call = self.refused_early_answer()
        (cancel,) = call.requests()
        self.assertEqual(cancel.method, "CANCEL")
        reason = "answer has only G722; we offered ulaw,alaw"
        self.assertEqual(call.events[0], (58, 488, reason))
        self.assertEqual((call.channel.hangup_cause, call.channel.userfield), (58, reason))

    def test_refused_early_answer_is_not_progress(self) -> None:
        call = self.refused_early_answer()
        self.assertEqual(call.events, [(58, 488, "answer has only G722; we offered ulaw,alaw")])


class OutboundAnswerTests(SynchronousTestCase):
    def test_200_is_acked_and_the_answer_applied(self) -> None:
        call = Outbound()
        ack = call.answered()
        self.assertEqual((ack.method, ack.uri), ("ACK", "sip:100@127.0.0.1:5060"))
        self.assertEqual((ack.cseq.seq, ack.cseq.method), (102, "ACK"))
        self.assertEqual(
            (ack.from_.tag, ack.to.tag, ack.call_id), ("pbxtag", RECORDED_TO_TAG, "pbxcall")
        )
        self.assertNotEqual(ack.top_via.branch, call.invite.top_via.branch)
        self.assertEqual(ack.body, b"")
        self.assertEqual(call.events, ["ringing", "answer"])
        self.assertEqual(call.channel.state, "Up")
        (negotiated,) = call.media.configured
        self.assertEqual((negotiated.codec, negotiated.dtmf_pt), ("ulaw", 101))
        self.assertEqual(call.leg.remote_user_agent, "Asterisk PBX 20.20.1")

    def test_retransmitted_200_gets_the_very_same_ack(self) -> None:
        call = Outbound()
        ack = call.answered()
        call.respond(load("asterisk-200-invite.sip"))
        (again,) = call.requests()
        self.assertEqual(bytes(again), bytes(ack))
        self.assertEqual(call.events, ["ringing", "answer"])

    def test_200_without_sdp_is_acked_then_hung_up(self) -> None:
        call = Outbound()
        data = load("asterisk-200-invite.sip")
        call.respond(
            data.partition(b"\r\n\r\n")[0] + b"\r\n\r\n",
            ("Content-Length: 270", "Content-Length: 0"),
        )
        ack, bye = call.requests()
        self.assertEqual((ack.method, bye.method), ("ACK", "BYE"))
        self.assertEqual(call.events, [(58, 488, "No SDP answer")])
        self.assertEqual(call.channel.hangup_cause, 58)

    def test_refused_answer_in_the_200_is_acked_then_hung_up(self) -> None:
        call = Outbound()
        call.respond(load("asterisk-200-invite.sip"), ("RTP/AVP 0 8 101", "RTP/AVP 9"))
        self.assertEqual([r.method for r in call.requests()], ["ACK", "BYE"])
        (failure,) = call.events
        self.assertEqual(failure[:2], (58, 488))  # type: ignore[index]

    def test_hangup_after_answer_is_a_bye(self) -> None:
        call = Outbound()
        call.answered()
        call.channel.hangup()
        (bye,) = call.requests()
        self.assertEqual(
            (bye.method, bye.uri, bye.cseq.seq), ("BYE", "sip:100@127.0.0.1:5060", 103)
        )
        self.assertEqual(call.channel.hangup_cause, 16)

    def test_a_challenged_bye_is_sent_once_more_with_credentials(self) -> None:
        call = Outbound()
        call.leg.login = DigestLogin("pbx1", Credentials("out"))
        call.answered()
        call.channel.hangup()
        (bye,) = call.requests()
        # A real Asterisk 401 (chan_sip challenges a BYE the same way as an INVITE).
        call.network.deliver(reply(bye, load("asterisk-401-invite.sip")), call.flow)
        (again,) = call.requests()
        self.assertEqual((again.method, again.cseq.seq), ("BYE", bye.cseq.seq + 1))
        auth = Auth.parse(again.headers.get("Authorization") or "")
        ha1 = hashlib.md5(b"pbx1:asterisk:out").hexdigest()
        self.assertEqual(
            auth.params["response"], compute_response("MD5", ha1, "374b481d", "BYE", bye.uri)
        )
        # A second challenge is not answered again.
        call.network.deliver(reply(again, load("asterisk-401-invite.sip")), call.flow)
        self.assertEqual(call.requests(), [])

    def test_without_credentials_a_challenged_bye_is_left_alone(self) -> None:
        call = Outbound()
        call.answered()
        call.channel.hangup()
        (bye,) = call.requests()
        call.network.deliver(reply(bye, load("asterisk-401-invite.sip")), call.flow)
        self.assertEqual(call.requests(), [])

    def test_callee_bye(self) -> None:
        call = Outbound()
        call.answered()
        bye = request(
            edit(
                load("baresip-bye.sip"),
                (
                    "From: <sip:desk1@127.0.0.1>;tag=7761f1dc63a4e98c",
                    f"From: <sip:desk1@127.0.0.1>;tag={RECORDED_TO_TAG}",
                ),
                (
                    "To: <sip:100@127.0.0.1;transport=udp>;tag=as21ac11ec",
                    "To: <sip:1001@127.0.0.1>;tag=pbxtag",
                ),
                ("Call-ID: 8c28da1169e6b780", "Call-ID: pbxcall"),
            )
        )
        call.network.deliver(bye, call.flow)
        self.assertEqual(call.network.statuses(), [200])
        self.assertEqual(call.channel.hangup_cause, 16)
        self.assertEqual(call.events, ["ringing", "answer"])

    def test_info_dtmf_to_the_callee(self) -> None:
        call = Outbound()
        call.answered()
        call.leg.send_info_dtmf("#")
        (info,) = call.requests()
        self.assertEqual((info.method, info.cseq.seq), ("INFO", 103))
        self.assertEqual(info.body, b"Signal=#\r\nDuration=100\r\n")


class OutboundFailureTests(SynchronousTestCase):
    def test_final_responses_map_to_causes(self) -> None:
        seen = []
        for status, reason in (
            (486, "Busy Here"),
            (404, "Not Found"),
            (503, "Service Unavailable"),
            (603, "Decline"),
            (480, "Temporarily Unavailable"),
        ):
            call = Outbound()
            call.respond(
                load_sip("captures/mock-486-invite.sip"), ("486 Busy Here", f"{status} {reason}")
            )
            (ack,) = call.requests()  # the INVITE transaction's own ACK (§17.1.1.3)
            self.assertEqual((ack.method, ack.top_via.branch), ("ACK", call.invite.top_via.branch))
            seen.append(call.events[0])
            self.assertEqual(call.channel.hangup_cause, call.events[0][0])  # type: ignore[index]
            self.assertEqual(call.sdp.state.name, "NULL")
        self.assertEqual(
            seen,
            [
                (17, 486, "Busy Here"),
                (1, 404, "Not Found"),
                (34, 503, "Service Unavailable"),
                (21, 603, "Decline"),
                (19, 480, "Temporarily Unavailable"),
            ],
        )

    def test_no_answer_at_all_is_a_timeout(self) -> None:
        call = Outbound()
        call.h.clock.advance(64 * T1)
        self.assertEqual(call.events, [(18, 408, "Request Timeout")])
        self.assertEqual(call.channel.hangup_cause, 18)

    def test_connection_failure(self) -> None:
        call = Outbound(flow=TCP_FLOW)
        call.network.layer.transport_error(TCP_FLOW, call.h.now)
        self.assertEqual(call.events, [(27, 503, "Service Unavailable")])


class OutboundCancelTests(SynchronousTestCase):
    """§9.1."""

    def test_cancel_after_ringing_matches_the_invite(self) -> None:
        call = Outbound()
        call.respond(load("asterisk-180-invite.sip"))
        call.channel.hangup()
        (cancel,) = call.requests()
        self.assertEqual((cancel.method, cancel.uri), ("CANCEL", call.invite.uri))
        self.assertEqual(cancel.headers.get_all("Via"), call.invite.headers.get_all("Via"))
        for name in ("From", "To", "Call-ID"):
            self.assertEqual(cancel.headers.get(name), call.invite.headers.get(name))
        self.assertEqual((cancel.cseq.seq, cancel.cseq.method), (102, "CANCEL"))
        self.assertEqual(call.channel.hangup_cause, 16)
        call.respond(
            load_sip("captures/mock-486-invite.sip"), ("486 Busy Here", "487 Request Terminated")
        )
        self.assertEqual(call.events, ["ringing"])  # no failure report for our own CANCEL

    def test_answer_racing_our_cancel_is_acked_and_hung_up(self) -> None:
        call = Outbound()
        call.respond(load("asterisk-180-invite.sip"))
        call.channel.hangup()
        call.requests()
        call.respond(load("asterisk-200-invite.sip"))
        self.assertEqual([r.method for r in call.requests()], ["ACK", "BYE"])
        self.assertEqual(call.events, ["ringing"])

    def test_no_cancel_before_a_provisional(self) -> None:
        call = Outbound()
        call.channel.hangup()
        self.assertEqual(call.requests(), [])
        self.assertTrue(call.leg.cancel_pending)

    def test_pending_cancel_goes_with_the_first_provisional(self) -> None:
        call = Outbound()
        call.channel.hangup()
        call.respond(load("asterisk-180-invite.sip"))
        self.assertEqual([r.method for r in call.requests()], ["CANCEL"])

    def test_100_trying_allows_the_cancel(self) -> None:
        call = Outbound()
        call.respond(load("asterisk-180-invite.sip"), ("180 Ringing", "100 Trying"))
        call.channel.hangup()
        self.assertEqual([r.method for r in call.requests()], ["CANCEL"])

    def test_invite_transaction_given_up_64_t1_after_the_cancel(self) -> None:
        call = Outbound()
        call.respond(load("asterisk-180-invite.sip"))
        call.channel.hangup()
        call.h.clock.advance(64 * T1 + 1)
        self.assertEqual(len(call.network.layer), 0)
