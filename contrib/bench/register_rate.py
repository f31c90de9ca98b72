"""Benchmark a real pbx: authenticated REGISTER rate, memory per contact, idle CPU (issue 2).

    .venv/bin/python contrib/bench/register_rate.py [--users 5000] [--rates 500,1000,...]

What it does, on loopback, with a pbx it starts itself (``test/integration/daemon.py``) and
Debian's sipp (``contrib/sipp/register_users.xml``, each call = REGISTER / 401 / REGISTER / 200
for one of ``--users`` distinct users read from a generated CSV):

1. memory: VmRSS of the daemon with ``--users`` peers configured, after the first half of them
   registered and their transactions ended (Timer J, 64*T1 = 32 s), and after the second half
   registered the same way: the growth over the second half, divided by its users, is the
   steady-state cost of one contact (the second half's transactions reuse the memory the first
   half's freed, as they do in a running daemon). The growth over the first half, measured
   while its transactions were still alive, is printed too: contacts plus their REGISTERs'
   transactions (two each, each lingering for Timer J);
2. rate: steps of ``--step-seconds`` at each rate of ``--rates``; a step passes when under 1 %
   of its calls fail and sipp achieved at least 95 % of the rate (sipp stops opening calls when
   too many are outstanding, so a slow server shows as a shortfall, not as failures); p50/p95
   of both transactions come from ``-trace_rtt``, and the daemon's CPU time (utime+stime) over
   the step divided by its successful calls is the CPU cost of one REGISTER (both of its
   transactions, sockets included). The ramp stops after two failing steps;
3. idle CPU: utime+stime of a daemon with ``--idle-users`` registered users over
   ``--idle-seconds``, with qualify off, and then with ``qualify=yes`` (every 60 s) against a
   sipp that stays and answers the pings (``-aa``), measured over a full qualify period.

It prints the figures and exits 0 (a benchmark, not a test). The orientation figures of the
issue: Asterisk 20 ~760 REGISTER/s, aim >= 1,500/s with p95 <= 100 ms, <= 2 KiB per contact,
<= 1 % of a core idle with 1,000 users.

``--profile FILE`` runs the rate daemon under cProfile (``python -m cProfile -o FILE -m pbx``)
and prints its top functions at the end; profiling costs the daemon about half its speed, so
pick lower ``--rates`` for it.
"""

from __future__ import annotations

import argparse
import csv
import os
import pstats
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

import test.integration.daemon as daemon_module  # noqa: E402
from test.integration.daemon import Daemon, free_port  # noqa: E402

SCENARIO = REPO / "contrib" / "sipp" / "register_users.xml"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
MAX_FAILED = 0.01
MIN_ACHIEVED = 0.95
P95_LIMIT_MS = 100.0
#: Timer J (64*T1, RFC 3261 §17.2.2) plus a margin: a REGISTER's transactions are gone by then.
TRANSACTIONS_LINGER = 33.0


@dataclass
class Step:
    target: float
    calls: int
    ok: int
    failed: int
    retransmissions: int
    seconds: float
    challenge_ms: list[float]
    register_ms: list[float]
    cpu_seconds: float = 0.0

    @property
    def achieved(self) -> float:
        return self.ok / self.seconds if self.seconds > 0 else 0.0

    @property
    def failed_ratio(self) -> float:
        return self.failed / self.calls if self.calls else 1.0

    @property
    def passed(self) -> bool:
        return self.failed_ratio < MAX_FAILED and self.achieved >= MIN_ACHIEVED * self.target

    @property
    def p95(self) -> float:
        return max(percentile(self.challenge_ms, 95), percentile(self.register_ms, 95))

    @property
    def cpu_us_per_register(self) -> float:
        return self.cpu_seconds / self.ok * 1e6 if self.ok else float("nan")


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return float(values[0])
    return float(statistics.quantiles(values, n=100, method="inclusive")[int(pct) - 1])


def user_name(i: int) -> str:
    return f"u{i:05d}"


def make_daemon(root: Path, users: int, qualify: bool) -> Daemon:
    extra = {"qualify": "yes"} if qualify else {}
    peers = {user_name(i): {"secret": f"pw-{i}", "transport": "udp", **extra} for i in range(users)}
    # Production-like logging: notices and errors, no per-REGISTER verbose line, no debug file.
    return Daemon(root, peers, debug_log=False, console_levels="notice,warning,error")


def write_users(path: Path, users: int, first: int = 0) -> None:
    lines = ["SEQUENTIAL"]
    lines += [
        f"{user_name(i)};[authentication username={user_name(i)} password=pw-{i}]"
        for i in range(first, users)
    ]
    path.write_text("\n".join(lines) + "\n")


