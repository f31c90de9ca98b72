"""Per-direction RTP statistics (RFC 3550 Appendix A.1, A.3, A.8; sender info §6.4.1).

:class:`ReceiveStats` follows one incoming source: sequence validation and extended
sequence numbers (A.1), expected/lost/fraction lost (A.3) and interarrival jitter (A.8, the
integer form). Its :meth:`ReceiveStats.update` runs for every packet, so the common path is a
handful of integer operations and attribute stores. :class:`SendStats` counts what we send
and keeps what the peer's reports say about it. Together they fill RTCP report blocks and
``sip show channelstats`` (Recv: Pack, Lost, %, Jitter; Send: Pack, Lost, %, Jitter; RTT).
"""

from __future__ import annotations

from typing import Final

from pbx.media.rtcp import (
    ReportBlock,
    SenderReport,
    delay_units,
    ntp_middle,
    ntp_timestamp,
    round_trip_time,
)
from pbx.media.rtp import MAX_DROPOUT, SEQ_MOD

MAX_MISORDER: Final = 100
MIN_SEQUENTIAL: Final = 2


class ReceiveStats:
    """Receive statistics of one SSRC.

    :param ssrc: the source these statistics describe (SSRC_n of report blocks).
    :param clock_rate: its RTP clock rate (for :attr:`jitter_seconds`).
    :param min_sequential: packets in sequence needed before the source counts as valid
        (A.1 probation, default 2: the first packet is then not counted, exactly as in A.1).
        Pass 0 for a source already authenticated by SRTP.
    """

    __slots__ = (
        "ssrc",
        "clock_rate",
        "max_seq",
        "cycles",
        "base_seq",
        "bad_seq",
        "probation",
        "received",
        "expected_prior",
        "received_prior",
        "jitter_q4",
        "_min_sequential",
        "_transit",
        "_lsr",
        "_sr_arrival",
    )

    def __init__(self, ssrc: int, clock_rate: int, min_sequential: int = MIN_SEQUENTIAL) -> None:
        self.ssrc = ssrc
        self.clock_rate = clock_rate
        self.max_seq = 0
        self.cycles = 0
        self.base_seq = 0
        self.bad_seq = SEQ_MOD + 1
        # -1 = no packet yet; the first packet always takes the probation path.
        self.probation = -1
        self.received = 0
        self.expected_prior = 0
        self.received_prior = 0
        # A.8 keeps the jitter scaled by 16 so the 1/16 gain is an integer shift.
        self.jitter_q4 = 0
        self._min_sequential = min_sequential
        self._transit = 0
        self._lsr = 0
        self._sr_arrival = 0.0

    def update(self, seq: int, ts: int, arrival: int) -> bool:
        """Account one packet (A.1 ``update_seq`` plus A.8 jitter).

        :param arrival: arrival time in the stream's timestamp units (e.g.
            ``int(now * clock_rate)``); only differences matter.
        :returns: ``False`` for packets A.1 does not count (probation, or the first of a
            large jump that may be a restart); the caller may still relay them.
        """
        if self.probation:
            return self._probation_update(seq, ts, arrival)
        udelta = (seq - self.max_seq) & 0xFFFF
        if udelta < MAX_DROPOUT:
            # In order, with a permissible gap; a smaller number means the 16 bits wrapped.
            if seq < self.max_seq:
                self.cycles += SEQ_MOD
            self.max_seq = seq
        elif udelta <= SEQ_MOD - MAX_MISORDER:
            # A very large jump: count it only if the next packet confirms it (a restart).
            if seq != self.bad_seq:
                self.bad_seq = (seq + 1) & 0xFFFF
                return False
            self._init_seq(seq)
        # else: a duplicate or reordered packet; counted as received (A.3: lost may go < 0).
        self.received += 1
        transit = arrival - ts
        d = ((transit - self._transit + 0x80000000) & 0xFFFFFFFF) - 0x80000000
        self._transit = transit
        if d < 0:
            d = -d
        self.jitter_q4 += d - ((self.jitter_q4 + 8) >> 4)
        return True

    def _probation_update(self, seq: int, ts: int, arrival: int) -> bool:
        self._transit = arrival - ts
        if self.probation < 0:
            # A.1 source creation: max_seq = seq - 1, probation = MIN_SEQUENTIAL, then the
            # update below; with no probation the first packet starts the count.
            if self._min_sequential <= 0:
                self.probation = 0
                self._init_seq(seq)
                self.received = 1
                return True
            self.probation = self._min_sequential - 1
            self.max_seq = seq
            if self.probation == 0:
                self._init_seq(seq)
                self.received = 1
                return True
            return False
        if seq == (self.max_seq + 1) & 0xFFFF:
            self.probation -= 1
            self.max_seq = seq
            if self.probation == 0:
                self._init_seq(seq)
                self.received = 1
                return True
        else:
            self.probation = self._min_sequential - 1
            self.max_seq = seq
        return False

    def _init_seq(self, seq: int) -> None:
        self.base_seq = seq
        self.max_seq = seq
        self.bad_seq = SEQ_MOD + 1
        self.cycles = 0
        self.received = 0
        self.received_prior = 0
        self.expected_prior = 0

    @property
    def valid(self) -> bool:
        """The source has passed probation (A.1)."""
        return self.probation == 0

    @property
    def extended_max(self) -> int:
        """Extended highest sequence number received (A.3)."""
        return self.cycles + self.max_seq

    @property
    def expected(self) -> int:
        """Packets expected since the base sequence number (A.3); 0 before validation."""
        return self.cycles + self.max_seq - self.base_seq + 1 if self.valid else 0

    @property
    def lost(self) -> int:
        """Cumulative packets lost (A.3): expected - received; negative with duplicates."""
        return self.expected - self.received

    @property
    def loss_percent(self) -> float:
        """Cumulative loss as a percentage of expected packets (0 when nothing is expected)."""
        expected = self.expected
        return 100.0 * max(0, self.lost) / expected if expected > 0 else 0.0

    @property
    def jitter(self) -> int:
        """Interarrival jitter in timestamp units, as reported in RTCP (A.8)."""
        return self.jitter_q4 >> 4

    @property
    def jitter_seconds(self) -> float:
        """Interarrival jitter in seconds (with the 1/16 resolution A.8 keeps)."""
        return self.jitter_q4 / 16 / self.clock_rate

    def sender_report_received(self, ntp: int, now: float) -> None:
        """Remember an SR from this source for the LSR/DLSR of our next report (§6.4.1)."""
        self._lsr = ntp_middle(ntp)
        self._sr_arrival = now

    def report_block(self, now: float) -> ReportBlock | None:
        """Build the report block about this source and start a new interval (A.3).

        :returns: ``None`` while the source is not valid (no report is due for it).
        """
        if not self.valid:
            return None
        expected = self.expected
        expected_interval = expected - self.expected_prior
        self.expected_prior = expected
        received_interval = self.received - self.received_prior
        self.received_prior = self.received
        lost_interval = expected_interval - received_interval
        if expected_interval == 0 or lost_interval <= 0:
            fraction = 0
        else:
            fraction = (lost_interval << 8) // expected_interval
        dlsr = delay_units(now - self._sr_arrival) if self._lsr else 0
        return ReportBlock(
            ssrc=self.ssrc,
            fraction_lost=min(fraction, 255),
            cumulative_lost=self.lost,
            highest_seq=self.extended_max & 0xFFFFFFFF,
            jitter=self.jitter,
            lsr=self._lsr,
            dlsr=dlsr,
        )


