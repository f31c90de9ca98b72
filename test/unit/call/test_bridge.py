"""Tests for pbx.call.bridge: PT mapping, ulaw<->alaw transcoding, DTMF mapping, refusals."""

from __future__ import annotations

from array import array
from collections.abc import Callable

from twisted.internet.defer import Deferred
from twisted.trial.unittest import SynchronousTestCase

from pbx.call.bridge import RELAY, TRANSCODE, Bridge, bridge
from pbx.core.errors import MediaError
from pbx.media.codecs.g711 import alaw_decode, alaw_encode, ulaw_decode, ulaw_encode
from pbx.media.rtp import RtpHeader, payload
from pbx.media.stream_config import LegStats
from pbx.media.tone import detect_tone, sine
from pbx.sdp.policy import LocalMedia
from test.unit.media.media_support import rtp


class FakeLeg:
    """A negotiated leg (a structural :class:`pbx.call.media.MediaLeg`) that records what it is
    asked to send."""

    def __init__(
        self,
        name: str,
        codecs: tuple[tuple[str, int], ...],
        dtmf: int | None = 101,
    ) -> None:
        self.name = name
        self.comedia = False
        self.sink: Callable[[bytearray], None] | None = None
        self.on_dtmf: Callable[[str], None] | None = None
        self.on_dead: Callable[[str], None] | None = None
        self._codecs = codecs
        self._dtmf = dtmf
        self.sent: list[bytes] = []

    @property
    def codec(self) -> str:
        return self._codecs[0][0] if self._codecs else ""

    @property
    def payload_type(self) -> int:
        return self._codecs[0][1] if self._codecs else -1

    @property
    def codecs(self) -> tuple[tuple[str, int], ...]:
        return self._codecs

    @property
    def dtmf_payload_type(self) -> int | None:
        return self._dtmf

    def renegotiate(self, codecs: tuple[tuple[str, int], ...], dtmf: int | None) -> None:
        self._codecs, self._dtmf = codecs, dtmf

    def receive(self, packet: bytes) -> None:
        assert self.sink is not None
        self.sink(bytearray(packet))

    def local_media(self) -> LocalMedia:
        raise NotImplementedError

    def configure(self, negotiated: object) -> None:
        raise NotImplementedError

    def send_rtp(self, packet: bytearray) -> None:
        self.sent.append(bytes(packet))

    def send_dtmf(self, digit: str, duration_ms: int = 100) -> None:
        raise NotImplementedError

    def play(self, audio: array[int] | bytes, rate: int = 8000) -> Deferred[None]:
        raise NotImplementedError

    def echo(self, on: bool) -> None:
        raise NotImplementedError

    def stats(self) -> LegStats:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


ULAW = (("ulaw", 0),)
ALAW = (("alaw", 8),)
TONE = sine(1000, 20)


class RelayTests(SynchronousTestCase):
    def test_same_codec_relays_untouched_both_ways(self) -> None:
        a, b = FakeLeg("SIP/a", ULAW), FakeLeg("SIP/b", ULAW)
        joined = bridge(a, b)
        self.assertEqual(joined.technology, RELAY)
        packet = rtp(1, 0, marker=True)
        a.receive(packet)
        b.receive(rtp(2, 160, ssrc=9))
        self.assertEqual(b.sent, [packet])
        self.assertEqual(len(a.sent), 1)
        self.assertEqual(joined.counters["a->b_relayed"], 1)

    def test_dynamic_payload_types_are_mapped(self) -> None:
        a = FakeLeg("SIP/a", (("opus", 111),), dtmf=126)
        b = FakeLeg("SIP/b", (("opus", 96),), dtmf=101)
        bridge(a, b)
        a.receive(rtp(1, 0, pt=111, payload=b"\x01\x02", marker=True))
        a.receive(rtp(2, 0, pt=126, payload=b"\x05\x0a\x00\xa0"))
        out = [RtpHeader.parse(p) for p in b.sent]
        self.assertEqual([(h.payload_type, h.marker) for h in out], [(96, True), (101, False)])
        self.assertEqual(payload(b.sent[0]), b"\x01\x02")

    def test_a_second_joint_codec_is_relayed_as_itself(self) -> None:
        a = FakeLeg("SIP/a", (("ulaw", 0), ("alaw", 8)))
        b = FakeLeg("SIP/b", (("alaw", 8), ("ulaw", 0)))
        joined = bridge(a, b)
        self.assertEqual(joined.technology, RELAY)
        a.receive(rtp(1, 0, pt=8))
        self.assertEqual(b.sent[0][1], 8)

    def test_dtmf_is_dropped_when_the_other_leg_has_none(self) -> None:
        a, b = FakeLeg("SIP/a", ULAW, dtmf=101), FakeLeg("SIP/b", ULAW, dtmf=None)
        joined = bridge(a, b)
        a.receive(rtp(1, 0, pt=101, payload=bytes(4)))
        a.receive(rtp(2, 0, pt=13, payload=bytes(1)))  # CN was not negotiated either
        self.assertEqual(b.sent, [])
        self.assertEqual(joined.counters["a->b_dropped"], 2)


