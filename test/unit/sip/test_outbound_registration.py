"""Tests for pbx.sip.outbound_registration against recorded REGISTER answers, time by hand."""

from __future__ import annotations

import hashlib
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from pbx.core.addr import Address, TransportKind
from pbx.core.tokens import CountingTokens
from pbx.sip.auth import Credentials, DigestLogin
from pbx.sip.flow import Flow
from pbx.sip.headers import Auth
from pbx.sip.message import Request, Response, parse_message
from pbx.sip.outbound_registration import (
    OutboundRegistration,
    RegistrationSpec,
    RegState,
    refresh_delay,
)

CAPTURES = Path(__file__).parents[2] / "data" / "sip" / "captures"
FLOW = Flow(TransportKind.UDP, Address("192.0.2.10", 5060), Address("198.51.100.7", 5060))
LOCAL = Address("192.0.2.10", 5060)


def recorded(name: str) -> bytes:
    return (CAPTURES / name).read_bytes()


def reply(to: Request, data: bytes, *edits: tuple[str, str | None]) -> Response:
    """A recorded response made the answer to ``to`` (its Via, From, To, Call-ID and CSeq;
    the recorded To tag kept), with header ``edits`` (``None`` removes one)."""
    resp = parse_message(data)
    assert isinstance(resp, Response)
    h = resp.headers
    h.set("Via", to.headers.get_all("Via")[0])
    h.set("From", to.headers.get("From") or "")
    h.set("Call-ID", to.call_id)
    h.set("CSeq", f"{to.cseq.seq} {to.cseq.method}")
    tag = resp.to.tag
    h.set("To", f"{to.headers.get('To')};tag={tag}" if tag else to.headers.get("To") or "")
    for name, value in edits:
        h.remove(name)
        if value is not None:
            h.add(name, value)
    answer = parse_message(bytes(resp))
    assert isinstance(answer, Response)
    return answer


def spec(**overrides: object) -> RegistrationSpec:
    values: dict[str, object] = dict(
        transport=TransportKind.UDP,
        target=Address("198.51.100.7", 5060),
        domain="sip.example.net",
        user="4930123",
        contact_user="100",
        login=DigestLogin("auth4930", Credentials("s3cret")),
        expiry=120,
        retry_interval=20.0,
        max_attempts=0,
        retry_403=False,
        useragent="pbx test",
    )
    values.update(overrides)
    return RegistrationSpec(**values)  # type: ignore[arg-type]


class Harness:
    """One registration; ``send(now)`` builds what is due."""

    def __init__(self, **overrides: object) -> None:
        self.reg = OutboundRegistration(spec(**overrides), CountingTokens(), 0.0)

    def send(self, now: float) -> Request:
        request = self.reg.build(FLOW, LOCAL, now)
        assert request is not None
        return request

    def register(self, now: float = 0.0) -> Request:
        """401 then 200 (Expires: 300): returns the authenticated REGISTER."""
        first = self.send(now)
        self.reg.response_received(reply(first, recorded("asterisk-401-register.sip")), now)
        second = self.send(now)
        self.reg.response_received(reply(second, recorded("mock-200-register.sip")), now)
        return second


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


class RequestShapeTests(SynchronousTestCase):
    def test_first_register(self) -> None:
        h = Harness()
        self.assertEqual(h.reg.state, RegState.UNREGISTERED)
        self.assertEqual(h.reg.timer_at(), 0.0)
        request = h.send(0.0)
        self.assertEqual(h.reg.state, RegState.REQUEST_SENT)
        self.assertEqual(request.uri, "sip:sip.example.net")
        self.assertEqual(request.headers.get("From"), "<sip:4930123@sip.example.net>;tag=00000002")
        self.assertEqual(request.headers.get("To"), "<sip:4930123@sip.example.net>")
        self.assertEqual(request.headers.get("Contact"), "<sip:100@192.0.2.10:5060>")
        self.assertEqual(request.headers.get("Expires"), "120")
        self.assertEqual(request.headers.get("CSeq"), "1 REGISTER")
        self.assertEqual(request.call_id, "00000000000000000000000000000001")
        self.assertEqual(request.headers.get("User-Agent"), "pbx test")
        self.assertTrue((request.headers.get("Via") or "").startswith("SIP/2.0/UDP 192.0.2.10"))
        self.assertIsNone(h.reg.build(FLOW, LOCAL, 0.0))  # nothing else due

    def test_tcp_contact_names_the_transport(self) -> None:
        h = Harness()
        flow = Flow(TransportKind.TCP, LOCAL, Address("198.51.100.7", 5060), conn_id=3)
        request = h.reg.build(flow, LOCAL, 0.0)
        assert request is not None
        self.assertEqual(request.headers.get("Contact"), "<sip:100@192.0.2.10:5060;transport=tcp>")


