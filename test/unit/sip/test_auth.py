"""Digest authentication, chan_sip style: RFC 2617 §3.5 / RFC 7616 §3.9.1 vectors, nonces by
``now``, and every AuthResult the registrar acts on (ASTERISK-REFERENCE §1.2)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from pbx.sip.auth import (
    ALGORITHMS,
    AuthResult,
    Credentials,
    DigestAuthenticator,
    DigestLogin,
    authorization_for,
    compute_response,
    digest_answer,
)
from pbx.sip.headers import Auth
from pbx.sip.message import Response, parse_message

DATA = Path(__file__).resolve().parents[2] / "data" / "sip"
KEY = bytes(range(32))
REALM = "asterisk"
URI = "sip:127.0.0.1"


def load_auth(name: str) -> Auth:
    return Auth.parse((DATA / "digest" / name).read_text("ascii"))


def h(algorithm: str, text: str) -> str:
    """The hash function, written out independently of pbx.sip.auth."""
    return hashlib.new(ALGORITHMS[algorithm], text.encode()).hexdigest()


def rfc2069_response(user: str, password: str, nonce: str, method: str = "REGISTER") -> str:
    """What a client without qop sends (JsSIP, SIP.js and sipp against chan_sip)."""
    ha1 = h("MD5", f"{user}:{REALM}:{password}")
    ha2 = h("MD5", f"{method}:{URI}")
    return h("MD5", f"{ha1}:{nonce}:{ha2}")


def jssip_answer(
    nonce: str, password: str = "s3cret", user: str = "alice", response: str | None = None
) -> Auth:
    """JsSIP's Authorization shape (captured against chan_sip), with our nonce in it."""
    data = (DATA / "registrar" / "jssip-register-digest-asterisk.sip").read_bytes()
    header = parse_message(data).headers.get("Authorization")
    assert header is not None
    auth = Auth.parse(header)
    auth.params["username"] = user
    auth.params["nonce"] = nonce
    auth.params["response"] = response or rfc2069_response(user, password, nonce)
    return Auth.parse(str(auth))


def sipp_answer(nonce: str, password: str, user: str = "alice", algorithm: str = "MD5") -> Auth:
    """sipp's ``[authentication]`` shape: no spaces after the commas, algorithm last."""
    ha1 = h(algorithm, f"{user}:{REALM}:{password}")
    response = h(algorithm, f"{ha1}:{nonce}:" + h(algorithm, f"REGISTER:{URI}"))
    return Auth.parse(
        f'Digest username="{user}",realm="{REALM}",uri="{URI}",nonce="{nonce}",'
        f'response="{response}",algorithm={algorithm}'
    )


def qop_answer(nonce: str, password: str, user: str = "alice", algorithm: str = "MD5") -> Auth:
    """A client adding qop=auth on its own (RFC 2617 §3.2.2), as JsSIP does when offered."""
    ha1 = h(algorithm, f"{user}:{REALM}:{password}")
    ha2 = h(algorithm, f"REGISTER:{URI}")
    response = h(algorithm, f"{ha1}:{nonce}:00000001:87tap0tcpl84:auth:{ha2}")
    return Auth.parse(
        f'Digest algorithm={algorithm}, username="{user}", realm="{REALM}", nonce="{nonce}", '
        f'uri="{URI}", response="{response}", qop=auth, cnonce="87tap0tcpl84", nc=00000001'
    )


ALICE = Credentials(secret="s3cret")


