"""Tests for pbx.config.sip_values: nat, insecure, callerid and the other sip.conf value types."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from pbx.config import sip_values as v
from pbx.config.parsers import OptionValueError, ParseContext, ValueType
from pbx.config.sip_values import AuthCredential, CallerId, Insecure, Nat
from pbx.core.addr import TransportKind


def parse(vt: ValueType[object], text: str) -> object:
    return vt.parse(text, ParseContext("/cfg"))


def nat(force_rport: bool, comedia: bool, auto_force_rport: bool, auto_comedia: bool) -> Nat:
    return Nat(force_rport, comedia, auto_force_rport, auto_comedia)


# ASTERISK-REFERENCE §1.5: (value, force_rport, comedia, auto_force_rport, auto_comedia)
NAT_TABLE: list[tuple[str, Nat]] = [
    ("no", nat(False, False, False, False)),
    ("force_rport", nat(True, False, False, False)),
    ("comedia", nat(False, True, False, False)),
    ("force_rport,comedia", nat(True, True, False, False)),
    (" Force_Rport , COMEDIA ", nat(True, True, False, False)),
    ("auto_force_rport", nat(False, False, True, False)),
    ("auto_comedia", nat(False, False, False, True)),
    ("auto_force_rport,auto_comedia", nat(False, False, True, True)),
    # auto_X cancels X, in either order.
    ("force_rport,auto_force_rport", nat(False, False, True, False)),
    ("auto_comedia,comedia", nat(False, False, False, True)),
    ("force_rport,auto_comedia", nat(True, False, False, True)),
    # no / yes anywhere win; the first of them decides.
    ("force_rport,no", nat(False, False, False, False)),
    ("comedia,yes", nat(True, True, False, False)),
    ("no,yes", nat(False, False, False, False)),
    ("yes,no", nat(True, True, False, False)),
]


class NatTests(SynchronousTestCase):
    def test_table(self) -> None:
        for text, expected in NAT_TABLE:
            self.assertEqual(parse(v.NAT_VALUE, text), expected, text)

    def test_default_is_auto_force_rport(self) -> None:
        self.assertEqual(Nat(), nat(False, False, True, False))
        self.assertEqual(str(Nat()), "auto_force_rport")
        self.assertEqual(str(v.NAT_OFF), "no")
        self.assertEqual(str(v.NAT_SYMMETRIC), "force_rport,comedia")

    def test_yes_is_deprecated(self) -> None:
        ctx = ParseContext("/cfg")
        v.NAT_VALUE.parse("yes", ctx)
        self.assertEqual(ctx.notes, ["nat=yes is deprecated, use nat=force_rport,comedia"])
        ctx = ParseContext("/cfg")
        v.NAT_VALUE.parse("force_rport,comedia", ctx)
        self.assertEqual(ctx.notes, [])

    def test_bad_words(self) -> None:
        for bad in ("route", "force_rport,always", "", ","):
            with self.assertRaises(ValueError) as cm:
                parse(v.NAT_VALUE, bad)
            self.assertEqual(
                str(cm.exception),
                "expected a comma list of no, yes, force_rport, comedia, auto_force_rport or "
                "auto_comedia",
            )


class InsecureTests(SynchronousTestCase):
    def test_values(self) -> None:
        self.assertEqual(parse(v.INSECURE_VALUE, "port"), Insecure(port=True))
        self.assertEqual(parse(v.INSECURE_VALUE, "invite"), Insecure(invite=True))
        self.assertEqual(parse(v.INSECURE_VALUE, "port,invite"), Insecure(True, True))
        self.assertEqual(parse(v.INSECURE_VALUE, "no"), Insecure())

    def test_very_is_gone(self) -> None:
        with self.assertRaises(OptionValueError) as cm:
            parse(v.INSECURE_VALUE, "very")
        self.assertEqual(
            str(cm.exception),
            "insecure=very was removed in Asterisk 1.6; write insecure=port,invite",
        )
        with self.assertRaises(ValueError):
            parse(v.INSECURE_VALUE, "portt")


class CallerIdTests(SynchronousTestCase):
    def test_forms(self) -> None:
        cases = [
            ('"Desk One" <201>', CallerId("Desk One", "201")),
            ("Desk One <201>", CallerId("Desk One", "201")),
            ("<+49 (30) 1234-56>", CallerId("", "+4930123456")),
            ("201", CallerId("", "201")),
            ("Reception", CallerId("Reception", "")),
            ('"Alice"', CallerId("Alice", "")),
            ("", CallerId("", "")),
        ]
        for text, expected in cases:
            self.assertEqual(v.parse_callerid(text), expected, text)


class SimpleValueTests(SynchronousTestCase):
    def test_transports(self) -> None:
        self.assertEqual(
            parse(v.TRANSPORTS_VALUE, "WS, wss,ws"), (TransportKind.WS, TransportKind.WSS)
        )
        with self.assertRaises(ValueError) as cm:
            parse(v.TRANSPORTS_VALUE, "udp,sctp")
        self.assertEqual(str(cm.exception), "expected a comma list of udp, tcp, tls, ws or wss")

    def test_qualify(self) -> None:
        for text, expected in (("yes", 2000), ("no", None), ("0", None), ("1", 1), ("500", 500)):
            self.assertEqual(parse(v.QUALIFY_VALUE, text), expected, text)
        with self.assertRaises(ValueError) as cm:
            parse(v.QUALIFY_VALUE, "-5")
        self.assertEqual(str(cm.exception), "expected yes, no or a number of ms")

    def test_keepalive(self) -> None:
        for text, expected in (("yes", 60), ("no", 0), ("30", 30)):
            self.assertEqual(parse(v.KEEPALIVE_VALUE, text), expected, text)
        with self.assertRaises(ValueError):
            parse(v.KEEPALIVE_VALUE, "often")

    def test_directmedia(self) -> None:
        for text, expected in (
            ("yes", True),
            ("no", False),
            ("nonat", True),
            ("update,nonat", True),
            ("outgoing", True),
        ):
            self.assertEqual(parse(v.DIRECTMEDIA_VALUE, text), expected, text)
        with self.assertRaises(ValueError):
            parse(v.DIRECTMEDIA_VALUE, "update,sometimes")

    def test_dtmfmode_falls_back_to_rfc2833(self) -> None:
        ctx = ParseContext("/cfg")
        self.assertEqual(v.DTMFMODE_VALUE.parse("INFO", ctx), "info")
        self.assertEqual(v.DTMFMODE_VALUE.parse("rfc4733", ctx), "rfc2833")
        self.assertEqual(ctx.notes, ["unknown dtmf mode 'rfc4733', using rfc2833"])

    def test_setvar_md5secret_taglen_host(self) -> None:
        self.assertEqual(parse(v.SETVAR_VALUE, "FOO = a=b"), ("FOO", "a=b"))
        with self.assertRaises(ValueError):
            parse(v.SETVAR_VALUE, "FOO")
        digest = "0123456789ABCDEF0123456789abcdef"
        self.assertEqual(parse(v.MD5SECRET_VALUE, digest), digest.lower())
        with self.assertRaises(ValueError):
            parse(v.MD5SECRET_VALUE, "secret")
        self.assertEqual(parse(v.TAGLEN_VALUE, "32"), 32)
        with self.assertRaises(ValueError):
            parse(v.TAGLEN_VALUE, "64")
        self.assertEqual(parse(v.PEER_HOST_VALUE, "Dynamic"), "dynamic")
        self.assertEqual(parse(v.PEER_HOST_VALUE, "192.0.2.5"), "192.0.2.5")
        with self.assertRaises(ValueError) as cm:
            parse(v.PEER_HOST_VALUE, "192.0.2.5:5062")
        self.assertEqual(
            str(cm.exception), "expected dynamic, or a host name or IP address without :port"
        )
        self.assertEqual(parse(v.HOSTPORT_VALUE, "pbx.lab:5070"), "pbx.lab:5070")
        with self.assertRaises(ValueError):
            parse(v.HOSTPORT_VALUE, "pbx lab")

    def test_auth(self) -> None:
        self.assertEqual(
            parse(v.AUTH_VALUE, "me:pa:ss@sip.example"),
            AuthCredential("me", "pa:ss", False, "sip.example"),
        )
        self.assertEqual(
            parse(v.AUTH_VALUE, "me#0123@sip.example"),
            AuthCredential("me", "0123", True, "sip.example"),
        )
        for bad in ("me:pass", "me@realm", ":x@realm"):
            with self.assertRaises(ValueError, msg=bad):
                parse(v.AUTH_VALUE, bad)


R = v.Registration
UDP, TCP, TLS = TransportKind.UDP, TransportKind.TCP, TransportKind.TLS

# Real-world register => lines (provider how-tos, chan_sip's sip.conf.sample) and what they mean:
# (line, peer, transport, user, domain, secret, authuser, host, port, extension, expiry)
REGISTER_TABLE: list[tuple[str, tuple[object, ...]]] = [
    ("1234:password@mysipprovider.com",
     (None, None, "1234", None, "password", None, "mysipprovider.com", None, None, None)),
    ("2345:password@mysipprovider.com/1234",
     (None, None, "2345", None, "password", None, "mysipprovider.com", None, "1234", None)),
    ("tls://username:xxxxxx@sip-tls-proxy.example.org",
     (None, TLS, "username", None, "xxxxxx", None, "sip-tls-proxy.example.org", None, None,
      None)),
    ("user@domain:secret:authuser@host:5070/extension~3600",
     (None, None, "user", "domain", "secret", "authuser", "host", 5070, "extension", 3600)),
    ("my-provider?tcp://4930123:pw@sip.example.net:5080/100",
     ("my-provider", TCP, "4930123", None, "pw", None, "sip.example.net", 5080, "100", None)),
    ("udp://office:office-pw@127.0.0.1:5060/100",
     (None, UDP, "office", None, "office-pw", None, "127.0.0.1", 5060, "100", None)),
    ("office:p@ss@[2001:db8::1]:5062/200~90",
     (None, None, "office", None, "p@ss", None, "2001:db8::1", 5062, "200", 90)),
    ("office@[2001:db8::1]",
     (None, None, "office", None, "", None, "2001:db8::1", None, None, None)),
    ("  +4930123@sip.example.net ",
     (None, None, "+4930123", None, "", None, "sip.example.net", None, None, None)),
]  # fmt: skip

REGISTER_ERRORS = [
    ("sip.example.net", "expected [peer?][transport://]user[@domain][:secret[:authuser]]"
     "@host[:port][/extension][~expiry]"),
    (":secret@sip.example.net", "missing user name before '@host'"),
    ("ws://u@host", "unknown transport 'ws://': expected udp, tcp or tls"),
    ("u@host~soon", "bad ~expiry 'soon': expected a whole number >= 1"),
    ("u@host~0", "bad ~expiry '0': expected a whole number >= 1"),
    ("?u@host", "empty peer name before '?'"),
    ("u@host/", "empty extension after '/'"),
    ("u@host:99999", "bad host 'host:99999': expected a host name or IP address with an "
     "optional :port"),
    ("u@[2001:db8::1", "bad host '[2001:db8::1': expected a host name or IP address with an "
     "optional :port"),
    ("u@bad_host!", "bad host 'bad_host!': expected a host name or IP address with an "
     "optional :port"),
]  # fmt: skip


class RegistrationTests(SynchronousTestCase):
    def test_real_world_lines(self) -> None:
        for line, fields in REGISTER_TABLE:
            parsed = parse(v.REGISTRATION_VALUE, line)
            self.assertEqual(parsed, R(*fields, line.strip()), line)  # type: ignore[arg-type, call-arg]

    def test_errors(self) -> None:
        for line, message in REGISTER_ERRORS:
            with self.assertRaises(OptionValueError, msg=line) as caught:
                parse(v.REGISTRATION_VALUE, line)
            self.assertEqual(str(caught.exception), message, line)
