"""Tests for pbx.call.sip_calls: the SIP technology (ASTERISK-REFERENCE §1.2, §1.6).

Inbound INVITEs are the baresip desk phone's recorded ones, edited per case (From user, source
address, Request-URI, SDP); the expected responses are chan_sip's. Outbound: dial-string
resolution and the INVITE ``originate`` builds.
"""

from __future__ import annotations

import hashlib

from twisted.trial.unittest import SynchronousTestCase

from pbx.call.channel import Channel
from pbx.call.credentials import realm_logins
from pbx.call.inbound_leg import InboundLeg
from pbx.call.outbound_leg import OutboundLeg
from pbx.config.sip_values import AuthCredential
from pbx.core import causes
from pbx.core.addr import Address, TransportKind
from pbx.core.errors import MediaError
from pbx.sdp.model import SessionDescription
from pbx.sip.auth import compute_response
from pbx.sip.flow import Flow
from pbx.sip.headers import Auth
from pbx.sip.message import Request, Response
from test.unit.call.fakes import (
    PBX_UDP,
    RECORDED_TO_TAG,
    UDP_FLOW,
    WS_FLOW,
    CallsHarness,
    edit,
    load,
    reply,
    request,
)

CONF = """
[general]
context=public
allowguest=no
alwaysauthreject=no
allowoverlap=no
realm=pbx-test

[desk1]
type=friend
host=dynamic
secret=desk1pass
context=phones
disallow=all
allow=ulaw,alaw
callerid="Desk One" <2001>
accountcode=desks
setvar=PHONE_MODEL=baresip

[desk2]
type=friend
host=dynamic
context=phones
disallow=all
allow=ulaw
call-limit=1

[trunk]
type=peer
host=127.0.0.5
port=5070
insecure=invite
context=from-trunk

[carrier]
type=peer
host=127.0.0.6
port=5060
insecure=port,invite
context=from-trunk

[usr]
type=user
context=phones

[office]
type=friend
host=dynamic
context=phones
deny=0.0.0.0/0.0.0.0
permit=192.168.10.0/255.255.255.0

[g722only]
type=friend
host=dynamic
context=phones
disallow=all
allow=g722

[comedia]
type=friend
host=dynamic
context=phones
nat=comedia
"""

EXTENSIONS = ("100@phones", "100@from-trunk", "100@public", "2000@phones")
TRUNK = Flow(TransportKind.UDP, PBX_UDP, Address("127.0.0.5", 5070))


def invite(*edits: tuple[str, str], auth: bool = False) -> Request:
    """The phone's INVITE (the one without credentials unless ``auth``), edited."""
    return request(edit(load("baresip-invite-auth.sip" if auth else "baresip-invite.sip"), *edits))


def from_user(user: str, display: str = "") -> tuple[str, str]:
    name = f'"{display}" ' if display else ""
    return ("From: <sip:desk1@127.0.0.1>", f"From: {name}<sip:{user}@127.0.0.1>")


def to_exten(exten: str) -> tuple[str, str]:
    return ("INVITE sip:100@127.0.0.1;transport=udp", f"INVITE sip:{exten}@127.0.0.1;transport=udp")


def harness(conf: str = CONF, *extensions: str) -> CallsHarness:
    return CallsHarness(conf, *(extensions or EXTENSIONS), script=(RECORDED_TO_TAG,))


def final(h: CallsHarness) -> Response:
    """The one final response sent since the last look (the 100 Trying ignored)."""
    (response,) = [r for r in h.network.responses() if r.status >= 200]
    return response


def authenticated(h: CallsHarness, inv: Request, user: str, password: str) -> Request:
    inv.headers.add("Authorization", h.authorization(inv, user, password))
    return request(bytes(inv))


class RequestUriTests(SynchronousTestCase):
    def test_non_sip_scheme_is_416(self) -> None:
        h = harness()
        h.network.deliver(
            invite(("INVITE sip:100@127.0.0.1;transport=udp", "INVITE tel:+15551000")), UDP_FLOW
        )
        response = final(h)
        self.assertEqual((response.status, response.reason), (416, "Unsupported URI Scheme"))
        self.assertTrue(response.to.tag)
        self.assertEqual(response.headers.get("Server"), "pbx-test")

    def test_graceful_stop_refuses_new_calls(self) -> None:
        h = harness()
        h.sip.refusing = True
        h.network.deliver(invite(from_user("desk2")), UDP_FLOW)
        self.assertEqual(final(h).status, 503)


