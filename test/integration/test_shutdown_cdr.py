"""CDRs survive the daemon's stop (issue 4: "written when the call ends, fsync'd, never lost on a
clean or graceful stop"), with sipp on both ends of a real call.

``core stop gracefully`` (ASTERISK-REFERENCE §4.2: no new calls, wait for the active ones): a
new INVITE is refused with 503 while the call runs; when the caller hangs up, the daemon exits
on its own and the call's record is in ``Master.csv`` and in the SQLite ``cdr`` table.
``core stop now``: the call is hung up (BYE to both phones) and its record is on disk when the
process has exited. The files are read only after the process is gone, so a record still
queued in memory at exit would be missing.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from test.integration.conftest import SippDir
from test.integration.daemon import STOP_TIMEOUT, Daemon
from test.integration.sipp import SippResult, requires_sipp
from test.integration.sipp_calls import (
    STAMP_RE,
    CdrRow,
    call,
    call_daemon,
    desks,
    explain,
    read_master_csv,
    read_sqlite_cdrs,
    requests,
    start_call,
    start_callee,
    statuses_to,
)

pytestmark = requires_sipp

PEERS = desks("desk1", "desk2", "desk3")
DIALPLAN = "[phones]\nexten => 2002,1,Dial(SIP/desk2,5)\n same => n,Hangup()\n"


def ok(result: SippResult) -> SippResult:
    assert result.returncode == 0, explain(result)
    return result


def wait_both_up(pbx: Daemon) -> None:
    pbx.wait_for(
        "core show channels",
        lambda out: True if "2 active channels" in out and out.count(" Up ") == 2 else None,
    )


def exit_status(pbx: Daemon) -> int:
    """Wait for the daemon to exit by itself; its exit status."""
    assert pbx.proc is not None
    try:
        return pbx.proc.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"pbx did not exit\n{pbx.describe()}") from None


def the_answered_cdr(pbx: Daemon) -> CdrRow:
    """The one record of the desk1 -> 2002 call, the same in Master.csv and in SQLite."""
    (row,) = read_master_csv(pbx)
    assert (row["src"], row["dst"], row["disposition"]) == ("desk1", "2002", "ANSWERED"), row
    assert row["channel"].startswith("SIP/desk1-") and row["dstchannel"].startswith("SIP/desk2-")
    assert all(STAMP_RE.fullmatch(row[c]) for c in ("start", "answer", "end")), row
    (stored,) = read_sqlite_cdrs(pbx)
    for column in ("src", "dst", "channel", "dstchannel", "disposition", "lastapp", "lastdata"):
        assert stored[column] == row[column], (column, stored, row)
    assert (stored["duration"], stored["billsec"]) == (int(row["duration"]), int(row["billsec"]))
    return row


def test_graceful_stop_refuses_new_calls_and_exits_after_the_last_one_with_its_cdr(
    tmp_path: Path, sipp_dir: SippDir
) -> None:
    with call_daemon(tmp_path / "pbx", PEERS, DIALPLAN) as pbx:
        callee = start_callee(pbx, sipp_dir("callee"), "desk2")
        # The caller hangs up 2.5 s after its ACK: time for the checks below.
        caller = start_call(pbx, sipp_dir("caller"), "desk1", "2002", pause_ms=2500)
        wait_both_up(pbx)

        stop = pbx.rx("core stop gracefully")
        assert stop.returncode == 0 and "No such command" not in stop.stdout, stop
        refused = ok(call(pbx, sipp_dir("refused"), "desk3", "2002", "uac_unavailable.xml"))
        assert statuses_to(refused, "INVITE") in ([503], [100, 503]), explain(refused)
        # Still serving the call in progress (and its console).
        assert pbx.running, pbx.describe()
        assert pbx.cli("core show channels count").startswith("2 active channels")

        phone = ok(callee.wait())
        first = ok(caller.wait())
        assert statuses_to(first, "BYE") == [200], explain(first)
        assert [m.method for m in requests(phone)] == ["INVITE", "ACK", "BYE"], explain(phone)
        assert exit_status(pbx) == 0, pbx.describe()

        row = the_answered_cdr(pbx)
        assert int(row["billsec"]) in (2, 3), row
        assert "Graceful shutdown: waiting for 2 channel(s)" in pbx.output(), pbx.describe()


def test_stop_now_hangs_up_both_phones_and_the_cdr_is_on_disk_at_exit(
    tmp_path: Path, sipp_dir: SippDir
) -> None:
    with call_daemon(tmp_path / "pbx", PEERS, DIALPLAN) as pbx:
        callee = start_callee(pbx, sipp_dir("callee"), "desk2")
        caller = start_call(pbx, sipp_dir("caller"), "desk1", "2002", "uac_call_wait_bye.xml")
        wait_both_up(pbx)

        stop = pbx.rx("core stop now")
        assert stop.returncode == 0 and "No such command" not in stop.stdout, stop
        assert exit_status(pbx) == 0, pbx.describe()
        first, phone = ok(caller.wait()), ok(callee.wait())
        # Both legs got the daemon's BYE and answered it (the scenarios fail otherwise).
        assert len(requests(first, "BYE")) == 1, explain(first)
        assert len(requests(phone, "BYE")) == 1, explain(phone)

        row = the_answered_cdr(pbx)
        assert (row["lastapp"], row["lastdata"]) == ("Dial", "SIP/desk2,5"), row