class AuthTests(SynchronousTestCase):
    def test_401_then_digest_then_200(self) -> None:
        h = Harness()
        first = h.send(0.0)
        h.reg.response_received(reply(first, recorded("asterisk-401-register.sip")), 0.5)
        self.assertEqual(h.reg.timer_at(), 0.5)
        second = h.send(0.5)
        self.assertEqual(h.reg.state, RegState.AUTH_SENT)
        self.assertEqual(second.call_id, first.call_id)
        self.assertEqual(second.headers.get("CSeq"), "2 REGISTER")
        self.assertNotEqual(second.headers.get("Via"), first.headers.get("Via"))
        auth = Auth.parse(second.headers.get("Authorization") or "")
        p = auth.params
        self.assertEqual(
            (p["username"], p["realm"], p["nonce"], p["uri"]),
            ("auth4930", "asterisk", "254e51e8", "sip:sip.example.net"),
        )
        ha1 = md5("auth4930:asterisk:s3cret")
        ha2 = md5("REGISTER:sip:sip.example.net")
        self.assertEqual(p["response"], md5(f"{ha1}:254e51e8:{ha2}"))
        h.reg.response_received(reply(second, recorded("mock-200-register.sip")), 0.6)
        self.assertEqual(h.reg.state, RegState.REGISTERED)
        self.assertEqual(h.reg.expiry, 300)  # the Expires the registrar granted
        self.assertEqual(h.reg.registered_at, 0.6)
        self.assertEqual(h.reg.timer_at(), 0.6 + 285)

    def test_qop_challenge(self) -> None:
        h = Harness()
        first = h.send(0.0)
        h.reg.response_received(reply(first, recorded("mock-401-register.sip")), 0.0)
        p = Auth.parse(h.send(0.0).headers.get("Authorization") or "").params
        self.assertEqual((p["qop"], p["nc"], p["realm"]), ("auth", "00000001", "probe"))

    def test_same_nonce_again_is_no_authentication(self) -> None:
        h = Harness()
        first = h.send(0.0)
        h.reg.response_received(reply(first, recorded("asterisk-401-register.sip")), 0.0)
        second = h.send(0.0)
        h.reg.response_received(reply(second, recorded("asterisk-401-register.sip")), 0.1)
        self.assertEqual(h.reg.state, RegState.NO_AUTH)
        self.assertIsNone(h.reg.timer_at())  # chan_sip stops trying

    def test_stale_nonce_is_answered_again(self) -> None:
        h = Harness()
        first = h.send(0.0)
        h.reg.response_received(reply(first, recorded("asterisk-401-register.sip")), 0.0)
        second = h.send(0.0)
        stale = 'Digest algorithm=MD5, realm="asterisk", nonce="254e51e8", stale=true'
        h.reg.response_received(
            reply(second, recorded("asterisk-401-register.sip"), ("WWW-Authenticate", stale)),
            0.1,
        )
        self.assertEqual(h.send(0.1).headers.get("CSeq"), "3 REGISTER")
        self.assertEqual(h.reg.state, RegState.AUTH_SENT)

    def test_no_secret_cannot_answer(self) -> None:
        h = Harness(login=None)
        first = h.send(0.0)
        h.reg.response_received(reply(first, recorded("asterisk-401-register.sip")), 0.0)
        self.assertEqual(h.reg.state, RegState.NO_AUTH)
        self.assertIsNone(h.reg.timer_at())

    def test_407_answered_with_proxy_authorization(self) -> None:
        h = Harness()
        first = h.send(0.0)
        challenge = 'Digest realm="proxy", nonce="abc"'
        resp = reply(
            first,
            recorded("asterisk-401-register.sip"),
            ("WWW-Authenticate", None),
            ("Proxy-Authenticate", challenge),
        )
        resp.status = 407
        h.reg.response_received(resp, 0.0)
        second = h.send(0.0)
        self.assertIsNotNone(second.headers.get("Proxy-Authorization"))
        self.assertIsNone(second.headers.get("Authorization"))


