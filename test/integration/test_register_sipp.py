"""The registrar against the real sipp (issue 2): one daemon over UDP and TCP, many phones.

Each test drives a scenario from ``contrib/sipp/`` and asserts the exact status sequence, the
key headers of what the daemon sent (from sipp's message trace), and what the console then shows
(``sip show peers`` / ``sip show peer`` in chan_sip's shapes). Each test uses its own peer, so
the tests share one daemon and stay independent.
"""

from __future__ import annotations

import re

import pytest

from test.integration.conftest import DaemonFactory, SippDir
from test.integration.console import parse_peer, parse_peers
from test.integration.daemon import Daemon, Options
from test.integration.sipp import (
    SippResult,
    TracedMessage,
    requires_sipp,
    run_sipp,
    start_sipp,
)

pytestmark = requires_sipp

REALM = "pbx-test"
PEERS = {
    "desk1": {"secret": "desk1-pw"},
    "desk2": {"secret": "desk2-pw"},
    "desk3": {"secret": "desk3-pw"},
    "desk4": {"secret": "desk4-pw"},
    "desk5": {"secret": "desk5-pw"},
    "desk6": {"secret": "desk6-pw"},
    "desk7": {"secret": "desk7-pw"},
    "udponly": {"secret": "udponly-pw", "transport": "udp"},
}
CHALLENGE_RE = re.compile(rf'Digest algorithm=MD5, realm="{REALM}", nonce="([^"]+)"')


@pytest.fixture(scope="module")
def daemon(daemons: DaemonFactory) -> Daemon:
    general: Options = {"realm": REALM, "minexpiry": 60, "maxexpiry": 3600, "defaultexpiry": 120}
    return daemons("register", PEERS, general)


def register(
    daemon: Daemon,
    sipp_dir: SippDir,
    user: str,
    password: str | None = None,
    *,
    expires: int = 300,
    transport: str = "u1",
    scenario: str = "register.xml",
    local_port: int | None = None,
) -> SippResult:
    target = daemon.tcp_address if transport == "t1" else daemon.udp
    return run_sipp(
        scenario,
        target,
        workdir=sipp_dir(f"{scenario.removesuffix('.xml')}-{user}"),
        transport=transport,
        local_port=local_port,
        service=user,
        auth_user=user,
        password=password if password is not None else f"{user}-pw",
        keys={"expires": str(expires)},
    )


def expect(result: SippResult, statuses: list[int]) -> list[TracedMessage]:
    """Assert that sipp's scenario passed with exactly these responses; return them."""
    assert result.returncode == 0, result.explain()
    assert result.statuses == statuses, result.explain()
    return result.responses


def test_register_with_digest_auth_gets_200_and_shows_the_binding(
    daemon: Daemon, sipp_dir: SippDir
) -> None:
    result = register(daemon, sipp_dir, "desk1")
    challenge, ok = expect(result, [401, 200])
    port = result.local_port

    assert CHALLENGE_RE.fullmatch(challenge.header("WWW-Authenticate") or ""), challenge
    assert ok.header("Expires") == "300"
    assert ok.all("Contact") == [f"<sip:desk1@127.0.0.1:{port};transport=UDP>;expires=300"]
    # RFC 3581: the rport the REGISTER asked for, and where it really came from.
    assert f";rport={port};received=127.0.0.1" in (ok.header("Via") or ""), ok
    assert ";tag=" in (ok.header("To") or "")
    assert ok.header("Date") is not None  # chan_sip dates its REGISTER answers

    row = parse_peers(daemon.cli("sip show peers")).rows["desk1"]
    assert (row["name"], row["host"], row["dyn"], row["port"]) == (
        "desk1/desk1",
        "127.0.0.1",
        "D",
        str(port),
    )
    peer = parse_peer(daemon.cli("sip show peer desk1"))
    assert peer["Addr->IP"] == f"127.0.0.1:{port}"
    assert peer["Reg. Contact"] == f"sip:desk1@127.0.0.1:{port};transport=UDP"
    assert peer["Useragent"] == "sipp"
    assert 290 <= int(peer["Expire"]) <= 300
    assert peer["Bindings"] == "1"
    assert peer.bindings[1].startswith(f"Transport UDP  Source 127.0.0.1:{port}"), peer.bindings


