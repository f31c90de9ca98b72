"""chan_sip's externaddr/localnet rule (pbx.core.nat)."""

from __future__ import annotations

import ipaddress

from twisted.trial.unittest import SynchronousTestCase

from pbx.core.addr import Address
from pbx.core.nat import NatMap

EXTERNAL = Address("203.0.113.5", 5060)
LAN = (ipaddress.ip_network("192.168.0.0/16"), ipaddress.ip_network("fd00::/8"))


class NatMapTests(SynchronousTestCase):
    def test_outside_every_localnet_gets_externaddr(self) -> None:
        nat = NatMap(EXTERNAL, LAN)
        self.assertEqual(nat.external_for("198.51.100.7"), EXTERNAL)
        self.assertEqual(nat.external_for("::ffff:198.51.100.7"), EXTERNAL)  # mapped IPv4
        self.assertEqual(nat.external_for("127.0.0.1"), EXTERNAL)  # no loopback exception

    def test_inside_a_localnet_gets_nothing(self) -> None:
        nat = NatMap(EXTERNAL, LAN)
        self.assertIsNone(nat.external_for("192.168.4.20"))
        self.assertIsNone(nat.external_for("::ffff:192.168.4.20"))

    def test_without_localnet_or_externaddr_nothing_is_rewritten(self) -> None:
        # chan_sip applies externaddr only together with localnet.
        self.assertIsNone(NatMap(EXTERNAL).external_for("198.51.100.7"))
        self.assertIsNone(NatMap(None, LAN).external_for("198.51.100.7"))
        self.assertIsNone(NatMap().external_for("198.51.100.7"))

    def test_families_and_names(self) -> None:
        nat = NatMap(EXTERNAL, LAN)
        self.assertIsNone(nat.external_for("2001:db8::7"))  # an IPv4 externaddr for IPv6
        self.assertIsNone(nat.external_for("[fd00::1]"))
        self.assertIsNone(nat.external_for("phone.example.com"))  # never a name to compare
        named = NatMap(Address("pbx.example.com", 5062), LAN)
        self.assertEqual(named.external_for("2001:db8::7"), Address("pbx.example.com", 5062))
