"""Benchmark a real pbx: calls per second through Dial, CPU per call, memory per call (issue 4).

    .venv/bin/python contrib/bench/call_rate.py [--rates 50,100,...] [--auth] [--no-cdr]

Signalling only, on loopback, with a pbx it starts itself (``test/integration/daemon.py``) and
Debian's sipp on both ends: each call is ``contrib/sipp/uac_call.xml`` (INVITE -> 100/180 -> 200
-> ACK -> BYE -> 200, no pause) from the peer ``caller`` to extension 2002, whose dialplan is
``Dial(SIP/callee,10)``; ``callee`` is one sipp with the built-in ``uas`` scenario (180 and 200 at
once, then waits for the BYE) that registered from the port it listens on. The caller peer has
no secret, so chan_sip semantics never challenge it (``--auth`` gives it one: every call then
has a 401 round, two INVITE transactions on the A leg). CDRs are on as shipped (Master.csv and
SQLite, each record fsync'd); ``--no-cdr`` writes ``cdr.conf`` ``enable=no`` to see their cost.

Phases:

1. warm-up: ``--warmup`` calls at 50/s (imports, caches, SQLite pages);
2. held calls: ``--held`` calls answered and kept up (``uac_call_wait_bye.xml``); VmRSS growth
   divided by their number is the memory of one call in progress (2 channels, 2 dialogs, a
   bridge and its RTP ports); then ``channel request hangup all``. Measured early, so that
   memory freed by earlier calls (kept by the allocator, reused) cannot hide it;
3. retention: ``--retention-calls`` (10,000) calls at ``--steady-rate`` in five chunks; VmRSS
   40 s after them is compared with VmRSS 40 s after the held calls (aim: within 5 %: nothing
   kept per completed call), and with the idle daemon's. The 40 s pass the 32 s for which pbx
   keeps an ended leg (late retransmissions). VmRSS after each chunk shows whether memory
   grows past the high-water mark of that 32 s window (freed memory stays with the process);
4. rate: steps of ``--step-seconds`` at each rate of ``--rates``; a step passes with under 1 %
   failed calls, sipp achieving at least 95 % of the rate, and post-dial delay (first INVITE
   sent -> 200 received, sipp ``-trace_rtt``) p95 <= 100 ms. The ramp stops after two failing
   steps. CPU per call is the daemon's utime+stime over the step divided by its calls.

It prints the figures and exits 0 (a benchmark, not a test; never gate CI on it). Aims of the
issue: >= 300 calls/s on one core with < 1 % failures and p95 post-dial delay <= 100 ms, <= 4 ms
of CPU per call, RSS after 10,000 calls within 5 %. Orientation: Asterisk 20 chan_sip ~150
calls/s (over one core), sippy B2BUA ~82 calls/s (one core, ~20 KiB kept per call ever made).
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from test.integration.daemon import Daemon, free_port  # noqa: E402
from test.integration.sipp_calls import desks, register_phone, udp_listening  # noqa: E402

SCENARIOS = REPO / "contrib" / "sipp"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
MAX_FAILED = 0.01
MIN_ACHIEVED = 0.95
P95_LIMIT_MS = 100.0
DIALPLAN = "[phones]\nexten => 2002,1,Dial(SIP/callee,10)\n same => n,Hangup()\n"
CALLER_SECRET = "caller-pw"
#: Seconds without calls before a memory reading: longer than pbx keeps an ended leg (32 s).
QUIET = 40.0


@dataclass
class Step:
    target: float
    calls: int
    ok: int
    failed: int
    retransmissions: int
    seconds: float
    cpu_seconds: float
    pdd_ms: list[float]

    @property
    def achieved(self) -> float:
        return self.ok / self.seconds if self.seconds > 0 else 0.0

    @property
    def failed_ratio(self) -> float:
        return self.failed / self.calls if self.calls else 1.0

    @property
    def cpu_ms_per_call(self) -> float:
        return self.cpu_seconds * 1000.0 / max(1, self.ok)

    @property
    def p95(self) -> float:
        return percentile(self.pdd_ms, 95)

    @property
    def passed(self) -> bool:
        return (
            self.failed_ratio < MAX_FAILED
            and self.achieved >= MIN_ACHIEVED * self.target
            and self.p95 <= P95_LIMIT_MS
        )


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return float(values[0])
    return float(statistics.quantiles(values, n=100, method="inclusive")[int(pct) - 1])


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime (man 5 proc)


def sipp() -> str:
    path = shutil.which("sipp")
    assert path is not None
    return path


def make_daemon(root: Path, auth: bool, cdr: bool) -> Daemon:
    caller: dict[str, str] = {"qualify": "no"}
    if auth:
        caller["secret"] = CALLER_SECRET
    peers = {"caller": caller, **desks("callee")}
    root.mkdir(parents=True, exist_ok=True)
    if not cdr:
        (root / "cdr.conf").write_text("[general]\nenable=no\n")
    # Production-like logging: notices and errors, no per-call verbose lines, no debug file.
    return Daemon(
        root, peers, debug_log=False, console_levels="notice,warning,error", dialplan=DIALPLAN
    )


def start_callee(daemon: Daemon, workdir: Path) -> subprocess.Popen[bytes]:
    """The callee phone: registers, then sipp's built-in UAS on the same port until killed."""
    # maxexpiry (3600 s): the whole run must fit in one registration.
    port = register_phone(daemon, workdir / "register", "callee", expires=3600)
    workdir.mkdir(parents=True, exist_ok=True)
    command = [
        sipp(), "-sn", "uas",
        "-i", "127.0.0.1", "-mi", "127.0.0.1", "-bind_local", "-p", str(port),
        "-nostdin", "-trace_err", "-error_file", str(workdir / "errors.log"),
    ]  # fmt: skip
    with (workdir / "screen.txt").open("wb") as out:
        proc = subprocess.Popen(
            command, cwd=workdir, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    deadline = time.monotonic() + 5.0
    while not udp_listening(port) and time.monotonic() < deadline:
        time.sleep(0.01)
    return proc


def start_callers(
    daemon: Daemon,
    workdir: Path,
    rate: float,
    calls: int,
    scenario: str = "uac_call.xml",
    pause_ms: int = 0,
) -> subprocess.Popen[bytes]:
    workdir.mkdir(parents=True)
    command = [
        sipp(), f"127.0.0.1:{daemon.udp_port}",
        "-sf", str(SCENARIOS / scenario), "-s", "2002", "-key", "caller", "caller",
        "-au", "caller", "-ap", CALLER_SECRET,
        "-i", "127.0.0.1", "-mi", "127.0.0.1", "-bind_local", "-p", str(free_port()),
        "-r", str(rate), "-m", str(calls), "-l", str(max(calls, 100)),
        "-d", str(pause_ms), "-recv_timeout", "10000",
        "-nostdin", "-timeout", f"{calls / rate + pause_ms / 1000 + 40:.0f}s",
        "-trace_rtt", "-rtt_freq", "1",
        "-trace_stat", "-fd", "1", "-stf", str(workdir / "stat.csv"),
        "-trace_err", "-error_file", str(workdir / "errors.log"),
    ]  # fmt: skip
    with (workdir / "screen.txt").open("wb") as out:
        return subprocess.Popen(
            command, cwd=workdir, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )


def read_step(workdir: Path, target: float, calls: int, cpu: float, wall: float) -> Step:
    with (workdir / "stat.csv").open() as f:
        rows = list(csv.DictReader(f, delimiter=";"))
    last = rows[-1] if rows else {}
    pdd: list[float] = []
    stamps: list[float] = []
    for rtt in workdir.glob("*_rtt.csv"):
        with rtt.open() as f:
            for row in csv.DictReader(f, delimiter=";"):
                if row["rtd_no"] == "pdd":
                    stamps.append(float(row["Date_ms"]))
                    pdd.append(float(row["response_time_ms"]))
    # The span of the answers (the calls' own duration is ~1 ms), else the wall time.
    seconds = (max(stamps) - min(stamps)) / 1000.0 if len(stamps) > 1 else wall
    return Step(
        target=target,
        calls=calls,
        ok=int(last.get("SuccessfulCall(C)", 0) or 0),
        failed=int(last.get("FailedCall(C)", 0) or 0),
        retransmissions=int(last.get("Retransmissions(C)", 0) or 0),
        seconds=max(seconds, 1.0 / target),
        cpu_seconds=cpu,
        pdd_ms=pdd,
    )


def run_calls(daemon: Daemon, workdir: Path, rate: float, calls: int) -> Step:
    cpu_before, wall_before = cpu_seconds(daemon.pid), time.monotonic()
    start_callers(daemon, workdir, rate, calls).wait()
    wait_idle(daemon)
    cpu = cpu_seconds(daemon.pid) - cpu_before
    return read_step(workdir, rate, calls, cpu, time.monotonic() - wall_before)


def channels(daemon: Daemon) -> int:
    return int(daemon.cli("core show channels count").split()[0])


def wait_idle(daemon: Daemon, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while channels(daemon) and time.monotonic() < deadline:
        time.sleep(0.05)


def row(step: Step) -> str:
    return (
        f"{step.target:>7.0f} {step.achieved:>9.0f} {step.calls:>7} {step.failed_ratio:>7.2%} "
        f"{step.retransmissions:>7} {percentile(step.pdd_ms, 50):>7.1f} {step.p95:>7.1f} "
        f"{step.cpu_ms_per_call:>8.2f} {step.cpu_seconds / step.seconds:>7.0%}  "
        f"{'pass' if step.passed else 'FAIL'}"
    )


def mib(kib: int) -> str:
    return f"{kib / 1024:.1f} MiB"


def held_calls(daemon: Daemon, root: Path, count: int) -> None:
    """``count`` calls kept up; VmRSS growth per call, then all hung up from the console."""
    rss_before = rss_kib(daemon.pid)
    held = start_callers(daemon, root / "sipp-held", 100.0, count, "uac_call_wait_bye.xml")
    deadline = time.monotonic() + count / 100.0 + 30.0
    while channels(daemon) < 2 * count and time.monotonic() < deadline:
        time.sleep(0.2)
    up = channels(daemon) // 2
    time.sleep(1.0)
    rss_held = rss_kib(daemon.pid)
    daemon.cli("channel request hangup all")
    held.wait()
    wait_idle(daemon)
    time.sleep(1.0)
    rss_after = rss_kib(daemon.pid)
    print(
        f"held calls: {up} up, VmRSS {mib(rss_before)} -> {mib(rss_held)}: "
        f"{(rss_held - rss_before) / max(1, up):.1f} KiB per call in progress; "
        f"{mib(rss_after)} after they were hung up"
    )


def retention(daemon: Daemon, root: Path, rate: float, calls: int, rss_idle: int) -> None:
    """``calls`` completed calls in five chunks; VmRSS after each and at the end vs before.

    The first and last readings are taken after :data:`QUIET` seconds without calls: pbx keeps
    an ended leg for 32 s (64*T1, late retransmissions), so only then is nothing legitimately
    held. Memory freed by the allocator stays in the process (VmRSS keeps its high-water mark
    of the 32 s window), so the chunk readings show whether it grows beyond it.
    """
    time.sleep(QUIET)
    rss_start = rss_kib(daemon.pid)
    chunk = max(1, calls // 5)
    steps, readings = [], []
    for i in range(0, calls, chunk):
        steps.append(run_calls(daemon, root / f"sipp-retention-{i}", rate, min(chunk, calls - i)))
        readings.append(rss_kib(daemon.pid))
    time.sleep(QUIET)
    rss_kept = rss_kib(daemon.pid)
    ok = sum(s.ok for s in steps)
    cpu_ms = sum(s.cpu_seconds for s in steps) * 1000.0 / max(1, ok)
    print(
        f"retention: {ok} calls at {rate:.0f}/s ({sum(s.failed for s in steps)} failed, "
        f"{cpu_ms:.2f} ms CPU per call, pdd p95 {max(s.p95 for s in steps):.0f} ms): VmRSS "
        f"{mib(rss_start)} before, after each {chunk} calls "
        f"{', '.join(f'{r / 1024:.1f}' for r in readings)} MiB, {mib(rss_kept)} {QUIET:.0f} s "
        f"after the last: {(rss_kept - rss_start) / rss_start:+.1%} "
        f"({(rss_kept - rss_start) * 1024 / max(1, ok):+.0f} bytes per call); "
        f"{(rss_kept - rss_idle) / rss_idle:+.1%} vs the idle daemon"
    )


def ramp(daemon: Daemon, root: Path, rates: list[float], step_seconds: float) -> None:
    print(
        "\n target  achieved   calls  failed retrans pdd p50 pdd p95  CPU/call    CPU"
        "\n                                          (ms)    (ms)      (ms)  (core)"
    )
    steps: list[Step] = []
    misses = 0
    for rate in rates:
        calls = max(1, int(rate * step_seconds))
        step = run_calls(daemon, root / f"sipp-{rate:.0f}", rate, calls)
        steps.append(step)
        print(row(step))
        misses = 0 if step.passed else misses + 1
        if misses >= 2:
            break
    passed = [s for s in steps if s.passed]
    if passed:
        best = max(passed, key=lambda s: s.target)
        print(
            f"highest call rate with < 1 % failures and p95 post-dial delay <= "
            f"{P95_LIMIT_MS:.0f} ms: {best.target:.0f} calls/s (achieved {best.achieved:.0f}/s, "
            f"p95 {best.p95:.1f} ms, {best.cpu_ms_per_call:.2f} ms CPU per call)"
        )
    else:
        print("highest call rate: none of the steps passed")


def bench(args: argparse.Namespace, root: Path) -> None:
    with make_daemon(root / "pbx", args.auth, not args.no_cdr) as daemon:
        callee = start_callee(daemon, root / "callee")
        try:
            time.sleep(1.0)
            rss_idle = rss_kib(daemon.pid)
            warm = run_calls(daemon, root / "sipp-warmup", 50.0, args.warmup)
            print(
                f"warm-up: {warm.ok} calls ({warm.failed} failed, {warm.cpu_ms_per_call:.2f} ms "
                f"CPU per call), VmRSS {mib(rss_idle)} idle -> {mib(rss_kib(daemon.pid))}"
            )
            if args.held:
                held_calls(daemon, root, args.held)
            if args.retention_calls:
                retention(daemon, root, args.steady_rate, args.retention_calls, rss_idle)
            ramp(daemon, root, args.rates, args.step_seconds)
        finally:
            callee.kill()  # our own sipp UAS
            callee.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--rates",
        default="25,50,75,100,150,200,250,300,400,500",
        type=lambda text: [float(r) for r in text.split(",")],
    )
    parser.add_argument("--step-seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--retention-calls", type=int, default=10000)
    parser.add_argument("--steady-rate", type=float, default=50.0)
    parser.add_argument("--held", type=int, default=500)
    parser.add_argument("--auth", action="store_true", help="digest-authenticate every call")
    parser.add_argument("--no-cdr", action="store_true", help="cdr.conf enable=no")
    parser.add_argument("--workdir", type=Path, help="keep configs, logs and sipp traces here")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    if shutil.which("sipp") is None:
        print("sipp is not installed (Debian package sip-tester): nothing measured")
        return 0
    root = args.workdir or Path(tempfile.mkdtemp(prefix="pbx-bench-calls-"))
    root.mkdir(parents=True, exist_ok=True)
    print(
        f"pbx call benchmark; work directory {root}; {os.cpu_count()} CPUs; caller "
        f"{'with digest auth' if args.auth else 'without auth (no secret)'}; CDRs "
        f"{'off' if args.no_cdr else 'on (CSV + SQLite)'}"
    )
    bench(args, root)
    if args.workdir is None:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
