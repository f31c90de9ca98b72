"""Calls through a real pbx with sipp on both ends: desk phones that register and answer, callers,
and the daemon's records of the call (CDRs, astdb, console).

Built on :mod:`test.integration.daemon` and :mod:`test.integration.sipp` (not changed). A callee
is a sipp UAS scenario from ``contrib/sipp/uas_*.xml`` that first registers (``register.xml``)
from the very port it then listens on: the daemon sends the INVITE to the REGISTER's source
address (``nat=force_rport``). A caller is a ``contrib/sipp/uac_*.xml`` scenario whose From user
is the calling peer (``-key caller``) and whose digest credentials are ``-au``/``-ap``.

:func:`call_daemon` starts a daemon whose ``extensions.conf`` (and optionally ``cdr.conf``) the
test writes; :func:`read_master_csv` and :func:`read_sqlite_cdrs` read the CDRs in Asterisk's
``Master.csv`` column order (ASTERISK-REFERENCE §6) and from the SQLite ``cdr`` table.
"""

from __future__ import annotations

import csv
import re
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from test.integration.daemon import Daemon, Options
from test.integration.sipp import (
    SippResult,
    SippRun,
    TracedMessage,
    run_sipp,
    start_sipp,
    wait_until,
)
from test.integration.sipua import parse

#: A desk phone section: registers with a password, never pinged (sipp's UAS scenarios would
#: take a qualify OPTIONS for an unexpected call).
DESK: dict[str, str] = {"qualify": "no"}

#: Master.csv columns (cdr_csv without loguniqueid/loguserfield), ASTERISK-REFERENCE §6.
MASTER_COLUMNS = (
    "accountcode", "src", "dst", "dcontext", "clid", "channel", "dstchannel", "lastapp",
    "lastdata", "start", "answer", "end", "duration", "billsec", "disposition", "amaflags",
)  # fmt: skip

STAMP_RE = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")


def password(peer: str) -> str:
    return f"{peer}-pw"


def desks(*names: str, **overrides: Options) -> dict[str, Options]:
    """Peer sections for ``names`` (secret ``<name>-pw``, qualify off), with per-peer
    ``overrides`` merged over them."""
    peers: dict[str, Options] = {}
    for name in names:
        peers[name] = {**DESK, "secret": password(name), **overrides.get(name, {})}
    return peers


@contextmanager
def call_daemon(
    root: Path,
    peers: Mapping[str, Options],
    dialplan: str,
    *,
    general: Options | None = None,
    cdr_conf: str | None = None,
) -> Iterator[Daemon]:
    """A running daemon over ``root`` with this dialplan (and ``cdr.conf`` text when given);
    stopped cleanly at the end (which also proves the CDRs were already on disk)."""
    daemon = Daemon(root, peers, general, dialplan=dialplan)
    root.mkdir(parents=True, exist_ok=True)
    if cdr_conf is not None:
        (root / "cdr.conf").write_text(cdr_conf)
    daemon.start()
    try:
        yield daemon
    finally:
        daemon.close()


# -- phones ----------------------------------------------------------------------------------
def register_phone(daemon: Daemon, workdir: Path, peer: str, expires: int = 300) -> int:
    """REGISTER ``peer`` from a fresh port with its password; returns that port."""
    result = run_sipp(
        "register.xml",
        daemon.udp,
        workdir=workdir,
        service=peer,
        auth_user=peer,
        password=password(peer),
        keys={"expires": str(expires)},
    )
    assert result.returncode == 0 and result.statuses == [401, 200], result.explain()
    return result.local_port


