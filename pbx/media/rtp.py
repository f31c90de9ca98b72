"""RTP fixed header access and per-stream rewriting (RFC 3550 §5).

This module owns the RTP packet *header*: fast accessors on raw packets for the per-packet path,
a :class:`RtpHeader` value for control-rate code and tests, modular sequence/timestamp
arithmetic, and :class:`StreamRewriter`, which gives a bridged leg one continuous outgoing
stream (SSRC, sequence number and timestamp space) whatever the far side does.

Hot-path rules (a bridged call is ~200 packet operations a second): accessors index the buffer
or use precompiled :class:`struct.Struct` objects, rewriting is in place with ``pack_into``,
and nothing allocates beyond what CPython must (``unpack_from`` tuples and large ints).
Payload formats (G.711, RFC 4733) live in :mod:`pbx.media.codecs`; RTCP in
:mod:`pbx.media.rtcp`.

Layout (RFC 3550 §5.1)::

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |V=2|P|X|  CC   |M|     PT      |       sequence number         |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                           timestamp                           |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |           synchronization source (SSRC) identifier            |
    +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
    |            contributing source (CSRC) identifiers             |
    |                             ....                              |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
"""

from __future__ import annotations

import struct
from typing import Final, NamedTuple, TypeVar

from pbx.core.errors import RemoteProtocolError

#: V/P/X/CC, M/PT, sequence number, timestamp, SSRC.
RTP_HEADER: Final = struct.Struct("!BBHII")
#: The header from byte 1 on: what :func:`rewrite` replaces (M/PT, seq, ts, SSRC).
_TAIL: Final = struct.Struct("!BHII")
_U16: Final = struct.Struct("!H")
_U32: Final = struct.Struct("!I")

RTP_VERSION: Final = 2
FIXED_HEADER_LENGTH: Final = 12
SEQ_MOD: Final = 1 << 16

Packet = TypeVar("Packet", bytes, bytearray, memoryview)
"""A raw packet: accessors work on all three buffer types; slices keep the caller's type."""


def payload_type(pkt: bytes | bytearray | memoryview) -> int:
    """The 7-bit payload type."""
    return pkt[1] & 0x7F


def marker(pkt: bytes | bytearray | memoryview) -> bool:
    """The M bit (start of a talkspurt for audio, RFC 3551 §4.1)."""
    return pkt[1] >= 0x80


def seq(pkt: bytes | bytearray | memoryview) -> int:
    """The 16-bit sequence number."""
    return (pkt[2] << 8) | pkt[3]


def timestamp(pkt: bytes | bytearray | memoryview) -> int:
    """The 32-bit RTP timestamp."""
    value: int = _U32.unpack_from(pkt, 4)[0]
    return value


def ssrc(pkt: bytes | bytearray | memoryview) -> int:
    """The 32-bit synchronization source identifier."""
    value: int = _U32.unpack_from(pkt, 8)[0]
    return value


def header_length(pkt: bytes | bytearray | memoryview) -> int:
    """Length of the header including CSRCs and the extension (RFC 3550 §5.1, §5.3.1).

    :returns: the offset of the payload, or ``-1`` if the packet is shorter than its header
        claims or is not RTP version 2. The per-packet path checks for ``-1`` and drops.
    """
    n = len(pkt)
    if n < FIXED_HEADER_LENGTH:
        return -1
    b0 = pkt[0]
    if b0 >> 6 != RTP_VERSION:
        return -1
    length = FIXED_HEADER_LENGTH + 4 * (b0 & 0x0F)
    if b0 & 0x10:
        # §5.3.1: 16-bit profile-defined field, then the extension length in 32-bit words,
        # not counting this 4-octet extension header itself.
        if n < length + 4:
            return -1
        length += 4 + 4 * ((pkt[length + 2] << 8) | pkt[length + 3])
    if length > n:
        return -1
    return length


def padding_length(pkt: bytes | bytearray | memoryview) -> int:
    """Number of padding octets at the end (0 if the P bit is clear), RFC 3550 §5.1.

    :returns: ``-1`` if the header is malformed or the padding count overruns the payload.
    """
    start = header_length(pkt)
    if start < 0:
        return -1
    if not pkt[0] & 0x20:
        return 0
    count = pkt[-1]
    if count == 0 or start + count > len(pkt):
        return -1
    return count


def payload(pkt: Packet) -> Packet:
    """The payload without header, CSRCs, extension and padding; same buffer type as ``pkt``.

    :raises RemoteProtocolError: if the header or padding is malformed (control-rate use; the
        per-packet path should call :func:`header_length` and drop on ``-1``).
    """
    start = header_length(pkt)
    if start < 0:
        raise RemoteProtocolError("malformed RTP header")
    end = len(pkt)
    if pkt[0] & 0x20:
        count = pkt[-1]
        if count == 0 or start + count > end:
            raise RemoteProtocolError("bad RTP padding")
        end -= count
    return pkt[start:end]


