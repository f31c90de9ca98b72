"""The SIP endpoint (pbx.call.sip_endpoint). REGISTER: the registrar's answer goes out through
the transaction layer, challenges statelessly (RFC 3261 §8.2.7), bindings to the store.
``Require``: 420 Bad Extension for option tags pbx lacks (§8.2.2.3), on RFC 4475's bext01 and
the baresip desk phone's recorded INVITE, ACK and BYE with a ``Require`` edited in.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from pbx.call.peers import PeerRegistry
from pbx.call.qualify import Qualifier
from pbx.call.sip_endpoint import EndpointSettings, SipEndpoint
from pbx.core.addr import Address, TransportKind
from pbx.core.tokens import CountingTokens
from pbx.sip.auth import DigestAuthenticator, compute_response
from pbx.sip.flow import Flow
from pbx.sip.location import Binding, Location
from pbx.sip.message import Request, Response, parse_message
from pbx.sip.registrar import Registrar, RegistrarSettings
from pbx.sip.transaction.base import ServerTransaction
from pbx.sip.transaction.layer import TransactionLayer
from test.unit.call.fakes import UDP_FLOW, edit, load, request, sip_config

CONF = """
[general]
realm=pbx-test

[desk]
type=friend
host=dynamic
secret=s3cret
"""

NOW = 1_795_704_172.0


def register(cseq: int, branch: str, authorization: str = "") -> bytes:
    """A REGISTER as sipp's register_users.xml sends it."""
    lines = [
        "REGISTER sip:127.0.0.1:5060 SIP/2.0",
        f"Via: SIP/2.0/UDP 127.0.0.1:47300;branch={branch};rport",
        "From: <sip:desk@127.0.0.1>;tag=4242SIPpTag001",
        "To: <sip:desk@127.0.0.1>",
        "Call-ID: 1-4242@127.0.0.1",
        f"CSeq: {cseq} REGISTER",
        "Contact: <sip:desk@127.0.0.1:47300;transport=UDP>",
        *([authorization] if authorization else []),
        "Expires: 3600",
        "Max-Forwards: 70",
        "User-Agent: sipp",
        "Content-Length: 0",
        "",
        "",
    ]
    return "\r\n".join(lines).encode()


class Store:
    def __init__(self) -> None:
        self.saved: list[Binding] = []
        self.deleted: list[Binding] = []

    def save_binding(self, binding: Binding) -> None:
        self.saved.append(binding)

    def delete_binding(self, binding: Binding) -> None:
        self.deleted.append(binding)


class Harness:
    def __init__(self) -> None:
        self.location = Location()
        peers = PeerRegistry(sip_config(CONF), self.location)
        tokens = CountingTokens()
        registrar = Registrar(
            self.location,
            DigestAuthenticator("pbx-test", b"endpoint test key"),
            peers.get,
            RegistrarSettings(server="pbx"),
            lambda: tokens.hex(4),
        )
        self.store = Store()
        self.endpoint = SipEndpoint(
            peers,
            registrar,
            Qualifier(lambda: 0.5),
            tokens,
            self.store,
            EndpointSettings(useragent="pbx", realm="pbx-test"),
            now=lambda: NOW,
        )
        self.layer = TransactionLayer(self.endpoint)
        self.endpoint.layer = self.layer
        #: What reached the call layer: (method, with a server transaction).
        self.calls: list[tuple[str, bool]] = []
        self.endpoint.call_handler = self._call

    def _call(self, request: Request, flow: Flow, tx: ServerTransaction | None, now: float) -> bool:
        """The call layer's hook: takes INVITE, BYE, CANCEL and ACK and answers nothing."""
        self.calls.append((request.method, tx is not None))
        return request.method in ("INVITE", "BYE", "CANCEL", "ACK")

    def send(self, data: bytes, now: float = NOW, flow: Flow = UDP_FLOW) -> list[Response]:
        """Feed one request from the desk phone; the responses sent back to it."""
        message = request(data)
        message.validate()
        self.layer.receive(message, flow, now)
        out = []
        for send in self.layer.outputs():
            parsed = parse_message(send.data)
            assert isinstance(parsed, Response) and send.flow == flow
            out.append(parsed)
        return out