class ExpiryTests(SynchronousTestCase):
    def test_refresh_guard(self) -> None:
        self.assertEqual(refresh_delay(3600), 3585.0)
        self.assertEqual(refresh_delay(31), 16.0)
        self.assertEqual(refresh_delay(30), 24.0)  # 80 % at or below 30 s
        self.assertEqual(refresh_delay(10), 8.0)
        self.assertEqual(refresh_delay(0), 0.5)

    def test_refresh_reuses_call_id_and_counts_cseq(self) -> None:
        h = Harness()
        registered = h.register(0.0)
        self.assertEqual(h.reg.timer_at(), 285.0)
        h.reg.handle_timer(285.0)
        refresh = h.send(285.0)
        self.assertEqual(refresh.call_id, registered.call_id)
        self.assertEqual(refresh.headers.get("CSeq"), "3 REGISTER")
        self.assertEqual(refresh.headers.get("Expires"), "300")  # asks for what it got
        self.assertIsNone(refresh.headers.get("Authorization"))
        self.assertEqual(h.reg.state, RegState.REQUEST_SENT)

    def test_contact_expires_wins_over_the_header(self) -> None:
        h = Harness()
        first = h.send(0.0)
        contact = "<sip:100@192.0.2.10:5060>;expires=60, <sip:other@192.0.2.99>;expires=900"
        h.reg.response_received(
            reply(first, recorded("mock-200-register.sip"), ("Contact", contact)), 1.0
        )
        self.assertEqual(h.reg.expiry, 60)
        self.assertEqual(h.reg.timer_at(), 1.0 + 45)

    def test_server_shortens_the_expiry(self) -> None:
        h = Harness(expiry=3600)
        first = h.send(0.0)
        h.reg.response_received(
            reply(
                first,
                recorded("mock-200-register.sip"),
                ("Contact", None),
                ("Expires", "20"),
            ),
            0.0,
        )
        self.assertEqual(h.reg.expiry, 20)
        self.assertEqual(h.reg.timer_at(), 16.0)

    def test_no_expiry_in_the_answer_keeps_the_request(self) -> None:
        h = Harness()
        first = h.send(0.0)
        h.reg.response_received(
            reply(first, recorded("mock-200-register.sip"), ("Contact", None), ("Expires", None)),
            0.0,
        )
        self.assertEqual(h.reg.expiry, 120)
        self.assertEqual(h.reg.timer_at(), 105.0)

    def test_423_asks_again_with_min_expires(self) -> None:
        h = Harness(expiry=30)
        first = h.send(0.0)
        resp = reply(first, recorded("mock-200-register.sip"), ("Min-Expires", "90"))
        resp.status, resp.reason = 423, "Interval Too Brief"
        h.reg.response_received(resp, 0.0)
        again = h.send(0.0)
        self.assertEqual(again.headers.get("Expires"), "90")
        self.assertEqual(h.reg.attempts, 1)  # the same attempt


