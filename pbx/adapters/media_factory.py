"""Media legs on real UDP ports: the :class:`~pbx.call.media.MediaFactory` of a running pbx.

:class:`UdpMediaFactory` allocates each leg's port pair from the :class:`PortPool`, binds its
sockets (:class:`~pbx.adapters.rtp_port.MediaSocket`, read through the injected
``IReactorFDSet``), makes its ICE credentials and SDES keys, and builds a :class:`UdpMediaLeg`:
the sans-I/O :class:`~pbx.media.stream.MediaStream` plus its sockets, one :class:`TimerDriver`
and the Deferred of ``play``.

Sockets: one with ``rtcp_mux`` in the peer's policy (browsers; RFC 5761), an RTP + RTCP pair
otherwise (RTCP = RTP + 1, as Asterisk). If a mux offer is answered without mux, the RTCP socket
is bound on the reserved odd port at :meth:`UdpMediaLeg.configure`.

Addresses: ``addresses`` maps a family (``IPv4``/``IPv6``) to the IP the sockets bind to;
``advertise`` (``media_address``/``externaddr``) to what ``LocalMedia.address`` and the ICE
host candidates say, by default the bound address (TESTING.md: advertise what we listen on).
"""

from __future__ import annotations

import datetime
import logging
from array import array
from collections.abc import Callable, Mapping

from twisted.internet.defer import Deferred, fail
from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import IReactorFDSet

from pbx.adapters.port_pool import PortPool
from pbx.adapters.rtp_port import MediaSocket, RtpPort
from pbx.adapters.timer_driver import TimerDriver
from pbx.call.media import stream_config
from pbx.config.rtp_conf import RtpSettings
from pbx.core.addr import is_ip_literal, unbracket
from pbx.core.clock import Scheduler
from pbx.core.errors import ConfigError, MediaError
from pbx.core.nat import NatMap
from pbx.core.tokens import TokenSource
from pbx.media.certificate import (
    HASH_FUNCTIONS,
    CertifiedKey,
    fingerprint,
    generate_certificate,
    load_certificate,
)
from pbx.media.codecs.g711 import alaw_encode, ulaw_encode
from pbx.media.srtp import SDES_SUITES, make_sdes_key
from pbx.media.stream import MediaStream
from pbx.media.stream_config import LegStats
from pbx.media.tone import resample_to_8k
from pbx.sdp.negotiator import new_ice_credentials
from pbx.sdp.policy import DtlsIdentity, LocalMedia, MediaPolicy, NegotiatedMedia

log = logging.getLogger(__name__)

ENCODERS: dict[str, Callable[[bytes], bytes]] = {"ulaw": ulaw_encode, "alaw": alaw_encode}
#: The largest datagram a media socket reads (Chrome's DTLS flights stay under 1200 bytes).
MAX_DATAGRAM = 2048


def _nothing() -> None:
    return None


class LegSockets:
    """A leg's socket protocols, the ports they are bound to, and its place in the pool.

    :param bind_rtcp: binds ``rtcp_protocol`` to the reserved odd port.
    :param release: gives the pair back to the pool.
    """

    def __init__(
        self,
        rtp_protocol: RtpPort,
        rtcp_protocol: RtpPort,
        rtp: MediaSocket,
        rtcp: MediaSocket | None,
        bind_rtcp: Callable[[], MediaSocket],
        release: Callable[[], None],
    ) -> None:
        self.rtp_protocol = rtp_protocol
        self.rtcp_protocol = rtcp_protocol
        self.rtp = rtp
        self.rtcp = rtcp
        self.bind_rtcp = bind_rtcp
        self._release = release

    def close(self) -> None:
        self.rtp_protocol.detach()
        self.rtcp_protocol.detach()
        self.rtp.close()
        if self.rtcp is not None:
            self.rtcp.close()
            self.rtcp = None
        self._release()


