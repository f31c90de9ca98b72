"""DTLS-SRTP <-> RTP bridged calls through a real pbx, at load (issue 6, "Performance").

    .venv/bin/python contrib/bench/webrtc_calls.py --calls 50 100 200 [--seconds 10]

Chromium is far too heavy to make hundreds of calls, and aiortc is not a dependency, so the
browser side is scripted from pbx's own protocol cores over real UDP sockets: an ICE agent in
the controlling role built on :mod:`pbx.media.stun`, :class:`pbx.media.dtls.DtlsEndpoint` as
the DTLS server (pbx answers ``a=setup:active``) and :class:`pbx.media.srtp.SrtpContext`. The
other leg is a plain-RTP desk phone. For each N a fresh pbx (``test/integration/daemon.py``) has
two peers: ``web`` (``webrtc=yes``, SIP over UDP) and ``desk`` (plain RTP, registered by this
process), and extension 2001 ``Dial()``s the desk phone. This process plays both phones of all
N calls on one epoll loop:

1. web: INVITE with a Chromium-shaped offer (BUNDLE, ``UDP/TLS/RTP/SAVPF``, 4-character ufrag,
   24-character pwd, sha-256 fingerprint, ``actpass``, rtcp-mux, one host candidate; PCMU and
   PCMA), the 401 (ACKed), the INVITE again with the MD5 digest (RFC 2617 §3.2.2);
2. desk: pbx's INVITE answered ``200 OK`` at once (``RTP/AVP`` PCMU, resent until the ACK);
   the desk phone starts sending RTP with its 200 OK;
3. web: ``200 OK`` -> ACK, then a STUN Binding request with USE-CANDIDATE, ICE-CONTROLLING,
   PRIORITY, MESSAGE-INTEGRITY (pbx's ice-pwd) and FINGERPRINT (RFC 8445 §7.2.2, RFC 5389);
   pbx starts the DTLS handshake, the keys go to SRTP (RFC 5764 §4.2), and the web phone starts
   sending SRTP. Consent checks follow every 5 s (RFC 7675). ``--setup-rate`` calls start per
   second while the earlier ones already carry media.

**Call setup time** = first INVITE sent -> first SRTP packet from pbx decrypted at the web
phone (desk -> pbx -> browser), with its parts: INVITE -> 200 OK (401 round included),
200 OK -> STUN success, -> DTLS connected.

Media: every phone sends 50 packets/s (172-byte PCMU RTP, 20 ms), spread evenly over the 20 ms
cycle; payloads carry (send time, call, flags) as in ``media_relay.py``, and pbx relays them
without transcoding. After ``--warmup`` s a window of ``--seconds`` s is measured: loss and
delay per direction over the packets sent in it, pbx's CPU (utime + stime from ``/proc``) over
the window's wall time -> CPU per call and the calls per core it extrapolates to; this process's
own CPU too (it competes with pbx for the same cores), and how long pbx sat in the run queue
(``/proc/pid/schedstat``: on a shared machine, time pbx wanted a CPU and got none). Then every
call is hung up with a BYE (paced like the ramp) and pbx must be left with no channel. SIP
requests are retransmitted as RFC 3261 says (INVITE: Timer A; BYE: every T1), since pbx's UDP
socket drops bursts beyond its receive buffer. Prints one block per N (``--json``: figures).

Results (2026-11-26, 2-core VM shared with other CPU-heavy jobs: CPU pressure "some" 40-60 %,
figures vary 2x between runs; CPU per call is the robust one):

=====================  ======  ==============  ==============  ============================
N calls (50 calls/s)   loss    pbx CPU         per call        INVITE -> first media p50
=====================  ======  ==============  ==============  ============================
20 (5 calls/s)         0       15-16 %         0.73-0.80 %     30-35 ms (p95 70-91 ms)
100                    0       31-47 %         0.31-0.47 %     28 ms; first 10 calls 28-42
200                    0 [1]   43-82 %         0.22-0.41 %     25-29 ms in quiet runs [2]
300                    0 [1]   63-88 %         0.22-0.29 %     first 10 calls 28-47 ms [2]
400                    0.54 %  78 %            0.20 %          (generator + pbx + others > 2 cores)
=====================  ======  ==============  ==============  ============================

[1] In runs where pbx waited for a CPU a large part of the window, 1-5 % was lost and the
    delay p50 reached 0.25 s although pbx used only half a core. [2] Later calls of the ramp
    wait behind the media of the earlier ones: p95 0.1-0.6 s, seconds when the machine is
    saturated. Per packet: 300 calls at 88 % of a core is 29 us per relayed packet, as
    WEBRTC-MEDIA.md's bare SRTP relay; DTLS-SRTP <-> RTP costs what SDES-SRTP <-> RTP does
    in ``media_relay.py --srtp``. About 200 KiB of pbx RSS per call.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import resource
import secrets
import selectors
import shutil
import socket
import struct
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from pbx.core.tokens import SecretTokens  # noqa: E402
from pbx.media import stun  # noqa: E402
from pbx.media.certificate import CertifiedKey, generate_certificate  # noqa: E402
from pbx.media.dtls import DtlsEndpoint, DtlsState  # noqa: E402
from pbx.media.srtp import SrtpContext  # noqa: E402
from test.integration.daemon import Daemon, Options  # noqa: E402
from test.integration.sipua import SipMessage, digest_params, digest_response, parse  # noqa: E402

REALM = "pbx-bench"
HOST = "127.0.0.1"
PTIME = 0.02
SLOTS = 20  # send slots per 20 ms cycle (1 ms apart)
HEADER = struct.Struct("!BBHII")
STAMP = struct.Struct("!QIB")  # send time ns, call index, flags (1 = measured)
PAYLOAD_PAD = bytes(160 - STAMP.size)
CONSENT_INTERVAL = 5.0  # RFC 7675 §5.1: checks every 4-6 s
STUN_RTO = 0.1  # first retransmission; then doubled (RFC 5389 §7.2.1): 0.1 .. 3.2 s
STUN_TRIES = 7
T1 = 0.5  # RFC 3261 Timer A starts at T1 and doubles; BYE is resent every T1 (Timer E)
T2 = 4.0
SETUP_TIMEOUT = 10.0
POLL_INTERVAL = 0.02  # STUN/DTLS retransmission and consent timers of the web phones
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
DIALPLAN = "[phones]\nexten => 2001,1,Dial(SIP/desk,30)\n"
OFFER = """\
v=0
o=- {session} 2 IN IP4 {host}
s=-
t=0 0
a=group:BUNDLE 0
a=msid-semantic: WMS
m=audio {port} UDP/TLS/RTP/SAVPF 0 8
c=IN IP4 {host}
a=rtcp:9 IN IP4 0.0.0.0
a=candidate:1 1 udp 2113937151 {host} {port} typ host generation 0
a=ice-ufrag:{ufrag}
a=ice-pwd:{pwd}
a=ice-options:trickle
a=fingerprint:sha-256 {fingerprint}
a=setup:actpass
a=mid:0
a=sendrecv
a=rtcp-mux
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
""".replace("\n", "\r\n")
DESK_ANSWER = """\
v=0
o=desk {session} 1 IN IP4 {host}
s=desk
c=IN IP4 {host}
t=0 0
m=audio {port} RTP/AVP 0
a=rtpmap:0 PCMU/8000
a=ptime:20
a=sendrecv
""".replace("\n", "\r\n")
Address = tuple[str, int]


class BenchError(Exception):
    """The run broke: a phone could not register, a call failed, pbx kept channels."""


def udp_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((HOST, 0))
    sock.setblocking(False)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    return sock


def token(n: int) -> str:
    return secrets.token_hex(n)


def sip_text(start: str, headers: list[str], body: str = "") -> bytes:
    ctype = ["Content-Type: application/sdp"] if body else []
    lines = [start, *headers, *ctype, f"Content-Length: {len(body.encode())}", "", body]
    return "\r\n".join(lines).encode()


def sdp_value(body: str, prefix: str) -> str:
    for line in body.splitlines():
        if line.startswith(prefix):
            return line[len(prefix) :].strip()
    raise BenchError(f"no {prefix!r} in SDP:\n{body}")


def media_address(body: str) -> Address:
    """The ``c=`` address and ``m=audio`` port of an SDP body."""
    return sdp_value(body, "c=IN IP4 "), int(sdp_value(body, "m=audio ").split()[0])


def rtp_packet(seq: int, ts: int, ssrc: int, call: int, flags: int) -> bytes:
    return (
        HEADER.pack(0x80, 0, seq, ts, ssrc)
        + STAMP.pack(time.monotonic_ns(), call, flags)
        + PAYLOAD_PAD
    )


@dataclass
class Direction:
    """Media one way: measured packets sent and received, delays of the received (ns)."""

    sent: int = 0
    received: int = 0
    delays: list[int] = field(default_factory=list)

    def receive(self, rtp: bytes) -> None:
        if len(rtp) < 12 + STAMP.size:
            return
        sent_ns, _, flags = STAMP.unpack_from(rtp, 12)
        if flags & 1:
            self.received += 1
            self.delays.append(time.monotonic_ns() - sent_ns)

    def summary(self) -> dict[str, float]:
        d = sorted(self.delays)
        loss = 100.0 * (self.sent - self.received) / self.sent if self.sent else 0.0
        return {
            "sent": self.sent,
            "received": self.received,
            "loss_percent": loss,
            "delay_p50_ms": d[len(d) // 2] / 1e6 if d else 0.0,
            "delay_p99_ms": d[int(len(d) * 0.99)] / 1e6 if d else 0.0,
            "delay_max_ms": d[-1] / 1e6 if d else 0.0,
        }


class Sender:
    """One phone's RTP stream state; ``send`` is called once per 20 ms."""

    __slots__ = ("sock", "target", "seq", "ts", "ssrc", "call", "protect", "stats")

    def __init__(
        self,
        sock: socket.socket,
        target: Address,
        call: int,
        stats: Direction,
        protect: Callable[[bytes], bytes | None] | None = None,
    ) -> None:
        self.sock = sock
        self.target = target
        self.seq = secrets.randbits(16)
        self.ts = secrets.randbits(32)
        self.ssrc = secrets.randbits(32)
        self.call = call
        self.protect = protect
        self.stats = stats

    def send(self, measured: bool) -> None:
        packet = rtp_packet(self.seq, self.ts, self.ssrc, self.call, int(measured))
        self.seq = (self.seq + 1) & 0xFFFF
        self.ts = (self.ts + 160) & 0xFFFFFFFF
        if self.protect is not None:
            protected = self.protect(packet)
            if protected is None:
                return
            packet = protected
        try:
            self.sock.sendto(packet, self.target)
        except BlockingIOError:
            pass
        if measured:
            self.stats.sent += 1


