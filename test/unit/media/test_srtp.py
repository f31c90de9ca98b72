"""Tests for pbx.media.srtp: protect/unprotect both ways, failures as counters, SDES keys."""

from __future__ import annotations

import base64
import struct

from twisted.trial.unittest import SynchronousTestCase

from pbx.core.errors import LocalProtocolError, RemoteProtocolError
from pbx.core.tokens import CountingTokens
from pbx.media.srtp import (
    SDES_SUITES,
    SRTP_PROFILES,
    SdesCrypto,
    SdesKey,
    SrtpContext,
    SrtpKeys,
    get_profile,
    make_sdes_key,
    parse_crypto,
    parse_sdes_key,
)

# RFC 4568 §6.1 example key (inline:...; 30 bytes of key||salt).
RFC4568_KEY = "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz"
SUITE = "AES_CM_128_HMAC_SHA1_80"


def rtp_packet(seq: int, ssrc: int = 0x11223344, payload: bytes = b"\xff" * 160) -> bytes:
    """A 172-byte PCMU packet (RFC 3550 §5.1 header, PT 0)."""
    return struct.pack("!BBHII", 0x80, 0, seq, seq * 160, ssrc) + payload


def rtcp_rr(ssrc: int = 0x11223344) -> bytes:
    """An RTCP receiver report with one report block (RFC 3550 §6.4.2)."""
    block = struct.pack("!IIIIII", 0x55667788, 0, 100, 0, 0, 0)
    return struct.pack("!BBHI", 0x81, 201, 7, ssrc) + block


def context_pair(profile: str) -> tuple[SrtpContext, SrtpContext]:
    size = SRTP_PROFILES[profile].key_salt_length
    a, b = bytes(range(size)), bytes(range(100, 100 + size))
    return SrtpContext(profile, a, b), SrtpContext(profile, b, a)


class ProfileTests(SynchronousTestCase):
    def test_table(self) -> None:
        """RFC 5764 §4.1.2 / RFC 7714 §12 key and salt lengths; RFC 3711 tag lengths."""
        rows = {
            name: (p.key_length, p.salt_length, p.rtp_tag_length, p.rtcp_tag_length)
            for name, p in SRTP_PROFILES.items()
        }
        self.assertEqual(
            rows,
            {
                "SRTP_AES128_CM_SHA1_80": (16, 14, 10, 10),
                "SRTP_AES128_CM_SHA1_32": (16, 14, 4, 10),
                "SRTP_AEAD_AES_128_GCM": (16, 12, 16, 16),
                "SRTP_AEAD_AES_256_GCM": (32, 12, 16, 16),
            },
        )
        for suite, profile in SDES_SUITES.items():
            self.assertEqual(get_profile(profile).key_salt_length, 30, suite)

    def test_unknown_profile(self) -> None:
        with self.assertRaises(LocalProtocolError) as cm:
            get_profile("SRTP_NULL")
        self.assertEqual(cm.exception.message, "unknown SRTP profile 'SRTP_NULL'")

    def test_wrong_key_length(self) -> None:
        with self.assertRaises(LocalProtocolError) as cm:
            SrtpContext("SRTP_AEAD_AES_128_GCM", b"k" * 30, b"k" * 28)
        self.assertEqual(
            cm.exception.message, "local key||salt is 30 bytes, SRTP_AEAD_AES_128_GCM needs 28"
        )


