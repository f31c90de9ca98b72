"""The local CA (pbx.adapters.local_ca) and contrib/pbx-tls-cert, its hand-run twin.

Certificates are checked the way a browser would: a full path validation with cryptography's
``x509.verification`` (the CA as the only trust anchor, the server name or IP as the subject),
for every name the brief promises (127.0.0.1, ::1, localhost, the host name).
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError
from OpenSSL import SSL
from twisted.trial.unittest import SynchronousTestCase

from pbx.adapters import local_ca
from pbx.adapters.local_ca import (
    ca_certificate_path,
    ensure_ca,
    ensure_local_server_certificate,
    ensure_server_certificate,
    local_names,
)

SCRIPT = Path(__file__).resolve().parents[2] / "contrib" / "pbx-tls-cert"
NOW = datetime.datetime.now(datetime.UTC)


def load(path: Path | str) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(Path(path).read_bytes())


def sans(cert: x509.Certificate) -> set[str]:
    ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return set(ext.get_values_for_type(x509.DNSName)) | {
        str(ip) for ip in ext.get_values_for_type(x509.IPAddress)
    }


def verify(
    leaf: x509.Certificate, ca: x509.Certificate, name: str, when: datetime.datetime = NOW
) -> None:
    """Path validation as a TLS client does it; raises VerificationError."""
    subject: x509.GeneralName
    try:
        subject = x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        subject = x509.DNSName(name)
    builder = PolicyBuilder().store(Store([ca])).time(when)
    builder.build_server_verifier(subject).verify(leaf, [])


def mode(path: Path | str) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


class LocalNamesTests(SynchronousTestCase):
    def test_loopback_localhost_and_host_name(self) -> None:
        dns, ips = local_names()
        self.assertIn("localhost", dns)
        self.assertIn(socket.gethostname(), dns)
        self.assertIn("127.0.0.1", ips)
        self.assertIn("::1", ips)

    def test_extra_hosts_sorted_into_names_and_addresses(self) -> None:
        dns, ips = local_names(
            ["pbx.example.test", "198.51.100.7", "[2001:db8::7]", "0.0.0.0", "::", ""]
        )
        self.assertIn("pbx.example.test", dns)
        self.assertIn("198.51.100.7", ips)
        self.assertIn("2001:db8::7", ips)
        self.assertNotIn("0.0.0.0", ips)
        self.assertNotIn("::", ips)
        self.assertNotIn("", dns)


class CaTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.dir = Path(self.mktemp())

    def test_created_once_and_kept(self) -> None:
        cert, _ = ensure_ca(str(self.dir))
        first = (self.dir / "ca.crt").read_bytes()
        again, _ = ensure_ca(str(self.dir))
        self.assertEqual((self.dir / "ca.crt").read_bytes(), first)
        self.assertEqual(again.serial_number, cert.serial_number)

    def test_is_a_ca_signed_by_itself(self) -> None:
        cert, key = ensure_ca(str(self.dir))
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints)
        self.assertTrue(constraints.critical)
        self.assertTrue(constraints.value.ca)
        self.assertTrue(cert.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign)
        self.assertEqual(cert.issuer, cert.subject)
        cert.verify_directly_issued_by(cert)
        self.assertEqual(
            key.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            ),
            cert.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            ),
        )

    def test_key_is_private(self) -> None:
        ensure_ca(str(self.dir))
        self.assertEqual(mode(self.dir / "ca.key"), 0o600)

    def test_path(self) -> None:
        self.assertEqual(ca_certificate_path("/var/lib/pbx"), "/var/lib/pbx/tls/ca.crt")


class ServerCertificateTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.dir = Path(self.mktemp())
        self.cert_path, self.key_path = ensure_local_server_certificate(str(self.dir))
        self.ca = load(self.dir / "ca.crt")[0]
        self.leaf = load(self.cert_path)[0]

    def test_sans_cover_loopback_localhost_and_host_name(self) -> None:
        names = sans(self.leaf)
        for name in ("127.0.0.1", "::1", "localhost", socket.gethostname()):
            self.assertIn(name, names)

    def test_verifies_against_the_ca_for_every_local_name(self) -> None:
        for name in ("127.0.0.1", "::1", "localhost", socket.gethostname()):
            verify(self.leaf, self.ca, name)

    def test_does_not_verify_for_other_names_or_another_ca(self) -> None:
        self.assertRaises(VerificationError, verify, self.leaf, self.ca, "pbx.example.test")
        self.assertRaises(VerificationError, verify, self.leaf, self.ca, "198.51.100.7")
        other_ca, _ = ensure_ca(self.mktemp())
        self.assertRaises(VerificationError, verify, self.leaf, other_ca, "localhost")

    def test_server_profile(self) -> None:
        eku = self.leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        self.assertEqual(list(eku), [ExtendedKeyUsageOID.SERVER_AUTH])
        self.assertFalse(
            self.leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        )
        lifetime = self.leaf.not_valid_after_utc - self.leaf.not_valid_before_utc
        self.assertLessEqual(lifetime, datetime.timedelta(days=398))  # browsers' limit

    def test_file_holds_leaf_then_ca_and_key_is_private(self) -> None:
        chain = load(self.cert_path)
        self.assertEqual(
            [c.serial_number for c in chain], [self.leaf.serial_number, self.ca.serial_number]
        )
        self.assertEqual(mode(self.key_path), 0o600)

    def test_kept_when_nothing_changed(self) -> None:
        before = Path(self.cert_path).read_bytes()
        self.assertEqual(
            ensure_local_server_certificate(str(self.dir)), (self.cert_path, self.key_path)
        )
        self.assertEqual(Path(self.cert_path).read_bytes(), before)

    def test_reissued_for_a_new_host_and_ca_kept(self) -> None:
        ca_bytes = (self.dir / "ca.crt").read_bytes()
        ensure_local_server_certificate(str(self.dir), ["pbx.example.test", "198.51.100.7"])
        leaf = load(self.cert_path)[0]
        self.assertNotEqual(leaf.serial_number, self.leaf.serial_number)
        self.assertEqual((self.dir / "ca.crt").read_bytes(), ca_bytes)
        for name in ("pbx.example.test", "198.51.100.7", "127.0.0.1", "::1", "localhost"):
            verify(leaf, self.ca, name)
        # a host already covered does not cause another one
        ensure_local_server_certificate(str(self.dir), ["198.51.100.7"])
        self.assertEqual(load(self.cert_path)[0].serial_number, leaf.serial_number)

    def test_reissued_near_expiry(self) -> None:
        later = self.leaf.not_valid_after_utc - datetime.timedelta(days=29)
        self.patch(local_ca, "_now", lambda: later)
        ensure_local_server_certificate(str(self.dir))
        leaf = load(self.cert_path)[0]
        self.assertNotEqual(leaf.serial_number, self.leaf.serial_number)
        verify(leaf, self.ca, "localhost", later)

    def test_kept_a_month_and_more_before_expiry(self) -> None:
        later = self.leaf.not_valid_after_utc - datetime.timedelta(days=31)
        self.patch(local_ca, "_now", lambda: later)
        ensure_local_server_certificate(str(self.dir))
        self.assertEqual(load(self.cert_path)[0].serial_number, self.leaf.serial_number)


class EnsureServerCertificateTests(SynchronousTestCase):
    """What the daemon calls: a given tlscertfile, else the local CA's certificate."""

    def assert_pair(self, key: local_ca.PrivateKey, cert: x509.Certificate) -> None:
        context = SSL.Context(SSL.TLS_SERVER_METHOD)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        context.use_certificate(cert)
        context.use_privatekey(key)
        context.check_privatekey()  # raises SSL.Error when they do not match

    def test_missing_certfile_uses_local_ca_in_dbdir(self) -> None:
        dbdir = Path(self.mktemp())
        key, cert = ensure_server_certificate(
            str(dbdir / "asterisk.pem"), "", str(dbdir), ["127.0.0.1"]
        )
        self.assert_pair(key, cert)
        self.assertTrue((dbdir / "tls" / "ca.crt").exists())
        self.assertEqual(
            cert.serial_number,
            load(dbdir / "tls" / "server.crt")[0].serial_number,
        )

    def test_existing_certfile_with_key_inside(self) -> None:
        made = Path(self.mktemp())
        cert_path, key_path = ensure_local_server_certificate(str(made))
        pem = Path(self.mktemp())
        pem.write_bytes(Path(key_path).read_bytes() + Path(cert_path).read_bytes())
        dbdir = Path(self.mktemp())
        key, cert = ensure_server_certificate(str(pem), "", str(dbdir))
        self.assert_pair(key, cert)
        self.assertEqual(cert.serial_number, load(cert_path)[0].serial_number)
        self.assertFalse(dbdir.exists())


