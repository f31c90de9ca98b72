"""Tests for pbx.call.cdr: dispositions, durations and the Master.csv line
(ASTERISK-REFERENCE §6; Asterisk ``cdr.c`` and ``cdr_csv.c``)."""

from __future__ import annotations

import time

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from pbx.call.cdr import CdrRecord, build_record, csv_line, disposition
from pbx.call.channel import Channel
from test.unit.call.fakes import FakeMediaLeg

START = 1764167000.25  # 2025-11-26 14:23:20.25 UTC


def call(
    *,
    answer_after: float | None = 2.0,
    end_after: float = 12.0,
    name: str = "Desk One",
    num: str = "2001",
    cause: int = 16,
    media: FakeMediaLeg | None = None,
) -> Channel:
    clock = Clock()
    clock.advance(START)
    channel = Channel(
        "SIP", "desk1", clock, context="phones", exten="100", caller_id_name=name,
        caller_id_num=num, uniqueid="1764167000.7",
    )  # fmt: skip
    channel.account_code = "desks"
    channel.media = media
    if answer_after is not None:
        clock.advance(answer_after)
        channel.set_state("Up")
        clock.advance(end_after - answer_after)
    else:
        clock.advance(end_after)
    channel.ended(cause)
    return channel


def record(**changes: object) -> CdrRecord:
    values: dict[str, object] = {
        "accountcode": "desks",
        "src": "2001",
        "dst": "100",
        "dcontext": "phones",
        "clid": '"Desk One" <2001>',
        "channel": "SIP/desk1-00000001",
        "dstchannel": "SIP/bob-00000002",
        "lastapp": "Dial",
        "lastdata": "SIP/bob,20",
        "start": START,
        "answer": START + 2,
        "end": START + 12,
        "duration": 12,
        "billsec": 10,
        "disposition": "ANSWERED",
        "amaflags": "DOCUMENTATION",
        "uniqueid": "1764167000.7",
        "userfield": "",
        "linkedid": "1764167000.7",
    }
    values.update(changes)
    return CdrRecord(**values)  # type: ignore[arg-type]


class DispositionTests(SynchronousTestCase):
    def test_table(self) -> None:
        rows = []
        for answered, dialstatus, cause, congestion in [
            (True, "", 16, False),
            (False, "ANSWER", 16, False),
            (True, "BUSY", 16, False),  # answered by the dialplan, then Dial was busy
            (False, "BUSY", 16, False),
            (False, "CONGESTION", 16, False),
            (False, "CONGESTION", 16, True),
            (False, "CHANUNAVAIL", 20, False),
            (False, "NOANSWER", 16, False),
            (False, "CANCEL", 16, False),
            (False, "", 17, False),
            (False, "", 34, False),
            (False, "", 34, True),
            (False, "", 58, True),
            (False, "", 20, False),
            (False, "", 16, False),
            (False, "", 19, False),
        ]:
            channel = call(answer_after=1.0 if answered else None, cause=cause)
            rows.append(disposition(channel, dialstatus, congestion))
        self.assertEqual(
            rows,
            [
                "ANSWERED",
                "ANSWERED",
                "ANSWERED",
                "BUSY",
                "FAILED",
                "CONGESTION",
                "FAILED",
                "NO ANSWER",
                "NO ANSWER",
                "BUSY",
                "FAILED",
                "CONGESTION",
                "FAILED",
                "FAILED",
                "NO ANSWER",
                "NO ANSWER",
            ],
        )


