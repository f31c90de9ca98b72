"""WebRTC calls end to end (issue 6): JsSIP and SIP.js in headless Chromium through pbx.

One pbx daemon (``WsDaemon``: wss:// on a free loopback port, pbx's local CA) and one Chromium
(``BrowserHarness``) per test class; each phone is a page whose fake microphone plays its own
tone. The dialplan is the sample's: 600 is ``Echo()``, 1001/1002 ``Dial()`` the browsers alice
(JsSIP) and bob (SIP.js), 2001 the desk phone desk1 (baresip on UDP, plain RTP).

What the tests assert is what the people at the phones would notice, measured at the far end:
the dominant frequency the page's AnalyserNode hears (the other side's tone, or its own through
Echo), ``getStats()`` (inbound packets and bytes, codec, ``dtlsState``, ``srtpCipher``, the
selected ICE pair on loopback), what baresip recorded, and the SDP pbx put on the wire (read
from the WebSocket frames the page recorded): an ICE-lite, DTLS-SRTP, rtcp-mux, BUNDLE answer
with ``a=setup:active`` and never ``a=crypto``, and a full ``actpass`` offer for calls *to* a
browser. The consent test closes a page mid-call and waits for RFC 7675 to end the call (about
30 s; marked slow, ``PBX_SKIP_SLOW=1`` skips it).

The opus tests give two more browsers, olga (JsSIP, 1011) and oscar (SIP.js, 1012), peers that
allow opus first: pbx has no Opus codec, so the tones crossing prove the bridge relays Opus
untouched, and the SDP each page got, its getStats() and ``sip show channelstats`` say both legs
negotiated it (also marked slow).

The ICE-restart tests have each browser restart ICE mid-call towards Echo: pbx must answer the
re-INVITE with new ICE credentials and the call must outlive RFC 7675 consent on them (slow).
"""

from __future__ import annotations

import re
import shutil
import tempfile
import time
import unittest
from pathlib import Path
from typing import Any, ClassVar

import pytest
from twisted.trial.unittest import SynchronousTestCase

from test.e2e.deskphone.baresip import Baresip, missing_baresip
from test.e2e.deskphone.tones import describe_audio, tone_seconds
from test.e2e.webrtc.browser import BrowserHarness, HarnessError, missing_requirements
from test.e2e.webrtc.calls_sip import (
    Sdp,
    WireMessage,
    invite_answers,
    invites,
    messages,
    parse_sdp,
)
from test.e2e.webrtc.ws_daemon import BROWSER_PEER, WsDaemon
from test.integration.daemon import Options, OptionValue

REALM = "pbx-test"
GENERAL: dict[str, OptionValue] = {"realm": REALM, "nat": "force_rport,comedia"}
DIALPLAN = """\
[phones]
exten => 600,1,Answer()
 same => n,Echo()
 same => n,Hangup()
exten => 1001,1,Dial(SIP/alice,20)
exten => 1002,1,Dial(SIP/bob,20)
exten => 1003,1,Dial(SIP/carol,20)
exten => 2001,1,Dial(SIP/desk1,20)
exten => 1011,1,Dial(SIP/olga,20)
exten => 1012,1,Dial(SIP/oscar,20)
"""
#: A browser peer preferring opus (RFC 7587), G.711 only as a fallback.
OPUS_PEER: dict[str, OptionValue] = {**BROWSER_PEER, "disallow": "all", "allow": "opus,ulaw"}
PEERS: dict[str, Options] = {
    "alice": {**BROWSER_PEER, "secret": "alice-pw"},
    "bob": {**BROWSER_PEER, "secret": "bob-pw"},
    "carol": {**BROWSER_PEER, "secret": "carol-pw"},
    "desk1": {"secret": "desk1-pw", "transport": "udp"},
    "olga": {**OPUS_PEER, "secret": "olga-pw"},
    "oscar": {**OPUS_PEER, "secret": "oscar-pw"},
}
#: The analyser's bin is 48000/16384 = 2.93 Hz; G.711 at 8 kHz moves a tone by under a bin.
FREQ_TOLERANCE = 2 * 48000 / 16384
AUDIO_MS = 600
SRTP_CIPHERS = {"SRTP_AES128_CM_HMAC_SHA1_80", "SRTP_AEAD_AES_128_GCM", "SRTP_AEAD_AES_256_GCM"}
G711 = {"audio/PCMU", "audio/PCMA"}
LOOPBACK = {"127.0.0.1", "::1"}
#: RFC 7587 §7: opus is always written opus/48000/2, whatever the channels actually sent.
OPUS_RTPMAP = ("opus", "48000", "2")
#: The desk phone talks this long before its recording is judged; it must hold the browser's
#: tone for most of it (the recording starts with the first packet, which can be silence).
DESK_TALK_SECONDS = 1.5
DESK_MIN_TONE_SECONDS = 1.0
#: RFC 7675 §5.1: consent expires 30 s after the last check answered; Chromium checks every
#: few seconds, and the call must be gone shortly after.
CONSENT_DEADLINE = 35.0


