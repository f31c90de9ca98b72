"""Tests for pbx.media.rtcp_session: totals across SSRCs, SR vs RR, RTT, feedback."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from pbx.core.tokens import CountingTokens
from pbx.media import rtcp
from pbx.media.rtcp_session import RtcpSession
from test.unit.media.media_support import DATA

OURS = 0xCAFE0001


class RtcpSessionTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.session = RtcpSession(OURS, "abcd", CountingTokens())

    def test_schedule_is_randomised_within_half_to_one_and_a_half_intervals(self) -> None:
        times = []
        for _ in range(20):
            self.session.schedule(100.0, 5.0)
            assert self.session.next_report is not None
            times.append(self.session.next_report - 100.0)
        self.assertTrue(all(2.5 <= t < 7.5 for t in times))
        self.assertGreater(len(set(times)), 10)
        self.session.schedule(100.0, 0)
        self.assertIsNone(self.session.next_report)

    def test_totals_over_ssrcs(self) -> None:
        rx = self.session.source(1, 8000, authenticated=True)
        for seq in (10, 11, 13):
            rx.update(seq, seq * 160, seq * 160)
        rx = self.session.source(2, 8000, authenticated=True)
        for seq in (1, 4):
            rx.update(seq, seq * 160, seq * 160)
        self.assertEqual((self.session.received_total, self.session.lost_total), (5, 3))

    def test_rr_then_sr(self) -> None:
        first = rtcp.parse_compound(self.session.build_report(1.0, 0))
        assert isinstance(first[0], rtcp.ReceiverReport)
        self.assertEqual(first[0].reports, ())
        sdes = first[1]
        assert isinstance(sdes, rtcp.SourceDescription)
        self.assertEqual(sdes.chunks[0].cname, "abcd")
        self.session.tx.packets, self.session.tx.octets, self.session.tx.last_send = 3, 480, 1.5
        sr = rtcp.parse_compound(self.session.build_report(2.0, 1000))[0]
        assert isinstance(sr, rtcp.SenderReport)
        self.assertEqual((sr.packet_count, sr.rtp_timestamp), (3, 1000 + 4000))
        again = rtcp.parse_compound(self.session.build_report(3.0, 1000))[0]
        self.assertIsInstance(again, rtcp.ReceiverReport)

    def test_recorded_compounds(self) -> None:
        for name in ("baresip-sr-rb-sdes.bin", "chrome-style-sr-rr-sdes.bin"):
            self.assertTrue(self.session.receive((DATA / "rtcp" / name).read_bytes(), 0.0))
        self.assertEqual(self.session.counters.received, 2)
        self.assertFalse(self.session.receive(b"\x80\xc8\x00\x06", 0.0))
        self.assertEqual(self.session.counters.malformed, 1)

    def test_sr_from_the_source_gives_lsr_and_dlsr(self) -> None:
        rx = self.session.source(7, 8000, authenticated=True)
        rx.update(1, 0, 0)
        ntp = rtcp.ntp_timestamp(50.0)
        self.session.receive(rtcp.SenderReport(7, ntp, 0, 1, 160).serialize(), 50.0)
        compound = rtcp.parse_compound(self.session.build_report(50.5, 0))
        block = compound[0].reports[0]  # type: ignore[union-attr]
        self.assertEqual(block.lsr, rtcp.ntp_middle(ntp))
        self.assertEqual(block.dlsr, rtcp.delay_units(0.5))
