"""Tests for pbx.config.sip_conf: sip.conf to SipSettings + PeerConfig, as chan_sip reads it."""

from __future__ import annotations

import os
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from pbx import __version__
from pbx.config.model import loads
from pbx.config.schema import Diagnostics
from pbx.config.sip_conf import GUEST, PeerConfig, SipConfig, load_sip_conf, parse_sip_conf
from pbx.config.sip_values import NAT_OFF, NAT_SYMMETRIC, CallerId, Insecure, Nat
from pbx.core.addr import Address
from pbx.core.addr import TransportKind as T
from pbx.core.errors import ConfigErrors

DATA = str(Path(__file__).resolve().parents[2] / "data" / "config")
CERT = os.path.join(DATA, "dtls-cert.pem")
KEY = os.path.join(DATA, "dtls-key.pem")


def load(text: str, systemname: str = "") -> tuple[SipConfig, list[str], list[str]]:
    """Parse sip.conf text (certificate paths resolve against test/data/config)."""
    cfg = loads(text, "sip.conf", DATA)
    diag = Diagnostics()
    diag.extend(cfg.errors)
    config = parse_sip_conf(cfg, DATA, diag, systemname)
    diag.sort(cfg.files)
    return config, [str(e) for e in diag.errors], [str(w) for w in diag.warnings]


def peer(text: str, name: str = "p") -> tuple[PeerConfig, list[str], list[str]]:
    config, errors, warnings = load(text)
    return config.peers[name], errors, warnings