class UdpMediaLeg:
    """One call leg's media on its own UDP port(s); see :class:`pbx.call.media.MediaLeg`."""

    def __init__(
        self,
        name: str,
        stream: MediaStream,
        local: LocalMedia,
        clock: Scheduler,
        sockets: LegSockets,
    ) -> None:
        self.name = name
        self._stream = stream
        self._local = local
        self._seconds = clock.seconds
        self._sockets = sockets
        self._closed = False
        self._driver = TimerDriver(clock, stream)
        sockets.rtp_protocol.attach(stream.receive, self._driver.pump)
        sockets.rtcp_protocol.attach(self._receive_rtcp, _nothing)
        if sockets.rtcp is not None:
            stream.transmit_rtcp = sockets.rtcp.sendto

    # -- the attributes the call layer sets ----------------------------------------------------

    @property
    def comedia(self) -> bool:
        return self._stream.comedia

    @comedia.setter
    def comedia(self, value: bool) -> None:
        self._stream.comedia = value

    @property
    def sink(self) -> Callable[[bytearray], None] | None:
        return self._stream.sink

    @sink.setter
    def sink(self, value: Callable[[bytearray], None] | None) -> None:
        self._stream.sink = value

    @property
    def on_dtmf(self) -> Callable[[str], None] | None:
        return self._stream.on_dtmf

    @on_dtmf.setter
    def on_dtmf(self, value: Callable[[str], None] | None) -> None:
        self._stream.on_dtmf = value

    @property
    def on_dead(self) -> Callable[[str], None] | None:
        return self._stream.on_dead

    @on_dead.setter
    def on_dead(self, value: Callable[[str], None] | None) -> None:
        self._stream.on_dead = value

    # -- negotiated format ---------------------------------------------------------------------

    @property
    def codec(self) -> str:
        config = self._stream.config
        return config.codec if config is not None else ""

    @property
    def payload_type(self) -> int:
        config = self._stream.config
        return config.payload_type if config is not None else -1

    @property
    def codecs(self) -> tuple[tuple[str, int], ...]:
        config = self._stream.config
        return config.codecs if config is not None else ()

    @property
    def dtmf_payload_type(self) -> int | None:
        config = self._stream.config
        return config.dtmf_pt if config is not None else None

    # -- operations ----------------------------------------------------------------------------

    def local_media(self) -> LocalMedia:
        return self._local

    def configure(self, negotiated: NegotiatedMedia) -> None:
        if self._closed:
            return
        config = stream_config(negotiated, self._local)
        sockets = self._sockets
        if not config.rtcp_mux and sockets.rtcp is None:
            # We offered rtcp-mux and the answer declined it: bind the reserved odd port.
            try:
                sockets.rtcp = sockets.bind_rtcp()
            except CannotListenError as exc:
                log.warning("%s: no RTCP port (%s); sending no RTCP", self.name, exc)
            else:
                self._stream.transmit_rtcp = sockets.rtcp.sendto
        self._stream.configure(config, self._seconds())
        self._driver.pump()

    def _receive_rtcp(self, data: bytes, addr: tuple[str, int], now: float) -> bool:
        self._stream.receive_rtcp(data, addr, now)
        return False

    def send_rtp(self, packet: bytearray) -> None:
        self._stream.send_rtp(packet, self._seconds())

    def send_dtmf(self, digit: str, duration_ms: int = 100) -> None:
        self._stream.send_dtmf(digit, duration_ms, self._seconds())
        self._driver.pump()

    def play(self, audio: array[int] | bytes, rate: int = 8000) -> Deferred[None]:
        encode = ENCODERS.get(self.codec)
        if encode is None:
            return fail(MediaError(f"cannot play to an {self.codec or 'unnegotiated'} leg"))
        samples = audio if isinstance(audio, array) else array("h", audio)
        try:
            if rate != 8000:
                samples = resample_to_8k(samples, rate)
        except MediaError as exc:
            return fail(exc)
        payload = encode(samples.tobytes())
        cancelled = False

        def cancel(_: Deferred[None]) -> None:
            nonlocal cancelled
            cancelled = True
            # Still ours: a newer play() would already have fired this Deferred.
            self._stream.stop_playing()
            self._driver.pump()

        def done() -> None:
            if not cancelled and not d.called:
                d.callback(None)

        d: Deferred[None] = Deferred(cancel)
        self._stream.play(payload, self._seconds(), done)
        self._driver.pump()
        return d

    def echo(self, on: bool) -> None:
        self._stream.echo = on

    def stats(self) -> LegStats:
        return self._stream.stats()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._stream.close()
        self._driver.stop()
        self._sockets.close()