class WebRtcCallTest(SynchronousTestCase):
    """A daemon and a harness for the class, with the class's phones open and registered.

    ``phones`` maps a phone (= peer) name to (library, tone in Hz).
    """

    phones: ClassVar[dict[str, tuple[str, float]]] = {}
    daemon: ClassVar[WsDaemon]
    harness: ClassVar[BrowserHarness]
    tmp: ClassVar[Path]

    @classmethod
    def setUpClass(cls) -> None:
        reason = missing_requirements()
        if reason is not None:
            raise unittest.SkipTest(reason)
        cls.tmp = Path(tempfile.mkdtemp(prefix="pbx-e2e-calls-"))
        cls.daemon = WsDaemon(cls.tmp / "pbx", PEERS, GENERAL)
        cls.daemon.dialplan = DIALPLAN
        cls.daemon.start()
        try:
            cls.harness = BrowserHarness().__enter__()
            for phone in cls.phones:
                cls.open_phone(phone)
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls) -> None:
        if hasattr(cls, "harness"):
            cls.harness.close()
        cls.daemon.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def open_phone(cls, phone: str) -> None:
        """A page for peer ``phone`` (JsSIP playing 440 Hz unless ``phones`` says otherwise)."""
        lib, tone_hz = cls.phones.get(phone, ("jssip", 440.0))
        cls.harness.open(
            phone,
            lib=lib,
            uri=f"sip:{phone}@127.0.0.1",
            password=f"{phone}-pw",
            ws_url=cls.daemon.wss_url,
            tone_hz=tone_hz,
        )
        registered = cls.harness.register(phone)
        assert registered["status_code"] == 200, f"{phone} did not register: {registered}"

    def setUp(self) -> None:
        for phone in self.phones:
            self.harness.events(phone, clear=True)

    def tearDown(self) -> None:
        for phone in self.phones:
            try:
                self.harness.hangup(phone)
            except HarnessError:
                pass  # no call on this phone
        self.wait_no_channels()

    # -- helpers -----------------------------------------------------------------------------
    def wait_no_channels(self, timeout: float = 10.0) -> float:
        """Seconds until pbx has no channel left."""
        start = time.monotonic()
        self.daemon.wait_for(
            "core show channels count",
            lambda out: True if out.startswith("0 active channels") else None,
            timeout=timeout,
            interval=0.1,
        )
        return time.monotonic() - start

    def call(self, caller: str, target: str, callee: str | None = None) -> None:
        """``caller`` dials ``target``; a browser ``callee`` answers when it rings."""
        pending = self.harness.start("call", phone=caller, target=target)
        if callee is not None:
            self.harness.wait_incoming(callee)
            self.assert_confirmed(callee, self.harness.answer(callee))
        self.assert_confirmed(caller, pending.result())

    def assert_confirmed(self, phone: str, result: dict[str, Any]) -> None:
        if result["state"] != "confirmed":
            self.fail(self.explain(phone, result))

    def assert_hears(self, phone: str, tone_hz: float) -> dict[str, Any]:
        heard = self.harness.audio(phone, ms=AUDIO_MS)
        freq = heard["freq_hz"]
        if freq is None or abs(freq - tone_hz) > FREQ_TOLERANCE:
            self.fail(
                f"{phone} should hear {tone_hz} Hz, heard {heard}\n{self.harness.stats(phone)}"
            )
        return heard

    def inbound(self, phone: str, timeout: float = 3.0) -> dict[str, Any]:
        """getStats()' inbound-rtp of ``phone``, once a packet has arrived (media starts a few
        tens of ms after the call is confirmed)."""
        deadline = time.monotonic() + timeout
        while True:
            stats = self.harness.stats(phone)
            inbound = stats["inbound"]
            if inbound is not None and inbound["packets"] > 0:
                return dict(inbound)
            if time.monotonic() > deadline:
                self.fail(f"{phone}: no inbound RTP in getStats() after {timeout} s: {stats}")
            time.sleep(0.1)

    def wire(self, phone: str) -> list[WireMessage]:
        return messages(self.harness.events(phone)["frames"])

    def explain(self, phone: str, what: object) -> str:
        frames = "\n".join(str(m) for m in self.wire(phone)[-6:])
        return f"{phone}: {what}\n--- last SIP messages ---\n{frames}\n{self.daemon.describe(30)}"

    def assert_packets_flow(self, phone: str, seconds: float = 0.5) -> None:
        """Inbound RTP keeps arriving at ``phone`` (about 25 packets in 0.5 s at 20 ms)."""
        before = self.inbound(phone)["packets"]
        time.sleep(seconds)
        after = self.inbound(phone)["packets"]
        self.assertGreater(after - before, seconds * 50 / 2, f"{phone}: {before} -> {after}")