def start_callee(
    daemon: Daemon,
    workdir: Path,
    peer: str,
    scenario: str = "uas_answer.xml",
    *,
    port: int | None = None,
    pause_ms: int = 0,
    keys: Mapping[str, str] | None = None,
    calls: int = 1,
    timeout: float = 15.0,
) -> SippRun:
    """Register ``peer`` (unless ``port`` says where it already is) and start the UAS
    ``scenario`` on that port; ``pause_ms`` is sipp's ``-d`` (the scenario's ``<pause/>``)."""
    if port is None:
        port = register_phone(daemon, workdir / "register", peer)
    run = start_sipp(
        scenario,
        daemon.udp,
        workdir=workdir / "uas",
        local_port=port,
        service=peer,
        keys=keys,
        calls=calls,
        timeout=timeout,
        extra=["-d", str(pause_ms)],
    )
    # The daemon's INVITE must not reach the port before sipp listens there.
    assert wait_until(lambda: udp_listening(port) or run.proc.poll() is not None, 5.0)
    return run


def udp_listening(port: int) -> bool:
    """Whether some socket is bound to UDP 127.0.0.1:``port`` (read from /proc: probing by
    binding could take the port from the sipp that is about to bind it)."""
    wanted = f"0100007F:{port:04X}"
    with open("/proc/net/udp") as table:
        return any(line.split()[1] == wanted for line in list(table)[1:])


def start_call(
    daemon: Daemon,
    workdir: Path,
    caller: str,
    exten: str,
    scenario: str = "uac_call.xml",
    *,
    secret: str | None = None,
    port: int | None = None,
    pause_ms: int = 0,
    keys: Mapping[str, str] | None = None,
    timeout: float = 15.0,
) -> SippRun:
    """``caller`` calls ``exten`` with ``scenario`` (credentials: ``caller`` and its password,
    or ``secret``) from ``port`` (default: a fresh one); ``pause_ms`` is sipp's ``-d``."""
    return start_sipp(
        scenario,
        daemon.udp,
        workdir=workdir,
        local_port=port,
        service=exten,
        auth_user=caller,
        password=password(caller) if secret is None else secret,
        keys={"caller": caller, **(keys or {})},
        timeout=timeout,
        extra=["-d", str(pause_ms)],
    )


def call(
    daemon: Daemon,
    workdir: Path,
    caller: str,
    exten: str,
    scenario: str = "uac_call.xml",
    *,
    secret: str | None = None,
    port: int | None = None,
    pause_ms: int = 0,
    keys: Mapping[str, str] | None = None,
    timeout: float = 15.0,
) -> SippResult:
    """:func:`start_call` run to its end."""
    run = start_call(
        daemon, workdir, caller, exten, scenario,
        secret=secret, port=port, pause_ms=pause_ms, keys=keys, timeout=timeout,
    )  # fmt: skip
    return run.wait()


# -- what the traces say ---------------------------------------------------------------------
# sipp 3.6.1 heads what it sent "UDP message sent (283 bytes):" and what it received "UDP
# message received [303] bytes :". test.integration.sipp's trace parser only recognises the
# second form, so a received message there runs on into the messages sipp sent after it (its
# body then holds them); these helpers read the trace file with both forms.
_ENTRY_RE = re.compile(
    r"^-{20,} (?P<stamp>\S+ \S+)\n(?P<transport>\w+) message (?P<dir>sent|received) "
    r"(?:\[\d+\] bytes :|\(\d+ bytes\):)\n\n",
    re.MULTILINE,
)


def trace(result: SippResult) -> list[TracedMessage]:
    """Every message sipp sent or received, in order, from its ``-trace_msg`` file."""
    path = result.workdir / "messages.log"
    text = path.read_text(errors="replace") if path.exists() else ""
    entries = list(_ENTRY_RE.finditer(text))
    messages = []
    for i, entry in enumerate(entries):
        end = entries[i + 1].start() if i + 1 < len(entries) else len(text)
        raw = text[entry.end() : end].replace("\r\n", "\n").strip("\n") + "\n\n"
        message = parse(raw.replace("\n", "\r\n").encode("utf-8", "replace"))
        messages.append(
            TracedMessage(
                start_line=message.start_line,
                headers=message.headers,
                body=message.body.removesuffix(b"\r\n\r\n") + b"\r\n" if message.body else b"",
                raw=message.raw,
                direction=entry.group("dir"),
                transport=entry.group("transport"),
                stamp=entry.group("stamp"),
            )
        )
    return messages


