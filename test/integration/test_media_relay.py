"""Media legs on real loopback UDP: bridged phones, SDES and DTLS-SRTP legs, Echo, Playback,
rtptimeout. The "phones" are plain sockets in the test; the browser is a DtlsEndpoint client
that sends ICE checks first, as Chrome does (WEBRTC-MEDIA.md)."""

from __future__ import annotations

import dataclasses
from array import array
from pathlib import Path
from typing import Any

from twisted.internet import reactor as _reactor
from twisted.internet.defer import CancelledError, Deferred, inlineCallbacks
from twisted.internet.interfaces import IListeningPort
from twisted.internet.protocol import DatagramProtocol
from twisted.internet.task import deferLater
from twisted.trial.unittest import TestCase

from pbx.adapters.media_factory import UdpMediaFactory, UdpMediaLeg
from pbx.call.bridge import TRANSCODE, bridge
from pbx.config.rtp_conf import RtpSettings
from pbx.core.errors import MediaError
from pbx.core.tokens import SecretTokens
from pbx.media.codecs.g711 import alaw_decode, ulaw_decode, ulaw_encode
from pbx.media.dtls import DtlsEndpoint, DtlsState
from pbx.media.rtp import RtpHeader, payload
from pbx.media.sounds import SoundLibrary
from pbx.media.srtp import SrtpContext, make_sdes_key
from pbx.media.tone import detect_tone, sine
from pbx.sdp.model import Crypto
from pbx.sdp.policy import MediaPolicy
from test.unit.media.media_support import (
    binding_request,
    negotiated,
    our_certificate,
    peer_certificate,
    rtp,
)

reactor: Any = _reactor  # the global EPollReactor; its zope interfaces are not in the stubs

SETTINGS = RtpSettings(
    rtpstart=30000,
    rtpend=30999,
    dtmftimeout=1200,
    rtcpinterval=5000,
    strictrtp="yes",
    probation=4,
    icesupport=True,
    dtls_mtu=1200,
)
DESK = MediaPolicy("desk", ("ulaw", "alaw"))
BROWSER = MediaPolicy(
    "alice", ("ulaw",), encryption=True, dtls=True, avpf=True, ice=True, rtcp_mux=True
)
SOUNDS = SoundLibrary([str(Path(__file__).resolve().parents[2] / "contrib" / "sounds")])
TIMEOUT = 5.0


class Phone(DatagramProtocol):
    """A far end on its own loopback port: records datagrams, fires waiters by count."""

    def __init__(self) -> None:
        self.received: list[bytes] = []
        self.on_datagram: object = None
        self._waiters: list[tuple[int, Deferred[None]]] = []
        self.port: IListeningPort = reactor.listenUDP(0, self, interface="127.0.0.1")
        self.address = ("127.0.0.1", self.port.getHost().port)

    def datagramReceived(self, data: bytes, addr: tuple[str, int]) -> None:  # noqa: N802
        if callable(self.on_datagram):
            self.on_datagram(data, addr)
        else:
            self.received.append(data)
        for waiter in list(self._waiters):
            if len(self.received) >= waiter[0]:
                self._waiters.remove(waiter)
                waiter[1].callback(None)

    def wait_for(self, count: int) -> Deferred[None]:
        d: Deferred[None] = Deferred()
        if len(self.received) >= count:
            d.callback(None)
        else:
            self._waiters.append((count, d))
        return d.addTimeout(TIMEOUT, reactor)

    def send(self, data: bytes, to: tuple[str, int]) -> None:
        assert self.transport is not None
        self.transport.write(data, to)

    def rtp(self) -> list[bytes]:
        return [d for d in self.received if 128 <= d[0] < 192 and not 64 <= d[1] & 0x7F <= 95]


