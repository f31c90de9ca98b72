"""The vocabulary of a negotiation: what pbx may do for a peer, what it has locally, and what
came out (RFC 3264 offer/answer inputs and results).

:class:`MediaPolicy` is the SDP-relevant slice of a chan_sip peer (``allow``, ``dtmfmode``,
``encryption``, ``encryption_taglen``, ``dtlsenable``, ``avpf``, ``icesupport``, ``rtcp_mux``,
``dtlssetup``, ``dtlsfingerprint``); :class:`LocalMedia` is what the media layer allocated for
one call leg; :class:`NegotiatedMedia` is the agreed stream the media layer sets up;
:class:`NotAcceptable` is a refusal with the exact reason text that becomes
``Warning: 399 <host> "<reason>"``, the log line and the CDR userfield.  Also the RTP profile
table (RFC 3551, RFC 4585, RFC 3711, RFC 5124, RFC 5764 §8) and the direction algebra of
RFC 3264 §6.1.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from pbx.sdp.model import Candidate, Crypto

PLAIN_PROFILES = frozenset({"RTP/AVP", "RTP/AVPF"})
SDES_PROFILES = frozenset({"RTP/SAVP", "RTP/SAVPF"})
DTLS_PROFILES = frozenset({"UDP/TLS/RTP/SAVP", "UDP/TLS/RTP/SAVPF"})
RTP_PROFILES = PLAIN_PROFILES | SDES_PROFILES | DTLS_PROFILES

DTLS_SETUPS = ("actpass", "active", "passive")
"""Allowed ``MediaPolicy.dtls_setup`` values (chan_sip ``dtlssetup``)."""

SDES_TAGLENS = (32, 80)
"""Allowed ``MediaPolicy.sdes_taglen`` values (chan_sip ``encryption_taglen``)."""


def offer_profile(policy: MediaPolicy) -> str:
    """The profile pbx offers (chan_sip ``ast_sdp_get_rtp_profile``): DTLS, else SDES, else
    plain; the F (RFC 4585 feedback) follows ``avpf``."""
    if policy.dtls:
        base = "UDP/TLS/RTP/SAVP"
    elif policy.encryption:
        base = "RTP/SAVP"
    else:
        base = "RTP/AVP"
    return base + "F" if policy.avpf else base


def direction_flags(direction: str) -> tuple[bool, bool]:
    """``sendrecv`` -> (send, recv) = (True, True) and so on (RFC 8866 §6.7)."""
    return direction in ("sendrecv", "sendonly"), direction in ("sendrecv", "recvonly")


def direction_name(send: bool, recv: bool) -> str:
    """The inverse of :func:`direction_flags`."""
    if send:
        return "sendrecv" if recv else "sendonly"
    return "recvonly" if recv else "inactive"


#: A DTLS certificate by its files: (certificate PEM, private key PEM; may be the same file).
DtlsIdentity = tuple[str, str]


@dataclass(frozen=True)
class MediaPolicy:
    """What pbx may negotiate with one peer.

    :param codecs: Asterisk codec names in preference order (``allow``/``disallow`` resolved by
        the config layer); names without an SDP mapping (video codecs) are ignored.
    :param dtmf_rfc4733: ``dtmfmode=rfc2833``: offer/accept telephone-event.
    :param encryption: ``encryption=yes``: SRTP required (plain RTP offers are refused), SDES
        offered unless ``dtls``.
    :param sdes_taglen: ``encryption_taglen``: the authentication tag length in bits (32 or
        80) of the SDES suite offered as tag 1; the other suite follows as tag 2.
    :param dtls: ``dtlsenable=yes``: DTLS-SRTP offered and accepted.
    :param avpf: ``avpf=yes``: the F profiles in our offers (answers mirror the offer).
    :param ice: ``icesupport=yes``: ICE-lite credentials and candidates.
    :param rtcp_mux: ``rtcp_mux=yes``: offer ``a=rtcp-mux`` (answers accept it whenever offered).
    :param dtls_setup: ``dtlssetup``: our ``a=setup`` in a first offer and our preference when
        answering ``actpass``.
    :param fingerprint_hash: ``dtlsfingerprint``: the hash of ``LocalMedia.fingerprint``.
    :param dtls_identity: ``dtlscertfile``/``dtlsprivatekey``: the files of the certificate
        presented in DTLS; ``None``: the daemon's generated one (``dtlsautogeneratecert``).
    """

    peer_name: str
    codecs: tuple[str, ...]
    dtmf_rfc4733: bool = True
    encryption: bool = False
    sdes_taglen: int = 80
    dtls: bool = False
    avpf: bool = False
    ice: bool = False
    rtcp_mux: bool = False
    dtls_setup: str = "actpass"
    fingerprint_hash: str = "sha-256"
    dtls_identity: DtlsIdentity | None = None

    def __post_init__(self) -> None:
        if self.dtls_setup not in DTLS_SETUPS:
            raise ValueError(f"dtls_setup must be one of {DTLS_SETUPS}, not {self.dtls_setup!r}")
        if self.sdes_taglen not in SDES_TAGLENS:
            raise ValueError(f"sdes_taglen must be one of {SDES_TAGLENS}, not {self.sdes_taglen!r}")


@dataclass(frozen=True)
class LocalMedia:
    """What the media layer allocated for one call leg.

    :param address: the IP literal we receive on (v4 or v6), advertised in ``c=``/``o=``.
    :param candidates: our ICE candidates; empty means one host candidate per component on
        ``address`` (RFC 8445 §5.1.2.1 priorities).
    :param fingerprint: colon-separated hex of our DTLS certificate for
        ``MediaPolicy.fingerprint_hash``.
    :param fingerprints: the same certificate under other hashes (``{"sha-1": "..."}``) so an
        answer can mirror the peer's hash algorithm.
    :param sdes_keys: suite -> 30-byte master key||salt for SDES.
    """

    address: str
    rtp_port: int
    rtcp_port: int
    ice_ufrag: str | None = None
    ice_pwd: str | None = None
    candidates: tuple[Candidate, ...] = ()
    fingerprint: str | None = None
    fingerprints: Mapping[str, str] = field(default_factory=dict)
    sdes_keys: Mapping[str, bytes] = field(default_factory=dict)
    sess_owner: str = "-"
    session_name: str = "pbx"

    def fingerprint_for(self, hash_name: str, policy: MediaPolicy) -> str | None:
        """Our certificate's fingerprint under ``hash_name`` (lower case), if we have it."""
        if hash_name == policy.fingerprint_hash.lower() and self.fingerprint is not None:
            return self.fingerprint
        for name, value in self.fingerprints.items():
            if name.lower() == hash_name:
                return value
        return None