# -- the browser-like phone ------------------------------------------------------------------------


@dataclass
class Timing:
    invite: float = 0.0
    answered: float = 0.0  # 200 OK received
    ice: float = 0.0  # STUN success response received
    dtls: float = 0.0  # handshake complete, SRTP keys set
    media: float = 0.0  # first SRTP packet from pbx decrypted


class WebCall:
    """One browser-like call leg: SIP dialog state, ICE, DTLS-SRTP, its media socket."""

    def __init__(self, bench: Bench, index: int) -> None:
        self.bench = bench
        self.index = index
        self.sock = udp_socket()
        self.port = self.sock.getsockname()[1]
        self.ufrag = token(2)  # Chromium: 4 characters
        self.pwd = token(12)  # 24 characters
        self.call_id = token(10)
        self.tag = token(4)
        self.cseq = 1
        self.branch = ""
        self.to_tag = ""
        self.remote_target = ""
        self.pbx_media: Address = ("", 0)
        self.pbx_ufrag = ""
        self.pbx_pwd = b""
        self.dtls: DtlsEndpoint | None = None
        self.srtp: SrtpContext | None = None
        self.stun_txid = b""
        self.stun_request = b""
        self.stun_sent = 0.0
        self.stun_tries = 0
        self.next_consent = 0.0
        self.timing = Timing()
        self.state = "new"  # inviting, answered, up, ending, ended
        self.failed = False
        self.bye_request = b""
        self.bye_sent = 0.0
        self.invite_request = b""
        self.invite_sent = 0.0
        self.invite_tries = 0
        self.sender: Sender | None = None

    # SIP
    def offer(self) -> str:
        """What Chromium 156 offers (WEBRTC-MEDIA.md), trimmed to PCMU/PCMA."""
        return OFFER.format(
            session=secrets.randbits(62),
            host=HOST,
            port=self.port,
            ufrag=self.ufrag,
            pwd=self.pwd,
            fingerprint=self.bench.certificate.fingerprint(),
        )

    def _headers(self, method: str, branch: str, auth: str | None = None) -> list[str]:
        b = self.bench
        to = f"<sip:2001@{HOST}>" + (f";tag={self.to_tag}" if self.to_tag else "")
        headers = [
            f"Via: SIP/2.0/UDP {HOST}:{b.web_port};branch=z9hG4bK{branch};rport",
            "Max-Forwards: 70",
            f"From: <sip:web@{HOST}>;tag={self.tag}",
            f"To: {to}",
            f"Call-ID: {self.call_id}",
            f"CSeq: {self.cseq} {method}",
            f"Contact: <sip:web@{HOST}:{b.web_port};transport=udp>",
            "User-Agent: pbx-bench webrtc_calls",
        ]
        if auth:
            headers.append(auth)
        return headers

    def invite(self, now: float, auth: str | None = None) -> None:
        if not auth:
            self.timing.invite = now
        self.state = "inviting"
        self.branch = token(8)
        self.invite_request = sip_text(
            f"INVITE sip:2001@{HOST}:{self.bench.daemon.udp_port} SIP/2.0",
            self._headers("INVITE", self.branch, auth),
            self.offer(),
        )
        self.invite_sent = now
        self.invite_tries = 1
        self.bench.send_web(self.invite_request)

    def on_response(self, msg: SipMessage, now: float) -> None:
        status = msg.status or 0
        number, method = (msg.header("CSeq") or "0 ?").split()
        if method == "BYE":
            if status >= 200:
                self.state = "ended"
            return
        if method != "INVITE":
            return
        if int(number) == self.cseq:
            self.invite_request = b""  # answered: Timer A stops (§17.1.1.2)
        if status < 200:
            return
        if status >= 300:
            self.ack_failure(msg)
            if int(number) < self.cseq:
                return  # a retransmission: our ACK crossed it
            if status in (401, 407) and self.cseq == 1:
                self.authenticate(msg, now)
            else:
                self.fail(msg.start_line)
        elif not self.remote_target:
            self.answered(msg, now)
        else:
            self.ack()  # a retransmitted 200 OK: pbx has not seen our ACK yet

    def authenticate(self, challenge: SipMessage, now: float) -> None:
        """The INVITE again with a digest answering the 401/407 (RFC 2617 §3.2.2, no qop)."""
        proxy = challenge.status == 407
        params = digest_params(
            challenge.header("Proxy-Authenticate" if proxy else "WWW-Authenticate") or ""
        )
        uri = f"sip:2001@{HOST}:{self.bench.daemon.udp_port}"
        realm, nonce = params["realm"], params["nonce"]
        response = digest_response("web", realm, "web-pw", "INVITE", uri, nonce)
        self.cseq += 1
        self.invite(
            now,
            f'{"Proxy-Authorization" if proxy else "Authorization"}: Digest username="web", '
            f'realm="{realm}", nonce="{nonce}", uri="{uri}", response="{response}", algorithm=MD5',
        )

    def ack_failure(self, msg: SipMessage) -> None:
        """ACK for a non-2xx final response: its transaction's branch and CSeq number, the
        response's To tag, the INVITE's Request-URI (RFC 3261 §17.1.1.3)."""
        via = msg.header("Via") or ""
        branch = via.split("branch=z9hG4bK", 1)[1].split(";")[0] if "branch=" in via else ""
        headers = self._headers("ACK", branch)
        headers[3] = f"To: {msg.header('To')}"
        headers[5] = f"CSeq: {(msg.header('CSeq') or '0').split()[0]} ACK"
        uri = f"sip:2001@{HOST}:{self.bench.daemon.udp_port}"
        self.bench.send_web(sip_text(f"ACK {uri} SIP/2.0", headers))

    def answered(self, msg: SipMessage, now: float) -> None:
        self.timing.answered = now
        self.state = "answered"
        to = msg.header("To") or ""
        self.to_tag = to.split(";tag=", 1)[1].split(";")[0] if ";tag=" in to else ""
        contact = msg.header("Contact") or ""
        self.remote_target = contact[contact.find("<") + 1 : contact.find(">")]
        body = msg.body.decode()
        self.pbx_media = media_address(body)
        self.pbx_ufrag = sdp_value(body, "a=ice-ufrag:")
        self.pbx_pwd = sdp_value(body, "a=ice-pwd:").encode()
        setup = sdp_value(body, "a=setup:")
        hash_name, fingerprint = sdp_value(body, "a=fingerprint:").split()
        self.ack()
        if self.failed:
            self.bye()
            return
        if setup != "active":
            self.fail(f"pbx answered a=setup:{setup}, not active")
            return
        cert = self.bench.certificate
        self.dtls = DtlsEndpoint(
            cert.certificate,
            cert.private_key,
            "server",
            (hash_name, fingerprint),
            profiles=self.bench.profiles,
        )
        self.dtls.start(now)
        self.check(now, nominate=True)  # aggressive nomination, as Chromium does

    def ack(self) -> None:
        headers = self._headers("ACK", token(8))
        headers[5] = f"CSeq: {self.cseq} ACK"
        self.bench.send_web(sip_text(f"ACK {self.remote_target} SIP/2.0", headers))

    def bye(self, now: float | None = None) -> None:
        """Hang up an answered call (also one that failed after the 200 OK); ``poll``
        retransmits the BYE until it is answered (Timer E, RFC 3261 §17.1.2.2)."""
        if not self.remote_target or self.state in ("ending", "ended"):
            return
        self.cseq += 1
        self.state = "ending"
        self.bye_sent = time.monotonic() if now is None else now
        self.bye_request = sip_text(
            f"BYE {self.remote_target} SIP/2.0", self._headers("BYE", token(8))
        )
        self.bench.send_web(self.bye_request)

    def fail(self, why: str) -> None:
        """Count the call as failed and hang it up if it was answered."""
        if self.failed:
            return
        self.failed = True
        self.bench.failures.append(f"call {self.index}: {why} (state {self.state})")
        self.bench.settled += 1
        self.bye()

    # ICE (we are the controlling agent of a full implementation; pbx is ICE-lite)
    def check(self, now: float, nominate: bool = False) -> None:
        """Send a Binding request, or retransmit the outstanding one (same transaction ID,
        RFC 5389 §7.2.1)."""
        if not self.stun_txid:
            self.stun_txid = secrets.token_bytes(12)
            self.stun_tries = 0
            msg = stun.Message(stun.Method.BINDING, stun.MessageClass.REQUEST, self.stun_txid)
            msg.add_username(f"{self.pbx_ufrag}:{self.ufrag}")
            msg.add_priority(1853817087)
            msg.add_ice_controlling(secrets.randbits(64))
            if nominate:
                msg.add_use_candidate()
            self.stun_request = msg.encode(integrity_key=self.pbx_pwd, fingerprint=True)
        self.stun_sent = now
        self.stun_tries += 1
        self.sock.sendto(self.stun_request, self.pbx_media)

    def on_datagram(self, data: bytes, now: float) -> None:
        first = data[0]
        if first >= 128:
            if self.srtp is None or 64 <= data[1] & 0x7F < 96:
                return  # RTCP (rtcp-mux) is not measured
            rtp = self.srtp.unprotect(data)
            if rtp is None:
                self.bench.srtp_failures += 1
                return
            if not self.timing.media:
                self.timing.media = now
                self.bench.settled += 1
            self.bench.to_web.receive(rtp)
        elif first < 4:
            msg = stun.parse(data)
            if msg.message_class is stun.MessageClass.SUCCESS and msg.transaction_id == (
                self.stun_txid
            ):
                if not msg.check_integrity(self.pbx_pwd):
                    self.fail("STUN response with a bad MESSAGE-INTEGRITY")
                    return
                self.stun_txid = b""
                if not self.timing.ice:
                    self.timing.ice = now
                self.next_consent = now + CONSENT_INTERVAL
        elif 20 <= first < 64 and self.dtls is not None:
            self.dtls.receive(data, now)
            self.flush_dtls(now)

    def flush_dtls(self, now: float) -> None:
        assert self.dtls is not None
        for datagram in self.dtls.outputs():
            self.sock.sendto(datagram, self.pbx_media)
        if self.srtp is None and self.dtls.state is DtlsState.CONNECTED:
            self.timing.dtls = now
            self.srtp = SrtpContext.from_keys(self.dtls.srtp_keys)
            self.state = "up"
            self.sender = Sender(
                self.sock, self.pbx_media, self.index, self.bench.to_desk, self.srtp.protect
            )
            self.bench.start_sending(self.sender)
        elif self.dtls.state is DtlsState.FAILED:
            self.fail(f"DTLS failed: {self.dtls.failure_reason}")

    def poll(self, now: float) -> None:
        """Timers: STUN retransmission, consent checks, DTLS retransmission, setup timeout."""
        if self.state == "ending":
            if now - self.bye_sent > T1:
                self.bye_sent = now
                self.bench.send_web(self.bye_request)
            return
        if self.failed or self.state == "ended":
            return
        if self.invite_request and now - self.invite_sent > T1 * 2 ** (self.invite_tries - 1):
            self.invite_sent = now  # Timer A: our INVITE or its answer was lost
            self.invite_tries += 1
            self.bench.invite_retransmissions += 1
            self.bench.send_web(self.invite_request)
        if self.stun_txid and now - self.stun_sent > STUN_RTO * 2 ** (self.stun_tries - 1):
            if self.stun_tries >= STUN_TRIES:
                self.fail("no STUN response")
                return
            self.check(now)
        elif self.timing.ice and not self.stun_txid and now >= self.next_consent:
            self.check(now)
        if self.dtls is not None and self.srtp is None:
            at = self.dtls.timer_at()
            if at is not None and now >= at:
                self.dtls.handle_timer(now)
                self.flush_dtls(now)
        if not self.timing.media and now - self.timing.invite > SETUP_TIMEOUT:
            self.fail(f"no media {SETUP_TIMEOUT} s after the INVITE")


