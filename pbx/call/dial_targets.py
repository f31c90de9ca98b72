"""Dial strings of ``Dial(SIP/...)`` resolved to the legs to ring, as chan_sip reads them:
``SIP/peer``, ``SIP/peer/exten``, ``SIP/exten@peer`` and ``SIP/user@host[:port]`` (an address
that is no peer, called with the guest profile). A peer is rung at every live binding, else at
its static ``host``/``defaultip``; ``call-limit`` makes it busy."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from pbx.call.peers import PeerRegistry, Reach
from pbx.config.sip_conf import PeerConfig
from pbx.core import causes
from pbx.core.addr import Address, TransportKind, bracket, is_ip_literal, parse_hostport, unbracket

log = logging.getLogger(__name__)


@dataclass
class DialTarget:
    """One outbound leg to create."""

    peer: PeerConfig | None
    reach: Reach
    request_uri: str
    display: str


def resolve_dial_string(
    resource: str, peers: PeerRegistry, now: float, active_calls: Callable[[str], int]
) -> tuple[list[DialTarget], int]:
    """Dial string (after ``SIP/``) -> the legs to ring, or ([], cause) when impossible."""
    exten: str | None = None
    name = resource
    if "/" in resource:
        name, exten = resource.split("/", 1)
    elif "@" in resource:
        user, host = resource.split("@", 1)
        if peers.get(host) is not None:
            name, exten = host, user
        else:
            return _direct(user, host)
    peer = peers.get(name)
    if peer is None:
        if is_ip_literal(name.split(":")[0].strip("[]")) or "." in name:
            return _direct(None, name)
        log.warning(
            "Unable to create channel of type 'SIP' (cause 20 - Subscriber absent): no peer '%s'",
            name,
        )
        return [], causes.SUBSCRIBER_ABSENT
    if not peer.is_peer:
        return [], causes.SUBSCRIBER_ABSENT
    if peer.call_limit and active_calls(peer.name) >= peer.call_limit:
        return [], causes.USER_BUSY
    targets: list[DialTarget] = []
    bindings = peers.location.lookup(peer.name, now)
    reaches = [peers.reach_binding(b) for b in bindings] if bindings else []
    if not reaches:
        static = peers.reach(peer.name, now)
        if static is not None:
            reaches = [static]
    for reach in reaches:
        uri = reach.uri
        if exten is not None:
            uri = _with_user(uri, exten)
        targets.append(DialTarget(peer, reach, uri, peer.name))
    if not targets:
        return [], causes.SUBSCRIBER_ABSENT
    return targets, 0


def _direct(user: str | None, hostport: str) -> tuple[list[DialTarget], int]:
    """``SIP/user@host[:port]`` (IPv6 in brackets): an address that is no peer."""
    try:
        address = parse_hostport(hostport, 5060)
    except ValueError:
        log.warning("Dial: bad address '%s'", hostport)
        return [], causes.INVALID_NUMBER_FORMAT
    address = Address(unbracket(address.host), address.port)
    userpart = f"{user}@" if user else ""
    uri = f"sip:{userpart}{bracket(address.host)}:{address.port}"
    reach = Reach(uri, None, address, TransportKind.UDP, None)
    return [DialTarget(None, reach, uri, address.host)], 0


def _with_user(uri: str, user: str) -> str:
    """``sip:x@host;params`` -> ``sip:user@host;params``."""
    scheme, _, rest = uri.partition(":")
    host = rest.split("@", 1)[1] if "@" in rest else rest
    return f"{scheme}:{user}@{host}"
