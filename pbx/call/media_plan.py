"""Where peer configuration meets SDP: a peer's :class:`MediaPolicy`, and codec plans for Dial.

WebSocket peers (``transport=ws``/``wss`` or ``webrtc=yes``) always get the browser-safe policy,
whatever else their section says: DTLS-SRTP (never ``a=crypto`` to a browser), ICE, rtcp-mux and
AVPF — a safer default than chan_sip, which offers plain RTP unless every option is set.

For ``Dial()`` the B leg is offered only codecs the A leg can take without transcoding, plus the
ulaw/alaw partner that the bridge can transcode, so the answer the callee picks is always
bridgeable (Asterisk offers the callee the caller's joint capabilities the same way).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pbx.config.sip_conf import PeerConfig
from pbx.sdp.codecs import AUDIO_CODECS, offered_formats
from pbx.sdp.model import SessionDescription
from pbx.sdp.negotiator import MediaPolicy

#: Codecs the bridge can transcode between (G.711 tables); everything else must match.
TRANSCODABLE = {"ulaw": "alaw", "alaw": "ulaw"}


def is_webrtc(peer: PeerConfig) -> bool:
    return peer.webrtc or any(t.websocket for t in peer.transports)


def media_policy(peer: PeerConfig, codecs: Sequence[str] | None = None) -> MediaPolicy:
    """The SDP policy for ``peer``; ``codecs`` overrides the peer's preference list."""
    chosen = tuple(c for c in (codecs if codecs is not None else peer.codecs) if c in AUDIO_CODECS)
    webrtc = is_webrtc(peer)
    return MediaPolicy(
        peer_name=peer.name,
        codecs=chosen,
        dtmf_rfc4733=peer.dtmfmode in ("rfc2833", "auto"),
        encryption=peer.encryption or webrtc,
        sdes_taglen=peer.encryption_taglen,
        dtls=peer.dtlsenable or webrtc,
        avpf=peer.avpf or webrtc,
        ice=peer.icesupport or webrtc,
        rtcp_mux=peer.rtcp_mux or webrtc,
        # RFC 5763 §5: an offerer says actpass; browsers get it whatever dtlssetup says.
        dtls_setup=(
            peer.dtlssetup if peer.dtlssetup in ("active", "passive") and not webrtc else "actpass"
        ),
        fingerprint_hash=peer.dtlsfingerprint or "sha-256",
        dtls_identity=(
            (peer.dtlscertfile, peer.dtlsprivatekey or peer.dtlscertfile)
            if peer.dtlscertfile
            else None
        ),
    )


def offered_codecs(offer: SessionDescription) -> list[str]:
    """Asterisk names of the voice codecs in the first usable audio m-line, in offer order."""
    for md in offer.media:
        if md.media != "audio" or md.port == 0:
            continue
        names = [
            f.codec.name
            for f in offered_formats(md)
            if f.codec is not None and f.codec.name in AUDIO_CODECS
        ]
        return list(dict.fromkeys(names))
    return []


def bridgeable(codecs: Iterable[str]) -> list[str]:
    """``codecs`` plus their transcoding partners, order kept, partners after."""
    out = list(dict.fromkeys(codecs))
    for name in list(out):
        partner = TRANSCODABLE.get(name)
        if partner and partner not in out:
            out.append(partner)
    return out


def callee_codecs(callee: PeerConfig, caller_codecs: Sequence[str]) -> list[str]:
    """What to offer a Dial target: its own preference order, limited to what bridges."""
    allowed = set(bridgeable(caller_codecs))
    return [c for c in callee.codecs if c in allowed and c in AUDIO_CODECS]


def caller_codecs_for(answered: str, caller_allows: Sequence[str]) -> list[str]:
    """The caller's preference with the callee's chosen codec first (no transcoding then)."""
    order = [answered] if answered in caller_allows else []
    partner = TRANSCODABLE.get(answered)
    if partner and partner in caller_allows:
        order.append(partner)
    return order + [c for c in caller_allows if c not in order]
