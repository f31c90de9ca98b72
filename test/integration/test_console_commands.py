"""Console commands of the running daemon that no other test drives (ASTERISK-REFERENCE §4).

``core show version`` and ``core show uptime`` in Asterisk's shapes (``main/cli.c``
``handle_showuptime``: ``System uptime: ...`` then ``Last reload: ...``, plain seconds with
``seconds``); ``logger reload`` and SIGHUP (sip.conf and logger.conf re-read, the effect seen
in the peer table and in which log files get records); ``sip set debug on|off|ip ADDR|peer
NAME`` (chan_sip's ``<--- SIP read from UDP:addr:port --->`` traces, for the chosen address
only: phones on 127.0.0.1 and 127.0.0.2 tell them apart); the interactive ``pbx -r`` driven
through a pipe as a script would drive it.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from pbx import __version__
from test.integration.conftest import DaemonFactory
from test.integration.console import parse_peers
from test.integration.daemon import Daemon, pbx_command, render_conf
from test.integration.sipp import wait_until
from test.integration.sipua import SipClient

PEERS = {
    "desk1": {"secret": "desk1-pw", "qualify": "no"},
    "desk2": {"secret": "desk2-pw", "qualify": "no"},
    "desk3": {"secret": "desk3-pw", "qualify": "no"},
}

#: ``sip set debug`` trace headers: what was read (chan_sip's exact frame) and what was sent
#: (read loosely here: its exact frame is checked by the xfail test below).
READ_RE = re.compile(r"^<--- SIP read from (\w+):(\S+) --->$", re.M)
SENT_RE = re.compile(
    r"^<--- (?:Reliably )?Transmitting (?:\((?:NAT|no NAT)\) )?to (?:\w+:)?(\S+) --->$", re.M
)
# Asterisk's print_uptimestr: "1 hour, 2 minutes, 3 seconds" (each part "N unit[s]").
UPTIME_RE = re.compile(r"\d+ (?:year|week|day|hour|minute|second)s?(?:, \d+ \w+)*")


@pytest.fixture(scope="module")
def pbx(daemons: DaemonFactory) -> Daemon:
    return daemons("console", PEERS)


@pytest.fixture
def debug_off(pbx: Daemon) -> Iterator[Daemon]:
    pbx.cli("sip set debug off")
    yield pbx
    pbx.cli("sip set debug off")


def options_from(pbx: Daemon, host: str) -> tuple[str, int]:
    """An OPTIONS from ``host`` (a fresh port), answered 200; where it came from."""
    with SipClient("udp", pbx.udp, local_host=host) as phone:
        phone.send(phone.request("OPTIONS", "probe"))
        answer = phone.final()
        assert answer is not None and answer.status == 200, answer
        return phone.local


def traced(pbx: Daemon, since: int) -> tuple[list[str], list[str]]:
    """Addresses in the read and in the sent traces written after output offset ``since``
    (a trace is logged before its message is handled or sent, so it is there once the
    answer came back)."""
    text = pbx.output()[since:]
    return [m.group(2) for m in READ_RE.finditer(text)], SENT_RE.findall(text)


def address(local: tuple[str, int]) -> str:
    return f"{local[0]}:{local[1]}"


# -- core show version / uptime -----------------------------------------------------------------
def test_core_show_version(pbx: Daemon) -> None:
    """Asterisk: ``Asterisk <ver> built by <user> @ <host> on a <arch> running <os> on <date>``."""
    output = pbx.cli("core show version")
    m = re.fullmatch(r"pbx (\S+) built by (\S+) @ (\S+) on a (\S+) running (\S+) on (.+)\n", output)
    assert m is not None, output
    assert (m.group(1), m.group(3)) == (__version__, socket.gethostname()), output
    assert (m.group(4), m.group(5)) == (os.uname().machine, os.uname().sysname), output


def uptime_seconds(pbx: Daemon) -> tuple[int, int]:
    output = pbx.cli("core show uptime seconds")
    m = re.fullmatch(r"System uptime: (\d+)\nLast reload: (\d+)\n", output)
    assert m is not None, output
    return int(m.group(1)), int(m.group(2))


def test_core_show_uptime_and_last_reload(fresh_daemons: DaemonFactory) -> None:
    pbx = fresh_daemons("uptime", PEERS)  # never reloaded before this test
    output = pbx.cli("core show uptime")
    lines = output.splitlines()
    assert [line.split(": ")[0] for line in lines] == ["System uptime", "Last reload"], output
    assert all(UPTIME_RE.fullmatch(line.split(": ", 1)[1].rstrip()) for line in lines), output

    # Until a reload, "Last reload" counts from the start (Asterisk sets both at boot).
    pbx.wait_for("core show uptime seconds", lambda out: int(out.split()[2]) >= 1 or None)
    up, since = uptime_seconds(pbx)
    assert up >= 1 and up - 1 <= since <= up, (up, since)
    assert pbx.cli("sip reload").startswith("Reloaded sip.conf")
    up, since = uptime_seconds(pbx)
    assert up >= 1 and since == 0, (up, since)


# -- the interactive console --------------------------------------------------------------------
def interactive(pbx: Daemon, script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*pbx_command(), "-C", str(pbx.confdir), "-r"],
        input=script,
        capture_output=True,
        text=True,
        timeout=15,
        cwd=pbx.confdir,
    )


def test_interactive_console_runs_commands_streams_logs_and_exits(pbx: Daemon) -> None:
    result = interactive(pbx, "core show version\nsip reload\nexit\n")
    assert result.returncode == 0 and result.stderr == "", result
    host = socket.gethostname()
    banner, *rest = result.stdout.split("\n")
    assert banner == f"Connected to pbx pbx/{host}/{pbx.pid}/{__version__}", result.stdout
    prompt = f"{host}*CLI> "
    session = "\n".join(rest)
    # One prompt per line read; the replies between them.
    replies = session.split(prompt)
    assert len(replies) == 4 and replies[0] == "" and replies[3] == "", result.stdout
    assert replies[1].startswith(f"pbx {__version__} built by "), result.stdout
    # The reload's NOTICE is streamed to this console, then the command's own answer.
    assert re.fullmatch(
        r"\[[^]]+\] NOTICE\[\d+\] [\w.]+: Reloaded sip\.conf: 3 peers\n"
        r"Reloaded sip\.conf: 3 peers\.\n",
        replies[2],
    ), replies[2]


def test_interactive_console_ends_at_end_of_input(pbx: Daemon) -> None:
    result = interactive(pbx, "core show uptime\n")
    assert result.returncode == 0 and result.stderr == "", result
    assert "System uptime: " in result.stdout and result.stdout.endswith("*CLI> \n"), result


def test_interactive_console_without_a_daemon(tmp_path: Path) -> None:
    idle = Daemon(tmp_path / "idle", PEERS)
    idle.write_config()
    result = interactive(idle, "core show version\n")
    assert result.returncode == 1 and result.stdout == "", result
    assert "Unable to connect to remote pbx" in result.stderr, result


# -- sip set debug -----------------------------------------------------------------------------
def test_sip_set_debug_on_then_off(debug_off: Daemon) -> None:
    pbx = debug_off
    assert pbx.cli("sip set debug on") == "SIP Debugging enabled\n"
    mark = len(pbx.output())
    local = address(options_from(pbx, "127.0.0.1"))
    reads, sent = traced(pbx, mark)
    assert (reads, sent) == ([local], [local]), pbx.describe()
    assert re.search(r"^<--- SIP read from UDP:" + re.escape(local) + r" --->\nOPTIONS sip:",
                     pbx.output()[mark:], re.M), pbx.describe()  # fmt: skip

    assert pbx.cli("sip set debug off") == "SIP Debugging Disabled\n"
    mark = len(pbx.output())
    options_from(pbx, "127.0.0.1")
    assert traced(pbx, mark) == ([], []), pbx.describe()


def test_sip_set_debug_ip_traces_only_that_address(debug_off: Daemon) -> None:
    pbx = debug_off
    assert pbx.cli("sip set debug ip 127.0.0.2") == "SIP Debugging Enabled for IP: 127.0.0.2\n"
    mark = len(pbx.output())
    other = address(options_from(pbx, "127.0.0.1"))
    chosen = address(options_from(pbx, "127.0.0.2"))
    assert traced(pbx, mark) == ([chosen], [chosen]), (other, pbx.describe())

    assert pbx.cli("sip set debug off") == "SIP Debugging Disabled\n"
    mark = len(pbx.output())
    options_from(pbx, "127.0.0.2")
    assert traced(pbx, mark) == ([], []), pbx.describe()


def test_sip_set_debug_ip_with_a_port_traces_only_that_port(debug_off: Daemon) -> None:
    pbx = debug_off
    with SipClient("udp", pbx.udp, local_host="127.0.0.2") as chosen:
        pbx.cli(f"sip set debug ip 127.0.0.2:{chosen.local[1]}")
        mark = len(pbx.output())
        other = address(options_from(pbx, "127.0.0.2"))
        chosen.send(chosen.request("OPTIONS", "probe"))
        assert chosen.final() is not None
        here = address(chosen.local)
    assert traced(pbx, mark) == ([here], [here]), (other, pbx.describe())


def test_sip_set_debug_transmit_frame_is_chan_sips(debug_off: Daemon) -> None:
    pbx = debug_off
    pbx.cli("sip set debug on")
    mark = len(pbx.output())
    local = address(options_from(pbx, "127.0.0.1"))
    text = pbx.output()[mark:]
    frame = re.compile(
        r"^<--- Transmitting \((?:NAT|no NAT)\) to " + re.escape(local) + r" --->\n"
        r"SIP/2\.0 200 OK\r?\n(?:.*\n)*?<------------>$",
        re.M,
    )
    assert frame.search(text), text


def test_sip_set_debug_peer_traces_the_address_it_registered_from(debug_off: Daemon) -> None:
    pbx = debug_off
    with SipClient("udp", pbx.udp, local_host="127.0.0.2") as desk1:
        assert [r.status for r in desk1.register("desk1", "desk1-pw")] == [401, 200]
    with SipClient("udp", pbx.udp, local_host="127.0.0.1") as desk2:
        assert [r.status for r in desk2.register("desk2", "desk2-pw")] == [401, 200]
    assert parse_peers(pbx.cli("sip show peers")).rows["desk1"]["host"] == "127.0.0.2"

    output = pbx.cli("sip set debug peer desk1")
    assert output == "SIP Debugging Enabled for IP: 127.0.0.2\n", output
    mark = len(pbx.output())
    options_from(pbx, "127.0.0.1")
    chosen = address(options_from(pbx, "127.0.0.2"))
    assert traced(pbx, mark) == ([chosen], [chosen]), pbx.describe()


def test_sip_set_debug_peer_that_cannot_be_traced(debug_off: Daemon) -> None:
    """chan_sip's answers for an unknown peer and for one without an address."""
    pbx = debug_off
    assert pbx.cli("sip set debug peer nosuch") == "No such peer 'nosuch'\n"
    output = pbx.cli("sip set debug peer desk3")
    assert output == "Unable to get IP address of peer 'desk3'\n", output
    mark = len(pbx.output())
    options_from(pbx, "127.0.0.1")
    assert traced(pbx, mark) == ([], []), pbx.describe()