class SampleFileTests(SynchronousTestCase):
    """Real peer sets from test/data/config."""

    def setUp(self) -> None:
        cwd = os.getcwd()
        os.chdir(DATA)  # paths in messages are shown relative to the working directory
        self.addCleanup(os.chdir, cwd)

    def test_browser_peer_of_the_reference_verbatim(self) -> None:
        loaded = load_sip_conf(".", "good-browser-peer.conf")
        self.assertEqual(loaded.warnings, [])
        p = loaded.value.peers["webrtc_client"]
        self.assertEqual((p.type, p.is_peer, p.is_user), ("friend", True, True))
        self.assertEqual(
            (p.dynamic, p.host, p.secret, p.context), (True, None, "browserpass", "from-browser")
        )
        self.assertEqual(p.transports, (T.WS, T.WSS))
        self.assertEqual(p.primary_transport, T.WS)
        self.assertEqual(
            (p.encryption, p.avpf, p.icesupport, p.directmedia, p.rtcp_mux),
            (True, True, True, False, True),
        )
        self.assertEqual((p.dtlsenable, p.dtlssetup), (True, "actpass"))
        self.assertEqual((p.dtlscertfile, p.dtlsprivatekey), (CERT, KEY))
        self.assertFalse(p.dtlsautogeneratecert)
        self.assertEqual(p.codecs, ("opus", "ulaw"))
        self.assertFalse(p.webrtc)
        self.assertEqual(p.max_contacts, 5)  # a ws/wss device
        self.assertEqual((p.path, p.line), ("good-browser-peer.conf", 5))

    def test_desk_phone(self) -> None:
        loaded = load_sip_conf(".", "good-deskphone.conf")
        self.assertEqual(
            [str(w) for w in loaded.warnings],
            [
                "good-deskphone.conf:29: [6001] option 'callgroup' is not supported by pbx and "
                "is ignored",
                "good-deskphone.conf:30: [6001] option 'pickupgroup' is not supported by pbx "
                "and is ignored",
                "good-deskphone.conf:31: [6001] option 'mailbox' is not supported by pbx and is "
                "ignored",
            ],
        )
        general = loaded.value.general
        self.assertEqual(
            (general.context, general.allowguest, general.tcpenable), ("public", False, True)
        )
        p = loaded.value.peers["6001"]
        self.assertEqual((p.defaultuser, p.secret, p.context), ("6001", "s3cr3t", "internal"))
        self.assertEqual(
            (p.callerid, p.callerid_name, p.callerid_num),
            ('"Reception" <6001>', "Reception", "6001"),
        )
        self.assertEqual(p.transports, (T.UDP, T.TCP))
        self.assertEqual((p.nat, p.qualify, p.dtmfmode), (Nat(), 2000, "rfc2833"))
        self.assertEqual(p.codecs, ("alaw", "ulaw", "g722"))
        self.assertEqual(p.insecure, Insecure(port=True))
        self.assertEqual(p.setvar, (("PHONE_MODEL", "T46S"), ("FLOOR", "2")))
        self.assertEqual((p.call_limit, p.language, p.accountcode), (2, "de", "reception"))
        self.assertTrue(p.acl.allows("192.168.10.44"))
        self.assertFalse(p.acl.allows("192.168.11.44"))
        self.assertTrue(p.acl.allows("2001:db8::99"))
        self.assertEqual(p.max_contacts, 1)
        self.assertTrue(p.directmedia)  # chan_sip's default, not written: no warning

    def test_template_chain(self) -> None:
        loaded = load_sip_conf(".", "good-template-chain.conf")
        self.assertEqual(loaded.warnings, [])
        carol = loaded.value.peers["carol"]
        dave = loaded.value.peers["dave"]
        self.assertEqual(list(loaded.value.peers), ["carol", "dave"])
        # base: disallow=all allow=ulaw; office adds alaw; [general]'s g722 is wiped by disallow.
        self.assertEqual(carol.codecs, ("ulaw", "alaw"))
        self.assertEqual((carol.context, carol.qualify, carol.call_limit), ("office", 1500, 4))
        self.assertEqual(carol.setvar, (("SITE", "hq"), ("ROLE", "sales")))
        self.assertEqual(carol.description, "Carol at the front desk")
        self.assertEqual(carol.nat, NAT_SYMMETRIC)  # from [general]
        # dave(office,base): base's lines come again after office's, so alaw is dropped.
        self.assertEqual(dave.codecs, ("ulaw",))
        self.assertEqual(
            (dave.context, dave.qualify, dave.setvar), ("lobby", None, (("SITE", "hq"),))
        )

    def test_four_errors_exactly_in_order(self) -> None:
        with self.assertRaises(ConfigErrors) as cm:
            load_sip_conf(".", "bad-four-errors.conf")
        self.assertEqual(
            [str(e) for e in cm.exception.errors],
            [
                "bad-four-errors.conf:4: [general] option 'udpbindaddr': expected an IP address "
                "with an optional :port, got '0.0.0.0:99999'",
                "bad-four-errors.conf:9: [alice] unknown option 'secert' (did you mean 'secret'?)",
                "bad-four-errors.conf:15: [bob] option 'qualify': expected yes, no or a number of "
                "ms, got 'maybe'",
                "bad-four-errors.conf:17: [bob] option 'allow': unknown codec 'g7222' (did you "
                "mean 'g722'?)",
            ],
        )

    def test_missing_file(self) -> None:
        with self.assertRaises(ConfigErrors) as cm:
            load_sip_conf(".", "nothere.conf")
        self.assertEqual(
            [str(e) for e in cm.exception.errors],
            ["nothere.conf: cannot read: No such file or directory"],
        )


