"""CDR back ends: ``<logdir>/cdr-csv/Master.csv`` (cdr_csv) and an SQLite table.

Every record is written when its call ends and fsync'd before the write returns, so a clean or
graceful stop (or even a crash right after the call) loses nothing; CDRs are rare next to
REGISTERs, so the cost is fine. ``accountlogs`` also appends to ``<accountcode>.csv``.
"""

from __future__ import annotations

import logging
import os
import sqlite3

from pbx.call.cdr import CdrRecord, csv_line
from pbx.config.cdr_conf import CdrSettings

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
    def __init__(self, settings: CdrSettings) -> None:
        self.settings = settings
        self.written = 0
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
        if not self.settings.enable:
            return
        if not self.settings.unanswered and record.disposition != "ANSWERED":
            return
        csv = self.settings.csv
        line = csv_line(
            record, gmt=csv.usegmtime, uniqueid=csv.loguniqueid, userfield=csv.loguserfield
        )
        try:
            os.makedirs(csv.directory, exist_ok=True)
            self._append(os.path.join(csv.directory, "Master.csv"), line)
            if csv.accountlogs and record.accountcode:
                name = record.accountcode.replace("/", "_")
                self._append(os.path.join(csv.directory, f"{name}.csv"), line)
        except OSError:
            log.exception("could not write CDR for %s", record.channel)
        if self._db is not None:
            try:
                self._db.execute(INSERT, tuple(getattr(record, c) for c in COLUMNS))
            except sqlite3.Error:
                log.exception("could not store CDR for %s in SQLite", record.channel)
        self.written += 1

    @staticmethod
    def _append(path: str, line: str) -> None:
        with open(path, "a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
