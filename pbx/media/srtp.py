"""SRTP/SRTCP protection for one stream, and SDES keys (RFC 3711, RFC 4568, RFC 5764, RFC 7714).

Owns the profile table (RFC 5764 §4.1.2 names, as OpenSSL reports them after DTLS, and the
RFC 4568 §6.2 SDES suite names that map onto them), :class:`SrtpContext` (one pylibsrtp session
per direction, as aiortc does) and the SDES ``a=crypto`` key parameters (RFC 4568 §6.1, §9.1).
Keys come from :mod:`pbx.media.dtls` (``SrtpKeys``) or from SDP via :func:`parse_crypto`.

Per-packet failures (authentication, replay, size) are outputs: ``None`` plus a counter and a
DEBUG line, never an exception through the caller (STYLE §2.7).
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
from dataclasses import dataclass
from typing import NamedTuple

import pylibsrtp

from pbx.core.errors import LocalProtocolError, RemoteProtocolError
from pbx.core.tokens import TokenSource

logger = logging.getLogger(__name__)

_Policy = pylibsrtp.Policy


@dataclass(frozen=True)
class SrtpProfile:
    """One SRTP protection profile: cipher, key and salt sizes, tag sizes (bytes)."""

    name: str
    libsrtp_profile: int
    key_length: int
    salt_length: int
    rtp_tag_length: int
    rtcp_tag_length: int

    @property
    def key_salt_length(self) -> int:
        return self.key_length + self.salt_length


#: RFC 5764 §4.1.2 / RFC 7714 §14.2 profile names, as ``get_selected_srtp_profile()`` returns
#: them. GCM salts are 12 bytes (RFC 7714 §12); the _32 profile still uses an 80-bit SRTCP tag
#: (RFC 3711 §5.2).
SRTP_PROFILES: dict[str, SrtpProfile] = {
    name: SrtpProfile(name, libsrtp_profile, key, salt, rtp_tag, rtcp_tag)
    for name, libsrtp_profile, key, salt, rtp_tag, rtcp_tag in (
        ("SRTP_AES128_CM_SHA1_80", _Policy.SRTP_PROFILE_AES128_CM_SHA1_80, 16, 14, 10, 10),
        ("SRTP_AES128_CM_SHA1_32", _Policy.SRTP_PROFILE_AES128_CM_SHA1_32, 16, 14, 4, 10),
        ("SRTP_AEAD_AES_128_GCM", _Policy.SRTP_PROFILE_AEAD_AES_128_GCM, 16, 12, 16, 16),
        ("SRTP_AEAD_AES_256_GCM", _Policy.SRTP_PROFILE_AEAD_AES_256_GCM, 32, 12, 16, 16),
    )
}

#: RFC 4568 §6.2 crypto-suite -> profile name, for the suites we take over SDES.
SDES_SUITES: dict[str, str] = {
    "AES_CM_128_HMAC_SHA1_80": "SRTP_AES128_CM_SHA1_80",
    "AES_CM_128_HMAC_SHA1_32": "SRTP_AES128_CM_SHA1_32",
}


def get_profile(name: str) -> SrtpProfile:
    """:raises LocalProtocolError: for a profile name not in :data:`SRTP_PROFILES`."""
    try:
        return SRTP_PROFILES[name]
    except KeyError:
        raise LocalProtocolError(f"unknown SRTP profile {name!r}") from None


class SrtpKeys(NamedTuple):
    """Master key||salt for each direction, named from our side."""

    profile: str
    local_key_salt: bytes
    remote_key_salt: bytes


@dataclass
class SrtpCounters:
    """Packets that failed, by operation; ``last_error`` is libsrtp's text for the latest one."""

    protect_failed: int = 0
    unprotect_failed: int = 0
    protect_rtcp_failed: int = 0
    unprotect_rtcp_failed: int = 0
    last_error: str | None = None