# -- what pbx's SDP must look like to Chromium ---------------------------------------------------


def assert_webrtc_media(case: SynchronousTestCase, sdp: Sdp, setup: str) -> None:
    """The WebRTC attributes pbx always sends a browser (RFC 8829/8842/8843/8445/5764)."""
    audio = sdp.audio
    case.assertEqual(sdp.attributes("ice-lite"), [""], sdp.text)
    case.assertEqual(audio.proto, "UDP/TLS/RTP/SAVPF", sdp.text)
    case.assertGreater(audio.port, 0, sdp.text)
    (mid,) = audio.attributes("mid")
    case.assertIn(f"BUNDLE {mid}", sdp.attributes("group"), sdp.text)
    case.assertTrue(audio.has("rtcp-mux"), sdp.text)
    case.assertEqual(audio.attributes("setup"), [setup], sdp.text)
    (fingerprint,) = audio.attributes("fingerprint") or sdp.attributes("fingerprint")
    case.assertRegex(fingerprint, r"^sha-256 ([0-9A-F]{2}:){31}[0-9A-F]{2}$")
    (ufrag,) = audio.attributes("ice-ufrag") or sdp.attributes("ice-ufrag")
    (pwd,) = audio.attributes("ice-pwd") or sdp.attributes("ice-pwd")
    case.assertGreaterEqual(len(ufrag), 4)  # RFC 8839 §5.4
    case.assertGreaterEqual(len(pwd), 22)
    candidates = [c.split() for c in audio.attributes("candidate")]
    case.assertTrue(candidates, sdp.text)
    for fields in candidates:
        # foundation component transport priority address port "typ" type
        case.assertEqual((fields[2].lower(), fields[6], fields[7]), ("udp", "typ", "host"))
        case.assertIn(fields[4], LOOPBACK, sdp.text)
        case.assertEqual(int(fields[5]), audio.port, sdp.text)
    case.assertTrue(audio.has("end-of-candidates"), sdp.text)  # ICE-lite: all there (RFC 8840)
    case.assertEqual(sdp.everywhere("crypto"), [], f"a=crypto sent to a browser:\n{sdp.text}")


def assert_webrtc_answer(case: SynchronousTestCase, offer: Sdp, answer: Sdp) -> None:
    assert_webrtc_media(case, answer, "active")
    case.assertEqual(answer.audio.attributes("mid"), offer.audio.attributes("mid"))
    case.assertTrue(set(answer.audio.formats) <= set(offer.audio.formats), answer.text)


def assert_opus_first(case: SynchronousTestCase, sdp: Sdp) -> int:
    """The audio m-line puts opus/48000/2 first (RFC 3264 §6.1: the preferred format); returns
    its payload type."""
    first = sdp.audio.formats[0]
    rtpmaps = {}
    for value in sdp.audio.attributes("rtpmap"):  # "111 opus/48000/2"
        pt, _, encoding = value.partition(" ")
        name, *rest = encoding.split("/")
        rtpmaps[pt] = (name.lower(), *rest)
    case.assertEqual(rtpmaps.get(first), OPUS_RTPMAP, sdp.text)
    return int(first)


