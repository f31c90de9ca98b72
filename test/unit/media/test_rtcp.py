"""Tests for pbx.media.rtcp: compound parse/build, interval, NTP and RTT arithmetic."""

from __future__ import annotations

from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from pbx.core.errors import RemoteProtocolError
from pbx.media import rtcp
from pbx.media.rtcp import (
    Bye,
    RawRtcp,
    ReceiverReport,
    ReportBlock,
    SdesChunk,
    SenderReport,
    SourceDescription,
)

DATA = Path(__file__).parents[2] / "data" / "rtcp"


def load(name: str) -> bytes:
    return (DATA / name).read_bytes()


class ChromeStyleCompoundTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.data = load("chrome-style-sr-rr-sdes.bin")

    def test_parse(self) -> None:
        packets = rtcp.parse_compound(self.data)
        self.assertEqual(
            packets,
            [
                SenderReport(
                    ssrc=0x1A2B3C4D,
                    ntp_timestamp=0xEEB2E13F80000000,
                    rtp_timestamp=0x5D3C2A10,
                    packet_count=250,
                    octet_count=40000,
                    reports=(
                        ReportBlock(
                            ssrc=0x5EED0001,
                            fraction_lost=2,
                            cumulative_lost=3,
                            highest_seq=0x11388,
                            jitter=20,
                            lsr=0xE13C95C2,
                            dlsr=0x8000,
                        ),
                    ),
                ),
                ReceiverReport(ssrc=0x1A2B3C4D),
                SourceDescription((SdesChunk(0x1A2B3C4D, ((rtcp.CNAME, b"q3XvA9Lc+0pTbW2e"),)),)),
            ],
        )
        sdes = packets[2]
        assert isinstance(sdes, SourceDescription)
        self.assertEqual(sdes.chunks[0].cname, "q3XvA9Lc+0pTbW2e")

    def test_round_trip(self) -> None:
        self.assertEqual(rtcp.serialize_compound(rtcp.parse_compound(self.data)), self.data)
        self.assertEqual(rtcp.parse_compound(bytearray(self.data)), rtcp.parse_compound(self.data))


class BaresipCaptureTests(SynchronousTestCase):
    def test_sender_report_with_block_and_sdes(self) -> None:
        data = load("baresip-sr-rb-sdes.bin")
        sr, sdes = rtcp.parse_compound(data)
        assert isinstance(sr, SenderReport) and isinstance(sdes, SourceDescription)
        self.assertEqual(
            (sr.ssrc, sr.ntp_timestamp, sr.rtp_timestamp, sr.packet_count, sr.octet_count),
            (0x5B35E25E, 0xEEB2E13E90195CC8, 0x12F5D, 262, 40048),
        )
        self.assertEqual(
            sr.reports, (ReportBlock(0x5EED0001, 11, 12, 0x137D, 5, 0xE13C95C2, 0x0001FA1C),)
        )
        self.assertEqual(sr.extension, b"")
        self.assertEqual(sdes.chunks[0].ssrc, 0x5B35E25E)
        self.assertEqual(sdes.chunks[0].cname, "sip:cap@127.0.0.1:5062")
        self.assertEqual(rtcp.serialize_compound([sr, sdes]), data)

    def test_rtt_from_captured_report(self) -> None:
        # We sent an SR at Unix 1795711676.584999 (its NTP middle bits are the LSR);
        # baresip's SR carrying the block arrived at Unix 1795711678.5629046.
        sr = rtcp.parse_compound(load("baresip-sr-rb-sdes.bin"))[0]
        assert isinstance(sr, SenderReport)
        block = sr.reports[0]
        self.assertEqual(block.lsr, rtcp.ntp_middle(rtcp.ntp_timestamp(1795711676.584999)))
        arrival = rtcp.ntp_middle(rtcp.ntp_timestamp(1795711678.5629046))
        self.assertEqual(arrival, 0xE13E901A)
        self.assertEqual(rtcp.round_trip_time(arrival, block.lsr, block.dlsr), 60 / 65536)

    def test_bye_before_sdes(self) -> None:
        data = load("baresip-bye-sdes.bin")
        bye, sdes = rtcp.parse_compound(data)
        self.assertEqual(bye, Bye((0x490EE18E,), b"Adjo"))
        assert isinstance(sdes, SourceDescription)
        self.assertEqual(sdes.chunks[0].cname, "sip:cap@127.0.0.1:5062")
        self.assertEqual(rtcp.serialize_compound([bye, sdes]), data)

    def test_app_alone(self) -> None:
        data = load("baresip-app-pingpong.bin")
        (app,) = rtcp.parse_compound(data)
        self.assertEqual(app, RawRtcp(rtcp.APP, 0, bytes.fromhex("5b35e25e") + b"PINGPONG"))
        assert isinstance(app, RawRtcp)
        self.assertEqual(app.sender_ssrc, 0x5B35E25E)
        self.assertEqual(app.serialize(), data)


