"""Tests for pbx.call.inbound_leg, and through it the dialog machinery every leg shares
(pbx.call.sip_leg: BYE, in-dialog requests, INFO DTMF, re-INVITEs both ways, hold) — RFC 3261
§9, §12-§15.

pbx answers the baresip desk phone's recorded INVITE (test/data/call/) and receives the phone's
own recorded ACK and BYE, which match because the leg is given the To tag Asterisk used in that
call. Everything crosses the real transaction layer (see ``fakes.Network``) on a Clock. The
outbound direction is in test_outbound_leg.py.
"""

from __future__ import annotations

import itertools

from twisted.trial.unittest import SynchronousTestCase

from pbx.call.channel import Channel
from pbx.call.inbound_leg import InboundLeg
from pbx.call.sip_leg import T1
from pbx.core import causes
from pbx.core.errors import MediaError
from pbx.sdp.model import SessionDescription
from pbx.sdp.negotiator import MediaPolicy, SdpSession
from pbx.sip.flow import Flow
from pbx.sip.headers import Headers
from pbx.sip.message import Request, Response
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

PHONE_CONTACT = "sip:desk1-0x5598df4abb30@127.0.0.1:47300"
_branches = (f"z9hG4bKtest{n}" for n in itertools.count(1))


def phone_request(
    method: str,
    cseq: int,
    headers: tuple[tuple[str, str], ...] = (),
    body: bytes = b"",
) -> Request:
    """An in-dialog request from the phone: its recorded BYE with another method and CSeq."""
    req = request(
        edit(
            load("baresip-bye.sip"),
            ("BYE sip:", f"{method} sip:"),
            ("CSeq: 45696 BYE", f"CSeq: {cseq} {method}"),
            ("z9hG4bK9a62ccdabb3833b4", next(_branches)),
        )
    )
    for name, value in headers:
        req.headers.add(name, value)
    req.body = body
    return request(bytes(req))


def reinvite(cseq: int, *sdp_edits: tuple[str, str], body: bool = True) -> Request:
    """The phone's re-INVITE: its recorded INVITE in the dialog, SDP edited."""
    data = edit(
        load("baresip-invite-auth.sip"),
        (
            "To: <sip:100@127.0.0.1;transport=udp>",
            f"To: <sip:100@127.0.0.1;transport=udp>;tag={RECORDED_TO_TAG}",
        ),
        ("CSeq: 45695 INVITE", f"CSeq: {cseq} INVITE"),
        ("z9hG4bK5e442bc97fa477b3", next(_branches)),
        *sdp_edits,
    )
    req = request(data)
    if not body:
        req.body = b""
        req.headers.remove("Content-Type")
        req = request(bytes(req))
    return req


def cancel_of(invite: Request) -> Request:
    """§9.1: the CANCEL a UAC sends for ``invite``."""
    h = Headers()
    h.add("Via", invite.headers.get_all("Via")[0])
    h.add("Max-Forwards", "70")
    for name in ("From", "To", "Call-ID"):
        h.add(name, invite.headers.get(name) or "")
    h.add("CSeq", f"{invite.cseq.seq} CANCEL")
    return request(bytes(Request("CANCEL", invite.uri, h)))


def sdp_of(message: Request | Response) -> SessionDescription:
    return SessionDescription.parse(message.body)


