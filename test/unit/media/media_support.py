"""Builders shared by the media stream, bridge and relay tests: RTP packets, ICE checks, a
recording transmit, stream configurations, certificates."""

from __future__ import annotations

import datetime
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from pbx.core.tokens import CountingTokens
from pbx.media import stun
from pbx.media.certificate import CertifiedKey, generate_certificate, load_certificate
from pbx.media.rtp import RtpHeader
from pbx.media.stream_config import StreamConfig
from pbx.sdp.policy import NegotiatedMedia

DATA = Path(__file__).resolve().parents[2] / "data"
NOW = datetime.datetime(2026, 11, 26, 12, 0, tzinfo=datetime.UTC)

PHONE = ("127.0.0.1", 4000)
PHONE_RTCP = ("127.0.0.1", 4001)
ULAW_FRAME = bytes(range(160))


def rtp(
    seq: int,
    ts: int,
    ssrc: int = 0x11111111,
    pt: int = 0,
    payload: bytes = ULAW_FRAME,
    marker: bool = False,
) -> bytes:
    """One RTP packet."""
    return RtpHeader(pt, seq & 0xFFFF, ts & 0xFFFFFFFF, ssrc, marker).serialize(payload)


def config(**changes: Any) -> StreamConfig:
    """A plain PCMU stream to :data:`PHONE` with telephone-event 101, updated by ``changes``."""
    base = StreamConfig(
        remote_rtp=PHONE,
        remote_rtcp=PHONE_RTCP,
        rtcp_mux=False,
        codec="ulaw",
        payload_type=0,
        clock_rate=8000,
        codecs=(("ulaw", 0), ("alaw", 8)),
        dtmf_pt=101,
    )
    return replace(base, **changes)


def negotiated(port: int, **changes: object) -> NegotiatedMedia:
    """A plain PCMU negotiation with a phone on 127.0.0.1:``port``, updated by ``changes``."""
    base = NegotiatedMedia(
        remote_address="127.0.0.1",
        remote_rtp_port=port,
        remote_rtcp_port=port + 1,
        rtcp_mux=False,
        codec="ulaw",
        payload_type=0,
        clock_rate=8000,
        codecs=(("ulaw", 0),),
        dtmf_pt=101,
        dtmf_clock_rate=8000,
        ptime=20,
        direction="sendrecv",
        send=True,
        recv=True,
        security="none",
        remote_crypto=None,
        local_crypto_suite=None,
        remote_fingerprint=None,
        dtls_role=None,
        remote_ice_ufrag=None,
        remote_ice_pwd=None,
        ice=False,
        mid=None,
        avpf=False,
        profile="RTP/AVP",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


class Wire:
    """A ``transmit`` that records what it is given."""

    def __init__(self) -> None:
        self.sent: list[tuple[bytes, tuple[str, int]]] = []
        self.fail: OSError | None = None

    def __call__(self, data: bytes | bytearray, addr: tuple[str, int]) -> int:
        if self.fail is not None:
            raise self.fail
        self.sent.append((bytes(data), addr))
        return len(data)

    def take(self) -> list[tuple[bytes, tuple[str, int]]]:
        out, self.sent = self.sent, []
        return out


def binding_request(
    local_ufrag: str,
    local_pwd: str,
    remote_ufrag: str = "peer",
    *,
    nominate: bool = False,
    txid: bytes | None = None,
) -> bytes:
    """A browser's ICE check to the agent with ``local_ufrag``/``local_pwd`` (RFC 8445 §7.2.2)."""
    message = stun.Message(stun.Method.BINDING, stun.MessageClass.REQUEST, txid or os.urandom(12))
    message.add_username(f"{local_ufrag}:{remote_ufrag}")
    message.add_priority(1853817087)
    message.add_ice_controlling(0x1122334455667788)
    if nominate:
        message.add_use_candidate()
    return message.encode(integrity_key=local_pwd.encode(), fingerprint=True)


def our_certificate() -> CertifiedKey:
    """The recorded ECDSA P-256 certificate of test/data/dtls/."""
    return load_certificate(
        str(DATA / "dtls" / "ecdsa-p256-cert.pem"), str(DATA / "dtls" / "ecdsa-p256-key.pem")
    )


def peer_certificate() -> CertifiedKey:
    """A second certificate (for the other DTLS endpoint)."""
    return generate_certificate(NOW, CountingTokens(77))
