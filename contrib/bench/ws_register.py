"""Benchmark a real pbx with many browsers-like WebSocket clients (issue 3).

    .venv/bin/python contrib/bench/ws_register.py [-n 5000] [--idle-seconds 30] [--json FILE]

A pbx started here (``test/e2e/webrtc/ws_daemon.py``: http.conf on a free loopback port, one
``transport=ws,wss`` peer per connection) is loaded by ``-n`` concurrent WebSocket connections
from this process: asyncio streams + wsproto, subprotocol ``sip``, each registering like JsSIP
does (``Via: SIP/2.0/WS x.invalid``, ``+sip.instance``/``reg-id``, Contact
``;transport=ws``) with MD5 digest computed here (RFC 2617 §3.2.2; pbx sends no ``qop``). Every
connection answers the server's pings, as a browser does. Phases:

1. connect + register: all connections opened ``--concurrency`` at a time, each doing
   REGISTER / 401 / REGISTER / 200; REGISTER/s counts the 200s over the phase's wall time;
2. refresh: every connection re-REGISTERs on its open socket with the nonce it has (a stale
   nonce costs one more 401 round, counted);
3. idle: ``--idle-seconds`` with all connections registered and only pings flowing; the
   daemon's CPU (utime+stime from /proc) over that time, RSS sampled every few seconds;
4. refresh again, RSS after it (memory must stay flat: compared with after phase 1);
5. churn: ``--churn`` connections closed and reopened (new connection, new REGISTER); then
   ``http show status`` must count exactly the open WebSockets and no leftover HTTP session;
6. close all; the bindings must be gone without waiting for expiry.

RSS per connection = (RSS after phase 1 - RSS with no connection) / n. The file descriptor
limit of this process is raised to its hard limit (``resource.setrlimit``) before the daemon is
started, so the daemon inherits it. Prints a summary (and JSON with ``--json``); exits 0 (a
benchmark, not a test) unless the run itself broke. Aim (issue 3): 5,000 idle registered
WebSocket connections on one core with flat memory.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import re
import resource
import secrets
import shutil
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

from wsproto import WSConnection
from wsproto.connection import ConnectionType
from wsproto.events import (
    AcceptConnection,
    CloseConnection,
    Ping,
    RejectConnection,
    Request,
    TextMessage,
)

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from test.e2e.webrtc.ws_daemon import WsDaemon  # noqa: E402
from test.integration.daemon import Options  # noqa: E402

REALM = "pbx-bench"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
TIMEOUT = 30.0
CHALLENGE_RE = re.compile(r'(\w+)=(?:"([^"]*)"|([^\s,]+))')


def user_name(i: int) -> str:
    return f"ws{i:05d}"


def password(i: int) -> str:
    return f"pw-{i:05d}"


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def digest_authorization(
    user: str, secret: str, challenge: str, uri: str, nc: int
) -> tuple[str, int]:
    """The Authorization value answering ``challenge`` (RFC 2617 §3.2.2); and the next nc."""
    params = {
        m.group(1).lower(): m.group(2) or m.group(3) for m in CHALLENGE_RE.finditer(challenge)
    }
    realm, nonce = params["realm"], params["nonce"]
    ha1 = md5(f"{user}:{realm}:{secret}")
    ha2 = md5(f"REGISTER:{uri}")
    value = f'Digest username="{user}", realm="{realm}", nonce="{nonce}", uri="{uri}"'
    if "auth" in (params.get("qop") or "").split(","):
        cnonce = secrets.token_hex(8)
        response = md5(f"{ha1}:{nonce}:{nc:08x}:{cnonce}:auth:{ha2}")
        value += f', qop=auth, nc={nc:08x}, cnonce="{cnonce}"'
    else:
        response = md5(f"{ha1}:{nonce}:{ha2}")
    return value + f', response="{response}", algorithm=MD5', nc + 1


class BenchError(Exception):
    """The run broke (a connection refused, a REGISTER not answered in time)."""


class WsPhone:
    """One WebSocket connection that registers one peer, as JsSIP does over ws://."""

    def __init__(self, index: int, host: str, port: int) -> None:
        self.index = index
        self.user = user_name(index)
        self.secret = password(index)
        self.host = host
        self.port = port
        self.domain = host
        self.uri = f"sip:{host}"
        self.token = secrets.token_hex(6)
        self.instance = f"<urn:uuid:{uuid.uuid4()}>"
        self.call_id = secrets.token_hex(11)
        self.tag = secrets.token_hex(5)
        self.cseq = 0
        self.nc = 1
        self.challenge: str | None = None
        self.registers = 0
        self.ws = WSConnection(ConnectionType.CLIENT)
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.responses: asyncio.Queue[str] = asyncio.Queue()
        self.accepted: asyncio.Future[bool] | None = None
        self.pump: asyncio.Task[None] | None = None
        self.closed = False

    async def connect(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.accepted = asyncio.get_running_loop().create_future()
        self.pump = asyncio.create_task(self._pump())
        self._send(
            self.ws.send(
                Request(host=f"{self.host}:{self.port}", target="/ws", subprotocols=["sip"])
            )
        )
        await asyncio.wait_for(self.accepted, TIMEOUT)

    def _send(self, data: bytes) -> None:
        if self.writer is not None and not self.writer.is_closing():
            self.writer.write(data)

    async def _pump(self) -> None:
        assert self.reader is not None and self.accepted is not None
        try:
            while True:
                data = await self.reader.read(65536)
                if not data:
                    break
                self.ws.receive_data(data)
                for event in self.ws.events():
                    if isinstance(event, AcceptConnection):
                        if event.subprotocol != "sip":
                            self.accepted.set_exception(BenchError("subprotocol not selected"))
                        else:
                            self.accepted.set_result(True)
                    elif isinstance(event, RejectConnection):
                        self.accepted.set_exception(
                            BenchError(f"handshake refused: {event.status_code}")
                        )
                    elif isinstance(event, TextMessage):
                        self.responses.put_nowait(event.data)
                    elif isinstance(event, Ping):
                        self._send(self.ws.send(event.response()))
                    elif isinstance(event, CloseConnection):
                        self.closed = True
                        return
        except (ConnectionError, OSError):
            pass
        finally:
            self.closed = True
            if not self.accepted.done():
                self.accepted.set_exception(BenchError("connection closed during handshake"))

    def _register_text(self, authorization: str | None, expires: int) -> str:
        self.cseq += 1
        lines = [
            f"REGISTER {self.uri} SIP/2.0",
            f"Via: SIP/2.0/WS {self.token}.invalid;branch=z9hG4bK{secrets.token_hex(8)}",
            "Max-Forwards: 69",
            f"To: <sip:{self.user}@{self.domain}>",
            f"From: <sip:{self.user}@{self.domain}>;tag={self.tag}",
            f"Call-ID: {self.call_id}",
            f"CSeq: {self.cseq} REGISTER",
            f"Contact: <sip:{self.token}@{self.token}.invalid;transport=ws>;+sip.ice;reg-id=1;"
            f'+sip.instance="{self.instance}";expires={expires}',
            f"Expires: {expires}",
        ]
        if authorization is not None:
            lines.append(f"Authorization: {authorization}")
        lines += [
            "Supported: path,gruu,outbound",
            "User-Agent: pbx-bench ws_register",
            "Content-Length: 0",
        ]
        return "\r\n".join(lines) + "\r\n\r\n"

    async def _transaction(self, authorization: str | None, expires: int) -> tuple[int, str]:
        self._send(self.ws.send(TextMessage(self._register_text(authorization, expires))))
        self.registers += 1
        want = f"CSeq: {self.cseq} REGISTER"
        while True:
            text = await asyncio.wait_for(self.responses.get(), TIMEOUT)
            if want in text:
                return int(text.split(" ", 2)[1]), text

    async def register(self, expires: int = 600) -> None:
        """REGISTER until 200: with the last challenge if there is one, answering new ones."""
        auth = None
        if self.challenge is not None:
            auth, self.nc = digest_authorization(
                self.user, self.secret, self.challenge, self.uri, self.nc
            )
        for _ in range(3):
            status, text = await self._transaction(auth, expires)
            if status == 200:
                return
            if status != 401:
                raise BenchError(f"{self.user}: REGISTER answered {status}")
            m = re.search(r"^WWW-Authenticate: *(.*?)\r$", text, re.M | re.I)
            if m is None:
                raise BenchError(f"{self.user}: 401 without WWW-Authenticate")
            self.challenge, self.nc = m.group(1), 1
            auth, self.nc = digest_authorization(
                self.user, self.secret, self.challenge, self.uri, self.nc
            )
        raise BenchError(f"{self.user}: REGISTER not accepted after 3 challenges")

    async def close(self) -> None:
        if self.writer is None:
            return
        try:
            self._send(self.ws.send(CloseConnection(1000)))
        except Exception:  # wsproto refuses once the server closed first
            pass
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except (ConnectionError, OSError):
            pass
        if self.pump is not None:
            self.pump.cancel()


@dataclass
class ProcSample:
    rss_kib: int
    cpu_seconds: float
    at: float


def sample(pid: int) -> ProcSample:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime (fields 14, 15)
    with open(f"/proc/{pid}/statm") as f:
        rss_pages = int(f.read().split()[1])
    return ProcSample(rss_pages * PAGE_SIZE // 1024, cpu, time.monotonic())


def cpu_percent(a: ProcSample, b: ProcSample) -> float:
    return 100.0 * (b.cpu_seconds - a.cpu_seconds) / (b.at - a.at)


def percentiles(values: list[float]) -> tuple[float, float, float]:
    if not values:
        return (0.0, 0.0, 0.0)
    ordered = sorted(values)
    return (
        ordered[len(ordered) // 2],
        ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))],
        ordered[-1],
    )