class GeneralTests(SynchronousTestCase):
    def test_compiled_defaults(self) -> None:
        config, errors, warnings = load("[general]\n")
        self.assertEqual((errors, warnings, dict(config.peers)), ([], [], {}))
        g = config.general
        self.assertEqual(g.udpbindaddr, Address("0.0.0.0", 5060))
        self.assertEqual((g.tcpenable, g.tcpbindaddr), (False, Address("0.0.0.0", 5060)))
        self.assertEqual((g.tlsenable, g.tlsbindaddr), (False, Address("0.0.0.0", 5061)))
        self.assertEqual(
            (g.tlscertfile, g.tlsprivatekey), (os.path.join(DATA, "asterisk.pem"),) * 2
        )
        self.assertEqual(
            (g.context, g.allowguest, g.alwaysauthreject, g.realm),
            ("default", True, True, "asterisk"),
        )
        self.assertEqual((g.useragent, g.sdpowner), (f"pbx {__version__}", "root"))
        self.assertEqual(g.callerid, CallerId("", "asterisk"))
        self.assertEqual((g.minexpiry, g.maxexpiry, g.defaultexpiry), (60, 3600, 120))
        self.assertEqual((g.allowoverlap, g.websocket_enabled), (True, True))
        self.assertEqual((g.externaddr, g.media_address, g.localnet), (None, None, ()))
        self.assertEqual((g.qualifyfreq, g.maxmessagesize, g.max_contacts), (60, 65536, 1))
        guest = g.guest
        self.assertEqual(
            (guest.name, guest.context, guest.transports), (GUEST, "default", (T.UDP,))
        )
        self.assertEqual(guest.codecs, ("ulaw", "alaw", "gsm", "h263"))
        self.assertEqual((guest.nat, guest.dtmfmode, guest.dtlssetup), (Nat(), "rfc2833", "active"))
        self.assertEqual((guest.qualify, guest.directmedia), (None, True))

    def test_no_general_section_at_all(self) -> None:
        config, errors, warnings = load("[p]\ntype=peer\nhost=192.0.2.1\n")
        self.assertEqual((errors, warnings), ([], []))
        self.assertEqual(config.general.context, "default")
        self.assertEqual(config.peers["p"].host, "192.0.2.1")

    def test_dual_stack_bind_address_carries_over(self) -> None:
        config, errors, _ = load("[general]\nbindaddr=[::]\ntcpenable=yes\n")
        self.assertEqual(errors, [])
        g = config.general
        self.assertEqual(
            (g.udpbindaddr, g.tcpbindaddr, g.tlsbindaddr),
            (Address("::", 5060), Address("::", 5060), Address("::", 5061)),
        )

    def test_bindport_is_deprecated_but_applied_to_a_portless_udpbindaddr(self) -> None:
        config, _, warnings = load("[general]\nudpbindaddr=192.0.2.1\nbindport=5070\n")
        self.assertEqual(config.general.udpbindaddr, Address("192.0.2.1", 5070))
        self.assertEqual(
            warnings,
            ["sip.conf:3: [general] option 'bindport' is deprecated, use udpbindaddr=address:port"],
        )
        config, _, _ = load("[general]\nudpbindaddr=192.0.2.1:5062\nbindport=5070\n")
        self.assertEqual(config.general.udpbindaddr, Address("192.0.2.1", 5062))

    def test_realm_from_systemname_unless_set(self) -> None:
        self.assertEqual(load("[general]\n", "lab")[0].general.realm, "lab")
        self.assertEqual(load("[general]\nrealm=pbx.lab\n", "lab")[0].general.realm, "pbx.lab")

    def test_externaddr_and_localnet(self) -> None:
        config, _, warnings = load("[general]\nudpbindaddr=0.0.0.0:5080\nexternip=203.0.113.5\n")
        self.assertEqual(config.general.externaddr, Address("203.0.113.5", 5080))
        self.assertEqual(
            warnings,
            [
                "sip.conf:3: [general] externaddr without localnet has no effect (as in "
                "chan_sip): add a localnet= line for each network that reaches pbx without NAT"
            ],
        )
        config, _, warnings = load(
            "[general]\nexternaddr=pbx.example.com:5062\nlocalnet=192.168.0.0/16\n"
            "localnet=10.0.0.0/255.0.0.0\n"
        )
        self.assertEqual(
            warnings,
            [
                "sip.conf:2: [general] externaddr is a name: Via and Contact carry it, but SDP "
                "needs an address; set media_address to the public IP"
            ],
        )
        self.assertEqual(config.general.externaddr, Address("pbx.example.com", 5062))
        self.assertEqual(
            [str(n) for n in config.general.localnet], ["192.168.0.0/16", "10.0.0.0/8"]
        )

    def test_expiry_bounds(self) -> None:
        _, errors, _ = load("[general]\nminexpiry=600\nmaxexpiry=300\n")
        self.assertEqual(
            errors, ["sip.conf:2: [general] minexpiry (600) is larger than maxexpiry (300)"]
        )

    def test_tls_needs_a_readable_certificate_when_one_is_named(self) -> None:
        # Without tlscertfile, a missing default file means pbx's local CA (adapters.local_ca).
        _, errors, _ = load("[general]\ntlsenable=yes\n")
        self.assertEqual(errors, [])
        _, errors, _ = load("[general]\ntlsenable=yes\ntlscertfile=nothere.pem\n")
        self.assertEqual(
            errors,
            [f"sip.conf:3: [general] cannot read tlscertfile '{DATA}/nothere.pem': no such file"],
        )
        _, errors, _ = load(
            "[general]\ntlsenable=yes\ntlscertfile=dtls-cert.pem\ntlsprivatekey=dtls-key.pem\n"
        )
        self.assertEqual(errors, [])

    def test_general_callerid_is_not_a_device_default(self) -> None:
        config, _, _ = load('[general]\ncallerid="PBX" <100>\n[p]\ntype=friend\n')
        self.assertEqual(config.general.callerid, CallerId("PBX", "100"))
        p = config.peers["p"]
        self.assertEqual((p.callerid, p.callerid_name, p.callerid_num), ("", "", ""))

    def test_rtp_options_point_to_rtp_conf(self) -> None:
        _, errors, warnings = load("[general]\nrtpstart=10000\nrtpend=20000\n")
        self.assertEqual(errors, [])
        self.assertEqual(
            warnings,
            [
                "sip.conf:2: [general] option 'rtpstart' belongs in rtp.conf, not here; ignored",
                "sip.conf:3: [general] option 'rtpend' belongs in rtp.conf, not here; ignored",
            ],
        )


