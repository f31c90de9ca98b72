"""Tests for pbx.adapters.media_factory on real loopback sockets: port pairs, LocalMedia, lazy
RTCP, release on close, exhaustion, and the leg's negotiated-format properties."""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from typing import Any

from twisted.internet import reactor as _reactor
from twisted.internet.defer import inlineCallbacks
from twisted.internet.error import CannotListenError
from twisted.internet.protocol import DatagramProtocol
from twisted.internet.task import deferLater
from twisted.trial.unittest import TestCase

from pbx.adapters.media_factory import UdpMediaFactory, UdpMediaLeg
from pbx.config.rtp_conf import RtpSettings
from pbx.core.addr import Address
from pbx.core.errors import MediaError
from pbx.core.nat import NatMap
from pbx.core.tokens import CountingTokens
from pbx.sdp.policy import MediaPolicy
from test.unit.media.media_support import DATA, negotiated, our_certificate

reactor: Any = _reactor
SETTINGS = RtpSettings(31000, 31999, 1200, 5000, "yes", 4, True, 1200)
DESK = MediaPolicy("desk", ("ulaw", "alaw"))
BROWSER = MediaPolicy("alice", ("ulaw",), encryption=True, dtls=True, ice=True, rtcp_mux=True)


def settle() -> Any:
    """One reactor turn: UDP ports close in a callLater(0)."""
    return deferLater(reactor, 0, lambda: None)