@dataclass
class Phase:
    name: str
    seconds: float
    registers_ok: int
    register_requests: int
    daemon_cpu_percent: float
    client_cpu_percent: float
    rss_kib_after: int
    handshake_ms: tuple[float, float, float]  # p50, p95, max: TCP connect + WebSocket 101
    register_ms: tuple[float, float, float]  # p50, p95, max: until the 200 (401 round included)

    @property
    def rate(self) -> float:
        return self.registers_ok / self.seconds if self.seconds else 0.0


@dataclass
class Report:
    connections: int
    fd_limit: int
    rss_kib_empty: int
    rss_kib_registered: int
    rss_kib_per_connection: float
    phases: list[Phase] = field(default_factory=list)
    idle_seconds: float = 0.0
    idle_cpu_percent: float = 0.0
    idle_rss_kib: list[int] = field(default_factory=list)
    rss_drift_kib: int = 0
    churned: int = 0
    status_after_churn: str = ""
    websockets_counted_after_churn: int = -1
    http_sessions_after_churn: int = -1
    bindings_held: int = 0
    bindings_after_close: int = -1
    close_seconds: float = 0.0
    problems: list[str] = field(default_factory=list)


def raise_fd_limit(wanted: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, wanted)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    if target < wanted:
        print(f"warning: fd hard limit {hard} < {wanted} needed", file=sys.stderr)
    return target