class PbxTlsCertScriptTests(SynchronousTestCase):
    """contrib/pbx-tls-cert makes the same files by hand."""

    def run_script(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=60
        )

    def test_makes_ca_and_server_certificate(self) -> None:
        out = Path(self.mktemp())
        pem = Path(self.mktemp())
        result = self.run_script(
            "-d", str(out), "-C", "pbx.example.test", "-C", "198.51.100.7", "--pem", str(pem)
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(sorted(os.listdir(out)), ["ca.crt", "ca.key", "server.crt", "server.key"])
        ca = load(out / "ca.crt")[0]
        leaf = load(out / "server.crt")[0]
        for name in ("pbx.example.test", "198.51.100.7", "127.0.0.1", "::1", "localhost"):
            verify(leaf, ca, name)
        self.assertIn("pbx.example.test", result.stdout)
        self.assertEqual(mode(out / "ca.key"), 0o600)
        self.assertEqual(mode(out / "server.key"), 0o600)
        # the combined file: key, then leaf and CA; loads as a key and certificate pair
        self.assertEqual(mode(pem), 0o600)
        blob = pem.read_bytes()
        self.assertEqual(
            [c.serial_number for c in x509.load_pem_x509_certificates(blob)],
            [leaf.serial_number, ca.serial_number],
        )
        key = serialization.load_pem_private_key(blob, None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        context = SSL.Context(SSL.TLS_SERVER_METHOD)
        context.use_certificate(leaf)
        context.use_privatekey(key)
        context.check_privatekey()

    def test_rerun_keeps_files_and_force_keeps_the_ca(self) -> None:
        out = Path(self.mktemp())
        self.assertEqual(self.run_script("-d", str(out)).returncode, 0)
        ca_bytes = (out / "ca.crt").read_bytes()
        leaf_bytes = (out / "server.crt").read_bytes()
        self.assertEqual(self.run_script("-d", str(out)).returncode, 0)
        self.assertEqual((out / "server.crt").read_bytes(), leaf_bytes)
        self.assertEqual(self.run_script("-d", str(out), "--force").returncode, 0)
        self.assertNotEqual((out / "server.crt").read_bytes(), leaf_bytes)
        self.assertEqual((out / "ca.crt").read_bytes(), ca_bytes)
        verify(load(out / "server.crt")[0], load(out / "ca.crt")[0], "localhost")

    def test_ca_name(self) -> None:
        out = Path(self.mktemp())
        self.assertEqual(self.run_script("-d", str(out), "-n", "Lab CA").returncode, 0)
        subject = load(out / "ca.crt")[0].subject.rfc4514_string()
        self.assertIn("CN=Lab CA", subject)

    def test_bad_arguments(self) -> None:
        result = self.run_script("--nope")
        self.assertEqual(result.returncode, 2)
        self.assertIn("usage: pbx-tls-cert", result.stderr)

    def test_unwritable_directory(self) -> None:
        blocker = Path(self.mktemp())
        blocker.write_text("a file, not a folder")
        result = self.run_script("-d", str(blocker / "tls"))
        self.assertEqual(result.returncode, 1)
        self.assertIn("pbx-tls-cert:", result.stderr)