class MediaFactoryTests(TestCase):
    def setUp(self) -> None:
        self.factory = self.make_factory(SETTINGS)
        self.legs: list[UdpMediaLeg] = []

    def make_factory(self, settings: RtpSettings, **kwargs: Any) -> UdpMediaFactory:
        kwargs.setdefault("certificate", our_certificate())
        return UdpMediaFactory(
            reactor, reactor, settings, {"IPv4": "127.0.0.1"}, CountingTokens(), **kwargs
        )

    def leg(
        self, policy: MediaPolicy = DESK, factory: UdpMediaFactory | None = None
    ) -> UdpMediaLeg:
        leg = (factory or self.factory).create_leg(f"SIP/{policy.peer_name}", policy)
        self.legs.append(leg)
        return leg

    def tearDown(self) -> Any:
        for leg in self.legs:
            leg.close()
        return settle()

    def bindable(self, port: int) -> bool:
        try:
            listening = reactor.listenUDP(port, DatagramProtocol(), interface="127.0.0.1")
        except CannotListenError:
            return False
        listening.stopListening()
        return True

    @inlineCallbacks
    def test_desk_leg_binds_an_even_rtp_port_and_the_rtcp_port_above(self) -> Any:
        leg = self.leg()
        local = leg.local_media()
        self.assertEqual(local.address, "127.0.0.1")
        self.assertEqual(local.rtp_port % 2, 0)
        self.assertEqual(local.rtcp_port, local.rtp_port + 1)
        self.assertTrue(31000 <= local.rtp_port < 32000)
        self.assertFalse(self.bindable(local.rtp_port))
        self.assertFalse(self.bindable(local.rtcp_port))
        self.assertEqual(
            (local.ice_ufrag, local.fingerprint, dict(local.fingerprints)), (None, None, {})
        )
        self.assertEqual(
            sorted(local.sdes_keys), ["AES_CM_128_HMAC_SHA1_32", "AES_CM_128_HMAC_SHA1_80"]
        )
        self.assertEqual({len(k) for k in local.sdes_keys.values()}, {30})
        leg.close()
        leg.close()
        yield settle()
        self.assertTrue(self.bindable(local.rtp_port))
        self.assertTrue(self.bindable(local.rtcp_port))
        self.assertEqual(self.factory.pool.in_use, 0)

    @inlineCallbacks
    def test_browser_leg_has_one_socket_ice_and_fingerprints(self) -> Any:
        leg = self.leg(BROWSER)
        local = leg.local_media()
        self.assertFalse(self.bindable(local.rtp_port))
        self.assertTrue(self.bindable(local.rtcp_port))
        yield settle()
        assert local.ice_ufrag is not None and local.ice_pwd is not None
        self.assertRegex(local.ice_ufrag, r"^[0-9a-f]{8}$")
        self.assertRegex(local.ice_pwd, r"^[0-9a-f]{32}$")
        self.assertEqual(local.fingerprint, our_certificate().fingerprint("sha-256"))
        self.assertEqual(local.fingerprints["sha-1"], our_certificate().fingerprint("sha-1"))
        # Our rtcp-mux offer answered without mux: the reserved odd port is bound now.
        leg.configure(negotiated(40000, rtcp_mux=False))
        self.assertFalse(self.bindable(local.rtcp_port))

    def test_sdp_address_per_peer_follows_externaddr_and_localnet(self) -> None:
        nat = NatMap(Address("203.0.113.5", 5060), (ipaddress.ip_network("10.0.0.0/8"),))
        factory = self.make_factory(SETTINGS, nat=nat)
        for peer_host, announced in (
            ("198.51.100.7", "203.0.113.5"),  # outside localnet: externaddr
            ("10.1.2.3", "127.0.0.1"),  # inside: the bound address
            (None, "127.0.0.1"),
        ):
            leg = factory.create_leg("SIP/desk", BROWSER, peer_host=peer_host)
            self.legs.append(leg)
            self.assertEqual(leg.local_media().address, announced, peer_host)

    def test_readdress_changes_media_address_and_nat_together(self) -> None:
        # sip reload that adds media_address: it is announced, and externaddr no longer is.
        nat = NatMap(Address("203.0.113.5", 5060), (ipaddress.ip_network("10.0.0.0/8"),))
        factory = self.make_factory(SETTINGS, nat=nat)
        factory.readdress({"IPv4": "198.51.100.1"}, NatMap())
        leg = factory.create_leg("SIP/desk", DESK, peer_host="198.51.100.7")
        self.legs.append(leg)
        self.assertEqual(leg.local_media().address, "198.51.100.1")

    def test_media_address_is_announced_but_not_bound(self) -> None:
        factory = self.make_factory(SETTINGS, advertise={"IPv4": "198.51.100.1"})
        leg = factory.create_leg("SIP/desk", DESK, peer_host="10.1.2.3")
        self.legs.append(leg)
        local = leg.local_media()
        self.assertEqual(local.address, "198.51.100.1")
        self.assertFalse(self.bindable(local.rtp_port))  # bound on 127.0.0.1 all the same

    def test_negotiated_format_properties(self) -> None:
        leg = self.leg()
        self.assertEqual(
            (leg.codec, leg.payload_type, leg.codecs, leg.dtmf_payload_type), ("", -1, (), None)
        )
        leg.configure(negotiated(40000, codecs=(("ulaw", 0), ("alaw", 8))))
        self.assertEqual((leg.codec, leg.payload_type, leg.dtmf_payload_type), ("ulaw", 0, 101))
        self.assertEqual(leg.codecs, (("ulaw", 0), ("alaw", 8)))
        leg.comedia = True
        self.assertTrue(leg.comedia)
        self.assertIsNone(leg.sink)
        self.assertEqual(leg.stats().codec, "ulaw")
        leg.close()
        leg.configure(negotiated(40002))
        self.assertEqual(leg.codecs, (("ulaw", 0), ("alaw", 8)))

    @inlineCallbacks
    def test_exhaustion_and_ports_held_elsewhere(self) -> Any:
        small = self.make_factory(dataclasses.replace(SETTINGS, rtpstart=32000, rtpend=32005))
        squatter = reactor.listenUDP(32003, DatagramProtocol(), interface="127.0.0.1")
        try:
            ports = sorted(self.leg(factory=small).local_media().rtp_port for _ in range(2))
            self.assertEqual(ports, [32000, 32004])
            e = self.assertRaises(MediaError, self.leg, DESK, small)
            self.assertEqual(str(e), "no free RTP port pair in 32000-32005 (2 of 3 in use by pbx)")
        finally:
            squatter.stopListening()
        yield settle()

    def test_family_without_an_address(self) -> None:
        e = self.assertRaises(MediaError, self.factory.create_leg, "SIP/x", DESK, "IPv6")
        self.assertEqual(str(e), "no IPv6 media address configured")

    def test_certificate_is_generated_when_none_is_given(self) -> None:
        factory = self.make_factory(SETTINGS, certificate=None)
        fingerprint = factory.fingerprints()["sha-256"]
        self.assertTrue(re.fullmatch(r"([0-9A-F]{2}:){31}[0-9A-F]{2}", fingerprint))
        self.assertIs(factory.certificate, factory.certificate)

    def test_a_peer_with_dtlscertfile_presents_its_own_certificate(self) -> None:
        factory = self.make_factory(SETTINGS, certificate=None)
        identity = (
            str(DATA / "dtls" / "ecdsa-p256-cert.pem"),
            str(DATA / "dtls" / "ecdsa-p256-key.pem"),
        )
        own = dataclasses.replace(BROWSER, peer_name="bob", dtls_identity=identity)
        own_local = self.leg(own, factory).local_media()
        generated_local = self.leg(BROWSER, factory).local_media()
        self.assertEqual(own_local.fingerprint, our_certificate().fingerprint("sha-256"))
        self.assertEqual(generated_local.fingerprint, factory.certificate.fingerprint("sha-256"))
        self.assertNotEqual(own_local.fingerprint, generated_local.fingerprint)
        # Loaded once; a reload reads the files again but keeps the generated certificate.
        self.assertIs(factory.certificate_for(identity), factory.certificate_for(identity))
        loaded, generated = factory.certificate_for(identity), factory.certificate
        factory.forget_certificates()
        self.assertIsNot(factory.certificate_for(identity), loaded)
        self.assertIs(factory.certificate, generated)

    def test_a_certificate_that_cannot_be_used_is_a_media_error_naming_the_file(self) -> None:
        key = str(DATA / "dtls" / "ecdsa-p256-key.pem")
        e = self.assertRaises(MediaError, self.factory.certificate_for, (key, key))
        self.assertEqual(str(e), f"DTLS certificate: {key}: no PEM certificate found")
        policy = dataclasses.replace(BROWSER, dtls_identity=(key, key))
        self.assertRaises(MediaError, self.leg, policy)
        self.assertEqual(self.factory.pool.in_use, 0)
