"""RTCP packets, compound parsing/building, report interval and RTT (RFC 3550 §6).

Owns: SR (§6.4.1), RR (§6.4.2), SDES (§6.5), BYE (§6.6) as typed values; every other packet
type in a compound packet (APP 204, RTPFB 205 and PSFB 206 from RFC 4585, XR 207 ...) is kept
as :class:`RawRtcp` and skipped by callers, because browsers send them whether or not AVPF
was negotiated. It also owns the §6.3 report interval and the §6.4.1 round-trip time from
LSR/DLSR, and NTP timestamp helpers.

Parsing is lenient where real peers are: the first packet need not be SR/RR (RFC 5506
reduced-size RTCP, and baresip sends BYE before SDES); it is strict about what would make
the next packet unreadable (version, lengths, padding). SRTCP protection is the caller's
(:mod:`pbx.media.srtp`); this module sees plain RTCP.

Plain :mod:`struct` is used instead of construct: the formats are small, and it keeps the
parsed values exactly typed under ``mypy --strict``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

from pbx.core.errors import RemoteProtocolError

SR: Final = 200
RR: Final = 201
SDES: Final = 202
BYE: Final = 203
APP: Final = 204
RTPFB: Final = 205
PSFB: Final = 206
XR: Final = 207

#: SDES item types (§6.5).
CNAME: Final = 1
NAME: Final = 2
TOOL: Final = 6

_HEADER: Final = struct.Struct("!BBH")
_SSRC: Final = struct.Struct("!I")
_SENDER_INFO: Final = struct.Struct("!IQIII")
_REPORT_BLOCK: Final = struct.Struct("!IIIIII")

MAX_COUNT: Final = 31
NTP_UNIX_OFFSET: Final = 2_208_988_800
"""Seconds from the NTP epoch (1900) to the Unix epoch (1970)."""


@dataclass(frozen=True, slots=True)
class ReportBlock:
    """One reception report (§6.4.1).

    :param fraction_lost: loss since the previous report, in 1/256 (0..255).
    :param cumulative_lost: packets lost since the start, signed 24-bit (duplicates can make
        it negative).
    :param highest_seq: extended highest sequence number received (cycles << 16 | seq).
    :param jitter: interarrival jitter in timestamp units.
    :param lsr: middle 32 bits of the NTP timestamp of the last SR received (0 = none).
    :param dlsr: delay since that SR, in 1/65536 s.
    """

    ssrc: int
    fraction_lost: int
    cumulative_lost: int
    highest_seq: int
    jitter: int
    lsr: int = 0
    dlsr: int = 0

    @classmethod
    def unpack_from(cls, data: bytes, offset: int) -> ReportBlock:
        """Decode the 24-octet block at ``offset``."""
        ssrc, lost, highest, jitter, lsr, dlsr = _REPORT_BLOCK.unpack_from(data, offset)
        cumulative = lost & 0xFFFFFF
        if cumulative & 0x800000:
            cumulative -= 0x1000000
        return cls(ssrc, lost >> 24, cumulative, highest, jitter, lsr, dlsr)

    def serialize(self) -> bytes:
        """The 24-octet block; out-of-range loss counts saturate."""
        # §6.4.1: cumulative loss saturates at the 24-bit signed limits.
        cumulative = max(-0x800000, min(0x7FFFFF, self.cumulative_lost)) & 0xFFFFFF
        return _REPORT_BLOCK.pack(
            self.ssrc,
            (self.fraction_lost << 24) | cumulative,
            self.highest_seq & 0xFFFFFFFF,
            self.jitter & 0xFFFFFFFF,
            self.lsr,
            self.dlsr,
        )


def _header(count: int, packet_type: int, body_length: int) -> bytes:
    if count > MAX_COUNT:
        raise ValueError(f"RTCP count {count} exceeds 31")
    return _HEADER.pack(0x80 | count, packet_type, body_length // 4)


@dataclass(frozen=True, slots=True)
class SenderReport:
    """SR (PT 200). ``ntp_timestamp`` is the 64-bit NTP time; ``extension`` is the
    profile-specific tail (kept, not interpreted)."""

    ssrc: int
    ntp_timestamp: int
    rtp_timestamp: int
    packet_count: int
    octet_count: int
    reports: tuple[ReportBlock, ...] = ()
    extension: bytes = b""

    def serialize(self) -> bytes:
        """:raises ValueError: with more than 31 report blocks."""
        body = _SENDER_INFO.pack(
            self.ssrc,
            self.ntp_timestamp,
            self.rtp_timestamp,
            self.packet_count & 0xFFFFFFFF,
            self.octet_count & 0xFFFFFFFF,
        )
        body += b"".join(r.serialize() for r in self.reports) + self.extension
        return _header(len(self.reports), SR, len(body)) + body


@dataclass(frozen=True, slots=True)
class ReceiverReport:
    """RR (PT 201)."""

    ssrc: int
    reports: tuple[ReportBlock, ...] = ()
    extension: bytes = b""

    def serialize(self) -> bytes:
        """:raises ValueError: with more than 31 report blocks."""
        body = _SSRC.pack(self.ssrc) + b"".join(r.serialize() for r in self.reports)
        body += self.extension
        return _header(len(self.reports), RR, len(body)) + body


@dataclass(frozen=True, slots=True)
class SdesChunk:
    """One SSRC's items: ``(type, value)`` pairs in wire order."""

    ssrc: int
    items: tuple[tuple[int, bytes], ...]

    @property
    def cname(self) -> str | None:
        """The first CNAME item, decoded as UTF-8 (``None`` if the chunk has none)."""
        for kind, value in self.items:
            if kind == CNAME:
                return value.decode("utf-8", "replace")
        return None

    def serialize(self) -> bytes:
        """The chunk, null-terminated and padded to 32 bits.

        :raises ValueError: on an item longer than 255 octets.
        """
        out = bytearray(_SSRC.pack(self.ssrc))
        for kind, value in self.items:
            if len(value) > 255:
                raise ValueError("SDES item longer than 255 octets")
            out += bytes((kind, len(value))) + value
        # §6.5: one or more null octets end the item list and pad the chunk to 32 bits.
        out += bytes(4 - len(out) % 4)
        return bytes(out)


