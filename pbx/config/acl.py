"""Source-address access lists from ``permit``/``deny`` lines (Asterisk ``main/acl.c``).

Rules are kept in the order written and evaluated like ``ast_apply_ha``: start from *allow*,
and every rule whose network contains the address sets the verdict, so the **last match wins**.
An empty list allows everything. An IPv4 rule also matches the IPv4-mapped form of an IPv6
address (``::ffff:192.0.2.1``), as Asterisk compares such addresses as IPv4; otherwise a rule
only matches addresses of its own family.

Named ACLs (``acl=`` referring to ``acl.conf``) are not supported; the schema reports them.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from pbx.config.parsers import IpNetwork, ParseContext, ValueType, parse_network
from pbx.core.addr import unbracket


@dataclass(frozen=True)
class AclRule:
    """``permit=network`` (``permit`` true) or ``deny=network``."""

    permit: bool
    network: IpNetwork

    def __str__(self) -> str:
        return f"{'permit' if self.permit else 'deny'}={self.network}"


@dataclass(frozen=True)
class Acl:
    """An ordered rule list; :meth:`allows` answers for one source address."""

    rules: tuple[AclRule, ...] = ()

    @classmethod
    def from_rules(cls, rules: Iterable[AclRule]) -> Acl:
        return cls(tuple(rules))

    def allows(self, ip: str) -> bool:
        """Whether ``ip`` (IPv4 or IPv6, brackets allowed) passes the list.

        :raises ValueError: if ``ip`` is not an IP address (only checked when there are rules:
            the common empty list costs nothing per request).
        """
        if not self.rules:
            return True
        address = ipaddress.ip_address(unbracket(ip))
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        verdict = True
        for rule in self.rules:
            if rule.network.version == address.version and address in rule.network:
                verdict = rule.permit
        return verdict


def _rule(permit: bool) -> ValueType[AclRule]:
    def parse(text: str, ctx: ParseContext) -> AclRule:
        return AclRule(permit, parse_network(text))

    return ValueType("network", "addr[/prefix|/netmask]", parse)


PERMIT: ValueType[AclRule] = _rule(True)
DENY: ValueType[AclRule] = _rule(False)
