"""Tests for pbx.media.demux: RFC 7983 first-byte ranges and RFC 5761 RTCP detection."""

from __future__ import annotations

from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from pbx.media import demux

DATA = Path(__file__).parents[2] / "data"


class ClassifyTests(SynchronousTestCase):
    def test_first_byte_ranges(self) -> None:
        expected = {}
        for b in range(256):
            if b <= 3:
                expected[b] = demux.STUN
            elif 20 <= b <= 63:
                expected[b] = demux.DTLS
            elif 128 <= b <= 191:
                expected[b] = demux.RTP
            else:
                expected[b] = demux.UNKNOWN
        # Second byte 0 = RTP payload type 0 (PCMU), no marker.
        self.assertEqual({b: demux.classify(b, 0) for b in range(256)}, expected)

    def test_range_edges(self) -> None:
        for first, kind in [
            (0, demux.STUN),
            (3, demux.STUN),
            (4, demux.UNKNOWN),
            (19, demux.UNKNOWN),  # ZRTP
            (20, demux.DTLS),
            (63, demux.DTLS),
            (64, demux.UNKNOWN),  # TURN channel
            (127, demux.UNKNOWN),
            (128, demux.RTP),
            (191, demux.RTP),
            (192, demux.UNKNOWN),
            (255, demux.UNKNOWN),
        ]:
            self.assertEqual(demux.classify(first, 0), kind, first)

    def test_rtcp_by_payload_type(self) -> None:
        # RTCP packet types 192..223 read as M=1 and PT 64..95 (RFC 5761 §4).
        for second in range(256):
            kind = demux.RTCP if 64 <= second & 0x7F <= 95 else demux.RTP
            self.assertEqual(demux.classify(0x80, second), kind, second)
        for pt in (200, 201, 202, 203, 204, 205, 206, 207):
            self.assertEqual(demux.classify(0x81, pt), demux.RTCP)
        for second in (0, 8, 0x80 | 0, 96, 0x80 | 111, 63, 0x80 | 63, 0x80 | 96, 127):
            self.assertEqual(demux.classify(0x80, second), demux.RTP, second)

    def test_rtcp_range_only_inside_rtp_range(self) -> None:
        self.assertEqual(demux.classify(0x16, 200), demux.DTLS)
        self.assertEqual(demux.classify(0x00, 200), demux.STUN)

    def test_names(self) -> None:
        self.assertEqual(
            [demux.NAMES[k] for k in (demux.STUN, demux.DTLS, demux.RTP, demux.RTCP)],
            ["STUN", "DTLS", "RTP", "RTCP"],
        )


class ClassifyDatagramTests(SynchronousTestCase):
    def test_captured_packets(self) -> None:
        rtp_pkt = (DATA / "rtp" / "baresip-pcmu-first.bin").read_bytes()
        self.assertEqual(demux.classify_datagram(rtp_pkt), demux.RTP)
        for name in ("baresip-sr-rb-sdes.bin", "baresip-bye-sdes.bin", "baresip-app-pingpong.bin"):
            data = (DATA / "rtcp" / name).read_bytes()
            self.assertEqual(demux.classify_datagram(data), demux.RTCP, name)

    def test_stun_and_dtls_headers(self) -> None:
        # STUN Binding Request header with the magic cookie (RFC 5389 §6).
        stun = bytes.fromhex("0001 0000 2112a442") + bytes(12)
        self.assertEqual(demux.classify_datagram(stun), demux.STUN)
        # DTLS 1.2 handshake record (content type 22, version 0xfefd).
        dtls = bytes.fromhex("16 fefd 0000 000000000000 0010")
        self.assertEqual(demux.classify_datagram(dtls), demux.DTLS)

    def test_short_datagrams(self) -> None:
        self.assertEqual(demux.classify_datagram(b""), demux.UNKNOWN)
        self.assertEqual(demux.classify_datagram(b"\x80"), demux.RTP)
        self.assertEqual(demux.classify_datagram(memoryview(b"\x01")), demux.STUN)
