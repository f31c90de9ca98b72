"""SIP over TCP and TLS: stream framing by Content-Length (RFC 3261 §18.3), both directions.

Each accepted connection is one flow. A client that sends garbage gets a 400 when its message is
recoverable, and is disconnected when framing is lost; other connections are unaffected. CRLF
keepalive pings (RFC 5626 §4.4.1) are answered with a single CRLF.

:class:`StreamConnector` opens the connections pbx itself needs (RFC 3261 §18.1.1) for the
hub's flows: same framing, and the connection counts as up only once TLS has completed its
handshake, so a certificate the server fails verification with is a failed connection, not a
dropped message. TLS servers are verified as chan_sip does with ``tlsdontverifyserver=no``:
against ``tlscafile`` (else the system's trust store), with the target's address or name in the
certificate.
"""

from __future__ import annotations

import logging
from typing import Any, cast

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from OpenSSL import SSL
from twisted.internet import ssl
from twisted.internet.interfaces import (
    IAddress,
    IConnector,
    IHandshakeListener,
    IOpenSSLClientConnectionCreator,
    IReactorSSL,
    IReactorTCP,
)
from twisted.internet.protocol import ClientFactory, Factory, Protocol, connectionDone
from twisted.python.failure import Failure
from zope.interface import implementer

from pbx.adapters.local_ca import tls_ciphers
from pbx.adapters.sip_transport import CONNECT_TIMEOUT, ConnectAttempt, SipTransportHub
from pbx.core.addr import Address, TransportKind, unmap_ipv4
from pbx.sip.flow import Flow
from pbx.sip.framing import Keepalive, StreamFramer
from pbx.sip.message import SipParseError

log = logging.getLogger(__name__)
# Twisted's trust-root helpers carry no annotations.
_ssl: Any = ssl


@implementer(IHandshakeListener)
class SipStreamProtocol(Protocol):
    """One SIP connection; ``outbound`` is the hub's flow when pbx opened it."""

    def __init__(
        self, hub: SipTransportHub, kind: TransportKind, outbound: Flow | None = None
    ) -> None:
        self.hub = hub
        self.kind = kind
        self.framer = StreamFramer(hub.max_size)
        self.outbound = outbound
        self.flow: Flow = outbound or Flow(kind, Address("0.0.0.0", 0), Address("0.0.0.0", 0))
        self.up = False

    def connectionMade(self) -> None:  # noqa: N802
        if self.outbound is not None:
            if self.kind is not TransportKind.TLS:
                self._outbound_up()
            return
        assert self.transport is not None
        local = _address(self.transport.getHost())
        remote = _address(self.transport.getPeer())
        self.flow = Flow(self.kind, local, remote, self.hub.new_conn_id())
        self.up = True
        self.hub.add_connection(self)

    def handshakeCompleted(self) -> None:  # noqa: N802
        if self.outbound is not None:
            self._outbound_up()

    def _outbound_up(self) -> None:
        self.up = True
        self.hub.connection_made(self)

    def dataReceived(self, data: bytes) -> None:  # noqa: N802
        try:
            frames = self.framer.feed(data)
        except SipParseError as e:
            log.warning("Closing %s: %s", self.flow, e.message)
            self.hub.reject(e, data, self.flow)
            self.close()
            return
        for frame in frames:
            if isinstance(frame, Keepalive):
                self.send_message(b"\r\n")
                continue
            try:
                self.hub.receive(frame, self.flow)
            except Exception:
                log.exception("unexpected error on a message from %s", self.flow)

    def connectionLost(self, reason: Failure = connectionDone) -> None:  # noqa: N802
        if self.up:
            self.hub.remove_connection(self)
        elif self.outbound is not None:  # TLS handshake failed (or the server hung up first)
            self.hub.connect_failed(self.outbound, _reason(reason))

    # -- Connection (the hub's sending side) --------------------------------------------------
    def send_message(self, data: bytes) -> None:
        if self.transport is not None:
            self.transport.write(data)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.loseConnection()