class VectorTests(SynchronousTestCase):
    """Published examples through compute_response (and Credentials.ha1)."""

    def check(self, name: str, password: str, algorithm: str, expected: str) -> None:
        auth = load_auth(name)
        p = auth.params
        self.assertEqual(p.get("algorithm", "MD5"), algorithm)
        ha1 = Credentials(secret=password).ha1(algorithm, p["username"], p["realm"])
        self.assertEqual(ha1, h(algorithm, f"{p['username']}:{p['realm']}:{password}"))
        assert ha1 is not None
        response = compute_response(
            algorithm, ha1, p["nonce"], "GET", p["uri"], p["qop"], p["nc"], p["cnonce"]
        )
        self.assertEqual(response, expected)
        self.assertEqual(response, p["response"])

    def test_rfc2617_section_3_5(self) -> None:
        self.check(
            "rfc2617-3.5-authorization.txt",
            "Circle Of Life",
            "MD5",
            "6629fae49393a05397450978507c4ef1",
        )

    def test_rfc7616_section_3_9_1_md5(self) -> None:
        self.check(
            "rfc7616-3.9.1-md5-authorization.txt",
            "Circle of Life",
            "MD5",
            "8ca523f5e9506fed4657c9700eebdbec",
        )

    def test_rfc7616_section_3_9_1_sha256(self) -> None:
        self.check(
            "rfc7616-3.9.1-sha256-authorization.txt",
            "Circle of Life",
            "SHA-256",
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
        )

    def test_wrong_password_does_not_reproduce_the_vector(self) -> None:
        auth = load_auth("rfc2617-3.5-authorization.txt")
        p = auth.params
        ha1 = h("MD5", "Mufasa:testrealm@host.com:Circle of life")
        response = compute_response(
            "MD5", ha1, p["nonce"], "GET", p["uri"], p["qop"], p["nc"], p["cnonce"]
        )
        self.assertNotEqual(response, p["response"])

    def test_without_qop_is_rfc2069(self) -> None:
        ha1 = h("MD5", f"alice:{REALM}:s3cret")
        self.assertEqual(
            compute_response("MD5", ha1, "abc", "REGISTER", URI),
            rfc2069_response("alice", "s3cret", "abc"),
        )

    def test_rfc7616_answer_over_a_foreign_nonce_is_stale(self) -> None:
        # The RFC's own answer, checked by a server that did not issue its nonce: the digest
        # is right, so the client may retry without prompting (stale=true), as chan_sip does
        # for any nonce it does not expect.
        for name, algorithm in (
            ("rfc7616-3.9.1-md5-authorization.txt", "MD5"),
            ("rfc7616-3.9.1-sha256-authorization.txt", "SHA-256"),
        ):
            auth = load_auth(name)
            server = DigestAuthenticator("http-auth@example.org", KEY)
            creds = Credentials(secret="Circle of Life")
            self.assertIs(server.verify(auth, "GET", "Mufasa", creds, 0.0), AuthResult.STALE)
            wrong = Credentials(secret="Circle Of Life")
            self.assertIs(server.verify(auth, "GET", "Mufasa", wrong, 0.0), AuthResult.BAD_NONCE)
            self.assertEqual(algorithm, auth.params["algorithm"])


class CredentialsTests(SynchronousTestCase):
    def test_secret_hashes_with_either_algorithm(self) -> None:
        for algorithm in ("MD5", "SHA-256"):
            self.assertEqual(
                ALICE.ha1(algorithm, "alice", REALM), h(algorithm, f"alice:{REALM}:s3cret")
            )

    def test_md5secret_is_used_as_is_lower_cased(self) -> None:
        md5 = h("MD5", f"alice:{REALM}:s3cret")
        self.assertEqual(Credentials(md5secret=md5.upper()).ha1("MD5", "alice", REALM), md5)

    def test_md5secret_cannot_answer_sha256(self) -> None:
        md5 = h("MD5", f"alice:{REALM}:s3cret")
        self.assertIsNone(Credentials(md5secret=md5).ha1("SHA-256", "alice", REALM))

    def test_secret_wins_over_md5secret(self) -> None:
        creds = Credentials(secret="s3cret", md5secret="0" * 32)
        self.assertEqual(creds.ha1("MD5", "alice", REALM), h("MD5", f"alice:{REALM}:s3cret"))

    def test_nothing_configured(self) -> None:
        self.assertIsNone(Credentials().ha1("MD5", "alice", REALM))


class ChallengeTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.server = DigestAuthenticator(REALM, KEY)

    def test_shape_is_chan_sips(self) -> None:
        value = self.server.challenge(1000.0)
        self.assertRegex(
            value, r'\ADigest algorithm=MD5, realm="asterisk", nonce="[0-9a-f]+\.[0-9a-f]{16}"\Z'
        )
        # The very header chan_sip sent in a capture, once the nonce is masked.
        captured = parse_message(
            (DATA / "captures" / "asterisk-401-register.sip").read_bytes()
        ).headers.get("WWW-Authenticate")
        assert captured is not None
        mask = re.compile(r'nonce="[^"]*"')
        self.assertEqual(mask.sub('nonce=""', value), mask.sub('nonce=""', captured))

    def test_stale_flag_is_appended(self) -> None:
        value = self.server.challenge(1000.0, stale=True)
        self.assertTrue(value.startswith('Digest algorithm=MD5, realm="asterisk", nonce="'))
        self.assertTrue(value.endswith('", stale=true'))
        self.assertEqual(Auth.parse(value).params["stale"], "true")

    def test_the_nonce_in_the_challenge_is_fresh(self) -> None:
        nonce = Auth.parse(self.server.challenge(1000.0)).params["nonce"]
        self.assertEqual(nonce, self.server.nonce(1000.0))
        self.assertIs(self.server.nonce_state(nonce, 1000.0), AuthResult.OK)

    def test_nonces_change_with_time_and_key(self) -> None:
        self.assertNotEqual(self.server.nonce(1.0), self.server.nonce(1.5))
        self.assertEqual(self.server.nonce(1.0), self.server.nonce(1.0))
        other = DigestAuthenticator(REALM, b"another key")
        self.assertNotEqual(self.server.nonce(1.0), other.nonce(1.0))


class NonceStateTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.server = DigestAuthenticator(REALM, KEY, nonce_lifetime=30.0)
        self.nonce = self.server.nonce(100.0)

    def test_fresh_for_its_lifetime(self) -> None:
        for now in (100.0, 115.0, 130.0):
            self.assertIs(self.server.nonce_state(self.nonce, now), AuthResult.OK, now)

    def test_stale_after_its_lifetime(self) -> None:
        for now in (130.01, 131.0, 10_000.0):
            self.assertIs(self.server.nonce_state(self.nonce, now), AuthResult.STALE, now)

    def test_from_the_future_beyond_a_second_is_stale(self) -> None:
        self.assertIs(self.server.nonce_state(self.nonce, 99.5), AuthResult.OK)
        self.assertIs(self.server.nonce_state(self.nonce, 98.9), AuthResult.STALE)

    def test_forged_and_foreign_nonces(self) -> None:
        stamp, _, tag = self.nonce.partition(".")
        later = format(int(stamp, 16) + 60_000, "x")  # a "fresh" time with the old tag
        other = DigestAuthenticator(REALM, b"another key").nonce(100.0)
        flipped = tag[:-1] + ("0" if tag[-1] != "0" else "1")
        for bad in (
            f"{later}.{tag}",
            f"{stamp}.{flipped}",
            other,
            stamp,
            f"{stamp}.",
            f".{tag}",
            "",
            "254e51e8",  # a chan_sip nonce
            f"{stamp.upper()}.{tag}",
            f"0{stamp}{stamp}.{tag}",  # longer than 12 hex digits
            f"{stamp}.{tag}é",  # non-ASCII must not raise
            f"{stamp}é.{tag}",
            f"{stamp}.{tag}\udcff",
        ):
            self.assertIs(self.server.nonce_state(bad, 100.0), AuthResult.BAD_NONCE, bad)


class VerifyTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.server = DigestAuthenticator(REALM, KEY, nonce_lifetime=30.0)
        self.nonce = self.server.nonce(100.0)

    def verify(
        self, auth: Auth | None, creds: Credentials | None = ALICE, now: float = 101.0
    ) -> AuthResult:
        return self.server.verify(auth, "REGISTER", "alice", creds, now)

    def test_jssip_answer_without_qop(self) -> None:
        self.assertIs(self.verify(jssip_answer(self.nonce)), AuthResult.OK)

    def test_sipp_answer(self) -> None:
        self.assertIs(self.verify(sipp_answer(self.nonce, "s3cret")), AuthResult.OK)

    def test_qop_auth_answer(self) -> None:
        self.assertIs(self.verify(qop_answer(self.nonce, "s3cret")), AuthResult.OK)
        self.assertIs(self.verify(qop_answer(self.nonce, "guess")), AuthResult.FAILED)

    def test_sha256_answer(self) -> None:
        auth = sipp_answer(self.nonce, "s3cret", algorithm="SHA-256")
        self.assertIs(self.verify(auth), AuthResult.OK)
        self.assertIs(
            self.verify(qop_answer(self.nonce, "s3cret", algorithm="SHA-256")), AuthResult.OK
        )

    def test_algorithm_and_response_case_do_not_matter(self) -> None:
        auth = sipp_answer(self.nonce, "s3cret")
        auth.params["algorithm"] = "md5"
        auth.params["response"] = auth.params["response"].upper()
        self.assertIs(self.verify(auth), AuthResult.OK)

    def test_wrong_password_is_failed(self) -> None:
        self.assertIs(self.verify(jssip_answer(self.nonce, "guess")), AuthResult.FAILED)
        self.assertIs(self.verify(sipp_answer(self.nonce, "S3cret")), AuthResult.FAILED)

    def test_right_password_over_a_stale_nonce_is_stale(self) -> None:
        self.assertIs(self.verify(jssip_answer(self.nonce), now=131.0), AuthResult.STALE)

    def test_wrong_password_over_a_stale_nonce_is_bad_nonce(self) -> None:
        auth = jssip_answer(self.nonce, "guess")
        self.assertIs(self.verify(auth, now=131.0), AuthResult.BAD_NONCE)

    def test_forged_nonce(self) -> None:
        stamp, _, tag = self.nonce.partition(".")
        forged = format(int(stamp, 16) + 1, "x") + "." + tag
        self.assertIs(self.verify(jssip_answer(forged, "guess")), AuthResult.BAD_NONCE)
        # A right digest over it still proves the password: stale, never OK.
        self.assertIs(self.verify(jssip_answer(forged)), AuthResult.STALE)

    def test_chan_sip_nonce_after_migration(self) -> None:
        # A phone that still holds the nonce Asterisk gave it.
        self.assertIs(self.verify(jssip_answer("254e51e8")), AuthResult.STALE)
        self.assertIs(self.verify(jssip_answer("254e51e8", "guess")), AuthResult.BAD_NONCE)

    def test_username_mismatch_is_an_unknown_user(self) -> None:
        # Digest user "bob" with alice's password: chan_sip treats it as an unknown user.
        auth = jssip_answer(self.nonce, user="bob")
        self.assertIs(self.verify(auth), AuthResult.FAILED)
        # ... even when the hash is the one alice's own credentials would give.
        good = jssip_answer(self.nonce)
        good.params["username"] = "bob"
        self.assertIs(self.verify(good), AuthResult.FAILED)
        self.assertIs(self.verify(good, now=131.0), AuthResult.BAD_NONCE)

    def test_unknown_user(self) -> None:
        # alwaysauthreject: the answer is FAILED (403) over a fresh nonce, whatever it says.
        for password in ("s3cret", "", "guess"):
            auth = jssip_answer(self.nonce, password)
            self.assertIs(self.verify(auth, creds=None), AuthResult.FAILED)
            self.assertIs(self.verify(auth, creds=None, now=131.0), AuthResult.BAD_NONCE)

    def test_unknown_user_cannot_match_the_dummy_secret(self) -> None:
        # The dummy HA1 is built from the key; answering with it must still fail.
        auth = jssip_answer(self.nonce, KEY.hex())
        self.assertIs(self.verify(auth, creds=None), AuthResult.FAILED)

    def test_md5secret(self) -> None:
        creds = Credentials(md5secret=h("MD5", f"alice:{REALM}:s3cret"))
        self.assertIs(self.verify(jssip_answer(self.nonce), creds), AuthResult.OK)
        self.assertIs(self.verify(jssip_answer(self.nonce, "guess"), creds), AuthResult.FAILED)

    def test_md5secret_cannot_answer_sha256(self) -> None:
        creds = Credentials(md5secret=h("MD5", f"alice:{REALM}:s3cret"))
        auth = sipp_answer(self.nonce, "s3cret", algorithm="SHA-256")
        self.assertIs(self.verify(auth, creds), AuthResult.FAILED)

    def test_no_credentials_configured_never_authenticates(self) -> None:
        self.assertIs(self.verify(jssip_answer(self.nonce, ""), Credentials()), AuthResult.FAILED)

    def test_missing(self) -> None:
        self.assertIs(self.verify(None), AuthResult.MISSING)
        self.assertIs(self.verify(Auth("Basic", {"realm": REALM})), AuthResult.MISSING)
        auth = jssip_answer(self.nonce)
        auth.params["realm"] = "probe"  # answered somebody else's challenge
        self.assertIs(self.verify(auth), AuthResult.MISSING)
        del auth.params["realm"]
        self.assertIs(self.verify(auth), AuthResult.MISSING)

    def test_malformed(self) -> None:
        def without(name: str) -> Auth:
            auth = qop_answer(self.nonce, "s3cret")
            del auth.params[name]
            return auth

        for name in ("nonce", "uri", "response", "nc", "cnonce"):
            self.assertIs(self.verify(without(name)), AuthResult.MALFORMED, name)
        for name, value in (
            ("algorithm", "MD5-sess"),
            ("algorithm", "SHA-512-256"),
            ("qop", "auth-int"),
            ("nonce", ""),
            ("response", ""),
            ("nc", ""),
        ):
            auth = qop_answer(self.nonce, "s3cret")
            auth.params[name] = value
            self.assertIs(self.verify(auth), AuthResult.MALFORMED, (name, value))

    def test_non_ascii_input_fails_without_raising(self) -> None:
        auth = jssip_answer(self.nonce, response="é" * 32)
        self.assertIs(self.verify(auth), AuthResult.FAILED)
        auth = jssip_answer(self.nonce, response="\udcff" * 32)
        self.assertIs(self.verify(auth), AuthResult.FAILED)

    def test_undecodable_bytes_are_hashed_as_sent(self) -> None:
        # A header is decoded with surrogateescape; the client hashed the raw bytes.
        raw_uri = b"sip:\xff@127.0.0.1"
        ha1 = h("MD5", f"alice:{REALM}:s3cret")
        ha2 = hashlib.md5(b"REGISTER:" + raw_uri).hexdigest()
        response = h("MD5", f"{ha1}:{self.nonce}:{ha2}")
        auth = Auth(
            "Digest",
            {
                "username": "alice",
                "realm": REALM,
                "nonce": self.nonce,
                "uri": raw_uri.decode("utf-8", "surrogateescape"),
                "response": response,
            },
        )
        self.assertIs(self.verify(auth), AuthResult.OK)


