"""The media contract of the call layer: what a channel asks of its media leg.

:class:`MediaLeg` is one call leg's media endpoint (its own RTP/RTCP ports from
``rtpstart``–``rtpend``); :class:`MediaFactory` makes them; :mod:`pbx.call.bridge` joins two.
``pbx.adapters.media_factory`` implements both on real UDP ports. This module is also where a
negotiation meets the media core (STYLE §2.4): :func:`stream_config` turns the SDP side's
:class:`~pbx.sdp.policy.NegotiatedMedia` into a :class:`~pbx.media.stream_config.StreamConfig`
(SDES keys parsed per RFC 4568 §6.1, ``c=0.0.0.0`` / port 0 as "no address" per RFC 3264 §8.4,
the DTLS role per RFC 5763 §5, our ICE credentials of the exchange so that an ICE restart
reaches the stream, RFC 8445 §9).
"""

from __future__ import annotations

from array import array
from collections.abc import Callable
from typing import Protocol

from twisted.internet.defer import Deferred

from pbx.core.errors import MediaError, RemoteProtocolError
from pbx.media.srtp import SDES_SUITES, parse_sdes_key
from pbx.media.stream_config import DtlsSecurity, LegStats, SdesSecurity, StreamConfig
from pbx.sdp.policy import LocalMedia, MediaPolicy, NegotiatedMedia

__all__ = ["LegStats", "MediaFactory", "MediaLeg", "stream_config"]

_UNSPECIFIED = frozenset({"", "0.0.0.0", "::"})


class MediaLeg(Protocol):
    """One call leg's media endpoint.

    Callbacks (set by the call layer, ``None`` to detach): ``sink`` gets every received,
    authenticated, decrypted RTP packet as a ``bytearray`` it may modify in place and must not
    keep (telephone-event packets included); ``on_dtmf`` one RFC 4733 digit per press;
    ``on_dead`` the reason when ``rtptimeout``/``rtpholdtimeout`` expire, ICE consent is lost
    or DTLS fails (the call layer hangs up).

    ``comedia``: latch the remote RTP address to the source of the first valid packet
    (``nat=comedia``, or ``auto_comedia`` with NAT detected); ICE legs follow ICE instead.
    """

    name: str
    comedia: bool
    sink: Callable[[bytearray], None] | None
    on_dtmf: Callable[[str], None] | None
    on_dead: Callable[[str], None] | None

    @property
    def codec(self) -> str:
        """The negotiated Asterisk codec name we send ("" before :meth:`configure`)."""
        ...

    @property
    def payload_type(self) -> int:
        """The payload type of :attr:`codec` (-1 before :meth:`configure`)."""
        ...

    @property
    def codecs(self) -> tuple[tuple[str, int], ...]:
        """Every joint codec as (name, payload type): what the peer may send us."""
        ...

    @property
    def dtmf_payload_type(self) -> int | None:
        """The telephone-event payload type, ``None`` without RFC 4733."""
        ...

    def local_media(self) -> LocalMedia:
        """Our address, ports, ICE credentials, DTLS fingerprints and SDES keys; stable for
        the leg's life (an ICE restart's new credentials reach :meth:`configure` through
        ``NegotiatedMedia.local_ice_ufrag``/``local_ice_pwd`` instead)."""
        ...

    def configure(self, negotiated: NegotiatedMedia) -> None:
        """(Re)start with what offer/answer agreed; called again on each re-INVITE (the DTLS
        association and SRTP contexts are kept when keys and role did not change).

        :raises MediaError: the negotiation cannot be honoured (bad keys, no certificate).
        """
        ...

    def send_rtp(self, packet: bytearray) -> None:
        """Send a packet from elsewhere (the other leg's sink): rewritten into this leg's one
        continuous stream, protected, sent to the (latched) remote. No-op until configured,
        on hold, or while a prompt or digit of our own is being sent."""
        ...

    def send_dtmf(self, digit: str, duration_ms: int = 100) -> None:
        """Send one RFC 4733 digit on this leg's telephone-event payload type.

        :raises MediaError: no telephone-event was negotiated.
        :raises ValueError: not a DTMF digit.
        """
        ...

    def play(self, audio: array[int] | bytes, rate: int = 8000) -> Deferred[None]:
        """Play 16-bit mono PCM (native byte order) as 20 ms frames in the leg's codec.

        Fires when the last frame is sent (or the leg closes); ``cancel()`` stops it at once.
        Fails with :class:`MediaError` for codecs other than ulaw/alaw ("cannot play to an opus
        leg") and before negotiation. A new ``play`` stops the one in progress.
        """
        ...

    def echo(self, on: bool) -> None:
        """Loop received media (and RFC 4733 packets) straight back (``Echo()``)."""
        ...

    def stats(self) -> LegStats:
        """Packets, octets, loss, jitter, RTT, ICE/DTLS state, SRTP profile, remote address."""
        ...

    def close(self) -> None:
        """Release the ports, stop timers, send DTLS ``close_notify``; idempotent."""
        ...


