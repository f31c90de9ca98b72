"""Python side of the browser-phone harness (harness.mjs): what pytest e2e tests import.

``BrowserHarness`` starts ``node harness.mjs`` (one headless Chromium, one page per phone,
JsSIP or SIP.js in each), sends it JSON-line commands and returns their answers as dicts,
raising ``HarnessError`` when the harness answers ``ok: false`` and ``HarnessTimeout`` when it
does not answer in time. The command protocol is documented at the top of harness.mjs and in
README.md beside this file. ``npm install`` is not run here: ``make npmdeps`` does it.

Commands are answered out of order, so a test can start one and wait for it later::

    with BrowserHarness() as h:
        h.open("a", lib="jssip", uri="sip:alice@127.0.0.1", password="pw", ws_url=url)
        pending = h.start("call", phone="a", target="bob")
        h.answer("b")
        assert pending.result(timeout=15)["state"] == "confirmed"

On exit the harness is asked to quit; if it does not, its whole process tree (node and every
Chromium process under it) is killed.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import subprocess
import threading
import time
from collections import deque
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from types import TracebackType
from typing import Any

HERE = Path(__file__).resolve().parent
HARNESS = HERE / "harness.mjs"
NODE_MODULES = HERE / "node_modules"
CHROMIUM = "/usr/bin/chromium"
REQUIRED_PACKAGES = ("playwright-core", "jssip", "sip.js", "esbuild")

# Seconds to wait for an answer, per command; the page's own timeouts are shorter, so a slow
# peer is reported by the harness with a reason rather than by this side timing out.
DEFAULT_TIMEOUTS: dict[str, float] = {
    "open": 30.0,
    "register": 15.0,
    "unregister": 15.0,
    "call": 20.0,
    "answer": 20.0,
    "wait_incoming": 20.0,
    "hangup": 15.0,
    "hold": 15.0,
    "unhold": 15.0,
    "restart_ice": 15.0,
    "loopback": 20.0,
}
FALLBACK_TIMEOUT = 10.0
STARTUP_TIMEOUT = 60.0
STDERR_LINES = 200

Result = dict[str, Any]


class HarnessError(Exception):
    """The harness answered ``ok: false`` or died; the message carries its reason."""


class HarnessTimeout(HarnessError):
    """No answer within the command's timeout."""


def missing_requirements(*, ca_trust: bool = False) -> str | None:
    """Why the browser harness cannot run here, or None if it can (for a skip reason).

    :param ca_trust: the test passes ``ca_pem``, which needs certutil (Debian libnss3-tools)
    """
    if ca_trust and shutil.which("certutil") is None:
        return "certutil not installed (Debian package libnss3-tools)"
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} not installed (Debian package chromium)"
    if shutil.which("node") is None:
        return "node not installed"
    for package in REQUIRED_PACKAGES:
        if not (NODE_MODULES / package / "package.json").exists():
            return f"{NODE_MODULES}/{package} missing: run `make npmdeps`"
    return None


class Pending:
    """A command sent to the harness whose answer has not been awaited yet."""

    def __init__(self, harness: BrowserHarness, cmd: str, future: Future[Result]) -> None:
        self._harness = harness
        self._future = future
        self.cmd = cmd

    def result(self, timeout: float | None = None) -> Result:
        """The answer; raises HarnessError on ``ok: false``, HarnessTimeout after timeout s."""
        if timeout is None:
            timeout = DEFAULT_TIMEOUTS.get(self.cmd, FALLBACK_TIMEOUT)
        try:
            answer = self._future.result(timeout)
        except FutureTimeout:
            raise HarnessTimeout(
                f"{self.cmd}: no answer within {timeout} s{self._harness.stderr_tail()}"
            ) from None
        if not answer.get("ok"):
            raise HarnessError(f"{self.cmd}: {answer.get('error')}")
        return answer