class SendStats:
    """What we sent on one SSRC, and what the peer's reports say about it.

    :param ssrc: our SSRC.
    :param clock_rate: its RTP clock rate.
    """

    __slots__ = (
        "ssrc",
        "clock_rate",
        "packets",
        "octets",
        "last_rtp_ts",
        "last_send",
        "remote_fraction_lost",
        "remote_lost",
        "remote_jitter",
        "rtt",
    )

    def __init__(self, ssrc: int, clock_rate: int) -> None:
        self.ssrc = ssrc
        self.clock_rate = clock_rate
        self.packets = 0
        self.octets = 0
        self.last_rtp_ts = 0
        self.last_send = -1.0
        self.remote_fraction_lost = 0
        self.remote_lost = 0
        self.remote_jitter = 0
        self.rtt: float | None = None

    def update(self, ts: int, payload_octets: int, now: float) -> None:
        """Account one packet sent (``payload_octets`` excludes header and padding, §6.4.1)."""
        self.packets += 1
        self.octets += payload_octets
        self.last_rtp_ts = ts
        self.last_send = now

    def sender_report(self, now: float, reports: tuple[ReportBlock, ...] = ()) -> SenderReport:
        """Our SR at ``now``: the RTP timestamp is extrapolated from the last packet sent so
        that it corresponds to the NTP timestamp (§6.4.1)."""
        rtp_ts = self.last_rtp_ts
        if self.last_send >= 0:
            rtp_ts += round((now - self.last_send) * self.clock_rate)
        return SenderReport(
            ssrc=self.ssrc,
            ntp_timestamp=ntp_timestamp(now),
            rtp_timestamp=rtp_ts & 0xFFFFFFFF,
            packet_count=self.packets,
            octet_count=self.octets,
            reports=reports,
        )

    def report_received(self, block: ReportBlock, now: float) -> None:
        """Take in the peer's report block about our SSRC (RR or SR), and the RTT from it."""
        self.remote_fraction_lost = block.fraction_lost
        self.remote_lost = block.cumulative_lost
        self.remote_jitter = block.jitter
        rtt = round_trip_time(ntp_middle(ntp_timestamp(now)), block.lsr, block.dlsr)
        if rtt is not None:
            self.rtt = rtt

    @property
    def remote_loss_percent(self) -> float:
        """The peer's cumulative loss as a percentage of what we sent."""
        return 100.0 * max(0, self.remote_lost) / self.packets if self.packets else 0.0

    @property
    def remote_jitter_seconds(self) -> float:
        """The jitter the peer reports for our stream, in seconds."""
        return self.remote_jitter / self.clock_rate
