"""REGISTER over TLS (issue 2), with the certificate pbx makes itself and with a configured one.

Debian's sipp is built without OpenSSL (``-t l1`` says "you must compile SIPp with OpenSSL"),
so the phone here is :class:`test.integration.sipua.SipClient` over Python's ``ssl``; it
verifies the server certificate and its address like a careful phone. With ``tlsenable=yes`` and
no ``tlscertfile``, pbx creates a local CA and a server certificate under ``dbdir/tls`` (brief of
issue 2); the client trusts only that ``ca.crt``.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from test.integration.conftest import DaemonFactory
from test.integration.console import PeerDetails, parse_peer
from test.integration.daemon import Daemon
from test.integration.sipua import SipClient, SipMessage

PEERS = {
    "phone-tls": {"secret": "tls-pw", "transport": "tls"},
    "phone-udp": {"secret": "udp-pw", "transport": "udp"},
}


@pytest.fixture(scope="module")
def auto_ca(daemons: DaemonFactory) -> Daemon:
    return daemons("tls-auto", PEERS, tls=True)


@pytest.fixture(scope="module")
def configured(daemons: DaemonFactory, tmp_path_factory: pytest.TempPathFactory) -> Daemon:
    cert, key = write_self_signed(tmp_path_factory.mktemp("keys"))
    return daemons(
        "tls-configured", PEERS, {"tlscertfile": str(cert), "tlsprivatekey": str(key)}, tls=True
    )


def write_self_signed(directory: Path) -> tuple[Path, Path]:
    """A P-256 certificate for 127.0.0.1 (its own CA), as an operator would configure."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pbx integration test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / "pbx.pem", directory / "pbx.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@dataclass(frozen=True)
class TlsRegistration:
    responses: list[SipMessage]
    peer: PeerDetails  # read while the connection was still open
    port: int  # the phone's
    certificate: bytes  # DER of the certificate the server presented

    @property
    def statuses(self) -> list[int | None]:
        return [r.status for r in self.responses]

    def explain(self) -> str:
        return "\n".join(map(str, self.responses))


def register_over_tls(daemon: Daemon, cafile: Path, user: str, password: str) -> TlsRegistration:
    with SipClient("tls", daemon.tls_address, cafile=cafile) as client:
        responses = client.register(user, password)
        peer = parse_peer(daemon.cli(f"sip show peer {user}"))
        return TlsRegistration(responses, peer, client.local[1], client.server_certificate())


def test_tls_listener_uses_a_local_ca_when_no_certificate_is_configured(auto_ca: Daemon) -> None:
    ca = auto_ca.dbdir / "tls" / "ca.crt"
    assert ca.exists(), f"no {ca}"
    reg = register_over_tls(auto_ca, ca, "phone-tls", "tls-pw")
    assert reg.statuses == [401, 200], reg.explain()
    port = reg.port
    contact = f"sip:phone-tls@127.0.0.1:{port};transport=tls"
    assert reg.responses[1].all("Contact") == [f"<{contact}>;expires=300"]
    assert reg.peer["Bindings"] == "1", "no binding while the TLS connection was open"
    assert reg.peer["Reg. Contact"] == contact
    assert reg.peer.bindings[1].startswith(f"Transport TLS  Source 127.0.0.1:{port}"), reg.peer


def test_register_over_tls_with_a_configured_certificate(configured: Daemon) -> None:
    cert = Path(str(configured.general["tlscertfile"]))
    reg = register_over_tls(configured, cert, "phone-tls", "tls-pw")
    assert reg.statuses == [401, 200], reg.explain()
    assert reg.peer.bindings[1].startswith(f"Transport TLS  Source 127.0.0.1:{reg.port}")
    served = x509.load_pem_x509_certificate(cert.read_bytes())
    assert reg.certificate == served.public_bytes(serialization.Encoding.DER)
    assert not (configured.dbdir / "tls" / "ca.crt").exists()  # nothing made when not needed


def test_register_over_tls_for_a_udp_only_peer_gets_403(configured: Daemon) -> None:
    cert = Path(str(configured.general["tlscertfile"]))
    reg = register_over_tls(configured, cert, "phone-udp", "udp-pw")
    assert reg.statuses == [401, 403], reg.explain()
    assert reg.peer["Bindings"] == "0"
