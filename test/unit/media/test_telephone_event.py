"""Tests for pbx.media.codecs.telephone_event (RFC 4733)."""

from __future__ import annotations

import struct
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from pbx.core.errors import RemoteProtocolError
from pbx.media import rtp
from pbx.media.codecs.telephone_event import (
    DtmfPacket,
    DtmfReceiver,
    DtmfSender,
    TelephoneEvent,
    digit_to_event,
    event_to_digit,
)

DATA = Path(__file__).parents[2] / "data" / "rtp"
EVENT_PT = 101

Event = tuple[bytes, int, bool]  # (payload, timestamp, marker)


def captured_events() -> list[Event]:
    """The telephone-event packets of the baresip capture, in arrival order."""
    data = (DATA / "baresip-dtmf-1-pound.rtpstream").read_bytes()
    events = []
    off = 0
    while off < len(data):
        _, length = struct.unpack_from("!IH", data, off)
        pkt = data[off + 6 : off + 6 + length]
        off += 6 + length
        if rtp.payload_type(pkt) == EVENT_PT:
            events.append((rtp.payload(pkt), rtp.timestamp(pkt), rtp.marker(pkt)))
    return events


def digits(receiver: DtmfReceiver, events: list[Event]) -> list[str]:
    out = []
    for payload, ts, marker in events:
        digit = receiver.feed(payload, ts, marker)
        if digit is not None:
            out.append(digit)
    return out


def event(code: int, end: bool, duration: int, ts: int, marker: bool = False) -> Event:
    return TelephoneEvent(code, end, 10, duration).serialize(), ts, marker


class PayloadTests(SynchronousTestCase):
    def test_parse_captured(self) -> None:
        events = captured_events()
        self.assertEqual(len(events), 24)
        self.assertEqual(TelephoneEvent.parse(events[0][0]), TelephoneEvent(1, False, 10, 160))
        self.assertEqual(TelephoneEvent.parse(events[9][0]), TelephoneEvent(1, True, 10, 1440))
        self.assertEqual(TelephoneEvent.parse(events[12][0]), TelephoneEvent(11, False, 10, 160))
        for payload, _, _ in events:
            self.assertEqual(TelephoneEvent.parse(payload).serialize(), payload)

    def test_reserved_bit_ignored(self) -> None:
        self.assertEqual(
            TelephoneEvent.parse(b"\x05\xca\x01\x00"), TelephoneEvent(5, True, 10, 256)
        )

    def test_errors(self) -> None:
        exc = self.assertRaises(RemoteProtocolError, TelephoneEvent.parse, b"\x01\x0a\x00")
        self.assertEqual(exc.message, "telephone-event payload shorter than 4 octets")
        self.assertRaises(ValueError, TelephoneEvent(256, False, 0, 0).serialize)
        self.assertRaises(ValueError, TelephoneEvent(1, False, 64, 0).serialize)
        self.assertRaises(ValueError, TelephoneEvent(1, False, 0, 65536).serialize)

    def test_digit_table(self) -> None:
        # RFC 4733 §3.2 Table 7.
        table = dict(zip("0123456789*#ABCD", range(16), strict=True))
        for digit, code in table.items():
            self.assertEqual(digit_to_event(digit), code)
            self.assertEqual(event_to_digit(code), digit)
        self.assertEqual(digit_to_event("d"), 15)
        self.assertIsNone(event_to_digit(16))  # flash
        for bad in ("E", "", "12", " "):
            self.assertRaises(ValueError, digit_to_event, bad)


class ReceiverTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.events = captured_events()
        self.receiver = DtmfReceiver()

    def test_captured_stream(self) -> None:
        self.assertEqual(digits(self.receiver, self.events), ["1", "#"])
        self.assertTrue(self.receiver.ended)
        self.assertEqual((self.receiver.event, self.receiver.duration), (11, 1440))

    def test_digit_reported_on_first_packet(self) -> None:
        self.assertEqual(self.receiver.feed(*self.events[0]), "1")
        self.assertFalse(self.receiver.ended)
        for e in self.events[1:12]:
            self.assertIsNone(self.receiver.feed(*e))

    def test_duplicates(self) -> None:
        doubled = [e for e in self.events for _ in range(2)]
        self.assertEqual(digits(self.receiver, doubled), ["1", "#"])

    def test_end_packets_lost(self) -> None:
        kept = [e for e in self.events if not TelephoneEvent.parse(e[0]).end]
        self.assertEqual(digits(self.receiver, kept), ["1", "#"])
        self.assertFalse(self.receiver.ended)

    def test_start_packets_lost(self) -> None:
        kept = self.events[3:12] + self.events[15:]
        self.assertEqual(digits(self.receiver, kept), ["1", "#"])

    def test_only_one_end_packet_each(self) -> None:
        kept = [self.events[11], self.events[23]]
        self.assertEqual(digits(self.receiver, kept), ["1", "#"])

    def test_reordered_and_late(self) -> None:
        first, second = self.events[:12], self.events[12:]
        mixed = first[:5] + [first[7], first[6], first[5]] + second[:3] + first[8:] + second[3:]
        self.assertEqual(digits(self.receiver, mixed), ["1", "#"])

    def test_same_digit_twice(self) -> None:
        presses = [
            event(5, False, 160, 8000, True),
            event(5, True, 800, 8000),
            event(5, True, 800, 8000),
            event(5, False, 160, 16000, True),
            event(5, True, 800, 16000),
        ]
        self.assertEqual(digits(self.receiver, presses), ["5", "5"])

    def test_same_digit_after_lost_end_and_lost_start(self) -> None:
        presses = [event(5, False, 160, 8000, True), event(5, False, 320, 12000)]
        self.assertEqual(digits(self.receiver, presses), ["5", "5"])

    def test_long_event_segments(self) -> None:
        # RFC 4733 §2.5.1.3: the next segment starts at ts + 0xFFFF without the M bit.
        segments = [
            event(3, False, 160, 1000, True),
            event(3, False, 0xFFFF, 1000),
            event(3, False, 160, 1000 + 0xFFFF),
            event(3, True, 8000, 1000 + 0xFFFF),
        ]
        self.assertEqual(digits(self.receiver, segments), ["3"])
        self.assertTrue(self.receiver.ended)
        # A new press of the same digit has M set: a new digit.
        self.assertEqual(self.receiver.feed(*event(3, False, 160, 200000, True)), "3")

    def test_timestamp_wrap(self) -> None:
        presses = [event(1, True, 800, 0xFFFFFF00, True), event(2, True, 800, 0x100, True)]
        self.assertEqual(digits(self.receiver, presses), ["1", "2"])

    def test_different_event_with_same_timestamp_ignored(self) -> None:
        presses = [event(1, False, 160, 500, True), event(2, False, 320, 500)]
        self.assertEqual(digits(self.receiver, presses), ["1"])
        self.assertEqual(self.receiver.event, 1)

    def test_non_dtmf_event(self) -> None:
        self.assertIsNone(self.receiver.feed(*event(16, False, 160, 500, True)))
        self.assertEqual(self.receiver.event, 16)
        self.assertEqual(self.receiver.feed(*event(0, False, 160, 2000, True)), "0")

    def test_reset(self) -> None:
        self.receiver.feed(*event(7, False, 160, 500, True))
        self.receiver.reset()
        # After a source change an unrelated stream may reuse any timestamp.
        self.assertEqual(self.receiver.feed(*event(7, False, 160, 500, True)), "7")


class SenderTests(SynchronousTestCase):
    def test_schedule_20ms(self) -> None:
        packets = DtmfSender().schedule("5", 100)
        self.assertEqual(
            [(p.offset_ms, TelephoneEvent.parse(p.payload), p.marker, p.end) for p in packets],
            [
                (0, TelephoneEvent(5, False, 10, 160), True, False),
                (20, TelephoneEvent(5, False, 10, 320), False, False),
                (40, TelephoneEvent(5, False, 10, 480), False, False),
                (60, TelephoneEvent(5, False, 10, 640), False, False),
                (80, TelephoneEvent(5, True, 10, 800), False, True),
                (100, TelephoneEvent(5, True, 10, 800), False, True),
                (120, TelephoneEvent(5, True, 10, 800), False, True),
            ],
        )

    def test_schedule_50ms_uneven(self) -> None:
        packets = DtmfSender(interval_ms=50, volume=0).schedule("#", 120)
        self.assertEqual(
            packets,
            [
                DtmfPacket(0, bytes([11, 0x00, 0x01, 0x90]), True, False),
                DtmfPacket(50, bytes([11, 0x00, 0x03, 0x20]), False, False),
                DtmfPacket(100, bytes([11, 0x80, 0x03, 0xC0]), False, True),
                DtmfPacket(150, bytes([11, 0x80, 0x03, 0xC0]), False, True),
                DtmfPacket(200, bytes([11, 0x80, 0x03, 0xC0]), False, True),
            ],
        )

    def test_short_digit_and_wideband_clock(self) -> None:
        packets = DtmfSender(clock_rate=16000).schedule("a", 10)
        self.assertEqual(len(packets), 3)
        self.assertTrue(packets[0].marker and all(p.end for p in packets))
        self.assertEqual(
            TelephoneEvent.parse(packets[0].payload), TelephoneEvent(12, True, 10, 160)
        )

    def test_receiver_reads_sender_once(self) -> None:
        receiver = DtmfReceiver()
        got = []
        for ts, digit in ((1000, "9"), (5000, "*"), (9000, "9")):
            for p in DtmfSender().schedule(digit, 180):
                d = receiver.feed(p.payload, ts, p.marker)
                if d is not None:
                    got.append(d)
        self.assertEqual(got, ["9", "*", "9"])

    def test_errors(self) -> None:
        sender = DtmfSender()
        self.assertRaises(ValueError, sender.schedule, "x", 100)
        self.assertRaises(ValueError, sender.schedule, "1", 0)
        self.assertEqual(len(sender.schedule("1", 8191)), 410 + 2)
        self.assertRaises(ValueError, sender.schedule, "1", 8192)
        self.assertRaises(ValueError, DtmfSender, 8000, 0)
        self.assertRaises(ValueError, DtmfSender, 8000, 20, 64)
