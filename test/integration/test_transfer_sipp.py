"""Blind transfer (SIP REFER) through the real daemon with sipp on both ends.

desk1 (``uac_call_wait_bye.xml``) calls 2002, which ``Dial``s desk2; desk2
(``contrib/sipp/uas_answer_refer.xml``) answers and, half a second later, transfers desk1 to
2003 with a REFER (RFC 5589 §6). The oracles are chan_sip's: 202, NOTIFYs with the sipfrags
``SIP/2.0 100 Trying`` then ``SIP/2.0 200 OK`` (RFC 3515 §2.4.4), the transferor BYEd, and
the transferee continuing in the transferor's context at the Refer-To extension, with the
CDR split at the transfer.

Attended transfer (RFC 5589 §7): desk1 (sipp) calls 2024, which ``Dial``s desk4; desk4 is the
transferring phone, a raw-socket UA (:class:`Transferor`; one sipp scenario cannot hold two
calls and hand one's dialog id to the other): it answers, calls 2025 (``Dial(SIP/desk5)``,
desk5 = ``uas_answer_bye.xml``), then REFERs call 1 to ``2025?Replaces=<call 2>``. desk1 and
desk5 must end up in one call: desk5's BYE, seconds later, reaches desk1.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from test.integration.daemon import Daemon
from test.integration.sipp import requires_sipp, wait_until
from test.integration.sipp_calls import (
    call,
    call_daemon,
    db_get,
    desks,
    explain,
    password,
    read_master_csv,
    requests,
    responses_to,
    start_call,
    start_callee,
    statuses_to,
)
from test.integration.sipua import SipClient, SipMessage, digest_params, digest_response

pytestmark = requires_sipp

SippDir = Callable[[str], Path]

DIALPLAN = (
    "[phones]\n"
    "exten => 2002,1,Dial(SIP/desk2,5)\n"
    " same => n,Hangup()\n"
    "exten => 2013,1,Dial(SIP/desk3,5)\n"
    " same => n,Hangup()\n"
    "exten => 2024,1,Dial(SIP/desk4,5)\n"
    " same => n,Hangup()\n"
    "exten => 2025,1,Dial(SIP/desk5,5)\n"
    " same => n,Hangup()\n"
    "exten => 2003,1,Set(DB(test/transferred)=${CHANNEL}@${EXTEN})\n"
    " same => n,Wait(1)\n"
    " same => n,Hangup()\n"
)


@pytest.fixture(scope="module")
def pbx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    root = tmp_path_factory.mktemp("transfer")
    peers = desks("desk1", "desk2", "desk3", "desk4", "desk5", desk3={"allowtransfer": "no"})
    with call_daemon(root, peers, DIALPLAN) as daemon:
        yield daemon


def test_callee_blind_transfers_the_caller(pbx: Daemon, sipp_dir: SippDir) -> None:
    before = len(read_master_csv(pbx))
    callee = start_callee(
        pbx, sipp_dir("callee"), "desk2", "uas_answer_refer.xml", pause_ms=500,
        keys={"target": "2003"},
    )  # fmt: skip
    started = time.monotonic()
    caller = call(pbx, sipp_dir("caller"), "desk1", "2002", "uac_call_wait_bye.xml")
    elapsed = time.monotonic() - started
    phone = callee.wait()
    assert phone.returncode == 0, explain(phone)
    assert caller.returncode == 0, explain(caller)

    # The transferor: 202 to its REFER, two NOTIFYs (checked by the scenario: sipfrags and
    # Subscription-State), then the PBX's BYE in the same dialog.
    assert statuses_to(phone, "REFER") == [202], explain(phone)
    assert [m.method for m in requests(phone)] == ["INVITE", "ACK", "NOTIFY", "NOTIFY", "BYE"]
    invite, _, trying, done, bye = requests(phone)
    for notify in (trying, done):
        assert notify.header("Event") == "refer;id=2", notify
        assert notify.header("Content-Type") == "message/sipfrag;version=2.0", notify
        assert notify.header("Call-ID") == invite.header("Call-ID"), notify
    assert trying.body.startswith(b"SIP/2.0 100 Trying"), trying
    assert done.body.startswith(b"SIP/2.0 200 OK"), done
    assert (done.header("Subscription-State") or "").startswith("terminated"), done
    assert bye.header("Call-ID") == invite.header("Call-ID")

    # The transferee stayed in its call: it ran 2003 (1 s Wait) and only then got the BYE.
    assert statuses_to(caller, "INVITE")[-1] == 200, explain(caller)
    (caller_bye,) = requests(caller, "BYE")
    assert caller_bye.header("Call-ID") == responses_to(caller, "INVITE")[-1].header("Call-ID")
    assert elapsed >= 1.5, elapsed  # 0.5 s talk + 1 s at 2003
    value = db_get(pbx, "test", "transferred") or ""
    assert value.startswith("SIP/desk1-") and value.endswith("@2003"), value

    # Two CDRs for desk1's channel: the call with desk2 up to the transfer, then 2003.
    assert wait_until(lambda: len(read_master_csv(pbx)) >= before + 2, 5.0)
    first, second = read_master_csv(pbx)[before:]
    assert first["channel"] == second["channel"] and first["channel"].startswith("SIP/desk1-")
    assert (first["dst"], first["lastapp"], first["disposition"]) == ("2002", "Dial", "ANSWERED")
    assert first["dstchannel"].startswith("SIP/desk2-"), first
    assert (second["dst"], second["dcontext"], second["dstchannel"]) == ("2003", "phones", "")
    assert (second["lastapp"], second["disposition"]) == ("Hangup", "ANSWERED"), second
    assert second["billsec"] in ("1", "2"), second


def test_caller_blind_transfers_the_callee(pbx: Daemon, sipp_dir: SippDir) -> None:
    before = len(read_master_csv(pbx))
    callee = start_callee(pbx, sipp_dir("callee"), "desk2")  # uas_answer.xml: waits for BYE
    started = time.monotonic()
    caller = call(
        pbx, sipp_dir("caller"), "desk1", "2002", "uac_call_refer.xml", pause_ms=500,
        keys={"target": "2003"},
    )  # fmt: skip
    assert caller.returncode == 0, explain(caller)
    phone = callee.wait()
    elapsed = time.monotonic() - started
    assert phone.returncode == 0, explain(phone)

    # The transferor: 202, the two NOTIFYs (sipfrags checked by the scenario), then BYE.
    assert statuses_to(caller, "REFER") == [202], explain(caller)
    assert [m.method for m in requests(caller)][-3:] == ["NOTIFY", "NOTIFY", "BYE"]
    # The transferee ran 2003 as a call of its own (1 s Wait) and got its BYE only then.
    assert [m.method for m in requests(phone)] == ["INVITE", "ACK", "BYE"], explain(phone)
    assert elapsed >= 1.5, elapsed
    value = db_get(pbx, "test", "transferred") or ""
    assert value.startswith("SIP/desk2-") and value.endswith("@2003"), value

    # desk1's CDR ends with its leaving; desk2's run at 2003 has a record of its own.
    assert wait_until(lambda: len(read_master_csv(pbx)) >= before + 2, 5.0)
    rows = {row["channel"].split("-")[0]: row for row in read_master_csv(pbx)[before:]}
    first, second = rows["SIP/desk1"], rows["SIP/desk2"]
    assert (first["dst"], first["lastapp"], first["disposition"]) == ("2002", "Dial", "ANSWERED")
    assert first["dstchannel"] == value.removesuffix("@2003"), first
    assert (second["dst"], second["dcontext"], second["dstchannel"]) == ("2003", "phones", "")
    assert (second["lastapp"], second["disposition"]) == ("Hangup", "ANSWERED"), second
    assert second["src"] == "desk1", second  # the caller ID the transferee had


@pytest.mark.parametrize(
    ("exten", "callee", "target", "status"),
    [("2002", "desk2", "2099", 404), ("2013", "desk3", "2003", 603)],
    ids=["unknown-extension-404", "allowtransfer-no-603"],
)
def test_refused_transfer_keeps_the_call(
    pbx: Daemon, sipp_dir: SippDir, exten: str, callee: str, target: str, status: int
) -> None:
    phone_run = start_callee(
        pbx, sipp_dir("callee"), callee, "uas_answer_refer_refused.xml", pause_ms=300,
        keys={"target": target},
    )  # fmt: skip
    caller = call(pbx, sipp_dir("caller"), "desk1", exten, "uac_call_wait_bye.xml")
    phone = phone_run.wait()
    assert phone.returncode == 0, explain(phone)
    assert caller.returncode == 0, explain(caller)
    assert statuses_to(phone, "REFER") == [status], explain(phone)
    # Nothing was transferred: no NOTIFY; the callee's own BYE ended the call for the caller.
    assert "NOTIFY" not in [m.method for m in requests(phone)], explain(phone)
    assert statuses_to(phone, "BYE") == [200], explain(phone)
    assert len(requests(caller, "BYE")) == 1, explain(caller)


SDP = (
    "v=0\r\no=desk4 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
)


class Transferor:
    """desk4 on one UDP socket, holding two dialogs: what a desk phone's Transfer key does."""

    def __init__(self, pbx: Daemon) -> None:
        self.pbx = pbx
        self.ua = SipClient("udp", pbx.udp)
        self.host, self.port = self.ua.local
        self.contact = f"<sip:desk4@{self.host}:{self.port}>"
        self.held: list[SipMessage] = []

    def send(self, start: str, headers: list[tuple[str, str]], body: str = "") -> None:
        lines = [start, *(f"{n}: {v}" for n, v in headers), f"Content-Length: {len(body)}"]
        self.ua.send(("\r\n".join(lines) + "\r\n\r\n" + body).encode())

    def via(self) -> tuple[str, str]:
        branch = secrets.token_hex(8)
        return ("Via", f"SIP/2.0/UDP {self.host}:{self.port};branch=z9hG4bK{branch};rport")

    def expect(self, wanted: Callable[[SipMessage], bool], timeout: float = 5.0) -> SipMessage:
        """The next message ``wanted`` accepts; others wait in :attr:`held` for their turn."""
        for held in self.held:
            if wanted(held):
                self.held.remove(held)
                return held
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            message = self.ua.recv(left)
            if message is None:
                break
            if wanted(message):
                return message
            self.held.append(message)
        raise AssertionError(f"nothing wanted came; held: {[str(m) for m in self.held]}")

    def request(self, method: str) -> Callable[[SipMessage], bool]:
        return lambda m: m.method == method

    def response(self, method: str, final: bool = True) -> Callable[[SipMessage], bool]:
        def wanted(m: SipMessage) -> bool:
            cseq = (m.header("CSeq") or "").split()
            return m.status is not None and cseq[-1:] == [method] and (m.status >= 200 or not final)

        return wanted

    def reply(self, request: SipMessage, status: int = 200, reason: str = "OK",
              to_tag: str | None = None, sdp: str = "") -> None:  # fmt: skip
        headers = [(n, v) for n in ("Via", "From", "To", "Call-ID", "CSeq") for v in request.all(n)]
        if to_tag is not None:
            headers = [(n, f"{v};tag={to_tag}" if n == "To" else v) for n, v in headers]
        extra = [("Contact", self.contact)]
        if sdp:
            extra.append(("Content-Type", "application/sdp"))
        self.send(f"SIP/2.0 {status} {reason}", headers + extra, sdp)

    def answer_call(self) -> SipMessage:
        """Call 1: the PBX's INVITE, answered 200 with PCMU; returns the INVITE."""
        invite = self.expect(self.request("INVITE"))
        self.tag1 = secrets.token_hex(4)
        self.reply(invite, to_tag=self.tag1, sdp=SDP.format(port=self.port + 2))
        self.expect(self.request("ACK"))
        return invite

    def place_call(self, exten: str) -> SipMessage:
        """Call 2 to ``exten``: INVITE, the digest challenge answered, 200, ACK; returns the
        200 (its To tag is the PBX's tag on this dialog)."""
        self.call_id2, self.tag2 = f"att-{secrets.token_hex(6)}", secrets.token_hex(4)
        uri = f"sip:{exten}@{self.pbx.udp[0]}:{self.pbx.udp[1]}"
        base = [
            ("From", f"<sip:desk4@{self.pbx.udp[0]}>;tag={self.tag2}"),
            ("To", f"<{uri}>"),
            ("Call-ID", self.call_id2),
        ]
        sdp = SDP.format(port=self.port + 4)
        invite = [("Contact", self.contact), ("Max-Forwards", "70"),
                  ("Content-Type", "application/sdp")]  # fmt: skip
        via = self.via()
        self.send(f"INVITE {uri} SIP/2.0", [via, *base, ("CSeq", "1 INVITE"), *invite], sdp)
        challenge = self.expect(self.response("INVITE"))
        assert challenge.status == 401, challenge
        self.send(
            f"ACK {uri} SIP/2.0",
            [via, base[0], ("To", challenge.header("To") or ""), base[2], ("CSeq", "1 ACK")],
        )
        params = digest_params(challenge.header("WWW-Authenticate") or "")
        digest = digest_response(
            "desk4", params["realm"], password("desk4"), "INVITE", uri, params["nonce"], "MD5"
        )
        authorization = (
            f'Digest username="desk4", realm="{params["realm"]}", nonce="{params["nonce"]}", '
            f'uri="{uri}", response="{digest}", algorithm=MD5'
        )
        self.send(
            f"INVITE {uri} SIP/2.0",
            [self.via(), *base, ("CSeq", "2 INVITE"), ("Authorization", authorization), *invite],
            sdp,
        )
        ok = self.expect(self.response("INVITE"), timeout=8.0)
        assert ok.status == 200, ok
        target = (ok.header("Contact") or "").strip("<>")
        self.send(
            f"ACK {target} SIP/2.0",
            [self.via(), base[0], ("To", ok.header("To") or ""), base[2], ("CSeq", "2 ACK")],
        )
        return ok


