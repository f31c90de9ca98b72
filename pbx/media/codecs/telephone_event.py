"""RFC 4733 telephone-events: the DTMF payload, a receiver and a sender schedule.

Payload (RFC 4733 §2.3)::

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |     event     |E|R| volume    |          duration             |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

All packets of one event share the RTP timestamp of the event's start (§2.3.1); the duration
grows with each update; the final packet has E set and is sent three times (§2.5.1.4). Event
codes 0-15 are the DTMF digits (§3.2, Table 7). The RTP header (PT, seq, timestamp, M bit) is
the caller's business: :class:`DtmfSender` says which packet gets M and when to send it.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final, NamedTuple

from pbx.core.errors import RemoteProtocolError

_EVENT: Final = struct.Struct("!BBH")

#: RFC 4733 §3.2 Table 7: DTMF digit -> event code.
DIGIT_EVENTS: Mapping[str, int] = MappingProxyType({d: i for i, d in enumerate("0123456789*#ABCD")})
#: Event code -> DTMF digit (codes 0-15 only; e.g. 16 = flash is not a digit).
EVENT_DIGITS: Mapping[int, str] = MappingProxyType({i: d for d, i in DIGIT_EVENTS.items()})

MAX_VOLUME: Final = 63
MAX_DURATION: Final = 0xFFFF


class TelephoneEvent(NamedTuple):
    """One decoded payload: ``volume`` is the power in -dBm0 (0..63), ``duration`` in
    timestamp units since the event's start."""

    event: int
    end: bool
    volume: int
    duration: int

    @classmethod
    def parse(cls, payload: bytes | bytearray | memoryview) -> TelephoneEvent:
        """Decode a payload; extra octets (a redundant RFC 2198 block would be a different
        PT) are ignored.

        :raises RemoteProtocolError: on a payload shorter than 4 octets.
        """
        if len(payload) < 4:
            raise RemoteProtocolError("telephone-event payload shorter than 4 octets")
        event, flags, duration = _EVENT.unpack_from(payload, 0)
        return cls(event, bool(flags & 0x80), flags & 0x3F, duration)

    def serialize(self) -> bytes:
        """The 4-octet payload (R bit zero).

        :raises ValueError: on a field out of range.
        """
        if not (0 <= self.event <= 255 and 0 <= self.volume <= MAX_VOLUME):
            raise ValueError("telephone-event field out of range")
        if not 0 <= self.duration <= MAX_DURATION:
            raise ValueError("telephone-event duration out of range")
        return _EVENT.pack(self.event, (0x80 if self.end else 0) | self.volume, self.duration)


def digit_to_event(digit: str) -> int:
    """``'0'..'9', '*', '#', 'A'..'D'`` (case-insensitive) -> event code.

    :raises ValueError: for anything else.
    """
    try:
        return DIGIT_EVENTS[digit.upper()]
    except KeyError:
        raise ValueError(f"not a DTMF digit: {digit!r}") from None


def event_to_digit(event: int) -> str | None:
    """Event code -> digit, ``None`` for non-DTMF events."""
    return EVENT_DIGITS.get(event)


#: A segment this long can only be part of a long event (RFC 4733 §2.5.1.3), not a keypress.
_LONG_SEGMENT: Final = 0x8000