class DeviceTests(SynchronousTestCase):
    def test_general_options_are_device_defaults(self) -> None:
        text = (
            "[general]\ncontext=phones\nqualify=yes\nnat=no\nallow=g722\ncontactdeny=0.0.0.0/0\n"
            "[p]\ntype=friend\nhost=dynamic\nallow=!gsm\ncontactpermit=192.0.2.0/24\n"
        )
        p, errors, warnings = peer(text)
        self.assertEqual((errors, warnings), ([], []))
        self.assertEqual((p.context, p.qualify, p.nat), ("phones", 2000, NAT_OFF))
        self.assertEqual(p.codecs, ("ulaw", "alaw", "h263", "g722"))
        self.assertTrue(p.contactacl.allows("192.0.2.7"))
        self.assertFalse(p.contactacl.allows("198.51.100.7"))
        self.assertTrue(p.acl.allows("198.51.100.7"))

    def test_allowtransfer_defaults_to_yes_and_inherits_from_general(self) -> None:
        p, errors, warnings = peer("[p]\ntype=friend\nhost=dynamic\n")
        self.assertEqual((errors, warnings, p.allowtransfer), ([], [], True))
        p, errors, warnings = peer("[general]\nallowtransfer=no\n[p]\ntype=friend\nhost=dynamic\n")
        self.assertEqual((errors, warnings, p.allowtransfer), ([], [], False))
        p, _, _ = peer("[general]\nallowtransfer=no\n[p]\ntype=friend\nallowtransfer=yes\n")
        self.assertTrue(p.allowtransfer)

    def test_types(self) -> None:
        config, _, warnings = load(
            "[f]\ntype=friend\n[pe]\ntype=Peer\n[u]\ntype=user\n[x]\ntype=sometimes\n[y]\nhost=dynamic\n"
        )
        flags = {n: (p.type, p.is_peer, p.is_user) for n, p in config.peers.items()}
        self.assertEqual(
            flags,
            {"f": ("friend", True, True), "pe": ("peer", True, False), "u": ("user", False, True)},
        )
        self.assertEqual(
            warnings,
            [
                "sip.conf:8: [x] unknown type 'sometimes' (expected friend, peer or user); "
                "section skipped",
                "sip.conf:9: [y] section lacks type; skipped",
            ],
        )

    def test_options_of_a_skipped_section_are_not_checked(self) -> None:
        _, errors, _ = load("[y]\nqualify=maybe\n")
        self.assertEqual(errors, [])

    def test_duplicate_device_later_wins(self) -> None:
        config, _, warnings = load("[p]\ntype=friend\nsecret=a\n[p]\ntype=friend\nsecret=b\n")
        self.assertEqual(config.peers["p"].secret, "b")
        self.assertEqual(
            warnings,
            [
                "sip.conf:4: [p] device defined again (first at sip.conf:1); this definition "
                "replaces it"
            ],
        )

    def test_static_host_and_port(self) -> None:
        p, errors, _ = peer("[p]\ntype=peer\nhost=192.0.2.10\nport=5062\ndefaultuser=100\n")
        self.assertEqual(errors, [])
        self.assertEqual(
            (p.dynamic, p.host, p.port, p.defaultuser), (False, "192.0.2.10", 5062, "100")
        )
        p, _, _ = peer(
            "[general]\ntlsenable=yes\ntlscertfile=dtls-cert.pem\n[p]\ntype=peer\nhost=dynamic\ndefaultip=192.0.2.3\ntransport=tls,udp\n"
        )
        self.assertEqual((p.dynamic, p.host, p.defaultip, p.port), (True, None, "192.0.2.3", 5061))
        _, errors, _ = peer("[p]\ntype=peer\nhost=192.0.2.10:5062\n")
        self.assertEqual(
            errors,
            [
                "sip.conf:3: [p] option 'host': expected dynamic, or a host name or IP address "
                "without :port, got '192.0.2.10:5062'"
            ],
        )

    def test_username_is_a_deprecated_defaultuser(self) -> None:
        p, _, warnings = peer("[p]\ntype=friend\nusername=6001\n")
        self.assertEqual(p.defaultuser, "6001")
        self.assertEqual(
            warnings, ["sip.conf:3: [p] option 'username' is deprecated, use 'defaultuser'"]
        )

    def test_error_in_a_template_is_reported_once_at_the_template(self) -> None:
        _, errors, warnings = load(
            "[t](!)\ntype=friend\nqualify=maybe\ncallgroup=1\n[a](t)\n[b](t)\n"
        )
        self.assertEqual(
            errors,
            ["sip.conf:3: [t] option 'qualify': expected yes, no or a number of ms, got 'maybe'"],
        )
        self.assertEqual(
            warnings, ["sip.conf:4: [t] option 'callgroup' is not supported by pbx and is ignored"]
        )

    def test_authentication_section(self) -> None:
        config, errors, warnings = load(
            "[authentication]\nauth=me:pw@provider.example\nauth=broken\n"
        )
        self.assertEqual(dict(config.peers), {})
        self.assertEqual(
            errors,
            [
                "sip.conf:3: [authentication] option 'auth': expected user:secret@realm or "
                "user#md5secret@realm, got 'broken'"
            ],
        )
        self.assertEqual(warnings, [])
        config, _, _ = load(
            "[authentication]\nauth=me:pw@provider.example\nauth=op#0123abcd@other.example\n"
        )
        self.assertEqual(
            [(a.user, a.secret, a.md5, a.realm) for a in config.authentication],
            [("me", "pw", False, "provider.example"), ("op", "0123abcd", True, "other.example")],
        )


