"""Tests for pbx.media.stream: demux, latching, rewrite continuity, SRTP, ICE+DTLS, RTCP,
DTMF, prompts, hold and liveness, all driven by ``now`` without sockets."""

from __future__ import annotations

import gc
import weakref
from dataclasses import replace

from twisted.trial.unittest import SynchronousTestCase

from pbx.core.errors import MediaError
from pbx.core.tokens import CountingTokens
from pbx.media import rtcp
from pbx.media.codecs.telephone_event import TelephoneEvent
from pbx.media.dtls import DtlsEndpoint, DtlsState
from pbx.media.rtp import RtpHeader, payload
from pbx.media.srtp import SrtpContext
from pbx.media.stream import ICE_START_TIMEOUT, MediaStream
from pbx.media.stream_config import DtlsSecurity, SdesSecurity
from test.unit.media.media_support import (
    PHONE,
    PHONE_RTCP,
    ULAW_FRAME,
    Wire,
    binding_request,
    config,
    our_certificate,
    peer_certificate,
    rtp,
)

ELSEWHERE = ("127.0.0.1", 5000)
KEY_A = bytes(range(30))
KEY_B = bytes(range(50, 80))
UFRAG, PWD = "0badf00d", "0123456789abcdef0123456789abcdef"
NEW_UFRAG, NEW_PWD = "5ca1ab1e", "fedcba9876543210fedcba9876543210"


def make(**kwargs: object) -> tuple[MediaStream, Wire]:
    wire = Wire()
    stream = MediaStream("SIP/test-00000001", CountingTokens(), wire, **kwargs)  # type: ignore[arg-type]
    stream.transmit_rtcp = wire
    return stream, wire


def headers(sent: list[tuple[bytes, tuple[str, int]]]) -> list[RtpHeader]:
    return [RtpHeader.parse(data) for data, _ in sent]


class SinkTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.stream, self.wire = make()
        self.got: list[bytearray] = []
        self.stream.sink = self.got.append

    def test_nothing_is_accepted_before_configure(self) -> None:
        self.stream.receive(rtp(1, 0), PHONE, 0.0)
        self.assertEqual(self.got, [])
        self.assertEqual(self.stream.counters.not_ready, 1)

    def test_sink_gets_a_bytearray_copy_of_each_packet(self) -> None:
        self.stream.configure(config(), 0.0)
        packet = rtp(1, 0)
        self.assertFalse(self.stream.receive(packet, PHONE, 0.0))
        self.assertEqual(self.got, [bytearray(packet)])
        self.assertIsInstance(self.got[0], bytearray)

    def test_recvonly_off_stops_delivery_but_counts(self) -> None:
        self.stream.configure(config(recv=False), 0.0)
        self.stream.receive(rtp(1, 0), PHONE, 0.0)
        self.assertEqual(self.got, [])
        self.assertEqual(self.stream.stats().rx_packets, 1)

    def test_malformed_rtp_is_dropped(self) -> None:
        self.stream.configure(config(), 0.0)
        bad = bytearray(rtp(1, 0))
        bad[0] |= 0x0F  # 15 CSRCs claimed, none there
        self.stream.receive(bytes(bad[:20]), PHONE, 0.0)
        self.stream.receive(b"\x80\x00", PHONE, 0.0)
        self.assertEqual(self.got, [])
        self.assertEqual(self.stream.counters.malformed, 2)

    def test_demux_of_foreign_first_bytes(self) -> None:
        self.stream.configure(config(), 0.0)
        self.assertTrue(self.stream.receive(binding_request(UFRAG, PWD), PHONE, 0.0))
        self.assertTrue(self.stream.receive(b"\x16\xfe\xfd" + bytes(20), PHONE, 0.0))
        self.assertFalse(self.stream.receive(b"\x40" + bytes(20), PHONE, 0.0))
        # No ICE and no DTLS on this leg: STUN and DTLS are unknown too.
        self.assertEqual(self.stream.counters.unknown, 3)
        self.assertEqual(self.wire.sent, [])

    def test_rtcp_on_the_rtp_port_is_demultiplexed(self) -> None:
        self.stream.configure(config(rtcp_mux=True), 0.0)
        report = rtcp.report_compound(rtcp.ReceiverReport(0x11111111), "phone")
        self.assertTrue(self.stream.receive(report, PHONE, 0.0))
        self.assertEqual(self.got, [])
        self.assertEqual(self.stream.stats().rtcp_received, 1)

    def test_echo_sends_received_packets_back_instead_of_to_the_sink(self) -> None:
        self.stream.configure(config(), 0.0)
        self.stream.echo = True
        self.stream.receive(rtp(7, 1000, payload=b"\x01" * 160), PHONE, 0.0)
        self.assertEqual(self.got, [])
        [(data, addr)] = self.wire.take()
        self.assertEqual(addr, PHONE)
        self.assertEqual(payload(data), b"\x01" * 160)
        self.assertEqual(RtpHeader.parse(data).ssrc, self.stream.ssrc)


