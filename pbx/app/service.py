"""The composition root: settings -> cores -> adapters, and the daemon's life cycle.

:class:`Pbx` wires one process: the location service restored from SQLite, the registrar, the
transaction layer and its SIP endpoint, the listeners of sip.conf, the control socket and the
console commands. The reactor is passed in (only :mod:`pbx.app.cli` imports the global one).
``start()`` binds every listener and then marks the daemon *fully booted*; any failure to bind
is reported and stops start-up, as Asterisk refuses to run without its ports.
"""

from __future__ import annotations

import gc
import logging
import os
import random
import secrets
from dataclasses import dataclass, field
from typing import Any

from twisted.internet import defer

from pbx import __version__
from pbx.adapters.control import ConsoleLogHandler, ControlFactory
from pbx.adapters.dns import HostRefresher
from pbx.adapters.http import HttpFrontEnd
from pbx.adapters.media_factory import UdpMediaFactory
from pbx.adapters.sip_stream import StreamConnector
from pbx.adapters.sip_transport import SipTransportHub
from pbx.adapters.sqlite_store import Store
from pbx.adapters.timer_driver import TimerDriver
from pbx.app import logging as pbx_logging
from pbx.app.calls import CallService
from pbx.app.console import CommandRegistry
from pbx.app.listeners import Listeners, StartupError
from pbx.app.media_addresses import media_addresses, media_advertise, sound_dirs
from pbx.call.bridge import bridge
from pbx.call.credentials import realm_logins
from pbx.call.media_plan import media_policy
from pbx.call.peers import PeerRegistry
from pbx.call.qualify import Qualifier
from pbx.call.registrations import Registrations
from pbx.call.sip_endpoint import EndpointSettings, SipEndpoint
from pbx.config.logger_conf import LoggerSettings
from pbx.config.settings import Settings
from pbx.config.sip_conf import SipConfig, SipSettings
from pbx.core.addr import is_ip_literal
from pbx.core.clock import Cancellable
from pbx.core.errors import MediaError
from pbx.core.nat import NatMap
from pbx.core.tokens import SecretTokens
from pbx.dialplan.model import Dialplan
from pbx.media.sounds import SoundLibrary
from pbx.sip.auth import DigestAuthenticator
from pbx.sip.flow import Flow
from pbx.sip.location import Location
from pbx.sip.registrar import Registrar, RegistrarSettings
from pbx.sip.transaction.layer import TransactionLayer

log = logging.getLogger(__name__)

STORE_FLUSH_INTERVAL = 1.0
#: Allocations between young garbage collections (see :meth:`Pbx.start`).
GC_YOUNG_THRESHOLD = 7000
#: How long a stopping daemon waits for the answers to its ``Expires: 0`` REGISTERs.
UNREGISTER_WAIT = 1.0


@dataclass
class Stats:
    started_at: float = 0.0
    booted_at: float | None = None
    last_reload: float = 0.0
    listeners: list[str] = field(default_factory=list)