async def run_phase(
    name: str, daemon: WsDaemon, phones: list[WsPhone], concurrency: int, connect: bool
) -> Phase:
    gate = asyncio.Semaphore(concurrency)
    before_requests = sum(p.registers for p in phones)

    handshake_ms: list[float] = []
    register_ms: list[float] = []

    async def one(phone: WsPhone) -> None:
        async with gate:
            t0 = time.monotonic()
            if connect:
                await phone.connect()
                handshake_ms.append((time.monotonic() - t0) * 1000)
            t1 = time.monotonic()
            await phone.register()
            register_ms.append((time.monotonic() - t1) * 1000)

    start, client_start = sample(daemon.pid), sample(os.getpid())
    began = time.monotonic()
    results = await asyncio.gather(*(one(p) for p in phones), return_exceptions=True)
    seconds = time.monotonic() - began
    end, client_end = sample(daemon.pid), sample(os.getpid())
    errors = [r for r in results if isinstance(r, BaseException)]
    if errors:
        raise BenchError(f"{name}: {len(errors)} of {len(phones)} failed, e.g. {errors[0]!r}")
    return Phase(
        name,
        seconds,
        len(phones),
        sum(p.registers for p in phones) - before_requests,
        cpu_percent(start, end),
        cpu_percent(client_start, client_end),
        end.rss_kib,
        percentiles(handshake_ms),
        percentiles(register_ms),
    )


