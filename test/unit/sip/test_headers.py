"""Header multimap and typed header values (pbx.sip.headers; RFC 3261 §7.3, §20)."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from pbx.sip.grammar import SipParseError
from pbx.sip.headers import COMPACT, Auth, CSeq, Headers, Via, canonical_name


class CanonicalNameTests(SynchronousTestCase):
    def test_compact_forms_of_rfc_3261(self) -> None:
        # §7.3.3 (the 3261 ones; the rest are later RFCs)
        for short, long in {
            "i": "Call-ID",
            "m": "Contact",
            "f": "From",
            "t": "To",
            "v": "Via",
            "l": "Content-Length",
            "c": "Content-Type",
            "e": "Content-Encoding",
            "k": "Supported",
            "s": "Subject",
        }.items():
            self.assertEqual(COMPACT[short], long)
            self.assertEqual(canonical_name(short), long)
            self.assertEqual(canonical_name(short.upper()), long)

    def test_later_compact_forms(self) -> None:
        self.assertEqual(
            [canonical_name(c) for c in "ourbxadjyn"],
            [
                "Event",
                "Allow-Events",
                "Refer-To",
                "Referred-By",
                "Session-Expires",
                "Accept-Contact",
                "Request-Disposition",
                "Reject-Contact",
                "Identity",
                "Identity-Info",
            ],
        )

    def test_irregular_spellings(self) -> None:
        for name, canonical in (
            ("call-id", "Call-ID"),
            ("CSEQ", "CSeq"),
            ("www-authenticate", "WWW-Authenticate"),
            ("proxy-authenticate", "Proxy-Authenticate"),
            ("mime-version", "MIME-Version"),
            ("min-se", "Min-SE"),
        ):
            self.assertEqual(canonical_name(name), canonical)

    def test_other_names_get_words_capitalised(self) -> None:
        self.assertEqual(canonical_name("content-length"), "Content-Length")
        self.assertEqual(canonical_name("x-asterisk-HangupCause"), "X-Asterisk-HangupCause")
        self.assertEqual(canonical_name("max-forwards"), "Max-Forwards")


def _received(*lines: str) -> Headers:
    headers, well_formed = Headers.from_lines(lines)
    assert well_formed
    return headers


class HeadersLookupTests(SynchronousTestCase):
    def test_case_insensitive_and_compact_aware(self) -> None:
        h = _received("v: SIP/2.0/UDP a", "CALL-id: x", "l: 0")
        self.assertEqual(h.get("Via"), "SIP/2.0/UDP a")
        self.assertEqual(h.get("V"), "SIP/2.0/UDP a")
        self.assertEqual(h.get("i"), "x")
        self.assertEqual(h.get("content-length"), "0")
        self.assertIsNone(h.get("To"))
        self.assertIn("call-id", h)
        self.assertIn("I", h)
        self.assertNotIn("Contact", h)
        self.assertNotIn(42, h)

    def test_names_and_order_as_received(self) -> None:
        h = _received("v: a", "To: b", "Via: c", "X-Odd-CASE: d")
        self.assertEqual(h.items(), [("v", "a"), ("To", "b"), ("Via", "c"), ("X-Odd-CASE", "d")])
        self.assertEqual(len(h), 4)

    def test_get_all_repeated_and_comma_lists(self) -> None:
        h = _received(
            "Via: SIP/2.0/UDP a;branch=1, SIP/2.0/UDP b",
            "Route: <sip:p1;lr>",
            "v: SIP/2.0/TCP c",
            'Contact: "Bell, A." <sip:a@b>, <sip:c@d;x=1,2>',
            "Allow: INVITE,ACK, BYE",
            "Allow: OPTIONS",
        )
        self.assertEqual(
            h.get_all("Via"), ["SIP/2.0/UDP a;branch=1", "SIP/2.0/UDP b", "SIP/2.0/TCP c"]
        )
        self.assertEqual(h.get_all("m"), ['"Bell, A." <sip:a@b>', "<sip:c@d;x=1,2>"])
        self.assertEqual(h.get_all("Allow"), ["INVITE", "ACK", "BYE", "OPTIONS"])
        self.assertEqual(h.get_all("Supported"), [])

    def test_get_all_keeps_fields_whose_values_hold_commas(self) -> None:
        h = _received(
            'WWW-Authenticate: Digest realm="a", nonce="b", qop="auth,auth-int"',
            'WWW-Authenticate: Digest realm="a", nonce="c", algorithm=SHA-256',
            "Date: Sat, 15 Oct 2005 04:44:56 GMT",
            "From: Bell, Alexander <sip:a@b>;tag=1",
        )
        self.assertEqual(len(h.get_all("WWW-Authenticate")), 2)
        self.assertEqual(h.get_all("Date"), ["Sat, 15 Oct 2005 04:44:56 GMT"])
        self.assertEqual(h.get_all("f"), ["Bell, Alexander <sip:a@b>;tag=1"])


class HeadersFromLinesTests(SynchronousTestCase):
    def test_folding_is_unfolded_in_value_and_kept_in_raw_text(self) -> None:
        # RFC 4475 §3.1.1.1
        h = _received(
            "TO :\r",
            " sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n\r",
            "NewFangledHeader:   newfangled value\r",
            " continued newfangled value\r",
            "Route:",
            "\t<sip:services.example.com;lr>",
            "s :",
        )
        self.assertEqual(
            h.items(),
            [
                ("TO", "sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n"),
                ("NewFangledHeader", "newfangled value continued newfangled value"),
                ("Route", "<sip:services.example.com;lr>"),
                ("s", ""),
            ],
        )
        self.assertEqual(
            h.render(),
            "TO :\r\n sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n\r\n"
            "NewFangledHeader:   newfangled value\r\n continued newfangled value\r\n"
            "Route:\r\n\t<sip:services.example.com;lr>\r\ns :\r\n",
        )

    def test_malformed_lines_are_skipped_and_reported(self) -> None:
        for lines in (
            ["no colon here", "To: a"],
            [" continuation first", "To: a"],
            [": empty name", "To: a"],
        ):
            h, well_formed = Headers.from_lines(lines)
            self.assertFalse(well_formed, lines)
            self.assertEqual(h.items(), [("To", "a")])

    def test_empty_continuation_line(self) -> None:
        self.assertEqual(_received("Subject: hi", " ").items(), [("Subject", "hi")])


class HeadersEditTests(SynchronousTestCase):
    def _headers(self) -> Headers:
        return _received(
            "v: SIP/2.0/UDP a, SIP/2.0/UDP b", "To: <sip:t@x>", "Via: SIP/2.0/UDP c", "l: 0"
        )

    def test_add_appends_with_canonical_name(self) -> None:
        h = Headers()
        h.add("call-id", "x")
        h.add("i", "y")
        self.assertEqual(h.items(), [("Call-ID", "x"), ("Call-ID", "y")])
        self.assertEqual(h.revision, 2)

    def test_edits_are_recorded_per_field(self) -> None:
        h = self._headers()
        start = h.revision
        self.assertFalse(h.edited_since("Via", start))
        h.replace_first("v", "SIP/2.0/UDP z")
        self.assertTrue(h.edited_since("VIA", start))
        self.assertFalse(h.edited_since("To", start))
        mark = h.revision
        h.remove("t")
        self.assertTrue(h.edited_since("To", mark))
        self.assertFalse(h.edited_since("Via", mark))
        h.add("i", "x")
        h.prepend("Route", "<sip:p;lr>")
        h.set("l", "5")
        self.assertEqual(
            [h.edited_since(n, mark) for n in ("Call-ID", "Route", "Content-Length", "From")],
            [True, True, True, False],
        )

    def test_count_counts_fields_not_elements(self) -> None:
        h = self._headers()
        self.assertEqual((h.count("Via"), h.count("t"), h.count("From")), (2, 1, 0))

    def test_constructor_adds(self) -> None:
        self.assertEqual(Headers([("cseq", "1 INVITE")]).items(), [("CSeq", "1 INVITE")])

    def test_prepend_goes_before_the_first_of_its_name(self) -> None:
        h = self._headers()
        h.prepend("Via", "SIP/2.0/WS z")
        self.assertEqual(h.get_all("Via")[0], "SIP/2.0/WS z")
        self.assertEqual(h.items()[0], ("Via", "SIP/2.0/WS z"))
        h.prepend("Record-Route", "<sip:p;lr>")
        self.assertEqual(h.items()[0], ("Record-Route", "<sip:p;lr>"))

    def test_set_replaces_all_at_the_first_position(self) -> None:
        h = self._headers()
        h.set("via", "SIP/2.0/TCP only")
        self.assertEqual(h.items(), [("Via", "SIP/2.0/TCP only"), ("To", "<sip:t@x>"), ("l", "0")])
        h.set("Expires", "60")
        self.assertEqual(h.items()[-1], ("Expires", "60"))

    def test_remove(self) -> None:
        h = self._headers()
        h.remove("VIA")
        self.assertEqual(h.items(), [("To", "<sip:t@x>"), ("l", "0")])
        revision = h.revision
        h.remove("Contact")
        self.assertEqual(len(h), 2)
        self.assertEqual(h.revision, revision + 1)

    def test_remove_first_pops_one_element(self) -> None:
        h = self._headers()
        h.remove_first("Via")
        self.assertEqual(h.get_all("Via"), ["SIP/2.0/UDP b", "SIP/2.0/UDP c"])
        self.assertEqual(h.items()[0], ("v", "SIP/2.0/UDP b"))
        h.remove_first("Via")
        self.assertEqual(h.get_all("Via"), ["SIP/2.0/UDP c"])
        h.remove_first("Via")
        h.remove_first("Via")
        self.assertNotIn("Via", h)
        h.remove_first("Date")  # absent: nothing happens
        self.assertEqual(h.items(), [("To", "<sip:t@x>"), ("l", "0")])

    def test_remove_first_of_a_single_valued_field(self) -> None:
        h = _received('Authorization: Digest a="1", b="2"', 'Authorization: Digest c="3"')
        h.remove_first("Authorization")
        self.assertEqual(h.get_all("Authorization"), ['Digest c="3"'])

    def test_replace_first_keeps_the_rest_of_a_list(self) -> None:
        h = self._headers()
        h.replace_first("Via", "SIP/2.0/UDP a;received=1.2.3.4")
        self.assertEqual(
            h.get_all("Via"), ["SIP/2.0/UDP a;received=1.2.3.4", "SIP/2.0/UDP b", "SIP/2.0/UDP c"]
        )
        h.replace_first("To", "<sip:u@y>")
        self.assertEqual(h.get("To"), "<sip:u@y>")
        h.replace_first("Route", "<sip:r>")
        self.assertNotIn("Route", h)

    def test_render_keeps_raw_text_of_untouched_fields(self) -> None:
        h = _received("v:  SIP/2.0/UDP a ", "To:<sip:t@x>")
        h.add("Max-Forwards", "70")
        self.assertEqual(h.render(), "v:  SIP/2.0/UDP a \r\nTo:<sip:t@x>\r\nMax-Forwards: 70\r\n")


class ViaTests(SynchronousTestCase):
    # text -> (protocol, transport, host, port, params)
    VALID: list[tuple[str, tuple[object, ...]]] = [
        (
            "SIP/2.0/WSS 94sbnb3892jg.invalid;branch=z9hG4bK3777396",
            ("SIP/2.0", "WSS", "94sbnb3892jg.invalid", None, {"branch": "z9hG4bK3777396"}),
        ),
        (
            "SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-d87543-1;rport",
            ("SIP/2.0", "UDP", "127.0.0.1", 5070, {"branch": "z9hG4bK-d87543-1", "rport": None}),
        ),
        ("sip/2.0/udp host", ("SIP/2.0", "UDP", "host", None, {})),
        # RFC 4475 §3.1.1.1 after unfolding
        (
            "SIP  /   2.0 /UDP 192.0.2.2;branch=390skdjuw",
            ("SIP/2.0", "UDP", "192.0.2.2", None, {"branch": "390skdjuw"}),
        ),
        (
            "SIP  / 2.0  / TCP     spindle.example.com   ; branch  =   z9hG4bK9ikj8",
            ("SIP/2.0", "TCP", "spindle.example.com", None, {"branch": "z9hG4bK9ikj8"}),
        ),
        (
            "SIP/2.0/UNKNOWN t4.example.com;branch=z9hG4bKasd0f3en",
            ("SIP/2.0", "UNKNOWN", "t4.example.com", None, {"branch": "z9hG4bKasd0f3en"}),
        ),
        ("SIP/7.0/UDP c.example.com", ("SIP/7.0", "UDP", "c.example.com", None, {})),
        (
            "SIP/2.0/UDP [2001:db8::9:1]:6050;received=[2001:db8::9:255];branch=z9hG4bKas3-111",
            (
                "SIP/2.0",
                "UDP",
                "2001:db8::9:1",
                6050,
                {"received": "[2001:db8::9:255]", "branch": "z9hG4bKas3-111"},
            ),
        ),
        ("SIP/2.0/TCP host : 5061", ("SIP/2.0", "TCP", "host", 5061, {})),
    ]

    INVALID = [
        "SIP/2.0 host",
        "SIP/2.0/UDP",
        "SIP/2.0/UDP host:99999",
        "SIP/2.0/UDP 192.0.2.15;;",  # RFC 4475 §3.1.2.1
        "SIP/2.0/UDP host junk",
        "SIP/2.0/UDP host;branch=",
        "",
    ]

    def test_valid(self) -> None:
        for text, expected in self.VALID:
            via = Via.parse(text)
            self.assertEqual(
                (via.protocol, via.transport, via.host, via.port, via.params), expected, text
            )

    def test_invalid(self) -> None:
        for text in self.INVALID:
            with self.assertRaises(SipParseError, msg=text) as cm:
                Via.parse(text)
            self.assertEqual(cm.exception.message, "Malformed Via header")

    def test_properties(self) -> None:
        via = Via.parse("SIP/2.0/UDP h;branch=z9hG4bK1;rport;received=[::1]")
        self.assertEqual(
            (via.branch, via.rport_requested, via.rport_value, via.received),
            ("z9hG4bK1", True, None, "::1"),
        )
        via = Via.parse("SIP/2.0/UDP h;rport=5062;received=10.0.0.1")
        self.assertEqual(
            (via.branch, via.rport_requested, via.rport_value, via.received),
            (None, True, 5062, "10.0.0.1"),
        )
        via = Via.parse("SIP/2.0/UDP h")
        self.assertEqual((via.rport_requested, via.rport_value, via.received), (False, None, None))

    def test_str(self) -> None:
        self.assertEqual(
            str(Via.parse("SIP  / 2.0 / udp  [::1] : 5060 ; branch = z9hG4bK1 ; rport")),
            "SIP/2.0/UDP [::1]:5060;branch=z9hG4bK1;rport",
        )
        via = Via("WSS", "abc.invalid", params={"branch": "z9hG4bK2"})
        self.assertEqual(str(via), "SIP/2.0/WSS abc.invalid;branch=z9hG4bK2")
        self.assertEqual(via.host_port(), "abc.invalid")


class CSeqTests(SynchronousTestCase):
    def test_valid(self) -> None:
        self.assertEqual(CSeq.parse("1 INVITE"), CSeq(1, "INVITE"))
        self.assertEqual(CSeq.parse("0009 INVITE"), CSeq(9, "INVITE"))  # RFC 4475 §3.1.1.1
        self.assertEqual(CSeq.parse(" 4294967295\tRE%47IST%45R "), CSeq(4294967295, "RE%47IST%45R"))

    def test_invalid(self) -> None:
        for text in (
            "INVITE",
            "1",
            "-1 INVITE",
            "1 INV ITE",
            "4294967296 INVITE",
            "36893488147419103232 REGISTER",
        ):
            with self.assertRaises(SipParseError, msg=text) as cm:
                CSeq.parse(text)
            self.assertEqual(cm.exception.message, "Malformed CSeq header")

    def test_str(self) -> None:
        self.assertEqual(str(CSeq(102, "INVITE")), "102 INVITE")


class AuthTests(SynchronousTestCase):
    JSSIP = (
        'Digest algorithm=MD5, username="alice", realm="probe", nonce="c1b73d9dceef0d8d09eef9f2", '
        'uri="sip:127.0.0.1", response="dfdb56946db505902a5bdf2b6a8c3265", qop=auth, '
        'cnonce="87tap0tcpl84", nc=00000001'
    )

    def test_credentials_from_jssip(self) -> None:
        auth = Auth.parse(self.JSSIP)
        self.assertEqual(auth.scheme, "Digest")
        self.assertEqual(
            auth.params,
            {
                "algorithm": "MD5",
                "username": "alice",
                "realm": "probe",
                "nonce": "c1b73d9dceef0d8d09eef9f2",
                "uri": "sip:127.0.0.1",
                "response": "dfdb56946db505902a5bdf2b6a8c3265",
                "qop": "auth",
                "cnonce": "87tap0tcpl84",
                "nc": "00000001",
            },
        )
        self.assertEqual(str(auth), self.JSSIP)

    def test_challenge_from_asterisk(self) -> None:
        text = 'Digest algorithm=MD5, realm="asterisk", nonce="254e51e8"'
        self.assertEqual(str(Auth.parse(text)), text)

    def test_quoted_values_are_unquoted(self) -> None:
        auth = Auth.parse('Digest  Realm = "a\\"b" , qop="auth,auth-int",stale=TRUE ,')
        self.assertEqual(auth.params, {"realm": 'a"b', "qop": "auth,auth-int", "stale": "TRUE"})
        self.assertEqual(str(auth), 'Digest realm="a\\"b", qop="auth,auth-int", stale=TRUE')

    def test_unknown_scheme(self) -> None:
        # RFC 4475 §3.3.7
        auth = Auth.parse("NoOneKnowsThisScheme opaque-data=here")
        self.assertEqual(
            (auth.scheme, auth.params), ("NoOneKnowsThisScheme", {"opaque-data": "here"})
        )
        self.assertEqual(Auth.parse("Digest").params, {})

    def test_str_quotes_non_tokens(self) -> None:
        self.assertEqual(
            str(Auth("Digest", {"foo": "a b", "bar": "tok"})), 'Digest foo="a b", bar=tok'
        )
        self.assertEqual(str(Auth("Basic")), "Basic")

    def test_invalid(self) -> None:
        for text in (
            "",
            ",Digest",
            "Digest realm",
            'Digest realm="x" nonce="y"',
            "Digest realm=a b",
        ):
            with self.assertRaises(SipParseError, msg=text) as cm:
                Auth.parse(text)
            self.assertEqual(cm.exception.message, "Malformed Authorization header")
        with self.assertRaises(SipParseError) as cm:
            Auth.parse("", "WWW-Authenticate")
        self.assertEqual(cm.exception.message, "Malformed WWW-Authenticate header")