#: One channel of ``sip show channelstats``: its row (received and sent packet counts) and the
#: line under it (``codec opus, ICE connected, ...  [SIP/olga-0000000a]``).
CHANNELSTATS = re.compile(
    r"^\S+ +\S+ +\d\d:\d\d:\d\d +(?P<rx>\d{10}) +\d{10} +\([^)]*\) +\S+ +(?P<tx>\d{10}) .*\n"
    r" +codec (?P<codec>[^,\s]+).*\[SIP/(?P<peer>[^\]]+)-[0-9a-f]+\]$",
    re.MULTILINE,
)


def last_exchange(msgs: list[WireMessage], offerer: str) -> tuple[Sdp, Sdp]:
    """(offer, answer) of the last INVITE transaction whose offer went ``offerer``'s way."""
    answerer = "recv" if offerer == "sent" else "sent"
    answers = invite_answers(msgs, answerer)
    assert answers, "no 2xx with SDP to an INVITE"
    answer = answers[-1]
    offers = [m for m in invites(msgs, offerer) if m.call_id == answer.call_id and m.body]
    assert offers, f"no INVITE with SDP for {answer.call_id}"
    return parse_sdp(offers[-1].body), parse_sdp(answer.body)


# -- the tests -----------------------------------------------------------------------------------


@pytest.mark.e2e
class EchoTests(WebRtcCallTest):
    """JsSIP alice calls Echo (600): the page hears its own tone back through pbx."""

    phones: ClassVar[dict[str, tuple[str, float]]] = {"alice": ("jssip", 440.0)}

    def test_hears_own_tone(self) -> None:
        self.call("alice", "600")
        self.assert_hears("alice", 440.0)
        inbound = self.inbound("alice")
        self.assertGreater(inbound["packets"], 0)
        self.assertGreater(inbound["bytes"], 0)
        self.assertEqual(inbound["packets_lost"], 0, inbound)

    def test_dtls_srtp_on_loopback(self) -> None:
        self.call("alice", "600")
        self.assert_packets_flow("alice")
        stats = self.harness.stats("alice")
        self.assertIn(stats["inbound"]["codec"]["mime_type"], G711, stats)
        transport = stats["transport"]
        self.assertEqual(transport["dtls_state"], "connected", stats)
        self.assertIn(transport["srtp_cipher"], SRTP_CIPHERS, stats)
        self.assertEqual(transport["ice_state"], "connected", stats)
        # pbx is ICE-lite: the browser controls, and pbx's setup:active makes it DTLS server.
        self.assertEqual(transport["ice_role"], "controlling", stats)
        self.assertEqual(transport["dtls_role"], "server", stats)
        pair = stats["selected_pair"]
        self.assertEqual(pair["state"], "succeeded", stats)
        self.assertIn(pair["local"]["address"], LOOPBACK, stats)
        self.assertIn(pair["remote"]["address"], LOOPBACK, stats)
        shown = self.daemon.cli("sip show channelstats")
        self.assertRegex(shown, r"ICE connected, DTLS connected, SRTP SRTP_\w+")

    def test_answer_to_chromium_offer(self) -> None:
        self.call("alice", "600")
        offer, answer = last_exchange(self.wire("alice"), "sent")
        self.assertEqual(offer.audio.attributes("setup"), ["actpass"], offer.text)
        assert_webrtc_answer(self, offer, answer)