def test_attended_transfer_joins_the_two_other_parties(pbx: Daemon, sipp_dir: SippDir) -> None:
    before = len(read_master_csv(pbx))
    b = Transferor(pbx)
    assert [r.status for r in b.ua.register("desk4", password("desk4"))] == [401, 200]
    target = start_callee(pbx, sipp_dir("target"), "desk5", "uas_answer_bye.xml", pause_ms=3000)
    caller = start_call(pbx, sipp_dir("caller"), "desk1", "2024", "uac_call_wait_bye.xml")
    try:
        invite1 = b.answer_call()
        ok2 = b.place_call("2025")
        answered2 = time.monotonic()
        pbx_tag2 = (ok2.header("To") or "").rsplit("tag=", 1)[1]
        replaces = f"{b.call_id2}%3Bto-tag%3D{pbx_tag2}%3Bfrom-tag%3D{b.tag2}"
        # B is the UAS of call 1: From/To swapped, to the PBX's Contact (RFC 3261 §12.2.1.1).
        b.send(
            f"REFER {(invite1.header('Contact') or '').strip('<>')} SIP/2.0",
            [
                b.via(),
                ("From", f"{invite1.header('To')};tag={b.tag1}"),
                ("To", invite1.header("From") or ""),
                ("Call-ID", invite1.header("Call-ID") or ""),
                ("CSeq", "1 REFER"),
                ("Contact", b.contact),
                ("Refer-To", f"<sip:2025@{pbx.udp[0]}:{pbx.udp[1]}?Replaces={replaces}>"),
                ("Referred-By", f"<sip:desk4@{pbx.udp[0]}>"),
                ("Max-Forwards", "70"),
            ],
        )
        accepted = b.expect(b.response("REFER"))
        assert (accepted.status, accepted.reason) == (202, "Accepted"), accepted
        bodies = []
        for _ in range(2):
            notify = b.expect(b.request("NOTIFY"))
            assert notify.header("Call-ID") == invite1.header("Call-ID"), notify
            assert notify.header("Event") == "refer;id=1", notify
            bodies.append(notify.body)
            b.reply(notify)
        assert bodies == [b"SIP/2.0 100 Trying\r\n", b"SIP/2.0 200 OK\r\n"], bodies
        # Then the PBX hangs up both of B's calls.
        byes = [b.expect(b.request("BYE")), b.expect(b.request("BYE"))]
        for bye in byes:
            b.reply(bye)
        assert {m.header("Call-ID") for m in byes} == {invite1.header("Call-ID"), b.call_id2}
    finally:
        b.ua.close()
    a, c = caller.wait(), target.wait()
    ended = time.monotonic()
    assert c.returncode == 0, explain(c)
    assert a.returncode == 0, explain(a)
    # desk1 stayed up after B left and got its BYE only when desk5 hung up (3 s after answer).
    (a_bye,) = requests(a, "BYE")
    assert a_bye.header("Call-ID") == responses_to(a, "INVITE")[-1].header("Call-ID")
    assert ended - answered2 >= 2.5, ended - answered2
    assert statuses_to(c, "BYE") == [200], explain(c)
    assert "BYE" not in [m.method for m in requests(c)], explain(c)

    # CDRs: desk1's call goes on with desk5 as its dstchannel (not split); desk4's own call
    # to 2025 ends with desk4 leaving, also naming desk5.
    assert wait_until(lambda: len(read_master_csv(pbx)) >= before + 2, 5.0)
    rows = {row["channel"].split("-")[0]: row for row in read_master_csv(pbx)[before:]}
    first, second = rows["SIP/desk1"], rows["SIP/desk4"]
    assert (first["dst"], first["lastapp"], first["disposition"]) == ("2024", "Dial", "ANSWERED")
    assert first["dstchannel"].startswith("SIP/desk5-"), first
    assert int(first["billsec"]) >= 3, first
    assert (second["dst"], second["lastapp"], second["disposition"]) == (
        "2025",
        "Dial",
        "ANSWERED",
    ), second
    assert second["dstchannel"] == first["dstchannel"], second
