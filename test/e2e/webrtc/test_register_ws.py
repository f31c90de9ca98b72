"""Browsers register over WebSocket (issue 3), with the real JsSIP and SIP.js in Chromium.

One pbx daemon (``WsDaemon``: http.conf with ws:// and wss:// on free loopback ports, no
``tlscertfile`` so pbx makes its own CA) and one headless Chromium are shared by the tests of a
class; each test uses its own peers, so they stay independent. What the tests assert is what a
user sees: the status codes the libraries report, the subprotocol the browser's WebSocket
selected, and the bindings ``sip show peer`` / ``sip show registry`` list (transport, flow,
user agent, instance), polled until they settle.

The trust test drives Chromium with certificate checks on: it fails against pbx's certificate
without the CA, and succeeds once ``dbdir/tls/ca.crt`` is in its NSS database. The sipp test
guards the UDP registrar against regressions on the same daemon.
"""

from __future__ import annotations

import re
import shutil
import ssl
import tempfile
import unittest
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest
from twisted.trial.unittest import SynchronousTestCase

from test.e2e.webrtc.browser import BrowserHarness, missing_requirements
from test.e2e.webrtc.ws_daemon import BROWSER_PEER, WsDaemon
from test.integration.console import parse_peer
from test.integration.daemon import Options, OptionValue
from test.integration.sipp import SIPP, run_sipp, wait_until

REALM = "pbx-test"
#: minexpiry 10 lets JsSIP (expires <= 64: refresh 5 s early) refresh within a test.
GENERAL: dict[str, OptionValue] = {
    "realm": REALM,
    "minexpiry": 10,
    "maxexpiry": 3600,
    "defaultexpiry": 120,
}


def browser(name: str, **options: str) -> dict[str, OptionValue]:
    return {**BROWSER_PEER, "secret": f"{name}-pw", **options}


PEERS: dict[str, Options] = {
    "alice": browser("alice"),
    "bob": browser("bob"),
    "carol": browser("carol"),
    "dave": browser("dave"),
    "erin": browser("erin", max_contacts="1"),
    "frank": browser("frank"),
    "grace": browser("grace"),
    "heidi": browser("heidi"),
    "ivan": browser("ivan"),
    "desk": {"secret": "desk-pw", "transport": "udp,tcp"},
}


@dataclass
class ShownBinding:
    """One binding as ``sip show peer`` lists it."""

    contact: str
    transport: str = ""
    source: str = ""
    flow: str = ""
    expires: int = -1
    user_agent: str = ""
    instance: str = ""


_DETAIL_RE = re.compile(r"Transport (\S+)\s+Source (\S+)\s+Flow (\S+)\s+Expires (\d+) s")


def parse_bindings(lines: list[str]) -> list[ShownBinding]:
    found: list[ShownBinding] = []
    for line in lines:
        start = re.match(r"\d+\. (.*)", line)
        if start is not None:
            found.append(ShownBinding(start.group(1)))
            continue
        assert found, f"binding detail before a contact: {line!r}"
        current = found[-1]
        detail = _DETAIL_RE.match(line)
        if detail is not None:
            current.transport, current.source, current.flow = detail.group(1, 2, 3)
            current.expires = int(detail.group(4))
        elif line.startswith("Useragent "):
            current.user_agent = line.removeprefix("Useragent ")
        elif line.startswith("Instance "):
            current.instance = line.split()[1]
    return found


def family(user_agent: str) -> str:
    """``JsSIP 3.13.8`` -> ``JsSIP``; ``SIP.js/0.21.1`` -> ``SIP.js``."""
    return re.split(r"[ /]", user_agent, maxsplit=1)[0]