def registered_count(daemon: WsDaemon) -> int:
    last = daemon.cli("sip show registry").strip().splitlines()[-1]
    m = re.fullmatch(r"(\d+) SIP registrations\.", last)
    if m is None:
        raise BenchError(f"unexpected sip show registry footer: {last!r}")
    return int(m.group(1))


def http_counts(daemon: WsDaemon) -> tuple[str, int, int]:
    line = daemon.cli("http show status").strip().splitlines()[-1]
    m = re.search(r"Open HTTP sessions: (-?\d+) .*WebSocket connections: (-?\d+)", line)
    if m is None:
        raise BenchError(f"unexpected http show status: {line!r}")
    return line, int(m.group(1)), int(m.group(2))


async def bench(args: argparse.Namespace, daemon: WsDaemon, report: Report) -> None:
    host = daemon.connect_host
    phones = [WsPhone(i, host, daemon.ws_port) for i in range(args.connections)]
    report.phases.append(
        await run_phase("connect+register", daemon, phones, args.concurrency, connect=True)
    )
    registered = sample(daemon.pid)
    report.rss_kib_registered = registered.rss_kib
    report.rss_kib_per_connection = (registered.rss_kib - report.rss_kib_empty) / args.connections
    report.bindings_held = registered_count(daemon)
    if report.bindings_held != args.connections:
        report.problems.append(f"{report.bindings_held} bindings for {args.connections} phones")
    report.phases.append(await run_phase("refresh", daemon, phones, args.concurrency, False))

    idle_start = sample(daemon.pid)
    report.idle_rss_kib.append(idle_start.rss_kib)
    deadline = idle_start.at + args.idle_seconds
    while time.monotonic() < deadline:
        await asyncio.sleep(min(5.0, max(0.0, deadline - time.monotonic())))
        report.idle_rss_kib.append(sample(daemon.pid).rss_kib)
    idle_end = sample(daemon.pid)
    report.idle_seconds = idle_end.at - idle_start.at
    report.idle_cpu_percent = cpu_percent(idle_start, idle_end)
    dropped = sum(p.closed for p in phones)
    if dropped:
        raise BenchError(f"{dropped} connections were closed by the daemon while idle")

    refresh2 = await run_phase("refresh after idle", daemon, phones, args.concurrency, False)
    report.phases.append(refresh2)
    report.rss_drift_kib = refresh2.rss_kib_after - report.rss_kib_registered

    churn = min(args.churn, len(phones))
    if churn:
        victims = phones[:churn]
        await asyncio.gather(*(p.close() for p in victims))
        fresh = [WsPhone(p.index, host, daemon.ws_port) for p in victims]
        phones[:churn] = fresh
        report.phases.append(
            await run_phase("churn reconnect", daemon, fresh, args.concurrency, connect=True)
        )
        report.churned = churn
        await asyncio.sleep(0.5)
        line, sessions, websockets = http_counts(daemon)
        report.status_after_churn = line
        report.http_sessions_after_churn = sessions
        report.websockets_counted_after_churn = websockets
        if (sessions, websockets) != (0, len(phones)):
            report.problems.append(
                f"after churn pbx counts {sessions} HTTP sessions and "
                f"{websockets} WebSockets; expected 0 and {len(phones)}"
            )

    began = time.monotonic()
    await asyncio.gather(*(p.close() for p in phones))
    while time.monotonic() - began < 30 and registered_count(daemon) > 0:
        await asyncio.sleep(0.2)
    report.close_seconds = time.monotonic() - began
    report.bindings_after_close = registered_count(daemon)
    if report.bindings_after_close:
        report.problems.append(f"{report.bindings_after_close} bindings left after closing all")


