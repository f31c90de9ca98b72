"""The UDP socket of a media port: datagrams into a :class:`~pbx.media.stream.MediaStream`.

One :class:`RtpPort` per bound socket: the leg's RTP port (which also carries STUN, DTLS and,
with rtcp-mux, RTCP; RFC 7983) and, without rtcp-mux, its RTCP port. ``datagramReceived`` is
the top of the per-packet path, so it does no more than read the clock once, hand the datagram
to the stream, and re-arm the stream's timer only after a control packet (RTP never moves a
timer). Sending does not go through here: the stream writes with the socket's own ``sendto``
(:func:`sender`), skipping ``udp.Port.write``'s per-call address validation.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from typing import cast

from twisted.internet.interfaces import IListeningPort, ISystemHandle
from twisted.internet.protocol import DatagramProtocol

from pbx.core.clock import Scheduler

log = logging.getLogger(__name__)

Address = tuple[str, int]
Receive = Callable[[bytes, Address, float], bool]


def _dropped(data: bytes, addr: Address, now: float) -> bool:
    return False


class RtpPort(DatagramProtocol):
    """One media socket; :meth:`attach` connects it to a stream once the stream exists.

    :param clock: the reactor's clock (``seconds()`` is the ``now`` of every datagram).
    """

    def __init__(self, clock: Scheduler) -> None:
        self._seconds = clock.seconds
        self._receive: Receive = _dropped
        self._pump: Callable[[], None] = _nothing
        self.errors = 0

    def attach(self, receive: Receive, pump: Callable[[], None]) -> None:
        """Deliver datagrams to ``receive(data, addr, now)``; call ``pump()`` whenever it
        returns ``True`` (a control packet that may have changed the stream's timers)."""
        self._receive = receive
        self._pump = pump

    def detach(self) -> None:
        """Drop datagrams from now on (the leg is closing)."""
        self._receive = _dropped
        self._pump = _nothing

    def datagramReceived(self, data: bytes, addr: Address) -> None:  # noqa: N802 - Twisted's
        try:
            if self._receive(data, addr, self._seconds()):
                self._pump()
        except Exception:
            # Nothing raises through the reactor (STYLE §2.7): count, log, keep the port.
            self.errors += 1
            log.exception("media datagram from %s:%d failed", addr[0], addr[1])


def _nothing() -> None:
    return None


def sender(port: IListeningPort) -> Callable[[bytes | bytearray, Address], int]:
    """The bound socket's ``sendto`` (raises :class:`OSError`, which the stream counts)."""
    handle = cast(socket.socket, ISystemHandle(port).getHandle())
    return handle.sendto
