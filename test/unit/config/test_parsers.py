"""Tests for pbx.config.parsers: the value types every option table uses."""

from __future__ import annotations

import ipaddress
import os
import shutil
import tempfile

from twisted.trial.unittest import SynchronousTestCase

from pbx.config import parsers as p
from pbx.config.parsers import OptionValueError, ParseContext, ValueType
from pbx.core.addr import Address


def parse(vt: ValueType[object], text: str) -> object:
    return vt.parse(text, ParseContext("/etc/pbx"))


class BoolTests(SynchronousTestCase):
    def test_ast_true_and_ast_false_words(self) -> None:
        for word in ("yes", "YES", "true", "y", "t", "1", "on", " On "):
            self.assertIs(parse(p.BOOL, word), True, word)
        for word in ("no", "No", "false", "n", "f", "0", "off"):
            self.assertIs(parse(p.BOOL, word), False, word)

    def test_anything_else_is_an_error(self) -> None:
        for word in ("maybe", "", "2", "enabled"):
            with self.assertRaises(ValueError) as cm:
                parse(p.BOOL, word)
            self.assertEqual(str(cm.exception), "expected yes or no")


class IntegerTests(SynchronousTestCase):
    def test_range(self) -> None:
        port = p.integer(1, 65535)
        self.assertEqual(parse(port, " 5060 "), 5060)
        for bad in ("0", "65536", "-1", "50x", "", "1.5"):
            with self.assertRaises(ValueError) as cm:
                parse(port, bad)
            self.assertEqual(str(cm.exception), "expected a whole number from 1 to 65535")

    def test_open_range_with_unit(self) -> None:
        seconds = p.integer(90, unit="seconds")
        self.assertEqual(parse(seconds, "90"), 90)
        with self.assertRaises(ValueError) as cm:
            parse(seconds, "60")
        self.assertEqual(str(cm.exception), "expected a whole number of seconds >= 90")
        self.assertEqual(seconds.describe, ">=90 seconds")


class ChoiceTests(SynchronousTestCase):
    def test_case_insensitive_and_lower_cased(self) -> None:
        setup = p.choice("active", "passive", "actpass")
        self.assertEqual(parse(setup, "ActPass"), "actpass")
        self.assertEqual(setup.choices, ("active", "passive", "actpass"))
        with self.assertRaises(ValueError) as cm:
            parse(setup, "holdconn")
        self.assertEqual(str(cm.exception), "expected active, passive or actpass")


class AddressTests(SynchronousTestCase):
    def test_forms(self) -> None:
        vt = p.address(5060, ip_only=True)
        self.assertEqual(parse(vt, "0.0.0.0"), Address("0.0.0.0", 5060))
        self.assertEqual(parse(vt, "192.0.2.1:5070"), Address("192.0.2.1", 5070))
        self.assertEqual(parse(vt, "[::]"), Address("::", 5060))
        self.assertEqual(parse(vt, "[2001:db8::1]:5080"), Address("2001:db8::1", 5080))
        self.assertEqual(parse(vt, "::1"), Address("::1", 5060))

    def test_ip_only_refuses_names(self) -> None:
        with self.assertRaises(ValueError) as cm:
            parse(p.address(5060, ip_only=True), "pbx.example.com")
        self.assertEqual(str(cm.exception), "expected an IP address with an optional :port")
        self.assertEqual(
            parse(p.address(0), "pbx.example.com:5062"), Address("pbx.example.com", 5062)
        )

    def test_bad_ports_and_hosts(self) -> None:
        vt = p.address(0)
        for bad in ("1.2.3.4:0", "1.2.3.4:99999", "[::1", "host name", ":5060", "a..b"):
            with self.assertRaises(ValueError, msg=bad):
                parse(vt, bad)

    def test_host_and_ip(self) -> None:
        self.assertEqual(parse(p.HOST, "[2001:db8::2]"), "2001:db8::2")
        self.assertEqual(parse(p.HOST, "phone-1.lab"), "phone-1.lab")
        with self.assertRaises(ValueError):
            parse(p.HOST, "phone_1.lab:5060")
        self.assertEqual(parse(p.IP, "192.0.2.9"), "192.0.2.9")
        with self.assertRaises(ValueError):
            parse(p.IP, "pbx.lab")


class NetworkTests(SynchronousTestCase):
    def test_forms_and_masking(self) -> None:
        cases = [
            ("192.168.1.0/24", "192.168.1.0/24"),
            ("192.168.1.7/255.255.255.0", "192.168.1.0/24"),
            ("0.0.0.0/0.0.0.0", "0.0.0.0/0"),
            ("10.0.0.1", "10.0.0.1/32"),
            ("2001:db8::/32", "2001:db8::/32"),
            ("[2001:db8::1]/64", "2001:db8::/64"),
            ("::1", "::1/128"),
        ]
        for text, expected in cases:
            self.assertEqual(p.parse_network(text), ipaddress.ip_network(expected), text)

    def test_bad(self) -> None:
        for bad in ("192.168.1.0/33", "lab.example/24", "10.0.0.0/255.0.255.0", "::/ffff::"):
            with self.assertRaises(ValueError, msg=bad):
                p.parse_network(bad)


class PathTests(SynchronousTestCase):
    def test_relative_to_the_config_dir(self) -> None:
        self.assertEqual(parse(p.PATH, "keys/a.pem"), "/etc/pbx/keys/a.pem")
        self.assertEqual(parse(p.PATH, "/srv/a.pem"), "/srv/a.pem")
        with self.assertRaises(ValueError):
            parse(p.PATH, "  ")

    def test_file_problem(self) -> None:
        folder = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, folder)
        path = os.path.join(folder, "cert.pem")
        self.assertEqual(p.file_problem(path), "no such file")
        self.assertEqual(p.file_problem(folder), "not readable")
        with open(path, "w") as f:
            f.write("x")
        self.assertIsNone(p.file_problem(path))


class WordsTests(SynchronousTestCase):
    def test_lists(self) -> None:
        self.assertEqual(p.words(["a"]), "a")
        self.assertEqual(p.words(["a", "b", "c"]), "a, b or c")
        self.assertEqual(p.words(["a", "b"], "and"), "a and b")
        self.assertTrue(issubclass(OptionValueError, ValueError))
