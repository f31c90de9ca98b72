"""RTP port pairs from ``rtpstart``–``rtpend`` (rtp.conf; Asterisk ``res_rtp_asterisk.c``).

Every leg takes an even RTP port and reserves the odd port above it for RTCP (RFC 3550 §11),
whether or not it binds that socket (with ``rtcp-mux`` it does not, RFC 5761). As in Asterisk the
search starts at a random even port; after that the pool hands out pairs round-robin, so a pair
just released is the last to be reused and late packets of an ended call do not reach a new
one. A port another process holds is skipped (the bind fails) and the search goes on; only when
every pair has been tried does allocation fail with :class:`MediaError`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from twisted.internet.error import CannotListenError

from pbx.core.errors import MediaError
from pbx.core.tokens import TokenSource

T = TypeVar("T")


class PortPool:
    """Even/odd port pairs in ``[start, end]``.

    :param start: ``rtpstart`` (rounded up to even).
    :param end: ``rtpend``, the last usable port (an RTCP port may be ``end`` itself).
    :param tokens: the random first port.
    :raises MediaError: the range holds no pair.
    """

    def __init__(self, start: int, end: int, tokens: TokenSource) -> None:
        start += start % 2
        if start + 1 > end:
            raise MediaError(f"RTP port range {start}-{end} holds no RTP/RTCP pair")
        self.start = start
        self.end = end
        self._pairs = (end - start + 1) // 2
        self._next = tokens.u32() % self._pairs
        self._in_use: set[int] = set()

    @property
    def capacity(self) -> int:
        """How many pairs the range holds."""
        return self._pairs

    @property
    def in_use(self) -> int:
        """How many pairs are allocated."""
        return len(self._in_use)

    def allocate(self, bind: Callable[[int], T]) -> tuple[int, T]:
        """Find a free pair and bind it.

        :param bind: called with an even RTP port; binds what the leg needs and returns it, or
            raises :class:`CannotListenError` (the pair is then skipped).
        :returns: the RTP port and what ``bind`` returned.
        :raises MediaError: no pair could be bound.
        """
        for _ in range(self._pairs):
            index = self._next
            self._next = (index + 1) % self._pairs
            port = self.start + 2 * index
            if port in self._in_use:
                continue
            try:
                bound = bind(port)
            except CannotListenError:
                continue
            self._in_use.add(port)
            return port, bound
        raise MediaError(
            f"no free RTP port pair in {self.start}-{self.end} "
            f"({len(self._in_use)} of {self._pairs} in use by pbx)"
        )

    def release(self, port: int) -> None:
        """Give a pair back (a no-op for a port not allocated)."""
        self._in_use.discard(port)