def print_report(report: Report) -> None:
    print(
        f"\nWebSocket registration benchmark: {report.connections} connections "
        f"(fd limit {report.fd_limit})"
    )
    print("REGISTER/s counts completed registrations (200s); requests/s every REGISTER sent")
    print(
        f"{'phase':<20} {'seconds':>8} {'REGISTER/s':>11} {'requests/s':>11} {'pbx CPU':>8}"
        f" {'bench CPU':>10} {'pbx RSS MiB':>12}"
    )
    for ph in report.phases:
        print(
            f"{ph.name:<20} {ph.seconds:8.2f} {ph.rate:11.0f}"
            f" {ph.register_requests / ph.seconds:11.0f} {ph.daemon_cpu_percent:7.0f}%"
            f" {ph.client_cpu_percent:9.0f}% {ph.rss_kib_after / 1024:12.1f}"
        )
    print("latency ms (p50 / p95 / max):")
    for ph in report.phases:
        hs = " / ".join(f"{v:.0f}" for v in ph.handshake_ms)
        reg = " / ".join(f"{v:.0f}" for v in ph.register_ms)
        print(f"  {ph.name:<20} handshake {hs if any(ph.handshake_ms) else '-':<18} REGISTER {reg}")
    print(f"bindings held: {report.bindings_held}")
    print(
        f"RSS empty {report.rss_kib_empty / 1024:.1f} MiB, registered "
        f"{report.rss_kib_registered / 1024:.1f} MiB: "
        f"{report.rss_kib_per_connection:.1f} KiB per connection"
    )
    samples = ", ".join(f"{k / 1024:.1f}" for k in report.idle_rss_kib)
    print(
        f"idle {report.idle_seconds:.0f} s: daemon CPU {report.idle_cpu_percent:.1f} % of a "
        f"core; RSS MiB {samples}"
    )
    print(f"RSS drift registered -> after idle + refresh: {report.rss_drift_kib / 1024:+.1f} MiB")
    if report.churned:
        print(f"churn {report.churned}: {report.status_after_churn}")
    print(
        f"closed all: bindings left {report.bindings_after_close} "
        f"after {report.close_seconds:.1f} s"
    )


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", "--connections", type=int, default=1000)
    parser.add_argument(
        "--concurrency",
        type=int,
        default=50,
        help="handshakes/REGISTERs in flight at once (pbx listens with backlog 50)",
    )
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    parser.add_argument(
        "--churn", type=int, default=200, help="connections closed and reopened at the end"
    )
    parser.add_argument(
        "--keep-alive-ms",
        type=int,
        default=15000,
        help="http.conf session_keep_alive (pings every half of it)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    parser.add_argument("--keep", action="store_true", help="keep the daemon's directory")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    fd_limit = raise_fd_limit(args.connections + 1024)
    root = Path(tempfile.mkdtemp(prefix="pbx-bench-ws-"))
    peers: dict[str, Options] = {
        user_name(i): {"secret": password(i), "transport": "ws,wss", "webrtc": "yes"}
        for i in range(args.connections)
    }
    daemon = WsDaemon(
        root / "pbx",
        peers,
        {"realm": REALM},
        http={
            "sessionlimit": max(100, args.concurrency * 2),
            "session_keep_alive": args.keep_alive_ms,
        },
        tls_http=False,
        tcp=False,
        debug_log=False,
    )
    print(f"starting pbx with {args.connections} peers in {root} ...", file=sys.stderr)
    daemon.start()
    try:
        time.sleep(1.0)  # let boot-time work settle before the empty sample
        report = Report(args.connections, fd_limit, sample(daemon.pid).rss_kib, 0, 0.0)
        asyncio.run(bench(args, daemon, report))
    except BenchError as e:
        print(f"benchmark failed: {e}\n{daemon.describe()}", file=sys.stderr)
        return 1
    finally:
        daemon.close()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    print_report(report)
    if args.json:
        data = asdict(report)
        for phase, ph in zip(data["phases"], report.phases, strict=True):
            phase["register_per_second"] = ph.rate
        args.json.write_text(json.dumps(data, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
