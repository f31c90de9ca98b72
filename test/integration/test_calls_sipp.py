"""Calls through the real daemon with sipp on both ends (issue 4, "Tests that must exist").

A caller (``contrib/sipp/uac_*.xml``, digest auth: INVITE, 401, ACK, INVITE with credentials)
dials an extension whose dialplan ``Dial``s a second desk phone: a sipp UAS scenario
(``contrib/sipp/uas_*.xml``) that registered from the port it listens on. Each test asserts
the exact status sequence both phones saw, the key headers of what the daemon sent, and what
the daemon recorded: the CDR in ``Master.csv`` (Asterisk's column order) and in SQLite, astdb
values the dialplan wrote (``DIALSTATUS`` made visible), the console's channel table.

Every class has its own daemon, peers and ``extensions.conf``; the oracles are chan_sip's
(ASTERISK-REFERENCE §1.2, §1.6, §6) and Asterisk's ``app_dial``/``cdr.c``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import ClassVar

import pytest

from test.integration.daemon import Daemon, Options
from test.integration.sipp import SippResult, TracedMessage, requires_sipp, wait_until
from test.integration.sipp_calls import (
    STAMP_RE,
    CdrRow,
    call,
    call_daemon,
    db_get,
    desks,
    explain,
    read_master_csv,
    read_sqlite_cdrs,
    register_phone,
    requests,
    responses_to,
    sdp_direction,
    sdp_payload_types,
    sent,
    start_call,
    start_callee,
    statuses_to,
)

pytestmark = requires_sipp

SippDir = Callable[[str], Path]
CHALLENGE_RE = re.compile(r'Digest algorithm=MD5, realm="pbx-test", nonce="[^"]+"')


class CallTests:
    """Base of the test classes: a daemon per class over ``peers``/``dialplan``/``general``."""

    peers: ClassVar[Mapping[str, Options]]
    dialplan: ClassVar[str]
    general: ClassVar[Options] = {}
    cdr_conf: ClassVar[str | None] = None  # None: no cdr.conf, pbx's defaults
    sqlite_file: ClassVar[str] = "cdr.sqlite3"  # where the cdr.conf puts the SQLite CDRs

    @pytest.fixture(scope="class")
    @classmethod
    def pbx(cls, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
        root = tmp_path_factory.mktemp(cls.__name__)
        with call_daemon(
            root, cls.peers, cls.dialplan, general=cls.general, cdr_conf=cls.cdr_conf
        ) as daemon:
            yield daemon

    def assert_same_cdr(self, daemon: Daemon, row: CdrRow) -> None:
        """The SQLite record of the call says what its Master.csv line says."""
        found = [r for r in read_sqlite_cdrs(daemon, self.sqlite_file)
                 if r["channel"] == row["channel"]]  # fmt: skip
        assert len(found) == 1, found
        stored = found[0]
        for column in ("src", "dst", "dcontext", "clid", "dstchannel", "lastapp", "lastdata",
                       "disposition", "amaflags", "accountcode"):  # fmt: skip
            assert stored[column] == row[column], (column, stored, row)
        assert (stored["duration"], stored["billsec"]) == (
            int(row["duration"]),
            int(row["billsec"]),
        )
        start, end = stored["start"], stored["end"]
        assert isinstance(start, float) and isinstance(end, float)
        assert time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(start)) == row["start"]
        assert time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(end)) == row["end"]

    @pytest.fixture(autouse=True)
    def _idle_between_tests(self, pbx: Daemon) -> Iterator[None]:
        yield
        wait_idle(pbx)


def wait_idle(daemon: Daemon, timeout: float = 5.0) -> None:
    daemon.wait_for(
        "core show channels count",
        lambda out: True if out.startswith("0 active channels\n") else None,
        timeout,
    )


def ok(result: SippResult) -> SippResult:
    assert result.returncode == 0, explain(result)
    return result


def new_cdrs(daemon: Daemon, before: int, count: int = 1) -> list[CdrRow]:
    """The ``count`` Master.csv rows written after the first ``before`` (waits for them: the
    record is written when the daemon has finished the call)."""
    assert wait_until(lambda: len(read_master_csv(daemon)) >= before + count, 5.0), (
        f"no CDR written\n{daemon.describe()}"
    )
    rows = read_master_csv(daemon)
    assert len(rows) == before + count, rows
    return rows[before:]


def assert_challenge(response: TracedMessage) -> None:
    """chan_sip's INVITE challenge: 401 (never 407) with an MD5 digest and no qop."""
    assert (response.status, response.reason) == (401, "Unauthorized"), response
    assert CHALLENGE_RE.fullmatch(response.header("WWW-Authenticate") or ""), response
    assert response.header("Proxy-Authenticate") is None