class LatchingTests(SynchronousTestCase):
    def test_strict_without_comedia_accepts_the_sdp_host_only(self) -> None:
        stream, wire = make()
        got: list[bytearray] = []
        stream.sink = got.append
        stream.configure(config(), 0.0)
        stream.receive(rtp(1, 0), ("10.9.9.9", 4000), 0.0)
        self.assertEqual(got, [])
        self.assertEqual(stream.counters.dropped_source, 1)
        # Another port on the SDP host is fine before latching (asymmetric phones) ...
        stream.receive(rtp(2, 160), ("127.0.0.1", 4002), 0.0)
        # ... and then it is the only source accepted.
        stream.receive(rtp(3, 320), PHONE, 0.0)
        self.assertEqual(len(got), 1)
        self.assertEqual(stream.counters.dropped_source, 2)
        # We still send where the SDP said (no comedia).
        stream.send_rtp(bytearray(rtp(1, 0, ssrc=5)), 0.0)
        self.assertEqual(wire.take()[0][1], PHONE)

    def test_comedia_latches_to_the_first_valid_source_then_drops_others(self) -> None:
        stream, wire = make()
        stream.comedia = True
        got: list[bytearray] = []
        stream.sink = got.append
        stream.configure(config(), 0.0)
        stream.receive(rtp(1, 0), ELSEWHERE, 0.0)
        stream.receive(rtp(2, 160), PHONE, 0.02)
        self.assertEqual(len(got), 1)
        self.assertEqual(stream.counters.dropped_source, 1)
        stream.send_rtp(bytearray(rtp(1, 0, ssrc=5)), 0.0)
        self.assertEqual(wire.take()[0][1], ELSEWHERE)
        self.assertEqual(stream.stats().remote_address, ELSEWHERE)

    def test_comedia_before_latching_has_nowhere_to_send_without_sdp_address(self) -> None:
        stream, wire = make()
        stream.comedia = True
        stream.configure(config(remote_rtp=None), 0.0)
        stream.send_rtp(bytearray(rtp(1, 0)), 0.0)
        self.assertEqual(wire.sent, [])
        stream.receive(rtp(1, 0), ELSEWHERE, 0.0)
        stream.send_rtp(bytearray(rtp(2, 160)), 0.0)
        self.assertEqual(wire.take()[0][1], ELSEWHERE)

    def test_not_strict_with_comedia_follows_every_source(self) -> None:
        stream, wire = make(strict=False)
        stream.comedia = True
        stream.configure(config(), 0.0)
        stream.receive(rtp(1, 0), ELSEWHERE, 0.0)
        stream.receive(rtp(2, 160), ("127.0.0.1", 6000), 0.0)
        stream.send_rtp(bytearray(rtp(1, 0, ssrc=5)), 0.0)
        self.assertEqual(wire.take()[0][1], ("127.0.0.1", 6000))
        self.assertEqual(stream.counters.dropped_source, 0)

    def test_a_new_remote_address_in_a_reinvite_restarts_learning(self) -> None:
        stream, _ = make()
        got: list[bytearray] = []
        stream.sink = got.append
        stream.configure(config(), 0.0)
        stream.receive(rtp(1, 0), PHONE, 0.0)
        stream.configure(config(remote_rtp=("127.0.0.2", 4100)), 1.0)
        stream.receive(rtp(2, 160), PHONE, 1.0)
        stream.receive(rtp(3, 320), ("127.0.0.2", 4100), 1.0)
        self.assertEqual(len(got), 2)

    def test_hold_with_the_null_address_keeps_receiving_the_latched_source(self) -> None:
        stream, wire = make()
        got: list[bytearray] = []
        stream.sink = got.append
        stream.configure(config(), 0.0)
        stream.receive(rtp(1, 0), PHONE, 0.0)
        stream.configure(config(remote_rtp=None, send=False), 1.0)  # RFC 3264 §8.4 hold
        stream.receive(rtp(2, 160), PHONE, 1.0)
        stream.receive(rtp(3, 320), ELSEWHERE, 1.0)
        stream.send_rtp(bytearray(rtp(1, 0, ssrc=5)), 1.0)
        self.assertEqual((len(got), wire.sent), (2, []))
        stream.configure(config(), 2.0)
        stream.send_rtp(bytearray(rtp(2, 160, ssrc=5)), 2.0)
        self.assertEqual(wire.take()[0][1], PHONE)


