"""cdr.conf -> :class:`CdrSettings` (Asterisk ``main/cdr.c``, ``cdr_csv``; ASTERISK-REFERENCE §6).

``[general]`` and ``[csv]`` keep Asterisk's names and meanings with one deliberate difference:
**``unanswered`` defaults to yes** in pbx (Asterisk: no), because unanswered calls must appear in
the CDRs by default. ``batch`` mode and its tuning options are recognised and reported as
unsupported (pbx writes each record when the call ends).

``[sqlite]`` is pbx's own back end (Asterisk's closest is ``cdr_sqlite3_custom``): ``enable``
(default yes) and ``file`` (default ``cdr.sqlite3``; relative names live in the log directory,
as Asterisk's SQLite CDR files do). CSV records go to ``<logdir>/cdr-csv/Master.csv``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from pbx.config import parsers as p
from pbx.config.lexer import Reader, read_file
from pbx.config.model import ConfigFile
from pbx.config.schema import (
    Diagnostics,
    Loaded,
    Option,
    OptionTable,
    finish,
    parse_sections,
    read_optional_config,
    sections_named,
    unsupported,
)


@dataclass(frozen=True)
class CsvSettings:
    """``[csv]``: ``directory`` is ``<logdir>/cdr-csv`` (where ``Master.csv`` goes)."""

    usegmtime: bool
    loguniqueid: bool
    loguserfield: bool
    accountlogs: bool
    newcdrcolumns: bool
    directory: str


@dataclass(frozen=True)
class SqliteSettings:
    """``[sqlite]`` (pbx): ``file`` is an absolute path."""

    enable: bool
    file: str


@dataclass(frozen=True)
class CdrSettings:
    """``[general]`` switches plus the back ends."""

    enable: bool
    unanswered: bool
    congestion: bool
    endbeforehexten: bool
    initiatedseconds: bool
    channeldefaultenabled: bool
    ignorestatechanges: bool
    ignoredialchanges: bool
    canceldispositionenabled: bool
    csv: CsvSettings
    sqlite: SqliteSettings


ENABLE = Option("enable", p.BOOL, True, "Record CDRs at all.")
UNANSWERED = Option(
    "unanswered",
    p.BOOL,
    True,
    "Record calls nobody answered. pbx default yes; Asterisk's default is no.",
)
CONGESTION = Option("congestion", p.BOOL, False, "Disposition CONGESTION instead of FAILED.")
ENDBEFOREHEXTEN = Option(
    "endbeforehexten", p.BOOL, False, "Close the CDR before the h extension runs."
)
INITIATEDSECONDS = Option(
    "initiatedseconds", p.BOOL, False, "Count a started second as a whole billsec."
)
CHANNELDEFAULTENABLED = Option(
    "channeldefaultenabled", p.BOOL, True, "New channels produce CDRs unless told otherwise."
)
IGNORESTATECHANGES = Option(
    "ignorestatechanges", p.BOOL, False, "Do not start new CDRs on channel state changes."
)
IGNOREDIALCHANGES = Option(
    "ignoredialchanges", p.BOOL, False, "Do not start new CDRs on dial status changes."
)
CANCELDISPOSITIONENABLED = Option(
    "canceldispositionenabled", p.BOOL, False, "Disposition CANCEL for cancelled calls."
)

GENERAL_OPTIONS = OptionTable(
    "cdr.conf: [general]",
    (
        ENABLE,
        UNANSWERED,
        CONGESTION,
        ENDBEFOREHEXTEN,
        INITIATEDSECONDS,
        CHANNELDEFAULTENABLED,
        IGNORESTATECHANGES,
        IGNOREDIALCHANGES,
        CANCELDISPOSITIONENABLED,
        unsupported("batch", "Write CDRs in batches."),
        unsupported("size", "Records per batch."),
        unsupported("time", "Seconds between batches."),
        unsupported("scheduleronly", "Write batches from the scheduler thread."),
        unsupported("safeshutdown", "Flush batches at shutdown."),
        unsupported("debug", "CDR engine debugging."),
    ),
)

USEGMTIME = Option("usegmtime", p.BOOL, False, "Timestamps in GMT instead of local time.")
LOGUNIQUEID = Option("loguniqueid", p.BOOL, False, "Add the uniqueid column.")
LOGUSERFIELD = Option("loguserfield", p.BOOL, False, "Add the userfield column.")
ACCOUNTLOGS = Option("accountlogs", p.BOOL, True, "Also write <accountcode>.csv.")
NEWCDRCOLUMNS = Option(
    "newcdrcolumns", p.BOOL, False, "Add peeraccount, linkedid and sequence columns."
)

CSV_OPTIONS = OptionTable(
    "cdr.conf: [csv]", (USEGMTIME, LOGUNIQUEID, LOGUSERFIELD, ACCOUNTLOGS, NEWCDRCOLUMNS)
)

SQLITE_ENABLE = Option("enable", p.BOOL, True, "pbx: write CDRs to an SQLite database.")
SQLITE_FILE = Option(
    "file", p.TEXT, "cdr.sqlite3", "pbx: database file; relative names are in the log dir."
)

SQLITE_OPTIONS = OptionTable("cdr.conf: [sqlite] (pbx)", (SQLITE_ENABLE, SQLITE_FILE))

_TABLES = {"general": GENERAL_OPTIONS, "csv": CSV_OPTIONS, "sqlite": SQLITE_OPTIONS}


def load_cdr_conf(
    config_dir: str, logdir: str, name: str = "cdr.conf", reader: Reader = read_file
) -> Loaded[CdrSettings]:
    """Read cdr.conf; a missing file means the defaults.

    :param logdir: pbx.conf's log directory (CSV and relative SQLite files live there).
    :raises ConfigErrors: with every error found.
    """
    config_dir = os.path.abspath(config_dir)
    diag = Diagnostics()
    cfg = read_optional_config(config_dir, name, diag, reader)
    return finish(diag, cfg.files, parse_cdr_conf(cfg, config_dir, logdir, diag))


def parse_cdr_conf(cfg: ConfigFile, config_dir: str, logdir: str, diag: Diagnostics) -> CdrSettings:
    """Build :class:`CdrSettings`; every problem goes to ``diag``."""
    general, csv, sqlite = (
        parse_sections(sections_named(cfg, name), table, diag, config_dir)
        for name, table in _TABLES.items()
    )
    for section in cfg.sections():
        if section.name.lower() not in _TABLES:
            diag.warn(
                section.path,
                section.line,
                "CDR back end not supported by pbx; ignored",
                section.name,
            )
    sqlite_file = sqlite.get(SQLITE_FILE).strip() or SQLITE_FILE.default
    return CdrSettings(
        enable=general.get(ENABLE),
        unanswered=general.get(UNANSWERED),
        congestion=general.get(CONGESTION),
        endbeforehexten=general.get(ENDBEFOREHEXTEN),
        initiatedseconds=general.get(INITIATEDSECONDS),
        channeldefaultenabled=general.get(CHANNELDEFAULTENABLED),
        ignorestatechanges=general.get(IGNORESTATECHANGES),
        ignoredialchanges=general.get(IGNOREDIALCHANGES),
        canceldispositionenabled=general.get(CANCELDISPOSITIONENABLED),
        csv=CsvSettings(
            usegmtime=csv.get(USEGMTIME),
            loguniqueid=csv.get(LOGUNIQUEID),
            loguserfield=csv.get(LOGUSERFIELD),
            accountlogs=csv.get(ACCOUNTLOGS),
            newcdrcolumns=csv.get(NEWCDRCOLUMNS),
            directory=os.path.join(logdir, "cdr-csv"),
        ),
        sqlite=SqliteSettings(
            enable=sqlite.get(SQLITE_ENABLE), file=p.resolve_path(logdir, sqlite_file)
        ),
    )
