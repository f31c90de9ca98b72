"""Tests for pbx.call.peers: where a peer is reached, which peer a packet source is, and
``sip reload`` (ASTERISK-REFERENCE §1.2)."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from pbx.call.peers import PeerRegistry, Reach, behind_nat
from pbx.core.addr import Address, TransportKind
from pbx.sip.flow import Flow
from pbx.sip.location import Binding, Location
from test.unit.call.fakes import PBX_UDP, WS_FLOW, sip_config

CONF = """
[general]
context=public
tcpenable=yes
tlsenable=yes
tlscertfile=dtls-cert.pem
tlsprivatekey=dtls-key.pem

[desk]
type=friend
host=dynamic

[fallback]
type=friend
host=dynamic
defaultip=127.0.0.20
defaultuser=fb

[trunk]
type=peer
host=127.0.0.5
port=5070

[carrier]
type=peer
host=127.0.0.6
insecure=port

[tls]
type=peer
host=127.0.0.7
transport=tls

[tcp]
type=peer
host=127.0.0.8
port=5060
transport=tcp

[v6]
type=peer
host=::1

[usr]
type=user
host=127.0.0.9
"""


def registry(conf: str = CONF) -> PeerRegistry:
    return PeerRegistry(sip_config(conf), Location())


def bind(
    peers: PeerRegistry,
    aor: str,
    source: Address,
    *,
    at: float = 0.0,
    contact: str = "",
    flow: Flow | None = None,
    kind: TransportKind = TransportKind.UDP,
) -> Binding:
    binding = Binding(
        aor=aor,
        contact=contact or f"sip:{aor}@{source}",
        expires_at=at + 3600,
        registered_at=at,
        source=source,
        transport=kind,
        target=source,
        flow=flow or Flow(kind, PBX_UDP, source),
    )
    peers.location.save(binding, 5)
    return binding


class LookupTests(SynchronousTestCase):
    def test_lookup_iteration_and_general(self) -> None:
        peers = registry()
        self.assertEqual(
            [p.name for p in peers],
            ["carrier", "desk", "fallback", "tcp", "tls", "trunk", "usr", "v6"],
        )
        self.assertEqual(peers.get("desk").name, "desk")  # type: ignore[union-attr]
        self.assertIsNone(peers.get("nobody"))
        self.assertEqual((peers.general.context, peers.guest.context), ("public", "public"))


class ReachTests(SynchronousTestCase):
    def test_newest_binding_of_a_dynamic_peer(self) -> None:
        peers = registry()
        bind(peers, "desk", Address("127.0.0.1", 47300), at=10)
        tab = bind(
            peers,
            "desk",
            Address("127.0.0.1", 41440),
            at=20,
            contact="sip:x@y.invalid;transport=ws",
            flow=WS_FLOW,
            kind=TransportKind.WS,
        )
        self.assertEqual(
            peers.reach("desk", 30),
            Reach(
                "sip:x@y.invalid;transport=ws",
                WS_FLOW,
                Address("127.0.0.1", 41440),
                TransportKind.WS,
                tab,
            ),
        )

    def test_expired_bindings_do_not_count(self) -> None:
        peers = registry()
        bind(peers, "desk", Address("127.0.0.1", 47300), at=0)
        self.assertIsNone(peers.reach("desk", 3600))
        self.assertIsNotNone(peers.reach("desk", 3599))

    def test_static_hosts(self) -> None:
        peers = registry()
        cases = {
            "trunk": ("sip:127.0.0.5:5070", Address("127.0.0.5", 5070), TransportKind.UDP),
            "carrier": ("sip:127.0.0.6:5060", Address("127.0.0.6", 5060), TransportKind.UDP),
            "tls": (
                "sip:127.0.0.7:5061;transport=tls",
                Address("127.0.0.7", 5061),
                TransportKind.TLS,
            ),
            "tcp": (
                "sip:127.0.0.8:5060;transport=tcp",
                Address("127.0.0.8", 5060),
                TransportKind.TCP,
            ),
            "v6": ("sip:[::1]:5060", Address("::1", 5060), TransportKind.UDP),
            "fallback": ("sip:fb@127.0.0.20:5060", Address("127.0.0.20", 5060), TransportKind.UDP),
        }
        for name, (uri, address, kind) in cases.items():
            self.assertEqual(peers.reach(name, 0), Reach(uri, None, address, kind, None), name)

    def test_unreachable(self) -> None:
        peers = registry()
        self.assertIsNone(peers.reach("desk", 0))  # dynamic, not registered, no defaultip
        self.assertIsNone(peers.reach("nobody", 0))


class MatchSourceTests(SynchronousTestCase):
    """chan_sip's second matching rule."""

    def test_static_peer_by_address_and_port(self) -> None:
        peers = registry()
        match = peers.match_source(Address("127.0.0.5", 5070), TransportKind.UDP)
        self.assertEqual(match.name if match else None, "trunk")
        self.assertIsNone(peers.match_source(Address("127.0.0.5", 5071), TransportKind.UDP))

    def test_a_static_peer_named_by_host_name_matches_its_address(self) -> None:
        # A provider written as a name: its requests come from the address the name has.
        peers = registry(CONF.replace("host=127.0.0.6", "host=sip.example.com", 1))
        source = Address("198.51.100.4", 40000)
        self.assertIsNone(peers.match_source(source, TransportKind.UDP))  # not resolved yet
        peers.hosts.update({"sip.example.com": "198.51.100.4"})
        match = peers.match_source(source, TransportKind.UDP)
        self.assertEqual(match.name if match else None, "carrier")

    def test_insecure_port_matches_the_address_only(self) -> None:
        peers = registry()
        match = peers.match_source(Address("127.0.0.6", 40000), TransportKind.UDP)
        self.assertEqual(match.name if match else None, "carrier")

    def test_registered_source(self) -> None:
        peers = registry()
        bind(peers, "desk", Address("127.0.0.1", 47300))
        match = peers.match_source(Address("127.0.0.1", 47300), TransportKind.UDP)
        self.assertEqual(match.name if match else None, "desk")
        self.assertIsNone(peers.match_source(Address("127.0.0.1", 47301), TransportKind.UDP))

    def test_users_are_never_matched_by_address(self) -> None:
        peers = registry()
        self.assertIsNone(peers.match_source(Address("127.0.0.9", 5060), TransportKind.UDP))

    def test_transport_aware(self) -> None:
        peers = registry()
        self.assertIsNone(peers.match_source(Address("127.0.0.8", 5060), TransportKind.UDP))


