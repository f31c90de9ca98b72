"""Tests for pbx.config.pbx_conf: pbx.conf (pbx's asterisk.conf) to PbxSettings."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from pbx.config.model import loads
from pbx.config.pbx_conf import PbxSettings, load_pbx_conf, parse_pbx_conf
from pbx.config.schema import Diagnostics


def load(text: str) -> tuple[PbxSettings, list[str], list[str]]:
    cfg = loads(text, "pbx.conf", "/etc/pbx")
    diag = Diagnostics()
    settings = parse_pbx_conf(cfg, "/etc/pbx", diag)
    return settings, [str(e) for e in diag.errors], [str(w) for w in diag.warnings]


class PbxConfTests(SynchronousTestCase):
    def test_defaults_without_file(self) -> None:
        loaded = load_pbx_conf("/nonexistent-dir")
        self.assertEqual(
            loaded.value,
            PbxSettings(
                "/var/run/pbx", "/var/lib/pbx", "/var/log/pbx", "/var/lib/pbx/sounds", 0, 0, 0, ""
            ),
        )
        self.assertEqual(load("")[0], loaded.value)

    def test_relative_directories_resolve_against_the_config_dir(self) -> None:
        s, errors, warnings = load(
            "[directories]\nrundir => run\nastdbdir => /srv/pbx/db\nsounds => snd\n"
            "[options]\nverbose=3\ndebug=1\nmaxcalls=20\nsystemname=lab1\n"
        )
        self.assertEqual((errors, warnings), ([], []))
        self.assertEqual(
            s,
            PbxSettings(
                "/etc/pbx/run", "/srv/pbx/db", "/var/log/pbx", "/etc/pbx/snd", 3, 1, 20, "lab1"
            ),
        )

    def test_errors_and_warnings(self) -> None:
        _, errors, warnings = load(
            "[directories]\nastmoddir=/usr/lib/asterisk\nlogdri=log\n[options]\nverbose=loud\n[compat]\n"
        )
        self.assertEqual(
            errors,
            [
                "pbx.conf:3: [directories] unknown option 'logdri' (did you mean 'logdir'?)",
                "pbx.conf:5: [options] option 'verbose': expected a whole number >= 0, got 'loud'",
            ],
        )
        self.assertEqual(
            warnings,
            [
                "pbx.conf:2: [directories] option 'astmoddir' is not supported by pbx and is "
                "ignored",
                "pbx.conf:6: [compat] section is not used by pbx; ignored",
            ],
        )
