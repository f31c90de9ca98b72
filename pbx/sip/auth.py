"""Digest authentication as chan_sip does it (RFC 3261 §22, RFC 2617, RFC 7616, RFC 8760).

chan_sip always challenges with ``401`` (never ``407``: it is not a proxy) and a header of the form
``WWW-Authenticate: Digest algorithm=MD5, realm="asterisk", nonce="..."``, without ``qop``. Clients
answer with MD5; an answer using ``algorithm=SHA-256`` (RFC 8760) is accepted too, and so are
``qop=auth`` answers (RFC 2617 §3.2.2) when a client adds them on its own.

When pbx is the one challenged (a peer it calls answers ``401``/``407``), :func:`digest_answer`
makes the ``Authorization`` that answers it (RFC 3261 §22.2-22.3): MD5 or SHA-256, ``qop=auth``
when offered, ``opaque`` echoed, from the peer's credentials as chan_sip picks them.

Nonces are stateless: ``<issue time hex>.<HMAC tag>``, so checking freshness needs only ``now`` and
the server's key, and thousands of registering users cost no memory. A nonce is *stale* once it
is older than ``nonce_lifetime``. A correct answer over a nonce that is stale or not ours (one
issued before a restart) earns a new challenge with ``stale=true`` (RFC 2617 §3.2.1), a wrong one
a plain new challenge — as chan_sip answers any nonce it does not expect.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass

from pbx.sip.headers import Auth
from pbx.sip.message import Response, SipParseError

#: RFC 8760 algorithm tokens -> hashlib constructors names.
ALGORITHMS = {"MD5": "md5", "SHA-256": "sha256"}
# The same algorithms as hashlib constructors (hashlib.new(name) looks the name up every time).
_CONSTRUCTORS = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}

# The issue-time part of our nonces: what :meth:`DigestAuthenticator.nonce` writes, no more.
_STAMP_RE = re.compile(r"[0-9a-f]{1,12}")


class AuthResult(enum.Enum):
    """Outcome of checking one ``Authorization`` header."""

    OK = "ok"
    MISSING = "missing"  # no credentials for our realm: challenge
    STALE = "stale"  # right password, old or foreign nonce: challenge with stale=true
    BAD_NONCE = "bad-nonce"  # nonce not ours or expired, wrong hash: fresh challenge
    FAILED = "failed"  # current nonce, wrong password (or unknown user): 403
    MALFORMED = "malformed"  # unusable header: 400


@dataclass(frozen=True, slots=True)
class Credentials:
    """What we know about one user's secret: plain text, or chan_sip's ``md5secret``.

    ``md5secret`` is ``MD5(user:realm:secret)`` as hex; it cannot answer SHA-256 challenges.
    """

    secret: str = ""
    md5secret: str = ""

    def ha1(self, algorithm: str, username: str, realm: str) -> str | None:
        """``H(username:realm:secret)`` as hex, or ``None`` when these credentials cannot
        answer ``algorithm`` (nothing configured, or ``md5secret`` against SHA-256)."""
        if self.secret:
            return _hash(algorithm, f"{username}:{realm}:{self.secret}")
        if self.md5secret and algorithm == "MD5":
            return self.md5secret.lower()
        return None


def _hash(algorithm: str, text: str) -> str:
    # Header text is decoded with surrogateescape: hash the very bytes the client sent.
    data = text.encode("utf-8", "surrogateescape")
    return _CONSTRUCTORS[algorithm](data).hexdigest()


def _same(want: str, got: str) -> bool:
    """Constant-time comparison that also takes non-ASCII input (a str ``compare_digest`` raises
    ``TypeError`` on it)."""
    return hmac.compare_digest(want.encode("ascii"), got.encode("utf-8", "surrogateescape"))


def compute_response(
    algorithm: str,
    ha1: str,
    nonce: str,
    method: str,
    uri: str,
    qop: str | None = None,
    nc: str | None = None,
    cnonce: str | None = None,
) -> str:
    """The ``response=`` value (RFC 2617 §3.2.2.1, RFC 7616 §3.4.1), from HA1."""
    ha2 = _hash(algorithm, f"{method}:{uri}")
    if qop:
        return _hash(algorithm, f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")
    return _hash(algorithm, f"{ha1}:{nonce}:{ha2}")


class DigestAuthenticator:
    """Issues challenges and verifies answers for one realm.

    :param realm: the realm (``realm=`` in sip.conf, default ``asterisk``).
    :param key: server secret for nonce tags (random per process start is fine: a restart only
        costs clients one extra 401).
    :param nonce_lifetime: seconds a nonce stays fresh.
    """

    def __init__(self, realm: str, key: bytes, nonce_lifetime: float = 30.0) -> None:
        self.realm = realm
        self._key = key
        self.nonce_lifetime = nonce_lifetime

    def nonce(self, now: float) -> str:
        """A fresh nonce: the issue time in ms (hex) and its HMAC tag."""
        stamp = format(int(now * 1000) & 0xFFFFFFFFFFFF, "x")
        return f"{stamp}.{self._tag(stamp)}"

    def _tag(self, stamp: str) -> str:
        # hmac.digest: the one-shot C implementation, several times cheaper than hmac.new().
        return hmac.digest(self._key, stamp.encode("ascii"), "sha256").hex()[:16]

    def challenge(self, now: float, stale: bool = False) -> str:
        """The value of a ``WWW-Authenticate`` header, in chan_sip's parameter order."""
        value = f'Digest algorithm=MD5, realm="{self.realm}", nonce="{self.nonce(now)}"'
        return value + ", stale=true" if stale else value

    def nonce_state(self, nonce: str, now: float) -> AuthResult:
        """``OK`` for our fresh nonce, ``STALE`` for our expired one, ``BAD_NONCE`` otherwise."""
        stamp, dot, tag = nonce.partition(".")
        if not dot or not _STAMP_RE.fullmatch(stamp) or not _same(self._tag(stamp), tag):
            return AuthResult.BAD_NONCE
        issued = int(stamp, 16) / 1000.0
        if not -1.0 <= now - issued <= self.nonce_lifetime:
            return AuthResult.STALE
        return AuthResult.OK

    def verify(
        self,
        auth: Auth | None,
        method: str,
        username: str,
        credentials: Credentials | None,
        now: float,
    ) -> AuthResult:
        """Check ``auth`` (the parsed ``Authorization`` header) for ``username``.

        ``credentials`` is None for an unknown user: the hash is still computed against a random
        secret so that unknown and known users take the same time and get the same answers
        (``alwaysauthreject``).
        """
        if auth is None or auth.scheme.lower() != "digest":
            return AuthResult.MISSING
        p = auth.params
        if p.get("realm") != self.realm:
            return AuthResult.MISSING
        nonce, uri, response = p.get("nonce"), p.get("uri"), p.get("response")
        if not nonce or uri is None or not response:
            return AuthResult.MALFORMED
        algorithm = p.get("algorithm", "MD5").upper()
        if algorithm not in ALGORITHMS:
            return AuthResult.MALFORMED
        # chan_sip: the digest username must be the device name, else it is an unknown user.
        if p.get("username") != username:
            credentials = None
        ha1 = None if credentials is None else credentials.ha1(algorithm, username, self.realm)
        if ha1 is None:
            ha1 = _hash(algorithm, f"{username}:{self.realm}:{self._key.hex()}")
            known = False
        else:
            known = True
        qop, nc, cnonce = p.get("qop"), p.get("nc"), p.get("cnonce")
        if qop and (qop.lower() != "auth" or not nc or cnonce is None):
            return AuthResult.MALFORMED
        want = compute_response(algorithm, ha1, nonce, method, uri, qop, nc, cnonce)
        matches = _same(want, response.lower()) and known
        if self.nonce_state(nonce, now) is AuthResult.OK:
            return AuthResult.OK if matches else AuthResult.FAILED
        # A right answer over a nonce that is expired or not ours (issued before a restart, or
        # by another server) proves the password: stale=true lets the client retry without
        # asking its user (RFC 2617 §3.2.1; chan_sip does the same for any wrong nonce).
        return AuthResult.STALE if matches else AuthResult.BAD_NONCE