class Inbound:
    """pbx answering the phone's INVITE on ``flow``; the leg gets the phone's requests."""

    def __init__(
        self,
        invite: Request | None = None,
        flow: Flow = UDP_FLOW,
        policy: MediaPolicy = DESK_POLICY,
    ) -> None:
        self.h = Harness(RECORDED_TO_TAG)
        self.network = self.h.network
        self.invite = invite or request(load("baresip-invite-auth.sip"))
        tx = self.network.deliver(self.invite, flow)
        assert tx is not None
        self.tx = tx
        self.channel = Channel("SIP", "desk1", self.h.clock)
        self.channel.set_state("Ring")
        self.media = FakeMediaLeg()
        self.sdp = SdpSession(policy, LOCAL_MEDIA, self.h.tokens)
        self.leg = InboundLeg(self.h.ctx, self.channel, self.media, self.sdp, self.invite, tx, flow)
        self.refused = self.leg.accept_offer()
        self.channel.driver = self.leg
        self.channel.media = self.media
        self.network.route_to(self.leg)
        self.flow = flow
        self.hold_changes: list[bool] = []
        self.leg.peer_hold_changed = self.hold_changes.append
        self.trying = self.network.statuses()  # the layer's 100 Trying

    def deliver(self, message: Request | Response) -> None:
        self.network.deliver(message, self.flow)

    def answered(self) -> Response:
        """Answer and confirm with the phone's recorded ACK; returns the 200."""
        self.leg.answer()
        (ok,) = self.network.responses()
        self.deliver(request(load("baresip-ack.sip")))
        return ok

    def sent_at(self, until: float, step: float = 0.5) -> list[tuple[float, str]]:
        """Advance the clock to ``until`` seconds after now; what went out, and when (what
        was already queued counts as sent at 0)."""
        start = self.h.now
        out: list[tuple[float, str]] = []
        while True:
            for message in self.network.sent():
                what = message.method if isinstance(message, Request) else str(message.status)
                out.append((round(self.h.now - start, 3), what))
            if self.h.now - start >= until:
                return out
            self.h.clock.advance(step)


class ProvisionalTests(SynchronousTestCase):
    def test_ringing_is_one_180_with_our_tag_and_contact(self) -> None:
        call = Inbound()
        self.assertEqual(call.trying, [100])
        call.channel.indicate("ringing")
        call.channel.indicate("ringing")
        (ringing,) = call.network.responses()
        self.assertEqual(
            (ringing.status, ringing.to.tag, ringing.body), (180, RECORDED_TO_TAG, b"")
        )
        self.assertEqual(ringing.headers.get("Contact"), "<sip:127.0.0.1:5060>")
        self.assertEqual(ringing.headers.get("Server"), "pbx-test")
        self.assertEqual(call.channel.state, "Ringing")
        self.assertEqual(call.leg.last_message, "Tx: 180")

    def test_progress_is_183_with_the_answer_and_media_configured(self) -> None:
        call = Inbound()
        call.channel.indicate("progress")
        call.channel.indicate("progress")
        (progress,) = call.network.responses()
        self.assertEqual(progress.status, 183)
        self.assertEqual(progress.headers.get("Content-Type"), "application/sdp")
        answer = sdp_of(progress)
        self.assertEqual(answer.media[0].port, 40000)
        self.assertEqual([n.codec for n in call.media.configured], ["ulaw"])
        self.assertEqual(call.channel.state, "Ring")  # early media is not ringing

    def test_200_after_early_media_repeats_the_same_answer(self) -> None:
        call = Inbound()
        call.channel.indicate("progress")
        (progress,) = call.network.responses()
        call.leg.answer()
        (ok,) = call.network.responses()
        self.assertEqual(ok.body, progress.body)
        self.assertEqual(len(call.media.configured), 1)

    def test_no_provisional_after_the_answer(self) -> None:
        call = Inbound()
        call.answered()
        call.channel.indicate("ringing")
        call.channel.indicate("progress")
        self.assertEqual(call.network.sent(), [])


