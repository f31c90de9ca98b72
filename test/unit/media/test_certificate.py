"""Tests for pbx.media.certificate: generation, PEM loading, RFC 8122 fingerprints."""

from __future__ import annotations

import datetime
import os
import re
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, x25519
from twisted.trial.unittest import SynchronousTestCase

from pbx.core.errors import ConfigError, MediaError
from pbx.core.tokens import CountingTokens
from pbx.media.certificate import (
    fingerprint,
    generate_certificate,
    hash_algorithm,
    load_certificate,
    parse_fingerprint,
)

DATA = Path(__file__).resolve().parents[2] / "data" / "dtls"
CERT = str(DATA / "ecdsa-p256-cert.pem")
KEY = str(DATA / "ecdsa-p256-key.pem")
# Printed by `openssl x509 -noout -fingerprint -sha256 / -sha1` (see test/data/dtls/README.md).
OPENSSL_SHA256 = (
    "A8:94:1A:84:21:CF:AB:1D:F5:39:B4:A7:8E:84:5B:2B:"
    "39:2D:4F:D9:BD:18:2B:A2:2A:B2:45:41:53:CD:7B:A0"
)
OPENSSL_SHA1 = "3B:3E:81:D5:35:21:85:0A:15:93:17:79:7E:CA:59:7B:46:3B:5E:53"
NOW = datetime.datetime(2026, 11, 26, 12, 0, tzinfo=datetime.UTC)


class FingerprintTests(SynchronousTestCase):
    def test_known_answers(self) -> None:
        pair = load_certificate(CERT, KEY)
        self.assertEqual(fingerprint(pair.certificate), OPENSSL_SHA256)
        self.assertEqual(pair.fingerprint("sha-256"), OPENSSL_SHA256)
        self.assertEqual(pair.fingerprint("SHA-1"), OPENSSL_SHA1)

    def test_format(self) -> None:
        """RFC 8122 §5: upper-case hex pairs separated by colons."""
        pair = load_certificate(CERT, KEY)
        for name, size in [("sha-1", 20), ("sha-224", 28), ("sha-384", 48), ("sha-512", 64)]:
            value = pair.fingerprint(name)
            self.assertRegex(value, rf"\A[0-9A-F]{{2}}(:[0-9A-F]{{2}}){{{size - 1}}}\Z")

    def test_unsupported_hash(self) -> None:
        with self.assertRaises(MediaError) as cm:
            hash_algorithm("md5")
        self.assertEqual(str(cm.exception), "unsupported fingerprint hash function 'md5'")
        self.assertIsInstance(hash_algorithm("SHA-256"), hashes.SHA256)

    def test_parse(self) -> None:
        self.assertEqual(parse_fingerprint("ab:CD:01"), b"\xab\xcd\x01")
        self.assertEqual(parse_fingerprint(OPENSSL_SHA1.lower()).hex(":").upper(), OPENSSL_SHA1)
        for bad in ("ABCD", "AB:C", "AB:GG", "", "AB::CD"):
            with self.subTest(bad=bad), self.assertRaises(MediaError) as cm:
                parse_fingerprint(bad)
            self.assertEqual(str(cm.exception), f"bad fingerprint {bad!r}")


class GenerateTests(SynchronousTestCase):
    def test_generated_certificate(self) -> None:
        pair = generate_certificate(NOW, CountingTokens(), common_name="pbx-1")
        cert = pair.certificate
        self.assertIsInstance(pair.private_key, ec.EllipticCurvePrivateKey)
        assert isinstance(pair.private_key, ec.EllipticCurvePrivateKey)
        self.assertEqual(pair.private_key.curve.name, "secp256r1")
        self.assertEqual(cert.not_valid_before_utc, NOW - datetime.timedelta(days=1))
        self.assertEqual(cert.not_valid_after_utc, NOW + datetime.timedelta(days=30))
        self.assertEqual(cert.subject, cert.issuer)
        self.assertEqual(cert.subject.rfc4514_string(), "CN=pbx-1")
        self.assertEqual(cert.serial_number, 2)  # CountingTokens gives 1, plus one
        self.assertIsInstance(cert.signature_hash_algorithm, hashes.SHA256)
        public = pair.private_key.public_key()
        self.assertEqual(cert.public_key(), public)
        # Two certificates never share a key.
        other = generate_certificate(NOW, CountingTokens())
        self.assertNotEqual(other.fingerprint(), pair.fingerprint())

    def test_naive_now_is_utc(self) -> None:
        pair = generate_certificate(NOW.replace(tzinfo=None), CountingTokens())
        self.assertEqual(pair.certificate.not_valid_before_utc, NOW - datetime.timedelta(days=1))


class LoadTests(SynchronousTestCase):
    def write(self, name: str, data: bytes) -> str:
        # Not self.mktemp(): under pytest it would create directories in the working tree.
        directory = tempfile.TemporaryDirectory()
        self.addCleanup(directory.cleanup)
        path = os.path.join(directory.name, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def assert_config_error(self, cert: str, key: str, path: str, text: str) -> None:
        with self.assertRaises(ConfigError) as cm:
            load_certificate(cert, key)
        self.assertEqual(cm.exception.path, path)
        self.assertIsNone(cm.exception.line)
        self.assertRegex(cm.exception.message, text)

    def test_generated_pem_round_trip(self) -> None:
        pair = generate_certificate(NOW, CountingTokens())
        cert_pem = pair.certificate.public_bytes(serialization.Encoding.PEM)
        key_pem = pair.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        both = self.write("both.pem", key_pem + cert_pem)  # one file may hold both
        loaded = load_certificate(both, both)
        self.assertEqual(loaded.fingerprint(), pair.fingerprint())

    def test_missing_file(self) -> None:
        missing = str(DATA / "missing.pem")
        self.assert_config_error(
            missing, KEY, missing, r"\Acannot read: No such file or directory\Z"
        )
        self.assert_config_error(CERT, missing, missing, r"\Acannot read: ")

    def test_not_pem(self) -> None:
        junk = self.write("junk.pem", b"hello")
        self.assert_config_error(junk, KEY, junk, r"\Ano PEM certificate found\Z")
        self.assert_config_error(CERT, junk, junk, r"\Acannot load private key: ")

    def test_key_does_not_match(self) -> None:
        other = generate_certificate(NOW, CountingTokens()).private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        key = self.write("other.pem", other)
        self.assert_config_error(
            CERT, key, key, rf"\Aprivate key does not match certificate {re.escape(CERT)}\Z"
        )

    def test_key_that_cannot_sign(self) -> None:
        pem = x25519.X25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        key = self.write("x25519.pem", pem)
        self.assert_config_error(
            CERT, key, key, r"\AX25519PrivateKey cannot sign a DTLS handshake\Z"
        )
