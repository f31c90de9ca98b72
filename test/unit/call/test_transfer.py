"""What pbx answers to a REFER (pbx.call.transfer.decide_refer), as chan_sip does.

The REFERs are the baresip desk phone's recorded BYE (test/data/call/) turned into a REFER with
a Refer-To, as in test/unit/sip/test_refer.py.
"""

from __future__ import annotations

from collections.abc import Callable

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from pbx.call.channel import Channel
from pbx.call.transfer import Attended, decide_refer
from pbx.sip.message import Request
from pbx.sip.refer import Replaces
from test.unit.call.fakes import edit, load, request

BLIND = "Refer-To: <sip:2003@127.0.0.1>"
ATTENDED = "Refer-To: <sip:2004@127.0.0.1?Replaces=c2%3Bto-tag%3Dpbx%3Bfrom-tag%3Dphone>"


def refer(*headers: str) -> Request:
    return request(
        edit(
            load("baresip-bye.sip"),
            ("BYE sip:", "REFER sip:"),
            ("CSeq: 45696 BYE", "CSeq: 45696 REFER"),
            ("Content-Length: 0", "\r\n".join((*headers, "Content-Length: 0"))),
        )
    )


def moved() -> None:
    return


def blind_to(known: str) -> Callable[[str], Callable[[], None] | None]:
    return lambda exten: moved if exten == known else None


class DecideReferTests(SynchronousTestCase):
    def test_blind(self) -> None:
        outcome = decide_refer(
            refer(BLIND), allowed=True, bridged=True, blind=blind_to("2003"), attended=None
        )
        self.assertEqual((outcome.status, outcome.action), (202, moved))
        assert outcome.target is not None
        self.assertEqual(outcome.target.exten, "2003")
        unknown = decide_refer(
            refer(BLIND), allowed=True, bridged=True, blind=blind_to("9"), attended=None
        )
        self.assertEqual((unknown.status, unknown.reason, unknown.action), (404, "Not Found", None))

    def test_refusals(self) -> None:
        hooks = {"blind": blind_to("2003"), "attended": None}
        for request_, allowed, bridged, expected in (
            (refer(), True, True, (400, "Missing Refer-To")),
            (refer(BLIND), False, True, (603, "Declined")),
            (refer(BLIND), True, False, (603, "Declined (No bridged channel)")),
            (refer(ATTENDED), True, True, (603, "Declined (No bridged channel)")),  # no hook
        ):
            outcome = decide_refer(request_, allowed=allowed, bridged=bridged, **hooks)  # type: ignore[arg-type]
            self.assertEqual((outcome.status, outcome.reason), expected)
            self.assertIsNone(outcome.action)

    def test_attended(self) -> None:
        other = Channel("SIP", "desk2", Clock())
        asked: list[Replaces] = []

        def agreed(replaces: Replaces) -> Attended:
            asked.append(replaces)
            return Attended(moved, other)

        outcome = decide_refer(
            refer(ATTENDED), allowed=True, bridged=True, blind=None, attended=agreed
        )
        self.assertEqual((outcome.status, outcome.action, outcome.replaced), (202, moved, other))
        self.assertEqual(asked, [Replaces("c2", "pbx", "phone")])
        refused = decide_refer(
            refer(ATTENDED),
            allowed=True,
            bridged=True,
            blind=None,
            attended=lambda replaces: (481, "Call/Transaction Does Not Exist"),
        )
        self.assertEqual((refused.status, refused.action), (481, None))