class AnswerTests(SynchronousTestCase):
    def test_200_carries_contact_allow_and_the_sdp_answer(self) -> None:
        call = Inbound()
        call.h.clock.advance(2)
        fired: list[object] = []
        call.channel.answer().addCallback(fired.append)
        (ok,) = call.network.responses()
        self.assertEqual((ok.status, ok.to.tag), (200, RECORDED_TO_TAG))
        self.assertEqual(ok.headers.get("Contact"), "<sip:127.0.0.1:5060>")
        self.assertEqual(
            ok.headers.get("Allow"), "INVITE, ACK, CANCEL, OPTIONS, BYE, REGISTER, INFO, REFER"
        )
        answer = sdp_of(ok)
        self.assertEqual(answer.media[0].payload_types, [0, 8, 101])
        self.assertEqual((call.channel.state, call.channel.answered_at), ("Up", 1002.0))
        self.assertEqual(fired, [None])
        (negotiated,) = call.media.configured
        self.assertEqual((negotiated.codec, negotiated.dtmf_pt), ("ulaw", 101))
        self.assertEqual(negotiated.remote_rtp_port, 50500)

    def test_media_that_cannot_be_set_up_is_logged_not_fatal(self) -> None:
        call = Inbound()
        call.media.configure_error = MediaError("no certificate")
        with self.assertLogs("pbx.call.sip_leg", "ERROR"):
            call.leg.answer()
        self.assertEqual((call.network.statuses(), call.channel.state), ([200], "Up"))

    def test_answering_twice_sends_one_200(self) -> None:
        call = Inbound()
        call.leg.answer()
        call.leg.answer()
        self.assertEqual(call.network.statuses(), [200])

    def test_2xx_retransmitted_doubling_to_t2_until_the_ack(self) -> None:
        call = Inbound()
        call.leg.answer()
        call.network.sent()
        self.assertEqual(
            call.sent_at(12),
            [(0.5, "200"), (1.5, "200"), (3.5, "200"), (7.5, "200"), (11.5, "200")],
        )
        call.deliver(request(load("baresip-ack.sip")))
        self.assertTrue(call.leg.confirmed)
        self.assertEqual(call.leg.last_message, "Rx: ACK")
        self.assertEqual(call.sent_at(40), [])
        self.assertFalse(call.channel.gone)

    def test_ack_retransmission_is_harmless(self) -> None:
        call = Inbound()
        call.answered()
        call.deliver(request(load("baresip-ack.sip")))
        self.assertEqual((call.network.sent(), call.channel.state), ([], "Up"))

    def test_no_ack_ends_the_call_with_a_bye(self) -> None:
        call = Inbound()
        call.leg.answer()
        call.network.sent()
        sent = call.sent_at(40)
        first_bye = next(at for at, what in sent if what == "BYE")
        self.assertEqual(first_bye, 32.0)  # exactly 64*T1 (§13.3.1.4)
        self.assertEqual({w for _, w in sent}, {"200", "BYE"})
        self.assertEqual(call.channel.hangup_cause, causes.NO_USER_RESPONSE)
        self.assertEqual(call.h.forgotten, [call.leg])

    def test_no_ack_gives_up_after_64_t1(self) -> None:
        call = Inbound()
        call.leg.answer()
        call.network.sent()
        sent = call.sent_at(64 * T1)
        self.assertIn((32.0, "BYE"), sent)

    def test_2xx_retransmitted_on_reliable_transports_too(self) -> None:
        call = Inbound(flow=TCP_FLOW)
        call.leg.answer()
        call.network.sent()
        self.assertEqual(call.sent_at(2), [(0.5, "200"), (1.5, "200")])

    def test_reliable_transport_without_ack_gives_up_at_64_t1(self) -> None:
        call = Inbound(flow=TCP_FLOW)
        call.leg.answer()
        call.network.sent()
        sent = call.sent_at(32)
        self.assertEqual(sent[-1], (32.0, "BYE"))
        self.assertEqual({what for _, what in sent[:-1]}, {"200"})  # retransmitted on TCP too
        self.assertEqual(call.channel.hangup_cause, causes.NO_USER_RESPONSE)

    def test_connection_lost_before_the_ack_ends_the_call(self) -> None:
        call = Inbound(flow=TCP_FLOW)
        call.leg.answer()
        call.network.layer.transport_error(TCP_FLOW, call.h.now)
        self.assertEqual(call.channel.hangup_cause, causes.NETWORK_OUT_OF_ORDER)

    def test_connection_lost_after_the_ack_is_not_a_hangup(self) -> None:
        call = Inbound(flow=TCP_FLOW)
        call.answered()
        call.network.layer.transport_error(TCP_FLOW, call.h.now)
        self.assertFalse(call.channel.gone)