class MatchingTests(SynchronousTestCase):
    """chan_sip ``check_peer_ok``: From user (user/friend), source address (peer), guest."""

    def test_from_user_with_a_secret_is_challenged(self) -> None:
        h = harness()
        h.network.deliver(invite(), UDP_FLOW)
        response = final(h)
        self.assertEqual(response.status, 401)
        challenge = response.headers.get("WWW-Authenticate") or ""
        self.assertRegex(challenge, r'^Digest algorithm=MD5, realm="pbx-test", nonce="[^"]+"$')
        self.assertEqual((h.started, h.created), ([], []))

    def test_credentials_for_another_realm_get_a_fresh_challenge(self) -> None:
        h = harness()
        h.network.deliver(invite(auth=True), UDP_FLOW)  # baresip answered Asterisk's realm
        self.assertEqual(final(h).status, 401)

    def test_authenticated_friend_runs_the_dialplan(self) -> None:
        h = harness()
        inv = authenticated(h, invite(), "desk1", "desk1pass")
        tx = h.network.deliver(inv, UDP_FLOW)
        self.assertEqual(h.network.statuses(), [100])
        (channel, context, exten) = h.started[0]
        self.assertEqual((context, exten), ("phones", "100"))
        self.assertRegex(channel.name, r"^SIP/desk1-[0-9a-f]{8}$")
        self.assertEqual((channel.caller_id_name, channel.caller_id_num), ("Desk One", "2001"))
        self.assertEqual((channel.account_code, channel.state), ("desks", "Ring"))
        self.assertEqual(channel.variables, {"PHONE_MODEL": "baresip"})
        self.assertEqual(h.created, [channel])
        leg = channel.tech_pvt
        self.assertIsInstance(leg, InboundLeg)
        self.assertIs(leg.tx, tx)
        self.assertEqual(leg.sdp.state.name, "REMOTE_OFFER")
        (name, policy, family, timeouts) = h.media.requests[0]
        self.assertEqual(
            (name, policy.codecs, family, timeouts), ("desk1", ("ulaw", "alaw"), "IPv4", (0, 0))
        )
        self.assertIs(channel.media, h.media.legs[0])
        self.assertIs(channel.dialer, h.dialer)
        self.assertEqual((h.sip.calls_processed, h.sip.active_calls("desk1")), (1, 1))

    def test_wrong_password_is_403(self) -> None:
        h = harness()
        h.network.deliver(authenticated(h, invite(), "desk1", "guess"), UDP_FLOW)
        self.assertEqual((final(h).status, h.started), (403, []))

    def test_digest_username_must_be_the_peer_name(self) -> None:
        h = harness()
        h.network.deliver(authenticated(h, invite(), "2001", "desk1pass"), UDP_FLOW)
        self.assertEqual(final(h).status, 403)

    def test_peer_without_secret_is_not_challenged(self) -> None:
        h = harness()
        h.network.deliver(invite(from_user("desk2")), UDP_FLOW)
        self.assertEqual(h.network.statuses(), [100])
        channel, context, _ = h.started[0]
        self.assertEqual((channel.peer_name, context), ("desk2", "phones"))
        # No callerid configured: the From user, and the From display name (none here).
        self.assertEqual((channel.caller_id_num, channel.caller_id_name), ("desk2", ""))

    def test_peer_matched_by_source_address(self) -> None:
        h = harness()
        h.network.deliver(invite(from_user("+15550100", "Carrier")), TRUNK)
        channel, context, _ = h.started[0]
        self.assertEqual((channel.peer_name, context), ("trunk", "from-trunk"))
        self.assertEqual((channel.caller_id_num, channel.caller_id_name), ("+15550100", "Carrier"))

    def test_insecure_invite_skips_the_challenge_of_a_peer_with_a_secret(self) -> None:
        """chan_sip: ``insecure=invite`` lets a matched peer call without digest, secret or not."""
        h = harness(CONF.replace("insecure=invite\n", "insecure=invite\nsecret=trunkpass\n", 1))
        peer = h.peers.get("trunk")
        assert peer is not None
        self.assertEqual((peer.secret, peer.insecure.invite), ("trunkpass", True))
        h.network.deliver(invite(from_user("+15550100")), TRUNK)
        self.assertEqual(h.network.statuses(), [100])
        channel, context, _ = h.started[0]
        self.assertEqual((channel.peer_name, context), ("trunk", "from-trunk"))

    def test_the_same_peer_without_insecure_invite_is_challenged(self) -> None:
        h = harness(CONF.replace("insecure=invite\n", "secret=trunkpass\n", 1))
        h.network.deliver(invite(from_user("+15550100")), TRUNK)
        response = final(h)
        self.assertEqual((response.status, h.started), (401, []))
        self.assertIn('realm="pbx-test"', response.headers.get("WWW-Authenticate") or "")
        again = invite(from_user("+15550100"), ("z9hG4bK05a5c07a84fb15f8", "z9hG4bKagain"))
        h.network.deliver(authenticated(h, again, "trunk", "trunkpass"), TRUNK)
        self.assertEqual(h.started[0][0].peer_name, "trunk")

    def test_source_port_must_match_unless_insecure_port(self) -> None:
        h = harness()
        other_port = Flow(TransportKind.UDP, PBX_UDP, Address("127.0.0.5", 5071))
        h.network.deliver(invite(from_user("x")), other_port)
        self.assertEqual(final(h).status, 403)
        carrier = Flow(TransportKind.UDP, PBX_UDP, Address("127.0.0.6", 40000))
        h.network.deliver(
            invite(from_user("x"), ("z9hG4bK05a5c07a84fb15f8", "z9hG4bKother")), carrier
        )
        self.assertEqual(h.started[0][0].peer_name, "carrier")

    def test_registered_peer_matched_by_its_binding_source(self) -> None:
        h = harness()
        h.register("desk2", "sip:desk2@127.0.0.1:47300", Address("127.0.0.1", 47300))
        h.network.deliver(invite(from_user("someone-else")), UDP_FLOW)
        self.assertEqual(h.started[0][0].peer_name, "desk2")

    def test_a_peer_is_not_matched_by_from_user(self) -> None:
        h = harness()
        h.network.deliver(invite(from_user("trunk")), UDP_FLOW)
        self.assertEqual(final(h).status, 403)

    def test_user_type_is_matched_by_from_user(self) -> None:
        h = harness()
        h.network.deliver(invite(from_user("usr")), UDP_FLOW)
        self.assertEqual(h.started[0][0].peer_name, "usr")

    def test_unknown_caller_without_guests_is_403(self) -> None:
        h = harness()
        h.network.deliver(invite(from_user("stranger")), UDP_FLOW)
        self.assertEqual(final(h).status, 403)

    def test_guest_runs_in_the_general_context_without_auth(self) -> None:
        h = harness(CONF.replace("allowguest=no", "allowguest=yes"))
        h.network.deliver(invite(from_user("stranger", "A Stranger")), UDP_FLOW)
        channel, context, exten = h.started[0]
        self.assertEqual((context, exten), ("public", "100"))
        self.assertEqual(
            (channel.caller_id_num, channel.caller_id_name), ("stranger", "A Stranger")
        )

    def test_alwaysauthreject_challenges_then_forbids_unknown_callers(self) -> None:
        h = harness(CONF.replace("alwaysauthreject=no", "alwaysauthreject=yes"))
        h.network.deliver(invite(from_user("stranger")), UDP_FLOW)
        self.assertEqual(final(h).status, 401)
        inv = invite(from_user("stranger"), ("z9hG4bK05a5c07a84fb15f8", "z9hG4bKsecond"))
        h.network.deliver(authenticated(h, inv, "stranger", "anything"), UDP_FLOW)
        self.assertEqual(final(h).status, 403)

    def test_acl_denies_the_source(self) -> None:
        h = harness()
        h.network.deliver(invite(from_user("office")), UDP_FLOW)
        self.assertEqual((final(h).status, h.started), (403, []))

    def test_call_limit_is_480(self) -> None:
        h = harness()
        h.network.deliver(invite(from_user("desk2")), UDP_FLOW)
        second = invite(
            from_user("desk2"),
            ("Call-ID: 8c28da1169e6b780", "Call-ID: second"),
            ("z9hG4bK05a5c07a84fb15f8", "z9hG4bKsecond"),
        )
        h.network.deliver(second, UDP_FLOW)
        response = final(h)
        self.assertEqual(
            (response.status, response.reason), (480, "Temporarily Unavailable (Call limit)")
        )
        self.assertEqual(len(h.started), 1)


