"""Resolving sip.conf host names with the system resolver (pbx.adapters.dns).

Only names this machine answers without a network: ``localhost`` from /etc/hosts, and the
reserved ``.invalid`` top-level domain (RFC 2606), which never resolves.
"""

from __future__ import annotations

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from pbx.adapters.dns import HostRefresher, resolve, resolve_all
from pbx.core.hosts import HostTable


class ResolveTests(SynchronousTestCase):
    def test_localhost(self) -> None:
        self.assertEqual(resolve("localhost"), "127.0.0.1")

    def test_a_name_that_does_not_resolve_is_none_and_a_warning(self) -> None:
        with self.assertLogs("pbx.adapters.dns", "WARNING") as logs:
            self.assertIsNone(resolve("no-such-host.invalid"))
        self.assertIn("Cannot resolve host 'no-such-host.invalid'", logs.output[0])

    def test_resolve_all(self) -> None:
        with self.assertLogs("pbx.adapters.dns", "WARNING"):
            answers = resolve_all(["localhost", "nope.invalid"])
        self.assertEqual(answers, {"localhost": "127.0.0.1", "nope.invalid": None})


class RefresherTests(SynchronousTestCase):
    def test_resolve_now_fills_the_table_and_forgets_unused_names(self) -> None:
        table = HostTable()
        table.update({"gone.example.com": "192.0.2.9"})
        names = {"localhost"}
        HostRefresher(Clock(), table, lambda: names).resolve_now()
        self.assertEqual(table.address_of("localhost"), "127.0.0.1")
        self.assertIsNone(table.address_of("gone.example.com"))
