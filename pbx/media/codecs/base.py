"""Codec descriptions, the coder Protocols and the RFC 3551 static payload types.

Deliberately tiny: a :class:`Codec` names a payload format the way Asterisk's ``allow=`` does
(``ulaw``) and the way SDP ``a=rtpmap`` does (``PCMU/8000``). SDP parsing and negotiation live in
:mod:`pbx.sdp` (which keeps its own name table for now); media code looks codecs up here by
payload type or name. Static payload types are RFC 3551 §6 Table 4 (audio only; video and
dynamic formats get their PT from SDP).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Codec:
    """One audio payload format.

    :param name: Asterisk's codec name, as in ``allow=ulaw`` (lower case).
    :param encoding: the RTP encoding name, as in ``a=rtpmap:0 PCMU/8000``.
    :param clock_rate: RTP timestamp rate in Hz (G.722 is 8000 by RFC 3551 §4.5.2 erratum).
    :param default_pt: the RFC 3551 static payload type, or ``None`` for dynamic formats.
    :param channels: audio channels as written in ``a=rtpmap`` (Opus is always 2, RFC 7587).
    :param frame_ms: the packetisation interval pbx uses when it originates this format.
    """

    name: str
    encoding: str
    clock_rate: int
    default_pt: int | None
    channels: int = 1
    frame_ms: int = 20

    @property
    def samples_per_frame(self) -> int:
        """Timestamp increment of one frame."""
        return self.clock_rate * self.frame_ms // 1000


class Encoder(Protocol):
    """Linear 16-bit native-endian mono samples -> payload octets."""

    def encode(self, pcm: bytes) -> bytes: ...


class Decoder(Protocol):
    """Payload octets -> linear 16-bit native-endian mono samples."""

    def decode(self, payload: bytes) -> bytes: ...


PCMU = Codec("ulaw", "PCMU", 8000, 0)
GSM = Codec("gsm", "GSM", 8000, 3)
G723 = Codec("g723", "G723", 8000, 4, frame_ms=30)
PCMA = Codec("alaw", "PCMA", 8000, 8)
G722 = Codec("g722", "G722", 8000, 9)
CN = Codec("cn", "CN", 8000, 13)
G729 = Codec("g729", "G729", 8000, 18)
TELEPHONE_EVENT = Codec("telephone-event", "telephone-event", 8000, None)
OPUS = Codec("opus", "opus", 48000, None, channels=2)

#: RFC 3551 Table 4, the audio formats pbx knows (DVI4, LPC, L16, QCELP, MPA, G728 omitted).
STATIC_PAYLOAD_TYPES: Mapping[int, Codec] = MappingProxyType(
    {c.default_pt: c for c in (PCMU, GSM, G723, PCMA, G722, CN, G729) if c.default_pt is not None}
)

_ALL = (PCMU, GSM, G723, PCMA, G722, CN, G729, TELEPHONE_EVENT, OPUS)
_BY_NAME: Mapping[str, Codec] = MappingProxyType({c.name: c for c in _ALL})
_BY_ENCODING: Mapping[tuple[str, int], Codec] = MappingProxyType(
    {(c.encoding.lower(), c.clock_rate): c for c in _ALL}
)


def by_payload_type(pt: int) -> Codec | None:
    """The codec of a *static* payload type (0..95), ``None`` for dynamic or unknown ones."""
    return STATIC_PAYLOAD_TYPES.get(pt)


def by_name(name: str) -> Codec | None:
    """Look up Asterisk's name (``ulaw``, ``alaw``, ``opus`` ...), case-insensitively."""
    return _BY_NAME.get(name.lower())


def by_encoding(encoding: str, clock_rate: int) -> Codec | None:
    """Look up an ``a=rtpmap`` encoding name and clock rate (names are case-insensitive,
    RFC 4855 §3)."""
    return _BY_ENCODING.get((encoding.lower(), clock_rate))