class WsRegisterBase(SynchronousTestCase):
    """A daemon and a harness for the class (Chromium and pbx take seconds to start)."""

    daemon: ClassVar[WsDaemon]
    harness: ClassVar[BrowserHarness]
    tmp: ClassVar[Path]

    @classmethod
    def setUpClass(cls) -> None:
        reason = missing_requirements()
        if reason is not None:
            raise unittest.SkipTest(reason)
        cls.tmp = Path(tempfile.mkdtemp(prefix="pbx-e2e-ws-"))
        cls.daemon = WsDaemon(cls.tmp / "pbx", PEERS, GENERAL)
        cls.daemon.start()
        try:
            cls.harness = BrowserHarness().__enter__()
        except BaseException:
            cls.daemon.close()
            raise

    @classmethod
    def tearDownClass(cls) -> None:
        cls.harness.close()
        cls.daemon.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    # -- helpers -----------------------------------------------------------------------------
    _phones = 0

    def open(
        self,
        peer: str,
        lib: str,
        *,
        harness: BrowserHarness | None = None,
        password: str | None = None,
        url: str | None = None,
        expires: int = 600,
    ) -> str:
        """A new page registering as ``peer``; closed at cleanup. Returns its phone name."""
        WsRegisterBase._phones += 1
        phone = f"{peer}-{lib}-{WsRegisterBase._phones}"
        h = harness or self.harness
        h.open(
            phone,
            lib=lib,
            uri=f"sip:{peer}@127.0.0.1",
            password=password if password is not None else f"{peer}-pw",
            ws_url=url or self.daemon.wss_url,
            expires=expires,
        )
        self.addCleanup(self._close_quietly, h, phone)
        return phone

    @staticmethod
    def _close_quietly(h: BrowserHarness, phone: str) -> None:
        try:
            h.close_phone(phone)
        except Exception:  # already closed by the test, or the harness is gone
            pass

    def bindings(self, peer: str) -> list[ShownBinding]:
        return parse_bindings(parse_peer(self.daemon.cli(f"sip show peer {peer}")).bindings)

    def wait_bindings(self, peer: str, count: int, timeout: float = 5.0) -> list[ShownBinding]:
        """Poll ``sip show peer`` until ``peer`` has exactly ``count`` bindings."""

        def check(text: str) -> list[ShownBinding] | None:
            found = parse_bindings(parse_peer(text).bindings)
            return found if len(found) == count else None

        return self.daemon.wait_for(f"sip show peer {peer}", check, timeout)

    def registry_rows(self, peer: str) -> list[str]:
        text = self.daemon.cli("sip show registry")
        return [line for line in text.splitlines() if line.split(" ", 1)[0] == peer]

    def register_ok(self, phone: str, h: BrowserHarness | None = None) -> dict[str, Any]:
        result = (h or self.harness).register(phone)
        self.assertEqual(result["status_code"], 200, f"{result}\n{self.daemon.describe(30)}")
        self.assertTrue(result["registered"], result)
        return result

    def page_events(self, phone: str, kind: str) -> list[dict[str, Any]]:
        """The page's UA/WebSocket events of one type (harness event vocabulary)."""
        return [e for e in self.harness.events(phone)["events"] if e["type"] == kind]

    def ws_open_events(self, phone: str) -> list[dict[str, Any]]:
        return self.page_events(phone, "ws_open")

    def sent_registers(self, phone: str) -> list[str]:
        frames = self.harness.events(phone)["frames"]
        return [
            f["data"] for f in frames if f["dir"] == "sent" and f["data"].startswith("REGISTER ")
        ]

    def received_statuses(self, phone: str) -> list[int]:
        """Status codes of the REGISTER responses the page received, in order."""
        codes = []
        for f in self.harness.events(phone)["frames"]:
            status = re.match(r"SIP/2\.0 (\d{3}) ", f["data"])
            cseq = re.search(r"^CSeq: *\d+ +(\S+)", f["data"], re.M | re.I)
            if f["dir"] == "recv" and status and cseq and cseq.group(1) == "REGISTER":
                codes.append(int(status.group(1)))
        return codes