def rewrite(pkt: bytearray, pt: int, seq: int, ts: int, ssrc: int) -> None:
    """Replace payload type, sequence number, timestamp and SSRC in place; keep the M bit."""
    _TAIL.pack_into(pkt, 1, (pkt[1] & 0x80) | pt, seq, ts, ssrc)


def set_marker(pkt: bytearray, value: bool = True) -> None:
    """Set or clear the M bit in place."""
    if value:
        pkt[1] |= 0x80
    else:
        pkt[1] &= 0x7F


def seq_diff(a: int, b: int) -> int:
    """``a - b`` for 16-bit sequence numbers, as a signed value in [-32768, 32767]."""
    return ((a - b + 0x8000) & 0xFFFF) - 0x8000


def ts_diff(a: int, b: int) -> int:
    """``a - b`` for 32-bit timestamps, as a signed value in [-2**31, 2**31 - 1]."""
    return ((a - b + 0x80000000) & 0xFFFFFFFF) - 0x80000000


class RtpHeader(NamedTuple):
    """A parsed RTP header, for control-rate code and tests (the per-packet path uses accessors).

    ``padding`` is the number of padding octets at the end of the packet (0 = P bit clear),
    ``extension`` is ``(profile, data)`` of a §5.3.1 header extension, ``data`` a multiple of
    four octets.
    """

    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    marker: bool = False
    csrcs: tuple[int, ...] = ()
    extension: tuple[int, bytes] | None = None
    padding: int = 0

    @classmethod
    def parse(cls, pkt: bytes | bytearray | memoryview) -> RtpHeader:
        """Parse the header of a whole packet (padding is read from its last octet).

        :raises RemoteProtocolError: truncated packet, version other than 2, bad padding.
        """
        start = header_length(pkt)
        if start < 0:
            raise RemoteProtocolError("malformed RTP header")
        pad = padding_length(pkt)
        if pad < 0:
            raise RemoteProtocolError("bad RTP padding")
        b0, b1, sequence, ts, source = RTP_HEADER.unpack_from(pkt, 0)
        cc = b0 & 0x0F
        csrcs = struct.unpack_from(f"!{cc}I", pkt, FIXED_HEADER_LENGTH)
        extension = None
        if b0 & 0x10:
            off = FIXED_HEADER_LENGTH + 4 * cc
            profile = _U16.unpack_from(pkt, off)[0]
            extension = (profile, bytes(pkt[off + 4 : start]))
        return cls(
            payload_type=b1 & 0x7F,
            sequence=sequence,
            timestamp=ts,
            ssrc=source,
            marker=bool(b1 & 0x80),
            csrcs=csrcs,
            extension=extension,
            padding=pad,
        )

    def serialize(self, payload: bytes = b"") -> bytes:
        """The packet bytes: header, ``payload``, then padding (zeros, count in the last octet).

        :raises ValueError: on out-of-range fields, more than 15 CSRCs or an extension whose
            length is not a multiple of 4.
        """
        if not 0 <= self.payload_type <= 0x7F or len(self.csrcs) > 15 or self.padding > 255:
            raise ValueError("RTP header field out of range")
        b0 = (RTP_VERSION << 6) | len(self.csrcs)
        if self.padding:
            b0 |= 0x20
        parts = [
            RTP_HEADER.pack(
                b0 | (0x10 if self.extension is not None else 0),
                (0x80 if self.marker else 0) | self.payload_type,
                self.sequence,
                self.timestamp,
                self.ssrc,
            ),
            struct.pack(f"!{len(self.csrcs)}I", *self.csrcs),
        ]
        if self.extension is not None:
            profile, data = self.extension
            if len(data) % 4:
                raise ValueError("RTP header extension length must be a multiple of 4")
            parts.append(struct.pack("!HH", profile, len(data) // 4))
            parts.append(data)
        parts.append(payload)
        if self.padding:
            parts.append(bytes(self.padding - 1) + bytes((self.padding,)))
        return b"".join(parts)


#: RFC 3550 Appendix A.1: a jump larger than this is a restart, not loss or reordering.
MAX_DROPOUT: Final = 3000


class StreamRewriter:
    """One outgoing RTP stream built from whatever arrives on the other leg.

    Maps each input (SSRC, sequence number, timestamp) to one continuous output space with our
    own SSRC: while the input source stays the same, output = input + offset (so loss, reorder
    and duplicates pass through unchanged for the receiver's statistics); when the input SSRC
    changes, or its sequence number jumps by more than :data:`MAX_DROPOUT`, the offsets are
    re-anchored so the output continues at the next sequence number and one frame (or the
    elapsed time, when ``now`` is given) later, and the M bit is set on that first packet so the
    receiver resynchronises its playout (RFC 3550 §5.1, RFC 3551 §4.1). This is what a leg needs
    when the other side re-INVITEs to a new source or a Playback hands over to a bridge.

    A late packet of the *previous* source (its sequence number not beyond the last one seen
    from it) keeps that source's mapping, so it reaches the receiver as an old packet instead
    of causing two more switches.

    :param ssrc: our SSRC for this stream (from :class:`pbx.core.tokens.TokenSource`).
    :param initial_seq: the first output sequence number (random per RFC 3550 §5.1).
    :param initial_ts: the first output timestamp (random per RFC 3550 §5.1).
    :param clock_rate: the output clock rate, used to turn elapsed time into timestamp units.
    :param frame_ms: assumed gap across a source switch when ``now`` is not given.
    """

    __slots__ = (
        "ssrc",
        "clock_rate",
        "_frame",
        "_in_ssrc",
        "_in_seq",
        "_seq_off",
        "_in_ts_base",
        "_out_ts_base",
        "_out_seq",
        "_out_ts",
        "_last_now",
        "_started",
        "_prev",
    )

    def __init__(
        self,
        ssrc: int,
        initial_seq: int,
        initial_ts: int,
        clock_rate: int = 8000,
        frame_ms: int = 20,
    ) -> None:
        self.ssrc = ssrc
        self.clock_rate = clock_rate
        self._frame = clock_rate * frame_ms // 1000
        self._in_ssrc = -1
        self._in_seq = 0
        self._seq_off = 0
        self._in_ts_base = 0
        self._out_ts_base = 0
        # The output values of the newest packet: a source switch continues from them.
        self._out_seq = (initial_seq - 1) & 0xFFFF
        self._out_ts = (initial_ts - self._frame) & 0xFFFFFFFF
        self._last_now = -1.0
        self._started = False
        # The previous source's (ssrc, last seq, seq offset, input ts base, output ts base).
        self._prev = (-1, 0, 0, 0, 0)

    @property
    def last_seq(self) -> int:
        """The highest output sequence number written so far."""
        return self._out_seq

    @property
    def last_timestamp(self) -> int:
        """The output timestamp of the packet with :attr:`last_seq`."""
        return self._out_ts

    def resync(self) -> None:
        """Re-anchor on the next packet even if its source looks unchanged (e.g. when a
        Playback that reused the input SSRC ends)."""
        self._in_ssrc = -1

    def rewrite(
        self, pkt: bytearray, clock_rate_ratio: float = 1, now: float | None = None
    ) -> None:
        """Rewrite SSRC, sequence number and timestamp of one packet in place.

        :param pkt: a packet that passed :func:`header_length`; the payload type is kept.
        :param clock_rate_ratio: output clock rate / input clock rate (1 for relay and G.711
            transcoding; e.g. 1/6 for 48 kHz in, 8 kHz out); scales input timestamp deltas.
        :param now: arrival time in seconds; lets a source switch advance the timestamp by
            the real gap instead of one frame.
        """
        b1, in_seq, in_ts, in_ssrc = _TAIL.unpack_from(pkt, 1)
        d = ((in_seq - self._in_seq + 0x8000) & 0xFFFF) - 0x8000
        if in_ssrc != self._in_ssrc or d > MAX_DROPOUT or d < -MAX_DROPOUT:
            prev_ssrc, prev_seq, seq_off, in_base, out_base = self._prev
            if in_ssrc == prev_ssrc != self._in_ssrc and seq_diff(in_seq, prev_seq) <= 0:
                dts = ts_diff(in_ts, in_base)
                if clock_rate_ratio != 1:
                    dts = round(dts * clock_rate_ratio)
                out_seq = (in_seq + seq_off) & 0xFFFF
                _TAIL.pack_into(pkt, 1, b1, out_seq, (out_base + dts) & 0xFFFFFFFF, self.ssrc)
                return
            self._switch(in_ssrc, in_seq, in_ts, now)
            b1 |= 0x80
            d = 1
        out_seq = (in_seq + self._seq_off) & 0xFFFF
        dts = ((in_ts - self._in_ts_base + 0x80000000) & 0xFFFFFFFF) - 0x80000000
        if clock_rate_ratio == 1:
            out_ts = (self._out_ts_base + dts) & 0xFFFFFFFF
        else:
            out_ts = (self._out_ts_base + round(dts * clock_rate_ratio)) & 0xFFFFFFFF
        _TAIL.pack_into(pkt, 1, b1, out_seq, out_ts, self.ssrc)
        if d > 0:
            self._in_seq = in_seq
            self._out_seq = out_seq
            self._out_ts = out_ts
            if now is not None:
                self._last_now = now
            if dts > 0x40000000 or dts < -0x40000000:
                # Keep the signed delta far from wrapping on very long calls.
                self._in_ts_base = in_ts
                self._out_ts_base = out_ts

    def _switch(self, in_ssrc: int, in_seq: int, in_ts: int, now: float | None) -> None:
        gap = self._frame
        if self._started and now is not None and self._last_now >= 0:
            gap = max(gap, round((now - self._last_now) * self.clock_rate))
        if self._in_ssrc >= 0:
            self._prev = (
                self._in_ssrc,
                self._in_seq,
                self._seq_off,
                self._in_ts_base,
                self._out_ts_base,
            )
        self._started = True
        self._in_ssrc = in_ssrc
        self._in_seq = in_seq
        self._seq_off = (self._out_seq + 1 - in_seq) & 0xFFFF
        self._in_ts_base = in_ts
        self._out_ts_base = (self._out_ts + gap) & 0xFFFFFFFF