class TransportTests(SynchronousTestCase):
    def test_tcp_and_tls_dropped_when_their_listener_is_off(self) -> None:
        p, errors, warnings = peer("[p]\ntype=friend\ntransport=tls,udp,tcp\n")
        self.assertEqual(errors, [])
        self.assertEqual(p.transports, (T.UDP,))
        self.assertEqual(
            warnings,
            [
                "sip.conf:3: [p] transport 'tls' dropped: tlsenable is off in [general]",
                "sip.conf:3: [p] transport 'tcp' dropped: tcpenable is off in [general]",
            ],
        )

    def test_nothing_left_is_an_error(self) -> None:
        _, errors, _ = load("[p]\ntype=friend\ntransport=tcp\n")
        self.assertEqual(errors, ["sip.conf:3: [p] no usable transport left of transport=tcp"])

    def test_kept_when_enabled(self) -> None:
        p, _, warnings = peer("[general]\ntcpenable=yes\n[p]\ntype=friend\ntransport=tcp,udp,ws\n")
        self.assertEqual((p.transports, warnings), ((T.TCP, T.UDP, T.WS), []))

    def test_max_contacts(self) -> None:
        config, _, _ = load(
            "[udp]\ntype=friend\n[ws]\ntype=friend\ntransport=udp,ws\n[web]\ntype=friend\nwebrtc=yes\n"
            "[own]\ntype=friend\ntransport=wss\nmax_contacts=2\n"
        )
        self.assertEqual(
            {n: p.max_contacts for n, p in config.peers.items()},
            {"udp": 1, "ws": 5, "web": 5, "own": 2},
        )
        config, _, _ = load("[general]\nmax_contacts=3\n[ws]\ntype=friend\ntransport=ws\n")
        self.assertEqual(config.peers["ws"].max_contacts, 3)


