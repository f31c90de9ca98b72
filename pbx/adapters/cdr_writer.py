"""CDR back ends: ``<logdir>/cdr-csv/Master.csv`` (cdr_csv) and an SQLite table.

A record is written within a fraction of a second of its call's end, in batches with one fsync
per file, and everything queued is written on a clean or graceful stop. ``accountlogs`` also
appends to ``<accountcode>.csv``.
"""

from __future__ import annotations

import logging
import os
import sqlite3

from pbx.call.cdr import CdrRecord, csv_line
from pbx.config.cdr_conf import CdrSettings
from pbx.core.clock import Cancellable, Scheduler

log = logging.getLogger(__name__)

COLUMNS = (
    "accountcode", "src", "dst", "dcontext", "clid", "channel", "dstchannel", "lastapp",
    "lastdata", "start", "answer", "end", "duration", "billsec", "disposition", "amaflags",
    "uniqueid", "userfield", "linkedid", "qos",
)  # fmt: skip


INSERT = f"INSERT INTO cdr ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"


def _sql_type(column: str) -> str:
    if column in ("start", "answer", "end"):
        return "REAL"
    return "INTEGER" if column in ("duration", "billsec") else "TEXT"


class CdrWriter:
    """Appends CDRs in small batches: a burst of hang-ups costs one fsync per file, not one
    per call, and the event loop never stalls on disk for each call.

    :param scheduler: arms the batch flush; ``None`` writes every record at once (tests).
    """

    def __init__(
        self, settings: CdrSettings, scheduler: Scheduler | None = None, delay: float = 0.2
    ) -> None:
        self.settings = settings
        self.written = 0
        self._scheduler = scheduler
        self._delay = delay
        self._pending: list[CdrRecord] = []
        self._flush_call: Cancellable | None = None
        self._db: sqlite3.Connection | None = None
        if settings.enable and settings.sqlite.enable:
            os.makedirs(os.path.dirname(settings.sqlite.file) or ".", exist_ok=True)
            self._db = sqlite3.connect(settings.sqlite.file, isolation_level=None)
            self._db.execute("PRAGMA synchronous=FULL")
            cols = ", ".join(f"{c} {_sql_type(c)}" for c in COLUMNS)
            self._db.execute(f"CREATE TABLE IF NOT EXISTS cdr (id INTEGER PRIMARY KEY, {cols})")
            have = {row[1] for row in self._db.execute("PRAGMA table_info(cdr)")}
            for column in COLUMNS:
                if column not in have:  # a file written by an older pbx
                    self._db.execute(f"ALTER TABLE cdr ADD COLUMN {column} {_sql_type(column)}")

    def write(self, record: CdrRecord) -> None:
        """Queue one call's CDR; it is on disk (fsync'd) within ``delay`` seconds."""
        if not self.settings.enable:
            return
        if not self.settings.unanswered and record.disposition != "ANSWERED":
            return
        self._pending.append(record)
        if self._scheduler is None:
            self.flush()
        elif self._flush_call is None:
            self._flush_call = self._scheduler.callLater(self._delay, self.flush)

    def flush(self) -> None:
        """Write every queued record: CSV lines then one fsync per file, then SQLite."""
        self._flush_call = None
        records, self._pending = self._pending, []
        if not records:
            return
        csv = self.settings.csv
        files: dict[str, list[str]] = {}
        for record in records:
            line = csv_line(
                record, gmt=csv.usegmtime, uniqueid=csv.loguniqueid, userfield=csv.loguserfield
            )
            files.setdefault("Master.csv", []).append(line)
            if csv.accountlogs and record.accountcode:
                files.setdefault(record.accountcode.replace("/", "_") + ".csv", []).append(line)
        try:
            os.makedirs(csv.directory, exist_ok=True)
            for name, lines in files.items():
                self._append(os.path.join(csv.directory, name), "".join(lines))
        except OSError:
            log.exception("could not write %d CDRs", len(records))
        if self._db is not None:
            try:
                with self._db:
                    self._db.execute("BEGIN")
                    self._db.executemany(
                        INSERT, [tuple(getattr(r, c) for c in COLUMNS) for r in records]
                    )
            except sqlite3.Error:
                log.exception("could not store %d CDRs in SQLite", len(records))
        self.written += len(records)

    @staticmethod
    def _append(path: str, text: str) -> None:
        with open(path, "a", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())

    def close(self) -> None:
        """Write what is queued (a clean or graceful stop loses no CDR) and close SQLite."""
        if self._flush_call is not None and self._flush_call.active():
            self._flush_call.cancel()
        self.flush()
        # A CDR that still comes (a call whose hang-up ends after the stop began) is written at
        # once: no timer would run for it any more.
        self._scheduler = None
        if self._db is not None:
            self._db.close()
            self._db = None