# -- the desk phone --------------------------------------------------------------------------------


class DeskCall:
    """The desk phone's side of one call: its media socket and the 200 OK it answered with."""

    def __init__(self, bench: Bench, invite: SipMessage) -> None:
        self.bench = bench
        self.index = len(bench.desk_calls)
        self.sock = udp_socket()
        self.port = self.sock.getsockname()[1]
        body = invite.body.decode()
        self.pbx_media = media_address(body)
        self.sender: Sender | None = None
        to = f"{invite.header('To')};tag={token(4)}"
        sdp = DESK_ANSWER.format(session=secrets.randbits(31), host=HOST, port=self.port)
        headers = [f"Via: {v}" for v in invite.all("Via")] + [
            f"From: {invite.header('From')}",
            f"To: {to}",
            f"Call-ID: {invite.header('Call-ID')}",
            f"CSeq: {invite.header('CSeq')}",
            f"Contact: <sip:desk@{HOST}:{bench.desk_port}>",
        ]
        self.ok = sip_text("SIP/2.0 200 OK", headers, sdp)
        self.acked = False
        self.ok_sent = 0.0
        self.ok_tries = 0

    def answer(self, now: float) -> None:
        """Send (or resend) the 200 OK; media starts with the first one, as phones do."""
        self.ok_sent = now
        self.ok_tries += 1
        self.bench.desk_sip.sendto(self.ok, self.bench.pbx_sip)
        if self.sender is None:
            self.sender = Sender(self.sock, self.pbx_media, self.index, self.bench.to_web)
            self.bench.start_sending(self.sender)

    def poll(self, now: float) -> None:
        """Resend the 200 OK until the ACK comes (RFC 3261 §13.3.1.4: T1 doubling to T2)."""
        if not self.acked and now - self.ok_sent > min(T1 * 2 ** (self.ok_tries - 1), T2):
            self.answer(now)

    def on_datagram(self, data: bytes, now: float) -> None:
        if data[0] >= 128 and not 64 <= data[1] & 0x7F < 96:
            self.bench.to_desk.receive(data)


