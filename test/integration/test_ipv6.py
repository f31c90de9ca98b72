"""REGISTER over IPv6 loopback, and IPv4 phones on a dual-stack ``[::]`` listener.

sip.conf: ``udpbindaddr=[::1]:port`` binds IPv6 only; ``[::]`` listens on IPv6 and IPv4. An
IPv4 phone reaching a dual-stack socket arrives as ``::ffff:127.0.0.1``; like chan_sip, pbx
must show and answer it as the IPv4 address it is (RFC 4291 §2.5.5.2).
"""

from __future__ import annotations

import socket

import pytest

from test.integration.conftest import DaemonFactory, SippDir
from test.integration.console import parse_peer, parse_peers
from test.integration.daemon import Daemon
from test.integration.sipp import SippResult, requires_sipp, run_sipp

PEERS = {"desk6": {"secret": "desk6-pw"}, "desk4": {"secret": "desk4-pw"}}


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


pytestmark = [
    requires_sipp,
    pytest.mark.skipif(not _has_ipv6_loopback(), reason="no IPv6 loopback (::1) here"),
]


def register(daemon: Daemon, sipp_dir: SippDir, user: str, local_ip: str) -> SippResult:
    target = (local_ip if ":" not in local_ip else "::1", daemon.udp_port)
    result = run_sipp(
        "register.xml",
        target,
        workdir=sipp_dir(f"register-{user}"),
        local_ip=local_ip,
        service=user,
        auth_user=user,
        password=f"{user}-pw",
        keys={"expires": "300"},
    )
    assert result.returncode == 0 and result.statuses == [401, 200], result.explain()
    return result


def test_register_over_ipv6_loopback(fresh_daemons: DaemonFactory, sipp_dir: SippDir) -> None:
    daemon = fresh_daemons("ipv6", PEERS, host="::1")
    result = register(daemon, sipp_dir, "desk6", "::1")
    port = result.local_port
    ok = result.responses[1]
    assert ok.all("Contact") == [f"<sip:desk6@[::1]:{port};transport=UDP>;expires=300"]
    via = ok.header("Via") or ""
    assert f";rport={port};received=::1" in via, ok  # RFC 3261 §25.1: an IPv6address, unbracketed
    row = parse_peers(daemon.cli("sip show peers")).rows["desk6"]
    assert (row["host"], row["port"]) == ("::1", str(port))
    assert parse_peer(daemon.cli("sip show peer desk6"))["Addr->IP"] == f"[::1]:{port}"


def test_dual_stack_listener_shows_ipv4_phones_as_ipv4(
    fresh_daemons: DaemonFactory, sipp_dir: SippDir
) -> None:
    daemon = fresh_daemons("dual-stack", PEERS, host="::")
    register(daemon, sipp_dir, "desk6", "::1")
    result = register(daemon, sipp_dir, "desk4", "127.0.0.1")
    port = result.local_port
    via = result.responses[1].header("Via") or ""
    assert f";rport={port};received=127.0.0.1" in via, result.responses[1]
    rows = parse_peers(daemon.cli("sip show peers")).rows
    assert rows["desk6"]["host"] == "::1"
    assert (rows["desk4"]["host"], rows["desk4"]["port"]) == ("127.0.0.1", str(port))
    assert parse_peer(daemon.cli("sip show peer desk4"))["Addr->IP"] == f"127.0.0.1:{port}"
