"""TLS with zero effort: a local CA and a server certificate kept in ``dbdir/tls/``.

When ``tlsenable=yes`` and the configured ``tlscertfile`` does not exist, pbx makes (with
``cryptography``) a private CA once and a server certificate signed by it whose subject
alternative names cover ``localhost``, the host name and every local address, so browsers and
phones trust ``wss://``/``sips:`` after importing ``ca.crt`` once (served at
``https://host:8089/ca.crt``). The server certificate is re-issued when an address appears that
it does not cover or when it nears expiry; the CA is kept, so the one import stays valid.
``contrib/pbx-tls-cert`` makes the same files by hand, like Asterisk's ``ast_tls_cert``.
"""

from __future__ import annotations

import datetime
import fcntl
import ipaddress
import logging
import os
import socket
import struct
from collections.abc import Iterable
from typing import Any, cast

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from OpenSSL import SSL
from twisted.internet import ssl

log = logging.getLogger(__name__)

CA_DAYS = 3650
LEAF_DAYS = 397  # below the 398-day limit browsers apply to server certificates
RENEW_BEFORE = datetime.timedelta(days=30)

Names = tuple[frozenset[str], frozenset[str]]  # (DNS names, IP addresses)
PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
PRIVATE_KEY_TYPES = (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey, ed25519.Ed25519PrivateKey)


def local_names(extra_hosts: Iterable[str] = ()) -> Names:
    """``localhost``, the host names, loopback and every address of every interface."""
    dns = {"localhost", socket.gethostname()}
    fqdn = socket.getfqdn()
    if fqdn and "." in fqdn:
        dns.add(fqdn)
    ips = {"127.0.0.1", "::1"}
    ips.update(_interface_ipv4())
    ips.update(_interface_ipv6())
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None):
            ips.add(str(info[4][0]).split("%")[0])
    except OSError:
        pass
    for host in extra_hosts:
        host = host.strip("[]")
        if not host or host in ("0.0.0.0", "::"):
            continue
        try:
            ips.add(str(ipaddress.ip_address(host)))
        except ValueError:
            dns.add(host)
    return frozenset(dns), frozenset(ips)


def _interface_ipv4() -> set[str]:
    found: set[str] = set()
    siocgifaddr = 0x8915
    try:
        interfaces = socket.if_nameindex()
    except OSError:
        return found
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for _, name in interfaces:
            try:
                request = struct.pack("256s", name[:15].encode())
                packed = fcntl.ioctl(s.fileno(), siocgifaddr, request)
            except OSError:
                continue
            found.add(socket.inet_ntoa(packed[20:24]))
    return found


def _interface_ipv6() -> set[str]:
    found: set[str] = set()
    try:
        with open("/proc/net/if_inet6") as f:
            for line in f:
                hexaddr = line.split()[0]
                addr = ipaddress.IPv6Address(bytes.fromhex(hexaddr))
                if not addr.is_link_local:
                    found.add(str(addr))
    except OSError:
        pass
    return found


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _write_private(path: str, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def ensure_ca(
    directory: str, common_name: str = "pbx local CA"
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """Load ``ca.crt``/``ca.key`` from ``directory``, creating them the first time."""
    os.makedirs(directory, exist_ok=True)
    cert_path = os.path.join(directory, "ca.crt")
    key_path = os.path.join(directory, "ca.key")
    if os.path.exists(cert_path) and os.path.exists(key_path):
        with open(cert_path, "rb") as f:
            cert = x509.load_pem_x509_certificate(f.read())
        with open(key_path, "rb") as f:
            key = serialization.load_pem_private_key(f.read(), None)
        if isinstance(key, ec.EllipticCurvePrivateKey):
            return cert, key
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, f"{common_name} ({socket.gethostname()})"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "pbx"),
        ]
    )
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_private(key_path, _key_pem(key))
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    log.log(
        25,
        "Created a local certificate authority in %s (import ca.crt once to trust pbx)",
        cert_path,
    )
    return cert, key


def issue_server_certificate(
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    names: Names,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    dns, ips = names
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    sans: list[x509.GeneralName] = [x509.DNSName(d) for d in sorted(dns)]
    sans += [x509.IPAddress(ipaddress.ip_address(i)) for i in sorted(ips)]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, socket.gethostname())]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=LEAF_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return cert, key