def assert_unanswered_cdr(row: CdrRow, dst: str, dstchannel: str, lastdata: str) -> None:
    assert row["src"] == "desk1" and row["dst"] == dst and row["dcontext"] == "phones", row
    assert row["channel"].startswith("SIP/desk1-"), row
    assert row["dstchannel"].startswith(dstchannel), row
    assert (row["lastapp"], row["lastdata"]) == ("Dial", lastdata), row
    assert STAMP_RE.fullmatch(row["start"]) and STAMP_RE.fullmatch(row["end"]), row
    assert row["answer"] == "" and row["billsec"] == "0", row


# ---------------------------------------------------------------------------------------------
class TestAnsweredCalls(CallTests):
    """desk1 calls 2002, which Dials desk2: who hangs up, hold, the console, the CDR."""

    peers = desks("desk1", "desk2", "desk6", desk6={"call-limit": "1"})
    dialplan = "[phones]\nexten => 2002,1,Dial(SIP/desk2,5)\n same => n,Hangup()\n"
    cdr_conf = "[general]\nenable=yes\n[sqlite]\nenable=yes\nfile=calls.sqlite3\n"
    sqlite_file = "calls.sqlite3"

    def test_caller_hangs_up_after_200_ack(self, pbx: Daemon, sipp_dir: SippDir) -> None:
        """Both phones registered; the caller calls from its registered address."""
        before = len(read_master_csv(pbx))
        callee = start_callee(pbx, sipp_dir("callee"), "desk2")
        port = register_phone(pbx, sipp_dir("register-caller"), "desk1")
        caller = ok(call(pbx, sipp_dir("caller"), "desk1", "2002", port=port, pause_ms=1000))
        phone = ok(callee.wait())

        assert statuses_to(caller, "INVITE") == [401, 100, 180, 200], explain(caller)
        assert_challenge(responses_to(caller, "INVITE")[0])
        answer = responses_to(caller, "INVITE")[-1]
        assert answer.header("Content-Type") == "application/sdp"
        assert sdp_payload_types(answer)[:1] == ["0"], answer  # the callee's choice, PCMU
        contact = answer.header("Contact") or ""
        assert re.fullmatch(rf"<sip:(\w+@)?127\.0\.0\.1:{pbx.udp_port}>", contact), answer
        assert statuses_to(caller, "BYE") == [200]

        # The callee leg: INVITE from the PBX to the registered contact, ACK, then the BYE.
        (invite,) = requests(phone, "INVITE")
        assert invite.start_line.startswith(f"INVITE sip:desk2@127.0.0.1:{phone.local_port}")
        assert (invite.header("CSeq") or "").endswith(" INVITE")
        assert invite.header("Content-Type") == "application/sdp"
        assert [m.method for m in requests(phone)] == ["INVITE", "ACK", "BYE"], explain(phone)
        ack, bye = requests(phone)[1:]
        assert ack.header("CSeq") == (invite.header("CSeq") or "").replace("INVITE", "ACK")
        assert ";tag=" in (bye.header("To") or "") and ";tag=" in (bye.header("From") or "")
        assert bye.header("Call-ID") == invite.header("Call-ID")

        (row,) = new_cdrs(pbx, before)
        assert row["disposition"] == "ANSWERED", row
        assert (row["src"], row["dst"], row["dcontext"]) == ("desk1", "2002", "phones"), row
        assert row["clid"].endswith("<desk1>"), row
        assert row["channel"].startswith("SIP/desk1-"), row
        assert row["dstchannel"].startswith("SIP/desk2-"), row
        assert (row["lastapp"], row["lastdata"]) == ("Dial", "SIP/desk2,5"), row
        assert row["amaflags"] == "DOCUMENTATION" and row["accountcode"] == "", row
        assert all(STAMP_RE.fullmatch(row[c]) for c in ("start", "answer", "end")), row
        assert row["start"] <= row["answer"] <= row["end"], row
        # Talk time: the caller's 1 s pause between ACK and BYE (billsec counts whole seconds).
        assert row["billsec"] == "1", row
        assert int(row["duration"]) in (1, 2), row
        self.assert_same_cdr(pbx, row)

    def test_callee_hangs_up(self, pbx: Daemon, sipp_dir: SippDir) -> None:
        before = len(read_master_csv(pbx))
        callee = start_callee(pbx, sipp_dir("callee"), "desk2", "uas_answer_bye.xml",
                              pause_ms=1000)  # fmt: skip
        caller = ok(call(pbx, sipp_dir("caller"), "desk1", "2002", "uac_call_wait_bye.xml"))
        phone = ok(callee.wait())

        assert statuses_to(caller, "INVITE") == [401, 100, 180, 200], explain(caller)
        # The callee's BYE was answered 200 and relayed to the caller in the caller's dialog.
        assert statuses_to(phone, "BYE") == [200], explain(phone)
        (bye,) = requests(caller, "BYE")
        answer = responses_to(caller, "INVITE")[-1]
        assert bye.header("Call-ID") == answer.header("Call-ID")
        assert bye.header("From") == answer.header("To"), (bye, answer)
        assert bye.start_line.startswith("BYE sip:desk1@127.0.0.1:"), bye

        (row,) = new_cdrs(pbx, before)
        assert (row["disposition"], row["billsec"]) == ("ANSWERED", "1"), row
        self.assert_same_cdr(pbx, row)

    def test_hold_reinvite_is_answered_and_passed_to_the_callee(
        self, pbx: Daemon, sipp_dir: SippDir
    ) -> None:
        callee = start_callee(pbx, sipp_dir("callee"), "desk2", "uas_hold.xml")
        caller = ok(call(pbx, sipp_dir("caller"), "desk1", "2002", "uac_hold.xml", pause_ms=200))
        phone = callee.wait()

        # A 100 to a re-INVITE is optional (it may wait for the callee's answer).
        finals = [m for m in responses_to(caller, "INVITE") if (m.status or 0) >= 200]
        assert [(m.header("CSeq"), m.status) for m in finals] == [
            ("1 INVITE", 401),
            ("2 INVITE", 200),
            ("3 INVITE", 200),
            ("4 INVITE", 200),
        ], explain(caller)
        hold, resume = finals[-2:]
        assert sdp_direction(hold) == "recvonly", hold  # RFC 3264 §6.1: the answer to sendonly
        assert sdp_direction(resume) == "sendrecv", resume

        # The callee is re-INVITEd in its own dialog: sendonly for the hold, then sendrecv.
        invites = requests(phone, "INVITE")
        directions = [sdp_direction(i) for i in invites]
        assert directions == ["sendrecv", "sendonly", "sendrecv"], explain(phone)
        first, reinvite = invites[0], invites[1]
        assert reinvite.header("Call-ID") == first.header("Call-ID")
        assert ";tag=" in (reinvite.header("To") or ""), reinvite
        cseqs = [int((i.header("CSeq") or "0").split()[0]) for i in invites]
        assert cseqs == sorted(set(cseqs)), cseqs  # RFC 3261 §12.2.1.1: CSeq goes up
        ok(phone)

    def test_core_show_channels_and_hangup_all(self, pbx: Daemon, sipp_dir: SippDir) -> None:
        before = len(read_master_csv(pbx))
        callee = start_callee(pbx, sipp_dir("callee"), "desk2")
        caller_run = start_call(pbx, sipp_dir("caller"), "desk1", "2002", "uac_call_wait_bye.xml")
        table = pbx.wait_for(
            "core show channels",
            lambda out: out if "2 active channels" in out and " Up " in out else None,
        )
        lines = table.splitlines()
        assert lines[0].split() == ["Channel", "Location", "State", "Application(Data)"], table
        assert lines[-3:-1] == ["2 active channels", "1 active call"], table
        assert re.fullmatch(r"\d+ calls? processed", lines[-1]), table
        rows = {line.split()[0].rsplit("-", 1)[0]: line for line in lines[1:-3]}
        assert set(rows) == {"SIP/desk1", "SIP/desk2"}, table
        assert rows["SIP/desk1"].split()[1:] == ["2002@phones:1", "Up", "Dial(SIP/desk2,5)"]
        assert rows["SIP/desk2"].split()[2] == "Up", table
        assert pbx.cli("core show calls").splitlines()[0] == "1 active call"

        output = pbx.cli("channel request hangup all")
        caller, phone = ok(caller_run.wait()), ok(callee.wait())
        assert len(requests(caller, "BYE")) == 1 and len(requests(phone, "BYE")) == 1
        wait_idle(pbx)
        assert pbx.cli("core show channels").splitlines()[-3:-1] == [
            "0 active channels",
            "0 active calls",
        ]
        (row,) = new_cdrs(pbx, before)
        assert row["disposition"] == "ANSWERED", row
        # Asterisk's cli.c prints one line per channel it asked to hang up.
        names = [rows["SIP/desk1"].split()[0], rows["SIP/desk2"].split()[0]]
        expected = sorted(f"Requested Hangup on channel '{name}'" for name in names)
        assert sorted(output.splitlines()) == expected, output

    def test_call_limit_answers_480(self, pbx: Daemon, sipp_dir: SippDir) -> None:
        """desk6 has call-limit=1: a second call while the first is up gets chan_sip's 480."""
        callee = start_callee(pbx, sipp_dir("callee"), "desk2")
        first = start_call(pbx, sipp_dir("first"), "desk6", "2002", "uac_call_wait_bye.xml")
        pbx.wait_for("core show channels count",
                     lambda out: True if out.startswith("2 active channels") else None)  # fmt: skip
        second = call(pbx, sipp_dir("second"), "desk6", "2002", "uac_reject.xml")
        ok(second)
        assert statuses_to(second, "INVITE") == [401, 480], explain(second)
        limited = responses_to(second, "INVITE")[-1]
        assert limited.reason == "Temporarily Unavailable (Call limit)", limited
        pbx.cli("channel request hangup all")
        ok(first.wait())
        ok(callee.wait())