@dataclass(frozen=True, slots=True)
class SourceDescription:
    """SDES (PT 202)."""

    chunks: tuple[SdesChunk, ...]

    def serialize(self) -> bytes:
        """:raises ValueError: with more than 31 chunks or an oversized item."""
        body = b"".join(c.serialize() for c in self.chunks)
        return _header(len(self.chunks), SDES, len(body)) + body


@dataclass(frozen=True, slots=True)
class Bye:
    """BYE (PT 203) with an optional reason (raw octets, UTF-8 by §6.6)."""

    sources: tuple[int, ...]
    reason: bytes | None = None

    def serialize(self) -> bytes:
        """:raises ValueError: with more than 31 sources or a reason over 255 octets."""
        body = b"".join(_SSRC.pack(s) for s in self.sources)
        if self.reason is not None:
            if len(self.reason) > 255:
                raise ValueError("BYE reason longer than 255 octets")
            body += bytes((len(self.reason),)) + self.reason
            body += bytes(-len(body) % 4)
        return _header(len(self.sources), BYE, len(body)) + body


@dataclass(frozen=True, slots=True)
class RawRtcp:
    """Any other packet (APP, RTPFB, PSFB, XR, unknown): header fields and the body after the
    4-octet header, padding removed. ``count`` is the 5-bit RC/SC/FMT/subtype field."""

    packet_type: int
    count: int
    body: bytes

    @property
    def sender_ssrc(self) -> int | None:
        """The first word of the body: the sender's SSRC in APP, RTPFB, PSFB and XR."""
        if len(self.body) < 4:
            return None
        value: int = _SSRC.unpack_from(self.body, 0)[0]
        return value

    def serialize(self) -> bytes:
        """:raises ValueError: if the body is not a whole number of 32-bit words."""
        if len(self.body) % 4:
            raise ValueError("RTCP body must be a multiple of 4 octets")
        return _header(self.count, self.packet_type, len(self.body)) + self.body


RtcpPacket = SenderReport | ReceiverReport | SourceDescription | Bye | RawRtcp


def _parse_reports(body: bytes, offset: int, count: int) -> tuple[tuple[ReportBlock, ...], bytes]:
    end = offset + 24 * count
    if end > len(body):
        raise RemoteProtocolError("RTCP report blocks overrun the packet")
    reports = tuple(ReportBlock.unpack_from(body, offset + 24 * i) for i in range(count))
    return reports, body[end:]


