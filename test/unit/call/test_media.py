"""Tests for pbx.call.media: NegotiatedMedia (from recorded offers) -> StreamConfig."""

from __future__ import annotations

import base64
import dataclasses

from twisted.trial.unittest import SynchronousTestCase

from pbx.call.media import stream_config
from pbx.core.errors import MediaError
from pbx.media.stream_config import DtlsSecurity, SdesSecurity
from pbx.sdp.answer import answer_offer
from pbx.sdp.model import Crypto
from pbx.sdp.policy import LocalMedia, MediaPolicy, NegotiatedMedia
from test.unit.sdp.sdpdata import (
    DESK_LOCAL,
    DESK_POLICY,
    KEY_80,
    WEBRTC_LOCAL,
    WEBRTC_POLICY,
    load_sdp,
)

REMOTE_KEY = bytes(range(200, 230))


def negotiate(name: str, policy: MediaPolicy, local: LocalMedia) -> NegotiatedMedia:
    result = answer_offer(load_sdp(name), policy, local)
    assert isinstance(result, tuple), result
    return result[1]


class StreamConfigTests(SynchronousTestCase):
    def test_desk_phone_offer(self) -> None:
        config = stream_config(negotiate("baresip-offer.sdp", DESK_POLICY, DESK_LOCAL), DESK_LOCAL)
        self.assertEqual(config.remote_rtp, ("127.0.0.1", 50500))
        self.assertEqual(config.remote_rtcp, ("127.0.0.1", 50501))
        self.assertEqual((config.codec, config.payload_type, config.dtmf_pt), ("ulaw", 0, 101))
        self.assertEqual(config.codecs, (("ulaw", 0), ("alaw", 8)))
        self.assertEqual((config.frame_ms, config.security, config.ice), (20, None, False))

    def test_chromium_offer(self) -> None:
        negotiated = negotiate("chromium-jssip-offer-loopback.sdp", WEBRTC_POLICY, WEBRTC_LOCAL)
        config = stream_config(negotiated, WEBRTC_LOCAL)
        self.assertTrue(config.rtcp_mux and config.ice and config.avpf)
        self.assertEqual(config.remote_rtcp, config.remote_rtp)
        self.assertEqual(config.ice_remote_ufrag, "nQ4c")
        self.assertEqual(
            config.ice_local_credentials, (WEBRTC_LOCAL.ice_ufrag, WEBRTC_LOCAL.ice_pwd)
        )
        # An exchange that does not say (pbx's offer answered) keeps the stream's credentials.
        unsaid = dataclasses.replace(negotiated, local_ice_ufrag=None, local_ice_pwd=None)
        self.assertIsNone(stream_config(unsaid, WEBRTC_LOCAL).ice_local_credentials)
        no_ice = dataclasses.replace(negotiated, ice=False)
        self.assertIsNone(stream_config(no_ice, WEBRTC_LOCAL).ice_local_credentials)
        self.assertEqual(
            config.security, DtlsSecurity("client", negotiated.remote_fingerprint or ("", ""))
        )
        self.assertEqual((config.dtmf_pt, config.frame_ms), (126, 20))

    def test_sdes_keys_and_mki(self) -> None:
        negotiated = dataclasses.replace(
            negotiate("baresip-offer.sdp", DESK_POLICY, DESK_LOCAL),
            security="sdes",
            remote_crypto=Crypto(
                1,
                "AES_CM_128_HMAC_SHA1_80",
                "inline:" + base64.b64encode(REMOTE_KEY).decode() + "|2^31|7:2",
            ),
            local_crypto_suite="AES_CM_128_HMAC_SHA1_80",
        )
        self.assertEqual(
            stream_config(negotiated, DESK_LOCAL).security,
            SdesSecurity("SRTP_AES128_CM_SHA1_80", KEY_80, REMOTE_KEY, b"\x00\x07"),
        )
        no_key = dataclasses.replace(DESK_LOCAL, sdes_keys={})
        self.assertRaises(MediaError, stream_config, negotiated, no_key)
        bad = dataclasses.replace(
            negotiated, remote_crypto=Crypto(1, "AES_CM_128_HMAC_SHA1_80", "inline:AAAA")
        )
        e = self.assertRaises(MediaError, stream_config, bad, DESK_LOCAL)
        self.assertEqual(str(e), "key||salt is 3 bytes, AES_CM_128_HMAC_SHA1_80 needs 30")

    def test_hold_address_and_port_zero(self) -> None:
        negotiated = negotiate("baresip-offer.sdp", DESK_POLICY, DESK_LOCAL)
        held = dataclasses.replace(negotiated, remote_address="0.0.0.0", send=False)
        config = stream_config(held, DESK_LOCAL)
        self.assertEqual((config.remote_rtp, config.remote_rtcp, config.send), (None, None, False))
        no_port = dataclasses.replace(negotiated, remote_rtp_port=0)
        self.assertIsNone(stream_config(no_port, DESK_LOCAL).remote_rtp)

    def test_dtls_without_role_or_fingerprint(self) -> None:
        negotiated = negotiate("chromium-jssip-offer-loopback.sdp", WEBRTC_POLICY, WEBRTC_LOCAL)
        for broken in (
            dataclasses.replace(negotiated, dtls_role=None),
            dataclasses.replace(negotiated, remote_fingerprint=None),
            dataclasses.replace(negotiated, security="sdes"),
        ):
            self.assertRaises(MediaError, stream_config, broken, WEBRTC_LOCAL)
        server = dataclasses.replace(negotiated, dtls_role="server")
        security = stream_config(server, WEBRTC_LOCAL).security
        assert isinstance(security, DtlsSecurity)
        self.assertEqual(security.role, "server")