class RejectTests(SynchronousTestCase):
    def test_hangup_before_answer_maps_the_cause_to_a_final_response(self) -> None:
        seen = []
        for cause in (16, 17, 19, 1, 34, 21, 58):
            call = Inbound()
            call.channel.hangup(cause)
            (final,) = call.network.responses()
            seen.append((cause, final.status, final.reason, final.to.tag))
            self.assertEqual((call.h.forgotten, call.channel.hangup_cause), ([call.leg], cause))
        self.assertEqual(
            seen,
            [
                (16, 603, "Declined", RECORDED_TO_TAG),
                (17, 486, "Busy Here", RECORDED_TO_TAG),
                (19, 480, "Temporarily Unavailable", RECORDED_TO_TAG),
                (1, 404, "Not Found", RECORDED_TO_TAG),
                (34, 503, "Service Unavailable", RECORDED_TO_TAG),
                (21, 403, "Forbidden", RECORDED_TO_TAG),
                (58, 488, "Not Acceptable Here", RECORDED_TO_TAG),
            ],
        )

    def test_busy_and_congestion_indications_reject(self) -> None:
        for what, status, cause in (("busy", 486, 17), ("congestion", 503, 34)):
            call = Inbound()
            call.channel.indicate(what)  # type: ignore[arg-type]
            self.assertEqual(call.network.statuses(), [status])
            self.assertEqual(call.channel.hangup_cause, cause)

    def test_busy_indication_once_up_is_not_a_rejection(self) -> None:
        call = Inbound()
        call.answered()
        call.channel.indicate("busy")
        self.assertEqual((call.network.sent(), call.channel.gone), ([], False))

    def test_unacceptable_offer_is_488_with_a_warning(self) -> None:
        call = Inbound(policy=MediaPolicy("desk1", ("opus",)))
        self.assertIsNone(call.refused)  # the offer is only judged when we answer
        call.channel.answer()
        (final,) = call.network.responses()
        self.assertEqual((final.status, final.reason), (488, "Not Acceptable Here"))
        warning = final.headers.get("Warning") or ""
        self.assertTrue(warning.startswith('399 127.0.0.1 "'), warning)
        self.assertEqual(warning, f'399 127.0.0.1 "{call.channel.userfield}"')
        self.assertEqual(call.channel.userfield, "offer has only PCMU,PCMA; peer desk1 allows opus")
        self.assertEqual(call.channel.hangup_cause, causes.BEARERCAPABILITY_NOTAVAIL)
        self.assertEqual(call.media.configured, [])

    def test_unparseable_offer_is_reported_by_accept_offer(self) -> None:
        invite = request(load("baresip-invite-auth.sip"))
        invite.body = b"this is not SDP\r\n"
        call = Inbound(request(bytes(invite)))
        assert call.refused is not None
        self.assertTrue(call.refused.reason.startswith("unparseable SDP offer: "), call.refused)


class CancelTests(SynchronousTestCase):
    def test_cancel_before_answer_is_200_then_487(self) -> None:
        call = Inbound()
        call.channel.indicate("ringing")
        call.network.sent()
        call.deliver(cancel_of(call.invite))
        ok, terminated = call.network.responses()
        self.assertEqual((ok.status, ok.cseq.method, ok.to.tag), (200, "CANCEL", RECORDED_TO_TAG))
        self.assertEqual((terminated.status, terminated.cseq.method), (487, "INVITE"))
        self.assertEqual(terminated.to.tag, RECORDED_TO_TAG)
        self.assertEqual(call.channel.hangup_cause, causes.NORMAL_CLEARING)
        self.assertEqual(call.h.forgotten, [call.leg])

    def test_cancel_after_answer_only_gets_its_200(self) -> None:
        call = Inbound()
        call.answered()
        call.deliver(cancel_of(call.invite))
        self.assertEqual(call.network.statuses(), [200])
        self.assertEqual(call.channel.state, "Up")
        self.assertFalse(call.channel.gone)