def answer(challenge: Response, cseq: int, branch: str) -> bytes:
    """The REGISTER answering ``challenge`` with the right password (RFC 2617 §3.2.2)."""
    nonce = re.search(r'nonce="([^"]+)"', challenge.headers.get("WWW-Authenticate") or "")
    assert nonce is not None
    ha1 = hashlib.md5(b"desk:pbx-test:s3cret").hexdigest()
    response = compute_response("MD5", ha1, nonce.group(1), "REGISTER", "sip:127.0.0.1:5060")
    authorization = (
        f'Authorization: Digest username="desk",realm="pbx-test",uri="sip:127.0.0.1:5060",'
        f'nonce="{nonce.group(1)}",response="{response}",algorithm=MD5'
    )
    return register(cseq, branch, authorization)


class RegisterTests(SynchronousTestCase):
    def test_challenge_is_stateless_and_the_200_lingers(self) -> None:
        h = Harness()
        [challenge] = h.send(register(1, "z9hG4bK-1"))
        self.assertEqual(challenge.status, 401)
        self.assertEqual((len(h.layer), h.layer.timer_at()), (0, None))  # §8.2.7
        [ok] = h.send(answer(challenge, 2, "z9hG4bK-2"), NOW + 0.01)
        self.assertEqual(ok.status, 200)
        self.assertEqual(len(h.layer), 1)  # Timer J keeps the 200 for retransmissions
        self.assertEqual(h.layer.timer_at(), NOW + 32.1)  # 32.01 s, at the next 100 ms tick
        self.assertEqual([b.aor for b in h.store.saved], ["desk"])
        self.assertEqual([b.aor for b in h.location], ["desk"])

    def test_a_retransmitted_register_gets_a_fresh_challenge(self) -> None:
        h = Harness()
        [first] = h.send(register(1, "z9hG4bK-1"))
        [again] = h.send(register(1, "z9hG4bK-1"), NOW + 0.5)
        self.assertEqual((first.status, again.status), (401, 401))
        self.assertNotEqual(first.headers.get("To"), again.headers.get("To"))  # a new answer
        [ok] = h.send(answer(again, 2, "z9hG4bK-2"), NOW + 0.6)
        self.assertEqual(ok.status, 200)

    def test_a_retransmitted_authorized_register_gets_the_same_200(self) -> None:
        h = Harness()
        [challenge] = h.send(register(1, "z9hG4bK-1"))
        data = answer(challenge, 2, "z9hG4bK-2")
        [ok] = h.send(data, NOW + 0.01)
        [again] = h.send(data, NOW + 0.5)
        self.assertEqual(again.headers.items(), ok.headers.items())
        self.assertEqual(len(h.store.saved), 1)  # the NIST absorbed it: no second binding


#: RFC 4475 §3.3.15 came in over TLS from ``fold-and-staple.example.com``.
TLS_FLOW = Flow(TransportKind.TLS, Address("127.0.0.1", 5061), Address("127.0.0.1", 47302), 4)
BEXT01 = Path(__file__).resolve().parents[2] / "data" / "sip" / "rfc4475" / "bext01.dat"


def phone_invite(*edits: tuple[str, str]) -> bytes:
    """baresip's recorded INVITE; its empty ``Supported:`` line is what the edits replace."""
    return edit(load("baresip-invite.sip"), *edits)


def requiring(value: str) -> tuple[str, str]:
    return ("Supported:", f"Require: {value}")