class RewriteTests(SynchronousTestCase):
    def test_one_continuous_stream_through_a_source_switch(self) -> None:
        stream, wire = make()
        stream.configure(config(), 0.0)
        for i in range(3):
            stream.send_rtp(bytearray(rtp(100 + i, 5000 + 160 * i, ssrc=0xA)), 0.02 * i)
        for i in range(3):
            stream.send_rtp(bytearray(rtp(9000 + i, 777 + 160 * i, ssrc=0xB)), 0.06 + 0.02 * i)
        out = headers(wire.take())
        self.assertEqual({h.ssrc for h in out}, {stream.ssrc})
        seqs = [h.sequence for h in out]
        self.assertEqual(seqs, [(seqs[0] + i) & 0xFFFF for i in range(6)])
        stamps = [h.timestamp for h in out]
        self.assertEqual(
            [(b - a) & 0xFFFFFFFF for a, b in zip(stamps, stamps[1:], strict=False)], [160] * 5
        )
        self.assertEqual([h.marker for h in out], [True, False, False, True, False, False])

    def test_prompt_then_relay_stays_continuous(self) -> None:
        stream, wire = make()
        stream.configure(config(), 10.0)
        done: list[bool] = []
        stream.play(b"\x55" * 320, 10.0, lambda: done.append(True))
        stream.handle_timer(10.02)
        self.assertEqual(done, [True])
        stream.send_rtp(bytearray(rtp(50, 0, ssrc=0xC)), 10.04)
        out = headers(wire.take())
        self.assertEqual(len(out), 3)
        self.assertEqual([h.sequence - out[0].sequence for h in out], [0, 1, 2])
        self.assertEqual(
            [(h.timestamp - out[0].timestamp) & 0xFFFFFFFF for h in out], [0, 160, 320]
        )
        self.assertEqual([h.marker for h in out], [True, False, True])

    def test_send_before_configure_and_on_hold_is_a_no_op(self) -> None:
        stream, wire = make()
        stream.send_rtp(bytearray(rtp(1, 0)), 0.0)
        stream.configure(config(send=False), 0.0)
        stream.send_rtp(bytearray(rtp(1, 0)), 0.0)
        self.assertEqual(wire.sent, [])
        stream.configure(config(), 1.0)
        stream.send_rtp(bytearray(rtp(2, 160)), 1.0)
        self.assertEqual(len(wire.sent), 1)

    def test_socket_errors_are_counted_not_raised(self) -> None:
        stream, wire = make()
        stream.configure(config(), 0.0)
        wire.fail = BlockingIOError(11, "EAGAIN")
        stream.send_rtp(bytearray(rtp(1, 0)), 0.0)
        self.assertEqual(stream.counters.send_errors, 1)


class DtmfTests(SynchronousTestCase):
    def event(self, seq: int, ts: int, duration: int, end: bool = False, m: bool = False) -> bytes:
        body = TelephoneEvent(5, end, 10, duration).serialize()
        return rtp(seq, ts, pt=101, payload=body, marker=m)

    def test_one_digit_per_press_and_packets_still_reach_the_sink(self) -> None:
        stream, _ = make()
        digits: list[str] = []
        got: list[bytearray] = []
        stream.on_dtmf = digits.append
        stream.sink = got.append
        stream.configure(config(), 0.0)
        packets = [
            self.event(1, 800, 160, m=True),
            self.event(2, 800, 320),
            self.event(3, 800, 480, end=True),
            self.event(4, 800, 480, end=True),
            self.event(5, 2400, 160, m=True),
        ]
        for i, packet in enumerate(packets):
            stream.receive(packet, PHONE, 0.02 * i)
        self.assertEqual(digits, ["5", "5"])
        self.assertEqual(len(got), 5)

    def test_send_dtmf_schedule_pauses_relayed_audio(self) -> None:
        stream, wire = make()
        stream.configure(config(), 100.0)
        stream.send_dtmf("#", 60, 100.0)
        stream.send_rtp(bytearray(rtp(1, 0, ssrc=9)), 100.0)  # paused while the digit goes
        while (at := stream.timer_at()) is not None and at < 101.0:
            stream.handle_timer(at)
        out = headers(wire.take())
        self.assertEqual([h.payload_type for h in out], [101] * 5)
        self.assertEqual([h.marker for h in out], [True, False, False, False, False])
        self.assertEqual(len({h.timestamp for h in out}), 1)
        self.assertEqual([h.sequence - out[0].sequence for h in out], [0, 1, 2, 3, 4])
        stream.send_rtp(bytearray(rtp(2, 160, ssrc=9)), 101.0)
        self.assertEqual(len(wire.take()), 1)

    def test_send_dtmf_payloads(self) -> None:
        stream, wire = make()
        stream.configure(config(), 0.0)
        stream.send_dtmf("1", 40, 0.0)
        for at in (0.02, 0.04, 0.06):
            stream.handle_timer(at)
        events = [TelephoneEvent.parse(payload(d)) for d, _ in wire.take()]
        self.assertEqual(
            [(e.event, e.end, e.duration) for e in events],
            [(1, False, 160), (1, True, 320), (1, True, 320), (1, True, 320)],
        )

    def test_send_dtmf_without_telephone_event(self) -> None:
        stream, _ = make()
        stream.configure(config(dtmf_pt=None), 0.0)
        self.assertRaises(MediaError, stream.send_dtmf, "1", 100, 0.0)