@dataclass(frozen=True)
class NegotiatedMedia:
    """The agreed audio stream, from our side.

    :param direction: what *we* may do on the stream, as a direction attribute; ``send`` and
        ``recv`` say the same as booleans (RFC 3264 §6.1; ``send`` is also false when the peer
        gave ``c=0.0.0.0``, RFC 3264 §8.4).
    :param codec: Asterisk name of the first joint codec, sent with ``payload_type``.
    :param codecs: every joint codec as (Asterisk name, payload type), in preference order.
    :param dtmf_pt: telephone-event payload type, ``None`` without RFC 4733 DTMF.
    :param dtmf_clock_rate: telephone-event clock rate (8000, or 48000 with opus).
    :param security: ``none``, ``sdes`` or ``dtls``.
    :param remote_crypto: the peer's chosen ``a=crypto`` (SDES), checked by
        :func:`pbx.sdp.sdes.key_problem`; ``str()`` is the attribute value, the input of
        ``pbx.media.srtp.parse_crypto``.
    :param local_crypto_suite: our suite (SDES); our key is ``LocalMedia.sdes_keys[suite]``.
    :param remote_fingerprint: (hash, hex) to verify the peer's DTLS certificate against.
    :param dtls_role: our DTLS role, ``client`` or ``server``.
    :param ice: whether ICE(-lite) runs on the stream.
    :param local_ice_ufrag: our ``a=ice-ufrag`` in this exchange when ICE runs; a new value
        (with ``local_ice_pwd``) is an ICE restart the media layer must follow (RFC 8445 §9).
        ``None`` leaves the media layer's credentials as they are.
    :param local_ice_pwd: our ``a=ice-pwd`` in this exchange when ICE runs.
    """

    remote_address: str
    remote_rtp_port: int
    remote_rtcp_port: int
    rtcp_mux: bool
    codec: str
    payload_type: int
    clock_rate: int
    codecs: tuple[tuple[str, int], ...]
    dtmf_pt: int | None
    dtmf_clock_rate: int | None
    ptime: int | None
    direction: str
    send: bool
    recv: bool
    security: str
    remote_crypto: Crypto | None
    local_crypto_suite: str | None
    remote_fingerprint: tuple[str, str] | None
    dtls_role: str | None
    remote_ice_ufrag: str | None
    remote_ice_pwd: str | None
    ice: bool
    mid: str | None
    avpf: bool
    profile: str
    local_ice_ufrag: str | None = None
    local_ice_pwd: str | None = None


@dataclass(frozen=True)
class NotAcceptable:
    """A refused offer or answer (SIP 488, RFC 3261 §21.4.26) and why, in exact words."""

    reason: str