class WebrtcTests(SynchronousTestCase):
    def test_expansion(self) -> None:
        p, errors, warnings = peer(
            "[general]\nnat=force_rport,comedia\n[p]\ntype=friend\nwebrtc=yes\n"
        )
        self.assertEqual((errors, warnings), ([], []))
        self.assertEqual(
            (p.webrtc, p.avpf, p.icesupport, p.rtcp_mux, p.dtlsenable, p.encryption),
            (True, True, True, True, True, True),
        )
        self.assertEqual((p.dtlssetup, p.dtlsautogeneratecert), ("actpass", True))
        self.assertEqual(p.nat, NAT_SYMMETRIC)
        self.assertEqual(p.max_contacts, 5)

    def test_explicit_options_win_also_from_templates(self) -> None:
        text = (
            "[general]\nnat=no\navpf=no\n"
            "[tpl](!)\ndtlssetup=passive\n"
            "[p](tpl)\ntype=friend\nwebrtc=yes\nencryption=no\nnat=no\n"
            "dtlscertfile=dtls-cert.pem\ndtlsprivatekey=dtls-key.pem\n"
        )
        p, errors, warnings = peer(text)
        self.assertEqual((errors, warnings), ([], []))
        self.assertEqual(p.dtlssetup, "passive")  # set by the template
        self.assertFalse(p.encryption)
        self.assertEqual(p.nat, NAT_OFF)
        self.assertTrue(p.avpf)  # [general] is only a default: webrtc overrides it
        self.assertEqual((p.dtlscertfile, p.dtlsautogeneratecert), (CERT, False))

    def test_webrtc_nat_differing_from_general_warns(self) -> None:
        _, _, warnings = peer("[p]\ntype=friend\nwebrtc=yes\n")
        self.assertEqual(
            warnings,
            [
                "sip.conf:1: [p] nat=force_rport,comedia differs from [general] "
                "nat=auto_force_rport: "
                "replies to known and unknown names go to different ports, which lets an attacker "
                "discover device names; set nat in [general] only"
            ],
        )

    def test_webrtc_is_a_device_option(self) -> None:
        _, _, warnings = load("[general]\nwebrtc=yes\n")
        self.assertEqual(
            warnings,
            [
                "sip.conf:2: [general] option 'webrtc' is only valid in a device section; ignored "
                "here"
            ],
        )


