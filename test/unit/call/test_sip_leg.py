"""Tests for pbx.call.sip_leg's REFER handling: blind transfer as chan_sip answers it (RFC 3515,
RFC 5589 §6) and attended transfer (RFC 5589 §7, RFC 3891 Replaces). The rest of the shared
dialog machinery is tested through the inbound leg in test_inbound_leg.py, whose answered call
(the baresip desk phone's recorded INVITE and ACK) these tests reuse; the REFERs are the
phone's recorded in-dialog request with the method, CSeq and Refer-To that baresip's transfer
sends.
"""

from __future__ import annotations

from collections.abc import Callable

from twisted.trial.unittest import SynchronousTestCase

from pbx.call.channel import Channel
from pbx.call.sip_leg import T1
from pbx.call.transfer import Attended
from pbx.core import causes
from pbx.sip.message import Request, Response
from pbx.sip.refer import Replaces
from test.unit.call.fakes import RECORDED_TO_TAG, load_sip, reply
from test.unit.call.test_inbound_leg import PHONE_CONTACT, Inbound, phone_request

OK = load_sip("captures/asterisk-200-unregister.sip")


def refer(cseq: int, *refer_to: str) -> Request:
    return phone_request("REFER", cseq, tuple(("Refer-To", value) for value in refer_to))


class Transfers:
    """What the bridge's transfer hook was asked, and whether the action ran."""

    def __init__(self, exists: bool = True) -> None:
        self.exists = exists
        self.asked: list[str] = []
        self.done: list[str] = []

    def __call__(self, exten: str) -> Callable[[], None] | None:
        self.asked.append(exten)
        if not self.exists:
            return None
        return lambda: self.done.append(exten)


class Attendeds:
    """What the bridge's attended-transfer hook was asked; it joins (recording it) and names
    ``replaced`` as the transferor's other channel, or refuses with ``refusal``."""

    def __init__(self, replaced: Channel, refusal: tuple[int, str] | None = None) -> None:
        self.replaced = replaced
        self.refusal = refusal
        self.asked: list[Replaces] = []
        self.joined = 0

    def __call__(self, replaces: Replaces) -> Attended | tuple[int, str]:
        self.asked.append(replaces)
        if self.refusal is not None:
            return self.refusal
        return Attended(self.join, self.replaced)

    def join(self) -> None:
        self.joined += 1


REPLACING = "<sip:2003@127.0.0.1?Replaces=c2%40host%3Bto-tag%3Dpbxtag%3Bfrom-tag%3Dphonetag>"


def bridged(exists: bool = True) -> tuple[Inbound, Transfers]:
    call = Inbound()
    call.answered()
    call.network.sent()
    transfers = Transfers(exists)
    call.leg.blind_transfer = transfers
    return call, transfers


class ReferAnswerTests(SynchronousTestCase):
    def answer(self, call: Inbound, message: Request) -> Response:
        call.deliver(message)
        (final,) = call.network.responses()
        return final

    def test_refusals_as_chan_sip_answers_them(self) -> None:
        rows = [
            # (Refer-To values, allowtransfer, in a bridge, status, reason)
            ((), True, True, 400, "Missing Refer-To"),
            (("<sip:2003@127.0.0.1>", "<sip:2004@127.0.0.1>"), True, True, 400,
             "Multiple Refer-To"),
            (("<tel:+4930123>",), True, True, 400, "Refer-To Not A SIP URI"),
            (("<sip:2003@127.0.0.1", ), True, True, 400, "Bad Refer-To"),
            (("<sip:2003@127.0.0.1>",), False, True, 603, "Declined"),
            # Attended, but only the blind-transfer hook is set.
            ((REPLACING,), True, True, 603, "Declined (No bridged channel)"),
            (("<sip:2003@127.0.0.1?Replaces=abc%3Bto-tag%3D1>",), True, True, 400,
             "Bad Replaces"),
            (("<sip:2003@127.0.0.1>",), True, False, 603, "Declined (No bridged channel)"),
        ]  # fmt: skip
        for values, allow, in_bridge, status, reason in rows:
            call, transfers = bridged()
            call.leg.allowtransfer = allow
            if not in_bridge:
                call.leg.blind_transfer = None
            final = self.answer(call, refer(45696, *values))
            self.assertEqual((final.status, final.reason), (status, reason), values)
            self.assertEqual(final.to.tag, RECORDED_TO_TAG)
            self.assertEqual((transfers.done, call.network.sent()), ([], []), values)
            self.assertFalse(call.channel.gone)

    def test_unknown_extension_is_404_before_accepting(self) -> None:
        call, transfers = bridged(exists=False)
        final = self.answer(call, refer(45696, "sip:2099@127.0.0.1"))
        self.assertEqual((final.status, final.reason), (404, "Not Found"))
        self.assertEqual(transfers.asked, ["2099"])
        self.assertFalse(call.channel.gone)

    def test_refer_before_the_answer_is_declined(self) -> None:
        call = Inbound()
        call.leg.blind_transfer = Transfers()
        call.network.sent()
        # The leg has a dialog (it sent 100 only), but the call is not up.
        final = self.answer(call, refer(45696, "<sip:2003@127.0.0.1>"))
        self.assertEqual(final.status, 603)


