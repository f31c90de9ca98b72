"""The RTCP side of one media stream: statistics per direction and our reports (RFC 3550 §6).

:class:`RtcpSession` keeps the receive statistics of the peer's current SSRC (and totals over
the SSRCs it used before), the send statistics of our SSRC, schedules and builds our compound
SR/RR + SDES (§6.1, §6.4), and takes in the peer's compounds: SR (for our LSR/DLSR), report
blocks about our SSRC (loss, jitter, RTT), RFC 4585 feedback (counted). Packet formats and the
statistics arithmetic are :mod:`pbx.media.rtcp` and :mod:`pbx.media.stats`; SRTCP and sockets
are the stream's. The stream updates :attr:`RtcpSession.tx` and the :class:`ReceiveStats`
returned by :meth:`RtcpSession.source` on its per-packet path.
"""

from __future__ import annotations

from dataclasses import dataclass

from pbx.core.errors import RemoteProtocolError
from pbx.core.tokens import TokenSource
from pbx.media import rtcp
from pbx.media.stats import ReceiveStats, SendStats


@dataclass(slots=True)
class RtcpCounters:
    received: int = 0
    malformed: int = 0
    feedback: int = 0


class RtcpSession:
    """Statistics and reports of one stream.

    :param ssrc: our SSRC.
    :param cname: our CNAME (§6.5.1), fixed for the stream's life.
    :param tokens: the randomisation of report intervals.
    """

    def __init__(self, ssrc: int, cname: str, tokens: TokenSource) -> None:
        self.ssrc = ssrc
        self.cname = cname
        self._tokens = tokens
        self.counters = RtcpCounters()
        #: The peer's current source; SSRC -1 until its first packet.
        self.rx = ReceiveStats(-1, 8000)
        self.tx = SendStats(ssrc, 8000)
        self._prior_received = 0
        self._prior_lost = 0
        self._reported_packets = 0
        self.next_report: float | None = None

    def source(self, ssrc: int, clock_rate: int, authenticated: bool) -> ReceiveStats:
        """Start statistics for a new remote SSRC (the previous one's go into the totals).

        :param authenticated: SRTP vouches for every packet, so A.1 probation is skipped.
        """
        old = self.rx
        if old.ssrc >= 0:
            self._prior_received += old.received
            self._prior_lost += max(0, old.lost)
        self.rx = ReceiveStats(ssrc, clock_rate, 0 if authenticated else 2)
        return self.rx

    @property
    def has_source(self) -> bool:
        return self.rx.ssrc >= 0

    @property
    def received_total(self) -> int:
        """Packets counted over every remote SSRC (A.1 leaves out probation packets)."""
        return self._prior_received + (self.rx.received if self.has_source else 0)

    @property
    def lost_total(self) -> int:
        """Packets lost over every remote SSRC (duplicates do not make it negative here)."""
        return self._prior_lost + (max(0, self.rx.lost) if self.has_source else 0)

    def schedule(self, now: float, interval: float) -> None:
        """Set :attr:`next_report` to ``interval`` randomised into [0.5, 1.5) x (§6.3.1), so
        legs started together do not report together; 0 stops reporting."""
        if interval <= 0:
            self.next_report = None
        else:
            self.next_report = now + interval * (0.5 + self._tokens.u32() / 2**32)

    def build_report(self, now: float, last_rtp_ts: int) -> bytes:
        """Our compound: SR if we sent since the last report, else RR, with a block about the
        peer's current source when it is valid; then SDES CNAME (§6.4, §6.1).

        :param last_rtp_ts: the RTP timestamp of our newest packet (the SR extrapolates it).
        """
        block = self.rx.report_block(now) if self.has_source else None
        blocks = (block,) if block is not None else ()
        tx = self.tx
        report: rtcp.SenderReport | rtcp.ReceiverReport
        if tx.packets > self._reported_packets:
            tx.last_rtp_ts = last_rtp_ts
            report = tx.sender_report(now, blocks)
        else:
            report = rtcp.ReceiverReport(self.ssrc, blocks)
        self._reported_packets = tx.packets
        return rtcp.report_compound(report, self.cname)

    def receive(self, data: bytes, now: float) -> bool:
        """Take in one plain RTCP compound; ``False`` (counted) if it is malformed."""
        try:
            packets = rtcp.parse_compound(data)
        except RemoteProtocolError:
            self.counters.malformed += 1
            return False
        self.counters.received += 1
        for packet in packets:
            if isinstance(packet, rtcp.SenderReport | rtcp.ReceiverReport):
                if isinstance(packet, rtcp.SenderReport) and packet.ssrc == self.rx.ssrc:
                    self.rx.sender_report_received(packet.ntp_timestamp, now)
                for block in packet.reports:
                    if block.ssrc == self.ssrc:
                        self.tx.report_received(block, now)
            elif isinstance(packet, rtcp.RawRtcp) and packet.packet_type in (
                rtcp.RTPFB,
                rtcp.PSFB,
            ):
                # RFC 4585 NACK/PLI from browsers: nothing to retransmit for relayed audio.
                self.counters.feedback += 1
        return True
