"""A real pbx daemon for integration tests: its own config directory, free loopback ports.

:class:`Daemon` writes a throw-away configuration directory (``pbx.conf`` with ``rundir``,
``dbdir`` and ``logdir`` inside it, ``sip.conf`` built from a dict of peers plus ``[general]``
options, ``logger.conf``, ``http.conf`` with the HTTP server off, a one-line
``extensions.conf``), starts ``pbx -C dir -f`` as a child process with its output kept in a
file for failure messages, and waits until ``pbx -rx "core waitfullybooted"`` says every
listener is bound. It then offers the console
(:meth:`Daemon.cli` over the control socket, :meth:`Daemon.rx` through the real ``pbx -rx``
command), :meth:`~Daemon.stop`, :meth:`~Daemon.kill9` and :meth:`~Daemon.restart`.

Only the process this object started is ever signalled, by its own PID. Ports are taken from
the kernel (bind to port 0) and checked free for both UDP and TCP, so several daemons (and other
test suites) run side by side; a start that loses a port race is retried with new ports.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TypeVar

from pbx.app.remote import RemoteConsole, RemoteError, control_socket_path

OptionValue = str | int | Sequence[str]
Options = Mapping[str, OptionValue]

BOOT_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0

_T = TypeVar("_T")


class DaemonError(AssertionError):
    """The daemon did not start, stop or answer as expected (the message carries its output)."""


def pbx_command() -> list[str]:
    """The ``pbx`` console script of the interpreter running the tests (``.venv/bin/pbx``)."""
    script = Path(sys.executable).parent / "pbx"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "pbx"]


_handed_out: set[tuple[str, int]] = set()


def free_port(host: str = "127.0.0.1", tcp: bool = True) -> int:
    """A port on ``host`` that is free for UDP (and TCP when ``tcp``) right now.

    Never the same port twice in one test process, so two helpers asking in a row cannot be
    given one port the first has not bound yet.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for _ in range(100):
        with socket.socket(family, socket.SOCK_DGRAM) as udp:
            udp.bind((host, 0))
            port = int(udp.getsockname()[1])
            if (host, port) in _handed_out:
                continue
            if tcp:
                with socket.socket(family, socket.SOCK_STREAM) as stream:
                    try:
                        stream.bind((host, port))
                    except OSError:
                        continue
        _handed_out.add((host, port))
        return port
    raise DaemonError(f"no free port on {host}")


