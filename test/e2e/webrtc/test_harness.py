"""The browser-phone harness itself, proven without a PBX (test/e2e/webrtc/browser.py).

One headless Chromium (as root) runs two phones, a JsSIP one whose fake microphone plays
440 Hz and a SIP.js one playing 1000 Hz. Each runs the harness's `loopback` command, a local
RTCPeerConnection pair inside its page, so the tests see what every later browser test relies
on: the bundles load, per-phone fake tones, the analyser finds the received tone within one
FFT bin, getStats() works, and ICE stays on loopback (TESTING.md). `register` against a port
where nothing listens shows the WebSocket both libraries open (subprotocol "sip") and how a
transport failure is reported.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import unittest
from typing import Any, ClassVar

import pytest
from twisted.trial.unittest import SynchronousTestCase

from test.e2e.webrtc.browser import (
    NODE_MODULES,
    BrowserHarness,
    HarnessError,
    missing_requirements,
)

pytestmark = pytest.mark.e2e

# Two tones that land in different FFT bins (one bin = 48000 / 16384 = 2.93 Hz).
PHONES = {"jssip-440": ("jssip", 440.0), "sipjs-1000": ("sipjs", 1000.0)}


def closed_port() -> int:
    """A loopback TCP port with nothing listening on it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def is_loopback(address: str) -> bool:
    return ipaddress.ip_address(address).is_loopback


def candidate_address(line: str) -> str:
    """The address of an SDP candidate line (RFC 8839 §5.1: the fifth field)."""
    return line.split()[4]