class UdpMediaFactory:
    """Creates :class:`UdpMediaLeg` objects (see the module docstring).

    :param reactor: reads the sockets (``IReactorFDSet``).
    :param clock: runs the legs' timers and gives every datagram its ``now`` (the reactor).
    :param settings: rtp.conf: port range, ``strictrtp`` (``seqno`` is taken as ``yes``),
        ``rtcpinterval``.
    :param addresses: family -> IP to bind; a family that is absent cannot be used.
    :param tokens: SSRCs, ICE credentials, SDES keys, the first port.
    :param certificate: the DTLS certificate of peers without ``dtlscertfile``; generated on
        first use when ``None`` (``dtlsautogeneratecert``). Peers with ``dtlscertfile`` present
        theirs (:attr:`MediaPolicy.dtls_identity`), loaded once and kept until
        :meth:`forget_certificates`.
    :param advertise: family -> IP announced in SDP, when it differs from the bound one.
    :param nat: ``externaddr``/``localnet``: a leg toward a peer outside ``localnet`` announces
        ``externaddr`` instead (when it is an IP literal).
    """

    def __init__(
        self,
        reactor: IReactorFDSet,
        clock: Scheduler,
        settings: RtpSettings,
        addresses: Mapping[str, str],
        tokens: TokenSource,
        certificate: CertifiedKey | None = None,
        advertise: Mapping[str, str] | None = None,
        nat: NatMap | None = None,
    ) -> None:
        self._reactor = reactor
        self.nat = nat or NatMap()
        self._clock = clock
        self._settings = settings
        self._addresses = dict(addresses)
        self._advertise = dict(advertise or {})
        self._tokens = tokens
        #: identity -> (certificate, its a=fingerprint value under every hash we accept);
        #: ``None`` is the generated certificate.
        self._identities: dict[DtlsIdentity | None, tuple[CertifiedKey, dict[str, str]]] = {}
        if certificate is not None:
            self._identities[None] = (certificate, _fingerprints(certificate))
        self.pool = PortPool(settings.rtpstart, settings.rtpend, tokens)

    def readdress(self, advertise: Mapping[str, str], nat: NatMap) -> None:
        """sip.conf was reloaded: what SDP announces from now on (``media_address`` and the
        externaddr mapping change together; the bound addresses stay)."""
        self._advertise = dict(advertise)
        self.nat = nat

    @property
    def certificate(self) -> CertifiedKey:
        """The certificate of peers without ``dtlscertfile`` (generated now if none was given)."""
        return self._identity(None)[0]

    def fingerprints(self, identity: DtlsIdentity | None = None) -> dict[str, str]:
        """``identity``'s certificate as ``a=fingerprint`` values under every hash we accept."""
        return self._identity(identity)[1]

    def certificate_for(self, identity: DtlsIdentity | None) -> CertifiedKey:
        """The certificate a peer presents in DTLS.

        :raises MediaError: its files cannot be read, are not PEM, or the key does not match.
        """
        return self._identity(identity)[0]

    def forget_certificates(self) -> None:
        """Read ``dtlscertfile`` files again on next use (after a reload: renewed certificates).
        The generated certificate stays: browsers in calls have its fingerprint."""
        generated = self._identities.get(None)
        self._identities.clear()
        if generated is not None:
            self._identities[None] = generated

    def _identity(self, identity: DtlsIdentity | None) -> tuple[CertifiedKey, dict[str, str]]:
        entry = self._identities.get(identity)
        if entry is None:
            if identity is None:
                certified = generate_certificate(datetime.datetime.now(datetime.UTC), self._tokens)
            else:
                try:
                    certified = load_certificate(*identity)
                except ConfigError as exc:
                    raise MediaError(f"DTLS certificate: {exc}") from None
            entry = self._identities[identity] = (certified, _fingerprints(certified))
        return entry

    def create_leg(
        self,
        name: str,
        policy: MediaPolicy,
        family: str = "IPv4",
        *,
        timeouts: tuple[int, int] = (0, 0),
        peer_host: str | None = None,
    ) -> UdpMediaLeg:
        """See :meth:`pbx.call.media.MediaFactory.create_leg`."""
        interface = self._addresses.get(family)
        if interface is None:
            raise MediaError(f"no {family} media address configured")
        # Before any port is taken: a certificate that cannot be loaded must not leak a pair.
        certificate = self.certificate_for(policy.dtls_identity) if policy.dtls else None

        def listen(port: int, protocol: RtpPort) -> MediaSocket:
            return MediaSocket.bind(self._reactor, interface, port, protocol, MAX_DATAGRAM)

        def bind(port: int) -> LegSockets:
            rtp_protocol, rtcp_protocol = RtpPort(self._clock), RtpPort(self._clock)
            rtp = listen(port, rtp_protocol)
            rtcp = None
            if not policy.rtcp_mux:
                try:
                    rtcp = listen(port + 1, rtcp_protocol)
                except CannotListenError:
                    rtp.close()
                    raise
            return LegSockets(
                rtp_protocol,
                rtcp_protocol,
                rtp,
                rtcp,
                lambda: listen(port + 1, rtcp_protocol),
                lambda: self.pool.release(port),
            )

        port, sockets = self.pool.allocate(bind)
        ice = new_ice_credentials(self._tokens) if policy.ice else None
        stream = MediaStream(
            name,
            self._tokens,
            sockets.rtp.sendto,
            ice_credentials=ice,
            certificate=certificate,
            strict=self._settings.strictrtp != "no",
            rtcp_interval=self._settings.rtcpinterval / 1000,
        )
        stream.rtp_timeout, stream.rtp_hold_timeout = float(timeouts[0]), float(timeouts[1])
        local = self._local_media(policy, self._announced(family, peer_host), port, ice)
        return UdpMediaLeg(name, stream, local, self._clock, sockets)

    def _announced(self, family: str, peer_host: str | None) -> str:
        """The address SDP and ICE candidates give ``peer_host`` (see :mod:`pbx.core.nat`)."""
        external = self.nat.external_for(peer_host) if peer_host else None
        if external is not None and is_ip_literal(external.host):
            return unbracket(external.host)
        return self._advertise.get(family, self._addresses[family])

    def _local_media(
        self, policy: MediaPolicy, address: str, port: int, ice: tuple[str, str] | None
    ) -> LocalMedia:
        fingerprints = self.fingerprints(policy.dtls_identity) if policy.dtls else {}
        return LocalMedia(
            address=address,
            rtp_port=port,
            rtcp_port=port + 1,
            ice_ufrag=ice[0] if ice else None,
            ice_pwd=ice[1] if ice else None,
            fingerprint=fingerprints.get(policy.fingerprint_hash.lower()),
            fingerprints=fingerprints,
            sdes_keys={suite: make_sdes_key(self._tokens, suite).key_salt for suite in SDES_SUITES},
        )


def _fingerprints(certified: CertifiedKey) -> dict[str, str]:
    return {name: fingerprint(certified.certificate, name) for name in HASH_FUNCTIONS}