class ExtensionTests(SynchronousTestCase):
    def test_unknown_extension_is_404(self) -> None:
        h = harness()
        h.network.deliver(invite(from_user("desk2"), to_exten("555")), UDP_FLOW)
        response = final(h)
        self.assertEqual((response.status, response.reason), (404, "Not Found"))
        self.assertEqual(h.media.requests, [])

    def test_partial_number_with_allowoverlap_is_484(self) -> None:
        h = harness(CONF.replace("allowoverlap=no", "allowoverlap=yes"))
        h.network.deliver(invite(from_user("desk2"), to_exten("20")), UDP_FLOW)
        self.assertEqual(final(h).status, 484)

    def test_partial_number_without_allowoverlap_is_404(self) -> None:
        h = harness()
        h.network.deliver(invite(from_user("desk2"), to_exten("20")), UDP_FLOW)
        self.assertEqual(final(h).status, 404)

    def test_escaped_user_part_is_the_extension(self) -> None:
        h = harness()
        h.network.deliver(invite(from_user("desk2"), to_exten("%31%30%30")), UDP_FLOW)
        self.assertEqual(h.started[0][2], "100")


class OfferTests(SynchronousTestCase):
    def test_unacceptable_offer_is_488_with_warning_and_a_cdr(self) -> None:
        h = harness()
        h.network.deliver(invite(from_user("g722only")), UDP_FLOW)
        response = final(h)
        self.assertEqual((response.status, response.reason), (488, "Not Acceptable Here"))
        reason = "offer has only PCMU,PCMA; peer g722only allows g722"
        self.assertEqual(response.headers.get("Warning"), f'399 127.0.0.1 "{reason}"')
        self.assertEqual(h.media.legs[0].closed, 1)
        (refused,) = h.refused
        self.assertEqual((refused.userfield, refused.hangup_cause), (reason, 58))
        self.assertEqual((refused.context, refused.exten), ("phones", "100"))
        self.assertEqual(h.started, [])

    def test_unparseable_offer_is_488(self) -> None:
        h = harness()
        inv = invite(from_user("desk2"))
        inv.body = b"v=0\r\nthis is not SDP\r\n"
        h.network.deliver(request(bytes(inv)), UDP_FLOW)
        response = final(h)
        self.assertEqual(response.status, 488)
        self.assertIn('"unparseable SDP offer: ', response.headers.get("Warning") or "")
        self.assertEqual(len(h.refused), 1)

    def test_no_media_ports_is_503(self) -> None:
        h = harness()
        h.media.error = MediaError("RTP port range exhausted")
        h.network.deliver(invite(from_user("desk2")), UDP_FLOW)
        self.assertEqual((final(h).status, h.started), (503, []))

    def test_comedia_peer_latches(self) -> None:
        h = harness()
        h.network.deliver(invite(from_user("comedia")), UDP_FLOW)
        self.assertTrue(h.media.legs[0].comedia)
        h.network.deliver(
            invite(
                from_user("desk2"),
                ("Call-ID: 8c28da1169e6b780", "Call-ID: c2"),
                ("z9hG4bK05a5c07a84fb15f8", "z9hG4bKc2"),
            ),
            UDP_FLOW,
        )
        self.assertFalse(h.media.legs[1].comedia)


