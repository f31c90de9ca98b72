"""Tests for pbx.adapters.rtp_port: dispatch, timer pumping, errors kept off the reactor, and
the media socket on real loopback ports."""

from __future__ import annotations

import socket
from typing import Any

from twisted.internet import reactor as _reactor
from twisted.internet.defer import inlineCallbacks
from twisted.internet.error import CannotListenError, ConnectionDone
from twisted.internet.task import Clock, deferLater
from twisted.python.failure import Failure
from twisted.trial.unittest import SkipTest, SynchronousTestCase, TestCase

from pbx.adapters.rtp_port import MediaSocket, RtpPort

reactor: Any = _reactor
PEER = ("127.0.0.1", 4000)


class RtpPortTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(12.5)
        self.port = RtpPort(self.clock)
        self.seen: list[tuple[bytes, tuple[str, int], float]] = []
        self.pumps = 0

    def receive(self, data: bytes, addr: tuple[str, int], now: float) -> bool:
        self.seen.append((data, addr, now))
        if data == b"boom":
            raise ValueError("core bug")
        return data[0] < 128

    def pump(self) -> None:
        self.pumps += 1

    def test_unattached_ports_drop(self) -> None:
        self.port.datagramReceived(b"\x80", PEER)
        self.assertEqual((self.seen, self.pumps), ([], 0))

    def test_datagrams_carry_the_clock_and_only_control_pumps(self) -> None:
        self.port.attach(self.receive, self.pump)
        self.port.datagramReceived(b"\x80rtp", PEER)
        self.port.datagramReceived(b"\x00stun", PEER)
        self.assertEqual(self.seen[0], (b"\x80rtp", PEER, 12.5))
        self.assertEqual(self.pumps, 1)
        self.port.detach()
        self.port.datagramReceived(b"\x00stun", PEER)
        self.assertEqual(len(self.seen), 2)

    def test_core_exceptions_are_logged_and_counted(self) -> None:
        self.port.attach(self.receive, self.pump)
        with self.assertLogs("pbx.adapters.rtp_port", "ERROR") as logs:
            self.port.datagramReceived(b"boom", PEER)
        self.assertEqual(self.port.errors, 1)
        self.assertIn("media datagram from 127.0.0.1:4000 failed", logs.output[0])
        self.port.datagramReceived(b"\x80", PEER)
        self.assertEqual(len(self.seen), 2)


class MediaSocketTests(TestCase):
    """Real loopback sockets read by the real reactor."""

    def setUp(self) -> None:
        self.port = RtpPort(Clock())
        self.seen: list[tuple[bytes, tuple[str, int]]] = []
        self.port.attach(self.receive, lambda: None)
        self.peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(self.peer.close)
        self.peer.bind(("127.0.0.1", 0))
        self.peer.settimeout(2)

    def receive(self, data: bytes, addr: tuple[str, int], now: float) -> bool:
        self.seen.append((data, addr))
        return False

    def bind(self, port: int = 0) -> MediaSocket:
        media = MediaSocket.bind(reactor, "127.0.0.1", port, self.port)
        self.addCleanup(media.close)
        return media

    @inlineCallbacks
    def test_reads_every_queued_datagram_and_sends_from_its_port(self) -> Any:
        media = self.bind()
        for n in range(3):
            self.peer.sendto(b"rtp%d" % n, ("127.0.0.1", media.port))
        yield deferLater(reactor, 0.05, lambda: None)
        self.assertEqual(self.seen, [(b"rtp%d" % n, self.peer.getsockname()) for n in range(3)])
        self.assertEqual(media.sendto(bytearray(b"hello"), self.peer.getsockname()), 5)
        data, source = self.peer.recvfrom(100)
        self.assertEqual((data, source[1]), (b"hello", media.port))

    def test_a_port_in_use_cannot_be_bound_and_a_closed_one_is_free_at_once(self) -> None:
        media = self.bind()
        self.assertRaises(
            CannotListenError, MediaSocket.bind, reactor, "127.0.0.1", media.port, self.port
        )
        media.close()
        media.close()
        self.bind(media.port).close()

    def test_reactor_shutdown_closes_it(self) -> None:
        media = self.bind()
        media.connectionLost(Failure(ConnectionDone()))
        self.assertEqual(media.fileno(), -1)
        self.bind(media.port)

    @inlineCallbacks
    def test_ipv6_sources_are_host_and_port_only(self) -> Any:
        try:
            media = MediaSocket.bind(reactor, "::1", 0, self.port)
        except CannotListenError:
            raise SkipTest("no IPv6 loopback") from None
        self.addCleanup(media.close)
        peer = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        self.addCleanup(peer.close)
        peer.bind(("::1", 0))
        peer.sendto(b"rtp6", ("::1", media.port))
        yield deferLater(reactor, 0.05, lambda: None)
        self.assertEqual(self.seen, [(b"rtp6", ("::1", peer.getsockname()[1]))])