class PromptTests(SynchronousTestCase):
    def test_frames_are_paced_and_the_last_is_padded_with_silence(self) -> None:
        stream, wire = make()
        stream.configure(config(), 0.0)
        done: list[bool] = []
        stream.play(b"\x01" * 400, 0.0, lambda: done.append(True))
        self.assertEqual(len(wire.sent), 1)
        self.assertEqual(stream.timer_at(), 0.02)
        stream.handle_timer(0.02)
        self.assertEqual(done, [])
        stream.handle_timer(0.04)
        self.assertEqual(done, [True])
        frames = [payload(d) for d, _ in wire.take()]
        self.assertEqual(frames[:2], [b"\x01" * 160] * 2)
        self.assertEqual(frames[2], b"\x01" * 80 + b"\xff" * 80)
        self.assertFalse(stream.playing)

    def test_relay_pauses_during_a_prompt_and_stop_is_immediate(self) -> None:
        stream, wire = make()
        stream.configure(config(codec="alaw", payload_type=8), 0.0)
        done: list[bool] = []
        stream.play(b"\x01" * 1600, 0.0, lambda: done.append(True))
        stream.send_rtp(bytearray(rtp(1, 0, pt=8)), 0.01)
        self.assertEqual(len(wire.take()), 1)
        stream.stop_playing()
        self.assertEqual(done, [True])
        stream.send_rtp(bytearray(rtp(2, 160, pt=8)), 0.03)
        self.assertEqual(len(wire.take()), 1)

    def test_a_late_timer_sends_a_short_burst(self) -> None:
        stream, wire = make()
        stream.configure(config(), 0.0)
        stream.play(bytes(160 * 20), 0.0, lambda: None)
        wire.take()
        stream.handle_timer(0.2)  # ten frames late: the 5 newest go
        self.assertEqual(len(wire.take()), 5)

    def test_play_needs_negotiated_g711(self) -> None:
        stream, _ = make()
        self.assertRaises(MediaError, stream.play, b"", 0.0, lambda: None)
        stream.configure(config(codec="opus", payload_type=111, clock_rate=48000), 0.0)
        e = self.assertRaises(MediaError, stream.play, b"", 0.0, lambda: None)
        self.assertEqual(str(e), "cannot play to an opus leg")


class LivenessTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.stream, _ = make(rtcp_interval=0)
        self.stream.rtp_timeout = 30
        self.stream.rtp_hold_timeout = 300
        self.dead: list[str] = []
        self.stream.on_dead = self.dead.append

    def run_until(self, limit: float) -> None:
        while (at := self.stream.timer_at()) is not None and at <= limit:
            self.stream.handle_timer(at)

    def test_rtptimeout_fires_once_after_silence(self) -> None:
        self.stream.configure(config(), 0.0)
        self.assertEqual(self.stream.timer_at(), 30.0)
        self.stream.receive(rtp(1, 0), PHONE, 20.0)
        self.run_until(49.9)
        self.assertEqual(self.dead, [])
        self.run_until(50.0)
        self.assertEqual(self.dead, ["no RTP for 30 s (rtptimeout)"])
        self.run_until(500.0)
        self.assertEqual(len(self.dead), 1)

    def test_hold_uses_rtpholdtimeout(self) -> None:
        self.stream.configure(config(send=False), 0.0)
        self.run_until(299.0)
        self.assertEqual(self.dead, [])
        self.run_until(300.0)
        self.assertEqual(self.dead, ["no RTP for 300 s (rtpholdtimeout)"])

    def test_rtcp_alone_keeps_a_call_alive(self) -> None:
        self.stream.configure(config(), 0.0)
        report = rtcp.report_compound(rtcp.ReceiverReport(1), "x")
        self.stream.receive_rtcp(report, PHONE_RTCP, 25.0)
        self.run_until(54.0)
        self.assertEqual(self.dead, [])

    def test_no_timeout_configured(self) -> None:
        stream, _ = make(rtcp_interval=0)
        stream.configure(config(), 0.0)
        self.assertIsNone(stream.timer_at())


class SdesTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.stream, self.wire = make()
        self.got: list[bytearray] = []
        self.stream.sink = self.got.append
        security = SdesSecurity("SRTP_AES128_CM_SHA1_80", KEY_A, KEY_B)
        self.stream.configure(config(security=security), 0.0)
        self.phone = SrtpContext("SRTP_AES128_CM_SHA1_80", KEY_B, KEY_A)

    def test_round_trip(self) -> None:
        packet = rtp(1, 0)
        self.stream.receive(self.phone.protect(packet), PHONE, 0.0)  # type: ignore[arg-type]
        self.assertEqual(self.got, [bytearray(packet)])
        self.stream.send_rtp(bytearray(rtp(5, 0, ssrc=3)), 0.0)
        [(data, _)] = self.wire.take()
        self.assertEqual(len(data), 172 + 10)
        plain = self.phone.unprotect(data)
        assert plain is not None
        self.assertEqual(RtpHeader.parse(plain).ssrc, self.stream.ssrc)
        self.assertEqual(self.stream.stats().srtp_profile, "SRTP_AES128_CM_SHA1_80")

    def test_unauthenticated_packets_do_not_latch_or_reach_the_sink(self) -> None:
        self.stream.comedia = True
        self.stream.receive(rtp(1, 0) + bytes(10), ELSEWHERE, 0.0)
        self.stream.receive(self.phone.protect(rtp(2, 160)), PHONE, 0.0)  # type: ignore[arg-type]
        self.assertEqual(len(self.got), 1)
        self.assertEqual(self.stream.stats().srtp_failures, 1)
        self.stream.send_rtp(bytearray(rtp(5, 0, ssrc=3)), 0.0)
        self.assertEqual(self.wire.take()[0][1], PHONE)

    def test_srtcp_report(self) -> None:
        self.stream.send_rtp(bytearray(rtp(5, 0, ssrc=3)), 0.0)
        self.wire.take()
        at = self.stream.timer_at()
        assert at is not None
        self.stream.handle_timer(at)
        [(data, addr)] = self.wire.take()
        self.assertEqual(addr, PHONE_RTCP)
        plain = self.phone.unprotect_rtcp(data)
        assert plain is not None
        sr = rtcp.parse_compound(plain)[0]
        assert isinstance(sr, rtcp.SenderReport)
        self.assertEqual((sr.ssrc, sr.packet_count), (self.stream.ssrc, 1))

    def test_same_keys_in_a_reinvite_keep_the_context(self) -> None:
        first = self.phone.protect(rtp(1, 0))
        assert first is not None
        self.stream.receive(first, PHONE, 0.0)
        security = SdesSecurity("SRTP_AES128_CM_SHA1_80", KEY_A, KEY_B)
        self.stream.configure(config(security=security, send=False), 1.0)
        # The kept context remembers packet 1: a replay is refused (a new one would take it).
        self.stream.receive(first, PHONE, 1.0)
        self.assertEqual(self.stream.stats().srtp_failures, 1)
        self.stream.configure(config(security=replace(security, remote_key_salt=KEY_A)), 2.0)
        self.assertEqual(self.stream.stats().srtp_failures, 0)
        self.assertEqual(len(self.got), 1)

    def test_bad_key_length_is_a_media_error(self) -> None:
        stream, _ = make()
        bad = SdesSecurity("SRTP_AES128_CM_SHA1_80", KEY_A[:10], KEY_B)
        self.assertRaises(MediaError, stream.configure, config(security=bad), 0.0)


