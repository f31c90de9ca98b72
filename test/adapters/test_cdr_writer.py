"""Tests for pbx.adapters.cdr_writer: Master.csv and the SQLite ``cdr`` table on a real disk.

What the module promises: a record is on disk within ``delay`` of its call's end, a burst of
records costs one fsync per file, ``accountlogs`` adds ``<accountcode>.csv``, everything queued
is written by ``close()`` (a clean or graceful stop loses no CDR), an SQLite file written by an
older pbx gains the new columns and keeps its rows, and a disk error is logged, never raised
into the reactor. The scheduler is trial's ``Clock``; fsyncs are counted by wrapping the real
``os.fsync`` so the files are really synced while the test watches which ones.
"""

from __future__ import annotations

import csv
import dataclasses
import logging
import os
import sqlite3
import time
from pathlib import Path

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from pbx.adapters.cdr_writer import COLUMNS, CdrWriter
from pbx.call.cdr import CdrRecord
from pbx.config.cdr_conf import CdrSettings, CsvSettings, SqliteSettings

START = 1_780_000_000.0  # 2026-05-28, an ordinary local time


def record(n: int = 1, **changes: object) -> CdrRecord:
    base = CdrRecord(
        accountcode="",
        src="desk1",
        dst=f"200{n}",
        dcontext="phones",
        clid='"Desk One" <desk1>',
        channel=f"SIP/desk1-0000000{n}",
        dstchannel=f"SIP/desk2-0000000{n}",
        lastapp="Dial",
        lastdata="SIP/desk2,5",
        start=START,
        answer=START + 2,
        end=START + 12,
        duration=12,
        billsec=10,
        disposition="ANSWERED",
        amaflags="DOCUMENTATION",
        uniqueid=f"1780000000.{n}",
        userfield="",
        linkedid=f"1780000000.{n}",
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def settings(logdir: Path, **changes: object) -> CdrSettings:
    """pbx's defaults (cdr.conf absent), with ``changes`` for [general]; ``csv_*``/``sqlite_*``
    keys change the back ends."""
    csv_changes = {k[4:]: v for k, v in changes.items() if k.startswith("csv_")}
    sqlite_changes = {k[7:]: v for k, v in changes.items() if k.startswith("sqlite_")}
    general = {k: v for k, v in changes.items() if not k.startswith(("csv_", "sqlite_"))}
    csv_settings = CsvSettings(
        usegmtime=False,
        loguniqueid=False,
        loguserfield=False,
        accountlogs=True,
        newcdrcolumns=False,
        directory=str(logdir / "cdr-csv"),
    )
    sqlite_settings = SqliteSettings(enable=True, file=str(logdir / "cdr.sqlite3"))
    base = CdrSettings(
        enable=True,
        unanswered=True,
        congestion=False,
        endbeforehexten=False,
        initiatedseconds=False,
        channeldefaultenabled=True,
        ignorestatechanges=False,
        ignoredialchanges=False,
        canceldispositionenabled=False,
        csv=dataclasses.replace(csv_settings, **csv_changes),  # type: ignore[arg-type]
        sqlite=dataclasses.replace(sqlite_settings, **sqlite_changes),  # type: ignore[arg-type]
    )
    return dataclasses.replace(base, **general)  # type: ignore[arg-type]


def csv_rows(path: Path) -> list[list[str]]:
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def sqlite_rows(path: Path) -> list[dict[str, object]]:
    """Rows of the ``cdr`` table, read through a new connection (what another process sees)."""
    with sqlite3.connect(path) as db:
        db.row_factory = sqlite3.Row
        return [dict(row) for row in db.execute("SELECT * FROM cdr ORDER BY id")]


class WriterTestCase(SynchronousTestCase):
    def setUp(self) -> None:
        self.logdir = Path(self.mktemp())
        self.master = self.logdir / "cdr-csv" / "Master.csv"
        self.db = self.logdir / "cdr.sqlite3"
        self.synced: list[str] = []
        real_fsync = os.fsync

        def fsync(fd: int) -> None:
            self.synced.append(os.path.basename(os.readlink(f"/proc/self/fd/{fd}")))
            real_fsync(fd)

        self.patch(os, "fsync", fsync)

    def writer(self, clock: Clock | None = None, **changes: object) -> CdrWriter:
        w = CdrWriter(settings(self.logdir, **changes), clock, delay=0.2)
        self.addCleanup(w.close)
        return w


class BatchTests(WriterTestCase):
    def test_a_burst_is_written_after_the_delay_with_one_fsync_per_file(self) -> None:
        clock = Clock()
        w = self.writer(clock)
        for n in (1, 2, 3):
            w.write(record(n))
        clock.advance(0.1)
        w.write(record(4))  # joins the batch: the flush is armed once, at the first record
        self.assertEqual((csv_rows(self.master), self.synced, w.written), ([], [], 0))
        self.assertEqual(len(clock.getDelayedCalls()), 1)

        clock.advance(0.1)
        self.assertEqual(
            [row[2] for row in csv_rows(self.master)], ["2001", "2002", "2003", "2004"]
        )
        self.assertEqual(self.synced, ["Master.csv"])
        self.assertEqual([r["dst"] for r in sqlite_rows(self.db)], ["2001", "2002", "2003", "2004"])
        self.assertEqual((w.written, clock.getDelayedCalls()), (4, []))

    def test_the_next_record_arms_a_new_batch(self) -> None:
        clock = Clock()
        w = self.writer(clock)
        w.write(record(1))
        clock.advance(0.2)
        w.write(record(2))
        self.assertEqual(len(csv_rows(self.master)), 1)
        clock.advance(0.2)
        self.assertEqual(len(csv_rows(self.master)), 2)
        self.assertEqual(self.synced, ["Master.csv", "Master.csv"])

    def test_without_a_scheduler_every_record_is_written_at_once(self) -> None:
        w = self.writer()
        w.write(record(1))
        self.assertEqual(len(csv_rows(self.master)), 1)
        self.assertEqual(len(sqlite_rows(self.db)), 1)
        self.assertEqual(self.synced, ["Master.csv"])

    def test_the_csv_line_is_cdr_csvs(self) -> None:
        w = self.writer()
        w.write(record(1, accountcode="", lastdata='say "hi"', answer=None, billsec=0,
                       disposition="NO ANSWER"))  # fmt: skip
        line = self.master.read_text(encoding="utf-8")
        self.assertTrue(line.startswith('"","desk1","2001","phones","""Desk One"" <desk1>",'), line)
        self.assertIn(',"say ""hi""",', line)
        # An empty answer time is an empty field; integers are bare.
        self.assertRegex(line, r',"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d",,"[^"]+",12,0,"NO ANSWER",')
        self.assertTrue(line.endswith(',"DOCUMENTATION"\n'), line)

    def test_uniqueid_and_userfield_columns_when_asked(self) -> None:
        w = self.writer(csv_loguniqueid=True, csv_loguserfield=True)
        w.write(record(1, userfield="note"))
        (row,) = csv_rows(self.master)
        self.assertEqual(row[16:], ["1780000000.1", "note"])

    def test_local_time_or_usegmtime(self) -> None:
        # In a zone that is not UTC (this machine's own zone may be UTC).
        old = os.environ.get("TZ")
        os.environ["TZ"] = "Europe/Berlin"
        time.tzset()
        self.addCleanup(time.tzset)
        if old is None:
            self.addCleanup(os.environ.pop, "TZ")
        else:
            self.addCleanup(os.environ.__setitem__, "TZ", old)
        self.writer().write(record(1))
        self.writer(csv_usegmtime=True).write(record(2))
        local, gmt = csv_rows(self.master)
        self.assertEqual(local[9:12], ["2026-05-28 22:26:40", "2026-05-28 22:26:42",
                                       "2026-05-28 22:26:52"])  # fmt: skip
        self.assertEqual(gmt[9:12], ["2026-05-28 20:26:40", "2026-05-28 20:26:42",
                                     "2026-05-28 20:26:52"])  # fmt: skip


class FilterTests(WriterTestCase):
    def test_enable_no_writes_nothing(self) -> None:
        w = self.writer(enable=False)
        w.write(record(1))
        w.close()
        self.assertFalse(self.master.exists())
        self.assertFalse(self.db.exists())
        self.assertEqual(w.written, 0)

    def test_unanswered_no_keeps_only_answered_calls(self) -> None:
        w = self.writer(unanswered=False)
        w.write(record(1, disposition="NO ANSWER", answer=None))
        w.write(record(2, disposition="BUSY", answer=None))
        w.write(record(3))
        self.assertEqual([row[2] for row in csv_rows(self.master)], ["2003"])
        self.assertEqual([r["dst"] for r in sqlite_rows(self.db)], ["2003"])

    def test_sqlite_can_be_off(self) -> None:
        w = self.writer(sqlite_enable=False)
        w.write(record(1))
        self.assertEqual(len(csv_rows(self.master)), 1)
        self.assertFalse(self.db.exists())

    def test_a_relative_directory_for_the_database_is_created(self) -> None:
        nested = self.logdir / "deeper" / "calls.db"
        w = self.writer(sqlite_file=str(nested))
        w.write(record(1))
        self.assertEqual(len(sqlite_rows(nested)), 1)


class AccountLogTests(WriterTestCase):
    def test_accountlogs_copies_the_line_to_the_accounts_file(self) -> None:
        clock = Clock()
        w = self.writer(clock)
        w.write(record(1, accountcode="sales"))
        w.write(record(2, accountcode="sales"))
        w.write(record(3))  # no account code: Master.csv only
        w.write(record(4, accountcode="dept/7"))  # never a path outside the CSV directory
        clock.advance(0.2)
        directory = self.master.parent
        self.assertEqual(sorted(os.listdir(directory)), ["Master.csv", "dept_7.csv", "sales.csv"])
        self.assertEqual(
            (directory / "sales.csv").read_text().splitlines(),
            self.master.read_text().splitlines()[:2],
        )
        self.assertEqual([row[2] for row in csv_rows(directory / "dept_7.csv")], ["2004"])
        # One batch: one fsync for each file it touched.
        self.assertEqual(sorted(self.synced), ["Master.csv", "dept_7.csv", "sales.csv"])

    def test_accountlogs_no(self) -> None:
        w = self.writer(csv_accountlogs=False)
        w.write(record(1, accountcode="sales"))
        self.assertEqual(os.listdir(self.master.parent), ["Master.csv"])
        (row,) = csv_rows(self.master)
        self.assertEqual(row[0], "sales")


class CloseTests(WriterTestCase):
    def test_close_writes_the_queued_batch_at_once_and_disarms_the_timer(self) -> None:
        clock = Clock()
        w = self.writer(clock)
        w.write(record(1))
        w.write(record(2))
        w.close()
        self.assertEqual(clock.getDelayedCalls(), [])
        self.assertEqual(len(csv_rows(self.master)), 2)
        self.assertEqual(self.synced, ["Master.csv"])
        # Committed and closed: another connection sees both rows.
        self.assertEqual([r["dst"] for r in sqlite_rows(self.db)], ["2001", "2002"])
        clock.advance(1.0)  # nothing left to fire
        self.assertEqual(len(csv_rows(self.master)), 2)

    def test_a_record_after_close_is_written_at_once(self) -> None:
        # A call whose hang-up finishes after the stop began: no timer runs any more.
        clock = Clock()
        w = self.writer(clock)
        w.close()
        w.write(record(3))
        self.assertEqual(clock.getDelayedCalls(), [])
        self.assertEqual([row[2] for row in csv_rows(self.master)], ["2003"])

    def test_close_twice_and_with_nothing_queued(self) -> None:
        w = self.writer(Clock())
        w.close()
        w.close()
        self.assertFalse(self.master.exists())
        self.assertEqual(sqlite_rows(self.db), [])


class SqliteSchemaTests(WriterTestCase):
    def test_new_file_has_every_column_with_its_type(self) -> None:
        self.writer()
        with sqlite3.connect(self.db) as db:
            info = {row[1]: row[2] for row in db.execute("PRAGMA table_info(cdr)")}
        self.assertEqual(list(info), ["id", *COLUMNS])
        self.assertEqual(
            {c: info[c] for c in ("id", "src", "start", "answer", "end", "duration", "billsec")},
            {"id": "INTEGER", "src": "TEXT", "start": "REAL", "answer": "REAL", "end": "REAL",
             "duration": "INTEGER", "billsec": "INTEGER"},
        )  # fmt: skip

    def test_values_are_stored_typed(self) -> None:
        w = self.writer()
        w.write(record(1, qos="SIP/desk1-00000001: ssrc=1"))
        w.write(record(2, answer=None, billsec=0, disposition="NO ANSWER"))
        first, second = sqlite_rows(self.db)
        self.assertEqual(
            {k: first[k] for k in ("start", "answer", "end", "duration", "billsec", "qos")},
            {"start": START, "answer": START + 2, "end": START + 12, "duration": 12,
             "billsec": 10, "qos": "SIP/desk1-00000001: ssrc=1"},
        )  # fmt: skip
        self.assertIsNone(second["answer"])
        self.assertEqual(second["disposition"], "NO ANSWER")

    def test_an_older_file_gains_the_new_columns_and_keeps_its_rows(self) -> None:
        self.logdir.mkdir(parents=True)
        old_columns = [c for c in COLUMNS if c not in ("linkedid", "qos", "userfield")]
        with sqlite3.connect(self.db) as db:
            db.execute(f"CREATE TABLE cdr (id INTEGER PRIMARY KEY, {', '.join(old_columns)})")
            db.execute("INSERT INTO cdr (src, dst, disposition) VALUES ('old', '1000', 'BUSY')")
        db.close()

        w = self.writer()
        w.write(record(1, qos="q", userfield="u"))
        with sqlite3.connect(self.db) as check:
            names = [row[1] for row in check.execute("PRAGMA table_info(cdr)")]
        check.close()
        self.assertEqual(sorted(names), sorted(["id", *COLUMNS]))
        old, new = sqlite_rows(self.db)
        self.assertEqual((old["src"], old["dst"], old["qos"], old["linkedid"]),
                         ("old", "1000", None, None))  # fmt: skip
        self.assertEqual((new["src"], new["linkedid"], new["qos"], new["userfield"]),
                         ("desk1", "1780000000.1", "q", "u"))  # fmt: skip

    def test_the_database_is_written_with_full_synchronisation(self) -> None:
        w = self.writer()
        db = w._db
        assert db is not None
        self.assertEqual(db.execute("PRAGMA synchronous").fetchone()[0], 2)  # FULL


class DiskErrorTests(WriterTestCase):
    def test_an_unwritable_csv_directory_is_logged_and_sqlite_still_gets_the_record(
        self,
    ) -> None:
        self.logdir.mkdir(parents=True)
        (self.logdir / "cdr-csv").write_text("a file where the directory should be")
        w = self.writer()
        with self.assertLogs("pbx.adapters.cdr_writer", logging.ERROR) as logs:
            w.write(record(1))
        self.assertIn("could not write 1 CDRs", logs.output[0])
        self.assertEqual([r["dst"] for r in sqlite_rows(self.db)], ["2001"])

    def test_an_sqlite_error_is_logged_and_the_csv_line_is_still_written(self) -> None:
        w = self.writer()
        with sqlite3.connect(self.db) as db:
            db.execute("DROP TABLE cdr")
        db.close()
        with self.assertLogs("pbx.adapters.cdr_writer", logging.ERROR) as logs:
            w.write(record(1))
        self.assertIn("could not store 1 CDRs in SQLite", logs.output[0])
        self.assertEqual(len(csv_rows(self.master)), 1)