@pytest.mark.e2e
class BrowserToBrowserTests(WebRtcCallTest):
    """JsSIP alice and SIP.js bob call each other through pbx, both ways round."""

    phones: ClassVar[dict[str, tuple[str, float]]] = {
        "alice": ("jssip", 440.0),
        "bob": ("sipjs", 1000.0),
    }

    def test_jssip_calls_sipjs(self) -> None:
        self.call("alice", "1002", callee="bob")
        self.assert_hears("bob", 440.0)
        self.assert_hears("alice", 1000.0)
        offer_to_bob = invites(self.wire("bob"), "recv")
        self.assertEqual(len(offer_to_bob), 1)
        assert_webrtc_media(self, parse_sdp(offer_to_bob[0].body), "actpass")
        assert_webrtc_answer(self, *last_exchange(self.wire("alice"), "sent"))

    def test_sipjs_calls_jssip(self) -> None:
        self.call("bob", "1001", callee="alice")
        self.assert_hears("alice", 1000.0)
        self.assert_hears("bob", 440.0)
        offer_to_alice = invites(self.wire("alice"), "recv")
        self.assertEqual(len(offer_to_alice), 1)
        assert_webrtc_media(self, parse_sdp(offer_to_alice[0].body), "actpass")
        assert_webrtc_answer(self, *last_exchange(self.wire("bob"), "sent"))

    def hold_unhold(self, holder: str, other: str) -> None:
        """``holder`` puts the call on hold and takes it off: audio flows both ways again, and
        pbx kept its DTLS role, certificate and ICE credentials across the re-INVITEs."""
        tones = self.phones
        self.harness.events(holder, clear=True)
        held = self.harness.hold(holder)
        if not held["held"]:
            self.fail(self.explain(holder, held))
        time.sleep(0.5)
        unheld = self.harness.unhold(holder)
        if not unheld["ok"] or unheld["held"]:
            self.fail(self.explain(holder, unheld))
        time.sleep(0.3)
        for phone in (holder, other):
            self.assert_packets_flow(phone)
        self.assert_hears(other, tones[holder][1])
        self.assert_hears(holder, tones[other][1])
        msgs = self.wire(holder)
        reinvites = invites(msgs, "sent")
        self.assertEqual(
            [
                a
                for r in reinvites
                for a in ("sendonly", "sendrecv")
                if parse_sdp(r.body).audio.has(a)
            ],
            ["sendonly", "sendrecv"],
        )
        answers = [parse_sdp(m.body) for m in invite_answers(msgs, "recv")]
        self.assertEqual(len(answers), 2, msgs)
        self.assertEqual(answers[0].audio.attributes("recvonly"), [""], answers[0].text)
        self.assertEqual(answers[1].audio.attributes("sendrecv"), [""], answers[1].text)
        for answer in answers:
            assert_webrtc_media(self, answer, "active")
        # RFC 8842 §5.5 / RFC 5763 §5: no new DTLS association or ICE restart on a hold.
        for name in ("fingerprint", "ice-ufrag", "ice-pwd"):
            values = {tuple(a.audio.attributes(name) or a.attributes(name)) for a in answers}
            self.assertEqual(len(values), 1, f"a={name} changed across re-INVITEs: {values}")

    def test_hold_unhold_from_jssip(self) -> None:
        self.call("alice", "1002", callee="bob")
        self.assert_hears("bob", 440.0)
        self.hold_unhold("alice", "bob")

    def test_hold_unhold_from_sipjs(self) -> None:
        self.call("bob", "1001", callee="alice")
        self.assert_hears("alice", 1000.0)
        self.hold_unhold("bob", "alice")


@pytest.mark.e2e
@pytest.mark.slow
class ConsentFreshnessTests(WebRtcCallTest):
    """A browser that vanishes mid-call (page closed: no BYE) is hung up by RFC 7675."""

    def test_closed_page_ends_call_by_consent(self) -> None:
        self.open_phone("carol")
        self.call("carol", "600")
        self.assert_hears("carol", 440.0)
        self.harness.close_phone("carol")
        gone = self.wait_no_channels(timeout=CONSENT_DEADLINE + 5)
        self.assertLessEqual(gone, CONSENT_DEADLINE)
        log = self.daemon.output()
        self.assertTrue(
            re.search(r"Hanging up SIP/carol-\w+: ICE consent expired", log),
            f"the call did not end by ICE consent (RFC 7675) but {gone:.1f} s after the page "
            f"closed:\n{self.daemon.describe(30)}",
        )


