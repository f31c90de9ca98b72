"""Configured devices plus their runtime reachability (chan_sip's peer objects).

A :class:`PeerRegistry` joins the static ``PeerConfig`` of sip.conf with the location service's
bindings: where a peer can be reached now, which device an incoming request belongs to.
``sip reload`` swaps the configuration atomically; registrations of peers that still exist are
kept, those of removed peers are dropped (chan_sip keeps live registrations of still-configured
peers the same way).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from pbx.config.sip_conf import PeerConfig, SipConfig, SipSettings
from pbx.core.addr import Address, TransportKind, bracket
from pbx.core.hosts import HostTable
from pbx.sip.flow import Flow
from pbx.sip.grammar import SipParseError
from pbx.sip.location import Binding, Location
from pbx.sip.transport import same_host
from pbx.sip.uri import SipUri


@dataclass(frozen=True, slots=True)
class Reach:
    """How to send a request to a peer right now.

    :param uri: the Request-URI (the registered Contact, or ``sip:user@host:port``).
    :param flow: the binding's own flow (a WebSocket/TCP connection to reuse), if any.
    :param address: where the request goes at the network level.
    :param kind: the transport to use.
    """

    uri: str
    flow: Flow | None
    address: Address
    kind: TransportKind
    binding: Binding | None


def behind_nat(binding: Binding) -> bool:
    """The device registered from behind a NAT: its Contact names another host than the one
    the REGISTER came from (chan_sip's detection for ``auto_*`` NAT settings)."""
    try:
        host = SipUri.parse(binding.contact).host
    except SipParseError:
        return False
    return not same_host(host, binding.source.host)  # [::1] is ::1, ::ffff:a.b.c.d is a.b.c.d


class PeerRegistry:
    def __init__(self, config: SipConfig, location: Location) -> None:
        self.config = config
        self.location = location
        #: Where static peers' host names resolved to (filled by the service).
        self.hosts = HostTable()

    @property
    def general(self) -> SipSettings:
        return self.config.general

    @property
    def guest(self) -> PeerConfig:
        return self.config.general.guest

    def get(self, name: str) -> PeerConfig | None:
        return self.config.peers.get(name)

    def __iter__(self) -> Iterator[PeerConfig]:
        return iter(sorted(self.config.peers.values(), key=lambda p: p.name))

    def replace(self, config: SipConfig) -> list[Binding]:
        """Swap in a reloaded sip.conf; returns bindings dropped for peers that are gone."""
        dropped: list[Binding] = []
        for name in list(self.config.peers):
            peer = config.peers.get(name)
            if peer is None or not peer.dynamic:
                dropped.extend(self.location.remove_all(name))
        self.config = config
        return dropped

    def reach(self, name: str, now: float) -> Reach | None:
        """The newest live binding of a dynamic peer, else its static ``host``/``defaultip``."""
        peer = self.get(name)
        if peer is None:
            return None
        bindings = self.location.lookup(name, now)
        if bindings:
            return self.reach_binding(bindings[0])
        host = None if peer.dynamic else peer.host
        host = host or peer.defaultip
        if not host:
            return None
        kind = peer.primary_transport
        port = peer.port or (5061 if kind is TransportKind.TLS else 5060)
        user = f"{peer.defaultuser}@" if peer.defaultuser else ""
        transport = "" if kind is TransportKind.UDP else f";transport={kind.value}"
        uri = f"sip:{user}{bracket(host)}:{port}{transport}"
        return Reach(uri, None, Address(host, port), kind, None)

    @staticmethod
    def reach_binding(binding: Binding) -> Reach:
        return Reach(binding.contact, binding.flow, binding.target, binding.transport, binding)

    def match_source(self, address: Address, kind: TransportKind) -> PeerConfig | None:
        """chan_sip's second matching rule: the peer whose address is the packet source.

        IP and port must match, or only the IP for ``insecure=port``, and the transport too
        (``ws`` and ``wss`` alike); registered bindings and static hosts both count. Only
        objects with the peer flag take part.
        """
        family = kind.websocket
        for peer in self.config.peers.values():
            if not peer.is_peer:
                continue
            if peer.dynamic:
                for binding in self.location.lookup(peer.name):
                    same_transport = binding.transport is kind or (
                        family and binding.transport.websocket
                    )
                    if (
                        same_transport
                        and binding.source.host == address.host
                        and (peer.insecure.port or binding.source.port == address.port)
                    ):
                        return peer
            elif (
                peer.host is not None
                and self.hosts.address_of(peer.host) == address.host
                and (peer.insecure.port or peer.port == address.port)
                and any(t is kind or (family and t.websocket) for t in peer.transports)
            ):
                return peer
        return None