# ---------------------------------------------------------------------------------------------
class TestUnansweredCalls(CallTests):
    """Calls that never reach a 200: CANCEL, Dial timeout, busy, unreachable; their CDRs."""

    peers = desks("desk1", "desk3", "desk4", "desk5", "desk9")
    dialplan = (
        "[phones]\n"
        "exten => 2003,1,Dial(SIP/desk3,5)\n"
        ' same => n,GotoIf($["${DIALSTATUS}" = "BUSY"]?busy)\n'
        " same => n,Hangup()\n"
        " same => n(busy),Set(DB(test/dialstatus)=${DIALSTATUS})\n"
        " same => n,Busy()\n"
        "exten => 2004,1,Dial(SIP/desk4,5)\n"
        " same => n,Hangup()\n"
        "exten => 2005,1,Dial(SIP/desk5,1)\n"
        " same => n,Set(DB(test/timeout)=${DIALSTATUS})\n"
        " same => n,Hangup(19)\n"
        "exten => 2009,1,Dial(SIP/desk9,5)\n"
        " same => n,Set(DB(test/unreachable)=${DIALSTATUS})\n"
        " same => n,Hangup()\n"
    )

    def test_cancel_before_answer(self, pbx: Daemon, sipp_dir: SippDir) -> None:
        before = len(read_master_csv(pbx))
        callee = start_callee(pbx, sipp_dir("callee"), "desk4", "uas_ring.xml")
        caller = ok(call(pbx, sipp_dir("caller"), "desk1", "2004", "uac_cancel.xml",
                         pause_ms=300))  # fmt: skip
        phone = ok(callee.wait())

        assert statuses_to(caller, "INVITE") == [401, 100, 180, 487], explain(caller)
        assert statuses_to(caller, "CANCEL") == [200], explain(caller)
        terminated = responses_to(caller, "INVITE")[-1]
        assert terminated.reason == "Request Terminated"
        # The callee leg was CANCELled too (RFC 3261 §9.1: same branch as its INVITE), and
        # its 487 ACKed.
        assert [m.method for m in requests(phone)] == ["INVITE", "CANCEL", "ACK"], explain(phone)
        invite, cancel, ack = requests(phone)
        branch = (invite.header("Via") or "").split("branch=")[1].split(";")[0]
        assert f"branch={branch}" in (cancel.header("Via") or ""), (invite, cancel)
        assert cancel.header("CSeq") == (invite.header("CSeq") or "").replace("INVITE", "CANCEL")
        assert ack.header("CSeq") == (invite.header("CSeq") or "").replace("INVITE", "ACK")

        (row,) = new_cdrs(pbx, before)
        assert row["disposition"] == "NO ANSWER", row
        assert_unanswered_cdr(row, "2004", "SIP/desk4-", "SIP/desk4,5")
        self.assert_same_cdr(pbx, row)

    def test_dial_timeout_cancels_the_callee(self, pbx: Daemon, sipp_dir: SippDir) -> None:
        before = len(read_master_csv(pbx))
        callee = start_callee(pbx, sipp_dir("callee"), "desk5", "uas_ring.xml")
        caller = ok(call(pbx, sipp_dir("caller"), "desk1", "2005", "uac_reject.xml"))
        phone = ok(callee.wait())

        # Dial(…,1) gives up after 1 s: NOANSWER, then Hangup(19) -> 480 (cause 19, RFC 3398).
        assert statuses_to(caller, "INVITE") == [401, 100, 180, 480], explain(caller)
        assert [m.method for m in requests(phone)] == ["INVITE", "CANCEL", "ACK"], explain(phone)
        assert db_get(pbx, "test", "timeout") == "NOANSWER"
        (row,) = new_cdrs(pbx, before)
        assert row["disposition"] == "NO ANSWER", row
        assert_unanswered_cdr(row, "2005", "SIP/desk5-", "SIP/desk5,1")

    def test_busy_callee_gives_486_and_dialstatus_busy(
        self, pbx: Daemon, sipp_dir: SippDir
    ) -> None:
        before = len(read_master_csv(pbx))
        callee = start_callee(pbx, sipp_dir("callee"), "desk3", "uas_busy.xml")
        caller = ok(call(pbx, sipp_dir("caller"), "desk1", "2003", "uac_reject.xml"))
        phone = ok(callee.wait())

        assert statuses_to(caller, "INVITE") == [401, 100, 486], explain(caller)
        assert responses_to(caller, "INVITE")[-1].reason == "Busy Here"
        assert [m.method for m in requests(phone)] == ["INVITE", "ACK"], explain(phone)
        # The priority after Dial saw DIALSTATUS=BUSY, took the GotoIf and stored it.
        assert db_get(pbx, "test", "dialstatus") == "BUSY"
        (row,) = new_cdrs(pbx, before)
        assert row["disposition"] == "BUSY", row
        # Asterisk locks lastapp at Dial (cdr.c AST_CDR_LOCK_APP) though Set/Busy ran later.
        assert_unanswered_cdr(row, "2003", "SIP/desk3-", "SIP/desk3,5")
        self.assert_same_cdr(pbx, row)

    def test_unreachable_callee_is_chanunavail_480_and_failed(
        self, pbx: Daemon, sipp_dir: SippDir
    ) -> None:
        """desk9 never registered: Dial fails with cause 20, which app_dial leaves on the
        caller's channel, so the plain Hangup() answers 480 (RFC 3398 / chan_sip)."""
        before = len(read_master_csv(pbx))
        caller = ok(call(pbx, sipp_dir("caller"), "desk1", "2009", "uac_reject.xml"))
        assert statuses_to(caller, "INVITE")[0] == 401, explain(caller)
        assert statuses_to(caller, "INVITE")[-1] == 480, explain(caller)
        assert db_get(pbx, "test", "unreachable") == "CHANUNAVAIL"
        (row,) = new_cdrs(pbx, before)
        assert row["disposition"] == "FAILED", row
        assert row["dstchannel"] == "", row  # no channel was created
        assert (row["lastapp"], row["lastdata"]) == ("Dial", "SIP/desk9,5"), row
        self.assert_same_cdr(pbx, row)