class FailureTests(SynchronousTestCase):
    def failure(self, h: Harness, status: int, now: float) -> None:
        request = h.send(now)
        resp = reply(request, recorded("mock-200-register.sip"))
        resp.status = status
        h.reg.response_received(resp, now)

    def test_timeout_retries_at_once(self) -> None:
        h = Harness()
        h.send(0.0)
        self.assertEqual(h.reg.timer_at(), 20.0)
        h.reg.handle_timer(19.9)
        self.assertEqual(h.reg.state, RegState.REQUEST_SENT)
        h.reg.handle_timer(20.0)
        self.assertEqual(h.reg.state, RegState.TIMEOUT)
        self.assertTrue(h.reg.due(20.0))
        self.assertEqual(h.send(20.0).headers.get("CSeq"), "2 REGISTER")
        self.assertEqual(h.reg.attempts, 2)

    def test_transaction_timeout_counts_as_one(self) -> None:
        h = Harness(retry_interval=60.0)
        h.send(0.0)
        h.reg.timed_out(1, 32.0)
        self.assertEqual(h.reg.state, RegState.TIMEOUT)
        self.assertTrue(h.reg.due(32.0))
        h.reg.timed_out(0, 33.0)  # a stale transaction changes nothing

    def test_registerattempts_exhausted_is_failed(self) -> None:
        h = Harness(max_attempts=2)
        h.send(0.0)
        h.reg.handle_timer(20.0)
        h.send(20.0)
        h.reg.handle_timer(40.0)
        self.assertIsNone(h.reg.build(FLOW, LOCAL, 40.0))
        self.assertEqual(h.reg.state, RegState.FAILED)
        self.assertIsNone(h.reg.timer_at())

    def test_rejected_retries_after_registertimeout(self) -> None:
        h = Harness()
        self.failure(h, 500, 0.0)
        self.assertEqual(h.reg.state, RegState.REJECTED)
        self.assertEqual(h.reg.timer_at(), 20.0)
        self.assertFalse(h.reg.due(19.0))
        self.assertEqual(h.send(20.0).headers.get("CSeq"), "2 REGISTER")

    def test_403_stops(self) -> None:
        h = Harness()
        self.failure(h, 403, 0.0)
        self.assertEqual(h.reg.state, RegState.NO_AUTH)
        self.assertIsNone(h.reg.timer_at())

    def test_403_retried_with_register_retry_403(self) -> None:
        h = Harness(retry_403=True)
        self.failure(h, 403, 0.0)
        self.assertEqual(h.reg.state, RegState.NO_AUTH)
        self.assertEqual(h.reg.timer_at(), 20.0)

    def test_404_gives_up(self) -> None:
        h = Harness()
        self.failure(h, 404, 0.0)
        self.assertEqual(h.reg.state, RegState.REJECTED)
        self.assertIsNone(h.reg.timer_at())

    def test_success_resets_the_attempts(self) -> None:
        h = Harness(max_attempts=2)
        self.failure(h, 500, 0.0)
        h.register(20.0)
        self.assertEqual((h.reg.state, h.reg.attempts), (RegState.REGISTERED, 0))

    def test_no_route_waits_registertimeout(self) -> None:
        h = Harness(max_attempts=1)
        h.reg.no_route(0.0)
        self.assertEqual((h.reg.timer_at(), h.reg.attempts), (20.0, 1))
        h.reg.no_route(20.0)
        self.assertEqual(h.reg.state, RegState.FAILED)

    def test_transport_error_waits_registertimeout(self) -> None:
        h = Harness()
        h.send(0.0)
        h.reg.unreachable(1, 0.1)
        self.assertEqual(h.reg.timer_at(), 20.1)
        self.assertEqual(h.reg.state, RegState.REQUEST_SENT)

    def test_late_answer_to_an_old_cseq_is_ignored(self) -> None:
        h = Harness()
        first = h.send(0.0)
        h.reg.handle_timer(20.0)
        h.send(20.0)
        h.reg.response_received(reply(first, recorded("mock-200-register.sip")), 20.1)
        self.assertEqual(h.reg.state, RegState.REQUEST_SENT)

    def test_provisional_is_ignored(self) -> None:
        h = Harness()
        first = h.send(0.0)
        resp = reply(first, recorded("mock-200-register.sip"))
        resp.status = 100
        h.reg.response_received(resp, 0.0)
        self.assertEqual(h.reg.state, RegState.REQUEST_SENT)


class StopTests(SynchronousTestCase):
    def test_registered_sends_expires_zero(self) -> None:
        h = Harness()
        h.register(0.0)
        self.assertTrue(h.reg.stop(5.0))
        bye = h.send(5.0)
        self.assertEqual(bye.headers.get("Expires"), "0")
        self.assertEqual(bye.headers.get("Contact"), "<sip:100@192.0.2.10:5060>")
        self.assertFalse(h.reg.finished)
        # The registrar challenges the un-REGISTER too: answered once, then done.
        h.reg.response_received(reply(bye, recorded("mock-401-register.sip")), 5.1)
        again = h.send(5.1)
        self.assertIsNotNone(again.headers.get("Authorization"))
        h.reg.response_received(reply(again, recorded("mock-200-register.sip")), 5.2)
        self.assertTrue(h.reg.finished)
        self.assertEqual(h.reg.state, RegState.UNREGISTERED)
        self.assertFalse(h.reg.stop(6.0))

    def test_not_registered_sends_nothing(self) -> None:
        h = Harness()
        h.send(0.0)
        self.assertFalse(h.reg.stop(1.0))
        self.assertTrue(h.reg.finished)
        self.assertIsNone(h.reg.timer_at())
