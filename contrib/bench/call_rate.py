"""Benchmark a real pbx: calls per second through Dial, CPU per call, memory per call (issue 4).

    .venv/bin/python contrib/bench/call_rate.py [--rates 50,100,...] [--auth] [--no-cdr]
        [--profile] [--objects] [--cycles] [--tracemalloc] [--workdir DIR]

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
   kept per completed call), and with the idle daemon's. The 40 s pass the 32 s (64*T1) for
   which pbx keeps the transactions of an ended call and its ACK (late retransmissions; the
   call itself is freed when it ends). VmRSS after each chunk shows whether memory grows past
   the high-water mark (freed memory stays with the process);
4. rate: steps of ``--step-seconds`` at each rate of ``--rates``; a step passes with under 1 %
   failed calls, sipp achieving at least 95 % of the rate, and post-dial delay (first INVITE
   sent -> 200 received, sipp ``-trace_rtt``) p95 <= 100 ms. The ramp stops after two failing
   steps. CPU per call is the daemon's utime+stime over the step divided by its calls.

Looking inside the daemon: a probe loaded into it (:data:`PROBE`) reports the garbage
collector's pauses in every step (collections per generation, longest pause: what delays a
call's 200) and its thresholds; ``--profile`` prints a cProfile top list of each ramp step (own
time, then cumulative time of pbx functions; the ``.prof`` files stay in ``--workdir``);
``--objects`` counts live objects by type after a full collection at the end of each step and
prints their growth per call in progress (held phase) and over the retention phase;
``--tracemalloc`` does the same for allocation sites (slow: measure memory with it, not time);
``--cycles`` stops the collector during each step and counts by type what only it could free
(reference cycles left by the calls).

It prints the figures and exits 0 (a benchmark, not a test; never gate CI on it). Aims of the
issue: >= 300 calls/s on one core with < 1 % failures and p95 post-dial delay <= 100 ms, <= 4 ms
of CPU per call, RSS after 10,000 calls within 5 %. Orientation: Asterisk 20 chan_sip ~150
calls/s (over one core), sippy B2BUA ~82 calls/s (one core, ~20 KiB kept per call ever made).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import pstats
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from dataclasses import dataclass, field
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
#: Seconds without calls before a memory reading: longer than pbx keeps an ended call's
#: transactions and ACK (32 s).
QUIET = 40.0

#: Loaded into the daemon as ``sitecustomize`` (PYTHONPATH) to look inside it between steps.
#: SIGUSR1 opens a window (GC pause log reset, cProfile started with ``--profile``, the
#: collector stopped with ``--cycles``); SIGUSR2 closes it and writes ``<n>.json`` (pauses;
#: live objects by type with ``--objects``; with ``--cycles`` the objects only the cyclic
#: collector could free, by type), ``<n>.prof`` and ``<n>.snap`` (tracemalloc with
#: ``--tracemalloc``), then ``<n>.done``.
#: Signals wait for the reactor's next bytecode, so a window never splits a callback.
PROBE = """
import collections, cProfile, gc, json, os, signal, sys, time, tracemalloc