@dataclass(frozen=True, slots=True)
class DigestLogin:
    """Who pbx is when a peer challenges it: chan_sip's ``defaultuser`` with ``remotesecret``
    (else ``secret``/``md5secret``)."""

    username: str
    credentials: Credentials


def digest_answer(
    challenge: Auth, method: str, uri: str, login: DigestLogin, cnonce: str
) -> Auth | None:
    """The credentials answering ``challenge`` for ``method uri`` (RFC 3261 §22.2, RFC 7616
    §3.4), or ``None`` when ``login`` cannot answer it: not Digest, an algorithm other than MD5
    or SHA-256 (``-sess`` variants included), only ``qop=auth-int`` offered, no nonce, or no
    usable secret (``md5secret`` answers MD5 only)."""
    params = challenge.params
    nonce = params.get("nonce")
    algorithm = params.get("algorithm", "MD5")
    if challenge.scheme.lower() != "digest" or nonce is None:
        return None
    canonical = algorithm.upper()
    if canonical not in _CONSTRUCTORS:
        return None
    realm = params.get("realm", "")
    ha1 = login.credentials.ha1(canonical, login.username, realm)
    if ha1 is None:
        return None
    offered = {q.strip().lower() for q in params.get("qop", "").split(",") if q.strip()}
    if offered and "auth" not in offered:
        return None
    answer = {"username": login.username, "realm": realm, "nonce": nonce, "uri": uri}
    if offered:
        nc = "00000001"  # one answer per nonce: pbx never reuses a challenge
        answer["response"] = compute_response(
            canonical, ha1, nonce, method, uri, "auth", nc, cnonce
        )
        answer["algorithm"] = algorithm
        answer["cnonce"] = cnonce
        answer["qop"] = "auth"
        answer["nc"] = nc
    else:
        answer["response"] = compute_response(canonical, ha1, nonce, method, uri)
        answer["algorithm"] = algorithm
    if "opaque" in params:
        answer["opaque"] = params["opaque"]
    return Auth("Digest", answer)


def authorization_for(
    response: Response,
    method: str,
    uri: str,
    login: DigestLogin | None,
    cnonce: str,
    realms: Mapping[str, DigestLogin] | None = None,
) -> tuple[str, Auth] | None:
    """The header answering a ``401``/``407`` (RFC 3261 §22.2, §22.3): ``Authorization`` or
    ``Proxy-Authorization`` with credentials for the first challenge pbx can answer (see
    :func:`digest_answer`); ``None`` when it can answer none.

    :param realms: sip.conf ``[authentication]`` ``auth=`` credentials by realm; chan_sip
        prefers them to the peer's own ``login`` for a challenge with their realm.
    """
    if response.status == 401:
        challenge_name, answer_name = "WWW-Authenticate", "Authorization"
    else:
        challenge_name, answer_name = "Proxy-Authenticate", "Proxy-Authorization"
    for value in response.headers.get_all(challenge_name):
        try:
            challenge = Auth.parse(value, challenge_name)
        except SipParseError:
            continue
        chosen = (realms or {}).get(challenge.params.get("realm", "")) or login
        if chosen is None:
            continue
        answer = digest_answer(challenge, method, uri, chosen, cnonce)
        if answer is not None:
            return answer_name, answer
    return None