class HarnessTests(SynchronousTestCase):
    """Shares one harness (one Chromium) across the class: starting it is the expensive part."""

    harness: ClassVar[BrowserHarness]
    ws_url: ClassVar[str]
    opened: ClassVar[dict[str, dict[str, Any]]]
    looped: ClassVar[dict[str, dict[str, Any]]]

    @classmethod
    def setUpClass(cls) -> None:
        reason = missing_requirements()
        if reason is not None:
            raise unittest.SkipTest(reason)
        cls.ws_url = f"ws://127.0.0.1:{closed_port()}/ws"
        cls.harness = BrowserHarness().__enter__()
        try:
            cls.opened = {}
            cls.looped = {}
            for phone, (lib, tone) in PHONES.items():
                cls.opened[phone] = cls.harness.open(
                    phone,
                    lib=lib,
                    uri=f"sip:{phone}@127.0.0.1",
                    password="secret",
                    ws_url=cls.ws_url,
                    tone_hz=tone,
                )
            for phone in PHONES:
                cls.looped[phone] = cls.harness.loopback(phone)
        except BaseException:
            cls.harness.close()
            raise

    @classmethod
    def tearDownClass(cls) -> None:
        cls.harness.close()

    def test_chromium_started(self) -> None:
        """Debian's Chromium started headless, as whatever user runs the tests (root here)."""
        info = self.harness.info
        self.assertTrue(info["chromium"])
        self.assertTrue(info["page_url"].startswith("http://127.0.0.1:"))
        self.assertLess(self.harness.started_in, 30.0)

    def test_bundles_loaded(self) -> None:
        """The page runs the pinned JsSIP and the SIP.js bundle (it calls itself 0.21.1)."""
        jssip = json.loads((NODE_MODULES / "jssip" / "package.json").read_text())["version"]
        for phone, (lib, _) in PHONES.items():
            opened = self.opened[phone]
            self.assertEqual(opened["lib"], lib)
            self.assertEqual(opened["jssip_version"], jssip)
            self.assertTrue(opened["sipjs_version"].startswith("0.21."))
            self.assertIn("HeadlessChrome", opened["user_agent"])

    def test_fake_microphone_per_phone(self) -> None:
        """Each phone's own microphone plays its own tone, although Chromium has one file."""
        for phone, (_, tone) in PHONES.items():
            mic = self.opened[phone]["mic"]
            self.assertLessEqual(abs(mic["freq_hz"] - tone), 48000 / 16384)

    def test_received_tone(self) -> None:
        """The analyser on the received track finds the sent tone within one FFT bin."""
        for phone, (_, tone) in PHONES.items():
            heard = self.harness.audio(phone, ms=600)
            self.assertEqual(heard["sample_rate"], 48000)
            self.assertEqual(heard["bin_hz"], 48000 / 16384)
            self.assertLessEqual(abs(heard["freq_hz"] - tone), heard["bin_hz"], (phone, heard))
            self.assertGreater(heard["level_db"], -40.0)

    def test_stats(self) -> None:
        """getStats() shows media both ways over DTLS-SRTP on a loopback candidate pair."""
        for phone in PHONES:
            stats = self.harness.stats(phone)
            self.assertGreater(stats["inbound"]["packets"], 0)
            self.assertGreater(stats["inbound"]["bytes"], 0)
            self.assertGreater(stats["outbound"]["packets"], 0)
            self.assertEqual(stats["inbound"]["codec"]["mime_type"], "audio/opus")
            self.assertEqual(stats["transport"]["dtls_state"], "connected")
            self.assertTrue(stats["transport"]["srtp_cipher"])
            pair = stats["selected_pair"]
            self.assertEqual(pair["state"], "succeeded")
            self.assertTrue(is_loopback(pair["local"]["address"]), pair)
            self.assertTrue(is_loopback(pair["remote"]["address"]), pair)

    def test_only_loopback_candidates(self) -> None:
        """Only loopback candidates are signalled, and every gathered port is kept."""
        for phone in PHONES:
            looped = self.looped[phone]
            signalled = looped["offer_candidates"] + looped["answer_candidates"]
            self.assertTrue(signalled)
            for line in signalled:
                self.assertTrue(is_loopback(candidate_address(line)), line)
                self.assertIn(" udp ", line)
            gathered_ports = {
                c["candidate"].split()[5]
                for c in looped["gathered"]
                if " udp " in c["candidate"] and " typ host" in c["candidate"]
            }
            signalled_ports = {line.split()[5] for line in signalled}
            self.assertEqual(gathered_ports, signalled_ports)
            for line in looped["offer"].splitlines() + looped["answer"].splitlines():
                if line.startswith("c="):
                    self.assertIn(line, ("c=IN IP4 127.0.0.1", "c=IN IP6 ::1"))
            remote = self.harness.stats(phone)["remote_candidates"]
            self.assertTrue(remote)
            for candidate in remote:
                self.assertTrue(is_loopback(candidate["address"]), candidate)

    def test_register_transport_failure(self) -> None:
        """Both libraries open the WebSocket to ws_url asking for subprotocol "sip"."""
        for phone in PHONES:
            result = self.harness.register(phone)
            self.assertFalse(result["registered"])
            self.assertIsNone(result["status_code"])
            self.assertTrue(result["cause"].startswith("transport error"), result)
            events = self.harness.events(phone)["events"]
            opened = [e for e in events if e["type"] == "ws_connecting"]
            self.assertEqual(opened[0]["url"], self.ws_url)
            self.assertEqual(opened[0]["protocols"], "sip")
            self.assertNotIn("ws_open", [e["type"] for e in events])

    def test_command_errors(self) -> None:
        """Bad commands are answered ok:false with a reason, not by hanging."""
        with self.assertRaisesRegex(HarnessError, 'no phone named "nobody"'):
            self.harness.stats("nobody")
        with self.assertRaisesRegex(HarnessError, 'unknown command "dance"'):
            self.harness.command("dance", phone="jssip-440")
        with self.assertRaisesRegex(HarnessError, "already open"):
            self.harness.open("jssip-440", lib="jssip", uri="sip:x@127.0.0.1", ws_url=self.ws_url)
        with self.assertRaisesRegex(HarnessError, "lib must be one of jssip, sipjs"):
            self.harness.open("other", lib="pjsua", uri="sip:x@127.0.0.1", ws_url=self.ws_url)
        with self.assertRaisesRegex(HarnessError, "no current call"):
            self.harness.hangup("sipjs-1000")

    def test_close_phone(self) -> None:
        """A closed phone is gone; its name can be used again."""
        args: dict[str, Any] = {
            "lib": "sipjs",
            "uri": "sip:carol@127.0.0.1",
            "ws_url": self.ws_url,
            "tone_hz": 700.0,
        }
        self.harness.open("carol", **args)
        self.harness.close_phone("carol")
        with self.assertRaisesRegex(HarnessError, "no phone named"):
            self.harness.events("carol")
        reopened = self.harness.open("carol", **args)
        self.assertLessEqual(abs(reopened["mic"]["freq_hz"] - 700.0), 48000 / 16384)
        self.harness.close_phone("carol")
