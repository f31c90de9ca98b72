"""The vocabulary of a media stream: its negotiated configuration and its statistics snapshot.

:class:`StreamConfig` is what offer/answer agreed, in media terms (addresses, payload types,
direction, SRTP keying, ICE); :mod:`pbx.call.media` builds it from the SDP side's
``NegotiatedMedia``, so this package never reads SDP. :class:`LegStats` is what a stream reports
for ``sip show channelstats`` and the CDR. Both are plain values; the behaviour is
:mod:`pbx.media.stream`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Address = tuple[str, int]


@dataclass(frozen=True)
class SdesSecurity:
    """SRTP keyed by SDES (RFC 4568): our key||salt, the peer's and its MKI."""

    profile: str
    local_key_salt: bytes = field(repr=False)
    remote_key_salt: bytes = field(repr=False)
    remote_mki: bytes = b""


@dataclass(frozen=True)
class DtlsSecurity:
    """DTLS-SRTP (RFC 5763): our role and the fingerprint to pin the peer's certificate to."""

    role: Literal["client", "server"]
    remote_fingerprint: tuple[str, str]


@dataclass(frozen=True)
class StreamConfig:
    """What offer/answer agreed, in media terms.

    :param remote_rtp: where to send RTP, ``None`` for ``c=0.0.0.0`` or port 0 (comedia or ICE
        may still learn it).
    :param remote_rtcp: where to send RTCP without rtcp-mux.
    :param codecs: every joint codec as (Asterisk name, payload type), ``codec`` first.
    :param frame_ms: the packetisation interval of prompts and DTMF updates.
    :param send: we may send media (false on hold: ``sendonly``/``inactive`` from the peer).
    :param recv: we accept media.
    :param security: ``None`` for plain RTP.
    :param ice_remote_ufrag: the peer's ufrag when ICE runs, else ``None``.
    :param ice_local_credentials: our (ufrag, pwd) in this exchange's SDP; when they differ from
        the ones in use, the exchange restarted ICE (RFC 8445 §9). ``None`` keeps the current.
    :param avpf: an AVPF (RFC 4585) profile: RTCP every second.
    """

    remote_rtp: Address | None
    remote_rtcp: Address | None
    rtcp_mux: bool
    codec: str
    payload_type: int
    clock_rate: int
    codecs: tuple[tuple[str, int], ...] = ()
    dtmf_pt: int | None = None
    dtmf_clock_rate: int = 8000
    frame_ms: int = 20
    send: bool = True
    recv: bool = True
    security: SdesSecurity | DtlsSecurity | None = None
    ice: bool = False
    ice_remote_ufrag: str | None = None
    ice_local_credentials: tuple[str, str] | None = None
    avpf: bool = False


@dataclass(frozen=True)
class LegStats:
    """A snapshot of one leg for ``sip show channelstats`` and the CDR.

    Receive figures are about what the peer sent us (all its SSRCs so far); send figures are
    ours, with loss and jitter as the peer's RTCP reports them. Jitter and RTT are in seconds.
    """

    codec: str
    remote_address: Address | None
    local_ssrc: int
    remote_ssrc: int | None
    rx_packets: int
    rx_octets: int
    rx_lost: int
    rx_loss_percent: float
    rx_jitter: float
    tx_packets: int
    tx_octets: int
    tx_lost: int
    tx_loss_percent: float
    tx_jitter: float
    rtt: float | None
    rtcp_received: int
    ice_state: str | None
    dtls_state: str | None
    srtp_profile: str | None
    dropped_source: int
    srtp_failures: int