class ProtectTests(SynchronousTestCase):
    def test_round_trip_every_profile(self) -> None:
        for profile in SRTP_PROFILES:
            with self.subTest(profile=profile):
                alice, bob = context_pair(profile)
                tags = SRTP_PROFILES[profile]
                packet = rtp_packet(1)
                protected = alice.protect(packet)
                assert protected is not None
                self.assertEqual(len(protected), 172 + tags.rtp_tag_length)
                self.assertEqual(protected[:12], packet[:12])  # the header stays clear
                self.assertNotEqual(protected[12:172], packet[12:])
                self.assertEqual(bob.unprotect(protected), packet)
                report = rtcp_rr()
                srtcp = bob.protect_rtcp(report)
                assert srtcp is not None
                # SRTCP adds the E flag + 31-bit index, then the tag (RFC 3711 §3.4).
                self.assertEqual(len(srtcp), len(report) + 4 + tags.rtcp_tag_length)
                self.assertEqual(alice.unprotect_rtcp(srtcp), report)

    def test_from_keys(self) -> None:
        keys = SrtpKeys("SRTP_AES128_CM_SHA1_80", b"a" * 30, b"b" * 30)
        alice = SrtpContext.from_keys(keys)
        bob = SrtpContext(keys.profile, keys.remote_key_salt, keys.local_key_salt)
        self.assertEqual(bob.unprotect(alice.protect(rtp_packet(9)) or b""), rtp_packet(9))

    def test_failures_are_counted_not_raised(self) -> None:
        alice, bob = context_pair("SRTP_AES128_CM_SHA1_80")
        protected = alice.protect(rtp_packet(5))
        assert protected is not None
        tampered = protected[:20] + bytes([protected[20] ^ 1]) + protected[21:]
        self.assertIsNone(bob.unprotect(tampered))
        self.assertEqual(bob.counters.unprotect_failed, 1)
        self.assertEqual(bob.counters.last_error, "authentication failure")
        self.assertEqual(bob.unprotect(protected), rtp_packet(5))
        self.assertIsNone(bob.unprotect(protected))  # replayed
        self.assertEqual(bob.counters.last_error, "replay check failed (bad index)")
        self.assertIsNone(bob.unprotect(b"\x80"))
        self.assertEqual(bob.counters.unprotect_failed, 3)
        self.assertIsNone(alice.protect(rtp_packet(6, payload=b"\x00" * 1480)))
        self.assertEqual(alice.counters.protect_failed, 1)
        self.assertEqual(alice.counters.last_error, "packet is too long")
        self.assertIsNone(alice.protect_rtcp(b"\x81\xc9" + b"\x00" * 1500))
        self.assertEqual(alice.counters.protect_rtcp_failed, 1)
        self.assertIsNone(alice.unprotect_rtcp(rtcp_rr() + b"\x00" * 14))
        self.assertEqual(alice.counters.unprotect_rtcp_failed, 1)
        self.assertEqual(alice.counters.unprotect_failed, 0)

    def test_remote_mki_is_stripped(self) -> None:
        """RFC 3711 §3.1: MKI sits between the encrypted portion and the tag, unauthenticated."""
        alice, _ = context_pair("SRTP_AES128_CM_SHA1_32")
        key_salt = bytes(range(100, 130))
        bob = SrtpContext("SRTP_AES128_CM_SHA1_32", key_salt, bytes(range(30)), remote_mki=b"\x01")
        srtp = alice.protect(rtp_packet(1)) or b""
        with_mki = srtp[:-4] + b"\x01" + srtp[-4:]
        self.assertEqual(bob.unprotect(with_mki), rtp_packet(1))
        srtcp = alice.protect_rtcp(rtcp_rr()) or b""
        self.assertEqual(bob.unprotect_rtcp(srtcp[:-10] + b"\x01" + srtcp[-10:]), rtcp_rr())
        wrong = srtp[:-4] + b"\x02" + srtp[-4:]
        self.assertIsNone(bob.unprotect(wrong))
        self.assertEqual(bob.counters.last_error, "MKI missing or unknown")


class SdesParseTests(SynchronousTestCase):
    def test_rfc4568_example(self) -> None:
        """RFC 4568 §6.1 (MKI 1, 4 bytes; lifetime 2^20 is too short for us, so it is left out)."""
        key = parse_sdes_key(SUITE, f"inline:{RFC4568_KEY}|2^31|1:4")
        self.assertEqual(key.key_salt, base64.b64decode(RFC4568_KEY))
        self.assertEqual(len(key.key_salt), 30)
        self.assertEqual(key.lifetime, "2^31")
        self.assertEqual(key.mki, (1, 4))
        self.assertEqual(key.mki_bytes, b"\x00\x00\x00\x01")
        self.assertEqual(key.profile, "SRTP_AES128_CM_SHA1_80")
        self.assertEqual(key.key_params, f"inline:{RFC4568_KEY}|2^31|1:4")

    def test_accepted_forms(self) -> None:
        rows = [
            (f"inline:{RFC4568_KEY}", None, None),
            (f"inline:{RFC4568_KEY}|2^31", "2^31", None),
            (f"inline:{RFC4568_KEY}|2^48", "2^48", None),
            (f"inline:{RFC4568_KEY}|16777216", "16777216", None),
            (f"inline:{RFC4568_KEY}|1:1", None, (1, 1)),
            (f"inline:{RFC4568_KEY}|2^24|4294967295:4", "2^24", (4294967295, 4)),
        ]
        for text, lifetime, mki in rows:
            with self.subTest(text=text):
                key = parse_sdes_key("AES_CM_128_HMAC_SHA1_32", text)
                self.assertEqual((key.lifetime, key.mki), (lifetime, mki))
                self.assertEqual(key.key_params, text)
        self.assertEqual(SdesKey(SUITE, b"k" * 30).mki_bytes, b"")

    def test_rejected_forms(self) -> None:
        """Exact reasons, response hint 488 (Asterisk answers such offers with 488)."""
        good = RFC4568_KEY
        short = base64.b64encode(b"k" * 20).decode()
        rows = [
            ("F8_128_HMAC_SHA1_80", f"inline:{good}",
             "unsupported crypto suite 'F8_128_HMAC_SHA1_80'"),
            (SUITE, f"uri:{good}", "key method must be 'inline', not 'uri'"),
            (SUITE, good, f"key method must be 'inline', not '{good}'"),
            (SUITE, f"inline:{good}|1:4;inline:{good}|2:4",
             "more than one key per crypto attribute is not supported"),
            (SUITE, "inline:not*base64", "key is not base64: 'not*base64'"),
            (SUITE, f"inline:{short}", "key||salt is 20 bytes, AES_CM_128_HMAC_SHA1_80 needs 30"),
            (SUITE, f"inline:{good}|2^20",
             "key lifetime 2^20 is too short: re-keying is not supported"),
            (SUITE, f"inline:{good}|1048576",
             "key lifetime 1048576 is too short: re-keying is not supported"),
            (SUITE, f"inline:{good}|2^60", "key lifetime 2^60 exceeds the suite maximum 2^48"),
            (SUITE, f"inline:{good}|2^x", "bad key lifetime '2^x'"),
            (SUITE, f"inline:{good}|1:5", "MKI length 5 is not supported (1 to 4 bytes)"),
            (SUITE, f"inline:{good}|256:1", "MKI 256 does not fit in 1 bytes"),
            (SUITE, f"inline:{good}|1:x", "bad MKI '1:x'"),
            (SUITE, f"inline:{good}|1:1|2^31", "bad key parameter '2^31'"),
            (SUITE, f"inline:{good}|2^31|2^31", "bad key parameter '2^31'"),
            (SUITE, f"inline:{good}|1:1|1:1", "bad key parameter '1:1'"),
            (SUITE, f"inline:{good}|2^31|1:1|x",
             f"too many '|' parameters in 'inline:{good}|2^31|1:1|x'"),
        ]  # fmt: skip
        for suite, text, reason in rows:
            with self.subTest(text=text):
                with self.assertRaises(RemoteProtocolError) as cm:
                    parse_sdes_key(suite, text)
                self.assertEqual(cm.exception.message, reason)
                self.assertEqual(cm.exception.response_hint, 488)


