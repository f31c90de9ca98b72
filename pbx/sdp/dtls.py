"""DTLS-SRTP signalling rules: who connects, and which fingerprints to use.

Roles come from ``a=setup`` (RFC 4145 §4, RFC 5763 §5): ``active`` is the DTLS client,
``passive`` the server, ``actpass`` lets the answerer choose.  An absent ``a=setup`` means
``active`` in an offer and ``passive`` in an answer (RFC 4145 §4.1).  A re-offer keeps the
established roles unless a new association is wanted (RFC 8842 §5.5), and so does an answer to
an ``actpass`` re-offer.  Fingerprints follow RFC 8122 §5: pbx answers with the peer's hash
algorithm when it has its certificate under that hash.
"""

from __future__ import annotations

from pbx.core.errors import LocalProtocolError
from pbx.sdp.policy import LocalMedia, MediaPolicy, NotAcceptable

HASHES = ("sha-1", "sha-224", "sha-256", "sha-384", "sha-512")
"""Hash functions a peer's certificate can be checked with (RFC 8122 §5, lower case)."""


def role(setup: str) -> str:
    """Our ``a=setup`` -> our DTLS role: ``active`` connects (client), ``passive`` accepts."""
    return "client" if setup == "active" else "server"


def setup_for_role(dtls_role: str) -> str:
    """The ``a=setup`` that keeps an established DTLS role."""
    return "active" if dtls_role == "client" else "passive"


def offer_setup(policy: MediaPolicy, established: str | None, new_association: bool) -> str:
    """Our ``a=setup`` in an offer: the configured one first, the established role after."""
    if established is None or new_association:
        return policy.dtls_setup
    return setup_for_role(established)


def answer_setup(
    offered: str | None, policy: MediaPolicy, established: str | None
) -> str | NotAcceptable:
    """Our ``a=setup`` in an answer to an offer carrying ``offered``.

    ``actpass`` -> the established role, else ``dtls_setup`` if it names a role, else
    ``active`` (chan_sip: "when answering an actpass offer we become active").
    """
    setup = offered or "active"
    if setup == "active":
        return "passive"
    if setup == "passive":
        return "active"
    if setup == "actpass":
        if established is not None:
            return setup_for_role(established)
        return "active" if policy.dtls_setup == "actpass" else policy.dtls_setup
    return NotAcceptable(f"offer has a=setup:{setup}; DTLS-SRTP needs a connection")


def role_after_answer(offered: str, answered: str | None) -> str | NotAcceptable:
    """Our DTLS role once the peer answered ``answered`` to our ``offered`` setup."""
    setup = answered or "passive"
    # The peer takes the opposite role: it connects (active) and we accept, or the reverse.
    if setup == "active" and offered in ("actpass", "passive"):
        return "server"
    if setup == "passive" and offered in ("actpass", "active"):
        return "client"
    shown = f"a=setup:{answered}" if answered is not None else "no a=setup"
    return NotAcceptable(f"answer has {shown}; we offered a=setup:{offered}")


def remote_fingerprint(fingerprints: list[tuple[str, str]]) -> tuple[str, str] | NotAcceptable:
    """The first of the peer's fingerprints we can check, hash name lower-cased."""
    for hash_name, value in fingerprints:
        if hash_name.lower() in HASHES:
            return hash_name.lower(), value
    names = ",".join(h for h, _ in fingerprints)
    return NotAcceptable(f"DTLS fingerprint hash {names} is not supported")


def local_fingerprint(
    remote: list[tuple[str, str]], policy: MediaPolicy, local: LocalMedia
) -> tuple[str, str]:
    """(hash, hex) for our ``a=fingerprint``: the peer's algorithm when we have it, else
    ``policy.fingerprint_hash``.

    :raises LocalProtocolError: if ``local`` carries no fingerprint (a caller bug).
    """
    for hash_name, _ in remote:
        mine = local.fingerprint_for(hash_name.lower(), policy)
        if mine is not None:
            return hash_name.lower(), mine
    if local.fingerprint is None:
        raise LocalProtocolError("LocalMedia.fingerprint is needed for DTLS-SRTP")
    return policy.fingerprint_hash, local.fingerprint
