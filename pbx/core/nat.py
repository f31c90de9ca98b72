"""Which address pbx gives a destination when pbx sits behind a NAT (chan_sip's ``externaddr``).

chan_sip rewrites the addresses it advertises — Via sent-by, Contact, SDP ``c=`` and ICE
candidates — to ``externaddr`` for destinations outside every ``localnet``; destinations inside
a ``localnet`` get the local address. Without any ``localnet`` chan_sip never rewrites, and
neither does pbx (the config loader warns). Loopback gets no special case: list ``127.0.0.0/8``
in ``localnet`` when phones on this host call pbx, as chan_sip needs.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from pbx.core.addr import Address, unbracket

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class NatMap:
    """``externaddr`` (``None``: unset) and the ``localnet`` networks."""

    externaddr: Address | None = None
    localnet: tuple[IpNetwork, ...] = ()

    def external_for(self, host: str) -> Address | None:
        """``externaddr`` when ``host`` (an IP literal) is outside every ``localnet`` and of
        the same address family as ``externaddr`` (a name counts as either); else ``None``."""
        external = self.externaddr
        if external is None or not self.localnet:
            return None
        try:
            ip = ipaddress.ip_address(unbracket(host))
        except ValueError:
            return None
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if any(ip.version == net.version and ip in net for net in self.localnet):
            return None
        try:
            if ipaddress.ip_address(unbracket(external.host)).version != ip.version:
                return None
        except ValueError:
            pass  # a name: the far end resolves it
        return external
