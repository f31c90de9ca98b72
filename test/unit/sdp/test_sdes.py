"""Tests for pbx.sdp.sdes: which RFC 4568 crypto lines pbx can honour, with exact reasons."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from pbx.sdp.model import Crypto
from pbx.sdp.sdes import SUITES, key_problem, local_crypto, offer_suites

# RFC 4568 §4 / §9.1 example keys (30 bytes of key||salt each).
KEY1 = "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz"
KEY2 = "MTIzNDU2Nzg5QUJDREUwMTIzNDU2Nzg5QUJjZGVm"
WHERE = "a=crypto:1 AES_CM_128_HMAC_SHA1_80"


def crypto(key_params: str, *session_params: str) -> Crypto:
    return Crypto(1, "AES_CM_128_HMAC_SHA1_80", key_params, session_params)


class KeyProblemTests(SynchronousTestCase):
    def test_usable_lines(self) -> None:
        for key_params, session_params in [
            (f"inline:{KEY1}", ()),
            (f"inline:{KEY1}|2^31", ()),
            (f"inline:{KEY1}|2^24", ()),
            (f"inline:{KEY1}|2^48", ()),
            (f"inline:{KEY1}|16777216", ()),
            (f"inline:{KEY1}|281474976710656", ()),
            (f"inline:{KEY1}|1:4", ()),
            (f"inline:{KEY1}|2^31|4294967295:4", ()),
            (f"inline:{KEY1}|255:1", ("WSH=64",)),
        ]:
            self.assertIsNone(key_problem(crypto(key_params, *session_params)), key_params)

    def test_reasons(self) -> None:
        for line, reason in [
            (crypto(f"inline:{KEY1};inline:{KEY2}"), "has more than one key"),
            (crypto(f"uri:{KEY1}"), "has no inline key"),
            (crypto("inline:!!!!"), "has a bad inline key (not base64 of 30 bytes)"),
            (crypto(f"inline:{KEY1[:-4]}"), "has a bad inline key (not base64 of 30 bytes)"),
            (crypto(f"inline:{KEY1}AAAA"), "has a bad inline key (not base64 of 30 bytes)"),
            (crypto(f"inline:{KEY1}|1:4|2^31"), f"has malformed key parameters '{KEY1}|1:4|2^31'"),
            (crypto(f"inline:{KEY1}|1:4|2:4"), f"has malformed key parameters '{KEY1}|1:4|2:4'"),
            (
                crypto(f"inline:{KEY1}|2^31|2^31"),
                f"has malformed key parameters '{KEY1}|2^31|2^31'",
            ),
            (
                crypto(f"inline:{KEY1}|2^31|1:4|x"),
                f"has malformed key parameters '{KEY1}|2^31|1:4|x'",
            ),
            (crypto(f"inline:{KEY1}|2^x"), "has a malformed key lifetime '2^x'"),
            (crypto(f"inline:{KEY1}|"), "has a malformed key lifetime ''"),
            # A huge lifetime is refused by its digit count, never computed.
            (
                crypto(f"inline:{KEY1}|2^999999999999"),
                "has a malformed key lifetime '2^999999999999'",
            ),
            (
                crypto(f"inline:{KEY1}|2^20"),
                "key lifetime 2^20 is below 2^24 packets (no re-keying)",
            ),
            (
                crypto(f"inline:{KEY1}|16777215"),
                "key lifetime 16777215 is below 2^24 packets (no re-keying)",
            ),
            (crypto(f"inline:{KEY1}|2^49"), "key lifetime 2^49 exceeds 2^48 packets"),
            (
                crypto(f"inline:{KEY1}|281474976710657"),
                "key lifetime 281474976710657 exceeds 2^48 packets",
            ),
            (crypto(f"inline:{KEY1}|1:x"), "has a malformed MKI '1:x'"),
            (crypto(f"inline:{KEY1}|1:5"), "MKI length 5 is not 1 to 4 bytes"),
            (crypto(f"inline:{KEY1}|1:0"), "MKI length 0 is not 1 to 4 bytes"),
            (crypto(f"inline:{KEY1}|256:1"), "MKI 256 does not fit in 1 bytes"),
            (
                crypto(f"inline:{KEY1}", "WSH=64", "UNENCRYPTED_SRTCP"),
                "has session parameter UNENCRYPTED_SRTCP, which pbx cannot honour",
            ),
        ]:
            self.assertEqual(key_problem(line), f"{WHERE} {reason}")


class LocalCryptoTests(SynchronousTestCase):
    def test_our_line(self) -> None:
        ours = local_crypto(2, SUITES[1], bytes(range(30)))
        self.assertEqual(
            str(ours), "2 AES_CM_128_HMAC_SHA1_32 inline:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd"
        )
        self.assertIsNone(key_problem(ours))
        error = self.assertRaises(ValueError, local_crypto, 1, SUITES[0], bytes(16))
        self.assertEqual(str(error), "SDES key||salt must be 30 bytes, got 16")


class OfferSuitesTests(SynchronousTestCase):
    def test_encryption_taglen_picks_tag_1(self) -> None:
        self.assertEqual(offer_suites(80), ("AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32"))
        self.assertEqual(offer_suites(80), SUITES)
        self.assertEqual(offer_suites(32), ("AES_CM_128_HMAC_SHA1_32", "AES_CM_128_HMAC_SHA1_80"))
        error = self.assertRaises(ValueError, offer_suites, 64)
        self.assertEqual(str(error), "no supported SDES suite has a 64-bit tag")