OUT = os.environ.get("PBX_BENCH_PROBE")
if OUT and "-f" in sys.argv:
    OPTIONS = os.environ.get("PBX_BENCH_PROBE_OPTIONS", "").split(",")
    state = {"n": 0, "started": 0.0, "profile": None, "pauses": []}
    if "tracemalloc" in OPTIONS:
        tracemalloc.start(int(os.environ.get("PBX_BENCH_TRACEMALLOC_FRAMES", "1")))

    def on_gc(phase, info):
        if phase == "start":
            state["started"] = time.perf_counter()
        else:
            state["pauses"].append(
                (info["generation"], (time.perf_counter() - state["started"]) * 1000.0,
                 info["collected"])
            )

    gc.callbacks.append(on_gc)

    def begin(signum, frame):
        if "cycles" in OPTIONS:
            gc.collect()
            gc.disable()
        state["pauses"] = []
        if "profile" in OPTIONS:
            state["profile"] = cProfile.Profile()
            state["profile"].enable()

    def end(signum, frame):
        profile, state["profile"] = state["profile"], None
        if profile is not None:
            profile.disable()
        state["n"] += 1
        base = os.path.join(OUT, str(state["n"]))
        # A copy: the collections this probe makes below are not the daemon's.
        report = {"pauses": list(state["pauses"]), "threshold": gc.get_threshold(),
                  "frozen": gc.get_freeze_count()}
        if "cycles" in OPTIONS:
            gc.set_debug(gc.DEBUG_SAVEALL)
            gc.collect()
            garbage = collections.Counter(type(o).__qualname__ for o in gc.garbage)
            report["garbage"] = dict(garbage.most_common(300))
            gc.garbage.clear()
            gc.set_debug(0)
            gc.enable()
        if profile is not None:
            profile.dump_stats(base + ".prof")
        if "objects" in OPTIONS:
            gc.collect()
            counts = collections.Counter(type(o).__qualname__ for o in gc.get_objects())
            report["objects"] = dict(counts.most_common(300))
        if tracemalloc.is_tracing():
            tracemalloc.take_snapshot().dump(base + ".snap")
        with open(base + ".json", "w") as f:
            json.dump(report, f)
        open(base + ".done", "w").close()

    signal.signal(signal.SIGUSR1, begin)
    signal.signal(signal.SIGUSR2, end)
"""


@dataclass
class Window:
    """What the probe saw in the daemon over one step."""

    pauses: list[tuple[int, float, int]] = field(default_factory=list)
    """(generation, milliseconds, objects collected) of every garbage collection."""
    objects: dict[str, int] = field(default_factory=dict)
    """Live objects by type after a full collection at the end (``--objects``)."""
    garbage: dict[str, int] = field(default_factory=dict)
    """Objects in reference cycles the step left behind, by type (``--cycles``)."""
    profile: Path | None = None
    snapshot: Path | None = None
    threshold: tuple[int, ...] = ()
    """The daemon's ``gc.get_threshold()``."""
    frozen: int = 0
    """Objects in the daemon's permanent generation (``gc.freeze()``)."""

    def gc_summary(self) -> str:
        if not self.pauses:
            return "gc: no collection"
        per_gen = [[ms for gen, ms, _ in self.pauses if gen == g] for g in range(3)]
        worst = max(self.pauses, key=lambda p: p[1])
        return (
            f"gc: {'/'.join(str(len(p)) for p in per_gen)} collections (gen 0/1/2), "
            f"{sum(ms for _, ms, _ in self.pauses):.0f} ms in all, longest {worst[1]:.1f} ms "
            f"(gen {worst[0]}), gen 2 max {max(per_gen[2], default=0.0):.1f} ms"
        )


class Probe:
    """Windows into the daemon (:data:`PROBE`), opened and closed by signals to its PID."""

    def __init__(self, directory: Path, options: list[str]) -> None:
        self.directory = directory
        self.options = options
        self.windows = 0
        hook = directory / "hook"
        hook.mkdir(parents=True, exist_ok=True)
        (hook / "sitecustomize.py").write_text(PROBE)
        # Inherited by the daemon this process starts next (and by nothing else that runs
        # Python with -f, the probe's condition).
        os.environ["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(hook), os.environ.get("PYTHONPATH", "")) if p
        )
        os.environ["PBX_BENCH_PROBE"] = str(directory)
        os.environ["PBX_BENCH_PROBE_OPTIONS"] = ",".join(options)

    def begin(self, daemon: Daemon) -> None:
        os.kill(daemon.pid, signal.SIGUSR1)

    def end(self, daemon: Daemon) -> Window:
        self.windows += 1
        base = self.directory / str(self.windows)
        os.kill(daemon.pid, signal.SIGUSR2)
        deadline = time.monotonic() + 120.0
        while not base.with_suffix(".done").exists():
            if time.monotonic() > deadline:
                raise RuntimeError("the daemon's probe did not answer")
            time.sleep(0.05)
        report = json.loads(base.with_suffix(".json").read_text())
        prof, snap = base.with_suffix(".prof"), base.with_suffix(".snap")
        return Window(
            pauses=[tuple(p) for p in report["pauses"]],
            objects=report.get("objects", {}),
            garbage=report.get("garbage", {}),
            profile=prof if prof.exists() else None,
            snapshot=snap if snap.exists() else None,
            threshold=tuple(report["threshold"]),
            frozen=report["frozen"],
        )


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
    window: Window = field(default_factory=Window)

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


