"""SIP URIs and name-addr values (pbx.sip.uri; RFC 3261 §19.1, §20.10, RFC 5118)."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from pbx.sip.grammar import SipParseError
from pbx.sip.uri import AbsoluteUri, NameAddr, SipUri, parse_uri

_UNUSUAL_USER = "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"
_UNUSUAL_PASSWORD = "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"


class SipUriParseTests(SynchronousTestCase):
    # text -> (scheme, user, password, host, port, params, headers)
    VALID: list[tuple[str, tuple[object, ...]]] = [
        ("sip:alice@example.com", ("sip", "alice", None, "example.com", None, {}, {})),
        ("SIP:alice@Example.COM", ("sip", "alice", None, "Example.COM", None, {}, {})),
        ("sip:example.com", ("sip", None, None, "example.com", None, {}, {})),
        (
            "sips:alice:secret@example.com:5061;Transport=TCP;lr?Subject=hi&Priority=urgent",
            (
                "sips",
                "alice",
                "secret",
                "example.com",
                5061,
                {"transport": "TCP", "lr": None},
                {"Subject": "hi", "Priority": "urgent"},
            ),
        ),
        ("sip:[2001:db8::10]", ("sip", None, None, "2001:db8::10", None, {}, {})),
        ("sip:[2001:db8::10]:5070", ("sip", None, None, "2001:db8::10", 5070, {}, {})),
        # RFC 5118 §4.3: parses, the port is part of the address
        ("sip:[2001:db8::10:5070]", ("sip", None, None, "2001:db8::10:5070", None, {}, {})),
        # RFC 5118 §4.10: the extra colon is tolerated
        (
            "sip:user@[2001:db8:::192.0.2.1]",
            ("sip", "user", None, "2001:db8:::192.0.2.1", None, {}, {}),
        ),
        (
            "sip:caller@[::ffff:192.0.2.2]",
            ("sip", "caller", None, "::ffff:192.0.2.2", None, {}, {}),
        ),
        ("sip:192.0.2.1:5060", ("sip", None, None, "192.0.2.1", 5060, {}, {})),
        # escapes are kept as written (RFC 4475 §3.1.1.3/§3.1.1.4)
        ("sip:%75se%72@example.com", ("sip", "%75se%72", None, "example.com", None, {}, {})),
        (
            "sip:null-%00-null@example.com",
            ("sip", "null-%00-null", None, "example.com", None, {}, {}),
        ),
        (
            "sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31",
            (
                "sip",
                "cal%6Cer",
                None,
                "host5.example.net",
                None,
                {"%6c%72": None, "n%61me": "v%61lue%25%34%31"},
                {},
            ),
        ),
        # RFC 4475 §3.1.1.9: ";" inside the user part
        (
            "sip:user;par=u%40example.net@example.com",
            ("sip", "user;par=u%40example.net", None, "example.com", None, {}, {}),
        ),
        # RFC 4475 §3.1.1.2
        (
            f"sip:{_UNUSUAL_USER}:{_UNUSUAL_PASSWORD}@example.com",
            ("sip", _UNUSUAL_USER, _UNUSUAL_PASSWORD, "example.com", None, {}, {}),
        ),
        (
            "sip:+19725552222@gw1.example.net;user=phone;unknownparam",
            (
                "sip",
                "+19725552222",
                None,
                "gw1.example.net",
                None,
                {"user": "phone", "unknownparam": None},
                {},
            ),
        ),
        ("sip:alice@host_1.example", ("sip", "alice", None, "host_1.example", None, {}, {})),
        (
            "sip:user@example.com?Route=%3Csip:sip.example.com%3E",
            ("sip", "user", None, "example.com", None, {}, {"Route": "%3Csip:sip.example.com%3E"}),
        ),
        (
            "sip:host;maddr=[2001:db8::1]",
            ("sip", None, None, "host", None, {"maddr": "[2001:db8::1]"}, {}),
        ),
    ]

    INVALID = [
        "sip:",
        "sip:@example.com",
        "sip:alice@",
        "sip:alice@example.com:99999",
        "sip:alice@example.com:",
        "sip:alice@example.com;",
        "sip:alice@example.com;=x",
        "sip:alice@example.com;a=",
        "sip:alice@example.com;a=<b>",
        "sip:alice@example.com?",
        "sip:alice@example.com?=1",
        "sip:alice@example.com?Subject",
        "sip:2001:db8::10",  # RFC 5118 §4.2
        "sip:alice @example.com",
        "sip:alice@example.com; lr",  # RFC 4475 §3.1.2.8
        '"sip:alice@example.com"',
        "<sip:user@example.com>",  # RFC 4475 §3.1.2.7
        "sip:[zz::1]",
        "tel:+15551234",
        "alice@example.com",
    ]

    def test_valid(self) -> None:
        for text, expected in self.VALID:
            uri = SipUri.parse(text)
            got = (uri.scheme, uri.user, uri.password, uri.host, uri.port, uri.params, uri.headers)
            self.assertEqual(got, expected, text)
            self.assertEqual(parse_uri(text), uri, text)

    def test_invalid(self) -> None:
        for text in self.INVALID:
            with self.assertRaises(SipParseError, msg=text) as cm:
                SipUri.parse(text)
            self.assertEqual(cm.exception.message, f"Malformed URI '{text}'")
            self.assertEqual(cm.exception.response_hint, 400)


class SipUriBehaviourTests(SynchronousTestCase):
    def test_str(self) -> None:
        for text in (
            "sip:alice@example.com",
            "sips:alice:secret@example.com:5061;transport=TCP;lr?Subject=hi&Priority=urgent",
            "sip:[2001:db8::10]:5070;maddr=[2001:db8::1]",
            "sip:example.com",
        ):
            self.assertEqual(str(SipUri.parse(text)), text)
        self.assertEqual(str(SipUri.parse("SIP:a@h;LR")), "sip:a@h;lr")

    def test_built(self) -> None:
        uri = SipUri("sip", "::1", "alice", port=5060, params={"transport": "ws"})
        self.assertEqual(str(uri), "sip:alice@[::1]:5060;transport=ws")
        self.assertEqual(uri.host_port(), "[::1]:5060")
        self.assertEqual(SipUri("sip", "example.com").host_port(), "example.com")

    def test_transport_is_lower_cased(self) -> None:
        self.assertEqual(SipUri.parse("sip:a@h;transport=WS").transport, "ws")
        self.assertIsNone(SipUri.parse("sip:a@h").transport)
        self.assertIsNone(SipUri.parse("sip:a@h;transport").transport)

    def test_aor_unescapes_user_and_lowers_host(self) -> None:
        self.assertEqual(
            SipUri.parse("sip:%61lice@Example.COM:5060;transport=ws").aor(), "sip:alice@example.com"
        )
        self.assertEqual(SipUri.parse("sips:Example.com").aor(), "sips:example.com")


class ParseUriTests(SynchronousTestCase):
    def test_other_schemes_are_kept_verbatim(self) -> None:
        for text, scheme in (
            ("tel:+1-201-555-0123", "tel"),
            ("TEL:123", "tel"),
            ("urn:service:sos", "urn"),
            (
                "nobodyKnowsThisScheme:totallyopaquecontent",
                "nobodyknowsthisscheme",
            ),  # RFC 4475 §3.3.2
            ("soap.beep://192.0.2.103:3002", "soap.beep"),  # RFC 4475 §3.3.3
            ("http://www.example.com", "http"),
        ):
            uri = parse_uri(text)
            self.assertEqual(uri, AbsoluteUri(scheme, text))
            self.assertEqual(str(uri), text)

    def test_invalid(self) -> None:
        for text in ("tel:", "1tel:123", "tel:12 34", "tel:<1>", "no-scheme", ""):
            with self.assertRaises(SipParseError, msg=text):
                parse_uri(text)


class NameAddrTests(SynchronousTestCase):
    # text -> (display name, uri text, params)
    VALID: list[tuple[str, tuple[object, ...]]] = [
        (
            '"Alice" <sip:alice@example.com>;tag=abc',
            ("Alice", "sip:alice@example.com", {"tag": "abc"}),
        ),
        ("<sip:alice@example.com>", (None, "sip:alice@example.com", {})),
        ("  <sip:alice@example.com>  ", (None, "sip:alice@example.com", {})),
        ("sip:alice@example.com;tag=x", (None, "sip:alice@example.com", {"tag": "x"})),
        # RFC 4475 §3.1.1.1 (values as the header parser hands them over, unfolded)
        (
            "sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n",
            (None, "sip:vivekg@chair-dnrc.example.com", {"tag": "1918181833n"}),
        ),
        (
            '"J Rosenberg \\\\\\""       <sip:jdrosen@example.com> ; tag = 98asjd8',
            ('J Rosenberg \\"', "sip:jdrosen@example.com", {"tag": "98asjd8"}),
        ),
        # RFC 4475 §3.1.1.6: no LWS before "<"
        (
            "caller<sip:caller@example.com>;tag=323",
            ("caller", "sip:caller@example.com", {"tag": "323"}),
        ),
        ("Alice Smith <sip:a@b>", ("Alice Smith", "sip:a@b", {})),
        # RFC 4475 §3.1.2.15: unquoted non-token display names are accepted, as chan_sip does
        (
            "Bell, Alexander <sip:a.g.bell@example.com>;tag=43",
            ("Bell, Alexander", "sip:a.g.bell@example.com", {"tag": "43"}),
        ),
        ('"" <sip:a@b>', (None, "sip:a@b", {})),
        (
            "<sip:mmeqpoq9@5mlirg2e8a70.invalid;transport=ws>;+sip.ice;reg-id=1;"
            '+sip.instance="<urn:uuid:e09557e5-0534-4766-b41f-c98c247d7814>";expires=300',
            (
                None,
                "sip:mmeqpoq9@5mlirg2e8a70.invalid;transport=ws",
                {
                    "+sip.ice": None,
                    "reg-id": "1",
                    "+sip.instance": '"<urn:uuid:e09557e5-0534-4766-b41f-c98c247d7814>"',
                    "expires": "300",
                },
            ),
        ),
        # RFC 4475 §3.3.12: in addr-spec form the parameter belongs to the header
        (
            "sip:+19725552222@gw1.example.net;unknownparam",
            (None, "sip:+19725552222@gw1.example.net", {"unknownparam": None}),
        ),
        ("isbn:2983792873", (None, "isbn:2983792873", {})),
        ("<name:John_Smith>", (None, "name:John_Smith", {})),
        (
            "<sip:user@example.com?Route=%3Csip:sip.example.com%3E>",
            (None, "sip:user@example.com?Route=%3Csip:sip.example.com%3E", {}),
        ),
    ]

    INVALID = [
        '"Mr. J. User <sip:j.user@example.com>',  # RFC 4475 §3.1.2.6
        '"Alice" sip:alice@example.com',
        "<sip:alice@example.com",
        "Alice <sip:alice@example.com",
        "Alice sip:alice@example.com",
        "sip:user@example.com?Route=%3Csip:sip.example.com%3E",  # RFC 4475 §3.1.2.13
        '"Watson, Thomas" < sip:t.watson@example.org >',  # RFC 4475 §3.1.2.14
        "<sip:alice@example.com>;;;;",  # RFC 4475 §3.1.2.1
        "<sip:alice@example.com> junk",
        "",
    ]

    def test_valid(self) -> None:
        for text, (display, uri, params) in self.VALID:
            na = NameAddr.parse(text)
            self.assertEqual(
                (na.display_name, str(na.uri), na.params), (display, uri, params), text
            )

    def test_invalid(self) -> None:
        for text in self.INVALID:
            with self.assertRaises(SipParseError, msg=text) as cm:
                NameAddr.parse(text)
            self.assertEqual(cm.exception.response_hint, 400)

    def test_tag(self) -> None:
        self.assertEqual(NameAddr.parse("<sip:a@b>;tag=xyz").tag, "xyz")
        self.assertIsNone(NameAddr.parse("<sip:a@b>").tag)

    def test_str_always_uses_angle_brackets(self) -> None:
        self.assertEqual(str(NameAddr.parse("sip:a@b;tag=1;lr")), "<sip:a@b>;tag=1;lr")
        self.assertEqual(str(NameAddr.parse("Alice  <sip:a@b>")), '"Alice" <sip:a@b>')
        self.assertEqual(
            str(NameAddr(SipUri("sip", "example.com", "bob"), 'Bob "B" \\', {"tag": "t"})),
            '"Bob \\"B\\" \\\\" <sip:bob@example.com>;tag=t',
        )
        self.assertEqual(str(NameAddr(AbsoluteUri("tel", "tel:+123"))), "<tel:+123>")
