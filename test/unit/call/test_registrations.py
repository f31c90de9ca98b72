"""Tests for pbx.call.registrations: register => lines resolved, sent through a real transaction
layer, answered with recorded responses, kept or replaced on reload, unregistered at stop."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from pbx.call.registrations import Registrations, registration_spec
from pbx.config.sip_conf import SipConfig
from pbx.core.addr import Address, TransportKind
from pbx.core.tokens import CountingTokens
from pbx.sip.auth import Credentials, DigestLogin
from pbx.sip.flow import Flow
from pbx.sip.message import Request, Response, parse_message
from pbx.sip.outbound_registration import RegState
from pbx.sip.transaction.base import ClientTransaction, ServerTransaction
from pbx.sip.transaction.layer import TransactionLayer
from test.unit.call.fakes import load_sip, reply, sip_config

LOCAL = Address("192.0.2.10", 5060)
PROVIDER = "198.51.100.7"

CONF = (
    "[general]\ntcpenable=yes\ntlsenable=yes\n"
    f"register => 4930123:pw@{PROVIDER}/100\n"
    "register => trunk?office@sip.example.net~600\n"
    "register => tls://u:x@[2001:db8::1]\n"
    "[trunk]\ntype=peer\nhost=203.0.113.5\nport=5080\ntransport=tcp\ndefaultuser=auth-office\n"
    "remotesecret=remote-pw\nsecret=inbound-pw\nfromdomain=office.example.net\n"
)


class NoTu:
    def request_received(
        self, request: Request, flow: Flow, tx: ServerTransaction | None, now: float
    ) -> None:
        raise AssertionError(request)

    def response_received(
        self, response: Response, tx: ClientTransaction | None, now: float
    ) -> None:
        raise AssertionError(response)


class Transports:
    def __init__(self) -> None:
        self.reachable = True

    def flow_to(
        self, kind: TransportKind, binding_flow: Flow | None, target: Address
    ) -> Flow | None:
        return Flow(kind, LOCAL, target) if self.reachable else None

    def advertised(self, flow: Flow) -> Address:
        return LOCAL


class Harness:
    def __init__(self, conf: str = CONF) -> None:
        self.now = 0.0
        self.config = sip_config(conf)
        self.layer = TransactionLayer(NoTu())
        self.transports = Transports()
        self.regs = Registrations(CountingTokens(), lambda: self.now)
        self.regs.layer = self.layer
        self.regs.transports = self.transports

    def configure(self, config: SipConfig | None = None) -> None:
        config = config or self.config
        self.regs.configure(config.general.registrations, config.peers, config.general, self.now)

    def sent(self) -> list[tuple[Flow, Request]]:
        out = []
        for send in self.layer.outputs():
            message = parse_message(send.data)
            assert isinstance(message, Request)
            out.append((send.flow, message))
        return out

    def answer(self, flow: Flow, request: Request, capture: str) -> None:
        response = reply(request, load_sip(f"captures/{capture}"))
        self.layer.receive(response, flow, self.now)


class SpecTests(SynchronousTestCase):
    def test_plain_line(self) -> None:
        config = sip_config(CONF)
        line = config.general.registrations[0]
        spec = registration_spec(line, config.peers, config.general)
        self.assertEqual(spec.transport, TransportKind.UDP)
        self.assertEqual(spec.target, Address(PROVIDER, 5060))
        self.assertEqual((spec.domain, spec.user, spec.contact_user), (PROVIDER, "4930123", "100"))
        self.assertEqual(spec.login, DigestLogin("4930123", Credentials("pw")))
        self.assertEqual((spec.expiry, spec.retry_interval, spec.max_attempts), (120, 20.0, 0))

    def test_peer_settings_fill_what_the_line_leaves_out(self) -> None:
        config = sip_config(CONF)
        spec = registration_spec(config.general.registrations[1], config.peers, config.general)
        self.assertEqual(spec.transport, TransportKind.TCP)
        self.assertEqual(spec.target, Address("203.0.113.5", 5080))
        self.assertEqual(spec.domain, "office.example.net")
        self.assertEqual(spec.login, DigestLogin("auth-office", Credentials("remote-pw")))
        self.assertEqual((spec.user, spec.contact_user, spec.expiry), ("office", "s", 600))

    def test_tls_default_port_and_ipv6_domain(self) -> None:
        config = sip_config(CONF)
        spec = registration_spec(config.general.registrations[2], config.peers, config.general)
        self.assertEqual(spec.target, Address("2001:db8::1", 5061))
        self.assertEqual(spec.aor, "sip:u@[2001:db8::1]")

    def test_general_options(self) -> None:
        config = sip_config(
            f"[general]\nregister => u@{PROVIDER}:5070\nregistertimeout=5\nregisterattempts=3\n"
            "register_retry_403=yes\ndefaultexpiry=900\n"
        )
        spec = registration_spec(config.general.registrations[0], config.peers, config.general)
        self.assertEqual(
            (spec.retry_interval, spec.max_attempts, spec.retry_403, spec.expiry),
            (5.0, 3, True, 900),
        )
        self.assertEqual(spec.domain, f"{PROVIDER}:5070")
        self.assertIsNone(spec.login)


class RegistrationsTests(SynchronousTestCase):
    def test_register_challenge_and_refresh_through_the_layer(self) -> None:
        h = Harness(f"[general]\nregister => 4930123:pw@{PROVIDER}/100\n")
        h.configure()
        [(flow, first)] = h.sent()
        self.assertEqual(flow.remote, Address(PROVIDER, 5060))
        self.assertEqual(first.method, "REGISTER")
        h.now = 0.2
        h.answer(flow, first, "asterisk-401-register.sip")
        [(_, second)] = h.sent()
        self.assertIn('username="4930123"', second.headers.get("Authorization") or "")
        h.answer(flow, second, "mock-200-register.sip")
        [(_, reg)] = list(h.regs)
        self.assertEqual(reg.state, RegState.REGISTERED)
        self.assertEqual(h.regs.timer_at(), 0.2 + 285)
        h.now = 285.2
        h.regs.handle_timer(h.now)
        [(_, refresh)] = h.sent()
        self.assertEqual(refresh.headers.get("CSeq"), "3 REGISTER")

    def test_unreachable_waits_registertimeout(self) -> None:
        h = Harness(f"[general]\nregister => u@{PROVIDER}\n")
        h.transports.reachable = False
        h.configure()
        self.assertEqual(h.sent(), [])
        self.assertEqual(h.regs.timer_at(), 20.0)

    def test_reload_keeps_unchanged_lines_and_replaces_changed_ones(self) -> None:
        h = Harness(f"[general]\nregister => a:pw@{PROVIDER}\nregister => b:pw@{PROVIDER}\n")
        h.configure()
        sent = h.sent()
        for flow, request in sent:
            h.answer(flow, request, "mock-200-register.sip")
        before = {line.user: reg for line, reg in h.regs}
        self.assertEqual({r.state for r in before.values()}, {RegState.REGISTERED})
        h.configure(
            sip_config(f"[general]\nregister => a:pw@{PROVIDER}\nregister => c:pw@{PROVIDER}\n")
        )
        after = {line.user: reg for line, reg in h.regs}
        self.assertIs(after["a"], before["a"])
        self.assertEqual(sorted(after), ["a", "c"])
        out = h.sent()
        # The dropped line un-REGISTERs (Expires: 0); the new one registers.
        self.assertEqual(
            sorted((m.from_.uri.user, m.headers.get("Expires")) for _, m in out),  # type: ignore[union-attr]
            [("b", "0"), ("c", "120")],
        )
        self.assertTrue(h.regs.leaving)
        [(flow, unregister)] = [(f, m) for f, m in out if m.headers.get("Expires") == "0"]
        h.answer(flow, unregister, "mock-200-register.sip")
        self.assertFalse(h.regs.leaving)

    def test_stop_unregisters_what_is_registered(self) -> None:
        h = Harness(f"[general]\nregister => a:pw@{PROVIDER}\nregister => b:pw@{PROVIDER}\n")
        h.configure()
        [(flow, first), _] = h.sent()
        h.answer(flow, first, "mock-200-register.sip")
        self.assertTrue(h.regs.stop(1.0))
        [(_, unregister)] = h.sent()
        self.assertEqual(unregister.headers.get("Expires"), "0")
        self.assertEqual(unregister.call_id, first.call_id)
        self.assertEqual(list(h.regs), [])
        self.assertTrue(h.regs.leaving)

    def test_a_changed_password_does_not_unregister_the_new_binding(self) -> None:
        h = Harness(f"[general]\nregister => a:old@{PROVIDER}\n")
        h.configure()
        [(flow, first)] = h.sent()
        h.answer(flow, first, "mock-200-register.sip")
        [(_, old)] = list(h.regs)
        h.configure(sip_config(f"[general]\nregister => a:new@{PROVIDER}\n"))
        [(_, new)] = list(h.regs)
        self.assertIsNot(new, old)
        [(_, register)] = h.sent()  # the new REGISTER only: no Expires: 0 after it
        self.assertEqual(register.headers.get("Expires"), "120")
        self.assertFalse(h.regs.leaving)
