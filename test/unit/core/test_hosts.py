"""sip.conf host names and their addresses (pbx.core.hosts)."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from pbx.core.hosts import HostTable


class HostTableTests(SynchronousTestCase):
    def test_addresses_are_their_own_answer(self) -> None:
        table = HostTable()
        self.assertEqual(table.address_of("192.0.2.7"), "192.0.2.7")
        self.assertEqual(table.address_of("[2001:db8::7]"), "2001:db8::7")

    def test_names_answer_once_resolved_case_insensitively(self) -> None:
        table = HostTable()
        self.assertIsNone(table.address_of("sip.example.com"))
        table.update({"SIP.example.com": "198.51.100.4"})
        self.assertEqual(table.address_of("sip.EXAMPLE.com"), "198.51.100.4")

    def test_a_failed_refresh_keeps_the_last_address_and_retain_forgets(self) -> None:
        table = HostTable()
        table.update({"sip.example.com": "198.51.100.4", "old.example.com": "198.51.100.5"})
        table.update({"sip.example.com": None})
        self.assertEqual(table.address_of("sip.example.com"), "198.51.100.4")
        table.retain({"sip.example.com"})
        self.assertIsNone(table.address_of("old.example.com"))
