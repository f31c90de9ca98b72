"""Blind transfer (SIP REFER) through the real daemon with sipp on both ends.

desk1 (``uac_call_wait_bye.xml``) calls 2002, which ``Dial``s desk2; desk2
(``contrib/sipp/uas_answer_refer.xml``) answers and, half a second later, transfers desk1 to
2003 with a REFER (RFC 5589 §6). The oracles are chan_sip's: 202, NOTIFYs with the sipfrags
``SIP/2.0 100 Trying`` then ``SIP/2.0 200 OK`` (RFC 3515 §2.4.4), the transferor BYEd, and
the transferee continuing in the transferor's context at the Refer-To extension, with the
CDR split at the transfer.
"""

from __future__ import annotations

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
    read_master_csv,
    requests,
    responses_to,
    start_callee,
    statuses_to,
)

pytestmark = requires_sipp

SippDir = Callable[[str], Path]

DIALPLAN = (
    "[phones]\n"
    "exten => 2002,1,Dial(SIP/desk2,5)\n"
    " same => n,Hangup()\n"
    "exten => 2013,1,Dial(SIP/desk3,5)\n"
    " same => n,Hangup()\n"
    "exten => 2003,1,Set(DB(test/transferred)=${CHANNEL}@${EXTEN})\n"
    " same => n,Wait(1)\n"
    " same => n,Hangup()\n"
)


@pytest.fixture(scope="module")
def pbx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    root = tmp_path_factory.mktemp("transfer")
    peers = desks("desk1", "desk2", "desk3", desk3={"allowtransfer": "no"})
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
