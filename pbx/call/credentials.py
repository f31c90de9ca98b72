"""Who pbx is when a far end challenges it (RFC 3261 §22.2), from sip.conf as chan_sip reads
it: a peer's ``remotesecret``/``secret`` under its ``defaultuser``, and ``[authentication]``
``auth=`` lines by realm (used first for a challenge with their realm)."""

from __future__ import annotations

from collections.abc import Iterable

from pbx.config.sip_conf import PeerConfig
from pbx.config.sip_values import AuthCredential
from pbx.sip.auth import Credentials, DigestLogin


def outbound_login(peer: PeerConfig) -> DigestLogin | None:
    """Who pbx is when ``peer`` challenges its INVITE: chan_sip's ``remotesecret`` (else
    ``secret``/``md5secret``) under ``defaultuser`` — else ``fromuser``, else the peer's name,
    where chan_sip would give up; ``None`` without any secret."""
    if peer.remotesecret:
        credentials = Credentials(peer.remotesecret)
    elif peer.secret or peer.md5secret:
        credentials = Credentials(peer.secret, peer.md5secret)
    else:
        return None
    return DigestLogin(peer.defaultuser or peer.fromuser or peer.name, credentials)


def realm_logins(credentials: Iterable[AuthCredential]) -> dict[str, DigestLogin]:
    """sip.conf ``[authentication]`` ``auth=`` lines by realm (the first line of a realm wins,
    as chan_sip's lookup finds it first)."""
    logins: dict[str, DigestLogin] = {}
    for c in credentials:
        secret = Credentials(md5secret=c.secret) if c.md5 else Credentials(c.secret)
        logins.setdefault(c.realm, DigestLogin(c.user, secret))
    return logins
