"""Name resolution for the host names of sip.conf (see :mod:`pbx.core.hosts`).

Lookups use the system resolver (``getaddrinfo``: /etc/hosts, then DNS A/AAAA), as chan_sip's
``host=`` does without ``srvlookup``. At start-up and on reload they run inline — chan_sip also
blocks while it loads — and every :data:`REFRESH_INTERVAL` seconds in a worker thread, so a
provider that moves is followed without a reload (dnsmgr's default refresh interval).
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Iterable
from typing import Any

from twisted.internet import threads
from twisted.internet.task import LoopingCall

from pbx.core.hosts import HostTable

log = logging.getLogger(__name__)

#: Seconds between refreshes (Asterisk's dnsmgr ``refreshinterval`` default).
REFRESH_INTERVAL = 300.0


def resolve(name: str, prefer_ipv6: bool = False) -> str | None:
    """The first address of ``name``, of the preferred family when it has one; ``None`` (and
    a warning naming the error) when it does not resolve."""
    try:
        infos = socket.getaddrinfo(name, None, type=socket.SOCK_DGRAM)
    except (OSError, UnicodeError) as exc:
        log.warning("Cannot resolve host '%s': %s", name, exc)
        return None
    preferred = socket.AF_INET6 if prefer_ipv6 else socket.AF_INET
    addresses = [(family, str(sockaddr[0])) for family, _t, _p, _c, sockaddr in infos]
    for family, address in addresses:
        if family == preferred:
            return address
    return addresses[0][1] if addresses else None


def resolve_all(names: Iterable[str], prefer_ipv6: bool = False) -> dict[str, str | None]:
    return {name: resolve(name, prefer_ipv6) for name in names}


class HostRefresher:
    """Keeps a :class:`HostTable` current for the names ``names()`` returns."""

    def __init__(
        self,
        reactor: Any,
        table: HostTable,
        names: Callable[[], set[str]],
        prefer_ipv6: bool = False,
    ) -> None:
        self.reactor = reactor
        self.table = table
        self.names = names
        self.prefer_ipv6 = prefer_ipv6
        self._loop: LoopingCall | None = None

    def resolve_now(self) -> None:
        """Resolve every name inline (start-up, reload) and log what each became."""
        names = self.names()
        answers = resolve_all(sorted(names), self.prefer_ipv6)
        for name, address in answers.items():
            if address is not None:
                log.info("Host '%s' is %s", name, address)
        self.table.retain(names)
        self.table.update(answers)

    def start(self, interval: float = REFRESH_INTERVAL) -> None:
        if self._loop is None:
            self._loop = LoopingCall(self._refresh)
            self._loop.clock = self.reactor
            self._loop.start(interval, now=False)

    def stop(self) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        self._loop = None

    def _refresh(self) -> None:
        names = sorted(self.names())
        if not names:
            return
        reactor = self.reactor
        d = threads.deferToThreadPool(
            reactor, reactor.getThreadPool(), resolve_all, names, self.prefer_ipv6
        )
        d.addCallback(self.table.update)
        d.addErrback(lambda failure: log.error("host refresh failed: %s", failure.value))
