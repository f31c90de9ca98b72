"""The SIP endpoint's REGISTER path (pbx.call.sip_endpoint): the registrar's answer goes out
through the transaction layer, challenges statelessly (RFC 3261 §8.2.7), bindings to the store.
"""

from __future__ import annotations

import hashlib
import re

from twisted.trial.unittest import SynchronousTestCase

from pbx.call.peers import PeerRegistry
from pbx.call.qualify import Qualifier
from pbx.call.sip_endpoint import EndpointSettings, SipEndpoint
from pbx.core.tokens import CountingTokens
from pbx.sip.auth import DigestAuthenticator, compute_response
from pbx.sip.location import Binding, Location
from pbx.sip.message import Response, parse_message
from pbx.sip.registrar import Registrar, RegistrarSettings
from pbx.sip.transaction.layer import TransactionLayer
from test.unit.call.fakes import UDP_FLOW, request, sip_config

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

    def send(self, data: bytes, now: float = NOW) -> list[Response]:
        """Feed one REGISTER from the desk phone; the responses sent back to it."""
        message = request(data)
        message.validate()
        self.layer.receive(message, UDP_FLOW, now)
        out = []
        for send in self.layer.outputs():
            parsed = parse_message(send.data)
            assert isinstance(parsed, Response) and send.flow == UDP_FLOW
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
