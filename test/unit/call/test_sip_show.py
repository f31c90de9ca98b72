"""Tests for pbx.call.sip_show: the console's SIP views in chan_sip's column shapes
(ASTERISK-REFERENCE §4.2; chan_sip ``_sip_show_peers`` FORMAT/FORMAT2)."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from pbx.call.peers import PeerRegistry
from pbx.call.qualify import Qualifier
from pbx.call.registrations import Registrations
from pbx.call.sip_show import local_regtime, show_peer, show_peers, show_registry, show_settings
from pbx.core.addr import Address, TransportKind
from pbx.core.tokens import CountingTokens
from pbx.sip.flow import Flow
from pbx.sip.location import Binding, Location
from pbx.sip.outbound_registration import RegState
from test.unit.call.fakes import PBX_UDP, WS_FLOW, sip_config

CONF = """
[general]
context=public
realm=pbx-test
useragent=pbx-test

[desk1]
type=friend
host=dynamic
secret=s3cr3t
context=phones
callerid="Desk One" <2001>
qualify=yes
description=Reception desk
disallow=all
allow=ulaw,alaw

[natdesk]
type=friend
host=dynamic
nat=force_rport,comedia

[trunk]
type=peer
host=127.0.0.5
port=5070
insecure=port,invite
permit=127.0.0.0/255.0.0.0

[offline]
type=friend
host=dynamic

