"""Which addresses media binds to and advertises, and where prompts are found.

RTP binds to the SIP UDP bind address (``udpbindaddr``'s host). SDP ``c=`` lines and ICE
candidates carry, as chan_sip's do: ``media_address`` when set (for every peer); else, for a
peer outside ``localnet``, ``externaddr`` (decided per leg, :mod:`pbx.core.nat`); else the bound
address (TESTING.md: advertise what we listen on). A wildcard bind (``0.0.0.0``/``[::]``) has no
address of its own, so it announces the first non-loopback interface address (loopback when
there is none) — with a loud warning when that address is private and nothing maps it to a
public one, because browsers and phones outside this network cannot reach it.
"""

from __future__ import annotations

import ipaddress
import logging
import os

from pbx.adapters.local_ca import local_names
from pbx.config.settings import Settings
from pbx.core.addr import Address
from pbx.core.nat import NatMap

log = logging.getLogger(__name__)

WILDCARDS = ("0.0.0.0", "::")


def media_addresses(udpbindaddr: Address) -> dict[str, str]:
    """family -> IP to bind RTP sockets on."""
    host = udpbindaddr.host
    if host == "::":
        return {"IPv4": "0.0.0.0", "IPv6": "::"}
    if ":" in host:
        return {"IPv6": host}
    return {"IPv4": host}


def _primary(v6: bool) -> str:
    _, ips = local_names()
    candidates = []
    for ip in ips:
        addr = ipaddress.ip_address(ip)
        if addr.version == (6 if v6 else 4) and not addr.is_loopback and not addr.is_link_local:
            candidates.append(addr)
    if not candidates:
        return "::1" if v6 else "127.0.0.1"
    candidates.sort(key=lambda a: (a.is_private, str(a)))
    return str(candidates[0])


def media_advertise(udpbindaddr: Address, media_address: str | None, nat: NatMap) -> dict[str, str]:
    """family -> IP written into SDP (``c=``, ICE host candidates) when it is not the bound
    address: ``media_address``, or an interface address for a wildcard bind."""
    out: dict[str, str] = {}
    for family, bound in media_addresses(udpbindaddr).items():
        v6 = family == "IPv6"
        if media_address is not None and (":" in media_address) == v6:
            out[family] = media_address
            continue
        if bound not in WILDCARDS:
            continue
        chosen = _primary(v6)
        out[family] = chosen
        mapped = nat.externaddr is not None and nat.localnet
        if ipaddress.ip_address(chosen).is_private and not mapped:
            log.warning(
                "Media is bound to %s and advertised as %s, a private address: phones and "
                "browsers outside this network cannot reach it. Set media_address, or "
                "externaddr with localnet, in sip.conf [general].",
                bound,
                chosen,
            )
    return out


def sound_dirs(settings: Settings) -> list[str]:
    """Where Playback looks for prompts: pbx.conf ``sounds``, then the bundled prompts."""
    dirs = [settings.pbx.sounds] if settings.pbx.sounds else []
    bundled = os.path.join(
        os.path.dirname(os.path.dirname(os.path.dirname(__file__))), "contrib", "sounds"
    )
    if os.path.isdir(bundled):
        dirs.append(bundled)
    return dirs
