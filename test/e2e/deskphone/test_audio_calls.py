"""Desk phones hear each other through pbx (issue 5, "Tests that must exist"), with real baresip.

Each phone is a baresip process (:mod:`test.e2e.deskphone.baresip`) whose microphone plays its
own tone and which records what it receives; the tests decide what a person would have heard by
frequency (:mod:`test.e2e.deskphone.tones`): the far end's tone for at least
:data:`MIN_TONE_SECONDS` of :data:`TALK_SECONDS`, which leaves room for a silent start, and never
its own tone where the far end is another phone. Signalling facts come from the phones' own SIP
traces (the SDP each side really got) and from the daemon (console, astdb, log).

One daemon per class (its peers and dialplan are class attributes); every test registers fresh
phones. The 488 oracles are chan_sip's cases (ASTERISK-REFERENCE §1.6, §8.3) with the reason
text issue 5 asks for in ``Warning: 399 <host> "..."``.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import closing
from pathlib import Path
from typing import ClassVar

import pytest
from twisted.trial.unittest import SynchronousTestCase

from test.e2e.deskphone.baresip import Baresip, missing_baresip
from test.e2e.deskphone.tones import describe_audio, tone_seconds, voiced_seconds
from test.integration.daemon import Daemon, Options, OptionValue
from test.integration.sipua import SipMessage

pytestmark = pytest.mark.e2e

DESK1_HZ = 440.0
DESK2_HZ = 1000.0
PLAYBACK_HZ = 1000.0  # contrib/sounds/tone-1000hz: exactly 1 s of 1000 Hz
TALK_SECONDS = 2.5
MIN_TONE_SECONDS = 1.5


def desk(name: str, allow: Sequence[str] = ("ulaw", "alaw"), **options: str) -> Options:
    """A desk-phone peer: registers over UDP with ``<name>-pw``, only the codecs in ``allow``."""
    peer: dict[str, OptionValue] = {
        "secret": f"{name}-pw",
        "disallow": "all",
        "allow": list(allow),
    }
    peer.update(options)
    return peer


def dial_all(peers: Sequence[str]) -> str:
    """``exten => <peer>,1,Dial(SIP/<peer>,20)`` for each peer."""
    return "".join(f"exten => {p},1,Dial(SIP/{p},20)\n" for p in peers)


def sdp_audio(message: SipMessage) -> tuple[str, list[str], int]:
    """(profile, payload types, number of a=crypto lines) of the message's audio m-line."""
    body = message.body.decode()
    found = re.search(r"^m=audio \d+ (\S+) ([\d ]+)\r?$", body, re.MULTILINE)
    assert found is not None, f"no audio m-line in:\n{message}"
    return found.group(1), found.group(2).split(), len(re.findall(r"^a=crypto:", body, re.M))


