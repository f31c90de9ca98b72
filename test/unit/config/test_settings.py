"""Tests for pbx.config.settings: every file of a config directory, the samples in etc/ included."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from twisted.trial.unittest import SkipTest, SynchronousTestCase

from pbx.config.settings import TABLES, format_help, load_settings
from pbx.core.addr import TransportKind
from pbx.core.errors import ConfigErrors

ETC = Path(__file__).resolve().parents[3] / "etc"
SAMPLES = ("sip.conf", "http.conf", "rtp.conf", "cdr.conf", "logger.conf", "pbx.conf")


class SampleTests(SynchronousTestCase):
    """The shipped samples must keep loading cleanly."""

    def test_samples_load_without_errors_or_warnings(self) -> None:
        settings = load_settings(str(ETC))
        self.assertEqual([str(w) for w in settings.warnings], [])
        self.assertEqual(settings.config_dir, str(ETC))

    def test_sample_contents(self) -> None:
        settings = load_settings(str(ETC))
        self.assertEqual(sorted(settings.sip.peers), ["alice", "bob", "desk1", "desk2"])
        alice = settings.sip.peers["alice"]
        self.assertTrue(alice.webrtc and alice.dtlsenable and alice.avpf and alice.rtcp_mux)
        self.assertEqual(alice.transports, (TransportKind.WS, TransportKind.WSS))
        self.assertEqual(
            settings.sip.peers["desk1"].transports, (TransportKind.UDP, TransportKind.TCP)
        )
        self.assertTrue(settings.http.enabled)
        self.assertEqual((settings.rtp.rtpstart, settings.rtp.rtpend), (10000, 20000))
        self.assertTrue(settings.cdr.unanswered)
        self.assertEqual(settings.pbx.logdir, str(ETC / "log"))
        self.assertEqual(settings.cdr.sqlite.file, str(ETC / "log" / "cdr.sqlite3"))

    def test_sample_contexts_exist_in_the_sample_dialplan(self) -> None:
        dialplan = ETC / "extensions.conf"
        if not dialplan.exists():
            raise SkipTest("etc/extensions.conf is not there yet")
        headers = {line.strip() for line in dialplan.read_text().splitlines()}
        for peer in load_settings(str(ETC)).sip.peers.values():
            self.assertIn(f"[{peer.context}]", headers, peer.name)

    def test_samples_document_the_scope(self) -> None:
        sip = (ETC / "sip.conf").read_text()
        self.assertIn("pjsip.conf is NOT read", sip)
        self.assertIn("webrtc=yes", sip)
        self.assertIn("max_contacts", sip)
        self.assertIn("rtp.conf", sip)
        for name in SAMPLES:
            self.assertTrue((ETC / name).read_text().startswith(";"), name)


class LoadSettingsTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.dir = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.dir)

    def write(self, name: str, text: str) -> None:
        with open(os.path.join(self.dir, name), "w") as f:
            f.write(text)

    def test_only_sip_conf_is_required(self) -> None:
        self.write("sip.conf", "[general]\n")
        settings = load_settings(self.dir)
        self.assertEqual(settings.warnings, [])
        self.assertFalse(settings.http.enabled)
        self.assertEqual(settings.pbx.logdir, "/var/log/pbx")
        self.assertEqual(settings.cdr.csv.directory, "/var/log/pbx/cdr-csv")
        self.assertEqual(settings.logger.channels[0].name, "console")

    def test_missing_sip_conf(self) -> None:
        with self.assertRaises(ConfigErrors) as cm:
            load_settings(self.dir)
        self.assertEqual(len(cm.exception.errors), 1)
        self.assertIn("sip.conf: cannot read: No such file or directory", str(cm.exception))

    def test_errors_of_all_files_together(self) -> None:
        self.write("pbx.conf", "[options]\nsystemname=lab\nmaxcalls=-1\n")
        self.write("sip.conf", "[general]\nqualify=sometimes\n")
        self.write("http.conf", "[general]\nenabled=yes\n")
        self.write("rtp.conf", "[general]\nrtpstart=20000\nrtpend=10000\n")
        self.write("cdr.conf", "[general]\nenable=perhaps\n")
        self.write("logger.conf", "[logfiles]\nconsole => noise\n")
        with self.assertRaises(ConfigErrors) as cm:
            load_settings(self.dir)
        lines = [f"{os.path.basename(e.path)}:{e.line}" for e in cm.exception.errors]
        self.assertEqual(
            lines,
            [
                "pbx.conf:3",
                "sip.conf:2",
                "http.conf:2",
                "rtp.conf:3",
                "cdr.conf:2",
                "logger.conf:2",
            ],
        )

    def test_systemname_is_the_default_realm_and_logdir_is_used(self) -> None:
        self.write("pbx.conf", "[directories]\nlogdir=logs\n[options]\nsystemname=lab\n")
        self.write("sip.conf", "[general]\n")
        self.write("cdr.conf", "[sqlite]\nfile=x.db\n")
        settings = load_settings(self.dir)
        self.assertEqual(settings.sip.general.realm, "lab")
        self.assertEqual(settings.cdr.sqlite.file, os.path.join(self.dir, "logs", "x.db"))

    def test_cross_file_warnings(self) -> None:
        self.write(
            "sip.conf",
            "[general]\nnat=force_rport,comedia\n"
            "[web]\ntype=friend\nwebrtc=yes\ntransport=ws\n"
            "[secure]\ntype=friend\ntransport=wss\n",
        )
        self.write("rtp.conf", "[general]\nicesupport=no\n")
        settings = load_settings(self.dir)
        self.assertEqual(
            [f"{os.path.basename(w.path)}:{w.line}: {w.message}" for w in settings.warnings],
            [
                "sip.conf:3: uses ws/wss but http.conf does not enable the HTTP server: it cannot "
                "connect",
                "sip.conf:3: icesupport=yes, but rtp.conf has icesupport=no, which turns ICE off",
                "sip.conf:7: uses ws/wss but http.conf does not enable the HTTP server: it cannot "
                "connect",
            ],
        )
        self.write("http.conf", "[general]\nenabled=yes\nbindaddr=127.0.0.1\n")
        self.write("rtp.conf", "")
        warnings = [w.message for w in load_settings(self.dir).warnings]
        self.assertEqual(warnings, ["uses wss but http.conf has tlsenable=no: it cannot connect"])
        self.write(
            "sip.conf", "[general]\nwebsocket_enabled=no\n[web]\ntype=friend\ntransport=ws\n"
        )
        warnings = [w.message for w in load_settings(self.dir).warnings]
        self.assertEqual(
            warnings, ["uses ws/wss but websocket_enabled=no in [general]: it cannot connect"]
        )


class HelpTests(SynchronousTestCase):
    def test_every_table_is_printed(self) -> None:
        text = format_help()
        self.assertIn("pjsip.conf is not read", text)
        for table in TABLES:
            self.assertIn(f"\n{table.title}\n{'=' * len(table.title)}\n", text)
            for option in table.options:
                self.assertIn(f"\n{option.name}", text)
        self.assertIn("webrtc  [scope device; values yes|no; default no]", text)