class DtmfReceiver:
    """Turns a stream of telephone-event payloads into exactly one digit per event.

    An event is identified by its RTP timestamp (RFC 4733 §2.5.2.1). The first packet seen for
    a new timestamp yields the digit, so a lost start packet or lost end packets lose nothing;
    updates, retransmitted end packets and late packets of older events yield ``None``. A
    packet with a new timestamp but no M bit that continues an unfinished long event of the
    same code is the next segment of that event (§2.5.1.3), not a new digit.

    Known limit: if a digit's end packets *and* the next press of the same digit's start
    packets are all lost, the next press is still reported (new timestamp), unless the first
    segment was longer than 4 s at 8 kHz.

    Feed it one SSRC; call :meth:`reset` when the source changes.
    """

    def __init__(self) -> None:
        self._timestamp: int | None = None
        self.event = -1
        self.ended = True
        self.duration = 0
        self.volume = 0

    def reset(self) -> None:
        """Forget the current event (new SSRC or re-INVITE)."""
        self._timestamp = None
        self.event = -1
        self.ended = True
        self.duration = 0

    def feed(
        self, pt_payload: bytes | bytearray | memoryview, timestamp: int, marker: bool
    ) -> str | None:
        """Process the payload of one telephone-event packet.

        :returns: the digit when this packet starts a new DTMF event, else ``None``
            (non-DTMF events such as flash update the state but return ``None``).
        :raises RemoteProtocolError: on a payload shorter than 4 octets.
        """
        ev = TelephoneEvent.parse(pt_payload)
        if self._timestamp is not None:
            delta = ((timestamp - self._timestamp + 0x80000000) & 0xFFFFFFFF) - 0x80000000
            if delta < 0:
                return None
            if delta == 0 or (
                not marker
                and not self.ended
                and ev.event == self.event
                and self.duration >= _LONG_SEGMENT
            ):
                if ev.event == self.event:
                    self._timestamp = timestamp
                    self.ended = self.ended or ev.end
                    self.duration = max(self.duration, ev.duration) if delta == 0 else ev.duration
                return None
        self._timestamp = timestamp
        self.event = ev.event
        self.ended = ev.end
        self.duration = ev.duration
        self.volume = ev.volume
        return EVENT_DIGITS.get(ev.event)


class DtmfPacket(NamedTuple):
    """One packet of a sender schedule: send it ``offset_ms`` after the event starts, with the
    event's start timestamp, the next sequence number, and the M bit if ``marker``."""

    offset_ms: int
    payload: bytes
    marker: bool
    end: bool


class DtmfSender:
    """Builds the packet schedule of one DTMF digit (RFC 4733 §2.5.1).

    Packet *k* goes out at ``k * interval_ms`` carrying the duration reached at the end of its
    interval; the first has M set (§2.5.1.2); the packet that reaches the full duration has E
    set and is sent three times in all, one interval apart (§2.5.1.4). RFC 4733 suggests 50 ms
    updates; 20 ms (one audio frame) is what Asterisk and baresip send.

    :param clock_rate: the telephone-event clock rate from SDP (8000 normally).
    :param interval_ms: time between updates.
    :param volume: power level in -dBm0 (0..63).
    """

    def __init__(self, clock_rate: int = 8000, interval_ms: int = 20, volume: int = 10) -> None:
        if interval_ms <= 0 or not 0 <= volume <= MAX_VOLUME:
            raise ValueError("bad DTMF sender parameters")
        self.clock_rate = clock_rate
        self.interval_ms = interval_ms
        self.volume = volume

    def schedule(self, digit: str, duration_ms: int) -> list[DtmfPacket]:
        """All packets for ``digit`` lasting ``duration_ms``.

        :raises ValueError: for a non-DTMF character, or a duration that is not positive or
            does not fit one segment (65535 timestamp units; 8.19 s at 8 kHz).
        """
        event = digit_to_event(digit)
        total = duration_ms * self.clock_rate // 1000
        if duration_ms <= 0 or total > MAX_DURATION:
            raise ValueError(f"DTMF duration out of range: {duration_ms} ms")
        packets: list[DtmfPacket] = []
        k = 0
        while True:
            elapsed_ms = min((k + 1) * self.interval_ms, duration_ms)
            units = min(elapsed_ms * self.clock_rate // 1000, total)
            end = elapsed_ms >= duration_ms
            payload = TelephoneEvent(event, end, self.volume, units).serialize()
            packets.append(DtmfPacket(k * self.interval_ms, payload, k == 0, end))
            k += 1
            if end:
                break
        for _ in range(2):
            packets.append(DtmfPacket(k * self.interval_ms, packets[-1].payload, False, True))
            k += 1
        return packets