# -- the loop --------------------------------------------------------------------------------------


class Bench:
    def __init__(self, daemon: Daemon, certificate: CertifiedKey, profiles: tuple[str, ...]):
        self.daemon = daemon
        self.pbx_sip: Address = (HOST, daemon.udp_port)
        self.certificate = certificate
        self.profiles = profiles
        self.selector = selectors.EpollSelector()
        self.web_sip = udp_socket()
        self.web_port = self.web_sip.getsockname()[1]
        self.desk_sip = udp_socket()
        self.desk_port = self.desk_sip.getsockname()[1]
        self.selector.register(self.web_sip, selectors.EVENT_READ, self.on_web_sip)
        self.selector.register(self.desk_sip, selectors.EVENT_READ, self.on_desk_sip)
        self.web_calls: dict[str, WebCall] = {}
        self.desk_calls: dict[str, DeskCall] = {}
        self.desk_registered = False
        self.desk_register_cseq = 0
        self.failures: list[str] = []
        self.srtp_failures = 0
        self.settled = 0  # web calls that carry media or failed
        self.invite_retransmissions = 0
        self.to_web = Direction()  # desk -> pbx -> browser (SRTP)
        self.to_desk = Direction()  # browser -> pbx -> desk (RTP)
        self.slots: list[list[Sender]] = [[] for _ in range(SLOTS)]
        self.senders = 0
        self.tick = 0
        self.tick_origin = time.monotonic()
        self.measure: tuple[float, float] = (float("inf"), float("inf"))

    # sockets
    def send_web(self, data: bytes) -> None:
        self.web_sip.sendto(data, self.pbx_sip)

    def on_web_sip(self, sock: socket.socket, now: float) -> None:
        while True:
            try:
                data = sock.recv(65536)
            except BlockingIOError:
                return
            msg = parse(data)
            call = self.web_calls.get(msg.header("Call-ID") or "")
            if call is None:
                continue
            if msg.status is not None:
                call.on_response(msg, now)
            elif msg.method == "BYE":
                self.answer_request(sock, msg, self.pbx_sip)
                call.state = "ended"
            elif msg.method != "ACK":
                self.answer_request(sock, msg, self.pbx_sip)

    def on_desk_sip(self, sock: socket.socket, now: float) -> None:
        while True:
            try:
                data = sock.recv(65536)
            except BlockingIOError:
                return
            msg = parse(data)
            if msg.status is not None:
                self.on_register_response(msg)
                continue
            call_id = msg.header("Call-ID") or ""
            if msg.method == "INVITE":
                desk = self.desk_calls.get(call_id)
                if desk is None:
                    desk = self.desk_calls[call_id] = DeskCall(self, msg)
                    self.selector.register(desk.sock, selectors.EVENT_READ, desk)
                desk.answer(now)
            elif msg.method == "ACK":
                if call_id in self.desk_calls:
                    self.desk_calls[call_id].acked = True
            else:
                self.answer_request(sock, msg, self.pbx_sip)

    def answer_request(self, sock: socket.socket, msg: SipMessage, to: Address) -> None:
        headers = [f"Via: {v}" for v in msg.all("Via")] + [
            f"{name}: {msg.header(name)}" for name in ("From", "To", "Call-ID", "CSeq")
        ]
        sock.sendto(sip_text("SIP/2.0 200 OK", headers), to)

    def register_desk(self, auth: str | None = None) -> None:
        self.desk_register_cseq += 1
        headers = [
            f"Via: SIP/2.0/UDP {HOST}:{self.desk_port};branch=z9hG4bK{token(8)};rport",
            "Max-Forwards: 70",
            f"From: <sip:desk@{HOST}>;tag=deskreg",
            f"To: <sip:desk@{HOST}>",
            "Call-ID: desk-register",
            f"CSeq: {self.desk_register_cseq} REGISTER",
            f"Contact: <sip:desk@{HOST}:{self.desk_port}>",
            "Expires: 3600",
        ] + ([auth] if auth else [])
        self.desk_sip.sendto(sip_text(f"REGISTER sip:{HOST} SIP/2.0", headers), self.pbx_sip)

    def on_register_response(self, msg: SipMessage) -> None:
        if msg.status == 200:
            self.desk_registered = True
        elif msg.status == 401 and self.desk_register_cseq == 1:
            params = digest_params(msg.header("WWW-Authenticate") or "")
            uri = f"sip:{HOST}"
            response = digest_response(
                "desk", params["realm"], "desk-pw", "REGISTER", uri, params["nonce"]
            )
            self.register_desk(
                f'Authorization: Digest username="desk", realm="{params["realm"]}", '
                f'nonce="{params["nonce"]}", uri="{uri}", response="{response}", algorithm=MD5'
            )
        elif msg.status is not None and msg.status >= 300:
            raise BenchError(f"desk REGISTER answered {msg.start_line}")

    # media pacing: slot k of each 20 ms cycle sends at 1 ms steps
    def start_sending(self, sender: Sender) -> None:
        self.slots[self.senders % SLOTS].append(sender)
        self.senders += 1

    def send_due(self, now: float) -> float:
        """Send every slot that is due; returns when the next one is."""
        step = PTIME / SLOTS
        lo, hi = self.measure
        while True:
            due = self.tick_origin + self.tick * step
            if due > now:
                return due
            measured = lo <= due < hi
            for sender in self.slots[self.tick % SLOTS]:
                sender.send(measured)
            self.tick += 1

    def run(self, until: Callable[[float], bool], timeout: float) -> None:
        """Run the loop until ``until(now)`` or ``timeout`` seconds have passed."""
        deadline = time.monotonic() + timeout
        poll_at = 0.0
        while True:
            now = time.monotonic()
            if until(now) or now >= deadline:
                return
            next_due = self.send_due(now)
            if now >= poll_at:
                for call in self.web_calls.values():
                    call.poll(now)
                for desk in self.desk_calls.values():
                    desk.poll(now)
                poll_at = now + POLL_INTERVAL
            wait = max(0.0, min(next_due, deadline, poll_at) - time.monotonic())
            for key, _ in self.selector.select(wait):
                handler = key.data
                if isinstance(handler, WebCall | DeskCall):
                    self.drain(key.fileobj, handler)  # type: ignore[arg-type]
                else:
                    handler(key.fileobj, time.monotonic())

    def drain(self, sock: socket.socket, call: WebCall | DeskCall) -> None:
        while True:
            try:
                data = sock.recv(2048)
            except BlockingIOError:
                return
            if data:
                call.on_datagram(data, time.monotonic())

    def new_call(self, now: float) -> WebCall:
        call = WebCall(self, len(self.web_calls))
        self.web_calls[call.call_id] = call
        self.selector.register(call.sock, selectors.EVENT_READ, call)
        call.invite(now)
        return call

    def close(self) -> None:
        for call in self.web_calls.values():
            call.sock.close()
        for desk in self.desk_calls.values():
            desk.sock.close()
        self.web_sip.close()
        self.desk_sip.close()
        self.selector.close()


