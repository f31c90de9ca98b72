"""Tests for pbx.sip.dialog: dialog state from recorded INVITEs and responses (RFC 3261 §12).

UAS side: the baresip desk phone's INVITE and JsSIP's INVITE over WebSocket. UAC side:
Asterisk's INVITE to a browser and JsSIP's 180 to it. In-dialog requests are checked against
§12.2.1.1 (what they carry) and §12.2.2 (CSeq order).
"""

from __future__ import annotations

from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from pbx.core.addr import Address, TransportKind
from pbx.sip.dialog import Dialog
from pbx.sip.flow import Flow
from pbx.sip.message import Request, Response, parse_message

DATA = Path(__file__).resolve().parents[2] / "data"
UDP = Flow(TransportKind.UDP, Address("127.0.0.1", 5060), Address("127.0.0.1", 47300))
WS = Flow(TransportKind.WS, Address("127.0.0.1", 8088), Address("127.0.0.1", 41440), conn_id=7)
CONTACT = "<sip:127.0.0.1:5060>"


def load(path: str) -> bytes:
    return (DATA / path).read_bytes()


def request(path: str, *edits: tuple[str, str]) -> Request:
    data = load(path)
    for old, new in edits:
        assert data.count(old.encode()) == 1, old
        data = data.replace(old.encode(), new.encode())
    message = parse_message(data)
    message.validate()
    assert isinstance(message, Request)
    return message


def response(path: str, *edits: tuple[str, str]) -> Response:
    data = load(path)
    for old, new in edits:
        assert data.count(old.encode()) == 1, old
        data = data.replace(old.encode(), new.encode())
    message = parse_message(data)
    message.validate()
    assert isinstance(message, Response)
    return message


def desk_dialog(*edits: tuple[str, str]) -> Dialog:
    """pbx as the UAS of the baresip desk phone's INVITE (CSeq 45695)."""
    return Dialog.from_uas(request("call/baresip-invite-auth.sip", *edits), "as1", CONTACT, UDP)


def browser_uac_dialog(*edits: tuple[str, str]) -> Dialog:
    """Asterisk's side of its call to JsSIP: its INVITE and the browser's 180 (to-tagged)."""
    invite = request("sip/captures/asterisk-invite-ws.sip")
    ringing = response("sip/captures/jssip-180-invite.sip", *edits)
    return Dialog.from_uac(invite, ringing, WS)


class UasDialogTests(SynchronousTestCase):
    """§12.1.1."""

    def test_identity_and_state_from_the_desk_phone_invite(self) -> None:
        d = desk_dialog()
        self.assertEqual(d.id, ("8c28da1169e6b780", "as1", "7761f1dc63a4e98c"))
        self.assertEqual(d.local_uri, "<sip:100@127.0.0.1;transport=udp>")
        self.assertEqual(d.remote_uri, "<sip:desk1@127.0.0.1>")
        self.assertEqual(d.remote_target, "sip:desk1-0x5598df4abb30@127.0.0.1:47300")
        self.assertEqual((d.local_seq, d.remote_seq), (0, 45695))
        self.assertEqual(
            (d.route_set, d.local_contact, d.flow, d.secure), ([], CONTACT, UDP, False)
        )

    def test_browser_contact_is_the_remote_target(self) -> None:
        invite = request("sip/captures/jssip-invite-digest.sip")
        d = Dialog.from_uas(invite, "as2", CONTACT, WS)
        self.assertEqual(d.remote_target, "sip:8pluhnlc@94sbnb3892jg.invalid;transport=ws;ob")
        self.assertEqual(d.remote_tag, "gmvnjj8p0s")
        self.assertEqual(d.remote_seq, 1325)

    def test_display_name_kept_tag_removed(self) -> None:
        invite = request("sip/captures/asterisk-invite-ws.sip")
        d = Dialog.from_uas(invite, "x", CONTACT, WS)
        self.assertEqual(d.remote_uri, '"Desk 1" <sip:200@127.0.0.1>')
        self.assertEqual(d.remote_tag, "as21bd135b")

    def test_tag_lookalikes_inside_quotes_and_brackets_are_kept(self) -> None:
        d = desk_dialog(
            (
                "From: <sip:desk1@127.0.0.1>;tag=7761f1dc63a4e98c",
                'From: "a;tag=b" <sip:desk1@127.0.0.1;tag=uri>;x=1;tag=7761f1dc63a4e98c',
            )
        )
        self.assertEqual(d.remote_uri, '"a;tag=b" <sip:desk1@127.0.0.1;tag=uri>;x=1')
        self.assertEqual(d.remote_tag, "7761f1dc63a4e98c")

    def test_record_route_kept_in_request_order(self) -> None:
        d = desk_dialog(
            (
                "Max-Forwards: 70\r\n",
                "Max-Forwards: 70\r\nRecord-Route: <sip:p1.example;lr>, <sip:p2.example;lr>\r\n"
                "Record-Route: <sip:p3.example;lr>\r\n",
            )
        )
        self.assertEqual(
            d.route_set, ["<sip:p1.example;lr>", "<sip:p2.example;lr>", "<sip:p3.example;lr>"]
        )

    def test_no_contact_falls_back_to_the_request_uri(self) -> None:
        d = desk_dialog(("Contact: <sip:desk1-0x5598df4abb30@127.0.0.1:47300>\r\n", ""))
        self.assertEqual(d.remote_target, "sip:100@127.0.0.1;transport=udp")

    def test_sips_request_uri_makes_a_secure_dialog(self) -> None:
        d = desk_dialog(
            ("INVITE sip:100@127.0.0.1;transport=udp", "INVITE sips:100@127.0.0.1;transport=tcp")
        )
        self.assertTrue(d.secure)