class InDialogRoutingTests(SynchronousTestCase):
    def call(self) -> tuple[CallsHarness, Channel, InboundLeg]:
        h = harness()
        h.network.deliver(invite(from_user("desk2")), UDP_FLOW)
        channel = h.started[0][0]
        leg = channel.tech_pvt
        assert isinstance(leg, InboundLeg)
        h.network.sent()
        return h, channel, leg

    def phone(self, name: str, *edits: tuple[str, str]) -> Request:
        return request(
            edit(load(name), ("From: <sip:desk1@127.0.0.1>", "From: <sip:desk2@127.0.0.1>"), *edits)
        )

    def test_ack_and_bye_reach_the_leg(self) -> None:
        h, channel, leg = self.call()
        channel.answer()
        # The recorded ACK follows the authenticated INVITE; ours had no credentials (§17.1.1.3:
        # an ACK carries its INVITE's CSeq number).
        h.network.deliver(
            self.phone("baresip-ack.sip", ("CSeq: 45695 ACK", "CSeq: 45694 ACK")), UDP_FLOW
        )
        self.assertTrue(leg.confirmed)
        h.network.sent()
        h.network.deliver(self.phone("baresip-bye.sip"), UDP_FLOW)
        self.assertEqual(h.network.statuses(), [200])
        self.assertEqual(channel.hangup_cause, 16)
        self.assertEqual(h.sip.active_calls("desk2"), 0)

    def test_cancel_finds_the_invite(self) -> None:
        h, channel, leg = self.call()
        cancel = edit(
            bytes(leg.invite),
            ("INVITE sip:", "CANCEL sip:"),
            ("CSeq: 45694 INVITE", "CSeq: 45694 CANCEL"),
        )
        cancel_request = request(cancel)
        cancel_request.body = b""
        cancel_request.headers.remove("Content-Type")
        h.network.deliver(request(bytes(cancel_request)), UDP_FLOW)
        self.assertEqual(h.network.statuses(), [200, 487])
        self.assertEqual(channel.hangup_cause, 16)

    def test_cancel_for_no_call_is_481(self) -> None:
        h, _, _ = self.call()
        cancel = request(
            edit(
                load("baresip-bye.sip"),
                ("BYE sip:100@127.0.0.1:5060", "CANCEL sip:100@127.0.0.1:5060"),
                ("CSeq: 45696 BYE", "CSeq: 45696 CANCEL"),
                (";tag=as21ac11ec", ""),
            )
        )
        h.network.deliver(cancel, UDP_FLOW)
        self.assertEqual(h.network.statuses(), [481])

    def test_request_for_an_unknown_dialog_is_481(self) -> None:
        h, channel, _ = self.call()
        stray = request(edit(load("baresip-bye.sip"), ("tag=as21ac11ec", "tag=nosuchtag")))
        h.network.deliver(stray, UDP_FLOW)
        response = final(h)
        self.assertEqual(
            (response.status, response.reason), (481, "Call/Transaction Does Not Exist")
        )
        self.assertFalse(channel.gone)

    def test_bye_outside_a_dialog_is_481(self) -> None:
        h, _, _ = self.call()
        h.network.deliver(request(edit(load("baresip-bye.sip"), (";tag=as21ac11ec", ""))), UDP_FLOW)
        self.assertEqual(h.network.statuses(), [481])

    def test_leg_by_dialog_is_local_tag_then_remote_tag(self) -> None:
        # What an attended transfer's Replaces is matched with (to-tag = pbx's tag).
        h, _, leg = self.call()
        assert leg.dialog is not None
        call_id, local, remote = leg.dialog.id
        self.assertIs(h.sip.leg_by_dialog((call_id, local, remote)), leg)
        self.assertIsNone(h.sip.leg_by_dialog((call_id, remote, local)))
        self.assertIsNone(h.sip.leg_by_dialog(("other", local, remote)))

    def test_refer_outside_a_dialog_is_declined_as_chan_sip(self) -> None:
        h, _, _ = self.call()
        refer = edit(
            load("baresip-bye.sip"),
            ("BYE sip:", "REFER sip:"),
            ("CSeq: 45696 BYE", "CSeq: 45696 REFER"),
            (";tag=as21ac11ec", ""),
        )
        h.network.deliver(request(refer), UDP_FLOW)
        response = final(h)
        self.assertEqual((response.status, response.reason), (603, "Declined (No dialog)"))
        self.assertTrue(response.to.tag)

    def test_legs_carry_the_peer_allowtransfer(self) -> None:
        h, _, leg = self.call()
        self.assertTrue(leg.allowtransfer)
        h = harness(CONF.replace("[desk2]\n", "[desk2]\nallowtransfer=no\n"))
        h.network.deliver(invite(from_user("desk2")), UDP_FLOW)
        inbound = h.started[0][0].tech_pvt
        assert isinstance(inbound, InboundLeg)
        self.assertFalse(inbound.allowtransfer)

    def test_other_requests_outside_a_dialog_are_left_to_the_endpoint(self) -> None:
        h, _, _ = self.call()
        info = request(
            edit(
                load("baresip-bye.sip"),
                ("BYE sip:", "INFO sip:"),
                ("CSeq: 45696 BYE", "CSeq: 45696 INFO"),
                (";tag=as21ac11ec", ""),
            )
        )
        h.network.tu.handler = None
        tx = h.network.deliver(info, UDP_FLOW)
        self.assertFalse(h.sip.handle(info, UDP_FLOW, tx, h.now))  # the endpoint says 501

    def test_stray_ack_is_swallowed(self) -> None:
        h, channel, _ = self.call()
        stray = request(edit(load("baresip-ack.sip"), ("tag=as21ac11ec", "tag=nosuchtag")))
        self.assertTrue(h.sip.handle(stray, UDP_FLOW, None, h.now))
        self.assertEqual((h.network.sent(), channel.state), ([], "Ring"))

    def test_ended_legs_are_not_live(self) -> None:
        h, channel, leg = self.call()
        self.assertEqual((h.sip.live_legs, h.sip.active_calls("desk2")), ([leg], 1))
        channel.hangup(causes.USER_BUSY)
        self.assertEqual((h.sip.live_legs, h.sip.active_calls("desk2")), ([], 0))

    def test_retransmitted_2xx_to_our_reinvite_on_an_inbound_leg_is_acked(self) -> None:
        h, channel, leg = self.call()
        channel.answer()
        h.network.deliver(self.phone("baresip-ack.sip"), UDP_FLOW)
        h.network.sent()
        leg.hold(True)
        (ours,) = h.network.sent()
        assert isinstance(ours, Request)
        answer = reply(ours, edit(load("asterisk-200-invite.sip"), ("a=sendrecv", "a=recvonly")))
        h.network.deliver(answer, UDP_FLOW)
        (ack,) = h.network.sent()
        h.network.deliver(answer, UDP_FLOW)
        self.assertEqual([bytes(m) for m in h.network.sent()], [bytes(ack)])


