"""Shared inputs of the SDP tests: the recorded SDPs under test/data/sdp/ and fixed local media.

The fixed LocalMedia values (ports, ICE credentials, certificate fingerprint, SDES keys) are the
ones the expected answers and offers in test/data/sdp/expected/ were written for.
"""

from __future__ import annotations

from pathlib import Path

from pbx.sdp.model import SessionDescription
from pbx.sdp.policy import LocalMedia, MediaPolicy

DATA = Path(__file__).resolve().parents[2] / "data" / "sdp"

FINGERPRINT = (
    "3F:9A:21:C4:7B:E0:55:18:D2:6C:0F:8B:A3:47:91:EE:"
    "02:5D:B8:74:C9:3A:1F:60:8E:D5:27:B1:4C:90:6A:F3"
)
SHA1_FINGERPRINT = "5B:0E:93:1A:C7:44:D8:2F:61:B9:0C:75:E2:38:AF:16:D4:8B:29:C0"
KEY_80 = bytes(range(30))
KEY_32 = bytes(range(100, 130))

WEBRTC_LOCAL = LocalMedia(
    address="127.0.0.1",
    rtp_port=40000,
    rtcp_port=40001,
    ice_ufrag="5c1e9a0d",
    ice_pwd="8f2b6e417ad3c95e0b1f7a264c8d3e59",
    fingerprint=FINGERPRINT,
)
DESK_LOCAL = LocalMedia(
    address="127.0.0.1",
    rtp_port=40002,
    rtcp_port=40003,
    sdes_keys={"AES_CM_128_HMAC_SHA1_80": KEY_80, "AES_CM_128_HMAC_SHA1_32": KEY_32},
)

# chan_sip's typical browser peer (ASTERISK-REFERENCE §1.7) and two desk phones.
WEBRTC_POLICY = MediaPolicy(
    "alice",
    ("ulaw", "alaw"),
    encryption=True,
    dtls=True,
    avpf=True,
    ice=True,
    rtcp_mux=True,
)
DESK_POLICY = MediaPolicy("desk1", ("ulaw", "alaw"))
SDES_POLICY = MediaPolicy("desk1", ("ulaw", "alaw"), encryption=True)
SDES_32_POLICY = MediaPolicy("desk1", ("ulaw", "alaw"), encryption=True, sdes_taglen=32)


def load(name: str) -> bytes:
    """The bytes of test/data/sdp/<name>."""
    return (DATA / name).read_bytes()


def load_sdp(name: str) -> SessionDescription:
    return SessionDescription.parse(load(name))


def edited(name: str, *replacements: tuple[str, str]) -> SessionDescription:
    """A recorded SDP with exact text replacements applied (each must match once)."""
    text = load(name).decode()
    for old, new in replacements:
        if text.count(old) != 1:
            raise AssertionError(f"{old!r} occurs {text.count(old)} times in {name}")
        text = text.replace(old, new)
    return SessionDescription.parse(text)