@pytest.mark.e2e
class DeskPhoneTests(WebRtcCallTest):
    """Browsers and a plain-RTP desk phone (baresip, G.711 over UDP) call each other."""

    phones: ClassVar[dict[str, tuple[str, float]]] = {
        "alice": ("jssip", 440.0),
        "bob": ("sipjs", 660.0),
    }
    desk_hz = 1000.0

    @classmethod
    def setUpClass(cls) -> None:
        reason = missing_baresip()
        if reason is not None:
            raise unittest.SkipTest(reason)
        super().setUpClass()

    def desk_phone(self) -> Baresip:
        workdir = self.tmp / self._testMethodName
        workdir.mkdir()
        desk = Baresip(
            workdir,
            user="desk1",
            password="desk1-pw",
            registrar=self.daemon.udp,
            tone_hz=self.desk_hz,
        )
        self.addCleanup(desk.close)
        desk.start()
        desk.register()
        return desk

    def assert_desk_hears(self, desk: Baresip, tone_hz: float) -> None:
        rate, samples = desk.received_audio()
        heard = tone_seconds(samples, rate, tone_hz)
        own = tone_seconds(samples, rate, self.desk_hz)
        if heard < DESK_MIN_TONE_SECONDS or own > 0.0:
            self.fail(
                f"desk1 heard {tone_hz:g} Hz for {heard} s and its own {self.desk_hz:g} Hz for "
                f"{own} s:\n{describe_audio(samples, rate, [tone_hz, self.desk_hz])}\n"
                f"{desk.explain()}\n{self.daemon.describe(30)}"
            )

    def assert_plain_rtp_to_desk(self, desk: Baresip) -> None:
        """pbx offered the desk phone plain RTP/AVP G.711: no DTLS, ICE or a=crypto."""
        offers = [
            t.message for t in desk.sip_trace() if not t.sent and t.message.method == "INVITE"
        ]
        if not offers:
            self.fail(f"desk1 received no INVITE\n{desk.explain()}")
        sdp = parse_sdp(offers[0].body.decode())
        self.assertEqual(sdp.audio.proto, "RTP/AVP", sdp.text)
        for name in ("fingerprint", "ice-ufrag", "crypto", "setup"):
            self.assertEqual(sdp.everywhere(name), [], sdp.text)

    def test_jssip_calls_desk_phone(self) -> None:
        desk = self.desk_phone()
        pending = self.harness.start("call", phone="alice", target="2001")
        desk.accept()
        self.assert_confirmed("alice", pending.result())
        desk.wait_established()
        started = time.monotonic()
        self.assert_hears("alice", self.desk_hz)
        time.sleep(max(0.0, DESK_TALK_SECONDS - (time.monotonic() - started)))
        self.assert_desk_hears(desk, 440.0)
        self.assert_plain_rtp_to_desk(desk)
        assert_webrtc_answer(self, *last_exchange(self.wire("alice"), "sent"))
        self.harness.hangup("alice")
        desk.wait_closed()

    def test_desk_phone_calls_sipjs(self) -> None:
        desk = self.desk_phone()
        host, port = self.daemon.udp
        desk.dial(f"sip:1002@{host}:{port}")
        self.harness.wait_incoming("bob")
        self.assert_confirmed("bob", self.harness.answer("bob"))
        desk.wait_established()
        started = time.monotonic()
        self.assert_hears("bob", self.desk_hz)
        time.sleep(max(0.0, DESK_TALK_SECONDS - (time.monotonic() - started)))
        self.assert_desk_hears(desk, 660.0)
        (offer,) = invites(self.wire("bob"), "recv")
        assert_webrtc_media(self, parse_sdp(offer.body), "actpass")
        desk.hangup()


@pytest.mark.e2e
@pytest.mark.slow
class OpusRelayTests(WebRtcCallTest):
    """Issue 6: Opus <-> Opus between browsers passes through, relayed without transcoding.

    olga's and oscar's peers say ``disallow=all`` then ``allow=opus,ulaw``, and Chromium offers
    opus first: pbx must offer the callee opus first, answer the caller opus first and relay
    the packets. pbx has no Opus codec, so each page hearing the other's tone means the Opus
    payloads crossed the bridge untouched.
    """

    phones: ClassVar[dict[str, tuple[str, float]]] = {
        "olga": ("jssip", 440.0),
        "oscar": ("sipjs", 1000.0),
    }

    def test_jssip_calls_sipjs(self) -> None:
        self.call("olga", "1012", callee="oscar")
        self.assert_opus_relayed("olga", "oscar")

    def test_sipjs_calls_jssip(self) -> None:
        self.call("oscar", "1011", callee="olga")
        self.assert_opus_relayed("oscar", "olga")

    def assert_opus_relayed(self, caller: str, callee: str) -> None:
        tones = self.phones
        self.assert_hears(callee, tones[caller][1])
        self.assert_hears(caller, tones[callee][1])
        # What each page got from pbx: the answer to the caller's offer, the callee's offer.
        offer, answer = last_exchange(self.wire(caller), "sent")
        assert_webrtc_answer(self, offer, answer)
        payload_types = {caller: assert_opus_first(self, answer)}
        offer, answer = last_exchange(self.wire(callee), "recv")
        assert_webrtc_media(self, offer, "actpass")
        payload_types[callee] = assert_opus_first(self, offer)
        # RFC 4733 §2.1: DTMF on opus's clock, so keypresses keep their length across legs.
        self.assertIn("telephone-event/48000", offer.text)
        self.assertIn("telephone-event/48000", answer.text)
        self.assertEqual(assert_opus_first(self, answer), payload_types[callee], answer.text)
        # What Chromium decodes and encodes, on the payload type it negotiated with pbx.
        for phone, pt in payload_types.items():
            self.inbound(phone)
            stats = self.harness.stats(phone)
            for direction in ("inbound", "outbound"):
                codec = stats[direction]["codec"]
                self.assertEqual(
                    (codec["mime_type"].lower(), codec["clock_rate"], codec["payload_type"]),
                    ("audio/opus", 48000, pt),
                    f"{phone} {direction}: {stats}",
                )
        # pbx's own view: both legs negotiated opus, and each received and sent packets.
        shown = self.daemon.cli("sip show channelstats")
        legs = {m["peer"]: m for m in CHANNELSTATS.finditer(shown)}
        self.assertEqual(sorted(legs), sorted((caller, callee)), shown)
        for leg in legs.values():
            self.assertEqual(leg["codec"], "opus", shown)
            self.assertGreater(int(leg["rx"]), 0, shown)
            self.assertGreater(int(leg["tx"]), 0, shown)