class CryptoAttributeTests(SynchronousTestCase):
    def test_parse_and_format(self) -> None:
        value = f"1 AES_CM_128_HMAC_SHA1_80 inline:{RFC4568_KEY}"
        crypto = parse_crypto(value)
        self.assertEqual(crypto.tag, 1)
        self.assertEqual(crypto.key.suite, SUITE)
        self.assertEqual(str(crypto), value)
        self.assertEqual(parse_crypto(value + " WSH=128"), crypto)

    def test_rejected(self) -> None:
        rows = [
            ("1 AES_CM_128_HMAC_SHA1_80", "malformed crypto attribute '1 AES_CM_128_HMAC_SHA1_80'"),
            (f"x AES_CM_128_HMAC_SHA1_80 inline:{RFC4568_KEY}", "bad crypto tag 'x'"),
            (f"1234567890 AES_CM_128_HMAC_SHA1_80 inline:{RFC4568_KEY}",
             "bad crypto tag '1234567890'"),
            (f"1 AES_CM_128_HMAC_SHA1_80 inline:{RFC4568_KEY} KDR=1",
             "unsupported session parameter 'KDR=1'"),
            (f"1 AES_CM_128_HMAC_SHA1_80 inline:{RFC4568_KEY} WSH=64 UNENCRYPTED_SRTP",
             "unsupported session parameter 'UNENCRYPTED_SRTP'"),
            (f"2 AES_256_CM_HMAC_SHA1_80 inline:{RFC4568_KEY}",
             "unsupported crypto suite 'AES_256_CM_HMAC_SHA1_80'"),
        ]  # fmt: skip
        for value, reason in rows:
            with self.subTest(value=value):
                with self.assertRaises(RemoteProtocolError) as cm:
                    parse_crypto(value)
                self.assertEqual(cm.exception.message, reason)
                self.assertEqual(cm.exception.response_hint, 488)

    def test_make_key_and_use_it(self) -> None:
        tokens = CountingTokens()
        ours = make_sdes_key(tokens)
        theirs = make_sdes_key(tokens, "AES_CM_128_HMAC_SHA1_80")
        self.assertEqual(len(ours.key_salt), 30)
        self.assertEqual(ours.key_salt, (1).to_bytes(30, "big"))
        self.assertNotEqual(ours.key_salt, theirs.key_salt)
        self.assertEqual((ours.lifetime, ours.mki), (None, None))
        offer = SdesCrypto(1, ours)
        answer = parse_crypto(str(offer))
        self.assertEqual(answer.key, ours)
        pbx = SrtpContext(ours.profile, ours.key_salt, theirs.key_salt)
        phone = SrtpContext(theirs.profile, theirs.key_salt, answer.key.key_salt)
        self.assertEqual(phone.unprotect(pbx.protect(rtp_packet(3)) or b""), rtp_packet(3))
