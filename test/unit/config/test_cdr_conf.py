"""Tests for pbx.config.cdr_conf: cdr.conf to CdrSettings (Asterisk main/cdr.c, cdr_csv)."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from pbx.config.cdr_conf import (
    CdrSettings,
    CsvSettings,
    SqliteSettings,
    load_cdr_conf,
    parse_cdr_conf,
)
from pbx.config.model import loads
from pbx.config.schema import Diagnostics


def load(text: str) -> tuple[CdrSettings, list[str], list[str]]:
    cfg = loads(text, "cdr.conf", "/cfg")
    diag = Diagnostics()
    settings = parse_cdr_conf(cfg, "/cfg", "/var/log/pbx", diag)
    return settings, [str(e) for e in diag.errors], [str(w) for w in diag.warnings]


class CdrConfTests(SynchronousTestCase):
    def test_defaults_log_unanswered_calls(self) -> None:
        s, errors, warnings = load("")
        self.assertEqual((errors, warnings), ([], []))
        self.assertEqual(
            s,
            CdrSettings(
                enable=True,
                unanswered=True,  # pbx's default; Asterisk's is no
                congestion=False,
                endbeforehexten=False,
                initiatedseconds=False,
                channeldefaultenabled=True,
                ignorestatechanges=False,
                ignoredialchanges=False,
                canceldispositionenabled=False,
                csv=CsvSettings(False, False, False, True, False, "/var/log/pbx/cdr-csv"),
                sqlite=SqliteSettings(True, "/var/log/pbx/cdr.sqlite3"),
            ),
        )
        self.assertEqual(load_cdr_conf("/nonexistent-dir", "/var/log/pbx").value, s)

    def test_sections(self) -> None:
        s, errors, _ = load(
            "[general]\nunanswered=no\ncongestion=yes\n"
            "[csv]\nusegmtime=yes\nloguniqueid=yes\nloguserfield=yes\naccountlogs=no\n"
            "[sqlite]\nenable=no\nfile=/srv/cdr/calls.db\n"
        )
        self.assertEqual(errors, [])
        self.assertEqual((s.unanswered, s.congestion), (False, True))
        self.assertEqual(
            (s.csv.usegmtime, s.csv.loguniqueid, s.csv.loguserfield, s.csv.accountlogs),
            (True, True, True, False),
        )
        self.assertEqual(s.sqlite, SqliteSettings(False, "/srv/cdr/calls.db"))
        self.assertEqual(load("[sqlite]\nfile=other.db\n")[0].sqlite.file, "/var/log/pbx/other.db")

    def test_unsupported_and_unknown(self) -> None:
        _, errors, warnings = load(
            "[general]\nbatch=yes\nsize=100\nunanswerd=yes\n[csv]\nenable=yes\n[radius]\nusegmtime=no\n"
        )
        self.assertEqual(
            errors,
            [
                "cdr.conf:4: [general] unknown option 'unanswerd' (did you mean 'unanswered'?)",
                "cdr.conf:6: [csv] unknown option 'enable'",
            ],
        )
        self.assertEqual(
            warnings,
            [
                "cdr.conf:2: [general] option 'batch' is not supported by pbx and is ignored",
                "cdr.conf:3: [general] option 'size' is not supported by pbx and is ignored",
                "cdr.conf:7: [radius] CDR back end not supported by pbx; ignored",
            ],
        )