def test_console_answers_the_same_through_pbx_rx(daemon: Daemon) -> None:
    """``pbx -rx`` (a new process) prints what the control socket returns."""
    result = daemon.rx("sip show peers")
    assert result.returncode == 0, result.stderr
    assert result.stdout == daemon.cli("sip show peers")
    assert parse_peers(result.stdout).total == len(PEERS)


def test_wrong_password_gets_401_then_403(daemon: Daemon, sipp_dir: SippDir) -> None:
    result = register(
        daemon, sipp_dir, "desk2", "not-the-password", scenario="register_rejected.xml"
    )
    _, forbidden = expect(result, [401, 403])
    assert forbidden.reason == "Forbidden"
    assert forbidden.header("WWW-Authenticate") is None
    row = parse_peers(daemon.cli("sip show peers")).rows["desk2"]
    assert (row["host"], row["port"]) == ("(Unspecified)", "0")


def _shape(message: TracedMessage) -> list[tuple[str, str]]:
    """Headers with per-request values (tags, branches, ports, nonce digits, Call-ID, names)
    blanked, so two answers can be compared for what a prober could tell apart."""
    shaped = []
    for name, value in message.headers:
        value = re.sub(r"(tag|branch|rport)=[^;>\s]+", r"\1=*", value)
        value = re.sub(
            r'nonce="([^"]*)"', lambda m: 'nonce="' + re.sub(r"\w", "x", m[1]) + '"', value
        )
        value = re.sub(r"sip:(desk2|nobody)@", "sip:USER@", value)
        value = re.sub(r":\d+", ":PORT", value)
        if name.lower() in ("call-id", "date"):
            value = "*"
        shaped.append((name, value))
    return shaped


def test_unknown_user_is_answered_exactly_like_a_wrong_password(
    daemon: Daemon, sipp_dir: SippDir
) -> None:
    """alwaysauthreject=yes (the default): nothing tells a prober which names exist."""
    known = register(daemon, sipp_dir, "desk2", "guess", scenario="register_rejected.xml")
    unknown = register(daemon, sipp_dir, "nobody", "guess", scenario="register_rejected.xml")
    known_responses = expect(known, [401, 403])
    unknown_responses = expect(unknown, [401, 403])
    for k, u in zip(known_responses, unknown_responses, strict=True):
        assert k.start_line == u.start_line
        assert k.header_names() == u.header_names(), f"{k}\n{u}"
        assert _shape(k) == _shape(u), f"{k}\n{u}"
    assert CHALLENGE_RE.fullmatch(unknown_responses[0].header("WWW-Authenticate") or "")
    assert "nobody" not in parse_peers(daemon.cli("sip show peers")).rows


@pytest.mark.parametrize("contact", ["binding", "*"])
def test_unregister_removes_the_binding(daemon: Daemon, sipp_dir: SippDir, contact: str) -> None:
    user = "desk3" if contact == "binding" else "desk7"
    registered = register(daemon, sipp_dir, user)
    expect(registered, [401, 200])
    port = registered.local_port
    assert parse_peers(daemon.cli("sip show peers")).rows[user]["port"] == str(port)

    value = f"<sip:{user}@127.0.0.1:{port};transport=UDP>" if contact == "binding" else "*"
    result = run_sipp(
        "unregister.xml",
        daemon.udp,
        workdir=sipp_dir(f"unregister-{user}"),
        local_port=port,
        service=user,
        auth_user=user,
        password=f"{user}-pw",
        keys={"contact": value},
    )
    _, ok = expect(result, [401, 200])
    assert ok.header("Expires") == "0"
    assert ok.all("Contact") == []  # chan_sip: an un-REGISTER's 200 lists no binding

    row = parse_peers(daemon.cli("sip show peers")).rows[user]
    assert (row["name"], row["host"], row["port"]) == (user, "(Unspecified)", "0")
    peer = parse_peer(daemon.cli(f"sip show peer {user}"))
    assert (peer["Addr->IP"], peer["Reg. Contact"], peer["Bindings"]) == ("(Unspecified)", "", "0")


