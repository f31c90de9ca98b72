"""Where RTP binds and what SDP announces (pbx.app.media_addresses)."""

from __future__ import annotations

import ipaddress

from twisted.trial.unittest import SynchronousTestCase

from pbx.app.media_addresses import media_addresses, media_advertise
from pbx.core.addr import Address
from pbx.core.nat import NatMap

MAPPED = NatMap(Address("203.0.113.5", 5060), (ipaddress.ip_network("10.0.0.0/8"),))


class MediaAddressTests(SynchronousTestCase):
    def test_rtp_binds_to_the_sip_udp_address(self) -> None:
        self.assertEqual(media_addresses(Address("127.0.0.1", 5060)), {"IPv4": "127.0.0.1"})
        self.assertEqual(media_addresses(Address("::1", 5060)), {"IPv6": "::1"})
        self.assertEqual(media_addresses(Address("::", 5060)), {"IPv4": "0.0.0.0", "IPv6": "::"})

    def test_a_bound_address_is_announced_as_it_is(self) -> None:
        self.assertEqual(media_advertise(Address("127.0.0.1", 5060), None, NatMap()), {})

    def test_media_address_is_announced_for_its_family_only(self) -> None:
        bind = Address("127.0.0.1", 5060)
        self.assertEqual(media_advertise(bind, "198.51.100.1", NatMap()), {"IPv4": "198.51.100.1"})
        self.assertEqual(media_advertise(bind, "2001:db8::1", NatMap()), {})

    def test_a_wildcard_bind_announces_an_interface_address(self) -> None:
        announced = media_advertise(Address("0.0.0.0", 5060), None, MAPPED)
        address = ipaddress.ip_address(announced["IPv4"])
        self.assertEqual(address.version, 4)
        self.assertFalse(address.is_unspecified)