class Pbx:
    def __init__(
        self,
        settings: Settings,
        reactor: Any,
        dialplan: Dialplan,
        foreground: bool = True,
        verbose: int = 0,
    ) -> None:
        self.settings = settings
        self.reactor = reactor
        self.foreground = foreground
        self.verbose = verbose
        self.stats = Stats(started_at=reactor.seconds())
        self.tokens = SecretTokens()
        self.fully_booted: defer.Deferred[None] = defer.Deferred()
        self._booted = False
        self._drivers: list[TimerDriver] = []
        self.stopping = False

        pbx_dirs = settings.pbx
        for d in (pbx_dirs.rundir, pbx_dirs.dbdir, pbx_dirs.logdir):
            os.makedirs(d, exist_ok=True)
        self.store = Store(os.path.join(pbx_dirs.dbdir, "pbx.sqlite3"))
        self.location = Location()
        self.peers = PeerRegistry(settings.sip, self.location)
        general = settings.sip.general
        self.authenticator = DigestAuthenticator(general.realm, secrets.token_bytes(32))
        self.registrar = Registrar(
            self.location,
            self.authenticator,
            self.peers.get,
            RegistrarSettings(
                minexpiry=general.minexpiry,
                maxexpiry=general.maxexpiry,
                defaultexpiry=general.defaultexpiry,
                alwaysauthreject=general.alwaysauthreject,
                server=general.useragent,
            ),
            new_tag=lambda: self.tokens.hex(4),
        )
        self.qualifier = Qualifier(random.random)
        self.endpoint = SipEndpoint(
            self.peers,
            self.registrar,
            self.qualifier,
            self.tokens,
            self.store,
            EndpointSettings(useragent=general.useragent, realm=general.realm),
            now=reactor.seconds,
        )
        self.layer = TransactionLayer(self.endpoint)
        self.endpoint.layer = self.layer
        self.hub = SipTransportHub(
            reactor, general.maxmessagesize, general.useragent, self._connection_lost
        )
        self.connector = self._stream_connector(general)
        self.hub.connector = self.connector
        nat = NatMap(general.externaddr, general.localnet)
        self.hub.nat = nat
        self.hub.debug.nat_label = "NAT" if general.guest.nat.force_rport else "no NAT"
        self.hub.hosts = self.peers.hosts  # one table of resolved names for both
        bind = general.udpbindaddr.host
        self.host_refresher = HostRefresher(
            reactor, self.peers.hosts, self._host_names, prefer_ipv6=":" in bind and bind != "::"
        )
        self.hub.layer = self.layer
        self.endpoint.transports = self.hub
        self.registrations = Registrations(self.tokens, reactor.seconds)
        self.registrations.layer = self.layer
        self.registrations.transports = self.hub
        self.layer_driver = TimerDriver(reactor, self.layer, self._flush_layer)
        self.hub.after_input = self._after_input
        self.location_driver = TimerDriver(reactor, self.location, self._expired)
        self.qualify_driver = TimerDriver(reactor, self.qualifier, self._ping)
        self.registration_driver = TimerDriver(reactor, self.registrations, self.layer_driver.pump)
        self._drivers = [
            self.layer_driver,
            self.location_driver,
            self.qualify_driver,
            self.registration_driver,
        ]
        self.commands = CommandRegistry()
        self.control = ControlFactory(self.commands.dispatch, __version__)
        self.control.on_listeners = pbx_logging.set_streaming
        self.listeners = Listeners(
            reactor, settings, self.hub, self.control, self.stats.listeners.append
        )
        self._flush_call: Cancellable | None = None
        self.media = UdpMediaFactory(
            reactor,
            reactor,
            settings.rtp,
            media_addresses(general.udpbindaddr),
            self.tokens,
            advertise=media_advertise(general.udpbindaddr, general.media_address, nat),
            nat=media_nat(general),
        )
        self.sounds = SoundLibrary(sound_dirs(settings))
        self.calls = CallService(self, dialplan, self.media, bridge, self.sounds)

    # -- life cycle ----------------------------------------------------------------------------
    def configure_logging(self) -> None:
        logger = self.settings.logger
        pbx_logging.configure(
            logger.logfiles,
            self.settings.pbx.logdir,
            self.foreground,
            self.verbose,
            extra=[ConsoleLogHandler(self.control)],
            dateformat=logger.dateformat,
        )

    def start(self) -> None:
        """Bind everything; raise :class:`StartupError` with every failure."""
        for warning in self.settings.warnings:
            log.warning("%s", warning)
        now = self.reactor.seconds()
        restored = self.store.load_bindings(now)
        for binding in restored:
            peer = self.peers.get(binding.aor)
            if peer is not None and peer.dynamic:
                self.location.save(binding, peer.max_contacts)
        if restored:
            log.info("Restored %d registrations from %s", len(restored), self.store.path)
        certificate_errors = self._load_dtls_certificates(self.settings.sip)
        certificate_errors += self._load_tls_trust(self.connector)
        if certificate_errors:
            for error in certificate_errors:
                log.error("%s", error)
            raise StartupError("\n".join(certificate_errors))
        self.host_refresher.resolve_now()
        self.listeners.bind_all()
        self._watch_qualify(now)
        general = self.settings.sip.general
        realms = self.calls.sip.ctx.realm_logins
        realms.update(realm_logins(self.settings.sip.authentication))
        self.registrations.configure(
            general.registrations, self.settings.sip.peers, general, self.reactor.seconds(), realms
        )
        for driver in self._drivers:
            driver.pump()
        self.stats.booted_at = self.reactor.seconds()
        self._booted = True
        self.host_refresher.start()
        # What start-up built (modules, settings, dialplan, listeners: ~200k objects) lives as
        # long as the process. Frozen, it is out of the cyclic collector's reach, so a full
        # collection walks only what calls created since: measured under 50 calls/s, gen-2
        # pauses went from 250 ms to a few ms. Acyclic garbage is still freed at once; only a
        # cycle made of frozen objects (a replaced config, say) would stay.
        gc.collect()
        gc.freeze()
        # A young collection every 700 allocations (the default) runs several times per call
        # and promotes whatever the calls in flight hold. Every 7,000: at 350 calls/s the
        # collector's time fell from 420 to 180 ms per 10 s and no full collection ran in
        # that time (longest pause 12 ms); young objects wait at most ~1 MB longer.
        gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
        log.log(pbx_logging.NOTICE, "pbx %s ready (fully booted)", __version__)
        self.fully_booted.callback(None)

    def _load_dtls_certificates(self, config: SipConfig) -> list[str]:
        """Load every peer's ``dtlscertfile`` now, so a bad one is reported at start-up or
        reload, not on the first call; one message per peer that names it."""
        errors = []
        for peer in config.peers.values():
            policy = media_policy(peer)
            if not policy.dtls or policy.dtls_identity is None:
                continue
            try:
                self.media.certificate_for(policy.dtls_identity)
            except MediaError as exc:
                errors.append(f"Peer '{peer.name}': {exc}")
        return errors

    def _host_names(self) -> set[str]:
        """The host names (not addresses) static peers and ``register =>`` lines use."""
        config = self.peers.config
        hosts = {p.host for p in config.peers.values() if p.host and not p.dynamic}
        hosts.update(line.host for line in config.general.registrations)
        return {h for h in hosts if not is_ip_literal(h)}

    def _stream_connector(self, general: SipSettings) -> StreamConnector:
        return StreamConnector(
            self.reactor,
            self.hub,
            cafile=general.tlscafile,
            verify=not general.tlsdontverifyserver,
            ciphers=general.tlscipher,
        )

    def _load_tls_trust(self, connector: StreamConnector) -> list[str]:
        """Read ``tlscafile`` for outbound TLS before the first connection needs it."""
        if not (connector.verify and self.settings.sip.general.tlsenable):
            return []
        try:
            connector.load_trust()
        except (OSError, ValueError) as exc:
            return [f"sip.conf tlscafile {connector.cafile}: {exc}"]
        return []

    def _watch_qualify(self, now: float) -> None:
        general = self.settings.sip.general
        for peer in self.peers:
            if peer.is_peer and peer.qualify:
                freq = peer.qualifyfreq or general.qualifyfreq
                self.qualifier.watch(peer.name, peer.qualify, freq, now)
            else:
                self.qualifier.unwatch(peer.name)

    @defer.inlineCallbacks
    def stop(self) -> Any:
        """Close listeners, persist state; the caller stops the reactor afterwards."""
        self.stopping = True
        if self.registrations.stop(self.reactor.seconds()):
            # chan_sip unregisters from its providers when it unloads: best effort, briefly.
            self.layer_driver.pump()
            yield self._wait_unregistered()
        for driver in self._drivers:
            driver.stop()
        if self._flush_call is not None and self._flush_call.active():
            self._flush_call.cancel()
        for closing in self.listeners.close():
            try:
                yield closing
            except Exception:
                log.exception("error closing a listener")
        self.hub.close_outbound()
        self.host_refresher.stop()
        self.store.close()
        self.calls.close()
        self.listeners.remove_owned_files()
        log.log(pbx_logging.NOTICE, "pbx stopped")

    def _wait_unregistered(self) -> defer.Deferred[None]:
        """Fires when every ``Expires: 0`` REGISTER was answered, or after UNREGISTER_WAIT."""
        done: defer.Deferred[None] = defer.Deferred()
        deadline = self.reactor.seconds() + UNREGISTER_WAIT

        def check() -> None:
            if not self.registrations.leaving or self.reactor.seconds() >= deadline:
                done.callback(None)
            else:
                self.reactor.callLater(0.05, check)

        check()
        return done

    def request_shutdown(self, graceful: bool) -> None:
        """``core stop now`` hangs up every call and stops; ``core stop gracefully`` refuses new
        calls (503) and stops once the last active call has ended."""
        if self.stopping:
            return
        if graceful and self.calls.channels:
            if not self.calls.sip.refusing:
                self.calls.sip.refusing = True
                log.log(
                    pbx_logging.NOTICE,
                    "Graceful shutdown: waiting for %d channel(s)",
                    len(self.calls.channels),
                )
            self.reactor.callLater(0.5, self.request_shutdown, True)
            return
        if self.calls.hangup_all():
            # Let the hung-up calls run their h extensions and queue their CDRs first.
            self.reactor.callLater(0.2, self._stop_and_exit)
        else:
            self._stop_and_exit()

    def _stop_and_exit(self) -> None:
        if self.stopping:
            return
        d = self.stop()
        d.addBoth(lambda _: self.reactor.stop())

    def reload_sip(self, config: SipConfig) -> None:
        """Swap in a validated sip.conf (calls in progress keep their PeerConfig)."""
        dropped = self.peers.replace(config)
        self.host_refresher.resolve_now()
        for binding in dropped:
            self.store.delete_binding(binding)
        self.registrar.settings = RegistrarSettings(
            minexpiry=config.general.minexpiry,
            maxexpiry=config.general.maxexpiry,
            defaultexpiry=config.general.defaultexpiry,
            alwaysauthreject=config.general.alwaysauthreject,
            server=config.general.useragent,
        )
        self.authenticator.realm = config.general.realm
        connector = self._stream_connector(config.general)
        for error in self._load_tls_trust(connector):
            log.error("%s (outbound TLS connections will fail)", error)
        self.connector = self.hub.connector = connector
        nat = NatMap(config.general.externaddr, config.general.localnet)
        self.hub.nat = nat
        self.hub.debug.nat_label = "NAT" if config.general.guest.nat.force_rport else "no NAT"
        bind = self.settings.sip.general.udpbindaddr  # listeners are not rebound on reload
        self.media.readdress(
            media_advertise(bind, config.general.media_address, nat), media_nat(config.general)
        )
        self.media.forget_certificates()
        for error in self._load_dtls_certificates(config):
            log.error("%s (its DTLS calls will fail)", error)
        self._watch_qualify(self.reactor.seconds())
        realms = self.calls.sip.ctx.realm_logins
        realms.clear()
        realms.update(realm_logins(config.authentication))
        self.registrations.configure(
            config.general.registrations,
            config.peers,
            config.general,
            self.reactor.seconds(),
            realms,
        )
        self.stats.last_reload = self.reactor.seconds()
        self.qualify_driver.rearm()
        self.registration_driver.pump()
        log.log(pbx_logging.NOTICE, "Reloaded sip.conf: %d peers", len(config.peers))

    def reload_logger(self, logger: LoggerSettings) -> None:
        pbx_logging.configure(
            logger.logfiles,
            self.settings.pbx.logdir,
            self.foreground,
            self.verbose,
            extra=[ConsoleLogHandler(self.control)],
            dateformat=logger.dateformat,
        )

    # -- callbacks from adapters ---------------------------------------------------------------
    def _connection_lost(self, flow: Flow) -> None:
        gone = self.location.flow_closed(flow)
        for binding in gone:
            self.store.delete_binding(binding)
            log.info(
                "Unregistered SIP '%s': its %s connection closed",
                binding.aor,
                flow.kind.value.upper(),
            )
        self.location_driver.rearm()
        self._schedule_flush()

    def _expired(self) -> None:
        self.endpoint.expire(self.location.expired(), self.reactor.seconds())
        self._schedule_flush()

    def _ping(self) -> None:
        self.endpoint.send_pings(self.reactor.seconds())
        self.layer_driver.pump()

    def _flush_layer(self) -> None:
        """Send what the layer produced; its timers may have moved a registration's."""
        self.hub.flush()
        self.registration_driver.rearm()

    def kick(self) -> None:
        """Flush what the layer wants sent and re-arm timers (after call-layer actions)."""
        self._after_input()

    def _schedule_flush(self) -> None:
        """Persist registration changes within STORE_FLUSH_INTERVAL, in one transaction; an
        idle daemon has no timer at all (a periodic flush would wake it every second)."""
        if self.store.dirty and self._flush_call is None:
            self._flush_call = self.reactor.callLater(STORE_FLUSH_INTERVAL, self._flush_store)

    def _flush_store(self) -> None:
        self._flush_call = None
        self.store.flush()
        self._schedule_flush()  # a failed write keeps its rows pending

    def _after_input(self) -> None:
        """After any message: send what the layer produced, re-arm timers that may have moved
        (a REGISTER changes the expiry heap and the qualify schedule)."""
        self.layer_driver.pump()
        self.location_driver.rearm()
        self.qualify_driver.rearm()
        self.registration_driver.rearm()
        self._schedule_flush()

    @property
    def http(self) -> HttpFrontEnd | None:
        """The http.conf front end, once bound (``http show status``)."""
        return self.listeners.http

    @property
    def booted(self) -> bool:
        return self._booted

    def uptime(self) -> float:
        return float(self.reactor.seconds()) - self.stats.started_at


def media_nat(general: SipSettings) -> NatMap:
    """What decides a leg's SDP address per peer: nothing when ``media_address`` is set (it
    wins for every peer, as in chan_sip), else ``externaddr``/``localnet``."""
    if general.media_address is not None:
        return NatMap()
    return NatMap(general.externaddr, general.localnet)


def format_duration(seconds: float) -> str:
    """Asterisk's ``core show uptime`` phrasing (``print_uptimestr``): ``1 hour, 2 minutes``.

    As Asterisk does it: a unit is used only while what is left is strictly more than it (so
    exactly 3600 s reads ``60 minutes``), and seconds are shown when not 0 or when nothing
    else was."""
    seconds = int(seconds)
    parts = []
    for unit, size in (
        ("year", 31536000),
        ("week", 604800),
        ("day", 86400),
        ("hour", 3600),
        ("minute", 60),
    ):
        if seconds > size:
            n, seconds = divmod(seconds, size)
            parts.append(f"{n} {unit}{'s' if n != 1 else ''}")
    if seconds or not parts:
        parts.append(f"{seconds} second{'s' if seconds != 1 else ''}")
    return ", ".join(parts)