@pytest.mark.e2e
class RegisterOverWssTests(WsRegisterBase):
    """JsSIP and SIP.js register over WSS with digest, refresh, unregister, close the page."""

    def check_browser_binding(self, binding: ShownBinding, library: str) -> None:
        self.assertEqual(binding.transport, "WSS")
        self.assertTrue(binding.flow.startswith("WSS:127.0.0.1:"), binding.flow)
        self.assertIn(";transport=ws", binding.contact)
        self.assertIn(".invalid", binding.contact)
        self.assertEqual(family(binding.user_agent), library, binding.user_agent)

    @pytest.mark.slow  # waits 7 s for JsSIP's own refresh
    def test_jssip_register_refresh_unregister(self) -> None:
        phone = self.open("alice", "jssip", expires=12)
        self.register_ok(phone)
        [opened] = self.ws_open_events(phone)
        self.assertEqual(opened["protocol"], "sip")  # the 101 selected the sip subprotocol
        [binding] = self.wait_bindings("alice", 1)
        self.check_browser_binding(binding, "JsSIP")
        self.assertTrue(binding.instance.startswith("<urn:uuid:"), binding.instance)
        self.assertEqual(len(self.registry_rows("alice")), 1)
        # digest: a 401 challenge, then 200
        self.assertEqual(self.received_statuses(phone), [401, 200])
        # JsSIP refreshes 5 s before a 12 s registration ends, on the same connection
        # (JsSIP emits no new "registered" event for a refresh: watch the frames)
        refreshed_ok = wait_until(lambda: self.received_statuses(phone).count(200) >= 2, 15.0, 0.5)
        self.assertTrue(refreshed_ok, self.received_statuses(phone))
        self.assertGreaterEqual(len(self.sent_registers(phone)), 3)
        self.assertEqual(self.received_statuses(phone)[-1], 200)
        [refreshed] = self.wait_bindings("alice", 1)
        self.assertEqual(refreshed.flow, binding.flow)
        self.assertEqual(refreshed.instance, binding.instance)
        self.assertEqual(len(self.ws_open_events(phone)), 1)
        result = self.harness.unregister(phone)
        self.assertEqual(result["status_code"], 200, result)
        self.wait_bindings("alice", 0)
        self.assertEqual(self.registry_rows("alice"), [])

    def test_sipjs_register_reregister_unregister(self) -> None:
        phone = self.open("bob", "sipjs")
        self.register_ok(phone)
        [opened] = self.ws_open_events(phone)
        self.assertEqual(opened["protocol"], "sip")
        [binding] = self.wait_bindings("bob", 1)
        self.check_browser_binding(binding, "SIP.js")
        self.assertGreater(binding.expires, 500)
        self.register_ok(phone)  # a refresh: same Contact, same connection
        [again] = self.wait_bindings("bob", 1)
        self.assertEqual((again.contact, again.flow), (binding.contact, binding.flow))
        self.assertGreaterEqual(len(self.sent_registers(phone)), 3)
        self.assertEqual(self.received_statuses(phone)[-1], 200)
        result = self.harness.unregister(phone)
        self.assertEqual(result["status_code"], 200, result)
        self.wait_bindings("bob", 0)

    def test_wrong_password_is_403(self) -> None:
        for lib in ("jssip", "sipjs"):
            phone = self.open("carol", lib, password="not-carols")
            result = self.harness.register(phone)
            self.assertFalse(result["registered"], (lib, result))
            self.assertEqual(result["status_code"], 403, (lib, result))
        self.assertEqual(self.bindings("carol"), [])

    def test_peer_without_ws_transport_is_403(self) -> None:
        phone = self.open("desk", "jssip")
        result = self.harness.register(phone)
        self.assertEqual(result["status_code"], 403, result)
        self.assertEqual(self.bindings("desk"), [])

    def test_closing_the_page_removes_the_binding(self) -> None:
        for lib in ("jssip", "sipjs"):
            phone = self.open("dave", lib)
            self.register_ok(phone)
            self.wait_bindings("dave", 1)
            self.harness.close_phone(phone)  # WebSocket closed (1001), no un-REGISTER
            # at once, not when the 600 s registration would end
            self.wait_bindings("dave", 0, timeout=3.0)

    def test_pages_on_one_peer_each_keep_a_binding(self) -> None:
        tabs = [
            self.open("frank", "jssip"),
            self.open("frank", "jssip"),
            self.open("frank", "sipjs"),
        ]
        for phone in tabs:
            self.register_ok(phone)
        bindings = self.wait_bindings("frank", 3)
        agents = sorted(family(b.user_agent) for b in bindings)
        self.assertEqual(agents, ["JsSIP", "JsSIP", "SIP.js"])
        self.assertEqual(len({b.flow for b in bindings}), 3)
        jssip_instances = {b.instance for b in bindings if family(b.user_agent) == "JsSIP"}
        self.assertEqual(len(jssip_instances), 2)  # one +sip.instance per tab
        self.assertEqual(len(self.registry_rows("frank")), 3)
        # closing one tab leaves the others
        self.harness.close_phone(tabs[2])
        left = self.wait_bindings("frank", 2)
        self.assertEqual({family(b.user_agent) for b in left}, {"JsSIP"})

    def test_max_contacts_evicts_the_oldest(self) -> None:
        first = self.open("erin", "jssip")
        self.register_ok(first)
        [old] = self.wait_bindings("erin", 1)
        second = self.open("erin", "sipjs")
        self.register_ok(second)
        [new] = self.wait_bindings("erin", 1)
        self.assertEqual(family(new.user_agent), "SIP.js", new)
        self.assertNotEqual(new.flow, old.flow)

    def test_plain_ws_too(self) -> None:
        phone = self.open("grace", "sipjs", url=self.daemon.ws_url)
        self.register_ok(phone)
        [binding] = self.wait_bindings("grace", 1)
        self.assertEqual(binding.transport, "WS")
        self.assertTrue(binding.flow.startswith("WS:127.0.0.1:"), binding.flow)

    @pytest.mark.skipif(SIPP is None, reason="sipp is not installed (Debian package sip-tester)")
    def test_sipp_over_udp_still_registers(self) -> None:
        work = self.tmp / "sipp-register"
        result = run_sipp(
            "register.xml",
            self.daemon.udp,
            workdir=work,
            service="desk",
            auth_user="desk",
            password="desk-pw",
            keys={"expires": "300"},
        )
        self.assertEqual(result.returncode, 0, result.explain())
        self.assertEqual(result.statuses, [401, 200])
        [binding] = self.wait_bindings("desk", 1)
        self.assertEqual(binding.transport, "UDP")
        self.assertEqual(binding.user_agent, "sipp")


