"""Tests for pbx.media.stats against RFC 3550 Appendix A.1, A.3 and A.8."""

from __future__ import annotations

import struct
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from pbx.media import rtcp, rtp
from pbx.media.rtcp import ReportBlock
from pbx.media.stats import ReceiveStats, SendStats

DATA = Path(__file__).parents[2] / "data"


def rtpstream(name: str) -> list[tuple[int, bytes]]:
    """(arrival µs, packet) records of a .rtpstream file (format: test/data/rtp/README.md)."""
    data = (DATA / "rtp" / name).read_bytes()
    out = []
    off = 0
    while off < len(data):
        micros, length = struct.unpack_from("!IH", data, off)
        out.append((micros, data[off + 6 : off + 6 + length]))
        off += 6 + length
    return out


def feed(stats: ReceiveStats, seqs: list[int]) -> list[bool]:
    # Regular 20 ms packets arriving exactly on time: no jitter.
    return [stats.update(s & 0xFFFF, 160 * s, 160 * s + 1000) for s in seqs]


class SequenceTests(SynchronousTestCase):
    def test_probation_then_in_order(self) -> None:
        stats = ReceiveStats(1, 8000)
        self.assertEqual(feed(stats, list(range(100, 110))), [False] + [True] * 9)
        self.assertTrue(stats.valid)
        # A.1: the source is initialised at the packet that ends probation.
        self.assertEqual((stats.base_seq, stats.max_seq), (101, 109))
        self.assertEqual((stats.received, stats.expected, stats.lost), (9, 9, 0))

    def test_no_probation(self) -> None:
        stats = ReceiveStats(1, 8000, min_sequential=0)
        self.assertEqual(feed(stats, [5, 6, 7]), [True] * 3)
        self.assertEqual((stats.base_seq, stats.received, stats.expected), (5, 3, 3))
        stats = ReceiveStats(1, 8000, min_sequential=1)
        self.assertEqual(feed(stats, [5, 6]), [True, True])
        self.assertEqual(stats.received, 2)

    def test_probation_restarts_on_gap(self) -> None:
        stats = ReceiveStats(1, 8000, min_sequential=3)
        self.assertEqual(feed(stats, [10, 11, 20, 21, 22, 23]), [False] * 4 + [True] * 2)
        self.assertEqual((stats.base_seq, stats.received), (22, 2))

    def test_probation_across_wrap(self) -> None:
        stats = ReceiveStats(1, 8000)
        self.assertEqual(feed(stats, [65535, 65536]), [False, True])
        self.assertEqual(stats.base_seq, 0)

    def test_loss(self) -> None:
        stats = ReceiveStats(1, 8000, min_sequential=0)
        feed(stats, [0, 1, 2, 5, 6, 9])
        self.assertEqual((stats.expected, stats.received, stats.lost), (10, 6, 4))
        self.assertAlmostEqual(stats.loss_percent, 40.0)

    def test_reorder(self) -> None:
        stats = ReceiveStats(1, 8000, min_sequential=0)
        feed(stats, [1, 2, 4, 3, 5])
        self.assertEqual((stats.max_seq, stats.received, stats.lost), (5, 5, 0))

    def test_duplicates_make_loss_negative(self) -> None:
        stats = ReceiveStats(1, 8000, min_sequential=0)
        self.assertEqual(feed(stats, [1, 2, 2, 3, 3, 3]), [True] * 6)
        self.assertEqual((stats.expected, stats.received, stats.lost), (3, 6, -3))
        self.assertEqual(stats.loss_percent, 0.0)
        block = stats.report_block(0.0)
        assert block is not None
        self.assertEqual((block.fraction_lost, block.cumulative_lost), (0, -3))
        self.assertEqual(ReportBlock.unpack_from(block.serialize(), 0).cumulative_lost, -3)

    def test_wrap_extends_sequence_number(self) -> None:
        stats = ReceiveStats(1, 8000, min_sequential=0)
        feed(stats, list(range(65530, 65536 + 6)))
        self.assertEqual((stats.cycles, stats.max_seq), (65536, 5))
        self.assertEqual(stats.extended_max, 65536 + 5)
        self.assertEqual((stats.expected, stats.lost), (12, 0))
        # A late packet from before the wrap does not count a second cycle.
        feed(stats, [65534])
        self.assertEqual((stats.cycles, stats.max_seq, stats.received), (65536, 5, 13))

    def test_large_jump_needs_confirmation(self) -> None:
        stats = ReceiveStats(1, 8000, min_sequential=0)
        feed(stats, [10, 11, 12])
        # One packet far away: ignored (could be garbage) and remembered.
        self.assertEqual(feed(stats, [20000]), [False])
        self.assertEqual((stats.max_seq, stats.received), (12, 3))
        self.assertEqual(feed(stats, [13]), [True])
        # The next one in sequence after the jump confirms a restart: A.1 init_seq.
        self.assertEqual(feed(stats, [30000, 30001, 30002]), [False, True, True])
        self.assertEqual((stats.base_seq, stats.received, stats.lost), (30001, 2, 0))

    def test_jump_just_inside_dropout_is_loss(self) -> None:
        stats = ReceiveStats(1, 8000, min_sequential=0)
        self.assertEqual(feed(stats, [0, 2999]), [True, True])
        self.assertEqual(stats.lost, 2998)
        # Backward by less than MAX_MISORDER is a late packet, further is a jump.
        self.assertEqual(feed(stats, [2999 - 99]), [True])
        self.assertEqual(feed(stats, [2999 - 100]), [False])

    def test_nothing_before_validation(self) -> None:
        stats = ReceiveStats(1, 8000)
        self.assertIsNone(stats.report_block(0.0))
        feed(stats, [7])
        self.assertEqual((stats.expected, stats.lost, stats.loss_percent), (0, 0, 0.0))
        self.assertIsNone(stats.report_block(0.0))


