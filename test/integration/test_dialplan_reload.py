"""``dialplan reload`` on a running daemon (issue 4: "on error keep the old dialplan; calls in
progress keep running"; ASTERISK-REFERENCE §4.2).

A call sits in ``Wait()`` while extensions.conf is rewritten and reloaded: a new extension
routes at once, and the call in progress finishes the priorities of the dialplan it started in
(the new file changes its extension, so running the new one would show in astdb). A broken
extensions.conf is reported with ``file:line`` and changes nothing: the dialplan in effect
before still routes, the broken file's additions do not.
"""

from __future__ import annotations

import re
from pathlib import Path

from test.integration.conftest import SippDir
from test.integration.daemon import Daemon
from test.integration.sipp import SippResult, requires_sipp
from test.integration.sipp_calls import (
    call,
    call_daemon,
    db_get,
    desks,
    explain,
    requests,
    start_call,
    statuses_to,
)

pytestmark = requires_sipp

PEERS = desks("desk1")

FIRST = (
    "[phones]\n"
    "exten => 100,1,Answer()\n"
    " same => n,Wait(3)\n"
    " same => n,Set(DB(test/plan)=first-${EXTEN})\n"
    " same => n,Hangup()\n"
)

# 100 is changed (its priority 3 would store "second") and 300 is new.
SECOND = (
    "[phones]\n"
    "exten => 100,1,Answer()\n"
    " same => n,Wait(3)\n"
    " same => n,Set(DB(test/plan)=second-${EXTEN})\n"
    " same => n,Hangup()\n"
    "exten => 300,1,Set(DB(test/new)=${EXTEN})\n"
    " same => n,Busy()\n"
)

# SECOND plus a new extension and a line that is no configuration at all.
BROKEN = SECOND + "exten => 500,1,Busy()\nthis line is broken\n"
BROKEN_LINE = BROKEN.splitlines().index("this line is broken") + 1


def ok(result: SippResult) -> SippResult:
    assert result.returncode == 0, explain(result)
    return result


def status_of(pbx: Daemon, sipp_dir: SippDir, exten: str) -> int:
    """desk1 calls ``exten``; the final status of its authenticated INVITE."""
    result = ok(call(pbx, sipp_dir(f"call-{exten}"), "desk1", exten, "uac_reject.xml"))
    statuses = statuses_to(result, "INVITE")
    assert statuses[0] == 401, explain(result)
    return statuses[-1]


def reload(pbx: Daemon, text: str) -> str:
    (pbx.confdir / "extensions.conf").write_text(text)
    return pbx.cli("dialplan reload")


def test_reload_adds_extensions_and_the_call_in_progress_keeps_its_dialplan(
    tmp_path: Path, sipp_dir: SippDir
) -> None:
    with call_daemon(tmp_path / "pbx", PEERS, FIRST) as pbx:
        assert status_of(pbx, sipp_dir, "300") == 404
        waiting = start_call(pbx, sipp_dir("waiting"), "desk1", "100", "uac_call_wait_bye.xml")
        pbx.wait_for(
            "core show channels",
            lambda out: True if "100@phones:2" in out and "Wait(3)" in out else None,
        )

        output = reload(pbx, SECOND)
        counts = r"Dialplan reloaded: 2 extensions \(6 priorities\) in 1 contexts?\.\n"
        assert re.fullmatch(counts, output), output
        assert status_of(pbx, sipp_dir, "300") == 486
        assert db_get(pbx, "test", "new") == "300"
        # The call is still in its Wait while the new dialplan serves others.
        channels = pbx.cli("core show channels")
        assert "1 active channel" in channels and "100@phones:2" in channels, channels

        first = ok(waiting.wait())
        assert len(requests(first, "BYE")) == 1, explain(first)
        assert db_get(pbx, "test", "plan") == "first-100"


def test_a_broken_extensions_conf_is_reported_and_the_running_dialplan_kept(
    tmp_path: Path, sipp_dir: SippDir
) -> None:
    with call_daemon(tmp_path / "pbx", PEERS, SECOND) as pbx:
        before = pbx.cli("dialplan show")
        output = reload(pbx, BROKEN)
        assert output.splitlines() == [
            f"extensions.conf:{BROKEN_LINE}: expected 'name = value', got 'this line is broken'",
            "extensions.conf has errors: the running dialplan is kept.",
        ], output
        assert pbx.cli("dialplan show") == before
        assert status_of(pbx, sipp_dir, "300") == 486  # still routes
        assert status_of(pbx, sipp_dir, "500") == 404  # the broken file's addition is not in

        # Fixed, it loads.
        output = reload(pbx, BROKEN.replace("this line is broken\n", ""))
        assert output.startswith("Dialplan reloaded: 3 extensions"), output
        assert status_of(pbx, sipp_dir, "500") == 486
