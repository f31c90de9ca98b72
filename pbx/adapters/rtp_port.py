"""The UDP socket of a media port: datagrams into a :class:`~pbx.media.stream.MediaStream`.

One :class:`RtpPort` per bound socket: the leg's RTP port (which also carries STUN, DTLS and,
with rtcp-mux, RTCP; RFC 7983) and, without rtcp-mux, its RTCP port. ``datagramReceived`` is
the top of the per-packet path, so it does no more than read the clock once, hand the datagram
to the stream, and re-arm the stream's timer only after a control packet (RTP never moves a
timer). Sending does not go through here: the stream writes with the socket's own ``sendto``
(:attr:`MediaSocket.sendto`), skipping ``udp.Port.write``'s per-call address validation.

:class:`MediaSocket` is the bound socket itself, read by the reactor (``IReactorFDSet``). Every
call opens and closes two to four of them, and Twisted's ``listenUDP``/``stopListening`` cost
about 55 µs per socket plus four log lines through ``twisted.logger``; a plain socket registered
as a reader costs a fifth of that, and closes at once instead of in a later reactor turn.
"""

from __future__ import annotations

import errno
import logging
import socket
from collections.abc import Callable

from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import IReactorFDSet, IReadDescriptor
from twisted.python.failure import Failure
from zope.interface import implementer

from pbx.core.clock import Scheduler

log = logging.getLogger(__name__)

Address = tuple[str, int]
Receive = Callable[[bytes, Address, float], bool]


def _dropped(data: bytes, addr: Address, now: float) -> bool:
    return False


class RtpPort:
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


#: What one wake-up reads from a socket at most before the reactor serves the others (what
#: ``udp.Port`` reads too).
MAX_READ = 256 * 1024
_READ_AGAIN = frozenset({errno.EAGAIN, errno.EWOULDBLOCK, errno.EINTR})


@implementer(IReadDescriptor)
class MediaSocket:
    """A UDP socket bound to one media port, delivering to an :class:`RtpPort`.

    :raises CannotListenError: from :meth:`bind` when the port cannot be bound.
    """

    def __init__(
        self, reactor: IReactorFDSet, sock: socket.socket, protocol: RtpPort, max_packet: int
    ) -> None:
        self._reactor = reactor
        self._socket = sock
        self._fileno = sock.fileno()
        self._protocol = protocol
        self._max_packet = max_packet
        self._ipv6 = sock.family == socket.AF_INET6
        #: The socket's own ``sendto`` (raises :class:`OSError`, which the stream counts).
        self.sendto: Callable[[bytes | bytearray, Address], int] = sock.sendto
        self.port = int(sock.getsockname()[1])
        reactor.addReader(self)

    @classmethod
    def bind(
        cls,
        reactor: IReactorFDSet,
        interface: str,
        port: int,
        protocol: RtpPort,
        max_packet: int = 2048,
    ) -> MediaSocket:
        """Bind ``interface:port`` and start reading it."""
        family = socket.AF_INET6 if ":" in interface else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            sock.bind((interface, port))
        except OSError as exc:
            sock.close()
            # What listenUDP raises, so the port pool skips the pair (Twisted's errors are
            # untyped).
            raise CannotListenError(interface, port, exc) from None  # type: ignore[no-untyped-call]
        return cls(reactor, sock, protocol, max_packet)

    def fileno(self) -> int:
        return self._fileno

    def logPrefix(self) -> str:  # noqa: N802 - Twisted's
        return "MediaSocket"

    def doRead(self) -> None:  # noqa: N802 - Twisted's
        recvfrom, deliver = self._socket.recvfrom, self._protocol.datagramReceived
        size, read = self._max_packet, 0
        while read < MAX_READ:
            try:
                data, addr = recvfrom(size)
            except OSError as exc:
                # An unconnected UDP socket reports no ICMP errors; anything else is odd but
                # no reason to give up the port (nothing raises through the reactor).
                if exc.errno not in _READ_AGAIN:
                    log.warning("media port %d: %s", self.port, exc)
                return
            read += len(data)
            deliver(data, addr[:2] if self._ipv6 else addr)

    def connectionLost(self, reason: Failure) -> None:  # noqa: N802 - Twisted's
        """The reactor shuts down (or dropped the descriptor): close."""
        self.close()

    def close(self) -> None:
        """Stop reading and close the socket (the port is free at once); idempotent."""
        if self._fileno < 0:
            return
        self._reactor.removeReader(self)
        self._socket.close()
        self._fileno = -1