class RequireTests(SynchronousTestCase):
    """RFC 3261 §8.2.2.3: 420 Bad Extension with ``Unsupported`` naming exactly what pbx lacks."""

    def assert_bad_extension(self, responses: list[Response], unsupported: str) -> Response:
        [response] = responses  # no 100 Trying: the 420 is immediate
        self.assertEqual((response.status, response.reason), (420, "Bad Extension"))
        self.assertEqual(response.headers.get_all("Unsupported"), unsupported.split(", "))
        self.assertEqual(response.headers.get("Server"), "pbx")
        return response

    def test_rfc4475_bext01_lists_require_but_not_proxy_require(self) -> None:
        h = Harness()
        with self.assertLogs("pbx.call.sip_endpoint", "WARNING") as logs:
            responses = h.send(BEXT01.read_bytes(), flow=TLS_FLOW)
        response = self.assert_bad_extension(
            responses, "nothingSupportsThis, nothingSupportsThisEither"
        )
        self.assertEqual(response.headers.get("Call-ID"), "bext01.0ha0isndaksdj")
        self.assertTrue(response.to.tag)
        self.assertEqual(
            logs.output,
            [
                "WARNING:pbx.call.sip_endpoint:Received SIP OPTIONS from 127.0.0.1:47302 with "
                "unsupported required extension: required:nothingSupportsThis, "
                "nothingSupportsThisEither unsupported:nothingSupportsThis, "
                "nothingSupportsThisEither"
            ],
        )

    def test_invite_requiring_100rel_never_reaches_the_call_layer(self) -> None:
        h = Harness()
        self.assert_bad_extension(h.send(phone_invite(requiring("100rel"))), "100rel")
        self.assertEqual(h.calls, [])
        # The INVITE server transaction waits for the ACK of its 420 (§17.2.1), as usual.
        self.assertEqual(len(h.layer), 1)

    def test_only_the_unsupported_tags_are_listed_once_each(self) -> None:
        h = Harness()
        value = "timer, outbound, 100rel, Timer, OUTBOUND"
        self.assert_bad_extension(h.send(phone_invite(requiring(value))), "timer, 100rel")

    def test_supported_tags_and_supported_alone_pass(self) -> None:
        h = Harness()
        [trying] = h.send(phone_invite(requiring("Outbound")))
        # Supported only says what the caller can do: nothing is asked of pbx.
        invite = phone_invite(
            ("Supported:", "Supported: 100rel, timer, replaces"),
            ("z9hG4bK05a5c07a84fb15f8", "z9hG4bKsupported"),
        )
        [trying_too] = h.send(invite)
        self.assertEqual((trying.status, trying_too.status), (100, 100))
        self.assertEqual(h.calls, [("INVITE", True), ("INVITE", True)])

    def test_register_requiring_path_is_refused_before_the_challenge(self) -> None:
        h = Harness()
        data = register(1, "z9hG4bK-1")
        path = edit(data, ("Expires: 3600", "Require: path\r\nExpires: 3600"))
        self.assert_bad_extension(h.send(path), "path")
        self.assertEqual(list(h.location), [])
        outbound = edit(data, ("Expires: 3600", "Require: outbound\r\nExpires: 3600"))
        [challenge] = h.send(edit(outbound, ("z9hG4bK-1", "z9hG4bK-2")))
        self.assertEqual(challenge.status, 401)  # RFC 5626 is what pbx does

    def test_in_dialog_requests_are_checked_with_their_to_tag_kept(self) -> None:
        h = Harness()
        bye = edit(
            load("baresip-bye.sip"), ("Max-Forwards: 70", "Max-Forwards: 70\r\nRequire: tdialog")
        )
        response = self.assert_bad_extension(h.send(bye), "tdialog")
        self.assertEqual(response.to.tag, "as21ac11ec")
        self.assertEqual(h.calls, [])

    def test_ack_and_cancel_ignore_require(self) -> None:
        h = Harness()
        require = ("Max-Forwards: 70", "Max-Forwards: 70\r\nRequire: 100rel")
        self.assertEqual(h.send(edit(load("baresip-ack.sip"), require)), [])
        cancel = edit(
            load("baresip-bye.sip"),
            require,
            ("BYE sip:", "CANCEL sip:"),
            ("CSeq: 45696 BYE", "CSeq: 45696 CANCEL"),
            (";tag=as21ac11ec", ""),
        )
        self.assertEqual(h.send(cancel), [])
        self.assertEqual(h.calls, [("ACK", False), ("CANCEL", True)])

    def test_an_unimplemented_method_is_501_whatever_it_requires(self) -> None:
        """§8.2.1 inspects the method before §8.2.2.3 looks at Require."""
        h = Harness()
        subscribe = edit(
            load("baresip-bye.sip"),
            ("Max-Forwards: 70", "Max-Forwards: 70\r\nRequire: eventlist"),
            ("BYE sip:", "SUBSCRIBE sip:"),
            ("CSeq: 45696 BYE", "CSeq: 45696 SUBSCRIBE"),
            (";tag=as21ac11ec", ""),
        )
        [response] = h.send(subscribe)
        self.assertEqual((response.status, response.headers.get("Unsupported")), (501, None))

    def test_options_answer_lists_what_pbx_supports(self) -> None:
        h = Harness()
        options = BEXT01.read_bytes().replace(
            b"Require: nothingSupportsThis, nothingSupportsThisEither\r\n", b""
        )
        [ok] = h.send(options, flow=TLS_FLOW)
        self.assertEqual((ok.status, ok.headers.get("Supported")), (200, "outbound"))
