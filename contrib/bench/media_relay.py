"""Media relay benchmark: N bridged G.711 calls through pbx's media legs on loopback.

Two processes. The *relay* runs pbx's real media path (``UdpMediaFactory`` legs on the Twisted
epoll reactor, ``pbx.call.bridge``), two legs per call, both latched by ``nat=comedia`` to the
first packet they receive. The *generator* (this process) plays both phones of every call with
plain sockets and epoll: each phone sends 50 packets/s (172-byte PCMU, 20 ms) spread evenly over
the 20 ms cycle, and every payload carries its send time (CLOCK_MONOTONIC, shared by both
processes), so the receiving phone measures the forwarding delay.

Phases per N: warm-up (latching; not measured), a measured window (relay CPU time from
``getrusage`` over the window's wall time; delay percentiles and loss over the packets sent in
the window), drain. Memory per call: Python heap growth (tracemalloc) and RSS growth of the
relay while it creates the N calls, divided by N.

Variants: ``--srtp`` makes one side of every call an SDES-SRTP phone (AES_CM_128_HMAC_SHA1_80;
the generator protects and unprotects with pylibsrtp, the relay re-protects per packet);
``--baseline`` sends phone to phone directly, without the relay, to show what the generator
itself adds to the delay; ``--profile`` writes the relay's cProfile top list to stderr;
``--pin`` puts the generator on CPU 0 and the relay on CPU 1;
``--dtls`` measures the DTLS-SRTP handshake cost (our passive side against an in-memory client,
ICE check first), separately from the load.

Usage: ``python contrib/bench/media_relay.py --calls 100 200 350 [--seconds 10] [--srtp]``
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import hashlib
import json
import os
import pstats
import resource
import selectors
import socket
import struct
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

SUITE = "AES_CM_128_HMAC_SHA1_80"
PROFILE = "SRTP_AES128_CM_SHA1_80"
PTIME = 0.02
HEADER = struct.Struct("!BBHII")
STAMP = struct.Struct("!QIB")  # send time ns, call index, flags (1 = measured, 2 = side B)
PAYLOAD_PAD = bytes(160 - STAMP.size)


def phone_key(call: int, side: str) -> bytes:
    """The SDES key||salt of a generator phone (both processes derive it)."""
    return hashlib.sha256(f"{call}{side}".encode()).digest()[:30]


# -- relay process -------------------------------------------------------------------------------


def relay_main(args: argparse.Namespace) -> None:
    from twisted.internet import reactor as _reactor
    from twisted.internet import stdio
    from twisted.protocols.basic import LineReceiver

    from pbx.adapters.media_factory import UdpMediaFactory
    from pbx.call.bridge import bridge
    from pbx.config.rtp_conf import RtpSettings
    from pbx.core.tokens import SecretTokens
    from pbx.sdp.model import Crypto
    from pbx.sdp.policy import MediaPolicy, NegotiatedMedia

    reactor: Any = _reactor
    settings = RtpSettings(20000, 40000, 1200, 5000, "yes", 4, True, 1200)
    factory = UdpMediaFactory(reactor, reactor, settings, {"IPv4": "127.0.0.1"}, SecretTokens())

    def negotiated(secure_key: bytes | None) -> NegotiatedMedia:
        return NegotiatedMedia(
            remote_address="0.0.0.0",
            remote_rtp_port=0,
            remote_rtcp_port=0,
            rtcp_mux=False,
            codec="ulaw",
            payload_type=0,
            clock_rate=8000,
            codecs=(("ulaw", 0),),
            dtmf_pt=101,
            dtmf_clock_rate=8000,
            ptime=20,
            direction="sendrecv",
            send=True,
            recv=True,
            security="sdes" if secure_key else "none",
            remote_crypto=(
                Crypto(1, SUITE, "inline:" + base64.b64encode(secure_key).decode())
                if secure_key
                else None
            ),
            local_crypto_suite=SUITE if secure_key else None,
            remote_fingerprint=None,
            dtls_role=None,
            remote_ice_ufrag=None,
            remote_ice_pwd=None,
            ice=False,
            mid=None,
            avpf=False,
            profile="RTP/SAVP" if secure_key else "RTP/AVP",
        )

    rss0 = _rss()
    tracemalloc.start()
    heap0 = tracemalloc.get_traced_memory()[0]
    calls: list[dict[str, Any]] = []
    all_legs = []
    ingress: list[int] = []
    for i in range(args.calls):
        legs = []
        for side in "ab":
            secure = args.srtp and side == "a"
            policy = MediaPolicy(f"phone{i}{side}", ("ulaw",), encryption=secure)
            leg = factory.create_leg(f"SIP/phone{i}{side}", policy)
            leg.comedia = True
            leg.configure(negotiated(phone_key(i, side) if secure else None))
            legs.append(leg)
        bridge(legs[0], legs[1])
        for leg in legs:
            leg.sink = _timed(leg.sink, ingress)
        all_legs += legs
        calls.append(
            {
                side: {
                    "port": leg.local_media().rtp_port,
                    "key": base64.b64encode(leg.local_media().sdes_keys[SUITE]).decode(),
                }
                for side, leg in zip("ab", legs, strict=True)
            }
        )
    heap = tracemalloc.get_traced_memory()[0] - heap0
    tracemalloc.stop()
    rss = _rss() - rss0
    state: dict[str, Any] = {}
    profiler = cProfile.Profile() if args.profile else None

    class Control(LineReceiver):
        delimiter = b"\n"

        def connectionMade(self) -> None:  # noqa: N802
            self.sendLine(json.dumps({"calls": calls}).encode())  # type: ignore[no-untyped-call]

        def lineReceived(self, line: bytes) -> None:  # noqa: N802
            if line == b"start":
                ingress.clear()
                state["cpu"] = _cpu()
                state["wall"] = time.monotonic()
                if profiler is not None:
                    profiler.enable()
            elif line == b"stop":
                if profiler is not None:
                    profiler.disable()
                cpu = _cpu() - state["cpu"]
                wall = time.monotonic() - state["wall"]
                ingress.sort()
                stats = [leg.stats() for leg in all_legs]
                result = {
                    "cpu": cpu,
                    "wall": wall,
                    "heap_per_call": heap / args.calls,
                    "rss_per_call": rss / args.calls,
                    "rx_packets": sum(s.rx_packets for s in stats),
                    "tx_packets": sum(s.tx_packets for s in stats),
                    "dropped_source": sum(s.dropped_source for s in stats),
                    "srtp_failures": sum(s.srtp_failures for s in stats),
                    "relay_p50_ms": ingress[len(ingress) // 2] / 1e6 if ingress else None,
                    "relay_p99_ms": ingress[int(len(ingress) * 0.99)] / 1e6 if ingress else None,
                }
                self.sendLine(json.dumps(result).encode())  # type: ignore[no-untyped-call]
                if profiler is not None:
                    out = pstats.Stats(profiler, stream=sys.stderr)
                    out.sort_stats("tottime").print_stats(22)
                for leg in all_legs:
                    leg.close()
                reactor.callLater(0.1, reactor.stop)

    stdio.StandardIO(Control(), reactor=reactor)  # type: ignore[no-untyped-call]
    reactor.run()


def _timed(sink: Any, delays: list[int]) -> Any:
    """Wrap a bridge forwarder to record, per measured packet, how long after the generator
    sent it the relay forwards it (kernel queueing and our receive path; the send path that
    follows costs about 15 us more). Costs ~1 us per packet, only in this benchmark."""
    clock, unpack = time.monotonic_ns, STAMP.unpack_from

    def forward(packet: bytearray) -> None:
        sent, _, flags = unpack(packet, 12)
        if flags & 1:
            delays.append(clock() - sent)
        sink(packet)

    return forward


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


# -- generator -----------------------------------------------------------------------------------


class Phone:
    __slots__ = ("sock", "target", "seq", "ts", "ssrc", "call", "side", "srtp", "received")

    def __init__(self, call: int, side: str, target: tuple[str, int], srtp: Any) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.target = target
        self.seq = 0
        self.ts = 0
        self.ssrc = (call << 1) | (side == "b")
        self.call = call
        self.side = side
        self.srtp = srtp
        self.received = 0


def generate(
    calls: list[dict[str, Any]], seconds: float, warmup: float, baseline: bool, control: Any
) -> dict[str, Any]:
    from pbx.media.srtp import SrtpContext

    phones: list[Phone] = []
    for i, call in enumerate(calls):
        pair = []
        for side in "ab":
            srtp = None
            if call[side].get("secure"):
                srtp = SrtpContext(PROFILE, phone_key(i, side), base64.b64decode(call[side]["key"]))
            pair.append(Phone(i, side, ("127.0.0.1", call[side]["port"]), srtp))
        if baseline:
            pair[0].target = pair[1].sock.getsockname()
            pair[1].target = pair[0].sock.getsockname()
        phones += pair
    selector = selectors.EpollSelector()
    for phone in phones:
        selector.register(phone.sock, selectors.EVENT_READ, phone)
    n = len(phones)
    start = time.monotonic() + 0.05
    measure_from = start + warmup
    measure_to = measure_from + seconds
    sent_measured = 0
    delays: list[int] = []
    received_measured = 0
    slot = 0  # next phone index to send, in cycle order
    cycle = 0
    started = False
    monotonic_ns = time.monotonic_ns
    while True:
        now = time.monotonic()
        if not started and now >= measure_from:
            control.write(b"start\n")
            control.flush()
            started = True
        if now >= measure_to:
            break
        # Send everything due: phone k of the cycle is due at start + cycle*PTIME + k*PTIME/n.
        while True:
            due = start + cycle * PTIME + slot * PTIME / n
            if due > now:
                break
            phone = phones[slot]
            flags = (1 if measure_from <= due < measure_to else 0) | (2 if phone.side == "b" else 0)
            body = STAMP.pack(monotonic_ns(), phone.call, flags) + PAYLOAD_PAD
            packet = HEADER.pack(0x80, 0, phone.seq, phone.ts, phone.ssrc) + body
            phone.seq = (phone.seq + 1) & 0xFFFF
            phone.ts = (phone.ts + 160) & 0xFFFFFFFF
            if phone.srtp is not None:
                packet = phone.srtp.protect(packet)
            try:
                phone.sock.sendto(packet, phone.target)
            except BlockingIOError:
                pass
            if flags & 1:
                sent_measured += 1
            slot += 1
            if slot == n:
                slot = 0
                cycle += 1
        timeout = max(0.0, min(due, measure_to) - time.monotonic())
        for key, _ in selector.select(timeout):
            received_measured += _drain(key.data, delays)
    control.write(b"stop\n")
    control.flush()
    end = time.monotonic() + 0.3
    while (left := end - time.monotonic()) > 0:
        for key, _ in selector.select(left):
            received_measured += _drain(key.data, delays)
    for phone in phones:
        phone.sock.close()
    delays.sort()
    return {
        "sent": sent_measured,
        "received": received_measured,
        "p50_ms": delays[len(delays) // 2] / 1e6 if delays else None,
        "p99_ms": delays[int(len(delays) * 0.99)] / 1e6 if delays else None,
        "max_ms": delays[-1] / 1e6 if delays else None,
    }


def _drain(phone: Phone, delays: list[int]) -> int:
    counted = 0
    while True:
        try:
            data = phone.sock.recv(2048)
        except BlockingIOError:
            return counted
        arrived = time.monotonic_ns()
        if phone.srtp is not None:
            data = phone.srtp.unprotect(data)
            if data is None:
                continue
        if len(data) < 12 + STAMP.size or data[1] & 0x7F != 0:
            continue  # RTCP never reaches here (RTCP port); anything else is not ours
        sent, _, flags = STAMP.unpack_from(data, 12)
        if flags & 1:
            counted += 1
            delays.append(arrived - sent)


def run(n: int, args: argparse.Namespace) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--relay", "--calls", str(n)]
    if args.srtp:
        cmd.append("--srtp")
    if args.profile:
        cmd.append("--profile")
    relay = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    if args.pin:
        os.sched_setaffinity(relay.pid, {1})
    assert relay.stdin is not None and relay.stdout is not None
    calls = json.loads(relay.stdout.readline())["calls"]
    for call in calls:
        call["a"]["secure"] = args.srtp
    result = generate(calls, args.seconds, args.warmup, args.baseline, relay.stdin)
    result.update(json.loads(relay.stdout.readline()))
    relay.stdin.close()
    relay.wait(timeout=10)
    return result


def report(n: int, r: dict[str, Any], baseline: bool) -> None:
    loss = 100.0 * (r["sent"] - r["received"]) / r["sent"] if r["sent"] else 0.0
    line = (
        f"N={n:4d}  sent={r['sent']:7d}  loss={loss:6.3f}%  "
        f"delay p50={r['p50_ms']:.3f} ms p99={r['p99_ms']:.3f} ms max={r['max_ms']:.1f} ms"
    )
    if not baseline:
        busy = r["cpu"] / r["wall"]
        line += (
            f"\n        relay: CPU {100 * busy:5.1f}% of a core = {100 * busy / n:.3f}%/call "
            f"(~{n / busy:.0f} calls/core); in-relay delay p50={r['relay_p50_ms']:.3f} ms "
            f"p99={r['relay_p99_ms']:.3f} ms; memory/call {r['rss_per_call'] / 1024:.1f} KiB RSS "
            f"({r['heap_per_call'] / 1024:.1f} KiB Python heap)"
        )
    print(line, flush=True)


def dtls_cost(count: int) -> None:
    """Handshake cost of our passive (server) side, ICE check first, in memory."""
    import datetime

    from pbx.core.tokens import SecretTokens
    from pbx.media import stun
    from pbx.media.certificate import generate_certificate
    from pbx.media.dtls import DtlsEndpoint, DtlsState
    from pbx.media.stream import MediaStream
    from pbx.media.stream_config import DtlsSecurity, StreamConfig

    now = datetime.datetime.now(datetime.UTC)
    ours, theirs = (
        generate_certificate(now, SecretTokens()),
        generate_certificate(now, SecretTokens()),
    )
    peer = ("127.0.0.1", 5000)
    ours_cpu = 0.0
    start = time.process_time()
    for _ in range(count):
        wire: list[bytes] = []

        def transmit(
            data: bytes | bytearray, addr: tuple[str, int], wire: list[bytes] = wire
        ) -> None:
            wire.append(bytes(data))

        t = time.process_time()
        stream = MediaStream(
            "bench",
            SecretTokens(),
            transmit,
            ice_credentials=("ufrag123", "p" * 32),
            certificate=ours,
        )
        security = DtlsSecurity("server", ("sha-256", theirs.fingerprint()))
        stream.configure(
            StreamConfig(None, None, True, "ulaw", 0, 8000, ice=True, security=security), 0.0
        )
        ours_cpu += time.process_time() - t
        client = DtlsEndpoint(
            theirs.certificate, theirs.private_key, "client", ("sha-256", ours.fingerprint())
        )
        check = stun.Message(stun.Method.BINDING, stun.MessageClass.REQUEST, os.urandom(12))
        check.add_username("ufrag123:peer")
        check.add_use_candidate()
        t = time.process_time()
        stream.receive(check.encode(integrity_key=b"p" * 32, fingerprint=True), peer, 0.0)
        ours_cpu += time.process_time() - t
        client.start(0.0)
        while client.state is not DtlsState.CONNECTED:
            for datagram in client.outputs():
                t = time.process_time()
                stream.receive(datagram, peer, 0.0)
                ours_cpu += time.process_time() - t
            for datagram in wire:
                if 20 <= datagram[0] < 64:
                    client.receive(datagram, 0.0)
            wire.clear()
        stream.close()
    total = time.process_time() - start
    print(
        f"DTLS-SRTP handshake (ECDSA P-256, DTLS 1.2): our side {1000 * ours_cpu / count:.2f} ms "
        f"CPU each (DTLS context, ICE check, handshake, key export, SRTP setup); both sides "
        f"{1000 * total / count:.2f} ms; {count} handshakes",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, nargs="+", default=[100, 200, 350])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--srtp", action="store_true")
    parser.add_argument("--baseline", action="store_true")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--pin", action="store_true", help="generator on CPU 0, relay on CPU 1")
    parser.add_argument("--dtls", type=int, default=0, metavar="COUNT")
    parser.add_argument("--relay", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.relay:
        args.calls = args.calls[0]
        relay_main(args)
        return
    if args.dtls:
        dtls_cost(args.dtls)
        return
    if args.pin:
        os.sched_setaffinity(0, {0})
    kind = "baseline (no relay)" if args.baseline else "SRTP<->RTP" if args.srtp else "RTP<->RTP"
    print(f"{kind}, G.711 20 ms, 50 pps per direction, {args.seconds:g} s measured", flush=True)
    for n in args.calls:
        report(n, run(n, args), args.baseline)


if __name__ == "__main__":
    main()
