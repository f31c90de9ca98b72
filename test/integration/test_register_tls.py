"""REGISTER over TLS (issue 2), with the certificate pbx makes itself and with a configured one.

Debian's sipp is built without OpenSSL (``-t l1`` says "you must compile SIPp with OpenSSL"),
so the phone here is :class:`test.integration.sipua.SipClient` over Python's ``ssl``; it
verifies the server certificate and its address like a careful phone. With ``tlsenable=yes`` and
no ``tlscertfile``, pbx creates a local CA and a server certificate under ``dbdir/tls`` (brief of
issue 2); the client trusts only that ``ca.crt``.

``tlscipher`` (OpenSSL's cipher list, as chan_sip applies it) is tested with TLS 1.2 clients:
OpenSSL's cipher list does not govern TLS 1.3 suites, in pbx as in Asterisk.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from test.integration.conftest import DaemonFactory
from test.integration.console import PeerDetails, parse_peer
from test.integration.daemon import Daemon, pbx_command
from test.integration.sipua import SipClient, SipMessage

PEERS = {
    "phone-tls": {"secret": "tls-pw", "transport": "tls"},
    "phone-udp": {"secret": "udp-pw", "transport": "udp"},
}


@pytest.fixture(scope="module")
def auto_ca(daemons: DaemonFactory) -> Daemon:
    return daemons("tls-auto", PEERS, tls=True)


#: A TLS 1.2 suite for the local CA's P-256 server key; ``OTHER_CIPHER`` is one OpenSSL (and
#: so pbx without ``tlscipher``) also accepts for that key.
CIPHER = "ECDHE-ECDSA-AES128-GCM-SHA256"
OTHER_CIPHER = "ECDHE-ECDSA-AES256-GCM-SHA384"


@pytest.fixture(scope="module")
def ciphered(daemons: DaemonFactory) -> Daemon:
    return daemons("tls-cipher", PEERS, {"tlscipher": CIPHER}, tls=True)


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


def tls12_client(daemon: Daemon, cipher: str) -> SipClient:
    """A TLS 1.2 phone offering only ``cipher`` (an OpenSSL list), trusting the local CA.

    :raises ssl.SSLError: if the handshake fails.
    """
    client = SipClient("tcp", daemon.tls_address)  # connected; the handshake follows
    context = ssl.create_default_context(cafile=str(daemon.dbdir / "tls" / "ca.crt"))
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(cipher)
    try:
        client.sock = context.wrap_socket(client.sock, server_hostname=daemon.tls_address[0])
    except BaseException:
        client.close()
        raise
    client.kind = "tls"
    return client


def negotiated_cipher(client: SipClient) -> tuple[str, str]:
    assert isinstance(client.sock, ssl.SSLSocket)
    name, version, _ = client.sock.cipher() or ("", "", 0)
    return name, version


def test_tlscipher_refuses_a_client_offering_only_another_cipher(
    ciphered: Daemon, auto_ca: Daemon
) -> None:
    # Without tlscipher the same client is welcome: the list is what refuses it.
    with tls12_client(auto_ca, OTHER_CIPHER) as client:
        assert negotiated_cipher(client) == (OTHER_CIPHER, "TLSv1.2")
    with pytest.raises(ssl.SSLError, match="HANDSHAKE_FAILURE"):
        tls12_client(ciphered, OTHER_CIPHER)


def test_tlscipher_admits_a_client_offering_that_cipher(ciphered: Daemon) -> None:
    with tls12_client(ciphered, f"{OTHER_CIPHER}:{CIPHER}") as client:
        assert negotiated_cipher(client) == (CIPHER, "TLSv1.2")
        responses = client.register("phone-tls", "tls-pw")
        assert [r.status for r in responses] == [401, 200], "\n".join(map(str, responses))


def test_a_tlscipher_naming_no_cipher_stops_start_up(tmp_path: Path) -> None:
    """A typo in ``tlscipher`` is found at start-up, named, not by the first phone's handshake.

    ``pbx -f`` is run here directly: :meth:`Daemon.start` retries "Unable to bind" failures
    with new ports, which this one is not.
    """
    daemon = Daemon(tmp_path / "bad-cipher", PEERS, {"tlscipher": "NO-SUCH-CIPHER"}, tls=True)
    daemon.write_config()
    result = subprocess.run(
        [*pbx_command(), "-C", str(daemon.confdir), "-f"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
        cwd=daemon.confdir,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    tls = f"127.0.0.1:{daemon.tls_port}"
    message = (
        f"Unable to bind SIP TLS {tls}: tlscipher 'NO-SUCH-CIPHER' names no cipher OpenSSL knows"
    )
    assert f"pbx: {message}" in result.stdout + result.stderr, result.stdout + result.stderr