# -- measuring pbx ---------------------------------------------------------------------------------


def proc_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def run_queue_wait(pid: int) -> float:
    """Seconds the process has spent runnable but waiting for a CPU (``/proc/pid/schedstat``):
    on a shared machine, the share of the window pbx could not run."""
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[1]) / 1e9


def proc_rss(pid: int) -> int:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_SIZE


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else 0.0


@dataclass
class Result:
    calls: int
    established: int = 0
    failures: list[str] = field(default_factory=list)
    setup_ms: dict[str, float] = field(default_factory=dict)
    pbx_cpu_percent: float = 0.0
    pbx_cpu_percent_per_call: float = 0.0
    calls_per_core: float = 0.0
    bench_cpu_percent: float = 0.0
    pbx_ramp_cpu_percent: float = 0.0
    pbx_waiting_percent: float = 0.0
    invite_retransmissions: int = 0
    pbx_rss_kib_per_call: float = 0.0
    to_desk: dict[str, float] = field(default_factory=dict)
    to_web: dict[str, float] = field(default_factory=dict)
    srtp_failures: int = 0
    channels_left: str = ""


def run_one(n: int, args: argparse.Namespace, certificate: CertifiedKey) -> Result:
    root = Path(tempfile.mkdtemp(prefix="pbx-bench-webrtc-"))
    peers: dict[str, Options] = {
        "web": {"secret": "web-pw", "transport": "udp", "webrtc": "yes"},
        "desk": {"secret": "desk-pw", "transport": "udp"},
    }
    daemon = Daemon(
        root / "pbx",
        peers,
        {"realm": REALM, "nat": "force_rport,comedia"},
        tcp=False,
        debug_log=False,
        console_levels="warning,error",
        dialplan=DIALPLAN,
    )
    daemon.start()
    bench = Bench(daemon, certificate, tuple(args.profiles.split(":")))
    result = Result(n)
    try:
        pid = daemon.pid
        bench.register_desk()
        bench.run(lambda now: bench.desk_registered, 5.0)
        if not bench.desk_registered:
            raise BenchError("the desk phone did not register")
        time.sleep(0.5)
        rss0, cpu0 = proc_rss(pid), proc_cpu(pid)
        # Ramp: --setup-rate new calls per second while the earlier calls carry media.
        start = time.monotonic()
        started = 0

        def ramped(now: float) -> bool:
            nonlocal started
            while started < n and now >= start + started / args.setup_rate:
                bench.new_call(now)
                started += 1
            return bench.settled == n

        bench.run(ramped, n / args.setup_rate + SETUP_TIMEOUT + 2)
        result.pbx_ramp_cpu_percent = 100 * (proc_cpu(pid) - cpu0) / (time.monotonic() - start)
        result.invite_retransmissions = bench.invite_retransmissions
        result.pbx_rss_kib_per_call = (proc_rss(pid) - rss0) / 1024 / n
        calls = list(bench.web_calls.values())
        up = [c for c in calls if c.timing.media and not c.failed]
        result.established = len(up)
        # Warm-up, then the measured window.
        bench.run(lambda now: False, args.warmup)
        lo = time.monotonic() + 0.05
        bench.measure = (lo, lo + args.seconds)
        bench.run(lambda now: now >= lo, 1.0)
        cpu_a, own_a, wait_a = proc_cpu(pid), own_cpu(), run_queue_wait(pid)
        wall_a = time.monotonic()
        bench.run(lambda now: now >= lo + args.seconds, args.seconds + 1)
        cpu_b, own_b, wait_b = proc_cpu(pid), own_cpu(), run_queue_wait(pid)
        wall_b = time.monotonic()
        result.pbx_waiting_percent = 100 * (wait_b - wait_a) / (wall_b - wall_a)
        bench.run(lambda now: False, 0.3)  # drain what is still in flight
        busy = (cpu_b - cpu_a) / (wall_b - wall_a)
        result.pbx_cpu_percent = 100 * busy
        result.pbx_cpu_percent_per_call = 100 * busy / max(1, len(up))
        result.calls_per_core = len(up) / busy if busy else 0.0
        result.bench_cpu_percent = 100 * (own_b - own_a) / (wall_b - wall_a)
        result.to_desk = bench.to_desk.summary()
        result.to_web = bench.to_web.summary()
        result.srtp_failures = bench.srtp_failures
        result.setup_ms = setup_summary(up)
        # Hang up, paced like the ramp: BYE from every browser; pbx must end with no channel.
        start = time.monotonic()
        hung_up = 0

        def all_gone(now: float) -> bool:
            nonlocal hung_up
            while hung_up < len(calls) and now >= start + hung_up / args.setup_rate:
                calls[hung_up].bye(now)
                hung_up += 1
            return hung_up == len(calls) and all(c.state != "ending" for c in calls)

        bench.run(all_gone, len(calls) / args.setup_rate + 10.0)
        deadline = time.monotonic() + 10
        while True:
            left = daemon.cli("core show channels count").splitlines()[0]
            if left.startswith("0 ") or time.monotonic() > deadline:
                break
            bench.run(lambda now: False, 0.2)
        result.channels_left = left
        unanswered = [c.index for c in calls if c.state == "ending"]
        if unanswered:
            bench.failures.append(f"BYE not answered for calls {unanswered[:10]} ...")
        if not left.startswith("0 "):
            concise = daemon.cli("core show channels concise").splitlines()
            bench.failures.append(f"left after the BYEs: {concise[:4]}")
        result.failures = bench.failures
    finally:
        bench.close()
        daemon.close()
        if args.keep:
            print(f"    pbx directory kept: {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    return result


def setup_summary(up: list[WebCall]) -> dict[str, float]:
    def ms(values: list[float]) -> list[float]:
        return [1000 * v for v in values]

    total = ms([c.timing.media - c.timing.invite for c in up])
    parts = {
        "invite_to_200": ms([c.timing.answered - c.timing.invite for c in up]),
        "200_to_ice": ms([c.timing.ice - c.timing.answered for c in up]),
        "200_to_dtls": ms([c.timing.dtls - c.timing.answered for c in up]),
        "invite_to_media": total,
    }
    out: dict[str, float] = {}
    for name, values in parts.items():
        out[f"{name}_p50"] = percentile(values, 0.5)
        out[f"{name}_p95"] = percentile(values, 0.95)
        out[f"{name}_max"] = max(values, default=0.0)
    out["first10_invite_to_media_p50"] = percentile(total[:10], 0.5)
    return out


def print_result(r: Result, args: argparse.Namespace) -> None:
    s = r.setup_ms
    print(
        f"N={r.calls:4d}  established {r.established}/{r.calls}"
        f"  pbx CPU {r.pbx_cpu_percent:5.1f}% of a core = {r.pbx_cpu_percent_per_call:.3f}%/call"
        f" (~{r.calls_per_core:.0f} calls/core)  bench CPU {r.bench_cpu_percent:.0f}%"
        f"  pbx waited for a CPU {r.pbx_waiting_percent:.0f}% of the time"
    )
    for name, d in (
        ("browser->desk (SRTP->RTP)", r.to_desk),
        ("desk->browser (RTP->SRTP)", r.to_web),
    ):
        print(
            f"    {name}: sent {d['sent']:.0f} loss {d['loss_percent']:.3f}%"
            f"  delay p50 {d['delay_p50_ms']:.2f} ms p99 {d['delay_p99_ms']:.2f} ms"
            f" max {d['delay_max_ms']:.1f} ms"
        )
    print(
        f"    setup (ms, p50/p95/max): INVITE->200 {s['invite_to_200_p50']:.1f}/"
        f"{s['invite_to_200_p95']:.1f}/{s['invite_to_200_max']:.1f}"
        f"  200->ICE {s['200_to_ice_p50']:.1f}/{s['200_to_ice_p95']:.1f}"
        f"  200->DTLS {s['200_to_dtls_p50']:.1f}/{s['200_to_dtls_p95']:.1f}"
        f"  INVITE->first media {s['invite_to_media_p50']:.1f}/{s['invite_to_media_p95']:.1f}/"
        f"{s['invite_to_media_max']:.1f} (first 10 calls p50 "
        f"{s['first10_invite_to_media_p50']:.1f}) at {args.setup_rate:g} calls/s"
    )
    print(
        f"    pbx CPU during the ramp {r.pbx_ramp_cpu_percent:.0f}%, INVITEs resent "
        f"{r.invite_retransmissions}, "
        f"RSS {r.pbx_rss_kib_per_call:.0f} KiB/call, SRTP failures {r.srtp_failures}, "
        f"after BYEs: {r.channels_left}"
    )
    if r.failures:
        print(f"    PROBLEM: {len(r.failures)} calls failed, e.g.")
    for failure in r.failures[:5]:
        print(f"    PROBLEM: {failure}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, nargs="+", default=[50, 100, 200])
    parser.add_argument("--seconds", type=float, default=10.0, help="measured window")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--setup-rate", type=float, default=50.0, help="new calls per second")
    parser.add_argument(
        "--profiles",
        default="SRTP_AES128_CM_SHA1_80:SRTP_AEAD_AES_128_GCM",
        help="SRTP profiles of the browser side (DTLS server: it picks the first pbx offers)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    parser.add_argument("--keep", action="store_true", help="keep the daemon's directory")
    args = parser.parse_args(argv)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    certificate = generate_certificate(datetime.datetime.now(datetime.UTC), SecretTokens(), "web")
    print(
        f"DTLS-SRTP<->RTP calls through pbx, PCMU 20 ms, {args.seconds:g} s measured, "
        f"SRTP profiles {args.profiles}",
        flush=True,
    )
    results = []
    for n in args.calls:
        result = run_one(n, args, certificate)
        print_result(result, args)
        results.append(asdict(result))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
