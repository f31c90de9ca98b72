"""SIP over TCP/TLS connections pbx opens (pbx.adapters.sip_stream.StreamConnector).

On ``MemoryReactor`` with string transports: a TCP connection is up when connected, a TLS one
only once its handshake completed; a refused connection or a failed handshake is reported to
the hub as a failed connection; framing is the same as on accepted connections.
"""

from __future__ import annotations

from OpenSSL import SSL
from twisted.internet.error import ConnectionRefusedError
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from pbx.adapters.sip_stream import SipStreamProtocol, StreamConnector
from pbx.adapters.sip_transport import CONNECT_TIMEOUT, SipTransportHub
from pbx.core.addr import Address, TransportKind
from pbx.sip.flow import Flow

TARGET = Address("127.0.0.1", 5070)


class RecordingHub(SipTransportHub):
    def __init__(self, reactor: MemoryReactorClock) -> None:
        super().__init__(reactor, 65535, "pbx-test")
        self.made: list[Flow] = []
        self.failed: list[tuple[Flow, str]] = []
        self.received: list[tuple[bytes, Flow]] = []

    def connection_made(self, connection: object) -> None:
        self.made.append(connection.flow)  # type: ignore[attr-defined]

    def connect_failed(self, flow: Flow, reason: str) -> None:
        self.failed.append((flow, reason))

    def receive(self, data: bytes, flow: Flow) -> None:
        self.received.append((data, flow))


class Harness:
    def __init__(self, kind: TransportKind = TransportKind.TCP, **options: object) -> None:
        self.reactor = MemoryReactorClock()
        self.hub = RecordingHub(self.reactor)
        self.connector = StreamConnector(self.reactor, self.hub, **options)  # type: ignore[arg-type]
        self.flow = Flow(kind, Address("127.0.0.1", 5060), TARGET, 7)
        self.attempt = self.connector(self.flow, "127.0.0.1")

    def protocol(self) -> SipStreamProtocol:
        if self.flow.kind is TransportKind.TLS:
            _host, _port, factory, _options, _timeout, _bind = self.reactor.sslClients[0]
        else:
            _host, _port, factory, _timeout, _bind = self.reactor.tcpClients[0]
        protocol = factory.buildProtocol(None)
        assert isinstance(protocol, SipStreamProtocol)
        self.transport = StringTransport()
        protocol.makeConnection(self.transport)
        return protocol


class TcpTests(SynchronousTestCase):
    def test_connects_to_the_flows_remote_with_the_connect_timeout(self) -> None:
        h = Harness()
        [(host, port, _factory, timeout, _bind)] = h.reactor.tcpClients
        self.assertEqual((host, port, timeout), ("127.0.0.1", 5070, CONNECT_TIMEOUT))

    def test_connected_is_up_and_frames_like_an_accepted_connection(self) -> None:
        h = Harness()
        protocol = h.protocol()
        self.assertEqual(h.hub.made, [h.flow])
        self.assertIs(protocol.flow, h.flow)  # the hub's flow: Via names the listener
        protocol.dataReceived(b"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\nSIP/2.0 1")
        self.assertEqual(h.hub.received, [(b"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n", h.flow)])
        protocol.send_message(b"OPTIONS")
        self.assertEqual(h.transport.value(), b"OPTIONS")

    def test_refused(self) -> None:
        h = Harness()
        [(_host, _port, factory, _timeout, _bind)] = h.reactor.tcpClients
        factory.clientConnectionFailed(h.reactor.connectors[0], Failure(ConnectionRefusedError()))
        [(flow, reason)] = h.hub.failed
        self.assertEqual(flow, h.flow)
        self.assertIn("refused", reason)

    def test_cancel_disconnects(self) -> None:
        h = Harness()
        h.attempt.cancel()
        self.assertTrue(h.reactor.connectors[0]._disconnected)


class TlsTests(SynchronousTestCase):
    def test_up_only_after_the_handshake(self) -> None:
        h = Harness(TransportKind.TLS)
        protocol = h.protocol()
        self.assertEqual(h.hub.made, [])
        protocol.handshakeCompleted()
        self.assertEqual(h.hub.made, [h.flow])

    def test_a_failed_handshake_is_a_failed_connection(self) -> None:
        h = Harness(TransportKind.TLS)
        protocol = h.protocol()
        protocol.connectionLost(Failure(ValueError("certificate verify failed")))
        self.assertEqual(h.hub.failed, [(h.flow, "certificate verify failed")])

    def test_openssl_errors_are_named_plainly(self) -> None:
        h = Harness(TransportKind.TLS)
        error = SSL.Error([("SSL routines", "", "certificate verify failed")])
        h.protocol().connectionLost(Failure(error))
        self.assertEqual(h.hub.failed, [(h.flow, "TLS certificate verify failed")])

    def test_verification_follows_tlsdontverifyserver(self) -> None:
        verified = Harness(TransportKind.TLS).reactor.sslClients[0][3]
        unverified = Harness(TransportKind.TLS, verify=False).reactor.sslClients[0][3]
        self.assertEqual(type(verified).__name__, "ClientTLSOptions")  # checks name and CA
        self.assertFalse(unverified.verify)

    def test_a_missing_cafile_is_reported_by_load_trust(self) -> None:
        h = Harness(TransportKind.TCP, cafile="/nonexistent/ca.pem")
        self.assertRaises(OSError, h.connector.load_trust)

    def test_a_bad_cipher_string_is_a_value_error(self) -> None:
        self.assertRaises(
            ValueError, Harness, TransportKind.TLS, verify=False, ciphers="NO-SUCH-CIPHER"
        )