class UacDialogTests(SynchronousTestCase):
    """§12.1.2."""

    def test_identity_and_state_from_a_recorded_180(self) -> None:
        d = browser_uac_dialog()
        self.assertEqual(
            d.id, ("023be9fb18d54756675f9d745612e5cf@127.0.0.1:5060", "as21bd135b", "vipdtj9bus")
        )
        self.assertEqual(d.local_uri, '"Desk 1" <sip:200@127.0.0.1>')
        self.assertEqual(d.remote_uri, "<sip:h2r8p6pu@h2r8p6pu.invalid;transport=wss>")
        self.assertEqual(d.remote_target, "sip:h2r8p6pu@h2r8p6pu.invalid;transport=wss")
        self.assertEqual((d.local_seq, d.remote_seq), (102, None))
        self.assertEqual(d.local_contact, "<sip:200@127.0.0.1:5060;transport=ws>")

    def test_record_route_reversed_element_by_element(self) -> None:
        d = browser_uac_dialog(
            (
                "Content-Length: 0",
                "Record-Route: <sip:p1.example;lr>, <sip:p2.example;lr>\r\n"
                "Record-Route: <sip:p3.example;lr>\r\nContent-Length: 0",
            )
        )
        self.assertEqual(
            d.route_set, ["<sip:p3.example;lr>", "<sip:p2.example;lr>", "<sip:p1.example;lr>"]
        )

    def test_first_remote_request_sets_the_remote_sequence(self) -> None:
        d = browser_uac_dialog()
        bye = self._remote_bye(5)
        self.assertTrue(d.accept_remote_cseq(bye))
        self.assertEqual(d.remote_seq, 5)

    @staticmethod
    def _remote_bye(cseq: int) -> Request:
        return request("call/baresip-bye.sip", ("CSeq: 45696 BYE", f"CSeq: {cseq} BYE"))


class RemoteCSeqTests(SynchronousTestCase):
    """§12.2.2: requests out of order are refused (the caller answers 500)."""

    def bye(self, cseq: int, method: str = "BYE") -> Request:
        return request(
            "call/baresip-bye.sip",
            ("BYE sip:", f"{method} sip:"),
            ("CSeq: 45696 BYE", f"CSeq: {cseq} {method}"),
        )

    def test_higher_accepted_and_remembered(self) -> None:
        d = desk_dialog()
        self.assertTrue(d.accept_remote_cseq(self.bye(45696)))
        self.assertEqual(d.remote_seq, 45696)
        self.assertTrue(d.accept_remote_cseq(self.bye(50000)))
        self.assertEqual(d.remote_seq, 50000)

    def test_lower_or_equal_refused_and_not_remembered(self) -> None:
        d = desk_dialog()
        self.assertFalse(d.accept_remote_cseq(self.bye(45694)))
        self.assertFalse(d.accept_remote_cseq(self.bye(45695)))
        self.assertEqual(d.remote_seq, 45695)

    def test_ack_and_cancel_never_refused_nor_remembered(self) -> None:
        d = desk_dialog()
        self.assertTrue(d.accept_remote_cseq(self.bye(45695, "ACK")))
        self.assertTrue(d.accept_remote_cseq(self.bye(1, "CANCEL")))
        self.assertEqual(d.remote_seq, 45695)


