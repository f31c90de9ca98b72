"""The control socket: ``pbx -r`` / ``pbx -rx`` talk to the daemon over a UNIX stream socket.

Protocol (like Asterisk's ``asterisk.ctl``, simplified): on connect the daemon sends a banner
line ``pbx/<host>/<pid>/<version>\\n``. The client sends NUL-terminated command lines. For each,
the daemon writes the output followed by one NUL. A client that sends the line ``!logs on``
additionally receives log records, each written as ``\\x01<text>\\n``, between command outputs.
Commands run one at a time per connection, in order.
"""

from __future__ import annotations

import logging
import os
import socket
from collections import deque
from collections.abc import Callable

from twisted.internet import defer
from twisted.internet.protocol import Factory, Protocol, connectionDone
from twisted.python.failure import Failure

log = logging.getLogger(__name__)

LOG_PREFIX = b"\x01"
END = b"\x00"

Dispatch = Callable[[str], defer.Deferred[str]]


class ControlProtocol(Protocol):
    def __init__(self, factory: ControlFactory) -> None:
        self._factory = factory
        self._buffer = b""
        self._queue: deque[str] = deque()
        self._busy = False
        self.wants_logs = False

    def connectionMade(self) -> None:  # noqa: N802 - Twisted API
        banner = f"pbx/{socket.gethostname()}/{os.getpid()}/{self._factory.version}\n"
        self.transport.write(banner.encode())  # type: ignore[union-attr]
        self._factory.clients.add(self)

    def connectionLost(self, reason: Failure = connectionDone) -> None:  # noqa: N802
        self._factory.clients.discard(self)
        if self.wants_logs:
            self.wants_logs = False
            self._factory.listeners_changed()

    def dataReceived(self, data: bytes) -> None:  # noqa: N802
        self._buffer += data
        if len(self._buffer) > 65536:
            self.transport.loseConnection()  # type: ignore[union-attr]
            return
        while END in self._buffer:
            raw, _, self._buffer = self._buffer.partition(END)
            self._queue.append(raw.decode("utf-8", "replace").strip())
        self._next()

    def _next(self) -> None:
        if self._busy or not self._queue:
            return
        line = self._queue.popleft()
        if line.startswith("!logs"):
            self.wants_logs = line.endswith("on")
            self._factory.listeners_changed()
            self._reply("")
            return
        self._busy = True
        d = self._factory.dispatch(line)
        d.addCallback(self._reply)

    def _reply(self, text: str) -> None:
        self._busy = False
        if self.transport is not None:
            self.transport.write(text.encode("utf-8", "replace") + END)
        self._next()

    def send_log(self, text: str) -> None:
        if self.wants_logs and self.transport is not None:
            self.transport.write(LOG_PREFIX + text.encode("utf-8", "replace") + b"\n")


class ControlFactory(Factory):
    def __init__(self, dispatch: Dispatch, version: str) -> None:
        self.dispatch = dispatch
        self.version = version
        self.clients: set[ControlProtocol] = set()
        #: Told when consoles start or stop streaming log lines (``streaming`` says if any does).
        self.on_listeners: Callable[[bool], None] = lambda streaming: None

    def listeners_changed(self) -> None:
        self.on_listeners(any(c.wants_logs for c in self.clients))

    def buildProtocol(self, addr: object) -> ControlProtocol:  # noqa: N802
        return ControlProtocol(self)


class ConsoleLogHandler(logging.Handler):
    """Streams log records to remote consoles that asked for them (``pbx -r``)."""

    def __init__(self, factory: ControlFactory) -> None:
        super().__init__()
        self._factory = factory

    def emit(self, record: logging.LogRecord) -> None:
        if not self._factory.clients:
            return
        try:
            text = self.format(record)
        except Exception:
            self.handleError(record)
            return
        for client in list(self._factory.clients):
            client.send_log(text)