def bracket(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def render_conf(sections: Sequence[tuple[str, Options]]) -> str:
    """Asterisk .conf text; a sequence value becomes repeated lines (``allow=``, ``permit=``)."""
    lines: list[str] = []
    for name, options in sections:
        lines.append(f"[{name}]")
        for key, value in options.items():
            values = [value] if isinstance(value, str | int) else list(value)
            lines.extend(f"{key}={v}" for v in values)
        lines.append("")
    return "\n".join(lines)


#: Every peer starts from this: a desk phone that registers with a password over UDP or TCP.
PEER_DEFAULTS: dict[str, OptionValue] = {
    "type": "friend",
    "host": "dynamic",
    "context": "phones",
    "transport": "udp,tcp",
}

#: pbx needs an extensions.conf; calls are not what these tests are about.
DEFAULT_DIALPLAN = "[phones]\nexten => _X.,1,Hangup()\n"


class Daemon:
    """One pbx process over a configuration directory under ``root``.

    :param peers: device sections; each is merged over :data:`PEER_DEFAULTS`.
    :param general: extra ``[general]`` options of sip.conf (they override the listeners
        written here).
    :param tcp: enable the TCP listener. :param tls: enable the TLS listener (no
        ``tlscertfile`` unless ``general`` gives one, so pbx makes its local CA).
    :param host: the address every listener binds (``::1`` or ``::`` for IPv6).
    :param debug_log: also write a ``full`` log with DEBUG records (off for benchmarks).
    :param console_levels: logger.conf levels of the console (the output file).
    :param dialplan: extensions.conf text (default: the peers' context, hanging up).
    :param extra_sip: raw text appended to sip.conf (sections that are not devices, such as
        ``[authentication]``).
    """

    def __init__(
        self,
        root: Path,
        peers: Mapping[str, Options],
        general: Options | None = None,
        *,
        tcp: bool = True,
        tls: bool = False,
        host: str = "127.0.0.1",
        debug_log: bool = True,
        console_levels: str = "notice,warning,error,verbose",
        dialplan: str = DEFAULT_DIALPLAN,
        extra_sip: str = "",
    ) -> None:
        self.confdir = Path(root)
        self.peers = dict(peers)
        self.general = dict(general or {})
        self.tcp = tcp
        self.tls = tls
        self.host = host
        self.debug_log = debug_log
        self.console_levels = console_levels
        self.dialplan = dialplan
        self.extra_sip = extra_sip
        self.udp_port = 0
        self.tcp_port = 0
        self.tls_port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self._console: RemoteConsole | None = None

    # -- configuration -----------------------------------------------------------------------
    @property
    def dbdir(self) -> Path:
        return self.confdir / "db"

    @property
    def logdir(self) -> Path:
        return self.confdir / "log"

    @property
    def rundir(self) -> Path:
        return self.confdir / "run"

    @property
    def output_path(self) -> Path:
        """The daemon's stdout and stderr (its console log in the foreground)."""
        return self.confdir / "pbx-output.txt"

    @property
    def connect_host(self) -> str:
        """Where clients send to: the bound address, or loopback for a wildcard."""
        return {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(self.host, self.host)

    @property
    def udp(self) -> tuple[str, int]:
        return (self.connect_host, self.udp_port)

    @property
    def tcp_address(self) -> tuple[str, int]:
        return (self.connect_host, self.tcp_port)

    @property
    def tls_address(self) -> tuple[str, int]:
        return (self.connect_host, self.tls_port)

    def _allocate_ports(self) -> None:
        probe = self.connect_host
        self.udp_port = free_port(probe, tcp=self.tcp)
        self.tcp_port = self.udp_port
        self.tls_port = free_port(probe, tcp=True) if self.tls else 0

    def write_config(self) -> None:
        """(Re)write every configuration file (ports are allocated the first time); runtime
        directories are left alone."""
        if self.udp_port == 0:
            self._allocate_ports()
        self.confdir.mkdir(parents=True, exist_ok=True)
        bind = bracket(self.host)
        general: dict[str, OptionValue] = {
            "realm": "pbx-test",
            "udpbindaddr": f"{bind}:{self.udp_port}",
            "tcpenable": "yes" if self.tcp else "no",
            "tlsenable": "yes" if self.tls else "no",
            "websocket_enabled": "no",
        }
        if self.tcp:
            general["tcpbindaddr"] = f"{bind}:{self.tcp_port}"
        if self.tls:
            general["tlsbindaddr"] = f"{bind}:{self.tls_port}"
        general.update(self.general)
        sections: list[tuple[str, Options]] = [("general", general)]
        sections += [(name, {**PEER_DEFAULTS, **opts}) for name, opts in self.peers.items()]
        files = {
            "pbx.conf": render_conf(
                [("directories", {"rundir": "run", "dbdir": "db", "logdir": "log"})]
            ),
            "sip.conf": render_conf(sections) + self.extra_sip,
            "http.conf": render_conf([("general", {"enabled": "no"})]),
            "extensions.conf": self.dialplan,
            "logger.conf": render_conf(
                [
                    (
                        "logfiles",
                        {
                            "console": self.console_levels,
                            **(
                                {"full": "notice,warning,error,verbose,debug"}
                                if self.debug_log
                                else {}
                            ),
                        },
                    )
                ]
            ),
        }
        for name, text in files.items():
            (self.confdir / name).write_text(text)

    # -- life cycle --------------------------------------------------------------------------
    def start(self) -> None:
        """Write the config (first start: with fresh ports), start, wait until fully booted.

        A start that fails because a port was taken meanwhile is retried with new ports.
        """
        for attempt in range(3):
            if self.starts == 0 or attempt > 0:
                self._allocate_ports()
            self.write_config()
            try:
                self._spawn_and_wait()
                self.starts += 1
                return
            except DaemonError:
                if self.starts == 0 and "Unable to bind" in self.output() and attempt < 2:
                    continue
                raise

    def _spawn_and_wait(self) -> None:
        if self.running:
            raise DaemonError("pbx is already running")
        with self.output_path.open("ab") as out:
            out.write(f"==== pbx start {self.starts + 1} ====\n".encode())
            out.flush()
            self.proc = subprocess.Popen(
                [*pbx_command(), "-C", str(self.confdir), "-f"],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.confdir,
            )
        deadline = time.monotonic() + BOOT_TIMEOUT
        last = ""
        socket_path = Path(control_socket_path(str(self.rundir)))
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise DaemonError(
                    f"pbx exited with {self.proc.returncode} while starting\n{self.describe()}"
                )
            # A ``pbx -rx`` costs a Python start-up; only ask once the socket can answer (a
            # stale one left by kill -9 is replaced by the new daemon, or refuses: retried).
            if not socket_path.exists():
                time.sleep(0.02)
                continue
            result = self.rx("core waitfullybooted", timeout=5.0)
            last = result.stdout + result.stderr
            if result.returncode == 0 and "fully booted" in result.stdout:
                return
            time.sleep(0.05)
        self.kill9()
        raise DaemonError(
            f"pbx did not boot in {BOOT_TIMEOUT} s (last answer {last!r})\n{self.describe()}"
        )

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise DaemonError("pbx was never started")
        return self.proc.pid

    def stop(self) -> int:
        """``core stop now`` and wait for the process to exit; returns its exit status.

        Sent over the control socket (``pbx -rx`` refuses to run while a config file has
        errors); if the console does not take it, SIGTERM, which pbx also handles cleanly.
        """
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return -1 if proc is None else int(proc.returncode)
        try:
            self.cli("core stop now")
        except DaemonError:
            if proc.poll() is None:  # not reaped yet, so the PID is still our child's
                os.kill(proc.pid, signal.SIGTERM)
        self._drop_console()
        try:
            return proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill9()
            raise DaemonError(f"pbx did not stop in {STOP_TIMEOUT} s\n{self.describe()}") from None

    def kill9(self) -> None:
        """SIGKILL our own process (no clean shutdown: nothing is flushed)."""
        self._drop_console()
        proc = self.proc
        if proc is not None and proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(STOP_TIMEOUT)

    def restart(self) -> None:
        """A clean stop, then a start over the same configuration and ports."""
        self.stop()
        self.start()

    def close(self) -> None:
        """Stop if still running (clean if possible, else SIGKILL). Safe to call twice."""
        if not self.running:
            self._drop_console()
            return
        try:
            self.stop()
        except DaemonError:
            self.kill9()

    def __enter__(self) -> Daemon:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- console -----------------------------------------------------------------------------
    def rx(self, command: str, timeout: float = 10.0) -> subprocess.CompletedProcess[str]:
        """Run the real ``pbx -C dir -rx command`` (what a user or script types)."""
        try:
            return subprocess.run(
                [*pbx_command(), "-C", str(self.confdir), "-rx", command, "-T", str(timeout)],
                capture_output=True,
                text=True,
                timeout=timeout + 10.0,
                cwd=self.confdir,
            )
        except subprocess.TimeoutExpired as e:
            raise DaemonError(f"pbx -rx {command!r} hung\n{self.describe()}") from e

    def cli(self, command: str) -> str:
        """One console command over the control socket, the protocol ``pbx -rx`` speaks.

        In-process rather than a new ``pbx -rx`` each time (0.3 s apiece), so tests can poll.
        """
        for attempt in (1, 2):
            if self._console is None:
                try:
                    self._console = RemoteConsole(
                        control_socket_path(str(self.rundir)), timeout=10.0
                    )
                except RemoteError as e:
                    raise DaemonError(f"{e}\n{self.describe()}") from e
            try:
                return self._console.run(command)
            except (RemoteError, OSError) as e:
                self._drop_console()
                if attempt == 2:
                    raise DaemonError(f"console command {command!r}: {e}\n{self.describe()}") from e
        raise AssertionError("unreachable")

    def _drop_console(self) -> None:
        if self._console is not None:
            self._console.close()
            self._console = None

    def wait_for(
        self,
        command: str,
        check: Callable[[str], _T | None],
        timeout: float = 5.0,
        interval: float = 0.02,
    ) -> _T:
        """Poll ``command`` until ``check(output)`` returns something not None; return it."""
        deadline = time.monotonic() + timeout
        output = ""
        while True:
            output = self.cli(command)
            found = check(output)
            if found is not None:
                return found
            if time.monotonic() >= deadline:
                raise DaemonError(
                    f"{command!r} did not reach the expected state in {timeout} s; "
                    f"last output:\n{output}\n{self.describe()}"
                )
            time.sleep(interval)

    # -- diagnostics -------------------------------------------------------------------------
    def output(self) -> str:
        try:
            return self.output_path.read_text(errors="replace")
        except OSError:
            return ""

    def describe(self, lines: int = 60) -> str:
        """The tail of the daemon's output, for assertion messages."""
        tail = "\n".join(self.output().splitlines()[-lines:])
        full = f" (DEBUG log: {self.logdir / 'full'})" if self.debug_log else ""
        return f"--- pbx output ({self.output_path}){full} ---\n{tail}\n--- end of pbx output ---"
