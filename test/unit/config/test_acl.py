"""Tests for pbx.config.acl: permit/deny lists, last match wins (Asterisk ast_apply_ha)."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from pbx.config.acl import DENY, PERMIT, Acl, AclRule
from pbx.config.parsers import ParseContext


def acl(*lines: str) -> Acl:
    rules: list[AclRule] = []
    for line in lines:
        key, _, value = line.partition("=")
        vt = PERMIT if key == "permit" else DENY
        rules.append(vt.parse(value, ParseContext("/cfg")))
    return Acl.from_rules(rules)


LAN_ONLY = ("deny=0.0.0.0/0.0.0.0", "permit=192.168.1.0/255.255.255.0")

# (rules, address, allowed)
TABLE: list[tuple[tuple[str, ...], str, bool]] = [
    ((), "203.0.113.9", True),
    ((), "2001:db8::1", True),
    (LAN_ONLY, "192.168.1.20", True),
    (LAN_ONLY, "192.168.2.20", False),
    (LAN_ONLY, "::ffff:192.168.1.20", True),
    (LAN_ONLY, "::ffff:10.0.0.1", False),
    # An IPv4 rule does not match IPv6 addresses: default allow applies.
    (LAN_ONLY, "2001:db8::1", True),
    (("deny=::/0", "permit=2001:db8::/32"), "2001:db8:1::5", True),
    (("deny=::/0", "permit=2001:db8::/32"), "[2001:db9::5]", False),
    (("deny=::/0", "permit=2001:db8::/32"), "192.0.2.1", True),
    # Last match wins, whatever the order.
    (("permit=192.168.1.0/24", "deny=192.168.1.128/25"), "192.168.1.200", False),
    (("permit=192.168.1.0/24", "deny=192.168.1.128/25"), "192.168.1.100", True),
    (("deny=192.168.1.128/25", "permit=192.168.1.0/24"), "192.168.1.200", True),
    (("deny=10.0.0.1",), "10.0.0.1", False),
    (("deny=10.0.0.1",), "10.0.0.2", True),
    (("deny=0.0.0.0/0", "deny=::/0", "permit=127.0.0.1", "permit=::1"), "::1", True),
    (("deny=0.0.0.0/0", "deny=::/0", "permit=127.0.0.1", "permit=::1"), "127.0.0.2", False),
]


class AclTests(SynchronousTestCase):
    def test_table(self) -> None:
        for rules, address, allowed in TABLE:
            self.assertEqual(acl(*rules).allows(address), allowed, (rules, address))

    def test_rules_keep_order_and_print_like_the_config(self) -> None:
        rules = acl(*LAN_ONLY).rules
        self.assertEqual([str(r) for r in rules], ["deny=0.0.0.0/0", "permit=192.168.1.0/24"])

    def test_not_an_address(self) -> None:
        with self.assertRaises(ValueError):
            acl("deny=0.0.0.0/0").allows("pbx.example.com")

    def test_no_rules_allow_everything_without_parsing(self) -> None:
        self.assertTrue(acl().allows("anything"))