def _parse_sdes(body: bytes, count: int) -> SourceDescription:
    chunks = []
    off = 0
    for _ in range(count):
        if off + 4 > len(body):
            raise RemoteProtocolError("SDES chunk overruns the packet")
        ssrc: int = _SSRC.unpack_from(body, off)[0]
        off += 4
        items = []
        while True:
            if off >= len(body):
                raise RemoteProtocolError("SDES item list not terminated")
            kind = body[off]
            if kind == 0:
                # The null item ends the list; skip to the next 32-bit boundary.
                off = (off + 4) & ~3
                break
            if off + 2 > len(body) or off + 2 + body[off + 1] > len(body):
                raise RemoteProtocolError("SDES item overruns the packet")
            length = body[off + 1]
            items.append((kind, body[off + 2 : off + 2 + length]))
            off += 2 + length
        chunks.append(SdesChunk(ssrc, tuple(items)))
    return SourceDescription(tuple(chunks))


def _parse_bye(body: bytes, count: int) -> Bye:
    if 4 * count > len(body):
        raise RemoteProtocolError("BYE sources overrun the packet")
    sources = struct.unpack_from(f"!{count}I", body, 0)
    reason = None
    off = 4 * count
    if off < len(body):
        length = body[off]
        if off + 1 + length > len(body):
            raise RemoteProtocolError("BYE reason overruns the packet")
        reason = body[off + 1 : off + 1 + length]
    return Bye(sources, reason)


def parse_compound(data: bytes | bytearray | memoryview) -> list[RtcpPacket]:
    """Split and parse a (compound or RFC 5506 reduced-size) RTCP datagram.

    :raises RemoteProtocolError: wrong version, a length running past the datagram, padding
        on a packet other than the last or a padding count larger than the packet, or a
        malformed SR/RR/SDES/BYE body. Callers count and drop the datagram.
    """
    data = bytes(data)
    packets: list[RtcpPacket] = []
    off = 0
    total = len(data)
    if total < 4:
        raise RemoteProtocolError("RTCP packet shorter than its header")
    while off < total:
        if off + 4 > total:
            raise RemoteProtocolError("trailing octets after the last RTCP packet")
        b0, packet_type, words = _HEADER.unpack_from(data, off)
        if b0 >> 6 != 2:
            raise RemoteProtocolError("RTCP version is not 2")
        end = off + 4 * (words + 1)
        if end > total:
            raise RemoteProtocolError("RTCP length runs past the datagram")
        body = data[off + 4 : end]
        if b0 & 0x20:
            # §6.4.1: only the last packet of a compound may be padded.
            pad = data[end - 1]
            if end != total or pad == 0 or pad > len(body):
                raise RemoteProtocolError("bad RTCP padding")
            body = body[:-pad]
        count = b0 & 0x1F
        packets.append(_parse_one(packet_type, count, body))
        off = end
    return packets


def _parse_one(packet_type: int, count: int, body: bytes) -> RtcpPacket:
    if packet_type == SR:
        if len(body) < _SENDER_INFO.size:
            raise RemoteProtocolError("SR shorter than its sender info")
        ssrc, ntp, rtp_ts, packets, octets = _SENDER_INFO.unpack_from(body, 0)
        reports, extension = _parse_reports(body, _SENDER_INFO.size, count)
        return SenderReport(ssrc, ntp, rtp_ts, packets, octets, reports, extension)
    if packet_type == RR:
        if len(body) < 4:
            raise RemoteProtocolError("RR shorter than its SSRC")
        reports, extension = _parse_reports(body, 4, count)
        return ReceiverReport(_SSRC.unpack_from(body, 0)[0], reports, extension)
    if packet_type == SDES:
        return _parse_sdes(body, count)
    if packet_type == BYE:
        return _parse_bye(body, count)
    return RawRtcp(packet_type, count, body)


def serialize_compound(packets: list[RtcpPacket] | tuple[RtcpPacket, ...]) -> bytes:
    """Concatenate packets into one compound datagram."""
    return b"".join(p.serialize() for p in packets)


def report_compound(report: SenderReport | ReceiverReport, cname: str) -> bytes:
    """The compound pbx sends every interval: SR or RR, then SDES with our CNAME (§6.1).

    Report blocks beyond 31 go into additional RR packets after the first (§6.4.2).
    """
    first: SenderReport | ReceiverReport
    reports = report.reports
    if isinstance(report, SenderReport):
        first = SenderReport(
            report.ssrc,
            report.ntp_timestamp,
            report.rtp_timestamp,
            report.packet_count,
            report.octet_count,
            reports[:MAX_COUNT],
            report.extension,
        )
    else:
        first = ReceiverReport(report.ssrc, reports[:MAX_COUNT], report.extension)
    packets: list[RtcpPacket] = [first]
    for i in range(MAX_COUNT, len(reports), MAX_COUNT):
        packets.append(ReceiverReport(report.ssrc, reports[i : i + MAX_COUNT]))
    sdes = SdesChunk(report.ssrc, ((CNAME, cname.encode("utf-8")),))
    packets.append(SourceDescription((sdes,)))
    return serialize_compound(packets)