[usr]
type=user
"""

HEADER = (
    "Name/username             Host                                    Dyn Forcerport Comedia    "
    "ACL Port     Status      Description"
)


def setup(*, qualify_ok: bool = True) -> tuple[PeerRegistry, Qualifier]:
    peers = PeerRegistry(sip_config(CONF), Location())
    qualifier = Qualifier(lambda: 0.0)
    qualifier.watch("desk1", 2000, 60, 0.0)
    if qualify_ok:
        qualifier.handle_timer(0.0)
        qualifier.due()
        qualifier.answered("desk1", 0.012)
    return peers, qualifier


def bind(
    peers: PeerRegistry,
    aor: str,
    contact: str,
    source: Address,
    target: Address | None = None,
    flow: Flow | None = None,
    kind: TransportKind = TransportKind.UDP,
) -> Binding:
    binding = Binding(
        aor=aor,
        contact=contact,
        expires_at=3600.0,
        registered_at=0.0,
        source=source,
        transport=kind,
        target=target or source,
        flow=flow or Flow(kind, PBX_UDP, source),
        user_agent="baresip v1.0.0 (x86_64/linux)",
    )
    peers.location.save(binding, 5)
    return binding


def row(*cols: str) -> str:
    widths = (25, 39, 3, 10, 10, 3, 8, 11, 32)
    return " ".join(c[:w].ljust(w) for c, w in zip(cols, widths, strict=True)).rstrip()


class ShowPeersTests(SynchronousTestCase):
    def test_exact_table(self) -> None:
        peers, qualifier = setup()
        bind(peers, "desk1", "sip:desk1-0x55@127.0.0.1:47300", Address("127.0.0.1", 47300))
        out = show_peers(peers, qualifier, 10.0)
        self.assertEqual(
            out.splitlines(),
            [
                HEADER,
                row(
                    "desk1/desk1-0x55",
                    "127.0.0.1",
                    " D ",
                    "Auto (No)",  # registered from the address its Contact names: no NAT
                    "No",
                    "",
                    "47300",
                    "OK (12 ms)",
                    "Reception desk",
                ),
                row("natdesk", "(Unspecified)", " D ", "Yes", "Yes", "", "0", "Unmonitored", ""),
                row(
                    "offline", "(Unspecified)", " D ", "Auto (No)", "No", "", "0", "Unmonitored", ""
                ),
                row("trunk", "127.0.0.5", "", "Auto (No)", "No", " A ", "5070", "Unmonitored", ""),
                "4 sip peers [Monitored: 1 online, 0 offline Unmonitored: 1 online, 2 offline]",
            ],
        )
        self.assertTrue(out.endswith("]\n"))

    def test_header_matches_the_reference_widths(self) -> None:
        peers, qualifier = setup()
        header = show_peers(peers, qualifier, 0.0).splitlines()[0]
        starts = [
            header.index(c)
            for c in (
                "Host",
                "Dyn",
                "Forcerport",
                "Comedia",
                "ACL",
                "Port",
                "Status",
                "Description",
            )
        ]
        self.assertEqual(starts, [26, 66, 70, 81, 92, 96, 105, 117])

    def test_monitored_peer_unknown_until_it_answers_is_offline(self) -> None:
        peers, qualifier = setup(qualify_ok=False)
        out = show_peers(peers, qualifier, 0.0)
        self.assertIn(" UNKNOWN ", out)
        self.assertTrue(
            out.endswith("[Monitored: 0 online, 1 offline Unmonitored: 1 online, 2 offline]\n")
        )

    def test_long_values_are_cut_to_the_column(self) -> None:
        peers, qualifier = setup()
        bind(peers, "desk1", "sip:" + "u" * 40 + "@127.0.0.1:47300", Address("127.0.0.1", 47300))
        line = show_peers(peers, qualifier, 0.0).splitlines()[1]
        self.assertEqual(line[:26], "desk1/" + "u" * 19 + " ")

    def test_phone_not_behind_nat_is_auto_no(self) -> None:
        peers, qualifier = setup()
        bind(peers, "desk1", "sip:desk1@127.0.0.1:47300", Address("127.0.0.1", 47300))
        self.assertIn(" Auto (No)  ", show_peers(peers, qualifier, 0.0).splitlines()[1])

    def test_phone_behind_nat_is_auto_yes(self) -> None:
        peers, qualifier = setup()
        bind(
            peers,
            "desk1",
            "sip:desk1@192.168.1.10:5060",
            Address("203.0.113.5", 40000),
            target=Address("203.0.113.5", 40000),
        )
        self.assertIn(" Auto (Yes) ", show_peers(peers, qualifier, 0.0).splitlines()[1])

    def test_dyn_and_acl_flags_are_centred(self) -> None:
        peers, qualifier = setup()
        lines = show_peers(peers, qualifier, 0.0).splitlines()
        offline = next(line for line in lines if line.startswith("offline "))
        trunk = next(line for line in lines if line.startswith("trunk "))
        self.assertEqual(offline[66:69], " D ")
        self.assertEqual(trunk[92:95], " A ")

    def test_defaultuser_of_a_static_peer(self) -> None:
        peers = PeerRegistry(
            sip_config(CONF.replace("port=5070\n", "port=5070\ndefaultuser=pbx\n")), Location()
        )
        lines = show_peers(peers, Qualifier(lambda: 0.0), 0.0).splitlines()
        self.assertTrue(any(line.startswith("trunk/pbx ") for line in lines), lines)


class ShowPeerTests(SynchronousTestCase):
    def test_key_value_block(self) -> None:
        peers, qualifier = setup()
        bind(
            peers,
            "desk1",
            "sip:x@y.invalid;transport=ws",
            Address("127.0.0.1", 41440),
            flow=WS_FLOW,
            kind=TransportKind.WS,
        )
        lines = show_peer(peers, qualifier, "desk1", 100.0).splitlines()
        self.assertEqual(
            lines[:4],
            [
                "",
                "  * Name       : desk1",
                "  Description  : Reception desk",
                "  Secret       : <Set>",
            ],
        )
        for expected in (
            "  MD5Secret    : <Not set>",
            "  Context      : phones",
            '  Callerid     : "Desk One" <2001>',
            "  Dynamic      : Yes",
            "  Expire       : 3500",
            "  Insecure     : no",
            "  Addr->IP     : 127.0.0.1:41440",
            "  Prim.Transp. : UDP",
            "  Codecs       : (ulaw|alaw)",
            "  Status       : OK (12 ms)",
            "  Reg. Contact : sip:x@y.invalid;transport=ws",
            "  Qualify Freq : 60000 ms",
            "  Sess-Timers  : Refuse",
            "  Bindings     : 1",
            "    1. sip:x@y.invalid;transport=ws",
            "       Transport WS  Source 127.0.0.1:41440  Flow WS:127.0.0.1:41440#7  "
            "Expires 3500 s",
            "       Useragent baresip v1.0.0 (x86_64/linux)",
        ):
            self.assertIn(expected, lines)
        self.assertTrue(show_peer(peers, qualifier, "desk1", 100.0).endswith("\n\n"))

    def test_static_peer(self) -> None:
        peers, qualifier = setup()
        lines = show_peer(peers, qualifier, "trunk", 0.0).splitlines()
        for expected in (
            "  Addr->IP     : 127.0.0.5:5070",
            "  Insecure     : port,invite",
            "  ACL          : Yes",
            "  Expire       : -1",
            "  Status       : Unmonitored",
            "  Bindings     : 0",
        ):
            self.assertIn(expected, lines)

    def test_a_static_host_name_shows_as_it_resolved(self) -> None:
        peers, qualifier = setup()
        peers.config = sip_config(CONF.replace("host=127.0.0.5", "host=sip.example.com"))
        self.assertIn("  Addr->IP     : (Unspecified)", show_peer(peers, qualifier, "trunk", 0.0))
        peers.hosts.update({"sip.example.com": "198.51.100.4"})
        self.assertIn(
            "  Addr->IP     : 198.51.100.4:5070", show_peer(peers, qualifier, "trunk", 0.0)
        )
        [line] = [
            x for x in show_peers(peers, qualifier, 0.0).splitlines() if x.startswith("trunk")
        ]
        self.assertEqual(line.split()[1], "198.51.100.4")

    def test_unknown_peer(self) -> None:
        peers, qualifier = setup()
        self.assertEqual(show_peer(peers, qualifier, "nobody", 0.0), "Peer nobody not found.\n")


class ShowRegistryTests(SynchronousTestCase):
    def test_one_line_per_binding(self) -> None:
        peers, _ = setup()
        bind(peers, "desk1", "sip:desk1@127.0.0.1:47300", Address("127.0.0.1", 47300))
        restored = Binding(
            "natdesk", "sip:n@127.0.0.2:5062", 1800.0, 0.0, Address("127.0.0.2", 5062),
            TransportKind.UDP, Address("127.0.0.2", 5062), None,
        )  # fmt: skip
        peers.location.save(restored, 1)
        ua = "baresip v1.0.0 (x86_64/linux)"

        def line(*cells: str) -> str:
            peer, trsp, contact, flow, expiry, agent = cells
            return " ".join(
                [
                    peer.ljust(20),
                    trsp.ljust(5),
                    contact.ljust(45),
                    flow.ljust(28),
                    expiry.rjust(7),
                    agent,
                ]
            ).rstrip()

        self.assertEqual(
            show_registry(peers, 600.0).splitlines(),
            [
                OUTBOUND_HEADER,
                "0 SIP registrations.",
                "",
                line("Peer", "Trsp", "Contact", "Flow", "Expiry", "Useragent"),
                line(
                    "desk1",
                    "UDP",
                    "sip:desk1@127.0.0.1:47300",
                    "UDP:127.0.0.1:47300",
                    "3000",
                    ua[:20],
                ),
                line("natdesk", "UDP", "sip:n@127.0.0.2:5062", "-", "1200", ""),
                "2 SIP registrations.",
            ],
        )

    def test_outbound_registrations_in_chan_sips_columns(self) -> None:
        config = sip_config(
            "[general]\nregister => 4930123:pw@198.51.100.7/100\n"
            "register => averyveryverylongusername@[2001:db8::1]:5070~3600\n"
        )
        peers = PeerRegistry(config, Location())
        regs = Registrations(CountingTokens(), lambda: 0.0)
        regs.configure(config.general.registrations, config.peers, config.general, 0.0)
        [(_, first), (_, second)] = list(regs)
        first.state, first.expiry, first.registered_at = RegState.REGISTERED, 300, 1.0e9
        second.state = RegState.NO_AUTH

        def row(host: str, user: str, refresh: str, state: str, regtime: str) -> str:
            cells = f"{host:<39.39} {'N':<6} {user:<12.12}  {refresh:>8} {state:<20} {regtime}"
            return cells.rstrip()

        self.assertEqual(
            show_registry(peers, 0.0, regs, regtime=lambda t: f"at {t:.0f}").splitlines(),
            [
                OUTBOUND_HEADER,
                row("198.51.100.7:5060", "4930123", "300", "Registered", "at 1000000000"),
                row("[2001:db8::1]:5070", "averyveryver", "3600", "No Authentication", ""),
                "2 SIP registrations.",
                "",
                "Peer                 Trsp  Contact                                       Flow"
                "                          Expiry Useragent",
                "0 SIP registrations.",
            ],
        )

    def test_reg_time_is_chan_sips_local_time(self) -> None:
        # %a, %d %b %Y %T: weekday, day, month, year and time, e.g. Sun, 09 Sep 2001 01:46:40
        self.assertRegex(local_regtime(1.0e9), r"^\w{3}, \d\d \w{3} 2001 \d\d:\d\d:\d\d$")


#: chan_sip's FORMAT2 header: ``%-39.39s %-6.6s %-12.12s  %8.8s %-20.20s %-25.25s``.
OUTBOUND_HEADER = (
    "Host                                    dnsmgr Username       Refresh State                "
    "Reg.Time"
)


class ShowSettingsTests(SynchronousTestCase):
    def test_aligned_block(self) -> None:
        peers, _ = setup()
        out = show_settings(peers, [("RTP port range", "10000-20000")])
        self.assertTrue(out.startswith("\n\nGlobal Settings:\n----------------\n"))
        lines = out.splitlines()[4:]
        self.assertIn("  Realm. auth:           pbx-test", lines)
        self.assertIn("  User Agent:            pbx-test", lines)
        self.assertIn("  Context:               public", lines)
        self.assertEqual(lines[-1], "  RTP port range:        10000-20000")
        # Values start in one column, after the longest key and its colon.
        column = len("  Allow overlap dialing: ")
        self.assertEqual({(line[column - 1], line[column] != " ") for line in lines}, {(" ", True)})
