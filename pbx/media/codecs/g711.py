"""G.711 μ-law and A-law by lookup tables (ITU-T G.711; ``audioop`` is gone in Python 3.13).

Linear audio here is 16-bit signed, native byte order, mono (``array('h')`` bytes), the
left-justified form of G.711's 14-bit (μ-law) and 13-bit (A-law) uniform PCM.

* Decoding uses the G.711 decoder output values (μ-law Table 2a, A-law Table 1a, scaled by
  4 and 8): 256-entry tables, applied with two ``bytes.translate`` calls (low and high octet)
  and interleaved by extended-slice assignment, so a 20 ms frame never loops in Python.
* Encoding uses a 65536-entry table indexed by the sample as unsigned 16 bits. Negative samples
  are quantised by their one's complement, as the ITU-T G.191 reference software does for both
  laws (the Sun/``audioop`` μ-law encoder differs by one step at negative decision values).
* μ-law <-> A-law transcoding, which the bridge does per packet, is one ``bytes.translate``
  through a 256-byte table: decode with one law, re-quantise with the other (what Asterisk's
  ``codec_a_mu`` does). It is not transparent for 16 of 256 codes in either direction (small
  signals, where the two laws' steps differ); a second round trip changes nothing.
"""

from __future__ import annotations

import sys
from typing import Final, TypeVar

_Octets = TypeVar("_Octets", bytes, bytearray)


def _ulaw_linear(code: int) -> int:
    # G.711 Table 2a: bits are inverted on the line; value = ((2q + 33) << s) - 33 in 14 bits.
    u = ~code & 0xFF
    segment = (u >> 4) & 0x07
    magnitude = ((2 * (u & 0x0F) + 33) << segment) - 33
    return 4 * (-magnitude if u & 0x80 else magnitude)


def _alaw_linear(code: int) -> int:
    # G.711 Table 1a: even bits inverted on the line (0x55); value is the interval midpoint.
    a = code ^ 0x55
    segment = (a >> 4) & 0x07
    q = a & 0x0F
    magnitude = 2 * q + 1 if segment == 0 else ((16 + q) << segment) + (1 << (segment - 1))
    return 8 * (magnitude if a & 0x80 else -magnitude)


def _ulaw_code(sample: int) -> int:
    if sample >= 0:
        magnitude, sign = sample >> 2, 0x00
    else:
        magnitude, sign = (~sample) >> 2, 0x80
    # Bias by 33 so the segment is the position of the leading one (G.711 Table 2a).
    biased = min(magnitude, 8158) + 33
    segment = biased.bit_length() - 6
    return ~(sign | (segment << 4) | ((biased >> (segment + 1)) & 0x0F)) & 0xFF


def _alaw_code(sample: int) -> int:
    if sample >= 0:
        magnitude, sign = sample >> 3, 0x80
    else:
        magnitude, sign = (~sample) >> 3, 0x00
    # A 16-bit sample shifted by 3 fits the 12-bit magnitude: no clipping needed.
    if magnitude < 32:
        segment, q = 0, magnitude >> 1
    else:
        segment = magnitude.bit_length() - 5
        q = (magnitude >> segment) & 0x0F
    return (sign | (segment << 4) | q) ^ 0x55


#: Decoder output (16-bit linear) of each μ-law code.
ULAW_DECODE_TABLE: Final = tuple(_ulaw_linear(c) for c in range(256))
#: Decoder output (16-bit linear) of each A-law code.
ALAW_DECODE_TABLE: Final = tuple(_alaw_linear(c) for c in range(256))

# Index = sample as unsigned 16 bits (what memoryview.cast("H") yields).
_ULAW_ENCODE: Final = bytes(_ulaw_code(u - 65536 if u >= 32768 else u) for u in range(65536))
_ALAW_ENCODE: Final = bytes(_alaw_code(u - 65536 if u >= 32768 else u) for u in range(65536))

#: ``payload.translate(ULAW_TO_ALAW)`` transcodes a μ-law payload to A-law.
ULAW_TO_ALAW: Final = bytes(_ALAW_ENCODE[ULAW_DECODE_TABLE[c] & 0xFFFF] for c in range(256))
#: ``payload.translate(ALAW_TO_ULAW)`` transcodes an A-law payload to μ-law.
ALAW_TO_ULAW: Final = bytes(_ULAW_ENCODE[ALAW_DECODE_TABLE[c] & 0xFFFF] for c in range(256))


def _octet_tables(decoded: tuple[int, ...]) -> tuple[bytes, bytes]:
    # (first octet in memory, second octet in memory) of each decoded sample.
    low = bytes(v & 0xFF for v in decoded)
    high = bytes((v >> 8) & 0xFF for v in decoded)
    return (low, high) if sys.byteorder == "little" else (high, low)


_ULAW_FIRST, _ULAW_SECOND = _octet_tables(ULAW_DECODE_TABLE)
_ALAW_FIRST, _ALAW_SECOND = _octet_tables(ALAW_DECODE_TABLE)


def _decode(payload: bytes | bytearray, first: bytes, second: bytes) -> bytes:
    out = bytearray(2 * len(payload))
    out[0::2] = payload.translate(first)
    out[1::2] = payload.translate(second)
    return bytes(out)


def _encode(pcm: bytes | bytearray, table: bytes) -> bytes:
    if len(pcm) % 2:
        raise ValueError("linear audio must be whole 16-bit samples")
    return bytes(map(table.__getitem__, memoryview(pcm).cast("H")))


def ulaw_decode(payload: bytes | bytearray) -> bytes:
    """μ-law octets -> 16-bit native-endian linear samples."""
    return _decode(payload, _ULAW_FIRST, _ULAW_SECOND)


def alaw_decode(payload: bytes | bytearray) -> bytes:
    """A-law octets -> 16-bit native-endian linear samples."""
    return _decode(payload, _ALAW_FIRST, _ALAW_SECOND)


def ulaw_encode(pcm: bytes | bytearray) -> bytes:
    """16-bit native-endian linear samples -> μ-law octets.

    :raises ValueError: if ``pcm`` has an odd length.
    """
    return _encode(pcm, _ULAW_ENCODE)


def alaw_encode(pcm: bytes | bytearray) -> bytes:
    """16-bit native-endian linear samples -> A-law octets.

    :raises ValueError: if ``pcm`` has an odd length.
    """
    return _encode(pcm, _ALAW_ENCODE)


def ulaw_to_alaw(payload: _Octets) -> _Octets:
    """Transcode a μ-law payload to A-law (one ``translate``; same type as the input)."""
    return payload.translate(ULAW_TO_ALAW)


def alaw_to_ulaw(payload: _Octets) -> _Octets:
    """Transcode an A-law payload to μ-law (one ``translate``; same type as the input)."""
    return payload.translate(ALAW_TO_ULAW)


class UlawCoder:
    """:class:`pbx.media.codecs.base.Encoder` and ``Decoder`` for PCMU."""

    def encode(self, pcm: bytes) -> bytes:
        """See :func:`ulaw_encode`."""
        return ulaw_encode(pcm)

    def decode(self, payload: bytes) -> bytes:
        """See :func:`ulaw_decode`."""
        return ulaw_decode(payload)


class AlawCoder:
    """:class:`pbx.media.codecs.base.Encoder` and ``Decoder`` for PCMA."""

    def encode(self, pcm: bytes) -> bytes:
        """See :func:`alaw_encode`."""
        return alaw_encode(pcm)

    def decode(self, payload: bytes) -> bytes:
        """See :func:`alaw_decode`."""
        return alaw_decode(payload)
