"""DTLS certificates: generate, load, and fingerprint them for ``a=fingerprint`` (RFC 8122 §5).

WebRTC peers authenticate each other's self-signed certificates only by the fingerprint carried in
SDP (RFC 5763 §5, RFC 8827 §6.5), so the certificate's own content hardly matters. Generated ones
follow what browsers do: ECDSA P-256, short validity. This module reads files only when told to
(``dtlscertfile``/``dtlsprivatekey``); it owns no DTLS logic (see :mod:`pbx.media.dtls`).
"""

from __future__ import annotations

import datetime
from typing import NamedTuple

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.x509.oid import NameOID

from pbx.core.errors import ConfigError, MediaError
from pbx.core.tokens import TokenSource

#: ``a=fingerprint`` hash function tokens (RFC 8122 §5, IANA "Hash Function Textual Names") that
#: we accept from a peer. MD2/MD5 are listed by RFC 4572 but no longer acceptable.
HASH_FUNCTIONS: dict[str, type[hashes.HashAlgorithm]] = {
    "sha-1": hashes.SHA1,
    "sha-224": hashes.SHA224,
    "sha-256": hashes.SHA256,
    "sha-384": hashes.SHA384,
    "sha-512": hashes.SHA512,
}

#: Validity of a generated certificate relative to ``now``: back-dated a day for clock skew.
NOT_BEFORE = datetime.timedelta(days=1)
NOT_AFTER = datetime.timedelta(days=30)

#: Private keys that can sign a TLS handshake (what ``SSL.Context.use_privatekey`` takes).
PrivateKey = (
    dsa.DSAPrivateKey
    | ec.EllipticCurvePrivateKey
    | ed25519.Ed25519PrivateKey
    | ed448.Ed448PrivateKey
    | rsa.RSAPrivateKey
)
_SIGNING_KEYS = (
    dsa.DSAPrivateKey,
    ec.EllipticCurvePrivateKey,
    ed25519.Ed25519PrivateKey,
    ed448.Ed448PrivateKey,
    rsa.RSAPrivateKey,
)


class CertifiedKey(NamedTuple):
    """A certificate and the private key it certifies."""

    certificate: x509.Certificate
    private_key: PrivateKey

    def fingerprint(self, hash_function: str = "sha-256") -> str:
        return fingerprint(self.certificate, hash_function)


def hash_algorithm(hash_function: str) -> hashes.HashAlgorithm:
    """The hash for an ``a=fingerprint`` token such as ``sha-256`` (case-insensitive).

    :raises MediaError: for a token we don't accept.
    """
    try:
        return HASH_FUNCTIONS[hash_function.lower()]()
    except KeyError:
        raise MediaError(f"unsupported fingerprint hash function {hash_function!r}") from None


def fingerprint(certificate: x509.Certificate, hash_function: str = "sha-256") -> str:
    """The ``a=fingerprint`` value: upper-case hex pairs joined by colons (RFC 8122 §5)."""
    digest = certificate.fingerprint(hash_algorithm(hash_function))
    return digest.hex(":").upper()


def parse_fingerprint(value: str) -> bytes:
    """Turn ``AB:CD:...`` (either case) into the digest bytes.

    :raises MediaError: if it is not colon-separated hex pairs.
    """
    pairs = value.strip().split(":")
    if not all(len(pair) == 2 for pair in pairs):
        raise MediaError(f"bad fingerprint {value!r}")
    try:
        return bytes.fromhex("".join(pairs))
    except ValueError:
        raise MediaError(f"bad fingerprint {value!r}") from None


def generate_certificate(
    now: datetime.datetime, tokens: TokenSource, common_name: str = "pbx"
) -> CertifiedKey:
    """A self-signed ECDSA P-256 certificate valid from ``now`` - 1 day to ``now`` + 30 days.

    :param now: the current time; a naive value is taken as UTC.
    :param tokens: source of the serial number (the key itself comes from OpenSSL's CSPRNG).
    """
    if now.tzinfo is None:
        now = now.replace(tzinfo=datetime.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    # RFC 5280 §4.1.2.2: a positive serial of at most 20 octets; 64 random bits + 1 is both.
    serial = int(tokens.hex(8), 16) + 1
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(now - NOT_BEFORE)
        .not_valid_after(now + NOT_AFTER)
        .sign(key, hashes.SHA256())
    )
    return CertifiedKey(certificate, key)


def load_certificate(cert_path: str, key_path: str) -> CertifiedKey:
    """Load a PEM certificate and its unencrypted PEM private key (``dtlscertfile``,
    ``dtlsprivatekey``; both may name the same file).

    Only the first certificate of the file is used: DTLS-SRTP peers check the fingerprint of the
    end-entity certificate only.

    :raises ConfigError: if a file is unreadable, not PEM, or the key does not match.
    """
    cert_pem = _read(cert_path)
    key_pem = _read(key_path)
    try:
        certificate = x509.load_pem_x509_certificate(cert_pem)
    except ValueError:
        raise ConfigError(cert_path, None, "no PEM certificate found") from None
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise ConfigError(key_path, None, f"cannot load private key: {exc}") from None
    if not isinstance(key, _SIGNING_KEYS):
        raise ConfigError(key_path, None, f"{type(key).__name__} cannot sign a DTLS handshake")
    if key.public_key() != certificate.public_key():
        raise ConfigError(key_path, None, f"private key does not match certificate {cert_path}")
    return CertifiedKey(certificate, key)


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        raise ConfigError(path, None, f"cannot read: {exc.strerror}") from None
