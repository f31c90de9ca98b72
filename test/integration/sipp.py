"""Run the real ``sipp`` (Debian ``sip-tester``) with a scenario and read back what happened.

:func:`run_sipp` (or :func:`start_sipp` for a sipp that keeps running while the test works)
runs one scenario from ``contrib/sipp/`` in its own working directory with the message, error
and ``<log>`` traces on and the screen kept, always on loopback (``-i``/``-mi`` 127.0.0.1 or ::1,
``-bind_local``), with ``-nostdin`` and a global ``-timeout`` so it can never hang a test. The
:class:`SippResult` holds the exit status and the parsed message trace, so tests assert exact
status codes and headers of what the daemon really sent.

Facts about this sipp (3.6.1, Debian 12): it is built without OpenSSL, so ``-t l1`` (TLS) is not
available (the TLS tests use :mod:`test.integration.sipua`); with ``-aa`` it answers out-of-call
OPTIONS (qualify pings) with 200, without it it discards them.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ParamSpec

import pytest

from test.integration.daemon import bracket, free_port
from test.integration.sipua import SipMessage, parse

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = REPO / "contrib" / "sipp"
SIPP = shutil.which("sipp")

requires_sipp = pytest.mark.skipif(
    SIPP is None, reason="sipp is not installed (Debian package sip-tester; `make sysdeps`)"
)

# "----------------------------------------------- 2026-11-26 16:57:42.643225" then
# "UDP message sent (345 bytes):" or "TCP message received [384] bytes :"
_ENTRY_RE = re.compile(
    r"^-{20,} (?P<stamp>\S+ \S+)\n"
    r"(?P<transport>\w+) message (?P<dir>sent|received) [\[(](?P<size>\d+)[\])] bytes ?:\n\n",
    re.MULTILINE,
)

P = ParamSpec("P")


@dataclass(frozen=True, kw_only=True)
class TracedMessage(SipMessage):
    """One SIP message from sipp's ``-trace_msg`` file."""

    direction: str  # "sent" (by sipp) or "received" (by sipp, i.e. sent by the daemon)
    transport: str  # "UDP", "TCP"
    stamp: str

    def __str__(self) -> str:
        return f"[{self.direction} {self.transport} {self.stamp}]\n{super().__str__()}"


def parse_message_trace(text: str) -> list[TracedMessage]:
    """Split a ``-trace_msg`` file into messages (sipp writes them with LF line ends)."""
    entries = list(_ENTRY_RE.finditer(text))
    messages: list[TracedMessage] = []
    for i, entry in enumerate(entries):
        end = entries[i + 1].start() if i + 1 < len(entries) else len(text)
        raw = text[entry.end() : end].replace("\r\n", "\n").strip("\n") + "\n\n"
        message = parse(raw.replace("\n", "\r\n").encode("utf-8", "replace"))
        messages.append(
            TracedMessage(
                start_line=message.start_line,
                headers=message.headers,
                body=message.body,
                raw=message.raw,
                direction=entry.group("dir"),
                transport=entry.group("transport"),
                stamp=entry.group("stamp"),
            )
        )
    return messages


@dataclass
class SippResult:
    """What a finished sipp run left behind. ``returncode`` is sipp's exit status: 0 every call
    succeeded, 1 at least one failed, 99 no call was processed, 255 a fatal error."""

    returncode: int
    command: list[str]
    workdir: Path
    local_port: int
    stdout: str
    messages: list[TracedMessage]
    errors: str
    logs: str

    @property
    def received(self) -> list[TracedMessage]:
        """Messages sipp received, i.e. what the daemon sent."""
        return [m for m in self.messages if m.direction == "received"]

    @property
    def responses(self) -> list[TracedMessage]:
        return [m for m in self.received if m.status is not None]

    @property
    def statuses(self) -> list[int]:
        return [m.status for m in self.responses if m.status is not None]

    def log_value(self, label: str) -> str:
        """What the scenario logged after ``label`` (``<log message="label [$var]"/>`` writes
        ``label value``); the last such line."""
        found = re.findall(r"^" + re.escape(label) + r" (.*)$", self.logs, re.MULTILINE)
        if not found:
            raise AssertionError(f"no {label!r} in the sipp logs:\n{self.logs}")
        return str(found[-1]).strip()

    def explain(self) -> str:
        """Everything useful when a test fails: the command, status, errors and messages."""
        trace = "\n".join(str(m) for m in self.messages)
        tail = "\n".join(self.stdout.splitlines()[-25:])
        return (
            f"sipp exit status {self.returncode}: {' '.join(self.command)}\n"
            f"--- errors ---\n{self.errors}\n--- messages ---\n{trace}\n"
            f"--- screen ---\n{tail}"
        )


