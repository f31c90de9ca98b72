"""Classify a datagram on a shared media port (RFC 7983 §7, RFC 5761 §4).

A WebRTC media port carries STUN (ICE checks), DTLS (the handshake) and RTP/RTCP (multiplexed
with ``a=rtcp-mux``) on one 5-tuple. The first octet decides the protocol::

    [0..3]     STUN          RFC 7983 §7
    [16..19]   ZRTP          (not used by pbx: UNKNOWN)
    [20..63]   DTLS
    [64..79]   TURN channel  (not used by pbx: UNKNOWN)
    [128..191] RTP / RTCP

and inside the RTP range the second octet separates RTCP: its packet types 192..223 (SR 200,
RR 201, SDES 202, BYE 203, APP 204, RTPFB 205, PSFB 206, XR 207) read as an RTP marker bit plus
payload type 64..95, which is why RFC 5761 §4 forbids RTP payload types 64..95 on a muxed
stream. This module only classifies; it does not validate lengths or versions.
"""

from __future__ import annotations

from typing import Final

STUN: Final = 0
DTLS: Final = 1
RTP: Final = 2
RTCP: Final = 3
UNKNOWN: Final = 4

NAMES: Final = ("STUN", "DTLS", "RTP", "RTCP", "UNKNOWN")
"""``NAMES[kind]`` for logs and counters."""

_FIRST: Final = bytes(
    STUN if b <= 3 else DTLS if 20 <= b <= 63 else RTP if 128 <= b <= 191 else UNKNOWN
    for b in range(256)
)


def classify(first_byte: int, second_byte: int) -> int:
    """Return :data:`STUN`, :data:`DTLS`, :data:`RTP`, :data:`RTCP` or :data:`UNKNOWN`.

    ``second_byte`` is only looked at for the RTP range; pass 0 for a 1-byte datagram.
    """
    kind = _FIRST[first_byte]
    if kind == RTP and 64 <= (second_byte & 0x7F) <= 95:
        return RTCP
    return kind


def classify_datagram(data: bytes | bytearray | memoryview) -> int:
    """:func:`classify` on a whole datagram; an empty datagram is :data:`UNKNOWN`."""
    if not data:
        return UNKNOWN
    return classify(data[0], data[1] if len(data) > 1 else 0)