class CrossCheckTests(SynchronousTestCase):
    def test_autogenerated_certificate_conflicts_with_a_file(self) -> None:
        _, errors, _ = load(
            "[p]\ntype=friend\ndtlsenable=yes\ndtlscertfile=dtls-cert.pem\ndtlsautogeneratecert=yes\n"
        )
        self.assertEqual(
            errors, ["sip.conf:5: [p] dtlsautogeneratecert=yes conflicts with dtlscertfile"]
        )

    def test_unreadable_certificate_is_reported_once(self) -> None:
        _, errors, _ = load(
            "[general]\ndtlscertfile=nothere.pem\n[a]\ntype=friend\n[b]\ntype=friend\n"
        )
        self.assertEqual(
            errors,
            [f"sip.conf:2: [general] cannot read dtlscertfile '{DATA}/nothere.pem': no such file"],
        )

    def test_dtls_without_any_certificate(self) -> None:
        _, _, warnings = load("[p]\ntype=friend\ndtlsenable=yes\n")
        self.assertEqual(
            warnings,
            [
                "sip.conf:1: [p] dtlsenable=yes without dtlscertfile or dtlsautogeneratecert=yes: "
                "DTLS calls will fail"
            ],
        )

    def test_rtp_timeouts(self) -> None:
        _, _, warnings = load("[p]\ntype=friend\nrtptimeout=60\nrtpholdtimeout=60\n")
        self.assertEqual(
            warnings, ["sip.conf:4: [p] rtpholdtimeout (60) should be larger than rtptimeout (60)"]
        )
        _, _, warnings = load("[p]\ntype=friend\nrtptimeout=60\nrtpholdtimeout=300\n")
        self.assertEqual(warnings, [])

    def test_nat_per_device(self) -> None:
        _, _, warnings = load("[general]\nnat=force_rport\n[p]\ntype=friend\nnat=force_rport\n")
        self.assertEqual(warnings, [])
        _, _, warnings = load("[p]\ntype=friend\nnat=comedia\n")
        self.assertEqual(len(warnings), 1)
        self.assertTrue(
            warnings[0].startswith(
                "sip.conf:3: [p] nat=comedia differs from [general] nat=auto_force_rport"
            )
        )

    def test_values_pbx_honours_load_silently(self) -> None:
        _, errors, warnings = load(
            "[general]\nsession-timers=refuse\ncallcounter=yes\n"
            "[p]\ntype=friend\nencryption_taglen=80\nforce_avp=no\ndtlsverify=fingerprint\n"
            "rtpkeepalive=0\nsession-timers=refuse\ncallcounter=yes\n"
        )
        self.assertEqual((errors, warnings), ([], []))

    def test_other_values_warn_where_written_saying_what_pbx_does(self) -> None:
        _, errors, warnings = load(
            "[general]\nsession-timers=accept\ncallcounter=no\n"
            "[t](!)\ndtlsverify=certificate\n"
            "[a](t)\ntype=friend\nforce_avp=yes\n"
            "[b](t)\ntype=friend\nrtpkeepalive=15\nsession-timers=originate\n"
        )
        self.assertEqual(errors, [])
        self.assertEqual(
            warnings,
            [
                "sip.conf:2: [general] session-timers=accept: pbx implements no RFC 4028 "
                "session timers (it ignores Session-Expires and never refreshes), as with refuse",
                "sip.conf:3: [general] callcounter=no: pbx always counts every device's calls",
                "sip.conf:5: [t] dtlsverify=certificate: pbx verifies DTLS peers by fingerprint "
                "only (the certificate must match a=fingerprint)",
                "sip.conf:8: [a] force_avp=yes: pbx always offers UDP/TLS/RTP/SAVP(F) with DTLS",
                "sip.conf:11: [b] rtpkeepalive=15: pbx sends no RTP keepalive packets",
                "sip.conf:12: [b] session-timers=originate: pbx implements no RFC 4028 session "
                "timers (it ignores Session-Expires and never refreshes), as with refuse",
            ],
        )

    def test_encryption_taglen_32_or_80_from_general_or_the_device(self) -> None:
        config, errors, warnings = load(
            "[general]\nencryption_taglen=32\n"
            "[a]\ntype=friend\n[b]\ntype=friend\nencryption_taglen=80\n"
        )
        self.assertEqual((errors, warnings), ([], []))
        self.assertEqual(config.general.guest.encryption_taglen, 32)
        taglens = {name: p.encryption_taglen for name, p in config.peers.items()}
        self.assertEqual(taglens, {"a": 32, "b": 80})
        self.assertEqual(peer("[p]\ntype=friend\n")[0].encryption_taglen, 80)
        self.assertEqual(
            peer("[p]\ntype=friend\nencryption_taglen = 32\n")[0].encryption_taglen, 32
        )

    def test_encryption_taglen_other_values_are_errors_at_their_line(self) -> None:
        _, errors, warnings = load(
            "[general]\nencryption_taglen=4\n[p]\ntype=friend\nencryption_taglen=64\n"
            "[q]\ntype=friend\nencryption_taglen=yes\n"
        )
        self.assertEqual(warnings, [])
        self.assertEqual(
            errors,
            [
                "sip.conf:2: [general] option 'encryption_taglen': expected 32 or 80, got '4'",
                "sip.conf:5: [p] option 'encryption_taglen': expected 32 or 80, got '64'",
                "sip.conf:8: [q] option 'encryption_taglen': expected 32 or 80, got 'yes'",
            ],
        )

    def test_a_device_that_restores_the_honoured_value_is_silent(self) -> None:
        _, _, warnings = load(
            "[general]\ndtlsverify=no\n[a]\ntype=friend\n[b]\ntype=friend\ndtlsverify=fingerprint\n"
        )
        self.assertEqual(
            warnings,
            [
                "sip.conf:2: [general] dtlsverify=no: pbx verifies DTLS peers by fingerprint "
                "only (the certificate must match a=fingerprint)"
            ],
        )

    def test_options_without_effect_warn_as_unsupported(self) -> None:
        _, errors, warnings = load(
            "[general]\nqualifygap=100\nsession-expires=1800\n"
            "[p]\ntype=friend\nsession-minse=60\nsession-refresher=uac\n"
            "dtlscafile=/nonexistent/ca.pem\ndtlscipher=HIGH\n"
        )
        self.assertEqual(errors, [])
        self.assertEqual(
            warnings,
            [
                f"sip.conf:{line}: [{section}] option '{name}' is not supported by pbx and is "
                "ignored"
                for line, section, name in (
                    (2, "general", "qualifygap"),
                    (3, "general", "session-expires"),
                    (6, "p", "session-minse"),
                    (7, "p", "session-refresher"),
                    (8, "p", "dtlscafile"),
                    (9, "p", "dtlscipher"),
                )
            ],
        )

    def test_directmedia_warns_only_where_written(self) -> None:
        _, _, warnings = load("[p]\ntype=friend\n")
        self.assertEqual(warnings, [])
        _, _, warnings = load(
            "[t](!)\ntype=friend\ncanreinvite=yes\n[a](t)\n[b](t)\n[c]\ntype=friend\ndirectmedia=no\n"
        )
        self.assertEqual(
            warnings, ["sip.conf:3: [t] directmedia=yes is treated as no: pbx always anchors media"]
        )
        _, _, warnings = load("[general]\ndirectmedia=nonat\n[a]\ntype=friend\n[b]\ntype=friend\n")
        self.assertEqual(
            warnings,
            ["sip.conf:2: [general] directmedia=nonat is treated as no: pbx always anchors media"],
        )

    def test_no_codec_left(self) -> None:
        _, _, warnings = load("[p]\ntype=friend\ndisallow=all\n")
        self.assertEqual(
            warnings,
            [
                "sip.conf:1: [p] no codec allowed (disallow=all without allow): every call fails "
                "with 488"
            ],
        )


