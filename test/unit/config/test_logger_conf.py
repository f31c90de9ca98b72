"""Tests for pbx.config.logger_conf: logger.conf to LoggerSettings (Asterisk main/logger.c)."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from pbx.config.logger_conf import LogChannel, LoggerSettings, load_logger_conf, parse_logger_conf
from pbx.config.model import loads
from pbx.config.schema import Diagnostics


def load(text: str) -> tuple[LoggerSettings, list[str], list[str]]:
    cfg = loads(text, "logger.conf", "/cfg")
    cfg.files = ["logger.conf"]
    diag = Diagnostics()
    settings = parse_logger_conf(cfg, "/cfg", "/var/log/pbx", diag)
    return settings, [str(e) for e in diag.errors], [str(w) for w in diag.warnings]


class LoggerConfTests(SynchronousTestCase):
    def test_without_file_console_gets_what_asterisk_logs(self) -> None:
        loaded = load_logger_conf("/nonexistent-dir", "/var/log/pbx")
        self.assertEqual(loaded.value.dateformat, "%Y-%m-%d %H:%M:%S")
        self.assertEqual(
            loaded.value.channels,
            (LogChannel("console", ("error", "warning", "notice", "verbose"), None),),
        )

    def test_channels(self) -> None:
        s, errors, warnings = load(
            "[general]\ndateformat=%F %T\n[logfiles]\nconsole => notice,warning,error\n"
            "messages => notice,warning,error,notice\nfull => *\n/tmp/pbx-debug.log => debug\n"
        )
        self.assertEqual((errors, warnings), ([], []))
        self.assertEqual(s.dateformat, "%F %T")
        self.assertEqual(
            s.channels,
            (
                LogChannel("console", ("notice", "warning", "error"), None),
                LogChannel("messages", ("notice", "warning", "error"), "/var/log/pbx/messages"),
                LogChannel("full", ("*",), "/var/log/pbx/full"),
                LogChannel("/tmp/pbx-debug.log", ("debug",), "/tmp/pbx-debug.log"),
            ),
        )
        self.assertEqual(
            s.logfiles,
            {
                "console": "notice,warning,error",
                "messages": "notice,warning,error",
                "full": "*",
                "/tmp/pbx-debug.log": "debug",
            },
        )

    def test_levels_checked(self) -> None:
        s, errors, warnings = load(
            "[logfiles]\nfull => notice,fax,verbose\nbad => notcie,error\nsyslog.local0 => error\n"
            "full => debug\n"
        )
        self.assertEqual(
            errors,
            [
                "logger.conf:3: [logfiles] log channel 'bad': unknown level 'notcie' (did you "
                "mean 'notice'?)"
            ],
        )
        self.assertEqual(
            warnings,
            [
                "logger.conf:2: [logfiles] log channel 'full': level 'fax' is not used by pbx",
                "logger.conf:4: [logfiles] log channel 'syslog.local0': syslog is not supported by "
                "pbx; ignored",
                "logger.conf:5: [logfiles] log channel 'full' defined again; this line wins",
            ],
        )
        self.assertEqual(s.channels, (LogChannel("full", ("debug",), "/var/log/pbx/full"),))

    def test_file_without_logfiles_logs_nothing(self) -> None:
        s, _, warnings = load("[general]\nqueue_log=no\n")
        self.assertEqual(s.channels, ())
        self.assertEqual(
            warnings,
            [
                "logger.conf:2: [general] option 'queue_log' is not supported by pbx and is "
                "ignored",
                "logger.conf: no [logfiles] section: nothing is logged",
            ],
        )