class DigestAnswerTests(SynchronousTestCase):
    """pbx answering a challenge (a trunk that authenticates pbx's INVITEs)."""

    MUFASA = DigestLogin("Mufasa", Credentials("Circle Of Life"))

    def test_rfc2617_vector_with_qop_auth(self) -> None:
        challenge = Auth.parse(
            'Digest realm="testrealm@host.com", qop="auth,auth-int", '
            'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", '
            'opaque="5ccc069c403ebaf9f0171e9517f40e41"'
        )
        answer = digest_answer(challenge, "GET", "/dir/index.html", self.MUFASA, "0a4f113b")
        assert answer is not None
        self.assertEqual(answer.params["response"], "6629fae49393a05397450978507c4ef1")
        self.assertEqual(
            str(answer),
            'Digest username="Mufasa", realm="testrealm@host.com", '
            'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", '
            'response="6629fae49393a05397450978507c4ef1", algorithm=MD5, cnonce="0a4f113b", '
            'qop=auth, nc=00000001, opaque="5ccc069c403ebaf9f0171e9517f40e41"',
        )

    def test_rfc7616_sha256_vector(self) -> None:
        challenge = Auth.parse(
            'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, '
            'nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", '
            'opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"'
        )
        login = DigestLogin("Mufasa", Credentials("Circle of Life"))
        cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
        answer = digest_answer(challenge, "GET", "/dir/index.html", login, cnonce)
        assert answer is not None
        self.assertEqual(
            answer.params["response"],
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
        )

    def test_answers_what_our_own_verifier_accepts(self) -> None:
        # chan_sip's challenge shape (no qop), answered and checked by the registrar's code.
        server = DigestAuthenticator("asterisk", b"k" * 32)
        challenge = Auth.parse(server.challenge(100.0))
        login = DigestLogin("office", Credentials("s3cret"))
        answer = digest_answer(challenge, "INVITE", "sip:400@127.0.0.1", login, "c")
        assert answer is not None
        self.assertNotIn("qop", answer.params)
        result = server.verify(
            Auth.parse(str(answer)), "INVITE", "office", Credentials("s3cret"), 101.0
        )
        self.assertEqual(result, AuthResult.OK)

    def test_what_cannot_be_answered(self) -> None:
        md5_only = DigestLogin("u", Credentials(md5secret="0" * 32))
        for text, login in (
            ('Basic realm="x"', self.MUFASA),
            ('Digest realm="x"', self.MUFASA),  # no nonce
            ('Digest realm="x", nonce="n", algorithm=MD5-sess', self.MUFASA),
            ('Digest realm="x", nonce="n", qop="auth-int"', self.MUFASA),
            ('Digest realm="x", nonce="n", algorithm=SHA-256', md5_only),
            ('Digest realm="x", nonce="n"', DigestLogin("u", Credentials())),
        ):
            with self.subTest(text):
                self.assertIsNone(digest_answer(Auth.parse(text), "INVITE", "sip:x", login, "c"))