def explain(result: SippResult) -> str:
    """``result.explain()`` with the complete message trace."""
    messages = "\n".join(str(m) for m in trace(result))
    return f"{result.explain()}\n--- complete trace ---\n{messages}"


def received(result: SippResult) -> list[TracedMessage]:
    """What sipp received, i.e. what the daemon sent."""
    return [m for m in trace(result) if m.direction == "received"]


def requests(result: SippResult, method: str | None = None) -> list[TracedMessage]:
    """Requests (of ``method``) that sipp received."""
    return [m for m in received(result) if m.method is not None and method in (None, m.method)]


def sent(result: SippResult, method: str) -> list[TracedMessage]:
    """Requests of ``method`` that sipp sent."""
    return [m for m in trace(result) if m.direction == "sent" and m.method == method]


def responses_to(result: SippResult, method: str) -> list[TracedMessage]:
    """Responses sipp received to its requests of ``method`` (by CSeq)."""
    return [
        m
        for m in received(result)
        if m.status is not None and (m.header("CSeq") or "").split()[-1:] == [method]
    ]


def statuses_to(result: SippResult, method: str) -> list[int]:
    return [m.status for m in responses_to(result, method) if m.status is not None]


def sdp_direction(message: TracedMessage) -> str:
    """The media direction of the message's SDP (RFC 3264 §5.1: none means sendrecv)."""
    found = re.findall(rb"^a=(sendrecv|sendonly|recvonly|inactive)\r?$", message.body, re.M)
    return found[-1].decode() if found else "sendrecv"


def sdp_payload_types(message: TracedMessage) -> list[str]:
    m = re.search(rb"^m=audio \d+ \S+ ([\d ]+)\r?$", message.body, re.M)
    return m.group(1).decode().split() if m else []


# -- records ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class CdrRow:
    """One Master.csv line by column name (values as written, integers as text)."""

    fields: dict[str, str]

    def __getitem__(self, column: str) -> str:
        return self.fields[column]


def read_master_csv(daemon: Daemon) -> list[CdrRow]:
    path = daemon.logdir / "cdr-csv" / "Master.csv"
    if not path.exists():
        return []
    rows = []
    with path.open(newline="", encoding="utf-8") as f:
        for values in csv.reader(f):
            assert len(values) == len(MASTER_COLUMNS), f"{len(values)} columns: {values}"
            rows.append(CdrRow(dict(zip(MASTER_COLUMNS, values, strict=True))))
    return rows


def master_csv_lines(daemon: Daemon) -> list[str]:
    path = daemon.logdir / "cdr-csv" / "Master.csv"
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


def read_sqlite_cdrs(daemon: Daemon, file: str = "cdr.sqlite3") -> list[dict[str, object]]:
    path = daemon.logdir / file
    if not path.exists():
        return []
    with sqlite3.connect(path) as db:
        db.row_factory = sqlite3.Row
        return [dict(row) for row in db.execute("SELECT * FROM cdr ORDER BY id")]


def cdr_for(rows: Sequence[CdrRow], dst: str) -> CdrRow:
    """The single Master.csv row of the call to ``dst``."""
    found = [r for r in rows if r["dst"] == dst]
    assert len(found) == 1, f"expected one CDR to {dst}, got {found}"
    return found[0]


def db_get(daemon: Daemon, family: str, key: str) -> str | None:
    """``database get family key`` as Asterisk prints it (``Value: x``)."""
    output = daemon.cli(f"database get {family} {key}").strip()
    if output.startswith("Value: "):
        return output.removeprefix("Value: ")
    assert output == "Database entry not found.", output
    return None