class ReportBlockTests(SynchronousTestCase):
    def test_fraction_lost_per_interval(self) -> None:
        stats = ReceiveStats(0xABC, 8000, min_sequential=0)
        # Interval 1: 0..99 with 10 lost.
        feed(stats, [s for s in range(100) if s % 10 != 5])
        block = stats.report_block(1.0)
        assert block is not None
        self.assertEqual(block.ssrc, 0xABC)
        self.assertEqual(block.fraction_lost, (10 << 8) // 100)
        self.assertEqual((block.cumulative_lost, block.highest_seq), (10, 99))
        # Interval 2: 100..149, no loss: fraction 0, cumulative unchanged.
        feed(stats, list(range(100, 150)))
        block = stats.report_block(2.0)
        assert block is not None
        self.assertEqual((block.fraction_lost, block.cumulative_lost), (0, 10))
        # Interval 3: nothing arrived: nothing expected, fraction 0.
        block = stats.report_block(3.0)
        assert block is not None
        self.assertEqual(block.fraction_lost, 0)
        # Interval 4: all but one of 4 lost.
        feed(stats, [153])
        block = stats.report_block(4.0)
        assert block is not None
        self.assertEqual((block.fraction_lost, block.cumulative_lost), (192, 13))

    def test_lsr_dlsr(self) -> None:
        stats = ReceiveStats(1, 8000, min_sequential=0)
        feed(stats, [1, 2])
        block = stats.report_block(10.0)
        assert block is not None
        self.assertEqual((block.lsr, block.dlsr), (0, 0))
        ntp = rtcp.ntp_timestamp(1700000000.25)
        stats.sender_report_received(ntp, now=100.0)
        block = stats.report_block(now=100.5)
        assert block is not None
        self.assertEqual((block.lsr, block.dlsr), (rtcp.ntp_middle(ntp), 0x8000))

    def test_extended_highest_seq_in_block(self) -> None:
        stats = ReceiveStats(1, 8000, min_sequential=0)
        feed(stats, list(range(65500, 65536 + 20)))
        block = stats.report_block(0.0)
        assert block is not None
        self.assertEqual(block.highest_seq, 0x10013)


class JitterTests(SynchronousTestCase):
    def test_constant_transit_has_no_jitter(self) -> None:
        stats = ReceiveStats(1, 8000, min_sequential=0)
        for i in range(50):
            stats.update(i, 1000 + 160 * i, 777777 + 160 * i)
        self.assertEqual((stats.jitter, stats.jitter_q4), (0, 0))

    def test_worked_example(self) -> None:
        # Packets every 160 units; packet 2 arrives 80 units (10 ms) late.
        # A.8: D(1,2) = 80, D(2,3) = -80 -> |D| = 80, 80, then 0.
        # J = J + (|D| - J) / 16: 5.0, 9.6875, then decays by 15/16: 9.08...
        # Integer form (J scaled by 16): 80, 155, 145 -> reported 5, 9, 9.
        stats = ReceiveStats(1, 8000, min_sequential=0)
        arrivals = [0, 160, 320 + 80, 480, 640]
        reported = []
        for i, arrival in enumerate(arrivals):
            stats.update(i, 160 * i, arrival)
            reported.append((stats.jitter_q4, stats.jitter))
        self.assertEqual(reported, [(0, 0), (0, 0), (80, 5), (155, 9), (145, 9)])
        self.assertAlmostEqual(stats.jitter_seconds, 145 / 16 / 8000)

    def test_float_form_agrees(self) -> None:
        # The integer form tracks the A.8 float recurrence within rounding.
        stats = ReceiveStats(1, 8000, min_sequential=0)
        jitter = 0.0
        transit_prev = None
        for i in range(500):
            arrival = 160 * i + (i * 37 % 23) * 5
            stats.update(i, 160 * i, arrival)
            transit = arrival - 160 * i
            if transit_prev is not None:
                jitter += (abs(transit - transit_prev) - jitter) / 16
            transit_prev = transit
        self.assertLess(abs(stats.jitter_q4 / 16 - jitter), 1.0)

    def test_timestamp_wrap_does_not_spike(self) -> None:
        stats = ReceiveStats(1, 8000, min_sequential=0)
        for i in range(10):
            stats.update(i, (0xFFFFFE00 + 160 * i) & 0xFFFFFFFF, 5000 + 160 * i)
        self.assertEqual(stats.jitter, 0)

    def test_captured_stream(self) -> None:
        # baresip's PCMU and telephone-event packets share SSRC and sequence space.
        records = rtpstream("baresip-dtmf-1-pound.rtpstream")
        stats = ReceiveStats(0x5B35E25E, 8000, min_sequential=0)
        for micros, pkt in records:
            stats.update(rtp.seq(pkt), rtp.timestamp(pkt), micros * 8000 // 1_000_000)
        # Two windows of the capture, each gap-free: the packets between them count as lost.
        seqs = [rtp.seq(p) for _, p in records]
        self.assertEqual(sorted(seqs), seqs)
        self.assertEqual(stats.received, 56)
        self.assertEqual(stats.expected, seqs[-1] - seqs[0] + 1)
        self.assertEqual(stats.lost, 85)
        self.assertEqual(stats.extended_max, seqs[-1])
        # Event packets carry the event's start timestamp, which real receivers see as jitter.
        self.assertGreater(stats.jitter, 0)


class SendStatsTests(SynchronousTestCase):
    def test_counters_and_sender_report(self) -> None:
        send = SendStats(0x5EED, 8000)
        for i in range(50):
            send.update(1000 + 160 * i, 160, now=100.0 + 0.02 * i)
        self.assertEqual((send.packets, send.octets, send.last_rtp_ts), (50, 8000, 1000 + 160 * 49))
        sr = send.sender_report(now=100.0 + 0.02 * 49 + 0.5)
        self.assertEqual(sr.ssrc, 0x5EED)
        self.assertEqual(sr.rtp_timestamp, 1000 + 160 * 49 + 4000)
        self.assertEqual((sr.packet_count, sr.octet_count), (50, 8000))
        self.assertEqual(sr.ntp_timestamp, rtcp.ntp_timestamp(100.0 + 0.02 * 49 + 0.5))

    def test_sender_report_before_sending(self) -> None:
        sr = SendStats(1, 8000).sender_report(now=5.0)
        self.assertEqual((sr.rtp_timestamp, sr.packet_count, sr.reports), (0, 0, ()))

    def test_report_received_and_rtt(self) -> None:
        send = SendStats(0x5EED, 8000)
        for i in range(100):
            send.update(160 * i, 160, now=1000.0 + 0.02 * i)
        self.assertIsNone(send.rtt)
        sr = send.sender_report(now=1002.0)
        # The peer holds our SR for 0.25 s and its report reaches us 0.05 s after that.
        block = ReportBlock(
            ssrc=0x5EED,
            fraction_lost=26,
            cumulative_lost=5,
            highest_seq=99,
            jitter=40,
            lsr=rtcp.ntp_middle(sr.ntp_timestamp),
            dlsr=rtcp.delay_units(0.25),
        )
        send.report_received(block, now=1002.0 + 0.25 + 0.05)
        assert send.rtt is not None
        self.assertLess(abs(send.rtt - 0.05), 2 / 65536)
        self.assertEqual((send.remote_lost, send.remote_fraction_lost), (5, 26))
        self.assertAlmostEqual(send.remote_loss_percent, 5.0)
        self.assertAlmostEqual(send.remote_jitter_seconds, 0.005)
        # A report without LSR keeps the last RTT.
        send.report_received(ReportBlock(0x5EED, 0, 6, 120, 0), now=1010.0)
        self.assertLess(abs(send.rtt - 0.05), 2 / 65536)
        self.assertEqual(send.remote_lost, 6)

    def test_loss_percent_before_sending(self) -> None:
        self.assertEqual(SendStats(1, 8000).remote_loss_percent, 0.0)