class RtcpTests(SynchronousTestCase):
    def test_rr_before_sending_then_sr_with_a_block_and_rtt(self) -> None:
        stream, wire = make(rtcp_interval=5.0)
        stream.configure(config(), 0.0)
        for i in range(10):
            stream.receive(rtp(i, 160 * i), PHONE, 0.02 * i)
        at = stream.timer_at()
        assert at is not None and 2.5 <= at < 7.5
        stream.handle_timer(at)
        [(data, addr)] = wire.take()
        self.assertEqual(addr, PHONE_RTCP)
        rr = rtcp.parse_compound(data)[0]
        assert isinstance(rr, rtcp.ReceiverReport)
        self.assertEqual(rr.reports[0].ssrc, 0x11111111)
        self.assertEqual(rr.reports[0].highest_seq, 9)
        # Send, report an SR, and get the peer's RR about it 0.25 s later with DLSR 0.1 s.
        stream.send_rtp(bytearray(rtp(1, 0, ssrc=7)), at)
        wire.take()
        t = stream.timer_at()
        assert t is not None
        stream.handle_timer(t)
        sr = rtcp.parse_compound(wire.take()[0][0])[0]
        assert isinstance(sr, rtcp.SenderReport)
        block = rtcp.ReportBlock(
            stream.ssrc, 0, 0, 1, 0, rtcp.ntp_middle(sr.ntp_timestamp), rtcp.delay_units(0.1)
        )
        stream.receive_rtcp(rtcp.ReceiverReport(0x11111111, (block,)).serialize(), PHONE, t + 0.25)
        rtt = stream.stats().rtt
        assert rtt is not None
        self.assertAlmostEqual(rtt, 0.15, places=3)

    def test_avpf_reports_every_second_over_the_rtp_port(self) -> None:
        stream, wire = make(rtcp_interval=5.0)
        stream.configure(config(avpf=True, rtcp_mux=True, remote_rtcp=PHONE), 0.0)
        at = stream.timer_at()
        assert at is not None and 0.5 <= at < 1.5
        stream.handle_timer(at)
        self.assertEqual(wire.take()[0][1], PHONE)

    def test_feedback_and_malformed_rtcp(self) -> None:
        stream, _ = make()
        stream.configure(config(), 0.0)
        pli = rtcp.RawRtcp(rtcp.PSFB, 1, bytes(8)).serialize()
        stream.receive_rtcp(pli, PHONE_RTCP, 0.0)
        stream.receive_rtcp(b"\x80\xc9\x00\x09" + bytes(4), PHONE_RTCP, 0.0)
        stream.receive_rtcp(b"\x00", PHONE_RTCP, 0.0)
        self.assertEqual(stream.rtcp.counters.feedback, 1)
        self.assertEqual(stream.rtcp.counters.malformed, 1)
        self.assertEqual(stream.counters.unknown, 1)


class StatsTests(SynchronousTestCase):
    def test_loss_across_two_ssrcs(self) -> None:
        stream, _ = make()
        stream.configure(config(), 0.0)
        for seq in (1, 2, 3, 5, 6):
            stream.receive(rtp(seq, 160 * seq), PHONE, 0.02 * seq)
        for seq in (100, 101, 103):
            stream.receive(rtp(seq, 160 * seq, ssrc=2), PHONE, 0.02 * seq)
        stats = stream.stats()
        self.assertEqual(stats.rx_packets, 8)
        self.assertEqual(stats.rx_octets, 8 * 172)
        self.assertEqual(stats.rx_lost, 2)
        self.assertEqual(stats.remote_ssrc, 2)
        self.assertEqual((stats.codec, stats.ice_state, stats.dtls_state), ("ulaw", None, None))


