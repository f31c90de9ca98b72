"""The daemon as a process (issue 2): two side by side, and ``pbx -rx`` with nobody there.

``[directories]`` in pbx.conf puts the control socket, pid file, database and logs under each
configuration directory, so two daemons with their own ports never see each other's state.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from test.integration.conftest import DaemonFactory
from test.integration.console import parse_peers
from test.integration.daemon import Daemon, DaemonError
from test.integration.sipua import SipClient

PEERS = {"desk1": {"secret": "desk1-pw"}}


def test_two_daemons_run_side_by_side(fresh_daemons: DaemonFactory) -> None:
    first = fresh_daemons("first", PEERS)
    second = fresh_daemons("second", PEERS)
    assert (first.rundir / "pbx.pid").read_text().strip() == str(first.pid)
    assert (second.rundir / "pbx.pid").read_text().strip() == str(second.pid)

    with SipClient("udp", first.udp) as phone:
        assert [r.status for r in phone.register("desk1", "desk1-pw")] == [401, 200]
        port = phone.local[1]
    assert parse_peers(first.cli("sip show peers")).rows["desk1"]["port"] == str(port)
    assert parse_peers(second.cli("sip show peers")).rows["desk1"]["host"] == "(Unspecified)"

    first.stop()
    assert not (first.rundir / "pbx.ctl").exists() and not (first.rundir / "pbx.pid").exists()
    assert "desk1" in second.cli("sip show peers")


def test_pbx_rx_without_a_daemon_exits_1_with_a_message(tmp_path: Path) -> None:
    idle = Daemon(tmp_path / "idle", PEERS)
    idle.write_config()
    result = idle.rx("sip show peers")
    assert result.returncode == 1
    assert result.stdout == ""
    assert "Unable to connect to remote pbx" in result.stderr, result.stderr


def test_sip_reload_with_a_broken_sip_conf_reports_and_keeps_running(
    fresh_daemons: DaemonFactory,
) -> None:
    """The usual way to find a typo: edit sip.conf, ``pbx -rx "sip reload"``. The running daemon
    must answer with every error and keep its configuration (Asterisk's ``-rx`` reads only
    asterisk.conf to find the socket, never the files it would reload)."""
    daemon = fresh_daemons("reload", PEERS)
    sip_conf = daemon.confdir / "sip.conf"
    sip_conf.write_text(sip_conf.read_text() + "\n[desk2]\ntype=friend\nsecert=oops\n")
    result = daemon.rx("sip reload")
    assert result.returncode == 0, result.stderr
    assert "unknown option 'secert' (did you mean 'secret'?)" in result.stdout, result.stdout
    assert "no changes were applied" in result.stdout
    rows = parse_peers(daemon.cli("sip show peers")).rows
    assert set(rows) == {"desk1"}


def test_a_dtlscertfile_that_cannot_be_used_stops_start_up_naming_peer_and_file(
    tmp_path: Path,
) -> None:
    """Asterisk users point ``dtlscertfile`` at their own PEM; a wrong file (here the key alone)
    is found at start-up, not by the first browser call."""
    key = Path(__file__).resolve().parents[1] / "data" / "dtls" / "ecdsa-p256-key.pem"
    peers = {"alice": {"secret": "a", "webrtc": "yes", "dtlscertfile": str(key)}}
    daemon = Daemon(tmp_path / "badcert", peers)
    try:
        with pytest.raises(DaemonError, match="exited with 1"):
            daemon.start()
        assert f"Peer 'alice': DTLS certificate: {key}: no PEM certificate found" in (
            daemon.output()
        )
    finally:
        daemon.close()