# ---------------------------------------------------------------------------------------------
class TestRoutingAndProtocol(CallTests):
    """Dialplan routing (404, GotoIf) and protocol answers (481, 488) for a known caller."""

    peers = desks("desk1", "desk2", desk1={"disallow": "all", "allow": "ulaw,alaw"})
    dialplan = (
        "[phones]\n"
        "exten => 2002,1,Dial(SIP/desk2,5)\n"
        " same => n,Hangup()\n"
        "exten => _210X,1,GotoIf($[${EXTEN:3} = 1]?yes:no)\n"
        " same => n(yes),Set(DB(test/branch)=yes-${EXTEN})\n"
        " same => n,Busy()\n"
        " same => n(no),Set(DB(test/branch)=no-${EXTEN})\n"
        " same => n,Hangup(21)\n"
    )

    def test_unknown_extension_gets_404(self, pbx: Daemon, sipp_dir: SippDir) -> None:
        result = ok(call(pbx, sipp_dir("caller"), "desk1", "9999", "uac_reject.xml"))
        assert statuses_to(result, "INVITE") == [401, 404], explain(result)
        assert responses_to(result, "INVITE")[-1].reason == "Not Found"

    @pytest.mark.parametrize(
        ("exten", "branch", "status"), [("2101", "yes", 486), ("2100", "no", 403)]
    )
    def test_gotoif_takes_the_branch(
        self, pbx: Daemon, sipp_dir: SippDir, exten: str, branch: str, status: int
    ) -> None:
        result = ok(call(pbx, sipp_dir("caller"), "desk1", exten, "uac_reject.xml"))
        assert statuses_to(result, "INVITE")[0] == 401, explain(result)
        assert statuses_to(result, "INVITE")[-1] == status, explain(result)
        assert db_get(pbx, "test", "branch") == f"{branch}-{exten}"

    def test_bye_outside_a_dialog_gets_481(self, pbx: Daemon, sipp_dir: SippDir) -> None:
        result = ok(call(pbx, sipp_dir("bye"), "desk1", "2002", "uac_stray_bye.xml"))
        assert statuses_to(result, "BYE") == [481], explain(result)
        (response,) = responses_to(result, "BYE")
        assert response.reason == "Call/Transaction Does Not Exist", response
        (bye,) = sent(result, "BYE")
        assert response.header("Call-ID") == bye.header("Call-ID")

    def test_offer_without_an_allowed_codec_gets_488_with_warning(
        self, pbx: Daemon, sipp_dir: SippDir
    ) -> None:
        result = ok(call(pbx, sipp_dir("caller"), "desk1", "2002", "uac_g729.xml"))
        assert statuses_to(result, "INVITE") == [401, 488], explain(result)
        refused = responses_to(result, "INVITE")[-1]
        assert refused.reason == "Not Acceptable Here", refused
        # RFC 3261 §20.43: warn-code 399 (miscellaneous), agent, quoted text.
        assert re.fullmatch(r'399 \S+ "[^"]+"', refused.header("Warning") or ""), refused
        assert pbx.cli("core show channels count").startswith("0 active channels")