class FeedbackPassThroughTests(SynchronousTestCase):
    # RR + SDES + RTPFB generic NACK (FMT 1, RFC 4585 §6.2.1) + PSFB PLI (FMT 1, §6.3.1).
    RR = bytes.fromhex("80c90001 1a2b3c4d")
    SDES = bytes.fromhex("81ca0003 1a2b3c4d 01046162 63640000")
    NACK = bytes.fromhex("81cd0003 1a2b3c4d 5eed0001 00640003")
    PLI = bytes.fromhex("81ce0002 1a2b3c4d 5eed0001")

    def test_feedback_kept_raw(self) -> None:
        data = self.RR + self.SDES + self.NACK + self.PLI
        rr, sdes, nack, pli = rtcp.parse_compound(data)
        self.assertEqual(rr, ReceiverReport(0x1A2B3C4D))
        assert isinstance(sdes, SourceDescription)
        self.assertEqual(sdes.chunks[0].cname, "abcd")
        self.assertEqual(nack, RawRtcp(rtcp.RTPFB, 1, self.NACK[4:]))
        self.assertEqual(pli, RawRtcp(rtcp.PSFB, 1, self.PLI[4:]))
        self.assertEqual(rtcp.serialize_compound(rtcp.parse_compound(data)), data)

    def test_reduced_size_feedback_alone(self) -> None:
        (pli,) = rtcp.parse_compound(self.PLI)
        assert isinstance(pli, RawRtcp)
        self.assertEqual((pli.packet_type, pli.count, pli.sender_ssrc), (rtcp.PSFB, 1, 0x1A2B3C4D))

    def test_sender_ssrc_of_short_body(self) -> None:
        self.assertIsNone(RawRtcp(rtcp.XR, 0, b"").sender_ssrc)


class ParseErrorTests(SynchronousTestCase):
    RR = bytes.fromhex("80c90001 1a2b3c4d")

    def assert_error(self, data: bytes, message: str) -> None:
        exc = self.assertRaises(RemoteProtocolError, rtcp.parse_compound, data)
        self.assertEqual(exc.message, message)

    def test_errors(self) -> None:
        sr = load("baresip-sr-rb-sdes.bin")
        cases = [
            (b"\x80\xc9\x00", "RTCP packet shorter than its header"),
            (self.RR + b"\x80\xc9", "trailing octets after the last RTCP packet"),
            (b"\x40" + self.RR[1:], "RTCP version is not 2"),
            (self.RR[:-1], "RTCP length runs past the datagram"),
            (bytes.fromhex("a0c90001 1a2b3c03") + self.RR, "bad RTCP padding"),
            (bytes.fromhex("a0c90001 1a2b3c00"), "bad RTCP padding"),
            (bytes.fromhex("a0c90001 1a2b3c09"), "bad RTCP padding"),
            (bytes.fromhex("80c80001 1a2b3c4d"), "SR shorter than its sender info"),
            (bytes.fromhex("80c90000"), "RR shorter than its SSRC"),
            (bytes.fromhex("81c90001 1a2b3c4d"), "RTCP report blocks overrun the packet"),
            (sr[:4].replace(b"\x0c", b"\x07") + sr[4:32], "RTCP report blocks overrun the packet"),
            (bytes.fromhex("82ca0002 1a2b3c4d 01000000"), "SDES chunk overruns the packet"),
            (bytes.fromhex("81ca0002 1a2b3c4d 01026162"), "SDES item list not terminated"),
            (bytes.fromhex("81ca0002 1a2b3c4d 01096162"), "SDES item overruns the packet"),
            (bytes.fromhex("82cb0001 1a2b3c4d"), "BYE sources overrun the packet"),
            (bytes.fromhex("81cb0002 1a2b3c4d 09616263"), "BYE reason overruns the packet"),
        ]
        for data, message in cases:
            self.assert_error(data, message)

    def test_padding_on_last_packet_is_removed(self) -> None:
        # RR with one extension word of zeros plus 4 padding octets (count 4).
        data = self.RR + bytes.fromhex("a0c90002 1a2b3c4d 00000004")
        first, second = rtcp.parse_compound(data)
        self.assertEqual(second, ReceiverReport(0x1A2B3C4D))
        self.assertEqual(first, ReceiverReport(0x1A2B3C4D))

    def test_report_extension_kept(self) -> None:
        data = bytes.fromhex("80c90002 1a2b3c4d deadbeef")
        (rr,) = rtcp.parse_compound(data)
        self.assertEqual(rr, ReceiverReport(0x1A2B3C4D, (), bytes.fromhex("deadbeef")))
        self.assertEqual(rr.serialize(), data)


