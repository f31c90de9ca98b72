"""One audio stream (one m= line) of one call leg: RTP/RTCP, SRTP, ICE-lite and DTLS together.

:class:`MediaStream` is the sans-I/O core behind a media leg. Datagrams from the leg's RTP port
(and its RTCP port without ``rtcp-mux``) go in through :meth:`MediaStream.receive` /
:meth:`MediaStream.receive_rtcp` with ``now``; packets go out through the injected ``transmit``
callables the adapter binds to its sockets; timers are ``timer_at()``/``handle_timer(now)``.
It owns:

* demultiplexing (RFC 7983 §7, RFC 5761 §4) of STUN, DTLS, RTP and RTCP on one port;
* source latching: symmetric RTP / ``nat=comedia`` and Asterisk's ``strictrtp`` (accept the
  SDP address, or with comedia anything, until the first valid packet; then only that source);
  with ICE the source is the address ICE selected (RFC 8445 §7.3.1.5);
* SRTP with SDES keys (RFC 4568) or DTLS-exported keys (RFC 5764 §4.2), DTLS in the negotiated
  role, the client handshake starting on the first authenticated Binding request;
* receive statistics (RFC 3550 A.1/A.3/A.8) per remote SSRC, our SR/RR every interval and the
  RTT from the peer's LSR/DLSR (§6.4.1); feedback packets (RFC 4585) are accepted and counted;
* the outgoing stream: every packet, whatever its source (the other leg, a prompt, a DTMF digit,
  the echo), is rewritten into one SSRC/sequence/timestamp space (:class:`StreamRewriter`);
* RFC 4733 digits received (one per press) and sent; prompts paced by :mod:`pbx.media.player`;
* liveness: ``rtptimeout``/``rtpholdtimeout``, ICE consent (RFC 7675) and DTLS failure end in
  one ``on_dead(reason)``;
* ICE restarts (RFC 8445 §9): a configuration with new local credentials switches the ICE-lite
  responder to them and keeps the DTLS association and SRTP contexts.

Per-packet path (STYLE §2.10.3, WEBRTC-MEDIA.md): first-byte checks inline, ``struct`` reads,
one ``bytearray`` per received packet (what the sink may rewrite in place), no logging, no
per-packet timers: liveness is checked when the timer fires, against the time of the last packet.
SDP is not read here: :mod:`pbx.call.media` turns a negotiation into a :class:`StreamConfig`.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from pbx.core.errors import LocalProtocolError, MediaError, RemoteProtocolError
from pbx.core.tokens import TokenSource
from pbx.media.certificate import CertifiedKey
from pbx.media.codecs.telephone_event import DtmfReceiver
from pbx.media.dtls import DtlsEndpoint, DtlsState
from pbx.media.ice_lite import IceLiteResponder
from pbx.media.player import LocalSource
from pbx.media.rtcp_session import RtcpSession
from pbx.media.rtp import StreamRewriter, header_length
from pbx.media.srtp import SrtpContext
from pbx.media.stats import ReceiveStats
from pbx.media.stream_config import (
    Address,
    DtlsSecurity,
    LegStats,
    SdesSecurity,
    StreamConfig,
)

logger = logging.getLogger(__name__)

Transmit = Callable[[bytes | bytearray, Address], object]
"""Send one datagram to an address; may raise :class:`OSError` (counted, never propagated)."""

#: An ICE leg whose peer never sends a valid check in this time is dead (RFC 8445 §14.3's
#: connectivity-check timeout ballpark; browsers start checking within milliseconds).
ICE_START_TIMEOUT: Final = 30.0
#: RTCP interval on AVPF (WebRTC) streams: what Chrome accepted in WEBRTC-MEDIA.md.
AVPF_RTCP_INTERVAL: Final = 1.0
#: The RTP header from byte 1: M/PT, sequence number, timestamp, SSRC.
_TAIL: Final = struct.Struct("!BHII")
_NOWHERE: Final = ("0.0.0.0", 0)


@dataclass(slots=True)
class StreamCounters:
    """Datagrams the stream did not use, by reason, and other events worth showing."""

    dropped_source: int = 0
    malformed: int = 0
    unknown: int = 0
    not_ready: int = 0
    send_errors: int = 0


class MediaStream:
    """The media state of one call leg's audio stream.

    :param name: the channel name, for log lines.
    :param tokens: SSRC, initial sequence number and timestamp, CNAME, RTCP jitter.
    :param transmit: sends on the RTP port (also RTCP with rtcp-mux, STUN and DTLS).
    :param ice_credentials: our (ufrag, pwd) when the leg offers ICE-lite.
    :param certificate: our DTLS certificate when the leg may do DTLS-SRTP.
    :param strict: ``strictrtp``: after latching, drop RTP from other sources.
    :param rtcp_interval: seconds between our reports (0 disables them).

    Attributes the owner sets: ``comedia``, ``rtp_timeout``/``rtp_hold_timeout`` (seconds,
    0 = off), ``transmit_rtcp`` (the RTCP port without mux), and the callbacks ``sink``,
    ``on_dtmf`` and ``on_dead``.
    """

    # Slots: two streams per call, each with some forty fields, live as long as the call; as a
    # dict they cost about 1.5 KiB each.
    __slots__ = (
        "name", "comedia", "rtp_timeout", "rtp_hold_timeout", "echo", "sink", "on_dtmf",
        "on_dead", "transmit_rtcp", "counters", "ssrc", "rtcp", "_tokens", "_transmit",
        "_certificate", "_strict", "_rtcp_interval", "_ice", "_rewriter", "_config", "_closed",
        "_dead", "_sending", "_can_send", "_remote", "_dest", "_remote_rtcp", "_expected",
        "_rx_source", "_srtp", "_secure", "_dtls", "_dtls_peer", "_ice_deadline", "_clock_rate",
        "_dtmf_pt", "_dtmf_rx", "_local", "_rx", "_tx", "_rx_packets", "_rx_octets", "_last_rx",
        "_rx_deadline", "__weakref__",
    )  # fmt: skip

    def __init__(
        self,
        name: str,
        tokens: TokenSource,
        transmit: Transmit,
        *,
        ice_credentials: tuple[str, str] | None = None,
        certificate: CertifiedKey | None = None,
        strict: bool = True,
        rtcp_interval: float = 5.0,
    ) -> None:
        self.name = name
        self.comedia = False
        self.rtp_timeout = 0.0
        self.rtp_hold_timeout = 0.0
        self.echo = False
        self.sink: Callable[[bytearray], None] | None = None
        self.on_dtmf: Callable[[str], None] | None = None
        self.on_dead: Callable[[str], None] | None = None
        self.transmit_rtcp: Transmit | None = None
        self.counters = StreamCounters()
        self._tokens = tokens
        self._transmit = transmit
        self._certificate = certificate
        self._strict = strict
        self._rtcp_interval = rtcp_interval
        self._ice = IceLiteResponder(*ice_credentials, name=name) if ice_credentials else None
        self.ssrc = tokens.u32()
        self._rewriter = StreamRewriter(self.ssrc, tokens.u32() & 0xFFFF, tokens.u32())
        self.rtcp = RtcpSession(self.ssrc, tokens.hex(8), tokens)
        self._config: StreamConfig | None = None
        self._closed = False
        self._dead = False
        self._sending = False  # the relay path (send_rtp, echo) may send
        self._can_send = False  # any source may send (prompts, DTMF)
        self._remote: Address | None = None
        self._dest: Address = _NOWHERE  # _remote for the send path, valid while _can_send
        self._remote_rtcp: Address | None = None
        self._expected: Address | None = None
        self._rx_source: Address | None = None
        self._srtp: SrtpContext | None = None
        self._secure = False
        self._dtls: DtlsEndpoint | None = None
        self._dtls_peer: Address | None = None
        self._ice_deadline: float | None = None
        self._clock_rate = 8000
        self._dtmf_pt = -1
        self._dtmf_rx = DtmfReceiver()
        # Prompts and digits are one more input source of the rewriter (with its own SSRC),
        # made on first use: most legs only relay, and it would tie the stream into a
        # reference cycle (it writes through this stream) for its whole life.
        self._local: LocalSource | None = None
        self._rx = self.rtcp.rx
        self._tx = self.rtcp.tx
        self._rx_packets = 0
        self._rx_octets = 0
        self._last_rx = 0.0
        self._rx_deadline: float | None = None

    # -- configuration ---------------------------------------------------------------------------

    @property
    def config(self) -> StreamConfig | None:
        """The current configuration (``None`` before :meth:`configure`)."""
        return self._config

    def configure(self, config: StreamConfig, now: float) -> None:
        """Apply a (re-)negotiation. A DTLS association and SRTP contexts survive when their
        parameters did not change (RFC 5763 §6.7.1: a re-offer keeps the association).

        :raises MediaError: DTLS or ICE asked for without a certificate or credentials, or
            unusable SRTP keys.
        """
        if self._closed:
            return
        old = self._config
        if config.security != (old.security if old else None):
            self._set_security(config.security, now)
        if config.ice and self._ice is None:
            raise MediaError(f"{self.name}: ICE negotiated but the leg has no ICE credentials")
        self._config = config
        if self._ice is not None:
            credentials = config.ice_local_credentials
            if config.ice and credentials is not None and credentials != self._ice.credentials:
                # Called once the SDP carrying them is sent: checks under the old ones are
                # refused from now on; DTLS and SRTP carry on (RFC 8842 §4).
                self._ice.restart(*credentials, config.ice_remote_ufrag)
            self._ice.remote_ufrag = config.ice_remote_ufrag if config.ice else None
            if config.ice and self._ice_deadline is None and self._ice.remote_addr is None:
                self._ice_deadline = now + ICE_START_TIMEOUT
        if old is None or config.remote_rtp != old.remote_rtp or config.ice != old.ice:
            # A new remote address restarts learning (Asterisk resets strictrtp on re-INVITE);
            # c=0.0.0.0 (hold) only stops our sending: the peer may still send us its music.
            if config.remote_rtp is not None or old is None:
                self._expected = config.remote_rtp
                self._rx_source = None
            if config.ice and self._ice is not None:
                # RFC 8445 §12: media goes only to the pair ICE selected.
                self._remote = self._rx_source = self._ice.remote_addr
            else:
                self._remote = config.remote_rtp
        if old is None or config.remote_rtcp != old.remote_rtcp:
            self._remote_rtcp = config.remote_rtcp
        if old is None or config.clock_rate != old.clock_rate:
            self._clock_rate = config.clock_rate
            rw = self._rewriter
            self._rewriter = StreamRewriter(
                self.ssrc, (rw.last_seq + 1) & 0xFFFF, rw.last_timestamp, config.clock_rate
            )
            self._tx.clock_rate = config.clock_rate
        new_dtmf = -1 if config.dtmf_pt is None else config.dtmf_pt
        if new_dtmf != self._dtmf_pt:
            self._dtmf_pt = new_dtmf
            self._dtmf_rx.reset()
        if self._local is not None:
            self._configure_local(self._local, config)
        self._last_rx = now
        self._rx_deadline = None
        if self.rtcp.next_report is None:
            self._schedule_report(now)
        self._update_sending()

    @staticmethod
    def _configure_local(local: LocalSource, config: StreamConfig) -> None:
        local.configure(
            config.codec,
            config.payload_type,
            config.clock_rate,
            config.frame_ms,
            config.dtmf_pt,
            config.dtmf_clock_rate,
        )

    def _local_source(self) -> LocalSource:
        local = self._local
        if local is None:
            local = self._local = LocalSource(self.ssrc ^ 0x5A5A5A5A, self._write_local)
            if self._config is not None:
                self._configure_local(local, self._config)
        return local

    def _set_security(self, security: SdesSecurity | DtlsSecurity | None, now: float) -> None:
        if self._dtls is not None:
            self._dtls.close()
            self._flush_dtls()
        self._dtls = None
        self._srtp = None
        self._secure = security is not None
        if isinstance(security, SdesSecurity):
            try:
                self._srtp = SrtpContext(
                    security.profile,
                    security.local_key_salt,
                    security.remote_key_salt,
                    remote_mki=security.remote_mki,
                )
            except LocalProtocolError as exc:
                raise MediaError(f"{self.name}: {exc.message}") from None
        elif isinstance(security, DtlsSecurity):
            if self._certificate is None:
                raise MediaError(f"{self.name}: DTLS negotiated but the leg has no certificate")
            self._dtls = DtlsEndpoint(
                self._certificate.certificate,
                self._certificate.private_key,
                security.role,
                security.remote_fingerprint,
                name=self.name,
            )
            # Without ICE nothing else tells the client when to begin: begin now.
            if security.role == "client" and (self._ice is None or self._ice.remote_addr):
                self._dtls_peer = self._ice.remote_addr if self._ice is not None else None
                self._dtls.start(now)
                self._flush_dtls()

    def _update_sending(self) -> None:
        cfg = self._config
        self._can_send = (
            cfg is not None
            and cfg.send
            and not self._closed
            and not self._dead
            and self._remote is not None
            and (self._srtp is not None or not self._secure)
        )
        local = self._local
        self._sending = self._can_send and (local is None or not local.active)
        self._dest = self._remote or _NOWHERE

    # -- receive -------------------------------------------------------------------------------

    def receive(self, data: bytes, addr: Address, now: float) -> bool:
        """One datagram from the RTP port.

        :returns: ``True`` when it was a control packet (STUN, DTLS, RTCP) that may have
            changed :meth:`timer_at`; RTP never does.
        """
        if len(data) < 12:
            return self._receive_short(data, addr, now)
        b0 = data[0]
        if 128 <= b0 < 192:
            if 64 <= (data[1] & 0x7F) <= 95:
                self._receive_rtcp(data, addr, now, True)
                return True
            self._receive_rtp(data, addr, now)
            return False
        if b0 < 4:
            self._receive_stun(data, addr, now)
            return True
        if 20 <= b0 < 64:
            self._receive_dtls(data, addr, now)
            return True
        self.counters.unknown += 1
        return False

    def receive_rtcp(self, data: bytes, addr: Address, now: float) -> None:
        """One datagram from the separate RTCP port (no rtcp-mux)."""
        if len(data) >= 8 and 128 <= data[0] < 192:
            self._receive_rtcp(data, addr, now, False)
        else:
            self.counters.unknown += 1

    def _receive_short(self, data: bytes, addr: Address, now: float) -> bool:
        # Shorter than an RTP header: only a (truncated) DTLS record or junk.
        if data and 20 <= data[0] < 64:
            self._receive_dtls(data, addr, now)
            return True
        self.counters.malformed += 1
        return False

    def _receive_rtp(self, data: bytes, addr: Address, now: float) -> None:
        latched = addr == self._rx_source
        if not latched and not self._source_allowed(addr):
            return
        srtp = self._srtp
        if srtp is not None:
            plain = srtp.unprotect(data)
            if plain is None:
                return
            data = plain
        elif self._secure:
            self.counters.not_ready += 1
            return
        if data[0] & 0x3F and header_length(data) < 0:
            self.counters.malformed += 1
            return
        if not latched:
            self._latch(addr)
        b1, seq, ts, ssrc = _TAIL.unpack_from(data, 1)
        self._last_rx = now
        self._rx_packets += 1
        self._rx_octets += len(data)
        rx = self._rx
        if ssrc != rx.ssrc:
            rx = self._new_source(ssrc)
        rx.update(seq, ts, int(now * rx.clock_rate))
        if (b1 & 0x7F) == self._dtmf_pt:
            self._dtmf_received(data, ts, b1 >= 0x80)
        cfg = self._config
        if cfg is None or not cfg.recv:
            return
        if self.echo:
            self.send_rtp(bytearray(data), now)
            return
        sink = self.sink
        if sink is not None:
            sink(bytearray(data))

    def _source_allowed(self, addr: Address) -> bool:
        """Whether RTP from ``addr`` (not the latched source) may be used."""
        cfg = self._config
        if cfg is None:
            self.counters.not_ready += 1
            return False
        if cfg.ice:
            # RFC 8445 §7.3.1.5: media flows on the pair ICE selected.
            if self._ice is not None and addr == self._ice.remote_addr:
                return True
        elif self._rx_source is None:
            expected = self._expected
            if self.comedia or not self._strict:
                return True
            if expected is not None and addr[0] == expected[0]:
                return True
        elif not self._strict:
            return True
        self.counters.dropped_source += 1
        return False

    def _latch(self, addr: Address) -> None:
        if self._rx_source is None:
            logger.debug("%s: RTP source %s:%d", self.name, addr[0], addr[1])
        self._rx_source = addr
        cfg = self._config
        if self.comedia and cfg is not None and not cfg.ice and addr != self._remote:
            logger.info("%s: symmetric RTP: sending to %s:%d", self.name, addr[0], addr[1])
            self._remote = addr
            self._update_sending()

    def _new_source(self, ssrc: int) -> ReceiveStats:
        self._rx = self.rtcp.source(ssrc, self._clock_rate, self._secure)
        self._dtmf_rx.reset()
        return self._rx

    def _dtmf_received(self, data: bytes, ts: int, marker: bool) -> None:
        start = header_length(data)
        try:
            digit = self._dtmf_rx.feed(data[start : start + 4], ts, marker)
        except RemoteProtocolError:
            self.counters.malformed += 1
            return
        if digit is not None:
            logger.debug("%s: DTMF %s received", self.name, digit)
            if self.on_dtmf is not None:
                self.on_dtmf(digit)

    def _receive_rtcp(self, data: bytes, addr: Address, now: float, muxed: bool) -> None:
        srtp = self._srtp
        if srtp is not None:
            plain = srtp.unprotect_rtcp(data)
            if plain is None:
                return
            data = plain
        elif self._secure:
            self.counters.not_ready += 1
            return
        if not self.rtcp.receive(data, now):
            return
        self._last_rx = now
        if not muxed and self.comedia and addr != self._remote_rtcp:
            self._remote_rtcp = addr

    def _receive_stun(self, data: bytes, addr: Address, now: float) -> None:
        # Checks are answered even before the answer SDP arrives: a browser we offered to
        # starts checking as soon as it has our offer.
        ice = self._ice
        if ice is None:
            self.counters.unknown += 1
            return
        was_connected = ice.remote_addr is not None
        response = ice.receive(data, addr, now)
        if response is not None:
            self._send(response, addr)
        selected = ice.remote_addr
        if selected is None:
            return
        self._ice_deadline = None
        cfg = self._config
        if cfg is not None and cfg.ice and selected != self._remote:
            self._remote = selected
            self._rx_source = selected
            self._update_sending()
        dtls = self._dtls
        if not was_connected and dtls is not None and dtls.role == "client":
            # WEBRTC-MEDIA.md: start on the first authenticated check, before nomination.
            dtls.start(now)
            self._dtls_peer = selected
            self._flush_dtls()

    def _receive_dtls(self, data: bytes, addr: Address, now: float) -> None:
        dtls = self._dtls
        cfg = self._config
        if dtls is None or cfg is None:
            self.counters.unknown += 1
            return
        if cfg.ice and (self._ice is None or self._ice.remote_addr is None):
            # RFC 8842 §4: DTLS runs on a pair ICE has validated.
            self.counters.dropped_source += 1
            return
        self._dtls_peer = addr
        if not cfg.ice and self.comedia and self._remote != addr:
            self._remote = addr
        was = dtls.state
        dtls.receive(data, now)
        self._flush_dtls()
        self._dtls_changed(was)

    def _dtls_changed(self, was: DtlsState) -> None:
        dtls = self._dtls
        if dtls is None or dtls.state is was:
            return
        if dtls.state is DtlsState.CONNECTED:
            self._srtp = SrtpContext.from_keys(dtls.srtp_keys)
            logger.info("%s: DTLS-SRTP ready (%s)", self.name, dtls.srtp_keys.profile)
            self._update_sending()
        elif dtls.state is DtlsState.FAILED:
            self._die(dtls.failure_reason or "DTLS failed")

    def _flush_dtls(self) -> None:
        dtls = self._dtls
        if dtls is None:
            return
        peer = self._dtls_peer or self._remote
        for datagram in dtls.outputs():
            if peer is not None:
                self._send(datagram, peer)

    # -- send ----------------------------------------------------------------------------------

    def send_rtp(self, packet: bytearray, now: float) -> None:
        """Send a packet from elsewhere as part of our one outgoing stream (a no-op until
        configured, on hold, or while a prompt or digit of our own is being sent)."""
        if self._sending:
            self._write(packet, now)

    def _write(self, packet: bytearray, now: float) -> None:
        self._rewriter.rewrite(packet, 1, now)
        tx = self._tx
        tx.packets += 1
        tx.octets += len(packet) - 12
        tx.last_send = now
        srtp = self._srtp
        try:
            if srtp is None:
                self._transmit(packet, self._dest)
            else:
                out = srtp.protect(bytes(packet))  # pylibsrtp takes bytes only
                if out is not None:
                    self._transmit(out, self._dest)
        except OSError:
            self.counters.send_errors += 1

    def _send(self, data: bytes | bytearray, addr: Address) -> None:
        try:
            self._transmit(data, addr)
        except OSError:
            self.counters.send_errors += 1

    def _write_local(self, packet: bytearray, now: float) -> None:
        if self._can_send:
            self._write(packet, now)

    def send_dtmf(self, digit: str, duration_ms: int, now: float) -> None:
        """Queue one RFC 4733 digit; relayed audio pauses while digits are sent.

        :raises MediaError: no telephone-event payload type was negotiated.
        :raises ValueError: not a DTMF digit, or a bad duration.
        """
        try:
            self._local_source().send_dtmf(digit, duration_ms, now)
        except MediaError as exc:
            raise MediaError(f"{self.name}: {exc}") from None
        finally:
            self._update_sending()

    def play(self, payload: bytes, now: float, on_done: Callable[[], None]) -> None:
        """Start sending a prompt already encoded in the leg's codec, one frame per interval;
        relayed audio pauses meanwhile. A prompt already playing stops first (its ``on_done``
        runs); ``on_done`` runs when the last frame is sent or the prompt is stopped.

        :raises MediaError: before negotiation, or for a codec other than G.711.
        """
        if self._config is None:
            raise MediaError(f"{self.name}: cannot play before media is negotiated")
        try:
            self._local_source().play(payload, now, on_done)
        finally:
            self._update_sending()

    def stop_playing(self) -> None:
        """Stop the prompt at once (its ``on_done`` runs); a no-op when none plays."""
        if self._local is not None:
            self._local.stop()
        self._update_sending()

    @property
    def playing(self) -> bool:
        return self._local is not None and self._local.playing

    # -- timers --------------------------------------------------------------------------------

    def timer_at(self) -> float | None:
        """The earliest instant :meth:`handle_timer` has work."""
        if self._closed:
            return None
        times = [self.rtcp.next_report, self._ice_deadline]
        if not self._dead:
            times.append(self._liveness_at())
        if self._ice is not None:
            times.append(self._ice.timer_at())
        if self._dtls is not None:
            times.append(self._dtls.timer_at())
        if self._local is not None:
            times.append(self._local.next_at())
        due = [t for t in times if t is not None]
        return min(due) if due else None

    def _liveness_at(self) -> float | None:
        timeout = self._timeout()
        if not timeout or self._config is None:
            return None
        if self._rx_deadline is None:
            self._rx_deadline = self._last_rx + timeout
        return self._rx_deadline

    def _timeout(self) -> float:
        cfg = self._config
        if cfg is None:
            return 0.0
        return self.rtp_timeout if cfg.send else self.rtp_hold_timeout

    def handle_timer(self, now: float) -> None:
        """Run whatever is due at ``now``."""
        if self._closed:
            return
        local = self._local
        if local is not None and local.active:
            local.run(now)
            self._update_sending()
        dtls = self._dtls
        if dtls is not None:
            was = dtls.state
            dtls.handle_timer(now)
            self._flush_dtls()
            self._dtls_changed(was)
        ice = self._ice
        if ice is not None and not self._dead:
            ice.handle_timer(now)
            if ice.consent_expired:
                self._die("ICE consent expired (RFC 7675)")
        if self._ice_deadline is not None and now >= self._ice_deadline:
            self._ice_deadline = None
            self._die(f"ICE failed: no connectivity check within {ICE_START_TIMEOUT:.0f} s")
        if self.rtcp.next_report is not None and now >= self.rtcp.next_report:
            self._send_report(now)
            self._schedule_report(now)
        self._check_liveness(now)

    def _check_liveness(self, now: float) -> None:
        if self._dead or self._rx_deadline is None or now < self._rx_deadline:
            return
        timeout = self._timeout()
        self._rx_deadline = None
        if timeout and now - self._last_rx >= timeout:
            what = "rtptimeout" if self._config is None or self._config.send else "rtpholdtimeout"
            self._die(f"no RTP for {timeout:g} s ({what})")

    def _die(self, reason: str) -> None:
        if self._dead:
            return
        self._dead = True
        self._update_sending()
        logger.warning("%s: media dead: %s", self.name, reason)
        if self.on_dead is not None:
            self.on_dead(reason)

    # -- RTCP (RFC 3550 §6) ----------------------------------------------------------------------

    def _schedule_report(self, now: float) -> None:
        cfg = self._config
        interval = self._rtcp_interval if cfg is not None else 0.0
        if cfg is not None and cfg.avpf:
            interval = min(interval, AVPF_RTCP_INTERVAL)
        self.rtcp.schedule(now, interval)

    def _send_report(self, now: float) -> None:
        cfg = self._config
        if cfg is None or (self._secure and self._srtp is None):
            return
        rtcp_to = self._remote if cfg.rtcp_mux else self._remote_rtcp
        transmit = self._transmit if cfg.rtcp_mux else self.transmit_rtcp
        if rtcp_to is None or transmit is None:
            return
        data: bytes | None = self.rtcp.build_report(now, self._rewriter.last_timestamp)
        if self._srtp is not None and data is not None:
            data = self._srtp.protect_rtcp(data)
        if data is not None:
            try:
                transmit(data, rtcp_to)
            except OSError:
                self.counters.send_errors += 1

    # -- state ---------------------------------------------------------------------------------

    def stats(self) -> LegStats:
        """A snapshot of the counters (see :class:`LegStats`)."""
        session = self.rtcp
        rx, tx = session.rx, session.tx
        have = session.has_source
        received, lost = session.received_total, session.lost_total
        srtp = self._srtp
        return LegStats(
            codec=self._config.codec if self._config else "",
            remote_address=self._remote,
            local_ssrc=self.ssrc,
            remote_ssrc=rx.ssrc if have else None,
            rx_packets=self._rx_packets,
            rx_octets=self._rx_octets,
            rx_lost=lost,
            rx_loss_percent=100.0 * lost / (received + lost) if received + lost else 0.0,
            rx_jitter=rx.jitter_seconds if have else 0.0,
            tx_packets=tx.packets,
            tx_octets=tx.octets,
            tx_lost=max(0, tx.remote_lost),
            tx_loss_percent=tx.remote_loss_percent,
            tx_jitter=tx.remote_jitter_seconds,
            rtt=tx.rtt,
            rtcp_received=session.counters.received,
            ice_state=self._ice.state.value if self._ice is not None else None,
            dtls_state=self._dtls.state.value if self._dtls is not None else None,
            srtp_profile=srtp.profile.name if srtp is not None else None,
            dropped_source=self.counters.dropped_source,
            srtp_failures=(
                srtp.counters.unprotect_failed + srtp.counters.unprotect_rtcp_failed
                if srtp is not None
                else 0
            ),
        )

    def close(self) -> None:
        """Stop: ``close_notify`` to a DTLS peer, no more timers, sends or callbacks."""
        if self._closed:
            return
        if self._dtls is not None:
            self._dtls.close()
            self._flush_dtls()
        if self._local is not None:
            self._local.clear()
            self._local = None
        self._closed = True
        self.sink = self.on_dtmf = self.on_dead = None
        self._update_sending()
