"""Lexical helpers of pbx.sip.grammar (RFC 3261 §25.1)."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from pbx.core.errors import RemoteProtocolError
from pbx.sip.grammar import (
    TOKEN_RE,
    SipParseError,
    parse_params,
    quote,
    split_commas,
    unescape,
    unquote,
)


class SipParseErrorTests(SynchronousTestCase):
    def test_is_a_remote_protocol_error_with_hint_and_partial(self) -> None:
        err = SipParseError("Message Too Large", 513)
        self.assertIsInstance(err, RemoteProtocolError)
        self.assertEqual(
            (err.message, err.response_hint, err.partial), ("Message Too Large", 513, None)
        )
        self.assertEqual(str(err), "Message Too Large")

    def test_default_hint_is_400(self) -> None:
        self.assertEqual(SipParseError("Malformed Via header").response_hint, 400)


class TokenTests(SynchronousTestCase):
    def test_token_characters(self) -> None:
        # RFC 4475 §3.1.1.2 method: every non-alphanumeric token character
        self.assertTrue(TOKEN_RE.fullmatch("!interesting-Method0123456789_*+`.%indeed'~"))
        for bad in ("a b", "a,b", "a:b", "a;b", 'a"b', "a/b", ""):
            self.assertIsNone(TOKEN_RE.fullmatch(bad), bad)


class SplitCommasTests(SynchronousTestCase):
    TABLE: list[tuple[str, list[str]]] = [
        ("INVITE,ACK, BYE", ["INVITE", "ACK", "BYE"]),
        ("single", ["single"]),
        ("a, ,b,", ["a", "b"]),
        ("", []),
        ('"Bell, A." <sip:a@b>, <sip:c@d>', ['"Bell, A." <sip:a@b>', "<sip:c@d>"]),
        ('<sip:a@b;x=1,2>, "q\\",uote" <sip:c@d>', ["<sip:a@b;x=1,2>", '"q\\",uote" <sip:c@d>']),
        # an unbalanced quote or bracket swallows the rest instead of being repaired
        ('"Mr. J, User <sip:a@b>, <sip:c@d>', ['"Mr. J, User <sip:a@b>, <sip:c@d>']),
        ("<sip:a@b, <sip:c@d>", ["<sip:a@b, <sip:c@d>"]),
    ]

    def test_table(self) -> None:
        for value, expected in self.TABLE:
            self.assertEqual(split_commas(value), expected, value)


class ParseParamsTests(SynchronousTestCase):
    def test_flags_values_and_lower_cased_names(self) -> None:
        self.assertEqual(
            parse_params(';TAG=Abc;lr;expires=300;+sip.instance="<urn:uuid:1>"'),
            {"tag": "Abc", "lr": None, "expires": "300", "+sip.instance": '"<urn:uuid:1>"'},
        )

    def test_linear_whitespace_around_separators(self) -> None:
        # RFC 4475 §3.1.1.1 Contact, after unfolding
        self.assertEqual(
            parse_params(" ; newparam = newvalue ; secondparam ; q = 0.33"),
            {"newparam": "newvalue", "secondparam": None, "q": "0.33"},
        )

    def test_ipv6_values(self) -> None:
        self.assertEqual(
            parse_params(";received=[2001:db8::9:255]"), {"received": "[2001:db8::9:255]"}
        )
        self.assertEqual(parse_params(";received=2001:db8::9:255"), {"received": "2001:db8::9:255"})

    def test_empty_text_is_no_parameters(self) -> None:
        self.assertEqual(parse_params(""), {})

    def test_malformed(self) -> None:
        for bad in (";;", ";", "tag=1", ";a=", ";a=<b>", ';a="open', ";a b"):
            self.assertIsNone(parse_params(bad), bad)


class QuotingTests(SynchronousTestCase):
    def test_unquote_resolves_quoted_pairs(self) -> None:
        self.assertEqual(unquote('"J Rosenberg \\\\\\""'), 'J Rosenberg \\"')
        self.assertEqual(unquote('"a\\\x00b"'), "a\x00b")

    def test_unquote_leaves_other_text(self) -> None:
        self.assertEqual(unquote("token"), "token")
        self.assertEqual(unquote('"'), '"')

    def test_quote_round_trips(self) -> None:
        text = 'say "hi" \\ bye'
        self.assertEqual(quote(text), '"say \\"hi\\" \\\\ bye"')
        self.assertEqual(unquote(quote(text)), text)

    def test_unescape(self) -> None:
        self.assertEqual(unescape("%75se%72"), "user")
        self.assertEqual(unescape("null-%00-null"), "null-\x00-null")
        self.assertEqual(unescape("%ff").encode("utf-8", "surrogateescape"), b"\xff")
        self.assertEqual(unescape("%Z%45"), "%ZE")