class ByeTests(SynchronousTestCase):
    def test_phone_bye_is_answered_and_ends_the_channel(self) -> None:
        call = Inbound()
        call.answered()
        call.deliver(request(load("baresip-bye.sip")))
        (ok,) = call.network.responses()
        self.assertEqual((ok.status, ok.cseq.method, ok.to.tag), (200, "BYE", RECORDED_TO_TAG))
        self.assertEqual(call.channel.hangup_cause, causes.NORMAL_CLEARING)
        self.assertTrue(call.leg.terminated)
        self.assertEqual(call.h.forgotten, [call.leg])

    def test_our_bye_follows_the_dialog(self) -> None:
        call = Inbound()
        call.answered()
        call.channel.hangup()
        (bye,) = call.network.sent()
        assert isinstance(bye, Request)
        self.assertEqual((bye.method, bye.uri), ("BYE", PHONE_CONTACT))
        self.assertEqual((bye.from_.tag, bye.to.tag), (RECORDED_TO_TAG, "7761f1dc63a4e98c"))
        self.assertEqual((bye.call_id, bye.cseq.seq), ("8c28da1169e6b780", 1))
        self.assertEqual(bye.headers.get("User-Agent"), "pbx-test")
        self.assertTrue((bye.top_via.branch or "").startswith("z9hG4bK"))
        # No 200 retransmission afterwards, only the BYE's own (Timer E: nobody answers it).
        self.assertEqual({w for _, w in call.sent_at(10)}, {"BYE"})

    def test_hangup_before_the_ack_ends_the_channel_and_sends_a_bye(self) -> None:
        call = Inbound()
        call.leg.answer()
        call.network.sent()
        call.channel.hangup()
        self.assertEqual(call.channel.hangup_cause, causes.NORMAL_CLEARING)
        self.assertIn("BYE", {w for _, w in call.sent_at(40)})

    def test_bye_waits_for_the_ack(self) -> None:
        call = Inbound()
        call.leg.answer()
        call.network.sent()
        call.channel.hangup()
        self.assertEqual(call.sent_at(1), [(0.5, "200")])
        call.deliver(request(load("baresip-ack.sip")))
        self.assertEqual([m.method for m in call.network.sent() if isinstance(m, Request)], ["BYE"])

    def test_out_of_order_request_is_500(self) -> None:
        call = Inbound()
        call.answered()
        call.deliver(phone_request("BYE", 45695))
        (final,) = call.network.responses()
        self.assertEqual((final.status, final.reason), (500, "Server Internal Error"))
        self.assertFalse(call.channel.gone)


class InDialogTests(SynchronousTestCase):
    def test_options_and_bodiless_update_get_200(self) -> None:
        call = Inbound()
        call.answered()
        call.deliver(phone_request("OPTIONS", 45696))
        call.deliver(phone_request("UPDATE", 45697))
        self.assertEqual(call.network.statuses(), [200, 200])

    def test_other_methods_get_501_with_allow(self) -> None:
        call = Inbound()
        call.answered()
        call.deliver(phone_request("MESSAGE", 45696, (("Content-Type", "text/plain"),), b"hi"))
        (final,) = call.network.responses()
        self.assertEqual(final.status, 501)
        self.assertEqual(
            final.headers.get("Allow"), "INVITE, ACK, CANCEL, OPTIONS, BYE, REGISTER, INFO, REFER"
        )


class InfoDtmfTests(SynchronousTestCase):
    def digits(self, *bodies: tuple[str, bytes]) -> tuple[list[int], list[str | None]]:
        call = Inbound()
        call.answered()
        for n, (ctype, body) in enumerate(bodies):
            call.deliver(phone_request("INFO", 45696 + n, (("Content-Type", ctype),), body))
        statuses = call.network.statuses()
        got: list[str | None] = []
        for _ in bodies:
            call.channel.wait_for_digit(0.1).addCallback(got.append)
        call.h.clock.advance(1)
        return statuses, got

    def test_dtmf_relay_signal(self) -> None:
        statuses, got = self.digits(
            ("application/dtmf-relay", b"Signal=5\r\nDuration=160\r\n"),
            ("application/dtmf-relay", b"Signal= #\r\nDuration=100\r\n"),
            ("application/dtmf-relay", b"signal=a\r\n"),
        )
        self.assertEqual((statuses, got), ([200, 200, 200], ["5", "#", "A"]))

    def test_application_dtmf(self) -> None:
        statuses, got = self.digits(("application/dtmf", b"*"))
        self.assertEqual((statuses, got), ([200], ["*"]))

    def test_numeric_star_and_pound(self) -> None:
        _, got = self.digits(
            ("application/dtmf-relay", b"Signal=10\r\nDuration=100\r\n"),
            ("application/dtmf-relay", b"Signal=11\r\nDuration=100\r\n"),
        )
        self.assertEqual(got, ["*", "#"])

    def test_other_bodies_are_acknowledged_without_a_digit(self) -> None:
        statuses, got = self.digits(("application/media_control+xml", b"<media_control/>"))
        self.assertEqual((statuses, got), ([200], [None]))

    def test_send_info_dtmf_as_chan_sip(self) -> None:
        call = Inbound()
        call.answered()
        call.leg.send_info_dtmf("7", 250)
        (info,) = call.network.sent()
        assert isinstance(info, Request)
        self.assertEqual((info.method, info.uri, info.cseq.seq), ("INFO", PHONE_CONTACT, 1))
        self.assertEqual(info.headers.get("Content-Type"), "application/dtmf-relay")
        self.assertEqual(info.body, b"Signal=7\r\nDuration=250\r\n")