# ---------------------------------------------------------------------------------------------
class TestAuthentication(CallTests):
    """INVITE digest as chan_sip does it, with ``allowguest=no`` and ``alwaysauthreject=yes``."""

    peers = desks("desk1", "desk2")
    general = {"allowguest": "no", "alwaysauthreject": "yes"}
    dialplan = "[phones]\nexten => 2002,1,Dial(SIP/desk2,5)\n same => n,Hangup()\n"

    def test_wrong_password_gets_401_then_403(self, pbx: Daemon, sipp_dir: SippDir) -> None:
        result = ok(call(pbx, sipp_dir("caller"), "desk1", "2002", "uac_reject.xml",
                         secret="not-the-password"))  # fmt: skip
        assert statuses_to(result, "INVITE") == [401, 403], explain(result)
        challenge, forbidden = responses_to(result, "INVITE")
        assert_challenge(challenge)
        assert forbidden.reason == "Forbidden", forbidden
        assert forbidden.header("WWW-Authenticate") is None

    def test_unknown_user_gets_the_same_401_then_403(self, pbx: Daemon, sipp_dir: SippDir) -> None:
        known = ok(call(pbx, sipp_dir("known"), "desk1", "2002", "uac_reject.xml",
                        secret="not-the-password"))  # fmt: skip
        unknown = ok(call(pbx, sipp_dir("unknown"), "nobody", "2002", "uac_reject.xml"))
        assert statuses_to(unknown, "INVITE") == [401, 403], explain(unknown)
        assert_challenge(responses_to(unknown, "INVITE")[0])

        def shape(message: TracedMessage) -> list[tuple[str, str]]:
            """Headers with per-request values blanked (what a prober could compare)."""
            shaped = []
            for name, value in message.headers:
                value = re.sub(r"(tag|branch|rport)=[^;>\s]+", r"\1=*", value)
                value = re.sub(r'nonce="[^"]*"', 'nonce="*"', value)
                value = re.sub(r"sip:(desk1|nobody)@", "sip:USER@", value)
                value = re.sub(r":\d+", ":PORT", value)
                if name.lower() == "call-id":
                    value = "*"
                shaped.append((name, value))
            return shaped

        for a, b in zip(responses_to(known, "INVITE"), responses_to(unknown, "INVITE"),
                        strict=True):  # fmt: skip
            assert a.start_line == b.start_line
            assert shape(a) == shape(b), (a, b)

    def test_unauthenticated_invite_never_reaches_the_dialplan(
        self, pbx: Daemon, sipp_dir: SippDir
    ) -> None:
        before = len(read_master_csv(pbx))
        call(pbx, sipp_dir("unknown"), "nobody", "2002", "uac_reject.xml")
        assert pbx.cli("core show channels count").startswith("0 active channels")
        assert len(read_master_csv(pbx)) == before