def start_sipp(
    daemon: Daemon,
    workdir: Path,
    users_csv: Path,
    rate: float,
    calls: int,
    stay_ms: int = 0,
    auto_answer: bool = False,
) -> subprocess.Popen[bytes]:
    workdir.mkdir(parents=True)
    sipp = shutil.which("sipp")
    assert sipp is not None
    command = [
        sipp, f"127.0.0.1:{daemon.udp_port}",
        "-sf", str(SCENARIO), "-inf", str(users_csv),
        "-i", "127.0.0.1", "-mi", "127.0.0.1", "-bind_local", "-p", str(free_port()),
        "-r", str(rate), "-m", str(calls), "-l", str(max(calls, 100)),
        "-d", str(stay_ms), "-recv_timeout", "8000",
        "-nostdin", "-timeout", f"{calls / rate + stay_ms / 1000 + 30:.0f}s",
        "-trace_rtt", "-rtt_freq", "1",
        "-trace_stat", "-fd", "1", "-stf", str(workdir / "stat.csv"),
    ]  # fmt: skip
    if auto_answer:
        command.append("-aa")
    with (workdir / "screen.txt").open("wb") as out:
        return subprocess.Popen(
            command, cwd=workdir, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )


def read_step(workdir: Path, target: float, calls: int) -> Step:
    with (workdir / "stat.csv").open() as f:
        rows = list(csv.DictReader(f, delimiter=";"))
    last = rows[-1] if rows else {}
    challenge: list[float] = []
    register: list[float] = []
    stamps: list[float] = []
    for rtt in workdir.glob("*_rtt.csv"):
        with rtt.open() as f:
            for row in csv.DictReader(f, delimiter=";"):
                stamps.append(float(row["Date_ms"]))
                which = challenge if row["rtd_no"] == "challenge" else register
                which.append(float(row["response_time_ms"]))
    seconds = (max(stamps) - min(stamps)) / 1000.0 if len(stamps) > 1 else 0.0
    return Step(
        target=target,
        calls=calls,
        ok=int(last.get("SuccessfulCall(C)", 0) or 0),
        failed=int(last.get("FailedCall(C)", 0) or 0),
        retransmissions=int(last.get("Retransmissions(C)", 0) or 0),
        seconds=seconds,
        challenge_ms=challenge,
        register_ms=register,
    )


def run_step(daemon: Daemon, workdir: Path, users_csv: Path, rate: float, seconds: float) -> Step:
    calls = max(1, int(rate * seconds))
    cpu_before = cpu_seconds(daemon.pid)
    proc = start_sipp(daemon, workdir, users_csv, rate, calls)
    proc.wait()
    step = read_step(workdir, rate, calls)
    step.cpu_seconds = cpu_seconds(daemon.pid) - cpu_before
    return step


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime (man 5 proc)


def registered(daemon: Daemon) -> int:
    footer = daemon.cli("sip show peers").rstrip().rsplit("\n", 1)[-1]
    # "N sip peers [Monitored: a online, b offline Unmonitored: c online, d offline]"
    numbers = [int(w.strip("],")) for w in footer.split() if w.strip("],").isdigit()]
    return numbers[1] + numbers[3]


def idle_cpu(daemon: Daemon, seconds: float) -> float:
    before = cpu_seconds(daemon.pid)
    time.sleep(seconds)
    return (cpu_seconds(daemon.pid) - before) / seconds * 100.0


def row(step: Step) -> str:
    return (
        f"{step.target:>7.0f} {step.achieved:>9.0f} {step.calls:>7} {step.failed_ratio:>7.2%} "
        f"{step.retransmissions:>7} "
        f"{percentile(step.challenge_ms, 50):>6.0f} {percentile(step.challenge_ms, 95):>6.0f} "
        f"{percentile(step.register_ms, 50):>6.0f} {percentile(step.register_ms, 95):>6.0f} "
        f"{step.cpu_us_per_register:>7.0f}  {'pass' if step.passed else 'FAIL'}"
    )


def measure_memory(args: argparse.Namespace, root: Path, daemon: Daemon) -> None:
    """Register the users in two halves; see the module docstring, point 1."""
    half = args.users // 2
    first_csv, second_csv = root / "users-first.csv", root / "users-second.csv"
    write_users(first_csv, half)
    write_users(second_csv, args.users, first=half)
    time.sleep(1.0)
    rss_idle = rss_kib(daemon.pid)
    run_step(daemon, root / "sipp-warmup-1", first_csv, 400, half / 400)
    time.sleep(1.5)  # the batched SQLite flush
    rss_live = rss_kib(daemon.pid)
    time.sleep(args.linger)
    rss_first = rss_kib(daemon.pid)
    second = run_step(daemon, root / "sipp-warmup-2", second_csv, 400, (args.users - half) / 400)
    time.sleep(args.linger)
    rss_second = rss_kib(daemon.pid)
    count = registered(daemon)
    added = max(1, args.users - half)
    print(
        f"memory: VmRSS {rss_idle} KiB idle with {args.users} peers, {rss_first} KiB with "
        f"{half} registered, {rss_second} KiB with {count} registered ({second.failed} "
        f"failed): {(rss_second - rss_first) * 1024 / added:.0f} bytes per contact "
        f"({(rss_live - rss_idle) * 1024 / max(1, half):.0f} with its REGISTER's transactions "
        f"still alive)"
    )