# -- logger reload and SIGHUP ------------------------------------------------------------------
def write_logger_conf(pbx: Daemon, **logfiles: str) -> None:
    (pbx.confdir / "logger.conf").write_text(render_conf([("logfiles", logfiles)]))


def failed_registration(pbx: Daemon, peer: str) -> str:
    """A REGISTER with a wrong password: chan_sip's NOTICE, unique to this peer."""
    with SipClient("udp", pbx.udp) as phone:
        assert [r.status for r in phone.register(peer, "wrong")][-1:] == [403]
    return f"Registration from '<sip:{peer}@"


def log_text(pbx: Daemon, name: str) -> str:
    path = pbx.logdir / name
    return path.read_text(errors="replace") if path.exists() else ""


def test_logger_reload_opens_and_closes_log_files(fresh_daemons: DaemonFactory) -> None:
    pbx = fresh_daemons("logger", PEERS)
    assert (pbx.logdir / "full").exists() and not (pbx.logdir / "messages").exists()
    write_logger_conf(pbx, console="notice,warning,error,verbose", messages="notice,warning,error")
    assert pbx.cli("logger reload") == "Logger reloaded: console, messages\n"

    wanted = failed_registration(pbx, "desk1")
    assert wait_until(lambda: wanted in log_text(pbx, "messages"), 2.0), pbx.describe()
    assert wanted in pbx.output()
    assert wanted not in log_text(pbx, "full")  # no longer in logger.conf: closed


def test_sighup_rereads_sip_conf_and_logger_conf(fresh_daemons: DaemonFactory) -> None:
    pbx = fresh_daemons("sighup", PEERS)
    sip_conf = pbx.confdir / "sip.conf"
    sip_conf.write_text(sip_conf.read_text() + "\n[desk4]\ntype=friend\nhost=dynamic\n"
                        "secret=desk4-pw\ncontext=phones\n")  # fmt: skip
    write_logger_conf(pbx, console="notice,warning,error,verbose", messages="notice,warning,error")
    mark = len(pbx.output())

    os.kill(pbx.pid, signal.SIGHUP)  # the daemon this test started, by its own PID
    reloaded = wait_until(lambda: "desk4" in parse_peers(pbx.cli("sip show peers")).rows, 5.0)
    assert reloaded, pbx.describe()
    assert "Reloaded sip.conf: 4 peers" in pbx.output()[mark:], pbx.describe()
    assert pbx.running

    wanted = failed_registration(pbx, "desk4")
    assert wait_until(lambda: wanted in log_text(pbx, "messages"), 2.0), pbx.describe()
    assert wanted not in log_text(pbx, "full")