class BuildTests(SynchronousTestCase):
    def block(self, i: int) -> ReportBlock:
        return ReportBlock(
            ssrc=i, fraction_lost=i % 256, cumulative_lost=-i, highest_seq=i, jitter=i
        )

    def test_report_compound_sr(self) -> None:
        sr = SenderReport(0x11, rtcp.ntp_timestamp(1000.25), 160, 5, 800, (self.block(1),))
        data = rtcp.report_compound(sr, "pbx@127.0.0.1")
        self.assertEqual(
            rtcp.parse_compound(data),
            [sr, SourceDescription((SdesChunk(0x11, ((rtcp.CNAME, b"pbx@127.0.0.1"),)),))],
        )

    def test_report_compound_splits_blocks_over_31(self) -> None:
        blocks = tuple(self.block(i) for i in range(40))
        data = rtcp.report_compound(ReceiverReport(0x22, blocks), "c")
        rr1, rr2, sdes = rtcp.parse_compound(data)
        self.assertEqual(rr1, ReceiverReport(0x22, blocks[:31]))
        self.assertEqual(rr2, ReceiverReport(0x22, blocks[31:]))
        self.assertIsInstance(sdes, SourceDescription)
        sr = SenderReport(0x22, 1, 2, 3, 4, blocks)
        first, second, _ = rtcp.parse_compound(rtcp.report_compound(sr, "c"))
        self.assertEqual(first, SenderReport(0x22, 1, 2, 3, 4, blocks[:31]))
        self.assertEqual(second, ReceiverReport(0x22, blocks[31:]))

    def test_sdes_alignment(self) -> None:
        for n in range(9):
            chunk = SdesChunk(7, ((rtcp.CNAME, b"x" * n), (rtcp.TOOL, b"pbx")))
            data = SourceDescription((chunk,)).serialize()
            self.assertEqual(len(data) % 4, 0)
            # Items + at least one null octet, rounded up to 32 bits.
            self.assertEqual(len(data), 4 + 4 + ((2 + n + 2 + 3 + 1) + 3) // 4 * 4)
            self.assertEqual(rtcp.parse_compound(data), [SourceDescription((chunk,))])
        self.assertIsNone(SdesChunk(1, ((rtcp.NAME, b"n"),)).cname)

    def test_multi_chunk_sdes_and_bye_round_trip(self) -> None:
        packets: list[rtcp.RtcpPacket] = [
            SourceDescription((SdesChunk(1, ((rtcp.CNAME, b"a"),)), SdesChunk(2, ()))),
            Bye((1, 2, 3)),
            Bye((4,), b""),
            Bye((), b"bye"),
        ]
        data = rtcp.serialize_compound(packets)
        self.assertEqual(rtcp.parse_compound(data), packets)

    def test_cumulative_lost_is_signed_24_bit_and_saturates(self) -> None:
        for value, wire in [(-1, -1), (5, 5), (-0x800000, -0x800000), (10**9, 0x7FFFFF)]:
            block = ReportBlock(1, 0, value, 0, 0)
            parsed = ReportBlock.unpack_from(block.serialize(), 0)
            self.assertEqual(parsed.cumulative_lost, wire)
        self.assertEqual(ReportBlock(1, 0, -1, 0, 0).serialize()[4:8], b"\x00\xff\xff\xff")

    def test_build_errors(self) -> None:
        self.assertRaises(ValueError, ReceiverReport(1, tuple([self.block(0)] * 32)).serialize)
        self.assertRaises(ValueError, SdesChunk(1, ((1, b"x" * 256),)).serialize)
        self.assertRaises(ValueError, Bye((1,), b"x" * 256).serialize)
        self.assertRaises(ValueError, RawRtcp(rtcp.APP, 0, b"abc").serialize)


class TimeTests(SynchronousTestCase):
    def test_ntp_timestamp(self) -> None:
        self.assertEqual(rtcp.ntp_timestamp(0), 2208988800 << 32)
        self.assertEqual(rtcp.ntp_timestamp(0.5), (2208988800 << 32) | 0x80000000)
        self.assertEqual(rtcp.ntp_to_unix(rtcp.ntp_timestamp(1795711678.5)), 1795711678.5)
        self.assertEqual(rtcp.ntp_middle(0xEEB2E13C95C28000), 0xE13C95C2)

    def test_rfc3550_rtt_example(self) -> None:
        # RFC 3550 §6.4.1, figure 2: A = 0xb710:8000 (46864.500 s), LSR = 0xb705:2000
        # (46853.125 s), DLSR = 0x0005:4000 (5.250 s) -> delay 0x0006:2000 (6.125 s).
        self.assertEqual(rtcp.round_trip_time(0xB7108000, 0xB7052000, 0x00054000), 6.125)

    def test_rtt_edge_cases(self) -> None:
        self.assertIsNone(rtcp.round_trip_time(0xB7108000, 0, 0))
        self.assertEqual(rtcp.round_trip_time(0x00000010, 0xFFFFFFF0, 0x10), 16 / 65536)
        self.assertEqual(rtcp.round_trip_time(0x1000, 0x1000, 0x10), 0.0)

    def test_delay_units(self) -> None:
        self.assertEqual(rtcp.delay_units(5.25), 0x00054000)
        self.assertEqual(rtcp.delay_units(-1), 0)
        self.assertEqual(rtcp.delay_units(1e6), 0xFFFFFFFF)


class IntervalTests(SynchronousTestCase):
    # A G.711 call: 64 kbit/s + headers ~ 80 kbit/s session, RTCP 5 % = 500 octets/s.
    BW = 500.0

    def interval(
        self,
        random_value: float,
        members: int = 2,
        senders: int = 2,
        we_sent: bool = True,
        avg_rtcp_size: float = 100.0,
        initial: bool = False,
        rtcp_bandwidth: float = BW,
        min_interval: float = rtcp.RTCP_MIN_INTERVAL,
    ) -> float:
        return rtcp.report_interval(
            members,
            senders,
            rtcp_bandwidth,
            we_sent,
            avg_rtcp_size,
            initial,
            random_value,
            min_interval,
        )

    def test_minimum_and_randomisation_range(self) -> None:
        lo, mid, hi = self.interval(0.0), self.interval(0.5), self.interval(0.999999)
        self.assertAlmostEqual(lo, 5.0 * 0.5 / (2.71828 - 1.5))
        self.assertAlmostEqual(mid, 5.0 / 1.21828)
        self.assertAlmostEqual(hi, 5.0 * 1.5 / 1.21828, places=4)
        self.assertTrue(2.05 < lo < mid < hi < 6.16)

    def test_initial_halves_minimum(self) -> None:
        self.assertAlmostEqual(self.interval(0.5, initial=True), 2.5 / 1.21828)

    def test_webrtc_minimum(self) -> None:
        self.assertAlmostEqual(self.interval(0.5, min_interval=1.0), 1.0 / 1.21828)

    def test_bandwidth_bound_interval(self) -> None:
        # 200 members, all receivers: t = avg * n / (0.75 * bw) = 100 * 200 / 375.
        t = self.interval(0.5, members=200, senders=0, we_sent=False)
        self.assertAlmostEqual(t, 100 * 200 / 375 / 1.21828)
        # 2 senders among 200: we are one of them, senders share 1/4 of the bandwidth.
        t = self.interval(0.5, members=200, senders=2, we_sent=True, avg_rtcp_size=2000.0)
        self.assertAlmostEqual(t, 2000 * 2 / 125 / 1.21828)
        # Receivers among them: 198 share 3/4.
        t = self.interval(0.5, members=200, senders=2, we_sent=False)
        self.assertAlmostEqual(t, 100 * 198 / 375 / 1.21828)

    def test_zero_bandwidth_uses_minimum(self) -> None:
        self.assertAlmostEqual(self.interval(0.5, rtcp_bandwidth=0.0), 5.0 / 1.21828)

    def test_avg_rtcp_size(self) -> None:
        self.assertEqual(rtcp.update_avg_rtcp_size(100.0, 260), 110.0)
