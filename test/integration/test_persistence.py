"""Registrations survive a restart (issue 2): kill -9, start again, the peer is still there.

pbx batches its SQLite writes (at most every second, and always on a clean stop), so the
kill -9 test first waits until the binding is in ``dbdir/pbx.sqlite3``, read from outside the
daemon; the clean-stop test stops at once, which must lose nothing.
"""

from __future__ import annotations

import sqlite3
import time

from test.integration.conftest import DaemonFactory, SippDir
from test.integration.console import parse_peer, parse_peers
from test.integration.daemon import Daemon
from test.integration.sipp import SippResult, requires_sipp, run_sipp, wait_until

pytestmark = requires_sipp

PEERS = {name: {"secret": f"{name}-pw"} for name in ("desk1", "desk2", "desk3")}
SHORT = 2  # seconds; minexpiry is lowered so one binding can expire while pbx is down


def persisted(daemon: Daemon) -> set[str]:
    """Peers with a row in pbx's registrations table, as another process reads it."""
    path = daemon.dbdir / "pbx.sqlite3"
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=2.0) as db:
        return {str(row[0]) for row in db.execute("SELECT aor FROM registrations")}


def sipp(
    daemon: Daemon,
    sipp_dir: SippDir,
    scenario: str,
    user: str,
    local_port: int | None = None,
    **keys: str,
) -> SippResult:
    """Run a scenario for ``user`` that must end in 401, 200; ``keys`` are sipp ``-key``s."""
    result = run_sipp(
        scenario,
        daemon.udp,
        workdir=sipp_dir(f"{scenario.removesuffix('.xml')}-{user}"),
        local_port=local_port,
        service=user,
        auth_user=user,
        password=f"{user}-pw",
        keys=keys,
    )
    assert result.returncode == 0 and result.statuses == [401, 200], result.explain()
    return result


def test_registration_survives_kill_9_until_it_expires(
    fresh_daemons: DaemonFactory, sipp_dir: SippDir
) -> None:
    daemon = fresh_daemons("persist-kill", PEERS, {"minexpiry": SHORT})
    kept = sipp(daemon, sipp_dir, "register.xml", "desk1", expires="300")
    sipp(daemon, sipp_dir, "register.xml", "desk2", expires=str(SHORT))
    expires_at = time.monotonic() + SHORT
    gone = sipp(daemon, sipp_dir, "register.xml", "desk3", expires="300")
    contact = f"<sip:desk3@127.0.0.1:{gone.local_port};transport=UDP>"
    sipp(daemon, sipp_dir, "unregister.xml", "desk3", gone.local_port, contact=contact)
    assert wait_until(lambda: persisted(daemon) == {"desk1", "desk2"}, 5.0), persisted(daemon)

    daemon.kill9()
    time.sleep(max(0.0, expires_at - time.monotonic()) + 0.2)  # desk2 expires while pbx is down
    daemon.start()

    peers = parse_peers(daemon.cli("sip show peers")).rows
    port = kept.local_port
    assert (peers["desk1"]["host"], peers["desk1"]["port"]) == ("127.0.0.1", str(port)), peers
    assert peers["desk2"]["host"] == "(Unspecified)"  # expired: not restored
    assert peers["desk3"]["host"] == "(Unspecified)"  # un-registered before the kill
    desk1 = parse_peer(daemon.cli("sip show peer desk1"))
    assert desk1["Reg. Contact"] == f"sip:desk1@127.0.0.1:{port};transport=UDP"
    assert desk1["Useragent"] == "sipp"
    assert 280 <= int(desk1["Expire"]) < 300  # the remaining time, not a fresh 300
    assert persisted(daemon) == {"desk1"}


def test_clean_stop_right_after_register_loses_nothing(
    fresh_daemons: DaemonFactory, sipp_dir: SippDir
) -> None:
    daemon = fresh_daemons("persist-stop", PEERS)
    result = sipp(daemon, sipp_dir, "register.xml", "desk1", expires="300")
    assert daemon.stop() == 0  # no wait for the periodic flush
    assert persisted(daemon) == {"desk1"}
    daemon.start()
    row = parse_peers(daemon.cli("sip show peers")).rows["desk1"]
    assert (row["host"], row["port"]) == ("127.0.0.1", str(result.local_port))
