"""Tests for pbx.media.rtp: header accessors, RtpHeader, rewrite, StreamRewriter."""

from __future__ import annotations

import struct
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from pbx.core.errors import RemoteProtocolError
from pbx.media import rtp

DATA = Path(__file__).parents[2] / "data" / "rtp"


def load(name: str) -> bytes:
    return (DATA / name).read_bytes()


def packet(seq: int, ts: int, ssrc: int, pt: int = 0, marker: bool = False) -> bytearray:
    return bytearray(rtp.RtpHeader(pt, seq, ts, ssrc, marker).serialize(b"\xff" * 160))


def fields(pkt: bytearray) -> tuple[int, int, int, bool]:
    return rtp.seq(pkt), rtp.timestamp(pkt), rtp.ssrc(pkt), rtp.marker(pkt)


class CapturedPacketTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.data = load("baresip-pcmu-first.bin")

    def test_accessors(self) -> None:
        pkt = self.data
        self.assertEqual(rtp.payload_type(pkt), 0)
        self.assertTrue(rtp.marker(pkt))
        self.assertEqual(rtp.seq(pkt), 0x1278)
        self.assertEqual(rtp.timestamp(pkt), 0x9345)
        self.assertEqual(rtp.ssrc(pkt), 0x5B35E25E)
        self.assertEqual(rtp.header_length(pkt), 12)
        self.assertEqual(rtp.padding_length(pkt), 0)
        self.assertEqual(rtp.payload(pkt), pkt[12:])
        self.assertEqual(len(rtp.payload(pkt)), 160)

    def test_accessors_on_every_buffer_type(self) -> None:
        array = bytearray(self.data)
        view = memoryview(self.data)
        for buf in (array, view):
            self.assertEqual(rtp.seq(buf), 0x1278)
            self.assertEqual(rtp.ssrc(buf), 0x5B35E25E)
            self.assertEqual(rtp.header_length(buf), 12)
        self.assertEqual(rtp.payload(array), bytearray(self.data[12:]))
        self.assertIsInstance(rtp.payload(array), bytearray)
        self.assertIsInstance(rtp.payload(view), memoryview)
        self.assertEqual(bytes(rtp.payload(view)), self.data[12:])

    def test_header_round_trip(self) -> None:
        header = rtp.RtpHeader.parse(self.data)
        self.assertEqual(header, rtp.RtpHeader(0, 0x1278, 0x9345, 0x5B35E25E, True))
        self.assertEqual(header.serialize(rtp.payload(self.data)), self.data)

    def test_fixed_header_struct(self) -> None:
        self.assertEqual(
            rtp.RTP_HEADER.unpack_from(self.data), (0x80, 0x80, 0x1278, 0x9345, 0x5B35E25E)
        )


class HeaderLengthTests(SynchronousTestCase):
    # V=2 P=1 X=1 CC=2, M=0 PT=111; 2 CSRCs; RFC 8285 one-byte extension (0xBEDE), 1 word;
    # 3 payload octets; 4 padding octets.
    FULL = bytes.fromhex(
        "b2 6f 00 07 00 00 03 c0 11 22 33 44"
        " 00 00 00 0a 00 00 00 0b"
        " be de 00 01 10 ff 00 00"
        " aa bb cc"
        " 00 00 00 04"
    )

    def test_csrc_extension_padding(self) -> None:
        self.assertEqual(rtp.header_length(self.FULL), 28)
        self.assertEqual(rtp.padding_length(self.FULL), 4)
        self.assertEqual(rtp.payload(self.FULL), b"\xaa\xbb\xcc")
        header = rtp.RtpHeader.parse(self.FULL)
        self.assertEqual(header.csrcs, (10, 11))
        self.assertEqual(header.extension, (0xBEDE, b"\x10\xff\x00\x00"))
        self.assertEqual(header.padding, 4)
        self.assertEqual(header.payload_type, 111)
        self.assertEqual(header.serialize(b"\xaa\xbb\xcc"), self.FULL)

    def test_csrc_only(self) -> None:
        pkt = rtp.RtpHeader(8, 1, 2, 3, csrcs=tuple(range(15))).serialize(b"x")
        self.assertEqual(rtp.header_length(pkt), 12 + 60)
        self.assertEqual(rtp.payload(pkt), b"x")

    def test_truncated_or_invalid(self) -> None:
        cases = {
            "shorter than fixed header": self.FULL[:11],
            "CSRC list cut": self.FULL[:16],
            "extension header cut": self.FULL[:22],
            "extension body cut": self.FULL[:25],
            "version 1": b"\x40" + self.FULL[1:],
            "version 3": b"\xc0" + bytes(11),
        }
        for name, pkt in cases.items():
            self.assertEqual(rtp.header_length(pkt), -1, name)
            self.assertEqual(rtp.padding_length(pkt), -1, name)
            exc = self.assertRaises(RemoteProtocolError, rtp.payload, pkt)
            self.assertEqual(exc.message, "malformed RTP header")
            self.assertRaises(RemoteProtocolError, rtp.RtpHeader.parse, pkt)

    def test_extension_with_empty_body(self) -> None:
        pkt = bytes.fromhex("90 00 00 01 00 00 00 02 00 00 00 03 be de 00 00")
        self.assertEqual(rtp.header_length(pkt), 16)
        self.assertEqual(rtp.payload(pkt), b"")

    def test_bad_padding(self) -> None:
        zero_count = self.FULL[:-1] + b"\x00"
        too_long = self.FULL[:-1] + b"\x08"
        for pkt in (zero_count, too_long):
            self.assertEqual(rtp.padding_length(pkt), -1)
            exc = self.assertRaises(RemoteProtocolError, rtp.payload, pkt)
            self.assertEqual(exc.message, "bad RTP padding")
            exc = self.assertRaises(RemoteProtocolError, rtp.RtpHeader.parse, pkt)
            self.assertEqual(exc.message, "bad RTP padding")

    def test_serialize_rejects_out_of_range(self) -> None:
        self.assertRaises(ValueError, rtp.RtpHeader(128, 0, 0, 0).serialize)
        self.assertRaises(ValueError, rtp.RtpHeader(0, 0, 0, 0, csrcs=(0,) * 16).serialize)
        self.assertRaises(ValueError, rtp.RtpHeader(0, 0, 0, 0, extension=(1, b"abc")).serialize)
        self.assertRaises(ValueError, rtp.RtpHeader(0, 0, 0, 0, padding=256).serialize)