class SrtpContext:
    """Protect what we send with our key and unprotect what we receive with the peer's key.

    :param profile: a key of :data:`SRTP_PROFILES`.
    :param local_key_salt: our master key||salt (outbound).
    :param remote_key_salt: the peer's master key||salt (inbound).
    :param remote_mki: the MKI the peer puts in every packet (RFC 3711 §3.1, from an SDES
        ``|MKI:length``), stripped before libsrtp sees the packet; the MKI is not covered by
        the authentication tag, so removing it leaves a valid MKI-less packet.
    :raises LocalProtocolError: if a key has the wrong length for the profile.
    """

    def __init__(
        self,
        profile: str,
        local_key_salt: bytes,
        remote_key_salt: bytes,
        *,
        remote_mki: bytes = b"",
    ) -> None:
        self.profile = get_profile(profile)
        for what, key in (("local", local_key_salt), ("remote", remote_key_salt)):
            if len(key) != self.profile.key_salt_length:
                raise LocalProtocolError(
                    f"{what} key||salt is {len(key)} bytes, {profile} needs "
                    f"{self.profile.key_salt_length}"
                )
        self._tx = pylibsrtp.Session(
            _Policy(
                key=local_key_salt,
                ssrc_type=_Policy.SSRC_ANY_OUTBOUND,
                srtp_profile=self.profile.libsrtp_profile,
            )
        )
        self._rx = pylibsrtp.Session(
            _Policy(
                key=remote_key_salt,
                ssrc_type=_Policy.SSRC_ANY_INBOUND,
                srtp_profile=self.profile.libsrtp_profile,
            )
        )
        self._mki = remote_mki
        self.counters = SrtpCounters()

    @classmethod
    def from_keys(cls, keys: SrtpKeys) -> SrtpContext:
        return cls(keys.profile, keys.local_key_salt, keys.remote_key_salt)

    def protect(self, rtp: bytes) -> bytes | None:
        """RTP -> SRTP, or ``None`` (counted) if libsrtp refuses it."""
        try:
            return self._tx.protect(rtp)
        except (pylibsrtp.Error, ValueError) as exc:
            self.counters.protect_failed += 1
            self._failed("protect", exc)
            return None

    def unprotect(self, srtp: bytes) -> bytes | None:
        """SRTP -> RTP, or ``None`` (counted) on authentication/replay failure."""
        try:
            return self._rx.unprotect(self._strip_mki(srtp, self.profile.rtp_tag_length))
        except (pylibsrtp.Error, ValueError) as exc:
            self.counters.unprotect_failed += 1
            self._failed("unprotect", exc)
            return None

    def protect_rtcp(self, rtcp: bytes) -> bytes | None:
        """RTCP -> SRTCP, or ``None`` (counted)."""
        try:
            return self._tx.protect_rtcp(rtcp)
        except (pylibsrtp.Error, ValueError) as exc:
            self.counters.protect_rtcp_failed += 1
            self._failed("protect_rtcp", exc)
            return None

    def unprotect_rtcp(self, srtcp: bytes) -> bytes | None:
        """SRTCP -> RTCP, or ``None`` (counted)."""
        try:
            return self._rx.unprotect_rtcp(self._strip_mki(srtcp, self.profile.rtcp_tag_length))
        except (pylibsrtp.Error, ValueError) as exc:
            self.counters.unprotect_rtcp_failed += 1
            self._failed("unprotect_rtcp", exc)
            return None

    def _strip_mki(self, packet: bytes, tag_length: int) -> bytes:
        # RFC 3711 §3.1/§3.4: ... encrypted portion | [SRTCP index] | MKI | authentication tag.
        if not self._mki:
            return packet
        end = len(packet) - tag_length
        start = end - len(self._mki)
        if start < 12 or packet[start:end] != self._mki:
            raise ValueError("MKI missing or unknown")
        return packet[:start] + packet[end:]

    def _failed(self, operation: str, exc: Exception) -> None:
        self.counters.last_error = str(exc)
        logger.debug("SRTP %s failed: %s", operation, exc)


# -- SDES (RFC 4568) ---------------------------------------------------------------------------

#: RFC 4568 §6.1 allows any lifetime; we never re-key, so a key must outlive any call. 2^24
#: packets is 93 hours at 50 packets/s. The maximum is the suite's (§6.2: 2^48 SRTP packets).
MIN_LIFETIME = 2**24
MAX_LIFETIME = 2**48

_LIFETIME = re.compile(r"(?:2\^(\d{1,2})|(\d{1,15}))\Z")
_MKI = re.compile(r"(\d{1,10}):(\d{1,3})\Z")


@dataclass(frozen=True)
class SdesKey:
    """One SDES master key (RFC 4568 §6.1 ``inline:<key||salt>[|lifetime][|MKI:length]``).

    :param suite: the crypto-suite, a key of :data:`SDES_SUITES`.
    :param key_salt: the master key||salt (30 bytes for the AES_CM_128 suites).
    :param lifetime: the lifetime text as received (``"2^31"``) or ``None``.
    :param mki: the MKI value and its length in bytes, or ``None``.
    """

    suite: str
    key_salt: bytes
    lifetime: str | None = None
    mki: tuple[int, int] | None = None

    @property
    def profile(self) -> str:
        return SDES_SUITES[self.suite]

    @property
    def mki_bytes(self) -> bytes:
        """The MKI as it appears in packets (big-endian, ``length`` bytes), or ``b""``."""
        if self.mki is None:
            return b""
        value, length = self.mki
        return value.to_bytes(length, "big")

    @property
    def key_params(self) -> str:
        """The key-params text: ``inline:<base64>[|lifetime][|MKI:length]``."""
        text = "inline:" + base64.b64encode(self.key_salt).decode("ascii")
        if self.lifetime is not None:
            text += "|" + self.lifetime
        if self.mki is not None:
            text += f"|{self.mki[0]}:{self.mki[1]}"
        return text


