"""A real desk phone for end-to-end tests: Debian's baresip 1.0.0, headless, one per phone.

:class:`Baresip` writes a private configuration directory, starts ``baresip -f <dir> -s`` with
only the modules a desk phone needs, and drives it the way a person at the phone would:

* the microphone is ``aufile`` playing a tone WAV (:func:`~test.e2e.deskphone.tones.write_tone_wav`,
  16-bit mono 8 kHz, longer than any test call: at its end baresip stops sending);
* what the phone receives is recorded by the ``sndfile`` audio filter, which in 1.0.0 writes
  every decoded frame to ``snd_path/dump-<time>-dec.wav`` (and what it sends to ``-enc.wav``).
  It only writes frames that arrived, so a silent far end gives a short file, not zeros. It
  builds that name in a 128-byte buffer and silently truncates it, so ``snd_path`` is a short
  directory under the system temp dir; :meth:`Baresip.close` moves the files into the work
  directory. The name has one-second resolution: one call per phone per second. The
  loudspeaker is ALSA's ``null`` device;
* commands and events go over ``ctrl_tcp`` (netstring-framed JSON, ``{"command", "params",
  "token"}`` in, ``{"response": true, "ok", "data", "token"}`` and ``{"event": true, "type",
  "param", ...}`` out). A reader thread keeps every event, so none is lost between commands;
* the account is created with the menu's ``uanew`` command (the line is accounts-file syntax),
  so the registration starts when :meth:`Baresip.register` asks for it, after the event
  connection is up, rather than racing it at start-up;
* DTMF: baresip 1.0.0 sends RFC 4733 events only from the menu's *key* commands (``0``-``9``,
  ``*``, ``#``, then key release ``0x04``), which have no long name and so cannot be reached
  through ``ctrl_tcp``. :meth:`Baresip.send_dtmf` types them into the ``cons`` module's TCP
  console, which feeds keys to the same menu;
* ``-s`` prints every SIP message; :meth:`Baresip.sip_trace` parses them back from the log.

Everything is on loopback (``net_interface 127.0.0.1``, ``dns_server 127.0.0.1:53``, control
ports from :func:`test.integration.daemon.free_port`). Only the process this object started is
ever signalled, by its PID: SIGTERM (baresip unregisters and exits), SIGKILL if it lingers.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from test.e2e.deskphone.tones import write_tone_wav
from test.integration.daemon import bracket, free_port
from test.integration.sipua import SipMessage, parse

BARESIP = shutil.which("baresip")
MODULE_PATH = Path("/usr/lib/baresip/modules")
MODULES = ("g711", "aufile", "alsa", "sndfile", "srtp", "ctrl_tcp", "cons")
APP_MODULES = ("menu",)
START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0
EVENT_TIMEOUT = 10.0
#: sndfile's file name buffer is 128 bytes; "/dump-2026-11-26-17-33-43-dec.wav" takes 34.
MAX_SND_PATH = 90
#: baresip's key code for "key released" (``KEYCODE_REL`` in baresip.h): ends a DTMF digit.
KEY_RELEASE = b"\x04"


def missing_baresip() -> str | None:
    """Why baresip cannot run here, or None."""
    if BARESIP is None:
        return "baresip is not installed (Debian package baresip-core; `make sysdeps`)"
    absent = [m for m in (*MODULES, *APP_MODULES) if not (MODULE_PATH / f"{m}.so").exists()]
    if absent:
        return f"baresip modules missing from {MODULE_PATH}: {', '.join(absent)}"
    return None


class BaresipError(AssertionError):
    """baresip did not start, answer or reach the expected state (the message has its log)."""


@dataclass(frozen=True)
class BaresipEvent:
    """One ctrl_tcp event: ``type`` (``REGISTER_OK``, ``CALL_CLOSED`` ...), ``param`` (for
    ``CALL_CLOSED`` the reason, e.g. ``488 Not Acceptable Here``), the rest as sent."""

    type: str
    param: str
    fields: dict[str, Any]

    @property
    def call_id(self) -> str | None:
        value = self.fields.get("id")
        return str(value) if value is not None else None


@dataclass(frozen=True)
class TracedSip:
    """One SIP message from baresip's ``-s`` trace; ``sent`` is True for the phone's own."""

    sent: bool
    source: str
    destination: str
    message: SipMessage


# "\x1b[36;1m#\nUDP 127.0.0.1:35123 -> 127.0.0.1:51563\n<raw message>\x1b[;m"
_TRACE_RE = re.compile(
    rb"#\n(?P<transport>UDP|TCP|TLS) (?P<src>\S+) -> (?P<dst>\S+)\n(?P<raw>.*?)\x1b\[;m",
    re.DOTALL,
)


def _netstring(payload: bytes) -> bytes:
    return str(len(payload)).encode() + b":" + payload + b","


class Baresip:
    """One baresip process acting as the desk phone ``user`` of the PBX at ``registrar``.

    :param workdir: a fresh directory for its config, log and recordings.
    :param user: the SIP user (the PBX peer name). :param password: its secret.
    :param registrar: the PBX's UDP address.
    :param tone_hz: the frequency its microphone plays.
    :param codecs: baresip codec names it offers and accepts, in order (``PCMU``, ``PCMA``).
    :param srtp: ``mediaenc=srtp-mand``: SDES-SRTP (RTP/SAVP with ``a=crypto``) or no call.
    """

    def __init__(
        self,
        workdir: Path,
        *,
        user: str,
        password: str,
        registrar: tuple[str, int],
        tone_hz: float,
        codecs: Sequence[str] = ("PCMU", "PCMA"),
        srtp: bool = False,
    ) -> None:
        self.workdir = Path(workdir)
        self.user = user
        self.password = password
        self.registrar = registrar
        self.tone_hz = tone_hz
        self.codecs = tuple(codecs)
        self.srtp = srtp
        self.ctrl_port = 0
        self.cons_port = 0
        self.sip_port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self._sock: socket.socket | None = None
        self._reader: threading.Thread | None = None
        self._cond = threading.Condition()
        self._events: list[BaresipEvent] = []
        self._responses: dict[str, dict[str, Any]] = {}
        self._cursor = 0
        self._tokens = 0
        self._reader_error: str | None = None
        self._snd_tmp: Path | None = None

    # -- files -------------------------------------------------------------------------------
    @property
    def log_path(self) -> Path:
        """baresip's stdout and stderr, SIP trace included."""
        return self.workdir / "baresip.log"

    @property
    def snd_path(self) -> Path:
        """Where the recordings are kept (moved here from the short directory at close)."""
        return self.workdir / "snd"

    @property
    def tone_path(self) -> Path:
        return self.workdir / f"tone-{self.tone_hz:g}hz.wav"

    @property
    def aor(self) -> str:
        host, port = self.registrar
        return f"sip:{self.user}@{bracket(host)}:{port}"

    def account_line(self, register: bool = True) -> str:
        """The account in accounts-file syntax (what ``uanew`` takes); ``regint=0`` when it
        should not register."""
        params = [
            f"auth_pass={self.password}",
            f"regint={300 if register else 0}",
            "answermode=manual",
            f"audio_codecs={','.join(self.codecs)}",
            "ptime=20",
        ]
        if self.srtp:
            params.append("mediaenc=srtp-mand")
        return f"<{self.aor};transport=udp>;" + ";".join(params)

    def _config(self) -> str:
        lines = [
            "poll_method epoll",
            f"sip_listen 127.0.0.1:{self.sip_port}",
            "net_interface 127.0.0.1",
            "dns_server 127.0.0.1:53",
            "call_local_timeout 120",
            "call_max_calls 4",
            f"audio_source aufile,{self.tone_path}",
            "audio_player alsa,null",
            "audio_alert alsa,null",
            "audio_level no",
            "ausrc_srate 8000",
            "auplay_srate 8000",
            "ausrc_channels 1",
            "auplay_channels 1",
            "rtp_tos 0",
            "rtp_ports 40000-49998",
            "rtcp_mux no",
            "jitter_buffer_delay 1-10",
            "statmode_default off",
            f"module_path {MODULE_PATH}",
            *(f"module {m}.so" for m in MODULES),
            *(f"module_app {m}.so" for m in APP_MODULES),
            f"ctrl_tcp_listen 127.0.0.1:{self.ctrl_port}",
            f"cons_listen 127.0.0.1:{self.cons_port}",
            f"snd_path {self._snd_tmp}",
        ]
        return "\n".join(lines) + "\n"

    # -- life cycle --------------------------------------------------------------------------
    def start(self) -> None:
        """Write the config and tone, start baresip and connect to its ctrl_tcp port."""
        reason = missing_baresip()
        if reason is not None or BARESIP is None:
            raise BaresipError(reason or "baresip is not installed")
        if self.proc is not None:
            raise BaresipError("baresip already started")
        self.snd_path.mkdir(parents=True, exist_ok=True)
        self._snd_tmp = Path(tempfile.mkdtemp(prefix="baresip-snd-"))
        if len(str(self._snd_tmp)) > MAX_SND_PATH:
            raise BaresipError(f"temp dir {self._snd_tmp} is too long for baresip's sndfile")
        write_tone_wav(self.tone_path, self.tone_hz)
        self.ctrl_port = free_port("127.0.0.1", tcp=True)
        self.cons_port = free_port("127.0.0.1", tcp=True)
        self.sip_port = free_port("127.0.0.1", tcp=True)
        (self.workdir / "config").write_text(self._config())
        with self.log_path.open("wb") as out:
            self.proc = subprocess.Popen(
                [BARESIP, "-f", str(self.workdir), "-s"],
                cwd=self.workdir,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self._sock = self._connect(self.ctrl_port)
        self._sock.settimeout(None)  # the reader blocks; command() waits on the condition
        self._reader = threading.Thread(
            target=self._read_loop, name=f"baresip-{self.user}", daemon=True
        )
        self._reader.start()

    def _connect(self, port: int) -> socket.socket:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.proc is not None and self.proc.poll() is not None:
                raise BaresipError(f"baresip exited with {self.proc.returncode}\n{self.explain()}")
            try:
                return socket.create_connection(("127.0.0.1", port), timeout=1.0)
            except OSError:
                if time.monotonic() >= deadline:
                    raise BaresipError(
                        f"baresip did not open 127.0.0.1:{port} in {START_TIMEOUT} s\n"
                        f"{self.explain()}"
                    ) from None
                time.sleep(0.02)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def close(self) -> None:
        """SIGTERM (baresip unregisters, then exits), SIGKILL after ``STOP_TIMEOUT``. Safe to
        call twice."""
        proc = self.proc
        if proc is not None and proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(STOP_TIMEOUT)
        if self._sock is not None:
            try:
                self._sock.shutdown(socket.SHUT_RDWR)  # wakes the reader's recv()
            except OSError:
                pass  # already closed by baresip's exit
            self._sock.close()
            self._sock = None
        if self._reader is not None:
            self._reader.join(STOP_TIMEOUT)
            self._reader = None
        if self._snd_tmp is not None:
            for recording in self._snd_tmp.iterdir():
                shutil.move(recording, self.snd_path / recording.name)
            self._snd_tmp.rmdir()
            self._snd_tmp = None

    def __enter__(self) -> Baresip:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- ctrl_tcp ----------------------------------------------------------------------------
    def _read_loop(self) -> None:
        sock = self._sock
        buffer = b""
        try:
            while sock is not None:
                data = sock.recv(65536)
                if not data:
                    break
                buffer += data
                while True:
                    head, sep, rest = buffer.partition(b":")
                    if not sep or not head.isdigit():
                        break
                    size = int(head)
                    if len(rest) < size + 1:
                        break
                    if rest[size : size + 1] != b",":
                        raise ValueError(f"bad netstring from baresip: {buffer[:80]!r}")
                    self._dispatch(json.loads(rest[:size]))
                    buffer = rest[size + 1 :]
        except (OSError, ValueError) as e:
            with self._cond:
                self._reader_error = str(e)
        finally:
            with self._cond:
                self._reader_error = self._reader_error or "ctrl_tcp connection closed"
                self._cond.notify_all()

    def _dispatch(self, message: dict[str, Any]) -> None:
        with self._cond:
            if message.get("event"):
                self._events.append(
                    BaresipEvent(str(message.get("type")), str(message.get("param", "")), message)
                )
            elif message.get("response"):
                self._responses[str(message.get("token"))] = message
            self._cond.notify_all()

    def command(self, command: str, params: str = "", timeout: float = EVENT_TIMEOUT) -> str:
        """Run a baresip long command; returns its response text, raises if it failed."""
        if self._sock is None:
            raise BaresipError("baresip is not started")
        self._tokens += 1
        token = f"t{self._tokens}"
        request = {"command": command, "params": params, "token": token}
        self._sock.sendall(_netstring(json.dumps(request).encode()))
        with self._cond:
            answered = self._cond.wait_for(
                lambda: token in self._responses or self._reader_error is not None, timeout
            )
            response = self._responses.pop(token, None)
        if not answered or response is None:
            raise BaresipError(f"no answer to {command} {params!r}\n{self.explain()}")
        if not response.get("ok"):
            raise BaresipError(f"{command} {params!r} failed: {response.get('data')!r}")
        return str(response.get("data", ""))

    @property
    def events(self) -> list[BaresipEvent]:
        """Every event so far, oldest first."""
        with self._cond:
            return list(self._events)

    def wait_event(self, *types: str, timeout: float = EVENT_TIMEOUT) -> BaresipEvent:
        """The next event (after the ones already waited for) whose type is in ``types``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for index in range(self._cursor, len(self._events)):
                    if self._events[index].type in types:
                        self._cursor = index + 1
                        return self._events[index]
                left = deadline - time.monotonic()
                if left <= 0 or self._reader_error is not None:
                    break
                self._cond.wait(left)
        seen = ", ".join(f"{e.type}({e.param})" for e in self.events) or "none"
        raise BaresipError(
            f"{self.user}: no {'/'.join(types)} in {timeout} s (events: {seen})\n{self.explain()}"
        )

    # -- what a user does --------------------------------------------------------------------
    def register(self, timeout: float = EVENT_TIMEOUT) -> BaresipEvent:
        """Create the account (``uanew``) and wait until the PBX accepted its REGISTER."""
        self.command("uanew", self.account_line())
        event = self.wait_event("REGISTER_OK", "REGISTER_FAIL", timeout=timeout)
        if event.type != "REGISTER_OK":
            raise BaresipError(f"{self.user}: registration failed: {event.param}")
        return event

    def add_account(self) -> None:
        """Create the account without registering: for calls straight to another phone
        (``sip:<user>@127.0.0.1:<its sip_port>``), e.g. to check the harness without pbx."""
        self.command("uanew", self.account_line(register=False))

    def dial(self, uri: str) -> None:
        """Call ``uri`` (a full SIP URI); follow with :meth:`wait_established`."""
        self.command("dial", uri)

    def accept(self, timeout: float = EVENT_TIMEOUT) -> BaresipEvent:
        """Wait for an incoming call and answer it; returns its CALL_INCOMING event."""
        event = self.wait_event("CALL_INCOMING", "CALL_CLOSED", timeout=timeout)
        if event.type != "CALL_INCOMING":
            raise BaresipError(f"{self.user}: call closed before it rang: {event.param}")
        self.command("accept")
        return event

    def wait_established(self, timeout: float = EVENT_TIMEOUT) -> BaresipEvent:
        """Wait for CALL_ESTABLISHED; a CALL_CLOSED first raises with its reason."""
        event = self.wait_event("CALL_ESTABLISHED", "CALL_CLOSED", timeout=timeout)
        if event.type != "CALL_ESTABLISHED":
            raise BaresipError(f"{self.user}: call closed instead: {event.param}\n{self.explain()}")
        return event

    def wait_closed(self, timeout: float = EVENT_TIMEOUT) -> str:
        """Wait for CALL_CLOSED; returns its reason (``488 Not Acceptable Here``, ...)."""
        return self.wait_event("CALL_CLOSED", timeout=timeout).param

    def hangup(self, timeout: float = EVENT_TIMEOUT) -> str:
        """Hang up the current call and wait until it is closed; returns the reason."""
        self.command("hangup")
        return self.wait_closed(timeout)

    def send_dtmf(self, digits: str, duration: float = 0.12, gap: float = 0.12) -> None:
        """Press and release each digit on the keypad: baresip sends RFC 4733 events (start
        packets while held, three end packets on release)."""
        unknown = set(digits) - set("0123456789*#")
        if unknown:
            raise ValueError(f"not DTMF keys: {''.join(sorted(unknown))}")
        with socket.create_connection(("127.0.0.1", self.cons_port), timeout=2.0) as keys:
            for digit in digits:
                keys.sendall(digit.encode())
                time.sleep(duration)
                keys.sendall(KEY_RELEASE)
                time.sleep(gap)

    def received_digits(self) -> str:
        """The DTMF digits the phone received so far (its CALL_DTMF_START events)."""
        return "".join(e.param for e in self.events if e.type == "CALL_DTMF_START")

    # -- what the phone recorded -------------------------------------------------------------
    def _recording(self, direction: str) -> Path:
        folders = [self.snd_path] if self._snd_tmp is None else [self._snd_tmp, self.snd_path]
        files = [f for folder in folders for f in folder.glob(f"dump-*-{direction}.wav")]
        if not files:
            raise BaresipError(f"{self.user}: nothing recorded in {folders}\n{self.explain()}")
        return max(files, key=lambda p: p.stat().st_mtime)

    def received_audio(self) -> tuple[int, array[int]]:
        """(rate, samples) decoded from what the phone received in its latest call."""
        return read_recording(self._recording("dec"))

    def sent_audio(self) -> tuple[int, array[int]]:
        """(rate, samples) the phone encoded and sent in its latest call."""
        return read_recording(self._recording("enc"))

    # -- diagnostics -------------------------------------------------------------------------
    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def sip_trace(self) -> list[TracedSip]:
        """Every SIP message baresip sent or received so far, in order."""
        try:
            data = self.log_path.read_bytes()
        except OSError:
            return []
        host, port = self.registrar
        pbx = f"{host}:{port}"
        return [
            TracedSip(
                sent=m.group("dst").decode() == pbx,
                source=m.group("src").decode(),
                destination=m.group("dst").decode(),
                message=parse(m.group("raw")),
            )
            for m in _TRACE_RE.finditer(data)
        ]

    def received_responses(self, status: int | None = None) -> list[SipMessage]:
        """Responses the PBX sent to this phone (optionally only ``status``)."""
        return [
            t.message
            for t in self.sip_trace()
            if not t.sent
            and t.message.status is not None
            and (status is None or t.message.status == status)
        ]

    def explain(self, lines: int = 40) -> str:
        """The tail of baresip's log, for assertion messages."""
        tail = "\n".join(self.log().splitlines()[-lines:])
        return f"--- baresip {self.user} ({self.log_path}) ---\n{tail}\n--- end of baresip log ---"


def read_recording(path: Path) -> tuple[int, array[int]]:
    """Read a sndfile dump (16-bit PCM mono WAV). The data runs to the end of the file, which
    also works while the call is up and libsndfile has not yet fixed the sizes in the header."""
    data = path.read_bytes()
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise BaresipError(f"{path} is not a WAV file")
    offset = 12
    rate = 0
    while offset + 8 <= len(data):
        chunk, size = struct.unpack_from("<4sI", data, offset)
        body = offset + 8
        if chunk == b"fmt ":
            tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", data, body)
            if (tag, channels, bits) != (1, 1, 16):
                raise BaresipError(f"{path}: format {tag}, {channels} ch, {bits} bit")
        elif chunk == b"data":
            if rate == 0:
                raise BaresipError(f"{path}: data before fmt")
            pcm = data[body : len(data) - (len(data) - body) % 2]
            samples = array("h", pcm)
            if sys.byteorder != "little":
                samples.byteswap()
            return rate, samples
        offset = body + size + (size & 1)
    raise BaresipError(f"{path}: no data chunk")