class RewriteTests(SynchronousTestCase):
    def test_rewrite_in_place_keeps_marker_and_payload(self) -> None:
        pkt = bytearray(load("baresip-pcmu-first.bin"))
        before = bytes(pkt)
        rtp.rewrite(pkt, 8, 0xFFFF, 0xFFFFFFFF, 0x01020304)
        self.assertEqual(rtp.payload_type(pkt), 8)
        self.assertTrue(rtp.marker(pkt))
        self.assertEqual(fields(pkt)[:3], (0xFFFF, 0xFFFFFFFF, 0x01020304))
        self.assertEqual(pkt[0], before[0])
        self.assertEqual(pkt[12:], before[12:])

    def test_set_marker(self) -> None:
        pkt = packet(1, 2, 3, pt=96)
        rtp.set_marker(pkt)
        self.assertEqual(pkt[1], 0x80 | 96)
        rtp.set_marker(pkt, False)
        self.assertEqual(pkt[1], 96)

    def test_seq_diff(self) -> None:
        for a, b, expected in [
            (5, 3, 2),
            (3, 5, -2),
            (0, 65535, 1),
            (65535, 0, -1),
            (0x7FFF, 0, 32767),
            (0x8000, 0, -32768),
        ]:
            self.assertEqual(rtp.seq_diff(a, b), expected, (a, b))

    def test_ts_diff(self) -> None:
        for a, b, expected in [
            (160, 0, 160),
            (0, 160, -160),
            (80, 0xFFFFFFB0, 160),
            (0xFFFFFFB0, 80, -160),
            (0x80000000, 0, -(2**31)),
        ]:
            self.assertEqual(rtp.ts_diff(a, b), expected, (a, b))


