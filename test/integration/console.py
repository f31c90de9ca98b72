"""Reading the daemon's console output the way a person reads chan_sip's.

``sip show peers`` is a fixed-width table (ASTERISK-REFERENCE §4.2: column widths 25/39/3/10/10/
3/8/11/32, one space apart) with a footer; ``sip show peer NAME`` is a ``Key : value`` block.
The parsers cut at chan_sip's column positions, so output that drifts from the Asterisk shape
shows up as wrong values in the tests. Status is ``%-11s`` without a precision in chan_sip, so
``LAGGED (304 ms)`` pushes the description right; it is read by its form, not its width.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PEERS_COLUMNS = (
    ("name", 25), ("host", 39), ("dyn", 3), ("forcerport", 10), ("comedia", 10), ("acl", 3),
    ("port", 8),
)  # fmt: skip
_STATUS_RE = re.compile(r"(\S+(?: \(\d+ ms\))?) *(.*)")

PEERS_HEADER = (
    "Name/username             Host                                    Dyn Forcerport Comedia    "
    "ACL Port     Status      Description"
)

_FOOTER_RE = re.compile(
    r"^(\d+) sip peers \[Monitored: (\d+) online, (\d+) offline "
    r"Unmonitored: (\d+) online, (\d+) offline\]$"
)


@dataclass(frozen=True)
class PeersTable:
    rows: dict[str, dict[str, str]]  # by peer name (the part before "/username")
    total: int
    monitored_online: int
    monitored_offline: int
    unmonitored_online: int
    unmonitored_offline: int


def parse_peers(text: str) -> PeersTable:
    """Parse ``sip show peers``; raises AssertionError when the shape is not chan_sip's."""
    lines = text.rstrip("\n").split("\n")
    assert lines[0] == PEERS_HEADER, f"unexpected header:\n{lines[0]!r}\n{PEERS_HEADER!r}"
    footer = _FOOTER_RE.match(lines[-1])
    assert footer is not None, f"unexpected footer: {lines[-1]!r}"
    rows: dict[str, dict[str, str]] = {}
    for line in lines[1:-1]:
        row: dict[str, str] = {}
        pos = 0
        for key, width in PEERS_COLUMNS:
            row[key] = line[pos : pos + width].strip()
            pos += width + 1
        rest = _STATUS_RE.fullmatch(line[pos:])
        assert rest is not None, f"no status in {line!r}"
        row["status"], row["description"] = rest.group(1), rest.group(2).strip()
        rows[row["name"].split("/", 1)[0]] = row
    total, mon_on, mon_off, unmon_on, unmon_off = (int(g) for g in footer.groups())
    assert total == len(rows), f"footer says {total} peers, table has {len(rows)}"
    return PeersTable(rows, total, mon_on, mon_off, unmon_on, unmon_off)


@dataclass(frozen=True)
class PeerDetails:
    fields: dict[str, str]
    bindings: list[str]  # the indented lines under "Bindings"

    def __getitem__(self, key: str) -> str:
        return self.fields[key]


def parse_peer(text: str) -> PeerDetails:
    """Parse ``sip show peer NAME`` into its ``Key : value`` fields and binding lines."""
    fields: dict[str, str] = {}
    bindings: list[str] = []
    in_bindings = False
    for line in text.split("\n"):
        if in_bindings and line.startswith("    "):
            bindings.append(line.strip())
            continue
        m = re.match(r"^  (\S.*?)\s*: ?(.*)$", line)
        if m is None:
            continue
        key = m.group(1).lstrip("* ").strip()
        fields[key] = m.group(2).strip()
        in_bindings = key == "Bindings"
    assert "Name" in fields, f"not a peer block:\n{text}"
    return PeerDetails(fields, bindings)


def status_ms(status: str, state: str = "OK") -> int | None:
    """``OK (12 ms)`` -> 12 for ``state``; None for any other status."""
    m = re.fullmatch(re.escape(state) + r" \((\d+) ms\)", status)
    return int(m.group(1)) if m else None