class CreateRequestTests(SynchronousTestCase):
    """§12.2.1.1."""

    def test_bye_from_the_uas_side(self) -> None:
        d = desk_dialog(
            ("Max-Forwards: 70\r\n", "Max-Forwards: 70\r\nRecord-Route: <sip:p1.example;lr>\r\n")
        )
        bye = d.create_request(
            "BYE", Address("127.0.0.1", 5060), "z9hG4bKb1", user_agent="pbx", extra=[("X-A", "1")]
        )
        bye.validate()
        self.assertEqual(bye.method, "BYE")
        self.assertEqual(bye.uri, "sip:desk1-0x5598df4abb30@127.0.0.1:47300")
        self.assertEqual(
            bye.headers.items(),
            [
                ("Via", "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKb1;rport"),
                ("Max-Forwards", "70"),
                ("From", "<sip:100@127.0.0.1;transport=udp>;tag=as1"),
                ("To", "<sip:desk1@127.0.0.1>;tag=7761f1dc63a4e98c"),
                ("Call-ID", "8c28da1169e6b780"),
                ("CSeq", "1 BYE"),
                ("Route", "<sip:p1.example;lr>"),
                ("User-Agent", "pbx"),
                ("X-A", "1"),
            ],
        )
        # What goes on the wire parses back to the same request.
        again = parse_message(bytes(bye))
        assert isinstance(again, Request)
        self.assertEqual(
            (again.call_id, again.cseq.seq, again.to.tag), (d.call_id, 1, d.remote_tag)
        )

    def test_local_sequence_increments_per_request_but_not_for_a_given_cseq(self) -> None:
        d = browser_uac_dialog()
        local = Address("127.0.0.1", 8088)
        self.assertEqual(d.create_request("INFO", local, "z9hG4bK1").cseq.seq, 103)
        ack = d.create_request("ACK", local, "z9hG4bK2", cseq=102)
        self.assertEqual((ack.cseq.seq, ack.cseq.method), (102, "ACK"))
        self.assertEqual(d.create_request("BYE", local, "z9hG4bK3").cseq.seq, 104)
        self.assertEqual(d.local_seq, 104)

    def test_target_refresh_requests_carry_our_contact(self) -> None:
        d = desk_dialog()
        local = Address("127.0.0.1", 5060)
        invite = d.create_request("INVITE", local, "z9hG4bK1", body=b"v=0\r\n")
        self.assertEqual(invite.headers.get("Contact"), CONTACT)
        self.assertEqual(invite.body, b"v=0\r\n")
        for method in ("BYE", "INFO", "ACK"):
            self.assertNotIn("Contact", d.create_request(method, local, "z9hG4bK2", cseq=1).headers)

    def test_websocket_via_and_early_dialog_without_remote_tag(self) -> None:
        d = browser_uac_dialog()
        d.remote_tag = ""
        req = d.create_request("INFO", Address("127.0.0.1", 8088), "z9hG4bKw")
        self.assertEqual(req.headers.get("Via"), "SIP/2.0/WS 127.0.0.1:8088;branch=z9hG4bKw;rport")
        self.assertEqual(req.headers.get("To"), "<sip:h2r8p6pu@h2r8p6pu.invalid;transport=wss>")


class UpdateTargetTests(SynchronousTestCase):
    def test_contact_of_a_target_refresh_replaces_the_target(self) -> None:
        d = desk_dialog()
        reinvite = request(
            "call/baresip-invite-auth.sip",
            (
                "Contact: <sip:desk1-0x5598df4abb30@127.0.0.1:47300>",
                "Contact: <sip:d@10.0.0.9:5070>",
            ),
        )
        d.update_target(reinvite)
        self.assertEqual(d.remote_target, "sip:d@10.0.0.9:5070")

    def test_no_contact_keeps_the_target(self) -> None:
        d = browser_uac_dialog()
        d.update_target(
            response(
                "sip/captures/jssip-180-invite.sip",
                ("Contact: <sip:h2r8p6pu@h2r8p6pu.invalid;transport=wss>\r\n", ""),
            )
        )
        self.assertEqual(d.remote_target, "sip:h2r8p6pu@h2r8p6pu.invalid;transport=wss")