class MediaRelayTests(TestCase):
    def setUp(self) -> None:
        self.factory = UdpMediaFactory(
            reactor,
            reactor,
            SETTINGS,
            {"IPv4": "127.0.0.1"},
            SecretTokens(),
            certificate=our_certificate(),
        )
        self.legs: list[UdpMediaLeg] = []
        self.phones: list[Phone] = []

    def tearDown(self) -> Deferred[object]:  # type: ignore[override]  # trial waits on it
        for leg in self.legs:
            leg.close()
        self.assertEqual(self.factory.pool.in_use, 0)
        # Let the closed ports go away before the reactor is checked for leftovers.
        return deferLater(reactor, 0, lambda: [p.port.stopListening() for p in self.phones])

    def leg(self, policy: MediaPolicy = DESK, timeouts: tuple[int, int] = (0, 0)) -> UdpMediaLeg:
        leg = self.factory.create_leg(
            f"SIP/{policy.peer_name}-{len(self.legs)}", policy, timeouts=timeouts
        )
        self.legs.append(leg)
        return leg

    def phone(self) -> Phone:
        phone = Phone()
        self.phones.append(phone)
        return phone

    def target(self, leg: UdpMediaLeg) -> tuple[str, int]:
        local = leg.local_media()
        return (local.address, local.rtp_port)

    @inlineCallbacks
    def test_two_desk_phones_bridged_both_ways(self):
        a, b = self.leg(), self.leg()
        pa, pb = self.phone(), self.phone()
        a.configure(negotiated(pa.address[1]))
        b.configure(negotiated(pb.address[1]))
        joined = bridge(a, b)
        for i in range(5):
            pa.send(rtp(1000 + i, 8000 + 160 * i, ssrc=0xAAAA, marker=i == 0), self.target(a))
            pb.send(rtp(50 + i, 160 * i, ssrc=0xBBBB), self.target(b))
        yield pa.wait_for(5)
        yield pb.wait_for(5)
        to_b = [RtpHeader.parse(p) for p in pb.rtp()]
        self.assertEqual({h.ssrc for h in to_b}, {b.stats().local_ssrc})
        self.assertEqual([h.sequence - to_b[0].sequence for h in to_b], [0, 1, 2, 3, 4])
        self.assertNotEqual(to_b[0].sequence, 1000)
        self.assertTrue(to_b[0].marker)
        self.assertEqual({payload(p) for p in pb.rtp()}, {rtp(0, 0)[12:]})
        to_a = [RtpHeader.parse(p) for p in pa.rtp()]
        self.assertEqual({h.ssrc for h in to_a}, {a.stats().local_ssrc})
        self.assertEqual(joined.counters["a->b_relayed"], 5)
        self.assertEqual((a.stats().rx_packets, b.stats().tx_packets), (5, 5))

    @inlineCallbacks
    def test_ulaw_phone_hears_alaw_phone(self):
        a, b = self.leg(), self.leg()
        pa, pb = self.phone(), self.phone()
        a.configure(negotiated(pa.address[1]))
        b.configure(negotiated(pb.address[1], codec="alaw", payload_type=8, codecs=(("alaw", 8),)))
        self.assertEqual(bridge(a, b).technology, TRANSCODE)
        tone = ulaw_encode(sine(1000, 20).tobytes())
        pa.send(rtp(1, 0, payload=tone), self.target(a))
        yield pb.wait_for(1)
        [packet] = pb.rtp()
        self.assertEqual(packet[1] & 0x7F, 8)
        samples = array("h", alaw_decode(payload(packet)))
        self.assertTrue(detect_tone(samples, 8000, 1000, min_ratio=0.95))

    @inlineCallbacks
    def test_sdes_phone_and_plain_phone(self):
        secure = self.leg(dataclasses.replace(DESK, encryption=True))
        plain = self.leg()
        ps, pp = self.phone(), self.phone()
        suite = "AES_CM_128_HMAC_SHA1_80"
        phone_key = make_sdes_key(SecretTokens(), suite)
        secure.configure(
            negotiated(
                ps.address[1],
                security="sdes",
                remote_crypto=Crypto(1, suite, phone_key.key_params),
                local_crypto_suite=suite,
                profile="RTP/SAVP",
            )
        )
        plain.configure(negotiated(pp.address[1]))
        bridge(secure, plain)
        srtp = SrtpContext(
            "SRTP_AES128_CM_SHA1_80", phone_key.key_salt, secure.local_media().sdes_keys[suite]
        )
        encrypted = srtp.protect(rtp(7, 0, payload=b"\x42" * 160))
        assert encrypted is not None
        ps.send(encrypted, self.target(secure))
        pp.send(rtp(9, 0, payload=b"\x24" * 160), self.target(plain))
        yield pp.wait_for(1)
        yield ps.wait_for(1)
        self.assertEqual(payload(pp.rtp()[0]), b"\x42" * 160)
        decrypted = srtp.unprotect(ps.rtp()[0])
        assert decrypted is not None
        self.assertEqual(payload(decrypted), b"\x24" * 160)
        self.assertEqual(secure.stats().srtp_profile, "SRTP_AES128_CM_SHA1_80")

    @inlineCallbacks
    def test_browser_dtls_srtp_leg_and_desk_phone(self):
        browser_leg, desk_leg = self.leg(BROWSER), self.leg()
        browser, desk = self.phone(), self.phone()
        theirs = peer_certificate()
        local = browser_leg.local_media()
        assert local.ice_ufrag and local.ice_pwd and local.fingerprint
        browser_leg.configure(
            negotiated(
                browser.address[1],
                rtcp_mux=True,
                security="dtls",
                dtls_role="server",
                remote_fingerprint=("sha-256", theirs.fingerprint()),
                ice=True,
                remote_ice_ufrag="peer",
                avpf=True,
                profile="UDP/TLS/RTP/SAVPF",
            )
        )
        desk_leg.configure(negotiated(desk.address[1]))
        bridge(browser_leg, desk_leg)
        dtls = DtlsEndpoint(
            theirs.certificate, theirs.private_key, "client", ("sha-256", local.fingerprint)
        )
        target = self.target(browser_leg)
        connected: Deferred[None] = Deferred()
        media: list[bytes] = []

        def from_pbx(data: bytes, addr: tuple[str, int]) -> None:
            if data[0] < 4:
                browser.received.append(data)
                if len(browser.received) == 1:  # the check succeeded: ClientHello
                    dtls.start(reactor.seconds())
            elif 20 <= data[0] < 64:
                dtls.receive(data, reactor.seconds())
                if dtls.state is DtlsState.CONNECTED and not connected.called:
                    connected.callback(None)
            else:
                media.append(data)
            for datagram in dtls.outputs():
                browser.send(datagram, target)

        browser.on_datagram = from_pbx
        browser.send(binding_request(local.ice_ufrag, local.ice_pwd, nominate=True), target)
        yield connected.addTimeout(TIMEOUT, reactor)
        srtp = SrtpContext.from_keys(dtls.srtp_keys)
        yield deferLater(reactor, 0.05, lambda: None)  # our final flight reaches pbx
        for i in range(3):
            encrypted = srtp.protect(rtp(i, 160 * i, payload=b"\x11" * 160))
            assert encrypted is not None
            browser.send(encrypted, target)
            desk.send(rtp(i, 160 * i, payload=b"\x22" * 160), self.target(desk_leg))
        yield desk.wait_for(3)
        for _ in range(50):
            if len([m for m in media if m[0] >= 128]) >= 3:
                break
            yield deferLater(reactor, 0.02, lambda: None)
        self.assertEqual({payload(p) for p in desk.rtp()}, {b"\x11" * 160})
        heard = [srtp.unprotect(m) for m in media if not 64 <= m[1] & 0x7F <= 95]
        self.assertEqual({payload(p) for p in heard if p is not None}, {b"\x22" * 160})
        stats = browser_leg.stats()
        self.assertEqual((stats.ice_state, stats.dtls_state), ("connected", "connected"))
        self.assertEqual(stats.srtp_profile, dtls.srtp_keys.profile)

    @inlineCallbacks
    def test_echo(self):
        leg = self.leg()
        phone = self.phone()
        leg.configure(negotiated(phone.address[1]))
        leg.echo(True)
        phone.send(rtp(1, 0, payload=b"\x33" * 160), self.target(leg))
        yield phone.wait_for(1)
        self.assertEqual(payload(phone.rtp()[0]), b"\x33" * 160)
        self.assertEqual(RtpHeader.parse(phone.rtp()[0]).ssrc, leg.stats().local_ssrc)

    @inlineCallbacks
    def test_playback_of_the_test_tone(self):
        leg = self.leg()
        phone = self.phone()
        leg.configure(negotiated(phone.address[1]))
        loaded = SOUNDS.load("tone-1000hz")
        assert loaded is not None
        yield leg.play(*loaded).addTimeout(TIMEOUT, reactor)
        yield phone.wait_for(50)  # the last frame may still be in flight
        frames = phone.rtp()
        self.assertEqual(len(frames), 50)
        samples = array("h", ulaw_decode(b"".join(payload(f) for f in frames)))
        self.assertTrue(detect_tone(samples, 8000, 1000, min_ratio=0.95))
        stamps = [RtpHeader.parse(f).timestamp for f in frames]
        self.assertEqual(
            {(b - a) & 0xFFFFFFFF for a, b in zip(stamps, stamps[1:], strict=False)}, {160}
        )

    @inlineCallbacks
    def test_playback_cancel_and_refusals(self):
        leg = self.leg()
        phone = self.phone()
        error = yield self.assertFailure(leg.play(b"\x00\x00" * 160), MediaError)
        self.assertEqual(str(error), "cannot play to an unnegotiated leg")
        leg.configure(negotiated(phone.address[1]))
        playing = leg.play(sine(440, 2000))
        playing.cancel()
        yield self.assertFailure(playing, CancelledError)
        yield deferLater(reactor, 0.1, lambda: None)
        self.assertEqual(len(phone.rtp()), 1)  # the first frame goes at once, then nothing
        opus = self.leg()
        opus.configure(
            negotiated(
                phone.address[1],
                codec="opus",
                payload_type=111,
                clock_rate=48000,
                codecs=(("opus", 111),),
            )
        )
        error = yield self.assertFailure(opus.play(sine(440, 20)), MediaError)
        self.assertEqual(str(error), "cannot play to an opus leg")

    @inlineCallbacks
    def test_rtptimeout_hangs_up(self):
        leg = self.leg(timeouts=(1, 0))
        phone = self.phone()
        dead: Deferred[str] = Deferred()
        leg.on_dead = dead.callback
        start = reactor.seconds()
        leg.configure(negotiated(phone.address[1]))
        reason = yield dead.addTimeout(TIMEOUT, reactor)
        self.assertEqual(reason, "no RTP for 1 s (rtptimeout)")
        self.assertGreaterEqual(reactor.seconds() - start, 1.0)