def run_calls(daemon: Daemon, probe: Probe, workdir: Path, rate: float, calls: int) -> Step:
    probe.begin(daemon)
    cpu_before, wall_before = cpu_seconds(daemon.pid), time.monotonic()
    start_callers(daemon, workdir, rate, calls).wait()
    wait_idle(daemon)
    cpu = cpu_seconds(daemon.pid) - cpu_before
    step = read_step(workdir, rate, calls, cpu, time.monotonic() - wall_before)
    step.window = probe.end(daemon)
    return step


def print_profile(window: Window, limit: int = 30) -> None:
    """The step's hottest functions by own time, then by cumulative time (pbx code only)."""
    if window.profile is None:
        return
    pstats.Stats(str(window.profile), stream=sys.stdout).strip_dirs().sort_stats(
        "tottime"
    ).print_stats(limit)
    pstats.Stats(str(window.profile), stream=sys.stdout).sort_stats("cumulative").print_stats(
        "/pbx/", limit
    )


def print_growth(first: Window, last: Window, per: int = 1, limit: int = 30) -> None:
    """Live objects by type and (with tracemalloc) allocation sites that grew between two
    windows' ends, divided by ``per`` (the calls in between)."""
    if first.objects and last.objects:
        kinds = set(first.objects) | set(last.objects)
        grown = sorted(
            ((last.objects.get(t, 0) - first.objects.get(t, 0)) / per, t) for t in kinds
        )[::-1]
        print(
            f"live objects grown{' per call' if per > 1 else ''}: "
            f"{sum(d for d, _ in grown):+.1f}: "
            + ", ".join(f"{t} {d:+.1f}" for d, t in grown[:limit] if d)
        )
    if first.snapshot is not None and last.snapshot is not None:
        before = tracemalloc.Snapshot.load(str(first.snapshot))
        after = tracemalloc.Snapshot.load(str(last.snapshot))
        stats = after.compare_to(before, "traceback")
        total = sum(stat.size_diff for stat in stats) / 1024 / per
        print(f"allocations grown{' per call' if per > 1 else ''} (tracemalloc): {total:+.1f} KiB")
        for stat in stats[:limit]:
            print(
                f"  {stat.size_diff / 1024 / per:+9.2f} KiB {stat.count_diff / per:+8.1f} blocks  ",
                end="",
            )
            print(
                " <- ".join(f"{f.filename.split('/main/')[-1]}:{f.lineno}" for f in stat.traceback)
            )


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


def held_calls(daemon: Daemon, probe: Probe, root: Path, count: int) -> None:
    """``count`` calls kept up; VmRSS growth per call, then all hung up from the console."""
    before = probe.end(daemon)  # the reference point of the objects/allocations kept per call
    probe.begin(daemon)
    rss_before = rss_kib(daemon.pid)
    held = start_callers(daemon, root / "sipp-held", 100.0, count, "uac_call_wait_bye.xml")
    deadline = time.monotonic() + count / 100.0 + 30.0
    while channels(daemon) < 2 * count and time.monotonic() < deadline:
        time.sleep(0.2)
    up = channels(daemon) // 2
    time.sleep(1.0)
    rss_held = rss_kib(daemon.pid)
    window = probe.end(daemon)
    daemon.cli("channel request hangup all")
    held.wait()
    wait_idle(daemon)
    time.sleep(1.0)
    rss_after = rss_kib(daemon.pid)
    print(
        f"held calls: {up} up, VmRSS {mib(rss_before)} -> {mib(rss_held)}: "
        f"{(rss_held - rss_before) / max(1, up):.1f} KiB per call in progress; "
        f"{mib(rss_after)} after they were hung up; {window.gc_summary()}"
    )
    print_growth(before, window, per=max(1, up))