@dataclass(frozen=True)
class SdesCrypto:
    """One ``a=crypto`` attribute value (RFC 4568 §9.1): tag, suite and a single key."""

    tag: int
    key: SdesKey

    def __str__(self) -> str:
        return f"{self.tag} {self.key.suite} {self.key.key_params}"


def make_sdes_key(tokens: TokenSource, suite: str = "AES_CM_128_HMAC_SHA1_80") -> SdesKey:
    """A fresh key||salt for our side of an SDES offer or answer, without lifetime or MKI."""
    profile = get_profile(SDES_SUITES[suite])
    return SdesKey(suite, bytes.fromhex(tokens.hex(profile.key_salt_length)))


def parse_crypto(value: str) -> SdesCrypto:
    """Parse an ``a=crypto`` value: ``<tag> <crypto-suite> <key-params> [<session-params>]``.

    :raises RemoteProtocolError: (hint 488) with the reason when we cannot honour it.
    """
    fields = value.split()
    if len(fields) < 3:
        raise _unacceptable(f"malformed crypto attribute {value!r}")
    tag_text, suite, key_params, *session_params = fields
    if not tag_text.isdigit() or len(tag_text) > 9:
        raise _unacceptable(f"bad crypto tag {tag_text!r}")
    # RFC 4568 §6.3: session parameters change the SRTP transform (KDR, UNENCRYPTED_*,
    # FEC_ORDER ...) except WSH, a replay window hint we may ignore.
    unsupported = [p for p in session_params if not p.startswith("WSH=")]
    if unsupported:
        raise _unacceptable(f"unsupported session parameter {unsupported[0]!r}")
    return SdesCrypto(int(tag_text), parse_sdes_key(suite, key_params))


def parse_sdes_key(suite: str, key_params: str) -> SdesKey:
    """Parse RFC 4568 §6.1 key-params for ``suite``.

    Accepted: one ``inline:`` key of the suite's exact length; a lifetime between
    :data:`MIN_LIFETIME` and :data:`MAX_LIFETIME` packets; an MKI of 1 to 4 bytes.

    :raises RemoteProtocolError: (hint 488) with the reason when we cannot honour it.
    """
    if suite not in SDES_SUITES:
        raise _unacceptable(f"unsupported crypto suite {suite!r}")
    if ";" in key_params:
        raise _unacceptable("more than one key per crypto attribute is not supported")
    method, sep, info = key_params.partition(":")
    if not sep or method != "inline":
        raise _unacceptable(f"key method must be 'inline', not {method!r}")
    key_text, *params = info.split("|")
    if len(params) > 2:
        raise _unacceptable(f"too many '|' parameters in {key_params!r}")
    lifetime = mki = None
    for param in params:
        if ":" in param and mki is None:
            mki = _parse_mki(param)
        elif lifetime is None and mki is None:
            lifetime = _parse_lifetime(param)
        else:
            raise _unacceptable(f"bad key parameter {param!r}")
    key_salt = _decode_key(key_text)
    wanted = get_profile(SDES_SUITES[suite]).key_salt_length
    if len(key_salt) != wanted:
        raise _unacceptable(f"key||salt is {len(key_salt)} bytes, {suite} needs {wanted}")
    return SdesKey(suite, key_salt, lifetime, mki)


def _decode_key(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error:
        raise _unacceptable(f"key is not base64: {text!r}") from None


def _parse_lifetime(text: str) -> str:
    match = _LIFETIME.match(text)
    if match is None:
        raise _unacceptable(f"bad key lifetime {text!r}")
    packets = 2 ** int(match[1]) if match[1] is not None else int(match[2])
    if packets < MIN_LIFETIME:
        raise _unacceptable(f"key lifetime {text} is too short: re-keying is not supported")
    if packets > MAX_LIFETIME:
        raise _unacceptable(f"key lifetime {text} exceeds the suite maximum 2^48")
    return text


def _parse_mki(text: str) -> tuple[int, int]:
    match = _MKI.match(text)
    if match is None:
        raise _unacceptable(f"bad MKI {text!r}")
    value, length = int(match[1]), int(match[2])
    if not 1 <= length <= 4:
        raise _unacceptable(f"MKI length {length} is not supported (1 to 4 bytes)")
    if value >= 1 << (8 * length):
        raise _unacceptable(f"MKI {value} does not fit in {length} bytes")
    return value, length


def _unacceptable(reason: str) -> RemoteProtocolError:
    return RemoteProtocolError(reason, response_hint=488)