class DeskPhoneTest(SynchronousTestCase):
    """Base: the class's daemon (set up by :func:`_class_daemon`) and phone helpers."""

    peers: ClassVar[dict[str, Options]] = {}
    dialplan: ClassVar[str] = ""
    daemon: ClassVar[Daemon]
    root: ClassVar[Path]

    def phone(
        self,
        user: str,
        tone_hz: float,
        *,
        codecs: Sequence[str] = ("PCMU", "PCMA"),
        srtp: bool = False,
    ) -> Baresip:
        """A registered baresip as peer ``user`` playing ``tone_hz``; closed after the test."""
        workdir = self.root / self._testMethodName / user
        workdir.mkdir(parents=True)
        phone = Baresip(
            workdir,
            user=user,
            password=f"{user}-pw",
            registrar=self.daemon.udp,
            tone_hz=tone_hz,
            codecs=codecs,
            srtp=srtp,
        )
        self.addCleanup(phone.close)
        phone.start()
        phone.register()
        return phone

    def uri(self, exten: str) -> str:
        host, port = self.daemon.udp
        return f"sip:{exten}@{host}:{port}"

    def call(self, caller: Baresip, callee: Baresip, exten: str) -> None:
        """``caller`` dials ``exten``, ``callee`` answers; both talk, then ``caller`` hangs up."""
        caller.dial(self.uri(exten))
        incoming = callee.accept()
        self.assertIn(f"sip:{caller.user}@", incoming.fields.get("peeruri", ""))
        caller.wait_established()
        callee.wait_established()
        time.sleep(TALK_SECONDS)
        caller.hangup()
        callee.wait_closed()
        self.assert_idle()

    def assert_idle(self, timeout: float = 5.0) -> None:
        """pbx tore every channel down."""
        self.daemon.wait_for(
            "core show channels count",
            lambda out: True if out.startswith("0 active channels\n") else None,
            timeout,
        )

    def assert_hears(self, phone: Baresip, expected: float, absent: float, minimum: float) -> None:
        """``phone`` recorded ``expected`` Hz for ``minimum`` s, and never ``absent`` Hz."""
        rate, samples = phone.received_audio()
        heard = tone_seconds(samples, rate, expected)
        wrong = tone_seconds(samples, rate, absent)
        sent_rate, sent = phone.sent_audio()
        explanation = (
            f"{phone.user} heard {expected:g} Hz for {heard} s"
            f" and {absent:g} Hz for {wrong} s (loud for {voiced_seconds(samples, rate)} s)\n"
            f"received: {describe_audio(samples, rate, [expected, absent])}\n"
            f"sent: {describe_audio(sent, sent_rate, [phone.tone_hz])}\n"
            f"{phone.explain()}\n{self.daemon.describe(40)}"
        )
        self.assertGreaterEqual(heard, minimum, explanation)
        self.assertEqual(wrong, 0.0, explanation)

    def sent_invites(self, phone: Baresip) -> list[SipMessage]:
        return [t.message for t in phone.sip_trace() if t.sent and t.message.method == "INVITE"]

    def received(self, phone: Baresip, method: str | None, status: int | None) -> SipMessage:
        """The last message from pbx to ``phone`` with this method or status (with SDP)."""
        found = [
            t.message
            for t in phone.sip_trace()
            if not t.sent
            and t.message.body
            and (method is None or t.message.method == method)
            and (status is None or t.message.status == status)
        ]
        self.assertTrue(found, f"pbx sent {phone.user} no {method or status} with SDP")
        return found[-1]