class TranscodeTests(SynchronousTestCase):
    def test_ulaw_to_alaw_and_back(self) -> None:
        a, b = FakeLeg("SIP/a", ULAW), FakeLeg("SIP/b", ALAW)
        joined = bridge(a, b)
        self.assertEqual(joined.technology, TRANSCODE)
        a.receive(rtp(1, 0, payload=ulaw_encode(TONE.tobytes())))
        b.receive(rtp(5, 0, pt=8, payload=alaw_encode(TONE.tobytes())))
        [to_b], [to_a] = b.sent, a.sent
        self.assertEqual((to_b[1], to_a[1]), (8, 0))
        self.assertEqual(len(to_b), 172)
        for data, decode in ((to_b, alaw_decode), (to_a, ulaw_decode)):
            samples = array("h", decode(payload(data)))
            self.assertTrue(detect_tone(samples, 8000, 1000, min_ratio=0.95))
        self.assertEqual(joined.counters["a->b_transcoded"], 1)

    def test_padding_is_left_alone(self) -> None:
        a, b = FakeLeg("SIP/a", ULAW), FakeLeg("SIP/b", ALAW)
        bridge(a, b)
        padded = RtpHeader(0, 1, 0, 7, padding=4).serialize(b"\xff" * 160)
        a.receive(padded)
        self.assertEqual(b.sent[0][-4:], b"\x00\x00\x00\x04")
        self.assertEqual(payload(b.sent[0]), b"\xd5" * 160)


class RefusalTests(SynchronousTestCase):
    def test_opus_and_ulaw_cannot_be_bridged(self) -> None:
        a, b = FakeLeg("SIP/alice-1", (("opus", 111),)), FakeLeg("SIP/desk-2", ULAW)
        e = self.assertRaises(MediaError, bridge, a, b)
        self.assertEqual(
            str(e),
            "cannot bridge opus (SIP/alice-1) with ulaw (SIP/desk-2): "
            "no common codec and no transcoding between them",
        )
        self.assertIsNone(a.sink)

    def test_unnegotiated_leg(self) -> None:
        a, b = FakeLeg("SIP/a", ()), FakeLeg("SIP/b", ULAW)
        e = self.assertRaises(MediaError, Bridge, a, b)
        self.assertEqual(str(e), "cannot bridge SIP/a: its media is not negotiated")


class LifecycleTests(SynchronousTestCase):
    def test_update_after_a_reinvite_and_stop(self) -> None:
        a, b = FakeLeg("SIP/a", ULAW), FakeLeg("SIP/b", ULAW)
        joined = bridge(a, b)
        b.renegotiate(ALAW, None)
        joined.update()
        self.assertEqual(joined.technology, TRANSCODE)
        a.receive(rtp(1, 0))
        self.assertEqual(b.sent[0][1], 8)
        b.renegotiate((("opus", 111),), None)
        self.assertRaises(MediaError, joined.update)
        a.receive(rtp(2, 160))  # the old tables stay in force
        self.assertEqual(len(b.sent), 2)
        joined.stop()
        self.assertIsNone(a.sink)
        self.assertIsNone(b.sink)

    def test_stop_leaves_a_newer_sink_alone(self) -> None:
        a, b = FakeLeg("SIP/a", ULAW), FakeLeg("SIP/b", ULAW)
        first = bridge(a, b)
        second = bridge(a, b)
        first.stop()
        self.assertIsNotNone(a.sink)
        second.stop()
        self.assertIsNone(a.sink)
