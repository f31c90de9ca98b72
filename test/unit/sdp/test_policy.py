"""Tests for pbx.sdp.policy: profile choice, direction algebra and the policy types."""

from __future__ import annotations

import dataclasses

from twisted.trial.unittest import SynchronousTestCase

from pbx.sdp.policy import (
    DTLS_PROFILES,
    PLAIN_PROFILES,
    RTP_PROFILES,
    SDES_PROFILES,
    MediaPolicy,
    direction_flags,
    direction_name,
    offer_profile,
)

from .sdpdata import FINGERPRINT, SHA1_FINGERPRINT, WEBRTC_LOCAL, WEBRTC_POLICY


class ProfileTests(SynchronousTestCase):
    def test_chan_sip_profile_table(self) -> None:
        # ast_sdp_get_rtp_profile: DTLS, else SDES, else plain; F from avpf.
        for dtls, encryption, avpf, expected in [
            (True, True, True, "UDP/TLS/RTP/SAVPF"),
            (True, True, False, "UDP/TLS/RTP/SAVP"),
            (True, False, True, "UDP/TLS/RTP/SAVPF"),
            (True, False, False, "UDP/TLS/RTP/SAVP"),
            (False, True, True, "RTP/SAVPF"),
            (False, True, False, "RTP/SAVP"),
            (False, False, True, "RTP/AVPF"),
            (False, False, False, "RTP/AVP"),
        ]:
            policy = MediaPolicy("p", ("ulaw",), dtls=dtls, encryption=encryption, avpf=avpf)
            self.assertEqual(offer_profile(policy), expected)

    def test_profile_sets(self) -> None:
        self.assertEqual(len(RTP_PROFILES), 6)
        self.assertFalse(PLAIN_PROFILES & SDES_PROFILES or SDES_PROFILES & DTLS_PROFILES)


class DirectionTests(SynchronousTestCase):
    def test_flags_and_names(self) -> None:
        table = {
            "sendrecv": (True, True),
            "sendonly": (True, False),
            "recvonly": (False, True),
            "inactive": (False, False),
        }
        for name, flags in table.items():
            self.assertEqual(direction_flags(name), flags)
            self.assertEqual(direction_name(*flags), name)


class PolicyTypeTests(SynchronousTestCase):
    def test_dtls_setup_is_checked(self) -> None:
        error = self.assertRaises(ValueError, MediaPolicy, "p", ("ulaw",), dtls_setup="holdconn")
        self.assertEqual(
            str(error),
            "dtls_setup must be one of ('actpass', 'active', 'passive'), not 'holdconn'",
        )

    def test_sdes_taglen_is_checked(self) -> None:
        self.assertEqual(MediaPolicy("p", ("ulaw",)).sdes_taglen, 80)
        self.assertEqual(MediaPolicy("p", ("ulaw",), sdes_taglen=32).sdes_taglen, 32)
        error = self.assertRaises(ValueError, MediaPolicy, "p", ("ulaw",), sdes_taglen=64)
        self.assertEqual(str(error), "sdes_taglen must be one of (32, 80), not 64")

    def test_fingerprint_for(self) -> None:
        local = dataclasses.replace(WEBRTC_LOCAL, fingerprints={"SHA-1": SHA1_FINGERPRINT})
        self.assertEqual(local.fingerprint_for("sha-256", WEBRTC_POLICY), FINGERPRINT)
        self.assertEqual(local.fingerprint_for("sha-1", WEBRTC_POLICY), SHA1_FINGERPRINT)
        self.assertIsNone(local.fingerprint_for("sha-512", WEBRTC_POLICY))
        upper = dataclasses.replace(WEBRTC_POLICY, fingerprint_hash="SHA-256")
        self.assertEqual(local.fingerprint_for("sha-256", upper), FINGERPRINT)
        no_cert = dataclasses.replace(local, fingerprint=None)
        self.assertIsNone(no_cert.fingerprint_for("sha-256", WEBRTC_POLICY))