class BehindNatTests(SynchronousTestCase):
    def test_the_same_host_written_differently_is_not_nat(self) -> None:
        peers = registry()
        v6 = bind(peers, "desk", Address("::1", 5060), contact="sip:desk@[0:0::1]:5060")
        mapped = bind(peers, "desk", Address("127.0.0.1", 5060), contact="sip:d@[::ffff:127.0.0.1]")
        natted = bind(peers, "desk", Address("192.0.2.10", 5060), contact="sip:desk@10.0.0.5")
        self.assertEqual([behind_nat(b) for b in (v6, mapped, natted)], [False, False, True])


class ReloadTests(SynchronousTestCase):
    def test_bindings_of_removed_or_now_static_peers_are_dropped(self) -> None:
        peers = registry()
        kept = bind(peers, "desk", Address("127.0.0.1", 47300))
        gone = bind(peers, "fallback", Address("127.0.0.1", 47301))
        dropped = peers.replace(
            sip_config(
                CONF.replace(
                    "[fallback]\ntype=friend\nhost=dynamic",
                    "[fallback]\ntype=friend\nhost=127.0.0.21",
                )
            )
        )
        self.assertEqual(dropped, [gone])
        self.assertEqual(peers.location.lookup("desk"), [kept])
        self.assertEqual(peers.get("fallback").host, "127.0.0.21")  # type: ignore[union-attr]
        removed = peers.replace(sip_config(CONF.replace("[desk]\ntype=friend\nhost=dynamic\n", "")))
        self.assertEqual((removed, peers.get("desk")), ([kept], None))
        self.assertEqual(len(peers.location), 0)