class MediaFactory(Protocol):
    def create_leg(
        self,
        name: str,
        policy: MediaPolicy,
        family: str = "IPv4",
        *,
        timeouts: tuple[int, int] = (0, 0),
        peer_host: str | None = None,
    ) -> MediaLeg:
        """Allocate a leg and its port pair.

        :param name: the channel name (log lines).
        :param family: ``IPv4`` or ``IPv6`` (the SDP ``c=`` address type).
        :param timeouts: the peer's (``rtptimeout``, ``rtpholdtimeout``) in seconds, 0 = off.
        :param peer_host: the peer's signalling address: decides whether SDP announces
            ``externaddr`` (a peer outside ``localnet``, :mod:`pbx.core.nat`).
        :raises MediaError: the port range is exhausted, or no address of ``family``.
        """
        ...


def stream_config(negotiated: NegotiatedMedia, local: LocalMedia) -> StreamConfig:
    """The media view of a negotiation.

    :raises MediaError: SDES without a usable key on either side, or DTLS without a role or
        fingerprint (the SDP layer should have refused such a negotiation already).
    """
    n = negotiated
    remote_rtp = None
    remote_rtcp = None
    if n.remote_address not in _UNSPECIFIED:
        if n.remote_rtp_port:
            remote_rtp = (n.remote_address, n.remote_rtp_port)
        if n.remote_rtcp_port:
            remote_rtcp = (n.remote_address, n.remote_rtcp_port)
    return StreamConfig(
        remote_rtp=remote_rtp,
        remote_rtcp=remote_rtp if n.rtcp_mux else remote_rtcp,
        rtcp_mux=n.rtcp_mux,
        codec=n.codec,
        payload_type=n.payload_type,
        clock_rate=n.clock_rate,
        codecs=n.codecs or ((n.codec, n.payload_type),),
        dtmf_pt=n.dtmf_pt,
        dtmf_clock_rate=n.dtmf_clock_rate or 8000,
        frame_ms=n.ptime or 20,
        send=n.send,
        recv=n.recv,
        security=_security(n, local),
        ice=n.ice,
        ice_remote_ufrag=n.remote_ice_ufrag if n.ice else None,
        ice_local_credentials=_ice_credentials(n),
        avpf=n.avpf,
    )


def _ice_credentials(n: NegotiatedMedia) -> tuple[str, str] | None:
    """Our (ufrag, pwd) in the exchange, when it says (an answer made by pbx always does)."""
    if n.ice and n.local_ice_ufrag is not None and n.local_ice_pwd is not None:
        return n.local_ice_ufrag, n.local_ice_pwd
    return None


def _security(n: NegotiatedMedia, local: LocalMedia) -> SdesSecurity | DtlsSecurity | None:
    if n.security == "sdes":
        if n.remote_crypto is None or n.local_crypto_suite is None:
            raise MediaError("SDES negotiated without a crypto attribute")
        suite = n.local_crypto_suite
        if suite not in SDES_SUITES or suite not in local.sdes_keys:
            raise MediaError(f"no local SDES key for {suite}")
        try:
            remote = parse_sdes_key(n.remote_crypto.suite, n.remote_crypto.key_params)
        except RemoteProtocolError as exc:
            raise MediaError(exc.message) from None
        return SdesSecurity(
            SDES_SUITES[suite], local.sdes_keys[suite], remote.key_salt, remote.mki_bytes
        )
    if n.security == "dtls":
        if n.remote_fingerprint is None:
            raise MediaError("DTLS negotiated without a remote fingerprint")
        if n.dtls_role == "client":
            return DtlsSecurity("client", n.remote_fingerprint)
        if n.dtls_role == "server":
            return DtlsSecurity("server", n.remote_fingerprint)
        raise MediaError(f"DTLS negotiated with role {n.dtls_role!r}")
    return None