# ---------------------------------------------------------------------------------------------
class TestUnansweredNotRecorded(CallTests):
    """``cdr.conf`` ``unanswered=no`` (Asterisk's default): only answered calls get a CDR."""

    peers = desks("desk1", "desk2")
    dialplan = (
        "[phones]\nexten => 2002,1,Dial(SIP/desk2,5)\n same => n,Hangup()\nexten => 2486,1,Busy()\n"
    )
    cdr_conf = "[general]\nunanswered=no\n"

    def test_only_the_answered_call_is_recorded(self, pbx: Daemon, sipp_dir: SippDir) -> None:
        busy = ok(call(pbx, sipp_dir("busy"), "desk1", "2486", "uac_reject.xml"))
        # chan_sip sends 100 Trying before the dialplan runs; RFC 3261 §8.2.6.1 makes it
        # optional when the final answer is that quick.
        assert statuses_to(busy, "INVITE") in ([401, 100, 486], [401, 486]), explain(busy)
        callee = start_callee(pbx, sipp_dir("callee"), "desk2")
        answered = ok(call(pbx, sipp_dir("caller"), "desk1", "2002"))
        ok(callee.wait())
        assert statuses_to(answered, "INVITE")[-1] == 200, explain(answered)

        (row,) = new_cdrs(pbx, 0)
        assert (row["dst"], row["disposition"]) == ("2002", "ANSWERED"), row
        self.assert_same_cdr(pbx, row)
        assert len(read_sqlite_cdrs(pbx)) == 1