@pytest.mark.e2e
class TrustTests(WsRegisterBase):
    """wss:// is trusted through the generated CA alone (no --ignore-certificate-errors)."""

    @classmethod
    def setUpClass(cls) -> None:
        reason = missing_requirements(ca_trust=True)
        if reason is not None:
            raise unittest.SkipTest(reason)
        super().setUpClass()

    def test_strict_browser_with_the_ca_registers(self) -> None:
        self.assertTrue(self.daemon.ca_path.exists())
        with BrowserHarness(strict_certs=True, ca_pem=self.daemon.ca_path) as strict:
            phone = self.open("heidi", "jssip", harness=strict)
            self.register_ok(phone, strict)
            self.wait_bindings("heidi", 1)
            strict.unregister(phone)
            self.wait_bindings("heidi", 0)

    def test_strict_browser_without_the_ca_fails(self) -> None:
        with BrowserHarness(strict_certs=True) as strict:
            phone = self.open("ivan", "sipjs", harness=strict)
            result = strict.register(phone)
            self.assertFalse(result["registered"], result)
            self.assertIsNone(result["status_code"], result)
            events = strict.events(phone)["events"]
            self.assertNotIn("ws_open", [e["type"] for e in events])
        self.assertEqual(self.bindings("ivan"), [])

    def test_ca_downloadable_over_https(self) -> None:
        # What the trust page links to: the very CA the daemon signs with.
        context = ssl.create_default_context(cafile=str(self.daemon.ca_path))
        url = f"https://127.0.0.1:{self.daemon.wss_port}/ca.crt"
        with urllib.request.urlopen(url, context=context, timeout=5) as reply:
            body = reply.read()
            kind = reply.headers["content-type"]
        self.assertEqual(body, self.daemon.ca_path.read_bytes())
        self.assertEqual(kind, "application/x-x509-ca-cert")