class ReinviteTests(SynchronousTestCase):
    """The phone's re-INVITEs: hold/unhold (RFC 3264 §8.4), refusals, glare (§14.2)."""

    def test_hold_and_unhold(self) -> None:
        call = Inbound()
        call.answered()
        call.deliver(reinvite(45696, ("a=sendrecv", "a=sendonly")))
        (ok,) = call.network.responses()
        self.assertEqual((ok.status, ok.to.tag), (200, RECORDED_TO_TAG))
        self.assertEqual(sdp_of(ok).media[0].direction, "recvonly")
        self.assertEqual((call.hold_changes, call.leg.hold_remote), ([True], True))
        self.assertFalse(call.media.configured[-1].send)
        call.deliver(reinvite(45697))
        (ok,) = call.network.responses()
        self.assertEqual(sdp_of(ok).media[0].direction, "sendrecv")
        self.assertEqual((call.hold_changes, call.leg.hold_remote), ([True, False], False))
        self.assertEqual(len(call.media.configured), 3)

    def test_same_direction_again_is_no_hold_change(self) -> None:
        call = Inbound()
        call.answered()
        call.deliver(reinvite(45696))
        self.assertEqual(call.network.statuses(), [200])
        self.assertEqual(call.hold_changes, [])

    def test_unacceptable_reoffer_is_488_and_keeps_the_call(self) -> None:
        call = Inbound()
        call.answered()
        call.deliver(reinvite(45696, ("RTP/AVP 0 8 101", "RTP/AVP 9")))
        (final,) = call.network.responses()
        self.assertEqual(final.status, 488)
        self.assertTrue((final.headers.get("Warning") or "").startswith('399 127.0.0.1 "'))
        self.assertEqual(len(call.media.configured), 1)
        self.assertEqual(call.sdp.state.name, "DONE")
        self.assertFalse(call.channel.gone)

    def test_glare_is_491(self) -> None:
        call = Inbound()
        call.answered()
        call.leg.hold(True)
        (ours,) = call.network.sent()
        call.deliver(reinvite(45696, ("a=sendrecv", "a=sendonly")))
        (final,) = call.network.responses()
        self.assertEqual((final.status, final.reason), (491, "Request Pending"))
        self.assertEqual(call.hold_changes, [])

    def test_offerless_reinvite_gets_our_offer_and_the_ack_the_answer(self) -> None:
        call = Inbound()
        call.answered()
        call.deliver(reinvite(45696, body=False))
        (ok,) = call.network.responses()
        self.assertEqual(ok.status, 200)
        self.assertEqual(sdp_of(ok).media[0].port, 40000)
        ack = phone_request(
            "ACK", 45696, (("Content-Type", "application/sdp"),), load_answer_from_phone()
        )
        call.deliver(ack)
        self.assertEqual(len(call.media.configured), 2)
        self.assertEqual(call.media.configured[-1].remote_rtp_port, 15108)

    def test_2xx_to_a_reinvite_is_retransmitted_until_the_ack(self) -> None:
        call = Inbound()
        call.answered()
        call.deliver(reinvite(45696, ("a=sendrecv", "a=sendonly")))
        call.network.sent()
        self.assertEqual(call.sent_at(1), [(0.5, "200")])


def load_answer_from_phone() -> bytes:
    """An answer to our offer: the SDP of Asterisk's recorded 200 to the phone."""
    return request_body(load("asterisk-200-invite.sip"))


def request_body(data: bytes) -> bytes:
    return data.partition(b"\r\n\r\n")[2]