class IceDtlsTests(SynchronousTestCase):
    """A browser-like peer: ICE checks first, then DTLS; both of our roles."""

    def setUp(self) -> None:
        self.ours = our_certificate()
        self.theirs = peer_certificate()
        self.dead: list[str] = []

    def make_leg(
        self, role: str, rtcp_interval: float = 5.0
    ) -> tuple[MediaStream, Wire, DtlsEndpoint]:
        stream, wire = make(
            ice_credentials=(UFRAG, PWD), certificate=self.ours, rtcp_interval=rtcp_interval
        )
        stream.on_dead = self.dead.append
        security = DtlsSecurity(
            "server" if role == "server" else "client", ("sha-256", self.theirs.fingerprint())
        )
        stream.configure(
            config(
                remote_rtp=None,
                rtcp_mux=True,
                security=security,
                ice=True,
                ice_remote_ufrag="peer",
                avpf=True,
            ),
            0.0,
        )
        peer = DtlsEndpoint(
            self.theirs.certificate,
            self.theirs.private_key,
            "client" if role == "server" else "server",
            ("sha-256", self.ours.fingerprint()),
        )
        return stream, wire, peer

    def ferry(self, stream: MediaStream, wire: Wire, peer: DtlsEndpoint, now: float) -> None:
        for _ in range(10):
            moved = False
            for data, addr in wire.take():
                if 20 <= data[0] < 64:
                    self.assertEqual(addr, PHONE)
                    peer.receive(data, now)
                    moved = True
            for datagram in peer.outputs():
                stream.receive(datagram, PHONE, now)
                moved = True
            if not moved:
                return

    def check_media(self, stream: MediaStream, wire: Wire, peer: DtlsEndpoint) -> None:
        self.assertIs(peer.state, DtlsState.CONNECTED)
        theirs = SrtpContext.from_keys(peer.srtp_keys)
        got: list[bytearray] = []
        stream.sink = got.append
        packet = rtp(1, 0)
        stream.receive(theirs.protect(packet), PHONE, 1.0)  # type: ignore[arg-type]
        self.assertEqual(got, [bytearray(packet)])
        stream.send_rtp(bytearray(rtp(9, 0, ssrc=4)), 1.0)
        [(data, addr)] = [s for s in wire.take() if s[0][0] >= 128]
        self.assertEqual(addr, PHONE)
        self.assertIsNotNone(theirs.unprotect(data))
        self.assertEqual(stream.stats().dtls_state, "connected")

    def test_passive_role_answers_checks_then_a_client_hello(self) -> None:
        stream, wire, peer = self.make_leg("server")
        request = binding_request(UFRAG, PWD, nominate=True)
        self.assertTrue(stream.receive(request, PHONE, 0.01))
        [(response, addr)] = wire.take()
        self.assertEqual((response[:2], addr), (b"\x01\x01", PHONE))
        # Media before DTLS completes cannot be sent (no keys yet).
        stream.send_rtp(bytearray(rtp(1, 0)), 0.01)
        self.assertEqual(wire.sent, [])
        peer.start(0.02)
        self.ferry(stream, wire, peer, 0.02)
        self.check_media(stream, wire, peer)
        self.assertEqual(stream.stats().ice_state, "connected")

    def test_active_role_starts_on_the_first_authenticated_check(self) -> None:
        stream, wire, peer = self.make_leg("client")
        stream.receive(binding_request(UFRAG, "wrong" * 6), PHONE, 0.01)
        self.assertEqual([d[:2] for d, _ in wire.take()], [b"\x01\x11"])  # 401, no ClientHello
        stream.receive(binding_request(UFRAG, PWD), PHONE, 0.02)
        self.assertEqual(stream.stats().ice_state, "checking")
        sent = wire.sent
        self.assertEqual(sent[0][0][:2], b"\x01\x01")
        self.assertEqual(sent[1][0][0], 22)  # the ClientHello follows the response
        self.ferry(stream, wire, peer, 0.03)
        self.check_media(stream, wire, peer)

    def test_checks_before_the_answer_are_answered(self) -> None:
        stream, wire = make(ice_credentials=(UFRAG, PWD), certificate=self.ours)
        stream.receive(binding_request(UFRAG, PWD), PHONE, 0.0)
        self.assertEqual(wire.take()[0][0][:2], b"\x01\x01")

    def test_dtls_from_an_unchecked_address_is_dropped(self) -> None:
        stream, wire, peer = self.make_leg("server")
        peer.start(0.0)
        for datagram in peer.outputs():
            stream.receive(datagram, PHONE, 0.0)
        self.assertEqual(wire.sent, [])
        self.assertEqual(stream.counters.dropped_source, 1)

    def test_wrong_fingerprint_kills_the_leg(self) -> None:
        stream, wire = make(ice_credentials=(UFRAG, PWD), certificate=self.ours)
        stream.on_dead = self.dead.append
        security = DtlsSecurity("server", ("sha-256", self.ours.fingerprint()))
        stream.configure(config(rtcp_mux=True, security=security, ice=True), 0.0)
        stream.receive(binding_request(UFRAG, PWD), PHONE, 0.0)
        peer = DtlsEndpoint(
            self.theirs.certificate,
            self.theirs.private_key,
            "client",
            ("sha-256", self.ours.fingerprint()),
        )
        peer.start(0.0)
        self.ferry(stream, wire, peer, 0.0)
        self.assertEqual(len(self.dead), 1)
        self.assertIn("DTLS fingerprint mismatch", self.dead[0])

    def test_consent_expiry_and_no_checks_at_all(self) -> None:
        stream, _, _ = self.make_leg("server", rtcp_interval=0)
        self.assertEqual(stream.timer_at(), ICE_START_TIMEOUT)
        stream.handle_timer(ICE_START_TIMEOUT)
        self.assertEqual(self.dead, ["ICE failed: no connectivity check within 30 s"])
        self.dead.clear()
        stream, _, _ = self.make_leg("server", rtcp_interval=0)
        stream.receive(binding_request(UFRAG, PWD, nominate=True), PHONE, 1.0)
        stream.receive(binding_request(UFRAG, PWD), PHONE, 20.0)
        stream.handle_timer(49.0)
        self.assertEqual(self.dead, [])
        stream.handle_timer(50.0)
        self.assertEqual(self.dead, ["ICE consent expired (RFC 7675)"])

    def test_reinvite_with_same_role_keeps_the_association_and_close_notifies(self) -> None:
        stream, wire, peer = self.make_leg("server")
        stream.receive(binding_request(UFRAG, PWD, nominate=True), PHONE, 0.0)
        peer.start(0.0)
        self.ferry(stream, wire, peer, 0.0)
        cfg = stream.config
        assert cfg is not None
        stream.configure(replace(cfg, send=False), 1.0)
        stream.configure(cfg, 2.0)
        self.check_media(stream, wire, peer)
        stream.close()
        alerts = [d for d, _ in wire.take() if d[0] == 21]
        self.assertEqual(len(alerts), 1)
        for datagram in [alerts[0]]:
            peer.receive(datagram, 3.0)
        self.assertIs(peer.state, DtlsState.CLOSED)

    def test_ice_restart_switches_credentials_and_keeps_dtls(self) -> None:
        stream, wire, peer = self.make_leg("server")
        stream.receive(binding_request(UFRAG, PWD, nominate=True), PHONE, 0.0)
        peer.start(0.0)
        self.ferry(stream, wire, peer, 0.0)
        theirs = SrtpContext.from_keys(peer.srtp_keys)
        cfg = stream.config
        assert cfg is not None
        # The re-INVITE's answer carried new credentials (RFC 8839 §4.4.1.1.2).
        restarted = replace(
            cfg, ice_remote_ufrag="SjRo", ice_local_credentials=(NEW_UFRAG, NEW_PWD)
        )
        stream.configure(restarted, 1.0)
        self.assertEqual(stream.stats().ice_state, "checking")
        # Until a new nomination, media stays on the pair in use.
        stream.send_rtp(bytearray(rtp(9, 0)), 1.0)
        [(data, addr)] = wire.take()
        self.assertEqual(addr, PHONE)
        stream.receive(binding_request(UFRAG, PWD, "peer", nominate=True), PHONE, 1.1)
        stream.receive(binding_request(NEW_UFRAG, NEW_PWD, "peer", nominate=True), PHONE, 1.1)
        self.assertEqual([d[:2] for d, _ in wire.take()], [b"\x01\x11", b"\x01\x11"])  # 401
        stream.receive(binding_request(NEW_UFRAG, NEW_PWD, "SjRo", nominate=True), ELSEWHERE, 1.2)
        [(response, addr)] = wire.take()
        self.assertEqual((response[:2], addr), (b"\x01\x01", ELSEWHERE))
        self.assertEqual(stream.stats().ice_state, "connected")
        # The same DTLS association and SRTP keys, now on the newly nominated pair.
        self.assertEqual(stream.stats().dtls_state, "connected")
        got: list[bytearray] = []
        stream.sink = got.append
        packet = rtp(1, 0)
        stream.receive(theirs.protect(packet), ELSEWHERE, 1.3)  # type: ignore[arg-type]
        self.assertEqual(got, [bytearray(packet)])
        stream.send_rtp(bytearray(rtp(10, 0)), 1.3)
        [(data, addr)] = wire.take()
        self.assertEqual(addr, ELSEWHERE)
        self.assertIsNotNone(theirs.unprotect(data))
        # Later exchanges with the same credentials (hold, unhold) restart nothing.
        stream.configure(replace(restarted, send=False), 2.0)
        stream.configure(restarted, 2.1)
        self.assertEqual(stream.stats().ice_state, "connected")
        stream.configure(replace(restarted, ice_local_credentials=None), 2.2)
        stream.receive(binding_request(NEW_UFRAG, NEW_PWD, "SjRo"), ELSEWHERE, 2.3)
        self.assertEqual([d[:2] for d, _ in wire.take()], [b"\x01\x01"])

    def test_ice_without_credentials_is_refused(self) -> None:
        stream, _ = make()
        self.assertRaises(MediaError, stream.configure, config(ice=True), 0.0)
        security = DtlsSecurity("server", ("sha-256", "AA:BB"))
        self.assertRaises(MediaError, stream.configure, config(security=security), 0.0)


class CloseTests(SynchronousTestCase):
    def test_close_stops_everything(self) -> None:
        stream, wire = make()
        stream.configure(config(), 0.0)
        done: list[bool] = []
        stream.play(ULAW_FRAME * 3, 0.0, lambda: done.append(True))
        stream.close()
        self.assertEqual(done, [True])
        wire.take()
        stream.send_rtp(bytearray(rtp(1, 0)), 0.0)
        stream.receive(rtp(1, 0), PHONE, 0.0)
        stream.configure(config(), 1.0)
        self.assertEqual(wire.sent, [])
        self.assertIsNone(stream.timer_at())
        stream.handle_timer(10.0)
        stream.close()

    def test_a_closed_stream_is_freed_by_reference_counting(self) -> None:
        # Prompts and digits write through the stream that owns them: close() must undo that
        # cycle, or every leg that played something would wait for the cyclic collector.
        gc.disable()
        self.addCleanup(gc.enable)
        stream, _ = make()
        stream.configure(config(), 0.0)
        stream.play(ULAW_FRAME * 3, 0.0, lambda: None)
        stream.send_dtmf("1", 40, 0.0)
        stream.close()
        ref = weakref.ref(stream)
        del stream
        self.assertIsNone(ref())
