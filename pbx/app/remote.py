"""The remote console client: ``pbx -rx "cmd"`` and interactive ``pbx -r``.

Speaks the control-socket protocol of :mod:`pbx.adapters.control` with blocking sockets; no
reactor is needed for a client that sends a line and prints the answer.
"""

from __future__ import annotations

import os
import select
import socket
import sys
from typing import TextIO

END = b"\x00"
LOG_PREFIX = b"\x01"


class RemoteError(Exception):
    pass


class RemoteConsole:
    def __init__(self, path: str, timeout: float | None = 60.0) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(path)
        except OSError as e:
            self.sock.close()
            raise RemoteError(
                f"Unable to connect to remote pbx (does {path} exist?): {e.strerror}"
            ) from e
        self._buffer = b""
        self.banner = self._read_line()

    def _read_line(self) -> str:
        while b"\n" not in self._buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise RemoteError("pbx closed the connection")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode("utf-8", "replace")

    def send(self, line: str) -> None:
        self.sock.sendall(line.encode("utf-8") + END)

    def read_reply(self, logs: TextIO | None = None) -> str:
        """Output of the last command; log records that arrive meanwhile go to ``logs``."""
        while True:
            self._drain_logs(logs)
            if END in self._buffer:
                text, _, self._buffer = self._buffer.partition(END)
                return text.decode("utf-8", "replace")
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError as e:
                raise RemoteError("timed out waiting for pbx") from e
            if not chunk:
                raise RemoteError("pbx closed the connection")
            self._buffer += chunk

    def _drain_logs(self, logs: TextIO | None) -> None:
        while self._buffer.startswith(LOG_PREFIX) and b"\n" in self._buffer:
            line, _, self._buffer = self._buffer.partition(b"\n")
            if logs is not None:
                logs.write(line[1:].decode("utf-8", "replace") + "\n")
                logs.flush()

    def run(self, line: str) -> str:
        self.send(line)
        return self.read_reply()

    def close(self) -> None:
        self.sock.close()


def execute(path: str, command: str, timeout: float | None = None) -> int:
    """``pbx -rx``: print one command's output; exit status 1 when no daemon answers."""
    try:
        console = RemoteConsole(path, timeout)
        sys.stdout.write(console.run(command))
        console.close()
    except RemoteError as e:
        print(str(e), file=sys.stderr)
        return 1
    return 0


def interactive(path: str) -> int:
    """``pbx -r``: a prompt; log records stream in between commands."""
    try:
        console = RemoteConsole(path, timeout=None)
    except RemoteError as e:
        print(str(e), file=sys.stderr)
        return 1
    host = console.banner.split("/")[1] if "/" in console.banner else "pbx"
    print(f"Connected to pbx {console.banner}")
    console.run("!logs on")
    prompt = f"{host}*CLI> "
    try:
        import readline  # noqa: F401 - line editing and history for input()
    except ImportError:
        pass
    while True:
        try:
            line = input(prompt)
        except (EOFError, KeyboardInterrupt):
            print()
            break
        if line.strip() in ("exit", "quit"):
            break
        try:
            console.send(line)
            sys.stdout.write(console.read_reply(logs=sys.stdout))
            # Show log records that arrived right after the reply without waiting for input.
            while select.select([console.sock], [], [], 0.05)[0]:
                chunk = console.sock.recv(65536)
                if not chunk:
                    raise RemoteError("pbx closed the connection")
                console._buffer += chunk
                console._drain_logs(sys.stdout)
        except RemoteError as e:
            print(f"Disconnected from pbx: {e}", file=sys.stderr)
            return 1
    console.close()
    return 0


def control_socket_path(rundir: str) -> str:
    return os.path.join(rundir, "pbx.ctl")