class BuildRecordTests(SynchronousTestCase):
    def test_answered_call(self) -> None:
        channel = call()
        channel.variables["DIALSTATUS"] = "ANSWER"
        r = build_record(channel, "Dial", "SIP/bob,20", dstchannel="SIP/bob-00000002")
        self.assertEqual(
            r,
            record(channel=channel.name, uniqueid=channel.uniqueid, linkedid=channel.linkedid),
        )

    def test_times_are_truncated_to_whole_seconds(self) -> None:
        r = build_record(call(answer_after=2.6, end_after=12.5), "Dial", "")
        self.assertEqual((r.duration, r.billsec), (12, 9))  # 12.5 s and 9.9 s

    def test_unanswered_call(self) -> None:
        channel = call(answer_after=None, end_after=7.9, cause=19)
        channel.variables["DIALSTATUS"] = "NOANSWER"
        r = build_record(channel, "Dial", "SIP/bob,5")
        self.assertEqual((r.answer, r.duration, r.billsec), (None, 7, 0))
        self.assertEqual(r.disposition, "NO ANSWER")

    def test_dialplan_location_and_answer_override(self) -> None:
        channel = call(answer_after=None)
        r = build_record(channel, "Hangup", "", dst="h", dcontext="other", answered_at=START + 4)
        self.assertEqual((r.dst, r.dcontext, r.answer, r.billsec), ("h", "other", START + 4, 8))

    def test_callerid_shapes(self) -> None:
        clids = [
            build_record(call(name=n, num=u), "", "").clid
            for n, u in (("Desk One", "2001"), ("", "2001"), ("", ""), ('Say "hi"', "7"))
        ]
        self.assertEqual(clids, ['"Desk One" <2001>', "<2001>", "", '"Say "hi"" <7>'])

    def test_blind_transfer_splits_the_record(self) -> None:
        clock = Clock()
        clock.advance(START)
        channel = Channel("SIP", "desk1", clock, context="phones", exten="2002")
        clock.advance(2)
        channel.set_state("Up")
        channel.cdr_app = ("Dial", "SIP/desk2,5")
        channel.last_dialed = "SIP/desk2-00000009"
        channel.variables["DIALEDPEERNAME"] = "SIP/desk2-00000009"
        clock.advance(10)
        before = build_record(channel, *channel.cdr_app, dstchannel="SIP/desk2-00000009")
        self.assertEqual(
            (before.start, before.answer, before.end, before.duration, before.billsec),
            (START, START + 2, START + 12, 12, 10),
        )
        channel.restart_cdr()
        self.assertEqual((channel.cdr_app, channel.last_dialed), (("", ""), ""))
        self.assertNotIn("DIALEDPEERNAME", channel.variables)
        clock.advance(5.5)
        channel.ended(16)
        after = build_record(channel, "Hangup", "", dst="2003")
        self.assertEqual(
            (after.start, after.answer, after.end, after.duration, after.billsec, after.dst),
            (START + 12, START + 12, START + 17.5, 5, 5, "2003"),
        )
        self.assertEqual((after.uniqueid, after.disposition), (before.uniqueid, "ANSWERED"))

    def test_end_is_now_for_a_channel_still_up(self) -> None:
        clock = Clock()
        clock.advance(100.0)
        channel = Channel("SIP", "desk1", clock)
        clock.advance(3.5)
        self.assertEqual(build_record(channel, "", "").duration, 3)

    def test_qos_of_both_legs(self) -> None:
        legs = [FakeMediaLeg(), FakeMediaLeg()]
        for media in legs:
            media.negotiated_as((("alaw", 8),), None)
        caller, callee = call(media=legs[0]), call(media=legs[1])
        r = build_record(caller, "Dial", "", callee=callee)
        stats = caller.variables["RTPAUDIOQOS"]
        self.assertEqual(
            r.qos, f"{caller.name}: {stats};codec=alaw | {callee.name}: {stats};codec=alaw"
        )
        self.assertEqual(build_record(call(), "", "", callee=call()).qos, "")

    def test_initiated_seconds_rounds_up_from_half_a_second(self) -> None:
        self.assertEqual(
            build_record(
                call(answer_after=2.0, end_after=12.6), "", "", initiatedseconds=True
            ).billsec,
            11,
        )

    def test_initiated_seconds_keeps_less_than_half_a_second(self) -> None:
        self.assertEqual(
            build_record(
                call(answer_after=2.0, end_after=12.2), "", "", initiatedseconds=True
            ).billsec,
            10,
        )


class CsvLineTests(SynchronousTestCase):
    def test_master_csv_column_order(self) -> None:
        line = csv_line(record(clid='"Desk One" <2001>', lastdata='SIP/bob,20,"r"'), gmt=True)
        self.assertEqual(
            line,
            '"desks","2001","100","phones","""Desk One"" <2001>","SIP/desk1-00000001",'
            '"SIP/bob-00000002","Dial","SIP/bob,20,""r""","2025-11-26 14:23:20",'
            '"2025-11-26 14:23:22","2025-11-26 14:23:32",12,10,"ANSWERED","DOCUMENTATION"\n',
        )

    def test_uniqueid_then_userfield_when_asked(self) -> None:
        r = record(userfield="offer has only PCMU")
        line = csv_line(r, gmt=True, uniqueid=True, userfield=True)
        self.assertTrue(line.endswith(',"DOCUMENTATION","1764167000.7","offer has only PCMU"\n'))
        self.assertTrue(csv_line(r, gmt=True, userfield=True).endswith(',"offer has only PCMU"\n'))
        self.assertTrue(csv_line(r, gmt=True).endswith(',"ANSWERED","DOCUMENTATION"\n'))

    def test_local_time_unless_gmt(self) -> None:
        local = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(START))
        self.assertIn(f',"{local}",', csv_line(record()))

    def test_empty_answer_time_is_an_empty_field(self) -> None:
        line = csv_line(record(answer=None, billsec=0, disposition="NO ANSWER"), gmt=True)
        self.assertIn(',"2025-11-26 14:23:20",,"2025-11-26 14:23:32",12,0,', line)