def ice_credentials(sdp: Sdp) -> tuple[str, str]:
    """The audio stream's (ice-ufrag, ice-pwd), media level first (RFC 8839 §5.4)."""
    (ufrag,) = sdp.audio.attributes("ice-ufrag") or sdp.attributes("ice-ufrag")
    (pwd,) = sdp.audio.attributes("ice-pwd") or sdp.attributes("ice-pwd")
    return ufrag, pwd


@pytest.mark.e2e
@pytest.mark.slow
class IceRestartTests(WebRtcCallTest):
    """A browser restarts ICE mid-call (``pc.restartIce()``, a network change) with a
    re-INVITE: RFC 8839 §4.4.1.1.2 makes pbx answer with new ICE credentials, and the call must
    go on over the restarted ICE session with the same DTLS association (RFC 8842 §4).

    After the restart the call outlives RFC 7675's 30 s consent timeout: only consent checks
    under the new credentials keep it up (marked slow).
    """

    phones: ClassVar[dict[str, tuple[str, float]]] = {
        "alice": ("jssip", 440.0),
        "bob": ("sipjs", 1000.0),
    }

    def test_jssip_restarts_ice_to_echo(self) -> None:
        self.restart_ice("alice")

    def test_sipjs_restarts_ice_to_echo(self) -> None:
        self.restart_ice("bob")

    def restart_ice(self, phone: str) -> None:
        tone = self.phones[phone][1]
        self.call(phone, "600")
        self.assert_hears(phone, tone)
        restarted = self.harness.restart_ice(phone)
        if not restarted["ok"]:
            self.fail(self.explain(phone, restarted))
        msgs = self.wire(phone)
        offers = [parse_sdp(m.body) for m in invites(msgs, "sent") if m.body]
        answers = [parse_sdp(m.body) for m in invite_answers(msgs, "recv")]
        self.assertEqual(len(answers), 2, msgs)
        # Chromium did restart: its re-offer has new credentials (RFC 8445 §9).
        self.assertNotEqual(ice_credentials(offers[0]), ice_credentials(offers[-1]))
        before, after = answers
        assert_webrtc_media(self, after, "active")
        old_ufrag, old_pwd = ice_credentials(before)
        new_ufrag, new_pwd = ice_credentials(after)
        self.assertNotEqual(new_ufrag, old_ufrag, after.text)
        self.assertNotEqual(new_pwd, old_pwd, after.text)
        # RFC 8842 §4: ICE restarts, DTLS does not: same certificate, same role.
        self.assertEqual(
            before.audio.attributes("fingerprint") or before.attributes("fingerprint"),
            after.audio.attributes("fingerprint") or after.attributes("fingerprint"),
        )
        self.assert_hears(phone, tone)
        self.assert_packets_flow(phone)
        # Outlive consent (RFC 7675 §5.1) of the credentials the restart replaced.
        time.sleep(CONSENT_DEADLINE)
        self.assert_hears(phone, tone)
        stats = self.harness.stats(phone)
        transport = stats["transport"]
        self.assertEqual(transport["ice_state"], "connected", stats)
        self.assertEqual(transport["dtls_state"], "connected", stats)
        self.assertRegex(
            self.daemon.cli("sip show channelstats"), r"ICE connected, DTLS connected, SRTP"
        )
