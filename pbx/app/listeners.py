"""Every socket pbx listens on: SIP over UDP/TCP/TLS (sip.conf), HTTP/HTTPS with the WebSocket
front end (http.conf) and the control socket, bound before the daemon says it is fully booted.

A listener that cannot be bound is reported with what it is and why, all of them at once, and
start-up stops (:class:`StartupError`); nothing half-bound is left behind. TLS listeners get the
configured certificate or pbx's local CA (:mod:`pbx.adapters.local_ca`) and ``tlscipher``.
"""

from __future__ import annotations

import logging
import os
import resource
import socket
from collections.abc import Callable
from typing import Any

from twisted.internet.interfaces import IListeningPort

from pbx.adapters.control import ControlFactory
from pbx.adapters.http import HttpFrontEnd
from pbx.adapters.local_ca import ca_certificate_path, server_tls_options
from pbx.adapters.sip_stream import SipStreamFactory
from pbx.adapters.sip_transport import SipTransportHub
from pbx.adapters.sip_udp import listen_udp
from pbx.app.remote import control_socket_path
from pbx.config.settings import Settings
from pbx.core.addr import Address, TransportKind

log = logging.getLogger(__name__)

#: Listen queue of TCP/TLS/HTTP listeners: a crowd of browsers reconnecting after a restart
#: must not overflow Twisted's default of 50.
BACKLOG = 1024


class StartupError(Exception):
    """A listener could not be bound or a directory could not be created."""


def raise_file_limit() -> int:
    """Lift the soft open-files limit to the hard one (Asterisk's ``maxfiles``): every
    WebSocket, TCP connection and RTP port is a descriptor."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError) as e:
            log.warning("Could not raise the open-files limit from %d: %s", soft, e)
    return soft


class Listeners:
    """The listening sockets of one daemon.

    :param bound: told a description of each listener once it is bound (``core show
        settings``' "Listeners").
    """

    def __init__(
        self,
        reactor: Any,
        settings: Settings,
        hub: SipTransportHub,
        control: ControlFactory,
        bound: Callable[[str], None],
    ) -> None:
        self.reactor = reactor
        self.settings = settings
        self.hub = hub
        self.control = control
        self.bound = bound
        self.ports: list[IListeningPort] = []
        self.http: HttpFrontEnd | None = None
        #: Files this daemon created (control socket, pid file), removed when it stops.
        self.owned_files: list[str] = []

    def bind_all(self) -> None:
        """Bind every configured listener; raise :class:`StartupError` naming each failure."""
        log.info("Open files limit: %d", raise_file_limit())
        errors: list[str] = []
        general = self.settings.sip.general

        def attempt(what: str, fn: Any) -> None:
            try:
                fn()
                self.bound(what)
            except Exception as e:  # a bind error is reported, never a traceback
                errors.append(f"Unable to bind {what}: {e}")

        attempt(f"SIP UDP {general.udpbindaddr}", lambda: self._udp(general.udpbindaddr))
        if general.tcpenable:
            attempt(
                f"SIP TCP {general.tcpbindaddr}",
                lambda: self._stream(general.tcpbindaddr, TransportKind.TCP),
            )
        if general.tlsenable:
            attempt(
                f"SIP TLS {general.tlsbindaddr}",
                lambda: self._stream(general.tlsbindaddr, TransportKind.TLS),
            )
        http_settings = self.settings.http
        if http_settings.enabled:
            self.http = self._http_front_end()
            if http_settings.bindaddr is not None:
                bind = http_settings.bindaddr
                attempt(f"HTTP {bind}", lambda: self._http(bind, TransportKind.WS))
            if http_settings.tlsenable and http_settings.tlsbindaddr is not None:
                tls_bind = http_settings.tlsbindaddr
                attempt(f"HTTPS {tls_bind}", lambda: self._http(tls_bind, TransportKind.WSS))
        attempt("control socket", self._control)
        if errors:
            for e in errors:
                log.error("%s", e)
            raise StartupError("\n".join(errors))

    def close(self) -> list[Any]:
        """Stop listening (the Deferreds of the ports that close asynchronously)."""
        closing = []
        for port in self.ports:
            try:
                closing.append(port.stopListening())
            except Exception:
                log.exception("error closing a listener")
        self.ports.clear()
        return closing

    def remove_owned_files(self) -> None:
        for path in self.owned_files:  # only ours: a refused second daemon must not
            try:  # delete the running one's socket
                os.unlink(path)
            except OSError:
                pass

    def _udp(self, bind: Address) -> None:
        protocol = listen_udp(self.reactor, self.hub, bind)
        if protocol.transport is not None:
            self.ports.append(protocol.transport)  # type: ignore[arg-type]

    def _stream(self, bind: Address, kind: TransportKind) -> None:
        factory = SipStreamFactory(self.hub, kind)
        if kind is TransportKind.TLS:
            general = self.settings.sip.general
            options = server_tls_options(
                general.tlscertfile,
                general.tlsprivatekey,
                self.settings.pbx.dbdir,
                extra_hosts=[bind.host],
                ciphers=general.tlscipher,
            )
            port = self.reactor.listenSSL(
                bind.port, factory, options, backlog=BACKLOG, interface=bind.host
            )
        else:
            port = self.reactor.listenTCP(bind.port, factory, backlog=BACKLOG, interface=bind.host)
        self.ports.append(port)
        # Connections pbx opens advertise this listener in Via and Contact (RFC 3261 §18.1.1).
        self.hub.add_listener(kind, Address(bind.host, port.getHost().port))

    def _http_front_end(self) -> HttpFrontEnd:
        http_settings = self.settings.http
        ca_path = None
        if http_settings.tlsenable and not os.path.exists(http_settings.tlscertfile or ""):
            ca_path = ca_certificate_path(self.settings.pbx.dbdir)
        return HttpFrontEnd(http_settings, self.hub, self.reactor, ca_path=ca_path)

    def _http(self, bind: Address, kind: TransportKind) -> None:
        front = self.http
        assert front is not None
        site = front.site(kind)
        if kind is TransportKind.WSS:
            http_settings = self.settings.http
            options = server_tls_options(
                http_settings.tlscertfile,
                http_settings.tlsprivatekey,
                self.settings.pbx.dbdir,
                extra_hosts=[bind.host],
                ciphers=http_settings.tlscipher,
            )
            port = self.reactor.listenSSL(
                bind.port, site, options, backlog=BACKLOG, interface=bind.host
            )
            label = "HTTPS Server Enabled and Bound to"
        else:
            port = self.reactor.listenTCP(bind.port, site, backlog=BACKLOG, interface=bind.host)
            label = "Server Enabled and Bound to"
        actual = getattr(port.getHost(), "port", bind.port)
        front.bound.append(f"{label} {Address(bind.host, actual)}")
        self.ports.append(port)

    def _control(self) -> None:
        path = control_socket_path(self.settings.pbx.rundir)
        if os.path.exists(path):
            if _socket_alive(path):
                raise StartupError(f"another pbx is running on {path}")
            os.unlink(path)
        port = self.reactor.listenUNIX(path, self.control, mode=0o660)
        self.ports.append(port)
        pid_path = os.path.join(self.settings.pbx.rundir, "pbx.pid")
        with open(pid_path, "w") as f:
            f.write(f"{os.getpid()}\n")
        self.owned_files = [path, pid_path]


def _socket_alive(path: str) -> bool:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
    except OSError:
        return False
    finally:
        s.close()
    return True