class StreamRewriterTests(SynchronousTestCase):
    OUT = 0xCAFEF00D

    def setUp(self) -> None:
        self.rw = rtp.StreamRewriter(self.OUT, initial_seq=1000, initial_ts=50000)

    def feed(self, seq: int, ts: int, ssrc: int, **kw: float) -> tuple[int, int, int, bool]:
        pkt = packet(seq, ts, ssrc)
        self.rw.rewrite(pkt, **kw)
        return fields(pkt)

    def test_first_packets_start_at_initial_values_with_marker(self) -> None:
        out = [self.feed(7 + i, 900 + 160 * i, 0x1111) for i in range(3)]
        self.assertEqual(
            out,
            [
                (1000, 50000, self.OUT, True),
                (1001, 50160, self.OUT, False),
                (1002, 50320, self.OUT, False),
            ],
        )
        self.assertEqual((self.rw.last_seq, self.rw.last_timestamp), (1002, 50320))

    def test_loss_reorder_duplicate_pass_through(self) -> None:
        seqs = [10, 11, 13, 12, 14, 14, 17]
        out = [self.feed(s, 160 * s, 0x1111)[:2] for s in seqs]
        self.assertEqual([o[0] - 1000 for o in out], [s - 10 for s in seqs])
        self.assertEqual([o[1] - 50000 for o in out], [160 * (s - 10) for s in seqs])
        self.assertEqual(self.rw.last_seq, 1007)

    def test_ssrc_change_continues_with_marker(self) -> None:
        for i in range(5):
            self.feed(100 + i, 8000 + 160 * i, 0x1111)
        # The new source starts at an unrelated sequence number and timestamp.
        out = [self.feed(40000 + i, 123456 + 160 * i, 0x2222) for i in range(3)]
        self.assertEqual(
            out,
            [
                (1005, 50800, self.OUT, True),
                (1006, 50960, self.OUT, False),
                (1007, 51120, self.OUT, False),
            ],
        )

    def test_ssrc_change_uses_elapsed_time_when_given(self) -> None:
        self.feed(1, 0, 0x1111, now=10.0)
        self.feed(2, 160, 0x1111, now=10.02)
        # Playback ended, the bridge's source starts 2 s later: ts jumps by 2 s of samples.
        self.assertEqual(
            self.feed(9, 77, 0x2222, now=12.02), (1002, 50000 + 160 + 16000, self.OUT, True)
        )

    def test_input_seq_and_ts_wrap_without_switch(self) -> None:
        inputs = [(65534, 0xFFFFFF60), (65535, 0), (0, 0xA0), (1, 0x140)]
        out = [self.feed(s, t, 0x1111) for s, t in inputs]
        self.assertEqual([o[0] for o in out], [1000, 1001, 1002, 1003])
        self.assertEqual([o[1] for o in out], [50000, 50160, 50320, 50480])
        self.assertEqual([o[3] for o in out], [True, False, False, False])

    def test_output_seq_and_ts_wrap(self) -> None:
        rw = rtp.StreamRewriter(self.OUT, initial_seq=65535, initial_ts=0xFFFFFFA0)
        out = []
        for i in range(3):
            pkt = packet(i, 160 * i, 0x1111)
            rw.rewrite(pkt)
            out.append(fields(pkt)[:2])
        self.assertEqual(out, [(65535, 0xFFFFFFA0), (0, 0x40), (1, 0xE0)])

    def test_large_seq_jump_is_a_new_source(self) -> None:
        self.feed(100, 1000, 0x1111)
        self.assertEqual(self.feed(100 + 3001, 99999, 0x1111), (1001, 50160, self.OUT, True))
        self.assertEqual(self.feed(100 + 3002, 99999 + 160, 0x1111)[:2], (1002, 50320))

    def test_jump_within_dropout_is_loss(self) -> None:
        self.feed(100, 1000, 0x1111)
        self.assertEqual(
            self.feed(100 + 2999, 1000 + 160 * 2999, 0x1111)[0], (1000 + 2999) & 0xFFFF
        )

    def test_late_packet_of_previous_source_keeps_old_mapping(self) -> None:
        for seq in (10, 11, 12):
            self.feed(seq, 160 * seq, 0x1111)
        self.assertEqual(self.feed(500, 0, 0x2222)[:2], (1003, 50480))
        # seq 11 of the old source arrives late: it maps where it did before, no switch.
        self.assertEqual(self.feed(11, 160 * 11, 0x1111), (1001, 50160, self.OUT, False))
        self.assertEqual(self.feed(501, 160, 0x2222), (1004, 50640, self.OUT, False))
        # The old source coming back with newer packets is a real switch.
        self.assertEqual(self.feed(13, 160 * 13, 0x1111), (1005, 50800, self.OUT, True))

    def test_late_packet_of_previous_source_with_clock_rate_ratio(self) -> None:
        for seq in (10, 11, 12):
            self.feed(seq, 960 * seq, 0x1111, clock_rate_ratio=1 / 6)
        self.feed(500, 0, 0x2222, clock_rate_ratio=1 / 6)
        late = self.feed(11, 960 * 11, 0x1111, clock_rate_ratio=1 / 6)
        self.assertEqual(late, (1001, 50160, self.OUT, False))

    def test_clock_rate_ratio(self) -> None:
        # 48 kHz input (960 per 20 ms) relayed into an 8 kHz output stream.
        out = [
            self.feed(i, (0xFFFFE000 + 960 * i) & 0xFFFFFFFF, 0x1111, clock_rate_ratio=1 / 6)
            for i in range(12)
        ]
        self.assertEqual([o[1] for o in out], [50000 + 160 * i for i in range(12)])

    def test_resync(self) -> None:
        self.feed(1, 160, 0x1111)
        self.rw.resync()
        self.assertEqual(self.feed(900, 5, 0x1111), (1001, 50160, self.OUT, True))

    def test_scaled_timestamps_stay_linear_across_input_wraps(self) -> None:
        # Huge input steps: the input timestamp wraps 2**32 several times; scaling a signed
        # delta from a fixed base would break after 2**31, the periodic rebase keeps it exact.
        step = 2**30 // 1000
        for i in range(1000):
            seq, ts, _, _ = self.feed(
                i, (6 * step * i) & 0xFFFFFFFF, 0x1111, clock_rate_ratio=1 / 6
            )
            self.assertEqual(ts, (50000 + step * i) & 0xFFFFFFFF, i)
        self.assertEqual(seq, 1999)

    def test_payload_type_and_payload_untouched(self) -> None:
        pkt = bytearray(rtp.RtpHeader(101, 5, 6, 7).serialize(b"\x01\x0a\x00\xa0"))
        self.rw.rewrite(pkt)
        self.assertEqual(rtp.payload_type(pkt), 101)
        self.assertEqual(pkt[12:], b"\x01\x0a\x00\xa0")
        self.assertEqual(struct.unpack("!I", pkt[8:12])[0], self.OUT)
