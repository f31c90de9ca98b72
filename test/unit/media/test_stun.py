"""Tests for pbx.media.stun: RFC 5769 vectors both ways, attribute codecs, malformed input."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from pbx.core.errors import LocalProtocolError, RemoteProtocolError
from pbx.media import stun
from pbx.media.stun import Attribute, AttributeType, Message, MessageClass, Method

DATA = Path(__file__).resolve().parents[2] / "data" / "stun"
PASSWORD = b"VOkJxbRl1RmTxUk/WvJxBt"
TRANSACTION_ID = bytes.fromhex("b7e7a701bc34d686fa87dfae")


def load(name: str) -> bytes:
    return (DATA / name).read_bytes()


class Rfc5769Tests(SynchronousTestCase):
    """RFC 5769 §2.1–§2.3, parsed and reproduced byte for byte (padding there is 0x20)."""

    def test_parse_request(self) -> None:
        msg = stun.parse(load("rfc5769-request.bin"))
        self.assertEqual(msg.method, Method.BINDING)
        self.assertIs(msg.message_class, MessageClass.REQUEST)
        self.assertEqual(msg.transaction_id, TRANSACTION_ID)
        self.assertEqual(
            [a.type for a in msg.attributes],
            [AttributeType.SOFTWARE, AttributeType.PRIORITY, AttributeType.ICE_CONTROLLED,
             AttributeType.USERNAME],
        )  # fmt: skip
        self.assertEqual(msg.get(AttributeType.SOFTWARE), b"STUN test client")
        self.assertEqual(msg.priority, 0x6E0001FF)
        self.assertEqual(msg.ice_controlled, 0x932FF9B151263B36)
        self.assertIsNone(msg.ice_controlling)
        self.assertEqual(msg.username, "evtj:h6vY")
        self.assertFalse(msg.use_candidate)
        self.assertTrue(msg.has_fingerprint)
        self.assertTrue(msg.check_integrity(PASSWORD))
        self.assertFalse(msg.check_integrity(b"wrong"))

    def test_produce_request(self) -> None:
        msg = Message(Method.BINDING, MessageClass.REQUEST, TRANSACTION_ID)
        msg.add(AttributeType.SOFTWARE, b"STUN test client").add_priority(0x6E0001FF)
        msg.add_ice_controlled(0x932FF9B151263B36).add_username("evtj:h6vY")
        data = msg.encode(integrity_key=PASSWORD, fingerprint=True, padding=b" ")
        self.assertEqual(data, load("rfc5769-request.bin"))

    def test_parse_ipv4_response(self) -> None:
        msg = stun.parse(load("rfc5769-response-ipv4.bin"))
        self.assertIs(msg.message_class, MessageClass.SUCCESS)
        self.assertEqual(msg.get(AttributeType.SOFTWARE), b"test vector")
        self.assertEqual(msg.xor_mapped_address, ("192.0.2.1", 32853))
        self.assertTrue(msg.check_integrity(PASSWORD))

    def test_produce_ipv4_response(self) -> None:
        msg = Message(Method.BINDING, MessageClass.SUCCESS, TRANSACTION_ID)
        msg.add(AttributeType.SOFTWARE, b"test vector").add_xor_mapped_address("192.0.2.1", 32853)
        data = msg.encode(integrity_key=PASSWORD, fingerprint=True, padding=b" ")
        self.assertEqual(data, load("rfc5769-response-ipv4.bin"))

    def test_parse_ipv6_response(self) -> None:
        msg = stun.parse(load("rfc5769-response-ipv6.bin"))
        self.assertEqual(msg.xor_mapped_address, ("2001:db8:1234:5678:11:2233:4455:6677", 32853))
        self.assertTrue(msg.check_integrity(PASSWORD))

    def test_produce_ipv6_response(self) -> None:
        msg = Message(Method.BINDING, MessageClass.SUCCESS, TRANSACTION_ID)
        msg.add(AttributeType.SOFTWARE, b"test vector")
        msg.add_xor_mapped_address("2001:db8:1234:5678:11:2233:4455:6677", 32853)
        data = msg.encode(integrity_key=PASSWORD, fingerprint=True, padding=b" ")
        self.assertEqual(data, load("rfc5769-response-ipv6.bin"))

    def test_zero_padding_changes_only_padding(self) -> None:
        """RFC 8489 §14 zero padding: same framing, same integrity, different bytes."""
        msg = stun.parse(load("rfc5769-request.bin"))
        data = msg.encode(integrity_key=PASSWORD, fingerprint=True)
        self.assertNotEqual(data, load("rfc5769-request.bin"))
        again = stun.parse(data)
        self.assertEqual(again.attributes, msg.attributes)
        self.assertTrue(again.check_integrity(PASSWORD))


class MessageTypeTests(SynchronousTestCase):
    def test_type_table(self) -> None:
        """RFC 5389 §6: Binding request 0x0001, success 0x0101, error 0x0111, indication 0x0011."""
        for message_class, wire in [
            (MessageClass.REQUEST, 0x0001),
            (MessageClass.INDICATION, 0x0011),
            (MessageClass.SUCCESS, 0x0101),
            (MessageClass.ERROR, 0x0111),
        ]:
            self.assertEqual(stun.encode_message_type(Method.BINDING, message_class), wire)
            self.assertEqual(stun.decode_message_type(wire), (Method.BINDING, message_class))

    def test_method_bits_interleave(self) -> None:
        for method in (0x001, 0x003, 0x00A, 0x0FF, 0xABC, 0xFFF):
            for message_class in MessageClass:
                wire = stun.encode_message_type(method, message_class)
                self.assertEqual(wire & 0xC000, 0)
                self.assertEqual(stun.decode_message_type(wire), (method, message_class))


class AttributeTests(SynchronousTestCase):
    def roundtrip(self, msg: Message) -> Message:
        return stun.parse(msg.encode())

    def test_plain_message_has_no_integrity_or_fingerprint(self) -> None:
        msg = self.roundtrip(Message(Method.BINDING, MessageClass.REQUEST, TRANSACTION_ID))
        self.assertEqual(msg.attributes, [])
        self.assertIsNone(msg.message_integrity)
        self.assertFalse(msg.has_fingerprint)
        self.assertFalse(msg.check_integrity(PASSWORD))
        self.assertIsNone(msg.username)
        self.assertIsNone(msg.priority)
        self.assertIsNone(msg.xor_mapped_address)
        self.assertIsNone(msg.error_code)
        self.assertEqual(msg.unknown_attributes, [])

    def test_ice_attributes(self) -> None:
        msg = Message(Method.BINDING, MessageClass.REQUEST, TRANSACTION_ID)
        msg.add_use_candidate().add_ice_controlling(2**64 - 1).add_priority(1)
        parsed = self.roundtrip(msg)
        self.assertTrue(parsed.use_candidate)
        self.assertEqual(parsed.ice_controlling, 2**64 - 1)
        self.assertEqual(parsed.priority, 1)
        self.assertEqual(parsed.get(AttributeType.USE_CANDIDATE), b"")
        self.assertIsNone(parsed.get(AttributeType.NONCE))

    def test_error_code(self) -> None:
        for code, reason in [(400, "Bad Request"), (401, "Unauthorized"), (487, "Role Conflict")]:
            msg = Message(Method.BINDING, MessageClass.ERROR, TRANSACTION_ID).add_error_code(code)
            self.assertEqual(self.roundtrip(msg).error_code, (code, reason))
        msg = Message(Method.BINDING, MessageClass.ERROR, TRANSACTION_ID)
        msg.add_error_code(599, "Über")
        self.assertEqual(msg.encode()[24:28], b"\x00\x00\x05\x63")
        self.assertEqual(self.roundtrip(msg).error_code, (599, "Über"))

    def test_unknown_attributes_odd_count_is_padded(self) -> None:
        msg = Message(Method.BINDING, MessageClass.ERROR, TRANSACTION_ID)
        msg.add_unknown_attributes([0x0031, 0x0032, 0x0033])
        data = msg.encode()
        self.assertEqual(len(data), 20 + 4 + 8)
        self.assertEqual(self.roundtrip(msg).unknown_attributes, [0x31, 0x32, 0x33])

    def test_attributes_after_integrity_are_ignored(self) -> None:
        """RFC 5389 §15.4: only FINGERPRINT may follow MESSAGE-INTEGRITY."""
        msg = Message(Method.BINDING, MessageClass.REQUEST, TRANSACTION_ID).add_username("a:b")
        data = msg.encode(integrity_key=PASSWORD)
        extra = struct.pack("!HH", AttributeType.PRIORITY, 4) + b"\x00\x00\x00\x01"
        tampered = data[:2] + struct.pack("!H", len(data) - 20 + 8) + data[4:] + extra
        parsed = stun.parse(tampered)
        self.assertEqual(parsed.attributes, [Attribute(AttributeType.USERNAME, b"a:b")])
        self.assertIsNone(parsed.priority)
        self.assertTrue(parsed.check_integrity(PASSWORD))

    def test_xor_mapped_address_ipv6_scope_and_ports(self) -> None:
        msg = Message(Method.BINDING, MessageClass.SUCCESS, TRANSACTION_ID)
        msg.add_xor_mapped_address("::1", 0).add(AttributeType.SOFTWARE, b"x")
        self.assertEqual(self.roundtrip(msg).xor_mapped_address, ("::1", 0))
        msg = Message(Method.BINDING, MessageClass.SUCCESS, TRANSACTION_ID)
        msg.add_xor_mapped_address("127.0.0.1", 65535)
        self.assertEqual(self.roundtrip(msg).xor_mapped_address, ("127.0.0.1", 65535))

    def test_bad_transaction_id(self) -> None:
        with self.assertRaises(LocalProtocolError) as cm:
            Message(Method.BINDING, MessageClass.REQUEST, b"short")
        self.assertEqual(cm.exception.message, "transaction ID must be 12 bytes, not 5")


class BadAttributeValueTests(SynchronousTestCase):
    def message(self, attribute_type: int, value: bytes) -> Message:
        msg = Message(Method.BINDING, MessageClass.REQUEST, TRANSACTION_ID)
        return stun.parse(msg.add(attribute_type, value).encode())

    def assert_error(self, msg: Message, prop: str, text: str) -> None:
        with self.assertRaises(RemoteProtocolError) as cm:
            getattr(msg, prop)
        self.assertEqual(cm.exception.message, text)
        self.assertEqual(cm.exception.response_hint, 400)

    def test_table(self) -> None:
        cases = [
            (AttributeType.USERNAME, b"\xff\xfe", "username", "USERNAME is not UTF-8"),
            (AttributeType.PRIORITY, b"\x01", "priority", "PRIORITY must be 4 bytes"),
            (AttributeType.ICE_CONTROLLED, b"\x01" * 4, "ice_controlled",
             "ICE_CONTROLLED must be 8 bytes"),
            (AttributeType.ICE_CONTROLLING, b"", "ice_controlling",
             "ICE_CONTROLLING must be 8 bytes"),
            (AttributeType.XOR_MAPPED_ADDRESS, b"\x00\x01", "xor_mapped_address",
             "XOR-MAPPED-ADDRESS too short"),
            (AttributeType.XOR_MAPPED_ADDRESS, b"\x00\x03\x00\x00" + b"\x00" * 4,
             "xor_mapped_address", "bad XOR-MAPPED-ADDRESS family 3 or length"),
            (AttributeType.XOR_MAPPED_ADDRESS, b"\x00\x02\x00\x00" + b"\x00" * 4,
             "xor_mapped_address", "bad XOR-MAPPED-ADDRESS family 2 or length"),
            (AttributeType.ERROR_CODE, b"\x00\x00\x04", "error_code", "ERROR-CODE too short"),
            (AttributeType.ERROR_CODE, b"\x00\x00\x04\x00\xff", "error_code",
             "ERROR-CODE reason is not UTF-8"),
        ]  # fmt: skip
        for attribute_type, value, prop, text in cases:
            with self.subTest(prop=prop, value=value):
                self.assert_error(self.message(attribute_type, value), prop, text)


class MalformedMessageTests(SynchronousTestCase):
    """Framing errors: exact messages, hint 400 (RFC 5389 §7.3)."""

    def assert_rejected(self, data: bytes, text: str) -> None:
        with self.assertRaises(RemoteProtocolError) as cm:
            stun.parse(data)
        self.assertEqual(cm.exception.message, text)
        self.assertEqual(cm.exception.response_hint, 400)

    def test_framing_table(self) -> None:
        good = load("rfc5769-request.bin")
        cases = [
            (good[:19], "STUN message shorter than 20 bytes"),
            (b"\x80" + good[1:], "not a STUN message: first two bits not zero"),
            (good[:4] + b"\x21\x12\xa4\x43" + good[8:], "STUN magic cookie missing"),
            (good[:2] + b"\x00\x57" + good[4:], "STUN length 87 is not a multiple of 4"),
            (good[:-4], "STUN length 88 does not match 84 bytes of attributes"),
        ]
        for data, text in cases:
            with self.subTest(text=text):
                self.assert_rejected(data, text)

    def test_attribute_overrun(self) -> None:
        data = struct.pack("!HHI12s", 0x0001, 8, stun.MAGIC_COOKIE, TRANSACTION_ID)
        data += struct.pack("!HH", 0x0006, 5) + b"abcd"
        self.assert_rejected(data, "STUN attribute 0x0006 overruns the message")

    def test_short_message_integrity(self) -> None:
        data = struct.pack("!HHI12s", 0x0001, 8, stun.MAGIC_COOKIE, TRANSACTION_ID)
        data += struct.pack("!HH", AttributeType.MESSAGE_INTEGRITY, 4) + b"abcd"
        self.assert_rejected(data, "MESSAGE-INTEGRITY must be 20 bytes")

    def test_fingerprint_mismatch(self) -> None:
        good = load("rfc5769-request.bin")
        self.assert_rejected(good[:-1] + bytes([good[-1] ^ 1]), "FINGERPRINT mismatch")
        # A flipped bit anywhere before FINGERPRINT is caught the same way.
        self.assert_rejected(good[:30] + b"X" + good[31:], "FINGERPRINT mismatch")

    def test_fingerprint_not_last(self) -> None:
        msg = Message(Method.BINDING, MessageClass.REQUEST, TRANSACTION_ID)
        data = msg.encode(fingerprint=True)
        data += struct.pack("!HH", AttributeType.SOFTWARE, 4) + b"abcd"
        data = data[:2] + struct.pack("!H", len(data) - 20) + data[4:]
        self.assert_rejected(data, "FINGERPRINT must be the last attribute")

    def test_fingerprint_wrong_length(self) -> None:
        data = struct.pack("!HHI12s", 0x0001, 12, stun.MAGIC_COOKIE, TRANSACTION_ID)
        data += struct.pack("!HH", AttributeType.FINGERPRINT, 8) + b"\x00" * 8
        self.assert_rejected(data, "FINGERPRINT must be 4 bytes")

    def test_fingerprint_value(self) -> None:
        """RFC 5389 §15.5: CRC-32 of the message up to the attribute, xor 0x5354554E."""
        data = Message(Method.BINDING, MessageClass.REQUEST, TRANSACTION_ID).encode(
            fingerprint=True
        )
        crc = zlib.crc32(data[:-8]) ^ 0x5354554E
        self.assertEqual(data[-4:], struct.pack("!I", crc))
        self.assertEqual(data[2:4], b"\x00\x08")