def _covers(cert: x509.Certificate, names: Names) -> bool:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    have_dns = set(san.get_values_for_type(x509.DNSName))
    have_ip = {str(i) for i in san.get_values_for_type(x509.IPAddress)}
    dns, ips = names
    return dns <= have_dns and ips <= have_ip


def ensure_local_server_certificate(
    directory: str, extra_hosts: Iterable[str] = ()
) -> tuple[str, str]:
    """Paths of ``server.crt``/``server.key`` in ``directory``, (re)issued when needed."""
    ca_cert, ca_key = ensure_ca(directory)
    cert_path = os.path.join(directory, "server.crt")
    key_path = os.path.join(directory, "server.key")
    names = local_names(extra_hosts)
    if os.path.exists(cert_path) and os.path.exists(key_path):
        with open(cert_path, "rb") as f:
            current = x509.load_pem_x509_certificates(f.read())[0]
        if _covers(current, names) and current.not_valid_after_utc - _now() > RENEW_BEFORE:
            return cert_path, key_path
    cert, key = issue_server_certificate(ca_cert, ca_key, names)
    _write_private(key_path, _key_pem(key))
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
        f.write(ca_cert.public_bytes(serialization.Encoding.PEM))
    log.log(25, "Issued a server certificate for %s", ", ".join(sorted(names[0] | names[1])))
    return cert_path, key_path


def ensure_server_certificate(
    certfile: str, keyfile: str, dbdir: str, extra_hosts: Iterable[str] = ()
) -> tuple[PrivateKey, x509.Certificate]:
    """The key and certificate to serve TLS with (Twisted's CertificateOptions takes them).

    ``certfile`` (with ``keyfile``, or the key inside ``certfile``) when it exists; otherwise
    the local CA's server certificate from ``dbdir/tls``.
    """
    if not certfile or not os.path.exists(certfile):
        if certfile:
            log.log(
                25,
                "TLS certificate %s does not exist; using pbx's local CA in %s",
                certfile,
                os.path.join(dbdir, "tls"),
            )
        certfile, keyfile = ensure_local_server_certificate(os.path.join(dbdir, "tls"), extra_hosts)
    with open(certfile, "rb") as f:
        cert_pem = f.read()
    key_pem = cert_pem
    if keyfile and os.path.exists(keyfile):
        with open(keyfile, "rb") as f:
            key_pem = f.read()
    cert = x509.load_pem_x509_certificates(cert_pem)[0]
    key = serialization.load_pem_private_key(key_pem, None)
    if not isinstance(key, PRIVATE_KEY_TYPES):
        raise ValueError(f"{keyfile or certfile}: unsupported private key type")
    return key, cert


def server_tls_options(
    certfile: str, keyfile: str, dbdir: str, extra_hosts: Iterable[str] = (), ciphers: str = ""
) -> ssl.CertificateOptions:
    """Twisted TLS options (TLS 1.2+) for a listener, from ``ensure_server_certificate``;
    ``ciphers`` is ``tlscipher`` in OpenSSL's syntax (empty: Twisted's defaults).

    The cryptography objects go to pyOpenSSL as they are (``use_certificate`` and
    ``use_privatekey`` accept them since pyOpenSSL 24.3); wrapping them in the deprecated
    ``X509``/``PKey`` types is what Twisted's annotations describe but no longer needed.
    """
    key, cert = ensure_server_certificate(certfile, keyfile, dbdir, extra_hosts)
    extra: dict[str, Any] = {}
    if ciphers:
        extra["acceptableCiphers"] = tls_ciphers(ciphers)
    return ssl.CertificateOptions(
        privateKey=cast(Any, key),
        certificate=cast(Any, cert),
        raiseMinimumTo=ssl.TLSVersion.TLSv1_2,
        **extra,
    )


def tls_ciphers(ciphers: str) -> Any:
    """``tlscipher`` for Twisted; a string naming no cipher OpenSSL has is a ``ValueError``."""
    try:
        SSL.Context(SSL.TLS_METHOD).set_cipher_list(ciphers.encode())
    except SSL.Error as exc:
        raise ValueError(f"tlscipher {ciphers!r} names no cipher OpenSSL knows") from exc
    return cast(Any, ssl.AcceptableCiphers).fromOpenSSLCipherString(ciphers)


def ca_certificate_path(dbdir: str) -> str:
    return os.path.join(dbdir, "tls", "ca.crt")