# --- time: NTP timestamps, LSR/DLSR and RTT (§4, §6.4.1) ---


def ntp_timestamp(unix_time: float) -> int:
    """64-bit NTP timestamp (32.32 fixed point since 1900) of a Unix time in seconds."""
    return round((unix_time + NTP_UNIX_OFFSET) * (1 << 32)) & 0xFFFFFFFFFFFFFFFF


def ntp_to_unix(ntp: int) -> float:
    """Inverse of :func:`ntp_timestamp` (within the current NTP era)."""
    return ntp / (1 << 32) - NTP_UNIX_OFFSET


def ntp_middle(ntp: int) -> int:
    """The middle 32 bits of a 64-bit NTP timestamp: the LSR of a report block."""
    return (ntp >> 16) & 0xFFFFFFFF


def delay_units(seconds: float) -> int:
    """Seconds -> 1/65536 s units (DLSR), saturating at 32 bits."""
    return max(0, min(0xFFFFFFFF, round(seconds * 65536)))


def round_trip_time(arrival_middle: int, lsr: int, dlsr: int) -> float | None:
    """RTT in seconds from a report block (§6.4.1): ``A - LSR - DLSR`` in 1/65536 s.

    :param arrival_middle: :func:`ntp_middle` of the time the report arrived.
    :returns: ``None`` when LSR is 0 (the peer has not received our SR yet); a negative
        result (clock granularity) is returned as 0.
    """
    if lsr == 0:
        return None
    units = ((arrival_middle - lsr - dlsr + 0x80000000) & 0xFFFFFFFF) - 0x80000000
    return max(0, units) / 65536


# --- report interval (§6.3.1, Appendix A.7) ---

RTCP_MIN_INTERVAL: Final = 5.0
"""§6.2 recommended minimum interval in seconds."""
SENDER_BW_FRACTION: Final = 0.25
RECEIVER_BW_FRACTION: Final = 0.75
COMPENSATION: Final = 2.71828 - 1.5
"""e - 3/2: compensates the timer reconsideration's bias toward short intervals (§6.3.1)."""


def report_interval(
    members: int,
    senders: int,
    rtcp_bandwidth: float,
    we_sent: bool,
    avg_rtcp_size: float,
    initial: bool,
    random_value: float,
    min_interval: float = RTCP_MIN_INTERVAL,
) -> float:
    """Seconds until the next RTCP report (RFC 3550 §6.3.1, the A.7 algorithm).

    :param members: session members including us.
    :param senders: members that sent RTP since our last report (including us).
    :param rtcp_bandwidth: the RTCP share in octets/s (5 % of the session bandwidth, §6.2).
    :param we_sent: whether we sent RTP since our last report.
    :param avg_rtcp_size: running average compound size in octets including UDP/IP headers
        (see :func:`update_avg_rtcp_size`).
    :param initial: before our first report: the minimum is halved.
    :param random_value: uniform in [0, 1) from the caller's random source; it becomes the
        [0.5, 1.5) randomisation factor that avoids synchronised reports.
    :param min_interval: 5 s per §6.2; WebRTC-style endpoints use 1 s (or the §6.2 reduced
        minimum, 360 / session kbit/s).
    """
    minimum = min_interval / 2 if initial else min_interval
    n = members
    bandwidth = rtcp_bandwidth
    # §6.3.1: senders get 1/4 of the RTCP bandwidth when they are at most 1/4 of the members.
    if senders <= members * SENDER_BW_FRACTION:
        if we_sent:
            bandwidth *= SENDER_BW_FRACTION
            n = senders
        else:
            bandwidth *= RECEIVER_BW_FRACTION
            n -= senders
    t = avg_rtcp_size * n / bandwidth if bandwidth > 0 else minimum
    t = max(t, minimum)
    return t * (random_value + 0.5) / COMPENSATION


def update_avg_rtcp_size(avg: float, packet_size: int) -> float:
    """§6.3.3: ``avg_rtcp_size = 1/16 * packet_size + 15/16 * avg_rtcp_size``."""
    return packet_size / 16 + avg * 15 / 16