@pytest.mark.parametrize(
    ("asked", "granted"), [(99999, 3600), (10, 60), (1800, 1800)], ids=["max", "min", "within"]
)
def test_expiry_is_clamped_to_minexpiry_and_maxexpiry(
    daemon: Daemon, sipp_dir: SippDir, asked: int, granted: int
) -> None:
    """chan_sip never answers 423 to REGISTER: it grants the nearest bound."""
    result = register(daemon, sipp_dir, "desk4", expires=asked)
    _, ok = expect(result, [401, 200])
    assert ok.header("Expires") == str(granted)
    port = result.local_port
    assert ok.all("Contact") == [f"<sip:desk4@127.0.0.1:{port};transport=UDP>;expires={granted}"]
    assert result.log_value("granted") == str(granted)
    assert granted - 10 <= int(parse_peer(daemon.cli("sip show peer desk4"))["Expire"]) <= granted


def test_register_over_tcp_binds_a_tcp_contact(daemon: Daemon, sipp_dir: SippDir) -> None:
    """The phone stays connected (register_stay.xml) while the binding is inspected: pbx ties a
    TCP binding to its connection."""
    run = start_sipp(
        "register_stay.xml",
        daemon.tcp_address,
        workdir=sipp_dir("register-tcp"),
        transport="t1",
        service="desk5",
        auth_user="desk5",
        password="desk5-pw",
        keys={"expires": "300"},
        extra=["-d", "1000"],
    )
    port = run.local_port
    try:
        peer = daemon.wait_for(
            "sip show peer desk5",
            lambda text: parse_peer(text) if parse_peer(text)["Bindings"] == "1" else None,
        )
    finally:
        result = run.wait()
    _, ok = expect(result, [401, 200])
    assert all(m.transport == "TCP" for m in result.messages)
    assert ok.all("Contact") == [f"<sip:desk5@127.0.0.1:{port};transport=TCP>;expires=300"]
    assert peer["Addr->IP"] == f"127.0.0.1:{port}"
    assert peer.bindings[1].startswith(f"Transport TCP  Source 127.0.0.1:{port}"), peer.bindings


def test_register_over_a_transport_the_peer_does_not_allow_gets_403(
    daemon: Daemon, sipp_dir: SippDir
) -> None:
    """transport=udp: the right password over TCP is refused (after the challenge, as chan_sip
    does, so the 403 tells nothing before authentication); over UDP it is accepted."""
    refused = register(
        daemon, sipp_dir, "udponly", transport="t1", scenario="register_rejected.xml"
    )
    _, forbidden = expect(refused, [401, 403])
    assert forbidden.reason == "Forbidden"
    row = parse_peers(daemon.cli("sip show peers")).rows["udponly"]
    assert row["host"] == "(Unspecified)"

    accepted = register(daemon, sipp_dir, "udponly")
    expect(accepted, [401, 200])


@pytest.mark.parametrize("transport", ["u1", "t1"])
def test_options_to_the_pbx_gets_200_with_allow_accept_and_supported(
    daemon: Daemon, sipp_dir: SippDir, transport: str
) -> None:
    target = daemon.tcp_address if transport == "t1" else daemon.udp
    result = run_sipp(
        "options.xml", target, workdir=sipp_dir(f"options-{transport}"), transport=transport
    )
    (ok,) = expect(result, [200])
    allow = {m.strip() for m in (ok.header("Allow") or "").split(",")}
    assert {"INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "REGISTER"} <= allow, ok
    assert "application/sdp" in (ok.header("Accept") or ""), ok
    # Issue 2: "pbx answers OPTIONS itself (200, with Allow, Accept, Supported)".
    assert ok.header("Supported") is not None, ok
    assert ";tag=" in (ok.header("To") or "")


def test_malformed_requests_get_400_or_are_dropped_and_register_still_works(
    daemon: Daemon, sipp_dir: SippDir
) -> None:
    """malformed.xml: a bad Max-Forwards gets 400 naming the problem; a CSeq without number, a
    request without Call-ID and non-SIP bytes get nothing (sipp would fail on any answer during
    its pauses); the REGISTER after them gets 401 and 200."""
    result = register(daemon, sipp_dir, "desk6", scenario="malformed.xml")
    bad, _, ok = expect(result, [400, 401, 200])
    assert bad.reason != "Bad Request" and "Max-Forwards" in bad.reason, bad
    assert result.log_value("status") == f"SIP/2.0 400 {bad.reason}"
    assert ok.header("Expires") == "300"
    assert parse_peers(daemon.cli("sip show peers")).rows["desk6"]["port"] == str(result.local_port)
