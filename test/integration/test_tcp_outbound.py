"""pbx opens TCP connections itself (RFC 3261 §18.1.1), as chan_sip does for TCP peers.

A static peer ``host=127.0.0.1 port=N transport=tcp`` (a trunk, or a desk phone that listens on
TCP) is a sipp UAS listening on TCP: ``Dial`` reaches it over a connection pbx opens from its
TCP listener (Via names the listener's port). With nothing listening, the Dial ends at once
with ``CHANUNAVAIL`` and one warning naming the target. A desk phone that registered over TCP
and closed its connection stays registered, and a call to it opens a new connection to its
Contact's port.
"""

from __future__ import annotations

import re
import secrets
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from test.integration.daemon import Daemon, free_port
from test.integration.sipp import SippRun, requires_sipp, run_sipp, start_sipp, wait_until
from test.integration.sipp_calls import (
    call,
    call_daemon,
    db_get,
    desks,
    explain,
    password,
    requests,
    statuses_to,
)
from test.integration.sipua import SipClient

pytestmark = requires_sipp

SippDir = Callable[[str], Path]
TRUNK_PORT = free_port(tcp=True)
DEAD_PORT = free_port(tcp=True)


@pytest.fixture(scope="module")
def pbx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    peers = desks(
        "desk1",
        "desk2",
        "trunk",
        "dead",
        # A name, as providers are written: pbx resolves it (/etc/hosts here).
        trunk={"host": "localhost", "port": str(TRUNK_PORT), "transport": "tcp"},
        dead={"host": "127.0.0.1", "port": str(DEAD_PORT), "transport": "tcp"},
        desk2={"transport": "tcp"},
    )
    dialplan = (
        "[phones]\n"
        "exten => 300,1,Dial(SIP/trunk,5)\n"
        " same => n,Hangup()\n"
        "exten => 301,1,Dial(SIP/dead,5)\n"
        " same => n,Set(DB(test/dead)=${DIALSTATUS})\n"
        " same => n,Hangup()\n"
        "exten => 302,1,Dial(SIP/desk2,5)\n"
        " same => n,Hangup()\n"
    )
    with call_daemon(tmp_path_factory.mktemp("tcp-outbound"), peers, dialplan) as daemon:
        yield daemon


@pytest.fixture
def sipp_dir(tmp_path: Path) -> SippDir:
    return lambda name: tmp_path / name


def tcp_listening(port: int) -> bool:
    wanted = f"0100007F:{port:04X}"
    with open("/proc/net/tcp") as table:
        # state 0A: LISTEN
        return any(
            fields[1] == wanted and fields[3] == "0A"
            for fields in (line.split() for line in list(table)[1:])
        )


def start_tcp_uas(pbx: Daemon, workdir: Path, port: int, service: str) -> SippRun:
    run = start_sipp(
        "uas_answer.xml",
        pbx.tcp_address,
        workdir=workdir,
        transport="t1",
        local_port=port,
        service=service,
        timeout=15.0,
    )
    assert wait_until(lambda: tcp_listening(port) or run.proc.poll() is not None, 5.0)
    return run


def test_dial_reaches_a_static_tcp_peer(pbx: Daemon, sipp_dir: SippDir) -> None:
    trunk = start_tcp_uas(pbx, sipp_dir("trunk"), TRUNK_PORT, "trunk")
    caller = call(pbx, sipp_dir("caller"), "desk1", "300")
    assert caller.returncode == 0, explain(caller)
    callee = trunk.wait()
    assert callee.returncode == 0, explain(callee)
    [invite] = requests(callee, "INVITE")
    # The connection pbx opened advertises its TCP listener, not an ephemeral port.
    assert (invite.header("Via") or "").startswith(f"SIP/2.0/TCP 127.0.0.1:{pbx.tcp_port};"), invite
    assert f"127.0.0.1:{pbx.tcp_port};transport=tcp" in (invite.header("Contact") or ""), invite
    assert [m.method for m in requests(callee)] == ["INVITE", "ACK", "BYE"], explain(callee)


def test_an_unreachable_tcp_peer_is_chanunavail_at_once(pbx: Daemon, sipp_dir: SippDir) -> None:
    caller = call(pbx, sipp_dir("caller"), "desk1", "301", "uac_reject.xml")
    assert db_get(pbx, "test", "dead") == "CHANUNAVAIL"
    assert statuses_to(caller, "INVITE")[-1] >= 400, explain(caller)
    assert f"Unable to connect SIP TCP socket to 127.0.0.1:{DEAD_PORT}" in pbx.output()


def test_a_tcp_registration_outlives_its_connection(pbx: Daemon, sipp_dir: SippDir) -> None:
    port = free_port(tcp=True)
    registered = run_sipp(
        "register.xml",
        pbx.tcp_address,
        workdir=sipp_dir("register"),
        transport="t1",
        local_port=port,
        service="desk2",
        auth_user="desk2",
        password=password("desk2"),
        keys={"expires": "300"},
    )
    assert registered.returncode == 0, explain(registered)
    # sipp has exited: its connection is closed, yet the phone stays registered (chan_sip).
    peers = pbx.cli("sip show peers")
    [desk2_line] = [line for line in peers.splitlines() if line.startswith("desk2/desk2")]
    assert desk2_line.split()[1:2] == ["127.0.0.1"] and f" {port} " in desk2_line, peers
    desk2 = start_tcp_uas(pbx, sipp_dir("desk2"), port, "desk2")
    caller = call(pbx, sipp_dir("caller"), "desk1", "302")
    assert caller.returncode == 0, explain(caller)
    callee = desk2.wait()
    assert callee.returncode == 0, explain(callee)
    assert [m.method for m in requests(callee)] == ["INVITE", "ACK", "BYE"], explain(callee)