@pytest.fixture(scope="class", autouse=True)
def _class_daemon(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """Start the class's daemon (``sip set debug on``, so its output has every message)."""
    reason = missing_baresip()
    if reason is not None:
        pytest.skip(reason)
    cls = request.cls
    assert cls is not None and issubclass(cls, DeskPhoneTest)
    cls.root = tmp_path_factory.mktemp(cls.__name__)
    daemon = Daemon(cls.root / "pbx", cls.peers, dialplan=cls.dialplan)
    try:
        daemon.start()
        daemon.cli("sip set debug on")
        cls.daemon = daemon
        yield
    finally:
        daemon.close()


class TwoDeskPhonesTests(DeskPhoneTest):
    peers = {"desk1": desk("desk1"), "desk2": desk("desk2")}
    dialplan = "[phones]\n" + dial_all(["desk1", "desk2"])

    def test_each_hears_the_other_through_dial(self) -> None:
        desk1 = self.phone("desk1", DESK1_HZ)
        desk2 = self.phone("desk2", DESK2_HZ)
        self.call(desk1, desk2, "desk2")
        self.assert_hears(desk1, DESK2_HZ, DESK1_HZ, MIN_TONE_SECONDS)
        self.assert_hears(desk2, DESK1_HZ, DESK2_HZ, MIN_TONE_SECONDS)

    def test_rfc4733_digits_reach_the_far_phone_once_each(self) -> None:
        desk1 = self.phone("desk1", DESK1_HZ)
        desk2 = self.phone("desk2", DESK2_HZ)
        desk1.dial(self.uri("desk2"))
        desk2.accept()
        desk1.wait_established()
        desk2.wait_established()
        desk1.send_dtmf("59#*0")
        deadline = time.monotonic() + 2.0
        while len(desk2.received_digits()) < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # a duplicated event would arrive by now
        self.assertEqual(desk2.received_digits(), "59#*0", desk2.explain())
        self.assertEqual(desk1.received_digits(), "")
        desk1.hangup()
        desk2.wait_closed()
        self.assert_idle()


class ApplicationTests(DeskPhoneTest):
    peers = {"desk1": desk("desk1")}
    dialplan = (
        "[phones]\n"
        "exten => 600,1,Answer()\n"
        " same => n,Echo()\n"
        "exten => 601,1,Answer()\n"
        " same => n,Playback(tone-1000hz)\n"
        " same => n,Hangup()\n"
        "exten => 602,1,Answer()\n"
        " same => n,Read(DIGITS,,4)\n"
        " same => n,Set(DB(test/digits)=${DIGITS})\n"
        " same => n,Hangup()\n"
    )

    def test_echo_returns_the_callers_own_tone(self) -> None:
        desk1 = self.phone("desk1", DESK1_HZ)
        desk1.dial(self.uri("600"))
        desk1.wait_established()
        time.sleep(TALK_SECONDS)
        desk1.hangup()
        self.assert_idle()
        self.assert_hears(desk1, DESK1_HZ, DESK2_HZ, MIN_TONE_SECONDS)

    def test_playback_plays_the_tone_file_then_hangs_up(self) -> None:
        desk1 = self.phone("desk1", DESK1_HZ)
        desk1.dial(self.uri("601"))
        desk1.wait_established()
        reason = desk1.wait_closed(timeout=5.0)
        self.assertIn(
            "BYE",
            [t.message.method for t in desk1.sip_trace() if not t.sent],
            f"pbx should end the call after Playback (closed: {reason})",
        )
        self.assert_idle()
        # The whole second of tone arrives; the caller's own tone never comes back.
        self.assert_hears(desk1, PLAYBACK_HZ, DESK1_HZ, 0.8)

    def test_rfc4733_digits_drive_read(self) -> None:
        desk1 = self.phone("desk1", DESK1_HZ)
        desk1.dial(self.uri("602"))
        desk1.wait_established()
        desk1.send_dtmf("1234")
        desk1.wait_closed(timeout=5.0)
        self.assert_idle()
        self.assertEqual(self.daemon.cli("database get test digits").strip(), "Value: 1234")


class SdesSrtpTests(DeskPhoneTest):
    peers = {"secure": desk("secure", encryption="yes"), "plain": desk("plain")}
    dialplan = (
        "[phones]\n"
        "exten => secure,1,Dial(SIP/secure,20)\n"
        "exten => plain,1,Dial(SIP/plain,20)\n"
        " same => n,Set(DB(test/dial)=${DIALSTATUS}/${HANGUPCAUSE})\n"
    )

    def assert_profiles(self, secure: Baresip, plain: Baresip, secure_calls: bool) -> None:
        """The SRTP phone's leg is RTP/SAVP with one a=crypto each way; the plain one RTP/AVP."""
        if secure_calls:
            offer, answer = self.sent_invites(secure)[-1], self.received(secure, None, 200)
            plain_sdp = self.received(plain, "INVITE", None)
        else:
            offer, answer = self.received(secure, "INVITE", None), None
            plain_sdp = self.received(plain, None, 200)
        self.assertEqual(sdp_audio(offer)[0], "RTP/SAVP")
        self.assertGreaterEqual(sdp_audio(offer)[2], 1)
        if answer is not None:
            self.assertEqual(sdp_audio(answer)[0], "RTP/SAVP")
            self.assertEqual(sdp_audio(answer)[2], 1)
        self.assertEqual(sdp_audio(plain_sdp)[0], "RTP/AVP")
        self.assertEqual(sdp_audio(plain_sdp)[2], 0)

    def test_srtp_phone_calls_plain_phone(self) -> None:
        secure = self.phone("secure", DESK1_HZ, srtp=True)
        plain = self.phone("plain", DESK2_HZ)
        self.call(secure, plain, "plain")
        self.assert_profiles(secure, plain, secure_calls=True)
        self.assert_hears(secure, DESK2_HZ, DESK1_HZ, MIN_TONE_SECONDS)
        self.assert_hears(plain, DESK1_HZ, DESK2_HZ, MIN_TONE_SECONDS)

    def test_plain_phone_calls_srtp_phone(self) -> None:
        secure = self.phone("secure", DESK1_HZ, srtp=True)
        plain = self.phone("plain", DESK2_HZ)
        self.call(plain, secure, "secure")
        self.assert_profiles(secure, plain, secure_calls=False)
        self.assert_hears(secure, DESK2_HZ, DESK1_HZ, MIN_TONE_SECONDS)
        self.assert_hears(plain, DESK1_HZ, DESK2_HZ, MIN_TONE_SECONDS)

    def test_callee_refusing_the_offer_ends_the_dial_at_once(self) -> None:
        """A callee's 488 is cause 58 (ASTERISK-REFERENCE §8.3): Dial ends with CHANUNAVAIL
        without waiting for its timeout, and autofallthrough answers the caller 503."""
        caller = self.phone("secure", DESK1_HZ, srtp=True)
        # Registered as the plain peer, but insists on SRTP: pbx's RTP/AVP offer gets a 488.
        self.phone("plain", DESK2_HZ, srtp=True)
        started = time.monotonic()
        caller.dial(self.uri("plain"))
        reason = caller.wait_closed(timeout=25.0)
        elapsed = time.monotonic() - started
        self.assertEqual(reason.split(" ", 1)[0], "503", caller.explain())
        self.assertLess(elapsed, 5.0, f"the Dial(…,20) waited {elapsed:.1f} s after the 488")
        self.assertEqual(self.daemon.cli("database get test dial").strip(), "Value: CHANUNAVAIL/58")


class CodecTests(DeskPhoneTest):
    peers = {
        "ulawdesk": desk("ulawdesk", allow=["ulaw"]),
        "alawdesk": desk("alawdesk", allow=["alaw"]),
        "secure": desk("secure", encryption="yes"),
    }
    dialplan = (
        "[phones]\n"
        + dial_all(["ulawdesk", "alawdesk"])
        + "exten => 600,1,Answer()\n same => n,Echo()\n"
    )

    def test_ulaw_phone_and_alaw_phone_hear_each_other(self) -> None:
        ulaw = self.phone("ulawdesk", DESK1_HZ, codecs=["PCMU"])
        alaw = self.phone("alawdesk", DESK2_HZ, codecs=["PCMA"])
        self.call(ulaw, alaw, "alawdesk")
        # Each leg negotiated its own phone's codec (plus telephone-event), so pbx transcodes.
        self.assertEqual(sdp_audio(self.received(ulaw, None, 200))[1][0], "0")
        self.assertEqual(sdp_audio(self.received(alaw, "INVITE", None))[1][0], "8")
        self.assert_hears(ulaw, DESK2_HZ, DESK1_HZ, MIN_TONE_SECONDS)
        self.assert_hears(alaw, DESK1_HZ, DESK2_HZ, MIN_TONE_SECONDS)

    def rejected(self, phone: Baresip) -> SipMessage:
        """Dial 600 and return the 488 pbx answered (after the digest round)."""
        phone.dial(self.uri("600"))
        reason = phone.wait_closed()
        self.assertEqual(reason, "488 Not Acceptable Here", phone.explain())
        [response] = phone.received_responses(488)
        return response

    def assert_logged(self, response: SipMessage, text: str) -> None:
        line = f"Rejecting call {response.header('Call-ID')}: {text}"
        found = self.daemon.output().find(line) >= 0
        self.assertTrue(found, f"no {line!r} in the log\n{self.daemon.describe()}")

    def test_no_common_codec_is_488_with_the_reason(self) -> None:
        phone = self.phone("alawdesk", DESK1_HZ, codecs=["PCMU"])
        response = self.rejected(phone)
        text = "offer has only PCMU; peer alawdesk allows alaw"
        self.assertEqual(response.all("Warning"), [f'399 127.0.0.1 "{text}"'])
        self.assert_logged(response, text)
        self.assert_idle()

    def test_plain_offer_to_encryption_peer_is_488_with_the_reason(self) -> None:
        phone = self.phone("secure", DESK1_HZ)
        response = self.rejected(phone)
        text = "plain RTP offered but peer secure has encryption=yes"
        self.assertEqual(response.all("Warning"), [f'399 127.0.0.1 "{text}"'])
        self.assert_logged(response, text)
        self.assert_idle()

    def test_rejected_offer_reason_is_the_cdr_userfield(self) -> None:
        """Issue 5: the 488 reason "goes to the log and the CDR's userfield"."""
        phone = self.phone("alawdesk", DESK1_HZ, codecs=["PCMU"])
        self.rejected(phone)
        text = "offer has only PCMU; peer alawdesk allows alaw"
        path = self.daemon.logdir / "cdr.sqlite3"
        deadline = time.monotonic() + 3.0
        rows: list[tuple[str, str]] = []
        while time.monotonic() < deadline:
            if path.exists():
                with closing(sqlite3.connect(path)) as db:
                    rows = db.execute("SELECT src, userfield FROM cdr").fetchall()
            if any(userfield == text for _, userfield in rows):
                return
            time.sleep(0.1)
        self.fail(f"no CDR with userfield {text!r}; CDRs (src, userfield): {rows}")
