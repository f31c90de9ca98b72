"""qualify: OPTIONS pings and the peer status ``sip show peers`` prints (issue 2, chan_sip).

A registered sipp that answers pings (``-aa``) shows ``OK (N ms)``; one that answers after
300 ms shows ``LAGGED`` (qualify=250); a phone that never answers turns ``UNREACHABLE`` twice the
qualify time after the ping. pbx pings a peer within about a second of its (re-)registration.
The phones that must not answer, or answer on the test's schedule, are
:class:`~test.integration.sipua.SipClient` sockets. The margins leave room for a loaded
machine, where only lateness can grow.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from test.integration.conftest import DaemonFactory, SippDir
from test.integration.console import parse_peers, status_ms
from test.integration.daemon import Daemon
from test.integration.sipp import SCENARIOS, requires_sipp, start_sipp
from test.integration.sipua import SipClient, SipMessage

PEERS = {
    "answers": {"secret": "answers-pw", "qualify": "500", "qualifyfreq": "1"},
    "slow": {"secret": "slow-pw", "qualify": "250", "qualifyfreq": "1"},
    "silent": {"secret": "silent-pw", "qualify": "500", "qualifyfreq": "60"},
    "late": {"secret": "late-pw", "qualify": "1000", "qualifyfreq": "60"},
    "never": {"secret": "never-pw", "qualify": "yes"},
    "plain": {"secret": "plain-pw"},
}


@pytest.fixture(scope="module")
def daemon(daemons: DaemonFactory) -> Daemon:
    return daemons("qualify", PEERS)


def status(daemon: Daemon, peer: str) -> str:
    return parse_peers(daemon.cli("sip show peers")).rows[peer]["status"]


def latency(peer: str, state: str = "OK") -> Callable[[str], int | None]:
    """For :meth:`Daemon.wait_for`: the N of ``state (N ms)`` in ``sip show peers``."""
    return lambda output: status_ms(parse_peers(output).rows[peer]["status"], state)


def becomes(peer: str, wanted: str) -> Callable[[str], bool | None]:
    return lambda output: parse_peers(output).rows[peer]["status"] == wanted or None


def test_status_of_unregistered_and_unmonitored_peers(daemon: Daemon) -> None:
    table = parse_peers(daemon.cli("sip show peers"))
    assert table.rows["never"]["status"] == "UNKNOWN"  # qualify=yes, nothing to ping yet
    assert table.rows["plain"]["status"] == "Unmonitored"
    assert table.unmonitored_offline >= 1 and table.monitored_offline >= 1


@requires_sipp
def test_answering_phone_is_ok_with_its_latency_then_unreachable_when_gone(
    daemon: Daemon, sipp_dir: SippDir
) -> None:
    run = start_sipp(
        "register_stay.xml",
        daemon.udp,
        workdir=sipp_dir("qualify-ok"),
        service="answers",
        auth_user="answers",
        password="answers-pw",
        keys={"expires": "300"},
        extra=["-aa", "-d", "2500"],
    )
    try:
        assert daemon.wait_for("sip show peers", latency("answers"), timeout=2.5) <= 500
        assert parse_peers(daemon.cli("sip show peers")).monitored_online >= 1
    finally:
        result = run.wait()
    assert result.returncode == 0 and result.statuses[:2] == [401, 200], result.explain()
    pings = [m for m in result.received if m.method == "OPTIONS"]
    assert len(pings) >= 2, result.explain()  # qualifyfreq=1 within the 2.5 s stay
    port = result.local_port
    assert pings[0].start_line == f"OPTIONS sip:answers@127.0.0.1:{port};transport=UDP SIP/2.0"
    assert (pings[0].header("Via") or "").startswith("SIP/2.0/UDP 127.0.0.1:")
    assert (pings[0].header("CSeq") or "").endswith(" OPTIONS")

    # sipp is gone: the next ping (1 s on) is not answered -> UNREACHABLE 1 s later.
    daemon.wait_for("sip show peers", becomes("answers", "UNREACHABLE"), timeout=3.0)


@requires_sipp
def test_slow_phone_is_lagged(daemon: Daemon, sipp_dir: SippDir) -> None:
    """options_slow_uas.xml answers after 300 ms: above qualify=250, below 2 x 250."""
    run = start_sipp(
        "register_stay.xml",
        daemon.udp,
        workdir=sipp_dir("qualify-lagged"),
        service="slow",
        auth_user="slow",
        password="slow-pw",
        keys={"expires": "300"},
        extra=["-oocsf", str(SCENARIOS / "options_slow_uas.xml"), "-d", "3000"],
    )
    try:
        ms = daemon.wait_for("sip show peers", latency("slow", "LAGGED"), timeout=3.0)
    finally:
        result = run.wait()
    assert result.statuses[:2] == [401, 200], result.explain()
    assert 290 <= ms < 500


def next_ping(client: SipClient, timeout: float, not_call_id: str | None = None) -> SipMessage:
    deadline = time.monotonic() + timeout
    while True:
        message = client.recv(max(0.0, deadline - time.monotonic()))
        assert message is not None, "no OPTIONS ping came"
        if message.method == "OPTIONS" and message.header("Call-ID") != not_call_id:
            return message


def test_silent_phone_is_unreachable_after_twice_the_qualify_time(daemon: Daemon) -> None:
    with SipClient("udp", daemon.udp) as phone:
        assert [r.status for r in phone.register("silent", "silent-pw")] == [401, 200]
        next_ping(phone, 1.5)  # pbx pings within about a second of a registration
        pinged = time.monotonic()
        time.sleep(0.6)  # past qualify=500 ms, but not yet 2 x 500 ms without an answer
        assert status(daemon, "silent") == "UNKNOWN"
        daemon.wait_for("sip show peers", becomes("silent", "UNREACHABLE"), timeout=2.0)
        elapsed = time.monotonic() - pinged
    assert elapsed <= 2.5, elapsed


def test_late_answer_to_an_old_ping_does_not_count_for_the_new_one(daemon: Daemon) -> None:
    """Ping A goes unanswered, the phone re-registers (pbx pings again: B); the phone answers
    A's retransmission at once and B 300 ms later. The status must carry B's latency, not the
    near-zero time between sending B and the late answer to A."""
    with SipClient("udp", daemon.udp) as phone:
        assert [r.status for r in phone.register("late", "late-pw")] == [401, 200]
        ping_a = next_ping(phone, 2.0)
        call_a = ping_a.header("Call-ID")
        assert [r.status for r in phone.register("late", "late-pw")] == [401, 200]
        ping_b = next_ping(phone, 2.0, not_call_id=call_a)
        phone.answer(ping_a)
        time.sleep(0.3)
        phone.answer(ping_b)
        ms = daemon.wait_for("sip show peers", latency("late"))
        time.sleep(0.1)
        ms = status_ms(status(daemon, "late")) or ms
    assert 280 <= ms <= 1000, f"OK ({ms} ms) for a phone that took 300 ms"