class HoldTests(SynchronousTestCase):
    """pbx's own re-INVITEs (hold requested by the other side of a bridge)."""

    def held(self) -> tuple[Inbound, Request]:
        call = Inbound()
        call.answered()
        call.leg.hold(True)
        (ours,) = call.network.sent()
        assert isinstance(ours, Request)
        return call, ours

    def test_hold_sends_a_sendonly_reinvite_in_the_dialog(self) -> None:
        _, ours = self.held()
        self.assertEqual((ours.method, ours.uri, ours.cseq.seq), ("INVITE", PHONE_CONTACT, 1))
        self.assertEqual((ours.from_.tag, ours.to.tag), (RECORDED_TO_TAG, "7761f1dc63a4e98c"))
        self.assertEqual(ours.headers.get("Contact"), "<sip:127.0.0.1:5060>")
        self.assertEqual(sdp_of(ours).media[0].direction, "sendonly")

    def test_2xx_is_acked_and_the_answer_applied(self) -> None:
        call, ours = self.held()
        answer = edit(load("asterisk-200-invite.sip"), ("a=sendrecv", "a=recvonly"))
        call.deliver(reply(ours, answer))
        (ack,) = call.network.sent()
        assert isinstance(ack, Request)
        self.assertEqual((ack.method, ack.cseq.seq, ack.cseq.method), ("ACK", 1, "ACK"))
        self.assertEqual(ack.uri, "sip:100@127.0.0.1:5060")  # the 2xx's Contact
        self.assertEqual(
            (call.media.configured[-1].send, call.media.configured[-1].recv), (True, False)
        )
        call.leg.hold(False)  # and the next re-INVITE may go
        (unhold,) = call.network.sent()
        assert isinstance(unhold, Request)
        self.assertEqual((unhold.cseq.seq, sdp_of(unhold).media[0].direction), (2, "sendrecv"))

    def test_491_drops_our_offer(self) -> None:
        call, ours = self.held()
        call.deliver(
            reply(
                ours,
                edit(
                    load_sip("captures/mock-486-invite.sip"),
                    ("486 Busy Here", "491 Request Pending"),
                ),
            )
        )
        self.assertEqual(call.sdp.state.name, "DONE")
        call.network.sent()  # the ICT's ACK for the 491
        call.leg.hold(True)
        self.assertEqual(len(call.network.sent()), 1)

    def test_one_reinvite_at_a_time(self) -> None:
        call, _ = self.held()
        call.leg.hold(False)
        self.assertEqual(call.network.sent(), [])

    def test_peer_reinvite_after_ours_timed_out(self) -> None:
        call, _ = self.held()
        call.h.clock.advance(64 * T1)
        call.network.sent()
        call.deliver(reinvite(45696, ("a=sendrecv", "a=sendonly")))
        self.assertEqual(call.network.statuses(), [200])


class DelayedOfferTests(SynchronousTestCase):
    def offerless(self) -> Inbound:
        invite = request(load("baresip-invite-auth.sip"))
        invite.body = b""
        invite.headers.remove("Content-Type")
        return Inbound(request(bytes(invite)))

    def test_we_offer_in_the_200_and_the_ack_answers(self) -> None:
        call = self.offerless()
        call.leg.answer()
        (ok,) = call.network.responses()
        self.assertEqual(sdp_of(ok).media[0].direction, "sendrecv")
        ack = request(load("baresip-ack.sip"))
        ack.headers.add("Content-Type", "application/sdp")
        ack.body = load_answer_from_phone()
        call.deliver(request(bytes(ack)))
        (negotiated,) = call.media.configured
        self.assertEqual((negotiated.codec, negotiated.remote_rtp_port), ("ulaw", 15108))
        self.assertTrue(call.leg.confirmed)

    def test_refused_answer_in_the_ack_hangs_up(self) -> None:
        call = self.offerless()
        call.leg.answer()
        call.network.sent()
        ack = request(load("baresip-ack.sip"))
        ack.headers.add("Content-Type", "application/sdp")
        ack.body = edit(
            load("asterisk-200-invite.sip"), ("RTP/AVP 0 8 101", "RTP/AVP 9")
        ).partition(b"\r\n\r\n")[2]
        call.deliver(request(bytes(ack)))
        (bye,) = call.network.sent()
        assert isinstance(bye, Request)
        self.assertEqual(bye.method, "BYE")
        self.assertEqual(call.channel.hangup_cause, causes.BEARERCAPABILITY_NOTAVAIL)
