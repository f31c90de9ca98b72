"""Tests for pbx.sip.refer: the Refer-To of a REFER (RFC 3515 §2.1, §2.4.1; RFC 5589 §6-§7) and
the NOTIFY sipfrags that report on it (RFC 3515 §2.4.4-§2.4.5, RFC 3420).

The REFERs are baresip's in-dialog request shape (the recorded BYE of the desk phone in
test/data/call/) with the method, CSeq and Refer-To values a transfer key sends.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from pbx.core.errors import RemoteProtocolError
from pbx.sip.message import Request
from pbx.sip.refer import Replaces, notify_headers, refer_target, sipfrag
from test.unit.call.fakes import edit, load, request


def refer(*headers: str) -> Request:
    data = edit(
        load("baresip-bye.sip"),
        ("BYE sip:", "REFER sip:"),
        ("CSeq: 45696 BYE", "CSeq: 45696 REFER"),
        ("Content-Length: 0", "\r\n".join((*headers, "Content-Length: 0"))),
    )
    return request(data)


class ReferTargetTests(SynchronousTestCase):
    def test_table(self) -> None:
        rows = [
            # (header lines, (extension, scheme, host, replaces) or (status, reason)); Refer-To
            # is single-valued, so a comma list is one malformed value.
            (("Refer-To: <sip:2003@127.0.0.1>",), ("2003", "sip", "127.0.0.1", None)),
            (("Refer-To: sip:2003@127.0.0.1",), ("2003", "sip", "127.0.0.1", None)),
            (("r: <sips:2003@pbx.example.org;user=phone>",),
             ("2003", "sips", "pbx.example.org", None)),
            (('Refer-To: "Front desk" <sip:%32003@127.0.0.1:5060>;method=INVITE',),
             ("2003", "sip", "127.0.0.1", None)),
            (("Refer-To: <sip:127.0.0.1>",), ("s", "sip", "127.0.0.1", None)),
            (("Refer-To: <sip:2003@127.0.0.1?Replaces=a%40b%3Bto-tag%3D1%3Bfrom-tag%3D2>",),
             ("2003", "sip", "127.0.0.1", Replaces("a@b", "1", "2"))),
            # RFC 5589 §7.1's example, header name in another case, early-only ignored.
            (("Refer-To: <sips:Target@target.example.org?replaces=090459243588173445%3Bfrom-tag"
              "%3D31431%3Bto-tag%3D7553452%3Bearly-only>",),
             ("Target", "sips", "target.example.org",
              Replaces("090459243588173445", "7553452", "31431"))),
            (("Refer-To: <sip:2003@127.0.0.1?Replaces=a%40b%3Bto-tag%3D1>",),
             (400, "Bad Replaces")),
            (("Refer-To: <sip:2003@127.0.0.1?Replaces=%3Bto-tag%3D1%3Bfrom-tag%3D2>",),
             (400, "Bad Replaces")),
            ((), (400, "Missing Refer-To")),
            (("Refer-To: <sip:2003@127.0.0.1>", "Refer-To: <sip:2004@127.0.0.1>"),
             (400, "Multiple Refer-To")),
            (("Refer-To: <sip:2003@127.0.0.1>, <sip:2004@127.0.0.1>",),
             (400, "Bad Refer-To")),
            (("Refer-To: <tel:+49301234>",), (400, "Refer-To Not A SIP URI")),
            (("Refer-To: <sip:2003@127.0.0.1",), (400, "Bad Refer-To")),
        ]  # fmt: skip
        for headers, expected in rows:
            message = refer(*headers)
            try:
                target = refer_target(message)
            except RemoteProtocolError as e:
                self.assertEqual((e.response_hint, e.message), expected, headers)
                continue
            got = (target.exten, target.uri.scheme, target.uri.host, target.replaces)
            self.assertEqual(got, expected, headers)


class NotifyTests(SynchronousTestCase):
    def test_sipfrag_is_a_status_line(self) -> None:
        self.assertEqual(sipfrag(100), b"SIP/2.0 100 Trying\r\n")
        self.assertEqual(sipfrag(200), b"SIP/2.0 200 OK\r\n")
        self.assertEqual(
            sipfrag(503, "Service Unavailable"), b"SIP/2.0 503 Service Unavailable\r\n"
        )

    def test_headers_active_then_terminated(self) -> None:
        self.assertEqual(
            notify_headers(7, final=False),
            [
                ("Event", "refer;id=7"),
                ("Subscription-State", "active;expires=60"),
                ("Content-Type", "message/sipfrag;version=2.0"),
            ],
        )
        self.assertEqual(
            notify_headers(7, final=True)[1], ("Subscription-State", "terminated;reason=noresource")
        )