class ResolveTests(SynchronousTestCase):
    """Dial strings after ``SIP/`` (ASTERISK-REFERENCE §1.2 "Outbound")."""

    def test_registered_peer_rings_every_binding_newest_first(self) -> None:
        h = harness()
        h.register("desk2", "sip:desk2-a@127.0.0.1:47300", Address("127.0.0.1", 47300))
        h.clock.advance(1)
        tab = h.register(
            "desk2",
            "sip:x@y.invalid;transport=ws",
            Address("127.0.0.1", 41440),
            flow=WS_FLOW,
            transport=TransportKind.WS,
        )
        targets, cause = h.sip.resolve("desk2", h.now)
        self.assertEqual(cause, 0)
        self.assertEqual(
            [(t.request_uri, t.reach.flow, t.display) for t in targets],
            [
                ("sip:x@y.invalid;transport=ws", WS_FLOW, "desk2"),
                ("sip:desk2-a@127.0.0.1:47300", UDP_FLOW, "desk2"),
            ],
        )
        self.assertIs(targets[0].reach.binding, tab)

    def test_peer_slash_exten_and_exten_at_peer(self) -> None:
        h = harness()
        h.register("desk2", "sip:desk2-a@127.0.0.1:47300;ob", Address("127.0.0.1", 47300))
        for dial in ("desk2/200", "200@desk2"):
            targets, _ = h.sip.resolve(dial, h.now)
            self.assertEqual([t.request_uri for t in targets], ["sip:200@127.0.0.1:47300;ob"], dial)

    def test_static_host(self) -> None:
        h = harness()
        (target,), _ = h.sip.resolve("trunk/+15550100", h.now)
        self.assertEqual(target.request_uri, "sip:+15550100@127.0.0.5:5070")
        self.assertEqual(
            (target.reach.address, target.reach.flow), (Address("127.0.0.5", 5070), None)
        )

    def test_unavailable_targets(self) -> None:
        h = harness()
        self.assertEqual(h.sip.resolve("nobody", h.now), ([], causes.SUBSCRIBER_ABSENT))
        self.assertEqual(
            h.sip.resolve("desk2", h.now), ([], causes.SUBSCRIBER_ABSENT)
        )  # unregistered
        self.assertEqual(h.sip.resolve("usr", h.now), ([], causes.SUBSCRIBER_ABSENT))  # type=user

    def test_expired_binding_is_unavailable(self) -> None:
        h = harness()
        h.register("desk2", "sip:desk2@127.0.0.1:47300", Address("127.0.0.1", 47300), expires=60)
        h.clock.advance(61)
        self.assertEqual(h.sip.resolve("desk2", h.now), ([], causes.SUBSCRIBER_ABSENT))

    def test_peer_at_its_call_limit_is_busy(self) -> None:
        h = harness()
        h.register("desk2", "sip:desk2@127.0.0.1:47300", Address("127.0.0.1", 47300))
        h.network.deliver(invite(from_user("desk2")), UDP_FLOW)  # desk2's one call
        self.assertEqual(h.sip.resolve("desk2", h.now), ([], causes.USER_BUSY))

    def test_user_at_address_and_bare_addresses(self) -> None:
        h = harness()
        cases = {
            "bob@127.0.0.9:5080": ("sip:bob@127.0.0.9:5080", Address("127.0.0.9", 5080)),
            "bob@127.0.0.9": ("sip:bob@127.0.0.9:5060", Address("127.0.0.9", 5060)),
            "127.0.0.9": ("sip:127.0.0.9:5060", Address("127.0.0.9", 5060)),
            "pbx.example.org:5070": ("sip:pbx.example.org:5070", Address("pbx.example.org", 5070)),
            "bob@[::1]": ("sip:bob@[::1]:5060", Address("::1", 5060)),
        }
        for dial, (uri, address) in cases.items():
            (target,), cause = h.sip.resolve(dial, h.now)
            self.assertEqual(
                (target.request_uri, target.reach.address, cause), (uri, address, 0), dial
            )
            self.assertIsNone(target.peer)

    def test_ipv6_literal_with_port(self) -> None:
        h = harness()
        (target,), _ = h.sip.resolve("bob@[::1]:5070", h.now)
        self.assertEqual(
            (target.request_uri, target.reach.address), ("sip:bob@[::1]:5070", Address("::1", 5070))
        )