class SipStreamFactory(Factory):
    def __init__(self, hub: SipTransportHub, kind: TransportKind) -> None:
        self.hub = hub
        self.kind = kind

    def buildProtocol(self, addr: IAddress | None) -> SipStreamProtocol:  # noqa: N802
        return SipStreamProtocol(self.hub, self.kind)


class _OutboundFactory(ClientFactory):
    def __init__(self, hub: SipTransportHub, flow: Flow) -> None:
        self.hub = hub
        self.flow = flow

    def buildProtocol(self, addr: IAddress | None) -> SipStreamProtocol:  # noqa: N802
        return SipStreamProtocol(self.hub, self.flow.kind, self.flow)

    def clientConnectionFailed(self, connector: IConnector, reason: Failure) -> None:  # noqa: N802
        self.hub.connect_failed(self.flow, _reason(reason))


class _Attempt:
    """A :class:`~pbx.adapters.sip_transport.ConnectAttempt` over a Twisted connector."""

    def __init__(self, connector: IConnector) -> None:
        self.connector = connector

    def cancel(self) -> None:
        self.connector.disconnect()


class StreamConnector:
    """The hub's :data:`~pbx.adapters.sip_transport.Connector` for TCP and TLS.

    :param cafile: ``tlscafile``: the CAs TLS servers are verified against (``None``: the
        system's trust store).
    :param verify: ``not tlsdontverifyserver``.
    :param ciphers: ``tlscipher`` (OpenSSL syntax; empty: Twisted's defaults).
    """

    def __init__(
        self,
        reactor: IReactorTCP,
        hub: SipTransportHub,
        *,
        cafile: str | None = None,
        verify: bool = True,
        ciphers: str = "",
    ) -> None:
        self.reactor = reactor
        self.hub = hub
        self.cafile = cafile
        self.verify = verify
        self.ciphers = ciphers
        self._trust: Any = None

    def __call__(self, flow: Flow, server_name: str) -> ConnectAttempt:
        host, port = flow.remote.host, flow.remote.port
        factory = _OutboundFactory(self.hub, flow)
        if flow.kind is TransportKind.TLS:
            connector = cast(IReactorSSL, self.reactor).connectSSL(
                host, port, factory, self.client_options(server_name), CONNECT_TIMEOUT, None
            )
        else:
            connector = self.reactor.connectTCP(host, port, factory, timeout=CONNECT_TIMEOUT)
        return _Attempt(connector)

    def client_options(self, host: str) -> Any:
        """TLS 1.2+ client options for ``host`` (an address or a name)."""
        extra: dict[str, Any] = {"raiseMinimumTo": ssl.TLSVersion.TLSv1_2}
        if self.ciphers:
            extra["acceptableCiphers"] = tls_ciphers(self.ciphers)
        if not self.verify:
            return ssl.CertificateOptions(verify=False, **extra)
        options: IOpenSSLClientConnectionCreator = ssl.optionsForClientTLS(
            host, trustRoot=self._trust_root(), extraCertificateOptions=extra
        )
        return options

    def load_trust(self) -> None:
        """Read ``cafile`` now (start-up, reload); raises ``OSError``/``ValueError``."""
        if self.cafile is None:
            self._trust = _ssl.platformTrust()
            return
        with open(self.cafile, "rb") as f:
            certs = x509.load_pem_x509_certificates(f.read())
        self._trust = _ssl.trustRootFromCertificates(
            [ssl.Certificate.loadPEM(cert.public_bytes(Encoding.PEM)) for cert in certs]
        )

    def _trust_root(self) -> Any:
        if self._trust is None:
            self.load_trust()
        return self._trust


def _reason(failure: Failure) -> str:
    value = failure.value
    if isinstance(value, SSL.Error) and value.args and isinstance(value.args[0], list):
        # pyOpenSSL's error queue: [(library, function, reason), ...]
        return "TLS " + "; ".join(str(entry[-1]) for entry in value.args[0])
    return failure.getErrorMessage() or getattr(failure.type, "__name__", "error")


def _address(addr: IAddress) -> Address:
    host = getattr(addr, "host", "0.0.0.0")
    port = getattr(addr, "port", 0)
    return Address(unmap_ipv4(str(host)), int(port))