@dataclass
class SippRun:
    """A sipp started with :func:`start_sipp`; :meth:`wait` turns it into a result."""

    proc: subprocess.Popen[bytes]
    command: list[str]
    workdir: Path
    local_port: int
    timeout: float
    files: dict[str, Path] = field(default_factory=dict)

    def wait(self) -> SippResult:
        try:
            self.proc.wait(self.timeout + 10.0)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        return self._result()

    def _result(self) -> SippResult:
        def read(key: str) -> str:
            path = self.files[key]
            return path.read_text(errors="replace") if path.exists() else ""

        return SippResult(
            returncode=int(self.proc.returncode),
            command=self.command,
            workdir=self.workdir,
            local_port=self.local_port,
            stdout=read("stdout"),
            messages=parse_message_trace(read("messages")),
            errors=read("errors"),
            logs=read("logs"),
        )


def start_sipp(
    scenario: str,
    target: tuple[str, int],
    *,
    workdir: Path,
    transport: str = "u1",
    local_ip: str = "127.0.0.1",
    local_port: int | None = None,
    service: str | None = None,
    auth_user: str | None = None,
    password: str | None = None,
    keys: Mapping[str, str] | None = None,
    calls: int = 1,
    rate: float | None = None,
    timeout: float = 10.0,
    extra: Sequence[str] = (),
) -> SippRun:
    """Start sipp with ``contrib/sipp/<scenario>`` (or a path) against ``target``, in
    ``workdir`` (its traces stay there).

    ``transport`` is sipp's ``-t`` (``u1`` or ``t1``), ``local_ip``/``local_port`` where sipp
    binds (default: a free port), ``service`` the user part (``-s``), ``auth_user``/``password``
    the digest credentials (``-au``/``-ap``), ``keys`` ``-key name value`` pairs, ``calls`` and
    ``rate`` sipp's ``-m`` and ``-r``, ``timeout`` its global timeout in seconds (a run that hits
    it fails), ``extra`` more arguments. Skips the test when sipp is not installed.
    """
    if SIPP is None:
        pytest.skip("sipp is not installed (Debian package sip-tester)")
    path = Path(scenario) if "/" in scenario else SCENARIOS / scenario
    workdir.mkdir(parents=True, exist_ok=True)
    if local_port is None:
        local_port = free_port(local_ip, tcp=transport.startswith("t"))
    files = {
        "stdout": workdir / "screen.txt",
        "messages": workdir / "messages.log",
        "errors": workdir / "errors.log",
        "logs": workdir / "logs.log",
    }
    host, port = target
    command = [
        SIPP,
        f"{bracket(host)}:{port}",
        "-sf", str(path),
        "-t", transport,
        "-i", local_ip, "-mi", local_ip, "-bind_local",
        "-p", str(local_port),
        "-m", str(calls),
        "-nostdin",
        "-timeout", f"{timeout}s", "-timeout_error",
        "-trace_msg", "-message_file", str(files["messages"]),
        "-trace_err", "-error_file", str(files["errors"]),
        "-trace_logs", "-log_file", str(files["logs"]),
    ]  # fmt: skip
    if rate is not None:
        command += ["-r", str(rate)]
    if service is not None:
        command += ["-s", service]
    if auth_user is not None:
        command += ["-au", auth_user]
    if password is not None:
        command += ["-ap", password]
    for key, value in (keys or {}).items():
        command += ["-key", key, value]
    command += list(extra)
    with files["stdout"].open("wb") as out:
        proc = subprocess.Popen(
            command, cwd=workdir, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
        )
    return SippRun(proc, command, workdir, local_port, timeout, files)


def _to_the_end(start: Callable[P, SippRun]) -> Callable[P, SippResult]:
    def run(*args: P.args, **kwargs: P.kwargs) -> SippResult:
        return start(*args, **kwargs).wait()

    run.__doc__ = "Like :func:`start_sipp`, but runs the scenario to its end: a SippResult."
    return run


#: Run a scenario to its end and return the :class:`SippResult` (never raises on a sipp
#: failure; assert on ``returncode`` with ``result.explain()`` as the message).
run_sipp = _to_the_end(start_sipp)


def wait_until(predicate: Callable[[], object], timeout: float, interval: float = 0.02) -> bool:
    """Poll ``predicate`` until it returns something true or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
