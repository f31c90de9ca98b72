"""STUN message codec (RFC 5389, RFC 8489) for the ICE-lite responder.

Owns the wire format of one STUN message: the 20-byte header (RFC 5389 §6), attributes in order
with 32-bit padding (§15), MESSAGE-INTEGRITY with short-term credentials (§15.4, HMAC-SHA1 keyed
with the password), FINGERPRINT (§15.5, CRC-32 xor 0x5354554E), XOR-MAPPED-ADDRESS for IPv4 and
IPv6 (§15.2), ERROR-CODE (§15.6), UNKNOWN-ATTRIBUTES (§15.9) and the ICE attributes of RFC 8445
§16.1 (PRIORITY, USE-CANDIDATE, ICE-CONTROLLED, ICE-CONTROLLING).

It does not own transactions, retransmissions or any ICE rule: see :mod:`pbx.media.ice_lite`.
Binding requests arrive every few seconds per call, so this is plain :mod:`struct` code.
Long-term credentials (§15.4 with REALM/NONCE) and MESSAGE-INTEGRITY-SHA256 (RFC 8489 §14.6)
are not implemented; no WebRTC peer uses them for ICE.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import ipaddress
import struct
import zlib
from dataclasses import dataclass, field
from typing import NamedTuple

from pbx.core.errors import LocalProtocolError, RemoteProtocolError

MAGIC_COOKIE = 0x2112A442
HEADER_LENGTH = 20
TRANSACTION_ID_LENGTH = 12
_FINGERPRINT_XOR = 0x5354554E
_HEADER = struct.Struct("!HHI12s")
_ATTR_HEADER = struct.Struct("!HH")
_U32 = struct.Struct("!I")
_U64 = struct.Struct("!Q")


class Method(enum.IntEnum):
    BINDING = 0x001


class MessageClass(enum.IntEnum):
    """The two class bits C1 C0 of the message type (RFC 5389 §6)."""

    REQUEST = 0b00
    INDICATION = 0b01
    SUCCESS = 0b10
    ERROR = 0b11


class AttributeType(enum.IntEnum):
    MAPPED_ADDRESS = 0x0001
    USERNAME = 0x0006
    MESSAGE_INTEGRITY = 0x0008
    ERROR_CODE = 0x0009
    UNKNOWN_ATTRIBUTES = 0x000A
    REALM = 0x0014
    NONCE = 0x0015
    MESSAGE_INTEGRITY_SHA256 = 0x001C
    PASSWORD_ALGORITHM = 0x001D
    USERHASH = 0x001E
    XOR_MAPPED_ADDRESS = 0x0020
    PRIORITY = 0x0024
    USE_CANDIDATE = 0x0025
    PASSWORD_ALGORITHMS = 0x8002
    ALTERNATE_DOMAIN = 0x8003
    SOFTWARE = 0x8022
    ALTERNATE_SERVER = 0x8023
    FINGERPRINT = 0x8028
    ICE_CONTROLLED = 0x8029
    ICE_CONTROLLING = 0x802A
    GOOG_NETWORK_INFO = 0xC057


#: Reason phrases of the error codes the ICE-lite responder sends (RFC 5389 §15.6, RFC 8445 §7.3).
ERROR_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    420: "Unknown Attribute",
    487: "Role Conflict",
}


class Attribute(NamedTuple):
    """One attribute as it appeared on the wire (value without padding)."""

    type: int
    value: bytes


def encode_message_type(method: int, message_class: MessageClass) -> int:
    """Interleave the 12 method bits M11..M0 with the class bits C1 C0 (RFC 5389 §6, Figure 3)."""
    return (
        (method & 0x000F)
        | ((method & 0x0070) << 1)
        | ((method & 0x0F80) << 2)
        | ((message_class & 0b01) << 4)
        | ((message_class & 0b10) << 7)
    )


def decode_message_type(message_type: int) -> tuple[int, MessageClass]:
    """Split a message type into (method, class)."""
    t = message_type
    method = (t & 0x000F) | ((t >> 1) & 0x0070) | ((t >> 2) & 0x0F80)
    message_class = MessageClass(((t >> 4) & 0b01) | ((t >> 7) & 0b10))
    return method, message_class


def _padded(length: int) -> int:
    return (length + 3) & ~3


@dataclass
class Message:
    """One STUN message: header fields plus attributes in wire order.

    ``attributes`` excludes MESSAGE-INTEGRITY and FINGERPRINT, which :meth:`encode` computes and
    :func:`parse` checks. Attributes that followed MESSAGE-INTEGRITY (other than FINGERPRINT) are
    dropped by :func:`parse`, as RFC 5389 §15.4 tells receivers to ignore them.
    """

    method: int
    message_class: MessageClass
    transaction_id: bytes
    attributes: list[Attribute] = field(default_factory=list)
    #: The MESSAGE-INTEGRITY value of a parsed message, or ``None``.
    message_integrity: bytes | None = None
    #: Whether a parsed message carried a (valid) FINGERPRINT.
    has_fingerprint: bool = False
    _raw: bytes = field(default=b"", repr=False, compare=False)
    _integrity_offset: int = field(default=0, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.transaction_id) != TRANSACTION_ID_LENGTH:
            raise LocalProtocolError(
                f"transaction ID must be {TRANSACTION_ID_LENGTH} bytes, "
                f"not {len(self.transaction_id)}"
            )

    # -- reading -------------------------------------------------------------------------------

    def get(self, attribute_type: int) -> bytes | None:
        """The value of the first attribute of ``attribute_type``, or ``None``."""
        for attr in self.attributes:
            if attr.type == attribute_type:
                return attr.value
        return None

    def has(self, attribute_type: int) -> bool:
        return any(attr.type == attribute_type for attr in self.attributes)

    @property
    def username(self) -> str | None:
        """USERNAME (§15.3) decoded as UTF-8.

        :raises RemoteProtocolError: if it is not UTF-8.
        """
        value = self.get(AttributeType.USERNAME)
        if value is None:
            return None
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise RemoteProtocolError("USERNAME is not UTF-8") from None

    @property
    def priority(self) -> int | None:
        """PRIORITY (RFC 8445 §7.1.1)."""
        return self._u32(AttributeType.PRIORITY)

    @property
    def use_candidate(self) -> bool:
        """Whether USE-CANDIDATE (RFC 8445 §7.1.2) is present."""
        return self.has(AttributeType.USE_CANDIDATE)

    @property
    def ice_controlling(self) -> int | None:
        """The tie-breaker of ICE-CONTROLLING (RFC 8445 §7.1.3)."""
        return self._u64(AttributeType.ICE_CONTROLLING)

    @property
    def ice_controlled(self) -> int | None:
        """The tie-breaker of ICE-CONTROLLED (RFC 8445 §7.1.3)."""
        return self._u64(AttributeType.ICE_CONTROLLED)

    @property
    def xor_mapped_address(self) -> tuple[str, int] | None:
        """XOR-MAPPED-ADDRESS (§15.2) as (host, port).

        :raises RemoteProtocolError: on a bad family or length.
        """
        value = self.get(AttributeType.XOR_MAPPED_ADDRESS)
        if value is None:
            return None
        if len(value) < 4:
            raise RemoteProtocolError("XOR-MAPPED-ADDRESS too short")
        family, xport = struct.unpack_from("!xBH", value)
        port = xport ^ (MAGIC_COOKIE >> 16)
        mask = _U32.pack(MAGIC_COOKIE) + self.transaction_id
        if family == 0x01 and len(value) == 8:
            raw = bytes(a ^ b for a, b in zip(value[4:8], mask[:4], strict=True))
        elif family == 0x02 and len(value) == 20:
            raw = bytes(a ^ b for a, b in zip(value[4:20], mask, strict=True))
        else:
            raise RemoteProtocolError(f"bad XOR-MAPPED-ADDRESS family {family} or length")
        return str(ipaddress.ip_address(raw)), port

    @property
    def error_code(self) -> tuple[int, str] | None:
        """ERROR-CODE (§15.6) as (code, reason phrase).

        :raises RemoteProtocolError: if it is shorter than 4 bytes or the reason is not UTF-8.
        """
        value = self.get(AttributeType.ERROR_CODE)
        if value is None:
            return None
        if len(value) < 4:
            raise RemoteProtocolError("ERROR-CODE too short")
        try:
            reason = value[4:].decode("utf-8")
        except UnicodeDecodeError:
            raise RemoteProtocolError("ERROR-CODE reason is not UTF-8") from None
        return (value[2] & 0x07) * 100 + value[3], reason

    @property
    def unknown_attributes(self) -> list[int]:
        """The attribute types listed in UNKNOWN-ATTRIBUTES (§15.9)."""
        value = self.get(AttributeType.UNKNOWN_ATTRIBUTES) or b""
        return [t for (t,) in struct.iter_unpack("!H", value[: len(value) & ~1])]

    def _u32(self, attribute_type: int) -> int | None:
        value = self.get(attribute_type)
        if value is None:
            return None
        if len(value) != 4:
            raise RemoteProtocolError(f"{AttributeType(attribute_type).name} must be 4 bytes")
        return int(_U32.unpack(value)[0])

    def _u64(self, attribute_type: int) -> int | None:
        value = self.get(attribute_type)
        if value is None:
            return None
        if len(value) != 8:
            raise RemoteProtocolError(f"{AttributeType(attribute_type).name} must be 8 bytes")
        return int(_U64.unpack(value)[0])

    def check_integrity(self, key: bytes) -> bool:
        """Verify MESSAGE-INTEGRITY of a parsed message with a short-term ``key`` (§15.4).

        The HMAC covers the header, with the length field counting up to the end of
        MESSAGE-INTEGRITY, and every byte before the attribute, padding included.
        """
        if self.message_integrity is None:
            return False
        offset = self._integrity_offset
        covered = (
            self._raw[:2] + struct.pack("!H", offset + 24 - HEADER_LENGTH) + self._raw[4:offset]
        )
        mac = hmac.new(key, covered, hashlib.sha1).digest()
        return hmac.compare_digest(mac, self.message_integrity)

    # -- building ------------------------------------------------------------------------------

    def add(self, attribute_type: int, value: bytes = b"") -> Message:
        """Append an attribute; returns ``self`` so calls chain."""
        self.attributes.append(Attribute(attribute_type, value))
        return self

    def add_username(self, username: str) -> Message:
        return self.add(AttributeType.USERNAME, username.encode("utf-8"))

    def add_priority(self, priority: int) -> Message:
        return self.add(AttributeType.PRIORITY, _U32.pack(priority))

    def add_use_candidate(self) -> Message:
        return self.add(AttributeType.USE_CANDIDATE)

    def add_ice_controlling(self, tie_breaker: int) -> Message:
        return self.add(AttributeType.ICE_CONTROLLING, _U64.pack(tie_breaker))

    def add_ice_controlled(self, tie_breaker: int) -> Message:
        return self.add(AttributeType.ICE_CONTROLLED, _U64.pack(tie_breaker))

    def add_xor_mapped_address(self, host: str, port: int) -> Message:
        """XOR-MAPPED-ADDRESS (§15.2): the port is xored with the cookie's top half, an IPv4
        address with the cookie, an IPv6 address with the cookie and the transaction ID."""
        packed = ipaddress.ip_address(host).packed
        mask = _U32.pack(MAGIC_COOKIE) + self.transaction_id
        family = 0x01 if len(packed) == 4 else 0x02
        xaddr = bytes(a ^ b for a, b in zip(packed, mask, strict=False))
        value = struct.pack("!BBH", 0, family, port ^ (MAGIC_COOKIE >> 16)) + xaddr
        return self.add(AttributeType.XOR_MAPPED_ADDRESS, value)

    def add_error_code(self, code: int, reason: str | None = None) -> Message:
        """ERROR-CODE (§15.6): class (hundreds) and number, then a UTF-8 reason phrase."""
        phrase = ERROR_REASONS.get(code, "") if reason is None else reason
        value = struct.pack("!HBB", 0, code // 100, code % 100) + phrase.encode("utf-8")
        return self.add(AttributeType.ERROR_CODE, value)

    def add_unknown_attributes(self, types: list[int]) -> Message:
        return self.add(
            AttributeType.UNKNOWN_ATTRIBUTES, b"".join(struct.pack("!H", t) for t in types)
        )

    def encode(
        self,
        *,
        integrity_key: bytes | None = None,
        fingerprint: bool = False,
        padding: bytes = b"\x00",
    ) -> bytes:
        """Serialize, appending MESSAGE-INTEGRITY (if ``integrity_key``) and FINGERPRINT.

        :param padding: the byte that pads attribute values to 32 bits. RFC 8489 §14 says zero;
            RFC 5389 allowed any value, and the RFC 5769 vectors use ``b" "``.
        """
        body = b"".join(
            _ATTR_HEADER.pack(attr.type, len(attr.value))
            + attr.value
            + padding * (_padded(len(attr.value)) - len(attr.value))
            for attr in self.attributes
        )
        message_type = encode_message_type(self.method, self.message_class)
        if integrity_key is not None:
            header = _HEADER.pack(message_type, len(body) + 24, MAGIC_COOKIE, self.transaction_id)
            mac = hmac.new(integrity_key, header + body, hashlib.sha1).digest()
            body += _ATTR_HEADER.pack(AttributeType.MESSAGE_INTEGRITY, 20) + mac
        if fingerprint:
            header = _HEADER.pack(message_type, len(body) + 8, MAGIC_COOKIE, self.transaction_id)
            crc = (zlib.crc32(header + body) ^ _FINGERPRINT_XOR) & 0xFFFFFFFF
            body += _ATTR_HEADER.pack(AttributeType.FINGERPRINT, 4) + _U32.pack(crc)
        return _HEADER.pack(message_type, len(body), MAGIC_COOKIE, self.transaction_id) + body


def parse(data: bytes) -> Message:
    """Parse one STUN message and check its framing and FINGERPRINT (RFC 5389 §6, §7.3, §15).

    MESSAGE-INTEGRITY is only located here; check it with :meth:`Message.check_integrity`, since
    the key depends on the USERNAME.

    :raises RemoteProtocolError: (hint 400) if ``data`` is not a well-formed STUN message.
    """
    if len(data) < HEADER_LENGTH:
        raise RemoteProtocolError("STUN message shorter than 20 bytes")
    message_type, length, cookie, transaction_id = _HEADER.unpack_from(data)
    if message_type & 0xC000:
        raise RemoteProtocolError("not a STUN message: first two bits not zero")
    if cookie != MAGIC_COOKIE:
        raise RemoteProtocolError("STUN magic cookie missing")
    if length % 4:
        raise RemoteProtocolError(f"STUN length {length} is not a multiple of 4")
    if length != len(data) - HEADER_LENGTH:
        raise RemoteProtocolError(
            f"STUN length {length} does not match {len(data) - HEADER_LENGTH} bytes of attributes"
        )
    method, message_class = decode_message_type(message_type)
    message = Message(method, message_class, transaction_id, _raw=data)
    offset = HEADER_LENGTH
    after_integrity = False
    while offset < len(data):
        # Offsets stay 32-bit aligned and the length is a multiple of 4: a header always fits.
        attribute_type, attribute_length = _ATTR_HEADER.unpack_from(data, offset)
        end = offset + 4 + attribute_length
        if end > len(data):
            raise RemoteProtocolError(f"STUN attribute 0x{attribute_type:04x} overruns the message")
        value = data[offset + 4 : end]
        if attribute_type == AttributeType.FINGERPRINT:
            _check_fingerprint(data, offset, value)
            message.has_fingerprint = True
        elif attribute_type == AttributeType.MESSAGE_INTEGRITY and not after_integrity:
            if attribute_length != 20:
                raise RemoteProtocolError("MESSAGE-INTEGRITY must be 20 bytes")
            message.message_integrity = value
            message._integrity_offset = offset
            after_integrity = True
        elif not after_integrity:
            message.attributes.append(Attribute(attribute_type, value))
        offset += 4 + _padded(attribute_length)
    return message


def _check_fingerprint(data: bytes, offset: int, value: bytes) -> None:
    """RFC 5389 §15.5: FINGERPRINT is last and is the CRC-32 of everything before it, xored."""
    if len(value) != 4:
        raise RemoteProtocolError("FINGERPRINT must be 4 bytes")
    if offset + 8 != len(data):
        raise RemoteProtocolError("FINGERPRINT must be the last attribute")
    expected = (zlib.crc32(data[:offset]) ^ _FINGERPRINT_XOR) & 0xFFFFFFFF
    if _U32.unpack(value)[0] != expected:
        raise RemoteProtocolError("FINGERPRINT mismatch")
