"""REGISTER handling against chan_sip's table (ASTERISK-REFERENCE §1.2, §1.5, §1.6).

Browser traffic is the JsSIP/SIP.js REGISTERs captured against Asterisk (test/data/sip/captures
and test/data/sip/registrar); their Authorization is recomputed here over the nonce our registrar
issued, keeping the shape each library sends. Desk-phone traffic is written the way sipp sends it.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from pbx.core.addr import Address, TransportKind
from pbx.core.tokens import CountingTokens
from pbx.sip.auth import DigestAuthenticator
from pbx.sip.flow import Flow
from pbx.sip.headers import Auth
from pbx.sip.location import Location
from pbx.sip.message import Request, Response, parse_message
from pbx.sip.registrar import (
    RegisterOutcome,
    Registrar,
    RegistrarSettings,
    nat_detected,
)

SIP_DATA = Path(__file__).resolve().parents[2] / "data" / "sip"
KEY = b"registrar test key"
#: The second chan_sip put in the Date of asterisk-200-register.sip.
NOW = 1795704172.0
DATE = "Thu, 26 Nov 2026 14:42:52 GMT"

UDP, TCP, TLS = TransportKind.UDP, TransportKind.TCP, TransportKind.TLS
WS, WSS = TransportKind.WS, TransportKind.WSS
PBX = Address("127.0.0.1", 5060)
PHONE = Address("192.0.2.10", 5060)
PHONE_UDP = Flow(UDP, PBX, PHONE)
NATTED = Flow(UDP, PBX, Address("198.51.100.7", 40000))  # a phone at 10.0.0.5 behind NAT
BROWSER = Flow(WSS, Address("127.0.0.1", 8089), Address("127.0.0.1", 55104), conn_id=1)
NONCE_RE = re.compile(r'nonce="[^"]*"')


# -- the peers: small local stand-ins for PeerConfig ------------------------------------------


@dataclass(frozen=True)
class Nets:
    """A source ACL denying the listed networks; remembers the addresses it was asked about."""

    deny: tuple[str, ...] = ()
    asked: list[str] = field(default_factory=list, compare=False)

    def allows(self, ip: str) -> bool:
        self.asked.append(ip)
        address = ipaddress.ip_address(ip)
        return not any(address in ipaddress.ip_network(net) for net in self.deny)


@dataclass(frozen=True)
class NatFlags:
    force_rport: bool = False
    auto_force_rport: bool = True  # chan_sip's default


NAT_NO = NatFlags(auto_force_rport=False)


@dataclass(frozen=True)
class Peer:
    name: str
    secret: str = "s3cret"
    md5secret: str = ""
    dynamic: bool = True
    transports: tuple[TransportKind, ...] = (UDP,)
    acl: Nets = field(default_factory=Nets)
    contactacl: Nets = field(default_factory=Nets)
    nat: NatFlags = NatFlags()
    max_contacts: int = 1


ALICE = Peer("alice")


# -- messages ---------------------------------------------------------------------------------


def parse_request(data: bytes) -> Request:
    message = parse_message(data)
    assert isinstance(message, Request)
    message.validate()
    return message


def register(
    user: str = "alice",
    *,
    contacts: tuple[str, ...] = ("<sip:alice@192.0.2.10:5060>",),
    expires: int | None = None,
    via: str = "SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-524287-1",
    to: str | None = None,
    cseq: int = 1,
    extra: tuple[str, ...] = (),
) -> bytes:
    """A REGISTER as sipp or a desk phone sends it."""
    lines = [
        "REGISTER sip:127.0.0.1:5060 SIP/2.0",
        f"Via: {via}",
        "Max-Forwards: 70",
        f"From: <sip:{user}@127.0.0.1>;tag=1f2e3d",
        f"To: {to or f'<sip:{user}@127.0.0.1>'}",
        "Call-ID: 1-4242@192.0.2.10",
        f"CSeq: {cseq} REGISTER",
        *(f"Contact: {c}" for c in contacts),
        *([] if expires is None else [f"Expires: {expires}"]),
        "User-Agent: sipp",
        *extra,
        "Content-Length: 0",
        "",
        "",
    ]
    return "\r\n".join(lines).encode()


def capture(name: str) -> bytes:
    """A recorded message, byte-exact: ``captures/<name>``, or ``registrar/<name>`` for the
    three recordings kept there."""
    for folder in ("captures", "registrar"):
        path = SIP_DATA / folder / name
        if path.exists():
            return path.read_bytes()
    raise FileNotFoundError(name)


def H(algorithm: str, text: str) -> str:
    return hashlib.new({"MD5": "md5", "SHA-256": "sha256"}[algorithm], text.encode()).hexdigest()


def nonce_of(challenge: Response) -> str:
    value = challenge.headers.get("WWW-Authenticate")
    assert value is not None, f"not a challenge: {challenge.status}"
    return Auth.parse(value).params["nonce"]


def answer(
    data: bytes,
    challenge: Response,
    password: str = "s3cret",
    *,
    username: str | None = None,
    algorithm: str = "MD5",
    realm: str = "asterisk",
) -> bytes:
    """``data`` with an Authorization computed over the challenge's nonce.

    A capture keeps its own Authorization shape (JsSIP/SIP.js parameter order, qop or not);
    a request without one gets sipp's shape.
    """
    request = parse_request(data)
    nonce = nonce_of(challenge)
    uri = request.to.uri
    user = username or getattr(uri, "user", None) or ""
    old = request.headers.get("Authorization")
    if old is None:
        params = {"username": user, "realm": realm, "uri": request.uri, "nonce": nonce}
    else:
        params = Auth.parse(old).params
        params.update(username=user, realm=realm, nonce=nonce)
    ha1 = H(algorithm, f"{user}:{realm}:{password}")
    ha2 = H(algorithm, f"REGISTER:{params['uri']}")
    if "qop" in params:
        tail = f"{params['nc']}:{params['cnonce']}:{params['qop']}:{ha2}"
        params["response"] = H(algorithm, f"{ha1}:{nonce}:{tail}")
    else:
        params["response"] = H(algorithm, f"{ha1}:{nonce}:{ha2}")
    if old is None:
        value = (
            f'Digest username="{user}",realm="{realm}",uri="{params["uri"]}",nonce="{nonce}",'
            f'response="{params["response"]}",algorithm={algorithm}'
        )
        line = f"Authorization: {value}\r\nContent-Length:".encode()
        return data.replace(b"Content-Length:", line, 1)
    fixed = str(Auth("Digest", params))
    return data.replace(f"Authorization: {old}".encode(), f"Authorization: {fixed}".encode())


def shape(response: Response) -> tuple[object, ...]:
    """What a prober can see: status, reason, header names, the challenge with its nonce
    masked."""
    www = response.headers.get("WWW-Authenticate")
    return (
        response.status,
        response.reason,
        [name for name, _ in response.headers.items()],
        None if www is None else NONCE_RE.sub('nonce=""', www),
    )


class Harness:
    def __init__(self, *peers: Peer, **settings: object) -> None:
        self.location = Location()
        self.authenticator = DigestAuthenticator("asterisk", KEY)
        self.peers = {p.name: p for p in peers}
        tokens = CountingTokens()
        self.registrar = Registrar(
            self.location,
            self.authenticator,
            self.peers.get,
            RegistrarSettings(**settings),  # type: ignore[arg-type]
            lambda: tokens.hex(4),
        )

    def send(self, data: bytes, flow: Flow = PHONE_UDP, now: float = NOW) -> RegisterOutcome:
        return self.registrar.handle(parse_request(data), flow, now)

    def login(
        self, data: bytes, flow: Flow = PHONE_UDP, now: float = NOW, password: str = "s3cret"
    ) -> RegisterOutcome:
        """The 401 round, then the answer: the outcome of the answer."""
        first = self.send(data, flow, now)
        if first.response.status != 401:
            return first
        return self.send(answer(data, first.response, password), flow, now)


class RegistrarTestCase(SynchronousTestCase):
    def assertHeader(self, response: Response, name: str, value: str | None) -> None:
        self.assertEqual(response.headers.get(name), value, name)

    def assertContacts(self, response: Response, *values: str) -> None:
        self.assertEqual(response.headers.get_all("Contact"), list(values))


# -- the tests --------------------------------------------------------------------------------


class KnownUserTests(RegistrarTestCase):
    def test_401_then_200(self) -> None:
        h = Harness(ALICE)
        data = register(expires=300)
        first = h.send(data)
        self.assertEqual((first.response.status, first.response.reason), (401, "Unauthorized"))
        self.assertRegex(
            first.response.headers.get("WWW-Authenticate") or "",
            r'\ADigest algorithm=MD5, realm="asterisk", nonce="[0-9a-f]+\.[0-9a-f]{16}"\Z',
        )
        self.assertEqual(
            (first.peer, first.saved, first.removed, first.failure), ("alice", [], [], None)
        )
        self.assertIsNone(first.response.headers.get("Date"))
        self.assertEqual(len(h.location), 0)

        ok = h.send(answer(data, first.response))
        response = ok.response
        self.assertEqual((response.status, response.reason), (200, "OK"))
        self.assertHeader(response, "Expires", "300")
        self.assertContacts(response, "<sip:alice@192.0.2.10:5060>;expires=300")
        self.assertHeader(response, "Date", DATE)
        self.assertIsNone(response.headers.get("WWW-Authenticate"))
        [binding] = ok.saved
        self.assertEqual(ok.removed, [])
        self.assertEqual(h.location.lookup("alice"), [binding])
        self.assertEqual(
            (binding.aor, binding.contact, binding.expires_at, binding.registered_at),
            ("alice", "sip:alice@192.0.2.10:5060", NOW + 300, NOW),
        )
        self.assertEqual((binding.source, binding.transport, binding.flow), (PHONE, UDP, PHONE_UDP))
        self.assertEqual(
            (binding.call_id, binding.cseq, binding.user_agent), ("1-4242@192.0.2.10", 1, "sipp")
        )
        self.assertEqual((binding.instance, binding.reg_id), (None, None))

    def test_date_follows_the_clock_by_the_second(self) -> None:
        h = Harness(ALICE)
        dates = [
            h.login(register(), now=NOW + dt).response.headers.get("Date")
            for dt in (0.2, 0.9, 1.0, -3600.0)
        ]
        self.assertEqual(
            dates,
            [DATE, DATE, "Thu, 26 Nov 2026 14:42:53 GMT", "Thu, 26 Nov 2026 13:42:52 GMT"],
        )

    def test_user_agents_are_shared_between_bindings(self) -> None:
        h = Harness(ALICE, Peer("bob"))
        saved = [
            h.login(
                register(user).replace(b"User-Agent: sipp", b"User-Agent: Yealink SIP-T46S")
            ).saved[0]
            for user in ("alice", "bob")
        ]
        self.assertEqual(saved[0].user_agent, "Yealink SIP-T46S")
        self.assertIs(saved[0].user_agent, saved[1].user_agent)

    def test_responses_answer_the_request(self) -> None:
        h = Harness(ALICE, server="pbx 0.1")
        first = h.send(register()).response
        self.assertEqual(
            first.headers.items()[:5],
            [
                ("Via", "SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-524287-1"),
                ("From", "<sip:alice@127.0.0.1>;tag=1f2e3d"),
                ("To", "<sip:alice@127.0.0.1>;tag=00000001"),
                ("Call-ID", "1-4242@192.0.2.10"),
                ("CSeq", "1 REGISTER"),
            ],
        )
        self.assertHeader(first, "Server", "pbx 0.1")
        ok = h.send(answer(register(cseq=2), first)).response
        self.assertHeader(ok, "Server", "pbx 0.1")
        self.assertHeader(ok, "CSeq", "2 REGISTER")

    def test_wrong_password_401_then_403(self) -> None:
        h = Harness(ALICE)
        outcome = h.login(register(), password="guess")
        self.assertEqual((outcome.response.status, outcome.response.reason), (403, "Forbidden"))
        self.assertEqual((outcome.peer, outcome.failure), ("alice", "Wrong password"))
        self.assertEqual((outcome.saved, len(h.location)), ([], 0))

    def test_md5secret(self) -> None:
        md5 = H("MD5", "alice:asterisk:s3cret")
        h = Harness(Peer("alice", secret="", md5secret=md5))
        self.assertEqual(h.login(register()).response.status, 200)
        self.assertEqual(h.login(register(), password="guess").response.status, 403)

    def test_sha256_answer(self) -> None:
        h = Harness(ALICE)
        first = h.send(register())
        ok = h.send(answer(register(), first.response, algorithm="SHA-256"))
        self.assertEqual(ok.response.status, 200)

    def test_no_secret_is_never_challenged(self) -> None:
        h = Harness(Peer("alice", secret=""))
        outcome = h.send(register(expires=300))
        self.assertEqual(outcome.response.status, 200)
        self.assertIsNone(outcome.response.headers.get("WWW-Authenticate"))
        self.assertEqual(len(outcome.saved), 1)

    def test_stale_nonce(self) -> None:
        h = Harness(ALICE)
        first = h.send(register())
        late = NOW + 31.0  # nonces live 30 s
        stale = h.send(answer(register(cseq=2), first.response), now=late)
        www = stale.response.headers.get("WWW-Authenticate") or ""
        self.assertEqual(stale.response.status, 401)
        self.assertTrue(www.startswith('Digest algorithm=MD5, realm="asterisk", nonce="'))
        self.assertTrue(www.endswith(", stale=true"), www)
        self.assertEqual((stale.saved, stale.failure), ([], None))
        # The client retries over the new nonce without asking its user.
        ok = h.send(answer(register(cseq=3), stale.response), now=late)
        self.assertEqual(ok.response.status, 200)

    def test_stale_nonce_with_a_wrong_password_is_a_plain_challenge(self) -> None:
        h = Harness(ALICE)
        first = h.send(register())
        again = h.send(answer(register(cseq=2), first.response, "guess"), now=NOW + 31.0)
        self.assertEqual(again.response.status, 401)
        self.assertNotIn("stale", again.response.headers.get("WWW-Authenticate") or "")

    def test_nonce_from_before_a_restart_is_stale(self) -> None:
        before = Harness(ALICE)
        first = before.send(register())
        after = Harness(ALICE)
        after.authenticator = DigestAuthenticator("asterisk", b"new key")
        after.registrar.auth = after.authenticator
        outcome = after.send(answer(register(cseq=2), first.response))
        self.assertEqual(outcome.response.status, 401)
        self.assertIn("stale=true", outcome.response.headers.get("WWW-Authenticate") or "")

    def test_answer_to_another_realm_is_challenged_again(self) -> None:
        h = Harness(ALICE)
        first = h.send(register())
        outcome = h.send(answer(register(cseq=2), first.response, realm="elsewhere"))
        self.assertEqual(outcome.response.status, 401)

    def test_malformed_authorization(self) -> None:
        h = Harness(ALICE)
        for value in ("Digest nonce", 'Digest username="alice", realm="asterisk", nonce="x"'):
            outcome = h.send(register(extra=(f"Authorization: {value}",)))
            self.assertEqual(
                (outcome.response.status, outcome.response.reason),
                (400, "Malformed Authorization header"),
            )
            self.assertEqual(len(h.location), 0)

    def test_name_from_the_to_uri(self) -> None:
        h = Harness(ALICE, Peer("127.0.0.1", secret=""))
        # %-escapes decoded, as chan_sip's ast_uri_decode does.
        data = register(to="<sip:al%69ce@127.0.0.1>")
        first = h.send(data)
        self.assertEqual((first.response.status, first.peer), (401, "alice"))
        outcome = h.send(answer(data, first.response, username="alice"))
        self.assertEqual((outcome.response.status, outcome.peer), (200, "alice"))
        # No user part: the host names the peer.
        outcome = h.send(register(to="<sip:127.0.0.1>"))
        self.assertEqual((outcome.response.status, outcome.peer), (200, "127.0.0.1"))

    def test_to_that_is_not_sip(self) -> None:
        h = Harness(ALICE)
        outcome = h.send(register(to="<tel:+15551234567>"))
        self.assertEqual((outcome.response.status, outcome.response.reason), (404, "Not found"))


class AlwaysAuthRejectTests(RegistrarTestCase):
    """alwaysauthreject=yes (default): nothing tells a prober which names exist."""

    PEERS = (
        ALICE,
        Peer("static", dynamic=False),
        Peer("guarded", acl=Nets(deny=("192.0.2.0/24",))),
        Peer("browser", transports=(WS, WSS)),
    )

    def probe(
        self, name: str, password: str, digest_user: str | None = None
    ) -> tuple[RegisterOutcome, RegisterOutcome]:
        h = Harness(*self.PEERS)
        first = h.send(register(name))
        second = h.send(
            answer(register(name, cseq=2), first.response, password, username=digest_user)
        )
        self.assertEqual(len(h.location), 0)
        return first, second

    def test_every_refusal_looks_like_a_wrong_password(self) -> None:
        known = self.probe("alice", "guess")
        self.assertEqual([o.response.status for o in known], [401, 403])
        reference = [shape(o.response) for o in known]
        for name, password, user, failure in (
            ("mallory", "s3cret", None, "No matching peer found"),
            ("static", "s3cret", None, "Peer is not supposed to register"),
            ("guarded", "s3cret", None, "Device does not match ACL"),
            ("alice", "s3cret", "bob", "Wrong password"),  # digest username mismatch
            # Right password, transport not allowed: refused only after authentication.
            ("browser", "s3cret", None, "Bad transport"),
        ):
            first, second = self.probe(name, password, user)
            self.assertEqual([shape(first.response), shape(second.response)], reference, name)
            self.assertEqual((first.failure, second.failure), (None, failure), name)

    def test_unknown_users_bytes_match_a_known_users(self) -> None:
        def exchange(name: str) -> list[bytes]:
            h = Harness(ALICE)
            first = h.send(register(name))
            second = h.send(answer(register(name, cseq=2), first.response, "guess"))
            return [
                NONCE_RE.sub("", bytes(o.response).decode()).replace(name, "X").encode()
                for o in (first, second)
            ]

        self.assertEqual(exchange("alice"), exchange("mallo"))

    def test_unknown_user_with_the_dummy_secret_fails(self) -> None:
        first, second = self.probe("mallory", KEY.hex())
        self.assertEqual(second.response.status, 403)

    def test_unknown_user_over_a_stale_nonce_gets_a_plain_challenge(self) -> None:
        h = Harness(ALICE)
        first = h.send(register("mallory"))
        again = h.send(answer(register("mallory", cseq=2), first.response), now=NOW + 31.0)
        self.assertEqual(shape(again.response), shape(first.response))


class NoAuthRejectTests(RegistrarTestCase):
    """alwaysauthreject=no: 404 / 403 straight away."""

    def test_unknown_name_is_404(self) -> None:
        h = Harness(ALICE, alwaysauthreject=False)
        outcome = h.send(register("mallory"))
        self.assertEqual((outcome.response.status, outcome.response.reason), (404, "Not found"))
        self.assertIsNone(outcome.response.headers.get("WWW-Authenticate"))
        self.assertEqual(outcome.failure, "No matching peer found")

    def test_static_peer_and_acl_are_403(self) -> None:
        h = Harness(
            Peer("static", dynamic=False),
            Peer("guarded", acl=Nets(deny=("192.0.2.0/24",))),
            alwaysauthreject=False,
        )
        for name, failure in (
            ("static", "Peer is not supposed to register"),
            ("guarded", "Device does not match ACL"),
        ):
            outcome = h.send(register(name))
            self.assertEqual((outcome.response.status, outcome.response.reason), (403, "Forbidden"))
            self.assertEqual(outcome.failure, failure)

    def test_acl_checks_the_packet_source(self) -> None:
        acl = Nets(deny=("198.51.100.0/24",))
        h = Harness(Peer("alice", acl=acl), alwaysauthreject=False)
        self.assertEqual(h.send(register(), NATTED).response.status, 403)
        self.assertEqual(acl.asked, ["198.51.100.7"])
        self.assertEqual(h.send(register()).response.status, 401)  # from 192.0.2.10

    def test_wrong_password_is_still_401_then_403(self) -> None:
        h = Harness(ALICE, alwaysauthreject=False)
        first = h.send(register())
        second = h.send(answer(register(cseq=2), first.response, "guess"))
        self.assertEqual([first.response.status, second.response.status], [401, 403])

    def test_username_mismatch_is_an_unknown_user(self) -> None:
        h = Harness(ALICE, alwaysauthreject=False)
        first = h.send(register())
        second = h.send(answer(register(cseq=2), first.response, username="bob"))
        self.assertEqual((second.response.status, second.response.reason), (404, "Not found"))
        self.assertEqual(second.failure, "Username/auth name mismatch")


class TransportTests(RegistrarTestCase):
    def test_ws_and_wss_are_one_family(self) -> None:
        for allowed in ((WS,), (WSS,), (UDP, WS)):
            h = Harness(Peer("alice", transports=allowed))
            outcome = h.login(capture("sipjs-register.sip"), BROWSER)
            self.assertEqual(outcome.response.status, 200, allowed)

    def test_transport_not_listed_is_403_after_authentication(self) -> None:
        h = Harness(Peer("alice", transports=(UDP,)))
        first = h.send(capture("sipjs-register.sip"), BROWSER)
        self.assertEqual(first.response.status, 401)
        second = h.send(answer(capture("sipjs-register-digest.sip"), first.response), BROWSER)
        self.assertEqual((second.response.status, second.failure), (403, "Bad transport"))
        self.assertEqual(len(h.location), 0)

    def test_other_transports(self) -> None:
        tcp = Flow(TCP, PBX, Address("192.0.2.10", 49152), conn_id=2)
        h = Harness(Peer("alice", transports=(TCP,)))
        via = "SIP/2.0/TCP 192.0.2.10:5060;branch=z9hG4bK-t"
        self.assertEqual(h.login(register(via=via), tcp).response.status, 200)
        self.assertEqual(h.login(register(), PHONE_UDP).response.status, 403)
        tls = Flow(TLS, PBX, Address("192.0.2.10", 49153), conn_id=3)
        self.assertEqual(h.login(register(via=via), tls).response.status, 403)

    def test_no_secret_peer_on_a_wrong_transport(self) -> None:
        h = Harness(Peer("alice", secret="", transports=(WS,)))
        outcome = h.send(register())
        self.assertEqual((outcome.response.status, outcome.failure), (403, "Bad transport"))


class ExpiryTests(RegistrarTestCase):
    def expiry(self, data: bytes, **settings: object) -> tuple[str | None, list[str], float]:
        h = Harness(Peer("alice", secret=""), **settings)
        outcome = h.send(data)
        self.assertEqual(outcome.response.status, 200)
        [binding] = outcome.saved
        return (
            outcome.response.headers.get("Expires"),
            outcome.response.headers.get_all("Contact"),
            binding.expires_at - NOW,
        )

    def test_expires_header_wins_over_the_contact_parameter(self) -> None:
        data = register(contacts=("<sip:alice@192.0.2.10:5060>;expires=600",), expires=300)
        self.assertEqual(
            self.expiry(data), ("300", ["<sip:alice@192.0.2.10:5060>;expires=300"], 300)
        )

    def test_contact_parameter(self) -> None:
        data = register(contacts=("<sip:alice@192.0.2.10:5060>;expires=600",))
        self.assertEqual(
            self.expiry(data), ("600", ["<sip:alice@192.0.2.10:5060>;expires=600"], 600)
        )

    def test_defaultexpiry(self) -> None:
        self.assertEqual(self.expiry(register())[0], "120")
        self.assertEqual(self.expiry(register(), defaultexpiry=240)[0], "240")

    def test_clamped_never_423(self) -> None:
        self.assertEqual(
            self.expiry(register(expires=10)),
            ("60", ["<sip:alice@192.0.2.10:5060>;expires=60"], 60),
        )
        self.assertEqual(self.expiry(register(expires=100000))[0], "3600")
        self.assertEqual(self.expiry(register(expires=1), minexpiry=30)[0], "30")
        self.assertEqual(self.expiry(register(expires=4000), maxexpiry=7200)[0], "4000")
        data = register(contacts=("<sip:alice@192.0.2.10:5060>;expires=5",))
        self.assertEqual(self.expiry(data)[0], "60")

    def test_malformed_expires(self) -> None:
        h = Harness(Peer("alice", secret=""))
        for data, reason in (
            (
                register(contacts=("<sip:alice@192.0.2.10>;expires=soon",)),
                "Malformed expires parameter",
            ),
            (register(extra=("Expires: soon",)), "Malformed Expires header"),
        ):
            outcome = h.send(data)
            self.assertEqual((outcome.response.status, outcome.response.reason), (400, reason))
        self.assertEqual(len(h.location), 0)

    def test_expires_zero_removes(self) -> None:
        h = Harness(ALICE)
        [binding] = h.login(register(expires=300)).saved
        outcome = h.login(register(expires=0, cseq=3))
        response = outcome.response
        self.assertEqual(response.status, 200)
        self.assertHeader(response, "Expires", "0")
        self.assertContacts(response)  # no Contact in an un-REGISTER 200 (chan_sip)
        self.assertHeader(response, "Date", DATE)
        self.assertEqual((outcome.removed, outcome.saved), ([binding], []))
        self.assertEqual(len(h.location), 0)

    def test_expires_zero_for_an_unknown_contact_leaves_the_others(self) -> None:
        h = Harness(Peer("alice", secret=""))
        [kept] = h.send(register(expires=300)).saved
        outcome = h.send(register(contacts=("<sip:alice@192.0.2.99>",), expires=0))
        self.assertEqual((outcome.response.status, outcome.removed), (200, []))
        self.assertHeader(outcome.response, "Expires", "0")
        self.assertContacts(outcome.response, "<sip:alice@192.0.2.10:5060>;expires=300")
        self.assertEqual(h.location.lookup("alice"), [kept])


class WildcardTests(RegistrarTestCase):
    def harness_with_two(self) -> Harness:
        h = Harness(Peer("alice", secret="", max_contacts=3))
        h.send(register(contacts=("<sip:alice@192.0.2.10:5060>",)))
        h.send(register(contacts=("<sip:alice@192.0.2.11:5060>",)), now=NOW + 1)
        self.assertEqual(len(h.location), 2)
        return h

    def test_star_with_expires_zero_removes_everything(self) -> None:
        h = self.harness_with_two()
        outcome = h.send(register(contacts=("*",), expires=0))
        self.assertEqual(outcome.response.status, 200)
        self.assertHeader(outcome.response, "Expires", "0")
        self.assertContacts(outcome.response)
        self.assertEqual(len(outcome.removed), 2)
        self.assertEqual(len(h.location), 0)

    def test_star_misuse_is_400_and_changes_nothing(self) -> None:
        h = self.harness_with_two()
        for data in (
            register(contacts=("*",)),
            register(contacts=("*",), expires=300),
            register(contacts=("*", "<sip:alice@192.0.2.10>"), expires=0),
            register(contacts=("*, <sip:alice@192.0.2.10>",), expires=0),
            register(contacts=("*", "*"), expires=0),
        ):
            outcome = h.send(data)
            self.assertEqual(outcome.response.status, 400, data)
            self.assertEqual((outcome.saved, outcome.removed), ([], []))
            self.assertEqual(len(h.location), 2)

    def test_star_needs_authentication_too(self) -> None:
        h = Harness(ALICE)
        h.login(register(expires=300))
        outcome = h.send(register(contacts=("*",), expires=0))
        self.assertEqual(outcome.response.status, 401)
        self.assertEqual(len(h.location), 1)


class QueryTests(RegistrarTestCase):
    def test_no_contact_lists_the_bindings(self) -> None:
        h = Harness(Peer("alice", secret="", max_contacts=2))
        h.send(register(contacts=("<sip:alice@192.0.2.10:5060>",), expires=300))
        h.send(register(contacts=("<sip:alice@192.0.2.11>",), expires=600), now=NOW + 50)
        outcome = h.send(register(contacts=()), now=NOW + 100)
        self.assertEqual(outcome.response.status, 200)
        self.assertHeader(outcome.response, "Expires", "550")  # the newest binding's
        self.assertContacts(
            outcome.response,
            "<sip:alice@192.0.2.11>;expires=550",
            "<sip:alice@192.0.2.10:5060>;expires=200",
        )
        self.assertEqual((outcome.saved, outcome.removed), ([], []))
        self.assertEqual(len(h.location), 2)

    def test_query_with_expires_still_changes_nothing(self) -> None:
        h = Harness(Peer("alice", secret=""))
        h.send(register(expires=300))
        outcome = h.send(register(contacts=(), expires=0), now=NOW + 10)
        self.assertContacts(outcome.response, "<sip:alice@192.0.2.10:5060>;expires=290")
        self.assertEqual(len(h.location), 1)

    def test_nothing_registered(self) -> None:
        h = Harness(ALICE)
        outcome = h.login(register(contacts=()))
        self.assertEqual(outcome.response.status, 200)
        self.assertHeader(outcome.response, "Expires", "0")
        self.assertContacts(outcome.response)

    def test_expired_bindings_are_not_listed(self) -> None:
        h = Harness(Peer("alice", secret=""))
        h.send(register(expires=60))
        outcome = h.send(register(contacts=()), now=NOW + 61)
        self.assertContacts(outcome.response)


class MaxContactsTests(RegistrarTestCase):
    def test_one_contact_per_peer_the_new_one_replaces(self) -> None:
        h = Harness(Peer("alice", secret=""))
        [old] = h.send(register(contacts=("<sip:alice@192.0.2.10:5060>",))).saved
        outcome = h.send(register(contacts=("<sip:alice@192.0.2.11:5060>",)), now=NOW + 1)
        [new] = outcome.saved
        self.assertEqual(outcome.removed, [old])
        self.assertContacts(outcome.response, "<sip:alice@192.0.2.11:5060>;expires=120")
        self.assertEqual(h.location.lookup("alice"), [new])

    def test_oldest_evicted_beyond_max_contacts(self) -> None:
        h = Harness(Peer("alice", secret="", max_contacts=3))
        saved = []
        for i in range(3):
            outcome = h.send(register(contacts=(f"<sip:alice@192.0.2.{10 + i}>",)), now=NOW + i)
            self.assertEqual(outcome.removed, [])
            saved += outcome.saved
        outcome = h.send(register(contacts=("<sip:alice@192.0.2.99>",)), now=NOW + 5)
        self.assertEqual(outcome.removed, [saved[0]])
        self.assertEqual(len(outcome.response.headers.get_all("Contact")), 3)

    def test_refresh_is_not_an_eviction(self) -> None:
        h = Harness(Peer("alice", secret="", max_contacts=1))
        h.send(register(expires=300))
        outcome = h.send(register(expires=300, cseq=2), now=NOW + 100)
        self.assertEqual(outcome.removed, [])
        self.assertEqual(h.location.lookup("alice"), outcome.saved)

    def test_first_contacts_of_one_request_win(self) -> None:
        h = Harness(Peer("alice", secret=""))
        outcome = h.send(
            register(contacts=("<sip:alice@192.0.2.10:5060>", "<sip:alice@192.0.2.11:5060>"))
        )
        self.assertEqual([b.contact for b in outcome.saved], ["sip:alice@192.0.2.10:5060"])
        self.assertEqual(outcome.removed, [])
        self.assertContacts(outcome.response, "<sip:alice@192.0.2.10:5060>;expires=120")

    def test_several_contacts_in_one_request(self) -> None:
        h = Harness(Peer("alice", secret="", max_contacts=3))
        outcome = h.send(
            register(
                contacts=(
                    "<sip:alice@192.0.2.10:5060>;expires=600",
                    "<sip:alice@192.0.2.11:5060>;expires=60",
                )
            )
        )
        self.assertEqual(len(outcome.saved), 2)
        self.assertHeader(outcome.response, "Expires", "600")
        self.assertEqual(len(outcome.response.headers.get_all("Contact")), 2)


class AtomicityTests(RegistrarTestCase):
    """A REGISTER is checked whole before the location service changes."""

    def test_bad_second_contact_binds_nothing(self) -> None:
        h = Harness(Peer("alice", secret="", max_contacts=3))
        for second, status, reason in (
            ("<sip:alice@192.0.2.11>;expires=soon", 400, "Malformed expires parameter"),
            ("<tel:+15551234567>", 400, "Unsupported Contact URI"),
        ):
            outcome = h.send(register(contacts=("<sip:alice@192.0.2.10>", second)))
            self.assertEqual((outcome.response.status, outcome.response.reason), (status, reason))
            self.assertEqual((outcome.saved, len(h.location)), ([], 0))

    def test_denied_second_contact_binds_nothing(self) -> None:
        h = Harness(
            Peer("alice", secret="", max_contacts=3, contactacl=Nets(deny=("203.0.113.0/24",))),
        )
        outcome = h.send(register(contacts=("<sip:alice@192.0.2.10>", "<sip:alice@203.0.113.5>")))
        self.assertEqual(outcome.response.status, 603)
        self.assertEqual((outcome.saved, len(h.location)), ([], 0))


class TargetTests(RegistrarTestCase):
    """Where later requests go (ASTERISK-REFERENCE §1.2 and §1.5)."""

    def target(
        self,
        nat: NatFlags,
        flow: Flow = PHONE_UDP,
        contact: str = "<sip:alice@192.0.2.10:5080>",
        via: str = "SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-x",
    ) -> Address:
        h = Harness(Peer("alice", secret="", nat=nat, transports=(UDP, TCP, TLS, WS, WSS)))
        outcome = h.send(register(contacts=(contact,), via=via), flow)
        self.assertEqual(outcome.response.status, 200)
        return outcome.saved[0].target

    def test_ip_contact_used_when_no_nat(self) -> None:
        self.assertEqual(self.target(NatFlags()), Address("192.0.2.10", 5080))
        self.assertEqual(self.target(NAT_NO), Address("192.0.2.10", 5080))
        self.assertEqual(
            self.target(NAT_NO, contact="<sip:alice@192.0.2.10>"), Address("192.0.2.10", 5060)
        )
        self.assertEqual(
            self.target(NAT_NO, contact="<sip:alice@192.0.2.10;transport=tls>"),
            Address("192.0.2.10", 5061),
        )
        self.assertEqual(
            self.target(NAT_NO, contact="<sips:alice@192.0.2.10>"), Address("192.0.2.10", 5061)
        )
        self.assertEqual(
            self.target(NAT_NO, PHONE_UDP, "<sip:alice@[2001:db8::10]:5062>"),
            Address("2001:db8::10", 5062),
        )

    def test_force_rport_uses_the_source(self) -> None:
        self.assertEqual(self.target(NatFlags(force_rport=True)), PHONE)

    def test_auto_force_rport_when_nat_is_detected(self) -> None:
        via = "SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK-x"
        contact = "<sip:alice@10.0.0.5:5060>"
        self.assertEqual(self.target(NatFlags(), NATTED, contact, via), NATTED.remote)
        self.assertEqual(self.target(NAT_NO, NATTED, contact, via), Address("10.0.0.5", 5060))
        # Same host, other port: chan_sip calls that NAT too.
        nat_port = Flow(UDP, PBX, Address("192.0.2.10", 40000))
        self.assertEqual(self.target(NatFlags(), nat_port), nat_port.remote)

    def test_via_rport_uses_the_source(self) -> None:
        via = "SIP/2.0/UDP 10.0.0.5:5060;rport;branch=z9hG4bK-x"
        self.assertEqual(self.target(NAT_NO, NATTED, "<sip:alice@10.0.0.5>", via), NATTED.remote)

    def test_name_contact_is_not_resolved(self) -> None:
        self.assertEqual(self.target(NAT_NO, contact="<sip:alice@phone.example.com>"), PHONE)

    def test_ws_contact_uses_the_source(self) -> None:
        contact = "<sip:x@abc.invalid;transport=ws>"
        self.assertEqual(self.target(NAT_NO, contact=contact), PHONE)

    def test_tcp_contacts_are_reconnected_to_at_their_listening_port(self) -> None:
        # The source port of a TCP connection is ephemeral: once the connection is gone, pbx
        # connects to the port the Contact names, at the host the connection came from.
        tcp = Flow(TCP, PBX, Address("192.0.2.10", 49152), conn_id=2)
        via = "SIP/2.0/TCP 192.0.2.10:5060;rport;branch=z9hG4bK-t"
        for nat, contact, expected in (
            (NAT_NO, "<sip:alice@192.0.2.10;transport=tcp>", 5060),
            (NatFlags(force_rport=True), "<sip:alice@192.0.2.10:5070;transport=tcp>", 5070),
            (NAT_NO, "<sip:alice@10.0.0.5:5070;transport=tcp>", 5070),  # behind NAT
            (NAT_NO, "<sip:alice@phone.example.com;transport=tcp>", 5060),  # not resolved
            (NAT_NO, "<sips:alice@192.0.2.10>", 5061),
        ):
            with self.subTest(contact=contact):
                self.assertEqual(
                    self.target(nat, tcp, contact, via), Address("192.0.2.10", expected)
                )
        # Over TLS a Contact without ;transport=tls still means the phone's TLS port.
        tls = Flow(TLS, PBX, Address("192.0.2.10", 49153), conn_id=3)
        tls_via = "SIP/2.0/TLS 192.0.2.10:5061;rport;branch=z9hG4bK-t"
        self.assertEqual(
            self.target(NAT_NO, tls, "<sip:alice@192.0.2.10>", tls_via), Address("192.0.2.10", 5061)
        )

    def test_browser_contact_with_invalid_host(self) -> None:
        h = Harness(Peer("alice", secret="", nat=NAT_NO, transports=(WS,)))
        [binding] = h.send(capture("jssip-register.sip"), BROWSER).saved
        self.assertEqual(binding.contact, "sip:8pluhnlc@94sbnb3892jg.invalid;transport=ws")
        self.assertEqual(
            (binding.target, binding.flow, binding.transport), (BROWSER.remote, BROWSER, WSS)
        )

    def test_nat_detected(self) -> None:
        def detected(via: str, source: Address) -> bool:
            data = register(via=via)
            return nat_detected(parse_request(data), Flow(UDP, PBX, source))

        self.assertFalse(detected("SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-1", PHONE))
        self.assertFalse(detected("SIP/2.0/UDP 192.0.2.10;branch=z9hG4bK-1", PHONE))
        self.assertTrue(detected("SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK-1", PHONE))
        self.assertTrue(detected("SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK-1", PHONE))
        self.assertTrue(detected("SIP/2.0/UDP phone.example.com;branch=z9hG4bK-1", PHONE))
        self.assertFalse(
            detected("SIP/2.0/TLS 192.0.2.10;branch=z9hG4bK-1", Address("192.0.2.10", 5061))
        )
        self.assertFalse(
            detected("SIP/2.0/UDP [0:0::1]:5060;branch=z9hG4bK-1", Address("::1", 5060))
        )


class ContactAclTests(RegistrarTestCase):
    def test_denied_contact_is_603(self) -> None:
        acl = Nets(deny=("192.0.2.0/24",))
        h = Harness(Peer("alice", secret="", nat=NAT_NO, contactacl=acl))
        outcome = h.send(register())
        self.assertEqual((outcome.response.status, outcome.response.reason), (603, "Denied"))
        self.assertEqual(outcome.failure, "Contact address denied by contactacl")
        self.assertEqual((outcome.saved, len(h.location)), ([], 0))
        self.assertEqual(acl.asked, ["192.0.2.10"])

    def test_checked_against_the_address_requests_will_go_to(self) -> None:
        via = "SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK-x"
        data = register(contacts=("<sip:alice@10.0.0.5>",), via=via)
        private = Harness(Peer("alice", secret="", contactacl=Nets(deny=("10.0.0.0/8",))))
        self.assertEqual(private.send(data, NATTED).response.status, 200)
        public = Harness(Peer("alice", secret="", contactacl=Nets(deny=("198.51.100.0/24",))))
        self.assertEqual(public.send(data, NATTED).response.status, 603)

    def test_browser_contact_is_checked_by_its_connection(self) -> None:
        acl = Nets(deny=("127.0.0.0/8",))
        h = Harness(Peer("alice", secret="", transports=(WS,), contactacl=acl))
        outcome = h.send(capture("jssip-register.sip"), BROWSER)
        self.assertEqual(outcome.response.status, 603)
        self.assertEqual(acl.asked, ["127.0.0.1"])

    def test_unregister_is_never_denied(self) -> None:
        h = Harness(Peer("alice", secret="", nat=NAT_NO))
        h.send(register(expires=300))
        h.peers["alice"] = Peer(
            "alice", secret="", nat=NAT_NO, contactacl=Nets(deny=("0.0.0.0/0",))
        )
        outcome = h.send(register(expires=0))
        self.assertEqual((outcome.response.status, len(outcome.removed)), (200, 1))

    def test_checked_after_authentication(self) -> None:
        h = Harness(Peer("alice", contactacl=Nets(deny=("0.0.0.0/0",))))
        self.assertEqual(h.send(register()).response.status, 401)


class CaptureTests(RegistrarTestCase):
    """JsSIP and SIP.js over WSS, as captured against chan_sip."""

    def setUp(self) -> None:
        self.h = Harness(Peer("alice", transports=(WS,)))

    def test_jssip_registers_like_chan_sip_answered(self) -> None:
        first = self.h.send(capture("jssip-register.sip"), BROWSER)
        asterisk_401 = parse_message(capture("asterisk-401-register.sip"))
        www = first.response.headers.get("WWW-Authenticate") or ""
        self.assertEqual(
            NONCE_RE.sub("", www),
            NONCE_RE.sub("", asterisk_401.headers.get("WWW-Authenticate") or ""),
        )
        data = answer(capture("jssip-register-digest-asterisk.sip"), first.response)
        self.assertIn(
            b'Authorization: Digest algorithm=MD5, username="alice", realm="asterisk"', data
        )
        ok = self.h.send(data, BROWSER)
        response = ok.response
        expected = parse_message(capture("asterisk-200-register.sip"))
        self.assertEqual(response.status, 200)
        for name in ("Expires", "Contact", "Date", "From", "Call-ID", "CSeq"):
            self.assertHeader(response, name, expected.headers.get(name))
        [binding] = ok.saved
        self.assertEqual(
            binding.key, ("instance", "<urn:uuid:e09557e5-0534-4766-b41f-c98c247d7814>|1")
        )
        self.assertEqual((binding.user_agent, binding.cseq), ("JsSIP/3.13.8", 2))

        # The un-REGISTER of the same session (same instance and reg-id, Expires: 0).
        first = self.h.send(capture("jssip-unregister.sip"), BROWSER)
        bye = self.h.send(answer(capture("jssip-unregister.sip"), first.response), BROWSER)
        expected = parse_message(capture("asterisk-200-unregister.sip"))
        self.assertEqual(bye.response.status, 200)
        for name in ("Expires", "Contact"):
            self.assertHeader(bye.response, name, expected.headers.get(name))
        self.assertEqual(bye.removed, [binding])
        self.assertEqual(len(self.h.location), 0)

    def test_jssip_answer_with_qop(self) -> None:
        first = self.h.send(capture("jssip-register.sip"), BROWSER)
        # Captured against a server that offered qop=auth in realm "probe": as it is, it
        # answers somebody else's challenge; over our nonce and realm it is good.
        as_captured = self.h.send(capture("jssip-register-digest.sip"), BROWSER)
        self.assertEqual(as_captured.response.status, 401)
        data = answer(capture("jssip-register-digest.sip"), first.response)
        self.assertIn(b"qop=auth", data)
        ok = self.h.send(data, BROWSER)
        self.assertEqual(ok.response.status, 200)
        self.assertEqual(ok.saved[0].instance, "<urn:uuid:0f036dc8-2d34-4e41-8476-784b95133f7f>")
        self.assertEqual(ok.saved[0].reg_id, 1)

    def test_sipjs_register_and_unregister(self) -> None:
        first = self.h.send(capture("sipjs-register.sip"), BROWSER)
        self.assertEqual(first.response.status, 401)
        ok = self.h.send(answer(capture("sipjs-register-digest.sip"), first.response), BROWSER)
        self.assertEqual(ok.response.status, 200)
        # No Expires header: the Contact's ;expires=300.
        self.assertHeader(ok.response, "Expires", "300")
        self.assertContacts(
            ok.response, "<sip:6otkptqt@0ha29ti9cn28.invalid;transport=ws>;expires=300"
        )
        [binding] = ok.saved
        self.assertEqual(binding.key, ("contact", "sip:6otkptqt@0ha29ti9cn28.invalid;transport=ws"))
        # Un-REGISTER with ;expires=0 on the Contact and no Expires header.
        again = self.h.send(capture("sipjs-unregister.sip"), BROWSER)
        bye = self.h.send(answer(capture("sipjs-unregister.sip"), again.response), BROWSER)
        self.assertEqual((bye.response.status, bye.removed), (200, [binding]))
        self.assertHeader(bye.response, "Expires", "0")
        self.assertContacts(bye.response)

    def test_closing_the_websocket_drops_the_binding(self) -> None:
        ok = self.h.login(capture("sipjs-register.sip"), BROWSER)
        self.assertEqual(ok.response.status, 200)
        self.assertEqual(self.h.location.flow_closed(BROWSER), ok.saved)