class AuthorizationForTests(SynchronousTestCase):
    def test_401_and_407_pick_their_header_and_skip_what_cannot_be_answered(self) -> None:
        login = DigestLogin("pbx1", Credentials("out"))
        for status, challenge_name, answer_name in (
            (401, "WWW-Authenticate", "Authorization"),
            (407, "Proxy-Authenticate", "Proxy-Authorization"),
        ):
            response = parse_message(
                f"SIP/2.0 {status} Challenge\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK1\r\n"
                "From: <sip:a@b>;tag=1\r\nTo: <sip:a@b>;tag=2\r\nCall-ID: c\r\n"
                "CSeq: 1 BYE\r\n"
                f'{challenge_name}: Digest realm="x", nonce="n", algorithm=MD5-sess\r\n'
                f'{challenge_name}: Digest realm="x", nonce="n2"\r\n'
                "Content-Length: 0\r\n\r\n".encode()
            )
            assert isinstance(response, Response)
            found = authorization_for(response, "BYE", "sip:a@b", login, "c")
            assert found is not None
            self.assertEqual((found[0], found[1].params["nonce"]), (answer_name, "n2"))
            no_secret = DigestLogin("u", Credentials())
            self.assertIsNone(authorization_for(response, "BYE", "sip:a@b", no_secret, "c"))


class RealmCredentialsTests(SynchronousTestCase):
    def test_an_auth_line_for_the_challenges_realm_wins_over_the_peers_login(self) -> None:
        response = parse_message(
            b"SIP/2.0 401 Unauthorized\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK1\r\n"
            b"From: <sip:a@b>;tag=1\r\nTo: <sip:a@b>;tag=2\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n"
            b'WWW-Authenticate: Digest realm="provider.example", nonce="n"\r\n'
            b"Content-Length: 0\r\n\r\n"
        )
        assert isinstance(response, Response)
        peer = DigestLogin("peer", Credentials("peer-pw"))
        realm = {"provider.example": DigestLogin("acct", Credentials("acct-pw"))}
        found = authorization_for(response, "INVITE", "sip:1@b", peer, "c", realm)
        assert found is not None
        self.assertEqual(found[1].params["username"], "acct")
        found = authorization_for(response, "INVITE", "sip:1@b", None, "c", realm)
        assert found is not None  # no peer secret at all: the realm line alone answers
        other = {"elsewhere.example": DigestLogin("x", Credentials("y"))}
        found = authorization_for(response, "INVITE", "sip:1@b", peer, "c", other)
        assert found is not None
        self.assertEqual(found[1].params["username"], "peer")
        self.assertIsNone(authorization_for(response, "INVITE", "sip:1@b", None, "c", other))
