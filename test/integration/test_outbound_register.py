"""Outbound registration (``register =>``) between two daemons on loopback, as an office pbx
registers to its provider.

Daemon B (the provider) has a dynamic peer ``office`` with a password. Daemon A (the office)
has ``register => office:office-pw@127.0.0.1:<B>/100`` and a ``type=peer`` for B
(``insecure=port,invite``). A registers (401, digest, 200); B sees ``office`` at A's address;
a call B makes to ``SIP/office`` reaches A's extension ``100`` (the Contact user), which is busy.
Over UDP and over a TCP connection A opens itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from test.integration.daemon import Daemon
from test.integration.sipp import requires_sipp, wait_until
from test.integration.sipp_calls import call, db_get, desks

pytestmark = requires_sipp

PROVIDER_DIALPLAN = (
    "[phones]\n"
    "exten => 7,1,Dial(SIP/office,5)\n"
    " same => n,Set(DB(test/office)=${DIALSTATUS})\n"
    " same => n,Hangup()\n"
)
OFFICE_DIALPLAN = "[phones]\n[provider]\nexten => 100,1,Busy()\n"


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    peers = desks("desk1", "office", office={"secret": "office-pw"})
    daemon = Daemon(tmp_path_factory.mktemp("provider"), peers, dialplan=PROVIDER_DIALPLAN)
    daemon.start()
    try:
        yield daemon
    finally:
        daemon.close()


def office(root: Path, provider: Daemon, register: str) -> Daemon:
    peers = {
        "provider": {"type": "peer", "host": "127.0.0.1", "port": str(provider.udp_port),
                     "insecure": "port,invite", "context": "provider", "qualify": "no"},
    }  # fmt: skip
    return Daemon(root, peers, {"register": register}, dialplan=OFFICE_DIALPLAN)


def registry_row(daemon: Daemon) -> list[str]:
    """The cells of the first row of the outbound table of ``sip show registry``."""
    lines = daemon.cli("sip show registry").splitlines()
    assert lines[0].split() == ["Host", "dnsmgr", "Username", "Refresh", "State", "Reg.Time"]
    return [lines[1][:39].strip(), lines[1][40:46].strip(), lines[1][47:59].strip(),
            lines[1][61:69].strip(), lines[1][70:90].strip()]  # fmt: skip


def office_line(provider: Daemon) -> str:
    peers = provider.cli("sip show peers").splitlines()
    return next((line for line in peers if line.startswith("office")), "")


def check_registration_and_call(
    provider: Daemon, pbx: Daemon, workdir: Path, port: int | None, registrar: str = "127.0.0.1"
) -> None:
    """``port``: where B must see ``office`` (A's UDP port; a TCP connection's is ephemeral);
    ``registrar``: the host as the ``register =>`` line names it (chan_sip shows it so)."""
    host = f"{registrar}:{provider.udp_port}"
    assert wait_until(lambda: registry_row(pbx)[4] == "Registered", 5.0), pbx.cli(
        "sip show registry"
    )
    assert registry_row(pbx) == [host, "N", "office", "120", "Registered"]
    line = office_line(provider)
    assert line.split()[1] == "127.0.0.1", line
    if port is not None:
        assert f" {port} " in line, line
    # The provider calls the office: the INVITE's Request-URI user is 100, which is busy.
    call(provider, workdir, "desk1", "7", "uac_reject.xml")
    assert db_get(provider, "test", "office") == "BUSY", pbx.describe()


def test_udp_registration_then_a_call_from_the_provider(provider: Daemon, tmp_path: Path) -> None:
    # The registrar as a name, as providers are written: pbx resolves it (/etc/hosts).
    register = f"office:office-pw@localhost:{provider.udp_port}/100"
    with office(tmp_path / "office", provider, register) as pbx:
        check_registration_and_call(
            provider, pbx, tmp_path / "caller", pbx.udp_port, registrar="localhost"
        )
        footer = pbx.cli("sip show registry").splitlines()
        assert "1 SIP registrations." in footer, footer
    # Stopping A unregisters it (Expires: 0) from B.
    assert wait_until(lambda: "(Unspecified)" in office_line(provider), 3.0), office_line(provider)


def test_tcp_registration_then_a_call_over_that_connection(
    provider: Daemon, tmp_path: Path
) -> None:
    register = f"tcp://office:office-pw@127.0.0.1:{provider.tcp_port}/100"
    with office(tmp_path / "office", provider, register) as pbx:
        check_registration_and_call(provider, pbx, tmp_path / "caller", None)
        assert "TCP" in provider.cli("sip show peer office"), provider.cli("sip show peer office")
