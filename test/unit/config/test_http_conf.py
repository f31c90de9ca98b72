"""Tests for pbx.config.http_conf: http.conf to HttpSettings (Asterisk main/http.c)."""

from __future__ import annotations

import os
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from pbx import __version__
from pbx.config.http_conf import HttpSettings, load_http_conf, parse_http_conf
from pbx.config.model import loads
from pbx.config.schema import Diagnostics
from pbx.core.addr import Address

DATA = str(Path(__file__).resolve().parents[2] / "data" / "config")


def load(text: str) -> tuple[HttpSettings, list[str], list[str]]:
    cfg = loads(text, "http.conf", DATA)
    diag = Diagnostics()
    settings = parse_http_conf(cfg, DATA, diag)
    return settings, [str(e) for e in diag.errors], [str(w) for w in diag.warnings]


class HttpConfTests(SynchronousTestCase):
    def test_defaults(self) -> None:
        s, errors, warnings = load("")
        self.assertEqual((errors, warnings), ([], []))
        self.assertEqual(
            s,
            HttpSettings(
                enabled=False,
                bindaddr=None,
                bindport=8088,
                prefix="",
                tlsenable=False,
                tlsbindaddr=None,
                tlscertfile=os.path.join(DATA, "asterisk.pem"),
                tlsprivatekey=os.path.join(DATA, "asterisk.pem"),
                tlscipher="",
                enablestatic=False,
                staticdir=os.path.join(DATA, "static"),
                redirects=(),
                servername=f"pbx/{__version__}",
                sessionlimit=100,
                session_inactivity=30000,
                session_keep_alive=15000,
                enable_status=False,
            ),
        )

    def test_missing_file_means_defaults(self) -> None:
        loaded = load_http_conf(DATA, "no-http.conf")
        self.assertEqual((loaded.value.enabled, loaded.warnings), (False, []))

    def test_enabled_needs_bindaddr(self) -> None:
        _, errors, _ = load("[general]\nenabled=yes\n")
        self.assertEqual(
            errors,
            [
                "http.conf:2: [general] enabled=yes needs bindaddr (Asterisk does not start the "
                "HTTP "
                "server without it)"
            ],
        )

    def test_listeners(self) -> None:
        s, errors, _ = load("[general]\nenabled=yes\nbindaddr=127.0.0.1\nbindport=8090\n")
        self.assertEqual(errors, [])
        self.assertEqual(
            (s.bindaddr, s.bindport, s.tlsbindaddr),
            (Address("127.0.0.1", 8090), 8090, Address("127.0.0.1", 8089)),
        )
        s, _, _ = load("[general]\nenabled=yes\nbindaddr=[::1]:8000\ntlsbindaddr=[::]\n")
        self.assertEqual((s.bindaddr, s.tlsbindaddr), (Address("::1", 8000), Address("::", 8089)))
        s, _, _ = load("[general]\ntlsbindaddr=0.0.0.0:4443\n")
        self.assertEqual(s.tlsbindaddr, Address("0.0.0.0", 4443))

    def test_tls_needs_readable_files_when_named(self) -> None:
        # Without tlscertfile, a missing default file means pbx's local CA (adapters.local_ca).
        _, errors, _ = load("[general]\nenabled=yes\nbindaddr=127.0.0.1\ntlsenable=yes\n")
        self.assertEqual(errors, [])
        _, errors, _ = load(
            "[general]\nenabled=yes\nbindaddr=127.0.0.1\ntlsenable=yes\ntlscertfile=x.pem\n"
        )
        self.assertEqual(
            errors, [f"http.conf:5: [general] cannot read tlscertfile '{DATA}/x.pem': no such file"]
        )
        s, errors, _ = load(
            "[general]\nenabled=yes\nbindaddr=127.0.0.1\ntlsenable=yes\n"
            "tlscertfile=dtls-cert.pem\ntlsprivatekey=dtls-key.pem\n"
        )
        self.assertEqual(errors, [])
        self.assertEqual(s.tlsprivatekey, os.path.join(DATA, "dtls-key.pem"))

    def test_names_and_aliases(self) -> None:
        s, errors, warnings = load(
            "[general]\nprefix=/asterisk/\nenable_static=yes\nstaticdir=/srv/www\nservername=\n"
            "redirect=/ /static/index.html\nredirect=/phone /static/phone.html\nsslenable=no\n"
        )
        self.assertEqual(errors, [])
        self.assertEqual(
            (s.prefix, s.enablestatic, s.staticdir, s.servername),
            ("/asterisk", True, "/srv/www", ""),
        )
        self.assertEqual(
            s.redirects, (("/", "/static/index.html"), ("/phone", "/static/phone.html"))
        )
        self.assertEqual(
            warnings, ["http.conf:8: [general] option 'sslenable' is deprecated, use 'tlsenable'"]
        )

    def test_unknown_options_and_sections(self) -> None:
        _, errors, warnings = load(
            "[general]\nbindport=8088\nsesionlimit=5\nredirect=nowhere\ntlsdisablev1=yes\n"
            "[/metrics]\ntype=restriction\npermit=127.0.0.1\n[post_mappings]\nuploads=/tmp\n"
        )
        self.assertEqual(
            errors,
            [
                "http.conf:3: [general] unknown option 'sesionlimit' (did you mean "
                "'sessionlimit'?)",
                "http.conf:4: [general] option 'redirect': expected '/from /to', got 'nowhere'",
            ],
        )
        self.assertEqual(
            warnings,
            [
                "http.conf:5: [general] option 'tlsdisablev1' is not supported by pbx and is "
                "ignored",
                "http.conf:6: [/metrics] per-path restrictions (type=restriction) are not "
                "supported "
                "by pbx; ignored",
                "http.conf:9: [post_mappings] section is not used by pbx; ignored",
            ],
        )