def retention(
    daemon: Daemon, probe: Probe, root: Path, rate: float, calls: int, rss_idle: int
) -> None:
    """``calls`` completed calls in five chunks; VmRSS after each and at the end vs before.

    The first and last readings are taken after :data:`QUIET` seconds without calls: pbx keeps
    an ended call's transactions and ACK for 32 s (64*T1, late retransmissions), so only then
    is nothing legitimately held. Memory freed by the allocator stays in the process (VmRSS
    keeps its high-water mark), so the chunk readings show whether it grows beyond it.
    """
    time.sleep(QUIET)
    rss_start = rss_kib(daemon.pid)
    chunk = max(1, calls // 5)
    steps, readings = [], []
    for i in range(0, calls, chunk):
        workdir = root / f"sipp-retention-{i}"
        steps.append(run_calls(daemon, probe, workdir, rate, min(chunk, calls - i)))
        readings.append(rss_kib(daemon.pid))
        last = steps[-1]
        print(f"  {last.ok} calls, pdd p95 {last.p95:.0f} ms; {last.window.gc_summary()}")
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
    if len(steps) > 1:
        print_growth(steps[0].window, steps[-1].window)


def ramp(daemon: Daemon, probe: Probe, root: Path, rates: list[float], step_seconds: float) -> None:
    print(
        "\n target  achieved   calls  failed retrans pdd p50 pdd p95  CPU/call    CPU"
        "\n                                          (ms)    (ms)      (ms)  (core)"
    )
    steps: list[Step] = []
    misses = 0
    for rate in rates:
        calls = max(1, int(rate * step_seconds))
        step = run_calls(daemon, probe, root / f"sipp-{rate:.0f}", rate, calls)
        steps.append(step)
        print(row(step))
        print(f"         {step.window.gc_summary()}")
        if step.window.garbage:
            cyclic = sorted(step.window.garbage.items(), key=lambda item: -item[1])
            print(
                f"         left in cycles: {sum(step.window.garbage.values())} objects: "
                + ", ".join(f"{name} {count}" for name, count in cyclic[:40])
            )
        print_profile(step.window)
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
    options = [o for o in ("profile", "objects", "tracemalloc", "cycles") if getattr(args, o)]
    probe = Probe(root / "probe", options)
    with make_daemon(root / "pbx", args.auth, not args.no_cdr) as daemon:
        callee = start_callee(daemon, root / "callee")
        try:
            time.sleep(1.0)
            rss_idle = rss_kib(daemon.pid)
            warm = run_calls(daemon, probe, root / "sipp-warmup", 50.0, args.warmup)
            print(
                f"warm-up: {warm.ok} calls ({warm.failed} failed, {warm.cpu_ms_per_call:.2f} ms "
                f"CPU per call), VmRSS {mib(rss_idle)} idle -> {mib(rss_kib(daemon.pid))}; "
                f"daemon GC thresholds {warm.window.threshold}, {warm.window.frozen} objects "
                "frozen"
            )
            if args.held:
                held_calls(daemon, probe, root, args.held)
            if args.retention_calls:
                retention(daemon, probe, root, args.steady_rate, args.retention_calls, rss_idle)
            ramp(daemon, probe, root, args.rates, args.step_seconds)
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
    parser.add_argument(
        "--profile", action="store_true", help="cProfile the daemon in each ramp step"
    )
    parser.add_argument(
        "--objects",
        action="store_true",
        help="live objects by type after each step; growth per held call and over retention",
    )
    parser.add_argument(
        "--cycles",
        action="store_true",
        help="stop the daemon's cyclic GC in each step and count what only it could free",
    )
    parser.add_argument(
        "--tracemalloc",
        action="store_true",
        help="trace the daemon's allocations: sites grown per held call and over retention (slow)",
    )
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