class BlindTransferTests(SynchronousTestCase):
    def test_202_notifies_transfers_then_byes_the_transferor(self) -> None:
        call, transfers = bridged()
        call.deliver(refer(45696, "<sip:2003@127.0.0.1;user=phone>"))
        accepted, trying, done = call.network.sent()
        assert isinstance(accepted, Response)
        assert isinstance(trying, Request) and isinstance(done, Request)
        self.assertEqual((accepted.status, accepted.reason), (202, "Accepted"))
        self.assertEqual(transfers.done, ["2003"])
        for notify in (trying, done):
            self.assertEqual(
                (notify.method, notify.uri),
                ("NOTIFY", PHONE_CONTACT),
            )
            self.assertEqual(notify.headers.get("Event"), "refer;id=45696")
            self.assertEqual(notify.headers.get("Content-Type"), "message/sipfrag;version=2.0")
            self.assertEqual(notify.call_id, call.invite.call_id)
        self.assertEqual(trying.body, b"SIP/2.0 100 Trying\r\n")
        self.assertEqual(trying.headers.get("Subscription-State"), "active;expires=60")
        self.assertEqual(done.body, b"SIP/2.0 200 OK\r\n")
        self.assertEqual(done.headers.get("Subscription-State"), "terminated;reason=noresource")
        self.assertEqual(done.cseq.seq, trying.cseq.seq + 1)
        self.assertFalse(call.channel.gone)
        # The phone accepts the final NOTIFY: pbx hangs the transferor's leg up.
        call.deliver(reply(trying, OK))
        self.assertEqual(call.network.sent(), [])
        call.deliver(reply(done, OK))
        (bye,) = call.network.sent()
        assert isinstance(bye, Request)
        self.assertEqual(bye.method, "BYE")
        self.assertEqual(call.channel.hangup_cause, causes.NORMAL_CLEARING)

    def test_phone_bye_first_leaves_nothing_to_send(self) -> None:
        call, _ = bridged()
        call.deliver(refer(45696, "<sip:2003@127.0.0.1>"))
        _, _, done = call.network.sent()
        assert isinstance(done, Request)
        call.deliver(phone_request("BYE", 45697))
        self.assertEqual(call.network.statuses(), [200])
        call.deliver(reply(done, OK))
        self.assertEqual(call.network.sent(), [])
        self.assertEqual(call.channel.hangup_cause, causes.NORMAL_CLEARING)

    def test_unanswered_final_notify_still_ends_the_transferor(self) -> None:
        call, _ = bridged()
        call.deliver(refer(45696, "<sip:2003@127.0.0.1>"))
        call.network.sent()
        call.h.clock.advance(64 * T1)  # Timer F of the NOTIFY
        call.network.kick()
        self.assertEqual(call.channel.hangup_cause, causes.NORMAL_CLEARING)
        self.assertIn("BYE", [m.method for m in call.network.sent() if isinstance(m, Request)])

    def test_compact_refer_to_is_read(self) -> None:
        call, transfers = bridged()
        call.deliver(phone_request("REFER", 45696, (("r", "sip:2003@127.0.0.1"),)))
        self.assertEqual(call.network.statuses()[:1], [202])
        self.assertEqual(transfers.done, ["2003"])


class AttendedTransferTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.call, self.blind = bridged()
        self.other = Inbound()  # the transferor's second call
        self.other.answered()
        self.hook = Attendeds(self.other.channel)
        self.call.leg.attended_transfer = self.hook

    def test_hook_gets_the_replaced_dialog_then_202_notifies_and_joins(self) -> None:
        call = self.call
        call.deliver(refer(45696, REPLACING))
        accepted, trying, done = call.network.sent()
        assert isinstance(accepted, Response)
        assert isinstance(trying, Request) and isinstance(done, Request)
        self.assertEqual((accepted.status, accepted.reason), (202, "Accepted"))
        self.assertEqual(self.hook.asked, [Replaces("c2@host", "pbxtag", "phonetag")])
        self.assertEqual((self.hook.joined, self.blind.asked), (1, []))
        self.assertEqual(
            (trying.body, done.body), (b"SIP/2.0 100 Trying\r\n", b"SIP/2.0 200 OK\r\n")
        )
        self.assertEqual(done.headers.get("Subscription-State"), "terminated;reason=noresource")
        self.assertEqual((call.channel.gone, self.other.channel.gone), (False, False))
        # The final NOTIFY is accepted: both of the transferor's legs are hung up.
        call.deliver(reply(done, OK))
        (bye,) = [m for m in call.network.sent() if isinstance(m, Request)]
        self.assertEqual((bye.method, bye.call_id), ("BYE", call.invite.call_id))
        self.assertEqual(call.channel.hangup_cause, causes.NORMAL_CLEARING)
        self.assertEqual(self.other.channel.hangup_cause, causes.NORMAL_CLEARING)

    def test_transferor_byes_first(self) -> None:
        call = self.call
        call.deliver(refer(45696, REPLACING))
        _, _, done = call.network.sent()
        assert isinstance(done, Request)
        call.deliver(phone_request("BYE", 45697))
        self.other.channel.hangup()
        call.network.sent()
        call.deliver(reply(done, OK))
        self.assertEqual(call.network.sent(), [])

    def test_refusals_are_the_refer_final_response(self) -> None:
        for refusal in (
            (481, "Call/Transaction Does Not Exist"),
            (488, "Not Acceptable Here"),
            (501, "Not Implemented (attended transfer between these calls)"),
        ):
            self.setUp()
            self.hook.refusal = refusal
            self.call.deliver(refer(45696, REPLACING))
            (final,) = self.call.network.sent()
            assert isinstance(final, Response)
            self.assertEqual((final.status, final.reason), refusal)
            self.assertEqual(self.hook.joined, 0)
            self.assertFalse(self.call.channel.gone or self.other.channel.gone)

    def test_allowtransfer_no_declines_before_asking(self) -> None:
        self.call.leg.allowtransfer = False
        self.call.deliver(refer(45696, REPLACING))
        self.assertEqual(self.call.network.statuses(), [603])
        self.assertEqual(self.hook.asked, [])