class RegisterTests(SynchronousTestCase):
    def test_lines_options_and_defaults(self) -> None:
        config, errors, warnings = load(
            "[general]\ntcpenable=yes\n"
            "register => 4930123:pw@sip.example.net/100\n"
            "register => trunk?tcp://office@198.51.100.7~600\n"
            "registertimeout=30\nregisterattempts=5\nregister_retry_403=yes\n"
            "[trunk]\ntype=peer\nhost=198.51.100.7\n"
        )
        self.assertEqual((errors, warnings), ([], []))
        g = config.general
        self.assertEqual(
            [(r.peer, r.user, r.host, r.extension, r.expiry) for r in g.registrations],
            [(None, "4930123", "sip.example.net", "100", None), ("trunk", "office",
             "198.51.100.7", None, 600)],
        )  # fmt: skip
        self.assertEqual((g.registertimeout, g.registerattempts, g.register_retry_403),
                         (30, 5, True))  # fmt: skip

    def test_defaults(self) -> None:
        g = load("[general]\n")[0].general
        self.assertEqual(
            (g.registrations, g.registertimeout, g.registerattempts, g.register_retry_403),
            ((), 20, 0, False),
        )

    def test_errors_name_the_line(self) -> None:
        _, errors, _ = load(
            "[general]\n"
            "register => sip.example.net\n"
            "register => nobody?u@host\n"
            "register => phone?u@host\n"
            "registertimeout=0\n"
            "[phone]\ntype=user\n"
        )
        self.assertEqual(
            errors,
            [
                "sip.conf:2: [general] option 'register': expected "
                "[peer?][transport://]user[@domain][:secret[:authuser]]@host[:port][/extension]"
                "[~expiry]",
                "sip.conf:3: [general] register names peer 'nobody', which is not defined",
                "sip.conf:4: [general] register names 'phone', a type=user (not callable)",
                "sip.conf:5: [general] option 'registertimeout': expected a whole "
                "number of seconds >= 1, got '0'",
            ],
        )

    def test_stream_transport_needs_its_listener(self) -> None:
        _, errors, warnings = load("[general]\nregister => tls://u@host\n")
        self.assertEqual(
            (errors, warnings),
            (
                [],
                [
                    "sip.conf:2: [general] register over tls needs tlsenable=yes; "
                    "this registration will fail"
                ],
            ),
        )

    def test_register_is_general_only(self) -> None:
        config, errors, warnings = load("[p]\ntype=peer\nhost=192.0.2.1\nregister => u@host\n")
        self.assertEqual(
            (errors, warnings),
            ([], ["sip.conf:4: [p] option 'register' is only valid in [general]; ignored here"]),
        )
        self.assertEqual(config.general.registrations, ())
