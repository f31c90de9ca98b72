"""Tests for pbx.adapters.rtp_port: dispatch, timer pumping, errors kept off the reactor."""

from __future__ import annotations

import socket
from typing import Any

from twisted.internet import reactor as _reactor
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from pbx.adapters.rtp_port import RtpPort, sender

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


class SenderTests(SynchronousTestCase):
    def test_sender_writes_on_the_bound_socket(self) -> None:
        listening = reactor.listenUDP(0, RtpPort(Clock()), interface="127.0.0.1")
        self.addCleanup(listening.stopListening)
        peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(peer.close)
        peer.bind(("127.0.0.1", 0))
        peer.settimeout(2)
        send = sender(listening)
        self.assertEqual(send(bytearray(b"hello"), peer.getsockname()), 5)
        data, source = peer.recvfrom(100)
        self.assertEqual((data, source[1]), (b"hello", listening.getHost().port))