class BrowserHarness:
    """Context manager around one ``node harness.mjs`` process (one Chromium).

    :param strict_certs: verify TLS certificates (default: ignore errors, for self-signed PBXs)
    :param ca_pem: a CA certificate (PEM file) Chromium trusts, through an NSS database
    :param chromium: the browser executable (Debian's; the harness never downloads one)
    """

    def __init__(
        self,
        *,
        strict_certs: bool = False,
        ca_pem: str | os.PathLike[str] | None = None,
        chromium: str = CHROMIUM,
        node: str | None = None,
    ) -> None:
        self._argv = [node or shutil.which("node") or "node", str(HARNESS), "--chromium", chromium]
        if strict_certs:
            self._argv.append("--strict-certs")
        if ca_pem is not None:
            self._argv += ["--ca-pem", os.fspath(ca_pem)]
        self._proc: subprocess.Popen[str] | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, Future[Result]] = {}
        self._lock = threading.Lock()
        self._ready: Future[Result] = Future()
        self._stderr: deque[str] = deque(maxlen=STDERR_LINES)
        self._threads: list[threading.Thread] = []
        self.info: Result = {}
        self.started_in: float = 0.0

    # --- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> BrowserHarness:
        begin = time.perf_counter()
        self._proc = subprocess.Popen(
            self._argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
            start_new_session=True,
        )
        for target in (self._read_stdout, self._read_stderr):
            thread = threading.Thread(target=target, daemon=True)
            thread.start()
            self._threads.append(thread)
        try:
            self.info = self._ready.result(STARTUP_TIMEOUT)
        except FutureTimeout:
            self._kill()
            raise HarnessTimeout(f"harness not ready in {STARTUP_TIMEOUT} s") from None
        except BaseException:
            self._kill()
            raise
        self.started_in = time.perf_counter() - begin
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Asks the harness to quit, then kills whatever of its process tree is left."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            try:
                self.start("quit").result(5.0)
                proc.wait(10.0)
            except (HarnessError, OSError, subprocess.TimeoutExpired):
                pass
        self._kill()
        self._proc = None

    def _kill(self) -> None:
        proc = self._proc
        if proc is None:
            return
        # Playwright starts Chromium in a process group of its own, so killing node's group
        # is not enough: collect every descendant first.
        victims = [proc.pid, *_descendants(proc.pid)]
        for pid in victims:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.wait()
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()

    # --- I/O -------------------------------------------------------------------------------

    def _read_stdout(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        for line in self._proc.stdout:
            try:
                msg = json.loads(line)
            except json.JSONDecodeError:
                self._stderr.append(f"(stdout) {line.rstrip()}")
                continue
            if msg.get("event") == "ready":
                self._ready.set_result(msg)
            elif msg.get("event") == "fatal":
                self._fail_all(f"harness fatal error: {msg.get('error')}")
            else:
                with self._lock:
                    future = self._pending.pop(msg.get("id"), None)
                if future is not None:
                    future.set_result(msg)
        self._fail_all(f"harness exited{self.stderr_tail()}")

    def _read_stderr(self) -> None:
        assert self._proc is not None and self._proc.stderr is not None
        for line in self._proc.stderr:
            self._stderr.append(line.rstrip())

    def _fail_all(self, reason: str) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
        if not self._ready.done():
            self._ready.set_exception(HarnessError(reason))
        for future in pending.values():
            if not future.done():
                future.set_exception(HarnessError(reason))

    def stderr_tail(self, lines: int = 20) -> str:
        """The harness's last stderr lines, prefixed by a newline (empty if none)."""
        tail = list(self._stderr)[-lines:]
        return "\n" + "\n".join(tail) if tail else ""

    # --- commands --------------------------------------------------------------------------

    def start(self, cmd: str, **args: Any) -> Pending:
        """Sends a command without waiting; ``.result()`` waits for its answer."""
        proc = self._proc
        if proc is None or proc.stdin is None or proc.poll() is not None:
            raise HarnessError(f"{cmd}: harness is not running{self.stderr_tail()}")
        ident = next(self._ids)
        future: Future[Result] = Future()
        with self._lock:
            self._pending[ident] = future
        line = json.dumps({"id": ident, "cmd": cmd, **args})
        try:
            proc.stdin.write(line + "\n")
            proc.stdin.flush()
        except OSError as e:
            with self._lock:
                self._pending.pop(ident, None)
            raise HarnessError(f"{cmd}: cannot write to harness: {e}") from e
        return Pending(self, cmd, future)

    def command(self, cmd: str, timeout: float | None = None, **args: Any) -> Result:
        """Sends a command and waits for its answer (raises on ``ok: false``)."""
        return self.start(cmd, **args).result(timeout)

    def open(
        self,
        phone: str,
        *,
        lib: str,
        uri: str,
        ws_url: str,
        password: str = "",
        tone_hz: float = 440.0,
        display_name: str | None = None,
        auth_user: str | None = None,
        auto_answer: bool = False,
        expires: int = 600,
    ) -> Result:
        """A new phone (page); its UA is created, not started. ``lib``: jssip or sipjs."""
        args: dict[str, Any] = {
            "phone": phone,
            "lib": lib,
            "uri": uri,
            "ws_url": ws_url,
            "password": password,
            "tone_hz": tone_hz,
            "auto_answer": auto_answer,
            "expires": expires,
        }
        if display_name is not None:
            args["display_name"] = display_name
        if auth_user is not None:
            args["auth_user"] = auth_user
        return self.command("open", **args)

    def register(self, phone: str, timeout: float | None = None) -> Result:
        """``{registered, status_code, cause}``; a refused REGISTER is a result, not an error."""
        return self.command("register", timeout, phone=phone)

    def unregister(self, phone: str, timeout: float | None = None) -> Result:
        return self.command("unregister", timeout, phone=phone)

    def close_phone(self, phone: str) -> Result:
        """Closes the page: the WebSocket drops without an un-REGISTER."""
        return self.command("close", phone=phone)

    def call(self, phone: str, target: str, timeout: float | None = None) -> Result:
        """``{state: confirmed|failed|ended, status_code, cause, originator}``."""
        return self.command("call", timeout, phone=phone, target=target)

    def wait_incoming(self, phone: str, timeout: float | None = None) -> Result:
        return self.command("wait_incoming", timeout, phone=phone)

    def answer(self, phone: str, timeout: float | None = None) -> Result:
        return self.command("answer", timeout, phone=phone)

    def reject(self, phone: str, status_code: int = 486) -> Result:
        return self.command("reject", phone=phone, status_code=status_code)

    def hangup(self, phone: str, timeout: float | None = None) -> Result:
        return self.command("hangup", timeout, phone=phone)

    def hold(self, phone: str, timeout: float | None = None) -> Result:
        return self.command("hold", timeout, phone=phone)

    def unhold(self, phone: str, timeout: float | None = None) -> Result:
        return self.command("unhold", timeout, phone=phone)

    def restart_ice(self, phone: str, timeout: float | None = None) -> Result:
        """A re-INVITE whose offer restarts ICE (new ufrag/pwd, RFC 8445 §9)."""
        return self.command("restart_ice", timeout, phone=phone)

    def audio(self, phone: str, ms: int = 1000) -> Result:
        """Dominant received frequency: ``{freq_hz, level_db, rms_dbfs, bin_hz, ...}``."""
        return self.command("audio", ms / 1000 + FALLBACK_TIMEOUT, phone=phone, ms=ms)

    def stats(self, phone: str) -> Result:
        return self.command("stats", phone=phone)

    def events(self, phone: str, clear: bool = False) -> Result:
        """``{events, frames, console, errors}`` seen by the phone so far."""
        return self.command("events", phone=phone, clear=clear)

    def loopback(self, phone: str) -> Result:
        return self.command("loopback", phone=phone)


def _descendants(pid: int) -> list[int]:
    """Every live descendant of pid, read from /proc (children before their own children)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may contain spaces and parentheses.
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found