# -- TLS: pbx to pbx ---------------------------------------------------------------------------
# Debian's sipp has no TLS; the TLS server here is a second pbx (its local CA made the server
# certificate), called through a static peer of the first one, as two offices trunked together;
# the far end authenticates the calls it gets (401), as a provider would.
@pytest.fixture(scope="module")
def far_end(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    peers = {
        "office": {"type": "friend", "host": "127.0.0.1", "insecure": "port",
                   "secret": "office-pw", "transport": "tls", "context": "trunk"},
    }  # fmt: skip
    dialplan = "[phones]\n[trunk]\nexten => 400,1,Busy()\n"
    root = tmp_path_factory.mktemp("tls-far-end")
    daemon = Daemon(root, peers, dialplan=dialplan, tls=True)
    daemon.start()
    try:
        yield daemon
    finally:
        daemon.close()


def test_tls_trunk_verifies_the_far_end(far_end: Daemon, tmp_path: Path) -> None:
    peers = desks(
        "desk1",
        "far",
        far={"type": "peer", "host": "127.0.0.1", "port": str(far_end.tls_port),
             "transport": "tls", "defaultuser": "office", "remotesecret": "office-pw"},
    )  # fmt: skip
    dialplan = (
        "[phones]\n"
        "exten => 400,1,Dial(SIP/far/400,5)\n"
        " same => n,Set(DB(test/far)=${DIALSTATUS})\n"
        " same => n,Hangup()\n"
    )
    with Daemon(tmp_path / "pbx", peers, dialplan=dialplan, tls=True) as pbx:
        # First without the far end's CA: the system's trust store does not know it.
        call(pbx, tmp_path / "untrusted", "desk1", "400", "uac_reject.xml")
        assert db_get(pbx, "test", "far") == "CHANUNAVAIL"
        warning = f"Unable to connect SIP TLS socket to 127.0.0.1:{far_end.tls_port}: TLS "
        assert warning + "certificate verify failed" in pbx.output(), pbx.describe()
        # With tlscafile naming it (sip reload), the call reaches the far end, which challenges
        # it (pbx answers as defaultuser with remotesecret) and is busy.
        pbx.general["tlscafile"] = str(far_end.dbdir / "tls" / "ca.crt")
        pbx.write_config()
        assert pbx.rx("sip reload").returncode == 0
        busy = call(pbx, tmp_path / "trusted", "desk1", "400", "uac_reject.xml")
        assert statuses_to(busy, "INVITE")[-1] == 486, explain(busy)
        assert db_get(pbx, "test", "far") == "BUSY"
        # The same credentials from [authentication] for the far end's realm instead of the
        # peer's own (chan_sip's realm authentication): still answered, still busy.
        far = {
            k: v for k, v in pbx.peers["far"].items() if k not in ("defaultuser", "remotesecret")
        }
        pbx.peers["far"] = far
        pbx.extra_sip = "\n[authentication]\nauth=office:office-pw@pbx-test\n"
        pbx.write_config()
        assert pbx.rx("sip reload").returncode == 0
        deleted = pbx.cli("database del test far")
        assert "removed" in deleted.lower(), deleted
        busy = call(pbx, tmp_path / "realm", "desk1", "400", "uac_reject.xml")
        assert statuses_to(busy, "INVITE")[-1] == 486, explain(busy)
        assert db_get(pbx, "test", "far") == "BUSY"


# -- a phone that closed its connection mid-call -----------------------------------------------
def test_bye_reaches_a_phone_whose_connection_closed(tmp_path: Path) -> None:
    """The phone INVITEs over TCP, gets the 200, ACKs and closes its connection; when the
    dialplan hangs up, pbx connects to the port of the phone's Via and sends the BYE there."""
    peers = {"desk": {"type": "friend", "host": "dynamic", "context": "phones",
                      "transport": "tcp"}}  # fmt: skip
    dialplan = "[phones]\nexten => 500,1,Answer()\n same => n,Wait(1)\n same => n,Hangup()\n"
    with Daemon(tmp_path / "pbx", peers, dialplan=dialplan) as pbx:
        listening = socket.create_server(("127.0.0.1", 0))
        listening.settimeout(5.0)
        port = listening.getsockname()[1]
        with listening, SipClient("tcp", pbx.tcp_address) as phone:
            call_id = secrets.token_hex(8)
            phone.send(phone.invite("500", "desk", call_id, listening_port=port))
            ok = phone.final(5.0)
            assert ok is not None and ok.status == 200, ok
            ack = phone.request("ACK", "desk", call_id=call_id).replace(
                b"To: <sip:desk@", b"To: <sip:500@"
            )
            to = ok.header("To") or ""
            ack = re.sub(rb"To: [^\r]*", f"To: {to}".encode(), ack, count=1)
            phone.send(ack)
            phone.close()  # the phone drops its connection mid-call
            connection, _ = listening.accept()
            with connection:
                connection.settimeout(5.0)
                data = b""
                while b"\r\n\r\n" not in data:
                    data += connection.recv(65536)
        assert data.startswith(b"BYE "), data
        assert f"Call-ID: {call_id}".encode() in data, data