class OriginateTests(SynchronousTestCase):
    def caller(self, h: CallsHarness) -> Channel:
        caller = Channel("SIP", "desk1", h.clock, caller_id_name='Desk "One"', caller_id_num="2001")
        caller.variables.update({"_ONCE": "a", "__ALWAYS": "b", "LOCAL": "c"})
        caller.exten = "2000"
        return caller

    def test_invite_and_channel_for_a_registered_peer(self) -> None:
        h = harness()
        h.register("desk2", "sip:desk2-a@127.0.0.1:47300", Address("127.0.0.1", 47300))
        caller = self.caller(h)
        (target,), _ = h.sip.resolve("desk2", h.now)
        made = h.sip.originate(caller, target, ["ulaw"])
        assert not isinstance(made, int)
        channel, leg = made
        self.assertIsInstance(leg, OutboundLeg)
        self.assertEqual(h.network.sent(), [])  # not started yet
        inv = leg.request
        self.assertEqual(
            (inv.method, inv.uri, leg.flow), ("INVITE", "sip:desk2-a@127.0.0.1:47300", UDP_FLOW)
        )
        self.assertEqual(
            inv.headers.get("From"), f'"Desk One" <sip:2001@127.0.0.1>;tag={inv.from_.tag}'
        )
        self.assertEqual(inv.headers.get("To"), "<sip:desk2-a@127.0.0.1:47300>")
        self.assertEqual(inv.headers.get("CSeq"), "102 INVITE")
        self.assertEqual(inv.headers.get("Contact"), "<sip:2001@127.0.0.1:5060>")
        self.assertEqual(inv.headers.get("Content-Type"), "application/sdp")
        self.assertEqual(inv.headers.get("User-Agent"), "pbx-test")
        offer = SessionDescription.parse(inv.body)
        self.assertEqual(offer.media[0].payload_types, [0, 101])
        inv.validate()
        self.assertRegex(channel.name, r"^SIP/desk2-[0-9a-f]{8}$")
        self.assertTrue(channel.outbound)
        self.assertEqual(
            (channel.linkedid, channel.context, channel.exten), (caller.linkedid, "phones", "2000")
        )
        self.assertEqual((channel.caller_id_name, channel.caller_id_num), ('Desk "One"', "2001"))
        self.assertEqual(channel.variables, {"ONCE": "a", "__ALWAYS": "b"})
        self.assertEqual((channel.driver, channel.media), (leg, h.media.legs[0]))
        self.assertEqual(h.created, [channel])
        self.assertEqual(h.sip.active_calls("desk2"), 1)

    def test_fromuser_and_fromdomain(self) -> None:
        h = harness(
            CONF.replace(
                "context=from-trunk\n",
                "context=from-trunk\nfromuser=pbx\nfromdomain=example.org\n",
                1,
            )
        )
        (target,), _ = h.sip.resolve("trunk/100", h.now)
        made = h.sip.originate(self.caller(h), target, None)
        assert not isinstance(made, int)
        from_ = made[1].request.headers.get("From") or ""
        self.assertTrue(from_.startswith('"Desk One" <sip:pbx@example.org>;tag='), from_)

    def trunk_call(self, h: CallsHarness) -> tuple[Channel, OutboundLeg, Request]:
        (target,), _ = h.sip.resolve("trunk/100", h.now)
        made = h.sip.originate(self.caller(h), target, None)
        assert not isinstance(made, int)
        channel, leg = made
        failures: list[tuple[int, int, str]] = []
        leg.on_failure = lambda *failure: failures.append(failure)
        leg.start()
        (sent,) = h.network.sent()
        assert isinstance(sent, Request)
        return channel, leg, sent

    def test_a_challenging_trunk_gets_remotesecret_under_defaultuser(self) -> None:
        conf = "context=from-trunk\ndefaultuser=pbx1\nsecret=in\nremotesecret=out\n"
        h = harness(CONF.replace("context=from-trunk\n", conf, 1))
        _channel, leg, first = self.trunk_call(h)
        # A real Asterisk 401 (chan_sip's challenge: MD5, no qop).
        h.network.deliver(reply(first, load("asterisk-401-invite.sip")), TRUNK)
        ack, again = h.network.sent()
        assert isinstance(ack, Request) and isinstance(again, Request)
        self.assertEqual((ack.method, again.method), ("ACK", "INVITE"))
        self.assertEqual(
            (again.call_id, again.uri, again.body), (first.call_id, first.uri, first.body)
        )
        self.assertEqual(again.headers.get("From"), first.headers.get("From"))
        self.assertEqual(again.cseq.seq, first.cseq.seq + 1)
        self.assertNotEqual(again.top_via.branch, first.top_via.branch)
        auth = Auth.parse(again.headers.get("Authorization") or "")
        ha1 = hashlib.md5(b"pbx1:asterisk:out").hexdigest()
        self.assertEqual(
            (auth.params["username"], auth.params["realm"], auth.params["nonce"]),
            ("pbx1", "asterisk", "374b481d"),
        )
        self.assertEqual(
            auth.params["response"], compute_response("MD5", ha1, "374b481d", "INVITE", first.uri)
        )
        # The trunk answers: the dialog is the second INVITE's (its CSeq for the ACK).
        h.network.deliver(reply(again, load("asterisk-200-invite.sip")), TRUNK)
        (ack2,) = h.network.sent()
        assert isinstance(ack2, Request)
        self.assertEqual((ack2.method, ack2.cseq.seq), ("ACK", again.cseq.seq))
        self.assertTrue(leg.answered)

    def test_an_authentication_line_for_the_realm_answers_without_a_peer_secret(self) -> None:
        h = harness()  # trunk has no secret
        h.sip.ctx.realm_logins.update(
            realm_logins([AuthCredential("acct", "acct-pw", False, "asterisk")])
        )
        _channel, _leg, first = self.trunk_call(h)
        h.network.deliver(reply(first, load("asterisk-401-invite.sip")), TRUNK)
        _ack, again = h.network.sent()
        assert isinstance(again, Request)
        auth = Auth.parse(again.headers.get("Authorization") or "")
        ha1 = hashlib.md5(b"acct:asterisk:acct-pw").hexdigest()
        self.assertEqual(
            (auth.params["username"], auth.params["response"]),
            ("acct", compute_response("MD5", ha1, "374b481d", "INVITE", first.uri)),
        )

    def test_a_second_challenge_fails_the_call(self) -> None:
        h = harness(CONF.replace("context=from-trunk\n", "context=from-trunk\nsecret=s\n", 1))
        channel, leg, first = self.trunk_call(h)
        h.network.deliver(reply(first, load("asterisk-401-invite.sip")), TRUNK)
        _ack, again = h.network.sent()
        assert isinstance(again, Request)
        self.assertIn('username="trunk"', again.headers.get("Authorization") or "")
        h.network.deliver(reply(again, load("asterisk-401-invite.sip")), TRUNK)
        (ack,) = h.network.sent()  # no third INVITE
        assert isinstance(ack, Request)
        self.assertEqual(ack.method, "ACK")
        self.assertTrue(leg.terminated)

    def test_without_a_secret_a_challenge_fails_at_once(self) -> None:
        h = harness()
        _channel, leg, first = self.trunk_call(h)
        h.network.deliver(reply(first, load("asterisk-401-invite.sip")), TRUNK)
        self.assertEqual([m.method for m in h.network.sent()], ["ACK"])  # type: ignore[union-attr]
        self.assertTrue(leg.terminated)

    def test_direct_address_uses_the_guest_profile(self) -> None:
        h = harness()
        (target,), _ = h.sip.resolve("bob@127.0.0.9:5080", h.now)
        made = h.sip.originate(self.caller(h), target, None)
        assert not isinstance(made, int)
        channel, leg = made
        self.assertTrue(channel.name.startswith("SIP/127.0.0.9-"), channel.name)
        self.assertEqual(leg.flow, Flow(TransportKind.UDP, PBX_UDP, Address("127.0.0.9", 5080)))

    def test_failures_are_causes(self) -> None:
        h = harness()
        h.register("desk2", "sip:desk2@127.0.0.1:47300", Address("127.0.0.1", 47300))
        (target,), _ = h.sip.resolve("desk2", h.now)
        caller = self.caller(h)
        # Dial found nothing bridgeable to offer (callee_codecs came out empty).
        self.assertEqual(h.sip.originate(caller, target, []), causes.BEARERCAPABILITY_NOTAVAIL)
        h.media.error = MediaError("RTP port range exhausted")
        self.assertEqual(h.sip.originate(caller, target, None), causes.CONGESTION)
        h.unreachable.add(Address("127.0.0.1", 47300))
        self.assertEqual(h.sip.originate(caller, target, None), causes.SUBSCRIBER_ABSENT)
        self.assertEqual(h.created, [])

    def answered_call(self, h: CallsHarness) -> tuple[Channel, Response, Request]:
        """desk2 answers a call pbx originated: the channel, the 200 and pbx's ACK to it."""
        h.register("desk2", "sip:desk2@127.0.0.1:47300", Address("127.0.0.1", 47300))
        (target,), _ = h.sip.resolve("desk2", h.now)
        made = h.sip.originate(self.caller(h), target, None)
        assert not isinstance(made, int)
        channel, leg = made
        leg.start()
        (sent,) = h.network.sent()
        assert isinstance(sent, Request)
        ok = reply(sent, load("asterisk-200-invite.sip"))
        h.network.deliver(ok, UDP_FLOW)
        (ack,) = h.network.sent()
        assert isinstance(ack, Request)
        return channel, ok, ack

    def test_retransmitted_2xx_after_the_transaction_is_acked_again(self) -> None:
        h = harness()
        _channel, ok, ack = self.answered_call(h)
        h.clock.advance(40)  # the INVITE transaction is long gone (Timer M)
        self.assertEqual(len(h.network.layer), 0)
        h.network.deliver(ok, UDP_FLOW)
        self.assertEqual([bytes(m) for m in h.network.sent()], [bytes(ack)])

    def test_an_ended_legs_ack_answers_2xx_retransmissions_for_64_t1(self) -> None:
        h = harness()
        channel, ok, ack = self.answered_call(h)
        channel.hangup()
        (bye,) = h.network.sent()
        assert isinstance(bye, Request)
        self.assertEqual((bye.method, h.sip.live_legs), ("BYE", []))
        h.clock.advance(31)
        h.network.sent()  # the unanswered BYE's retransmissions
        h.network.deliver(ok, UDP_FLOW)
        self.assertEqual([bytes(m) for m in h.network.sent()], [bytes(ack)])
        h.clock.advance(2)  # 64*T1 after the hang-up, plus the sweep's batching
        h.network.sent()
        h.network.deliver(ok, UDP_FLOW)
        self.assertEqual((h.network.sent(), h.sip.registry.acks), ([], {}))
