"""The SIP option tags pbx implements, and the UAS check of ``Require`` (RFC 3261 §8.2.2.3).

An option tag names a SIP extension (RFC 3261 §19.2, IANA "Option Tags"). A UAS that finds in
``Require`` a tag it does not implement MUST answer ``420 Bad Extension`` with an ``Unsupported``
header listing exactly those tags (§8.2.2.3, §20.40); the ``Require`` of ACK and CANCEL is
ignored, and ``Proxy-Require`` (§20.29) is for proxies, so a UAS never reads it. The
``Supported`` header pbx sends lists the same table.

Claimed: ``outbound`` (RFC 5626: flow-bound registrations keyed by ``+sip.instance``/``reg-id``,
CRLF keep-alives answered). Not claimed, although chan_sip's table has some of them:
``replaces`` (RFC 3891, no ``Replaces`` handling), ``timer`` (RFC 4028, no session refreshes),
``100rel`` (RFC 3262, no PRACK), ``path`` (RFC 3327, the registrar does not store ``Path``).
"""

from __future__ import annotations

from typing import Final

from pbx.sip.message import Request

__all__ = ["SUPPORTED", "supported_header", "unsupported_required"]

#: Option tags pbx implements, lower case, in the order ``Supported`` lists them.
SUPPORTED: Final[tuple[str, ...]] = ("outbound",)

#: RFC 3261 §8.2.2.3: "with the exception of ACK and CANCEL".
_REQUIRE_IGNORED: Final = frozenset({"ACK", "CANCEL"})


def supported_header() -> str:
    """The value of our ``Supported`` header field."""
    return ", ".join(SUPPORTED)


def unsupported_required(request: Request) -> list[str]:
    """The option tags in ``request``'s ``Require`` that pbx does not implement, as written and
    in order, each once; empty when the request may proceed (always for ACK and CANCEL).

    Option tags are tokens and compare case-insensitively (RFC 3261 §7.3.1).
    """
    if request.method in _REQUIRE_IGNORED:
        return []
    unsupported: list[str] = []
    seen = set(SUPPORTED)
    for tag in request.headers.get_all("Require"):
        if tag.lower() not in seen:
            seen.add(tag.lower())
            unsupported.append(tag)
    return unsupported