def bench_rate_and_memory(args: argparse.Namespace, root: Path) -> None:
    users_csv = root / "users.csv"
    write_users(users_csv, args.users)
    with make_daemon(root / "pbx-rate", args.users, qualify=False) as daemon:
        measure_memory(args, root, daemon)
        print(
            "\n target  achieved   calls  failed  retrans  401p50 401p95 200p50 200p95 (ms)"
            "  CPU us/REGISTER"
        )
        steps: list[Step] = []
        misses = 0
        for rate in args.rates:
            step = run_step(daemon, root / f"sipp-{rate:.0f}", users_csv, rate, args.step_seconds)
            steps.append(step)
            print(row(step), flush=True)
            misses = 0 if step.passed else misses + 1
            if misses >= 2:
                break
    passed = [s for s in steps if s.passed]
    fast = [s for s in passed if s.p95 <= P95_LIMIT_MS]
    for label, chosen in (("< 1 % failures", passed), (f"and p95 <= {P95_LIMIT_MS:.0f} ms", fast)):
        if chosen:
            best = max(chosen, key=lambda s: s.target)
            print(
                f"highest REGISTER rate with {label}: {best.target:.0f}/s "
                f"(achieved {best.achieved:.0f}/s; 401 p50/p95 "
                f"{percentile(best.challenge_ms, 50):.0f}/{percentile(best.challenge_ms, 95):.0f}"
                f" ms, 200 p50/p95 {percentile(best.register_ms, 50):.0f}/"
                f"{percentile(best.register_ms, 95):.0f} ms)"
            )
        else:
            print(f"highest REGISTER rate with {label}: none of the steps")


def bench_idle(args: argparse.Namespace, root: Path, qualify: bool) -> None:
    users_csv = root / "idle-users.csv"
    write_users(users_csv, args.idle_users)
    label = "qualify=yes (60 s), answered" if qualify else "qualify=no"
    window = max(args.idle_seconds, 62.0) if qualify else args.idle_seconds
    name = "pbx-idle-qualify" if qualify else "pbx-idle"
    with make_daemon(root / name, args.idle_users, qualify=qualify) as daemon:
        rate = 500.0
        stay_ms = int((args.idle_users / rate + window + 15) * 1000) if qualify else 0
        proc = start_sipp(
            daemon,
            root / f"sipp-{name}",
            users_csv,
            rate,
            args.idle_users,
            stay_ms=stay_ms,
            auto_answer=qualify,
        )
        deadline = time.monotonic() + args.idle_users / rate + 15
        while registered(daemon) < args.idle_users and time.monotonic() < deadline:
            time.sleep(0.2)
        count = registered(daemon)
        if not qualify:
            proc.wait()
        time.sleep(3.0)  # the flush, and the first pings after registering
        percent = idle_cpu(daemon, window)
        if qualify:
            proc.kill()  # our own sipp, still answering pings
            proc.wait()
    print(
        f"idle CPU with {count} registered users, {label}: {percent:.2f} % of a core "
        f"over {window:.0f} s"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument(
        "--rates",
        default="250,500,1000,1500,2000,2500,3000,4000,5000",
        type=lambda text: [float(r) for r in text.split(",")],
    )
    parser.add_argument("--step-seconds", type=float, default=5.0)
    parser.add_argument("--idle-users", type=int, default=1000)
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    parser.add_argument("--skip-idle", action="store_true")
    parser.add_argument("--skip-qualify-idle", action="store_true")
    parser.add_argument("--workdir", type=Path, help="keep configs, logs and sipp traces here")
    parser.add_argument(
        "--linger",
        type=float,
        default=TRANSACTIONS_LINGER,
        help="seconds to wait for a REGISTER's transactions to end before reading VmRSS",
    )
    parser.add_argument("--profile", type=Path, help="run the rate daemon under cProfile")
    args = parser.parse_args()
    if shutil.which("sipp") is None:
        print("sipp is not installed (Debian package sip-tester): nothing measured")
        return 0
    root = args.workdir or Path(tempfile.mkdtemp(prefix="pbx-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    print(f"pbx register benchmark; work directory {root}; {os.cpu_count()} CPUs")
    plain_command = daemon_module.pbx_command
    if args.profile is not None:
        # The ``pbx -rx`` runs that wait for the boot go through the profiler too, but they
        # end first: the file left behind is the daemon's, written when it stops.
        profile = args.profile.resolve()
        daemon_module.pbx_command = lambda: [
            sys.executable, "-m", "cProfile", "-o", str(profile), "-m", "pbx"
        ]  # fmt: skip
    bench_rate_and_memory(args, root)
    daemon_module.pbx_command = plain_command
    if args.profile is not None:
        stats = pstats.Stats(str(args.profile))
        stats.sort_stats("tottime").print_stats(25)
        stats.sort_stats("cumulative").print_stats(40)
    if not args.skip_idle:
        bench_idle(args, root, qualify=False)
        if not args.skip_qualify_idle:
            bench_idle(args, root, qualify=True)
    if args.workdir is None:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
