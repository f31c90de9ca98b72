"""Persistent state in SQLite under ``dbdir``: registrations and the astdb key/value store.

Registrations are written in batches (one transaction per flush, at most every
``flush_interval`` seconds and always on a clean stop), so persistence never limits the REGISTER
rate. A binding that changes several times between flushes is written once. ``astdb`` keeps
Asterisk's schema (``key`` = ``/family/key``) and backs the dialplan's ``DB()`` function and the
``database`` console commands; its writes are immediate because they are rare.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Iterable

from pbx.core.addr import Address, TransportKind
from pbx.sip.location import Binding, BindingKey

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS registrations (
    aor TEXT NOT NULL, key_kind TEXT NOT NULL, key TEXT NOT NULL,
    contact TEXT NOT NULL, expires_at REAL NOT NULL, registered_at REAL NOT NULL,
    source_host TEXT NOT NULL, source_port INTEGER NOT NULL, transport TEXT NOT NULL,
    target_host TEXT NOT NULL, target_port INTEGER NOT NULL,
    call_id TEXT NOT NULL, cseq INTEGER NOT NULL, user_agent TEXT NOT NULL,
    instance TEXT, reg_id INTEGER,
    PRIMARY KEY (aor, key_kind, key)
);
CREATE TABLE IF NOT EXISTS astdb (key VARCHAR(256), value VARCHAR(256), PRIMARY KEY(key));
"""


class Store:
    """One SQLite file, ``<dbdir>/pbx.sqlite3``."""

    def __init__(self, path: str) -> None:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        self._pending: dict[tuple[str, BindingKey], Binding | None] = {}

    # -- registrations -------------------------------------------------------------------
    def save_binding(self, binding: Binding) -> None:
        self._pending[(binding.aor, binding.key)] = binding

    def delete_binding(self, binding: Binding) -> None:
        self._pending[(binding.aor, binding.key)] = None

    @property
    def dirty(self) -> bool:
        return bool(self._pending)

    def flush(self) -> int:
        """Write every pending change in one transaction; returns how many rows changed."""
        if not self._pending:
            return 0
        pending, self._pending = self._pending, {}
        saves = [b for b in pending.values() if b is not None]
        deletes = [(aor, key) for (aor, key), b in pending.items() if b is None]
        try:
            with self._db:
                self._db.execute("BEGIN")
                self._db.executemany(
                    "DELETE FROM registrations WHERE aor=? AND key_kind=? AND key=?",
                    [(aor, key[0], key[1]) for aor, key in deletes],
                )
                self._db.executemany(
                    "INSERT OR REPLACE INTO registrations VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    [_row(b) for b in saves],
                )
        except sqlite3.Error:
            log.exception("could not persist %d registration changes", len(pending))
            # Keep them for the next flush rather than losing them.
            self._pending = {**pending, **self._pending}
            return 0
        return len(pending)

    def load_bindings(self, now: float) -> list[Binding]:
        """Bindings that have not expired yet; expired rows are deleted."""
        self._db.execute("DELETE FROM registrations WHERE expires_at <= ?", (now,))
        rows = self._db.execute("SELECT * FROM registrations ORDER BY registered_at").fetchall()
        bindings: list[Binding] = []
        for row in rows:
            try:
                bindings.append(_binding(row))
            except (ValueError, TypeError):
                log.warning("ignoring unreadable registration row for %r", row[0])
        return bindings

    # -- astdb ---------------------------------------------------------------------------
    def db_get(self, family: str, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM astdb WHERE key=?", (_dbkey(family, key),))
        found = row.fetchone()
        return None if found is None else str(found[0])

    def db_put(self, family: str, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO astdb VALUES (?, ?)", (_dbkey(family, key), value))

    def db_delete(self, family: str, key: str) -> bool:
        cur = self._db.execute("DELETE FROM astdb WHERE key=?", (_dbkey(family, key),))
        return cur.rowcount > 0

    def db_entries(self, family: str | None = None) -> list[tuple[str, str]]:
        if family:
            prefix = "/" + family.strip("/") + "/"
            cur = self._db.execute(
                "SELECT key, value FROM astdb WHERE substr(key, 1, ?) = ? ORDER BY key",
                (len(prefix), prefix),
            )
        else:
            cur = self._db.execute("SELECT key, value FROM astdb ORDER BY key")
        return [(str(k), str(v)) for k, v in cur.fetchall()]

    def close(self) -> None:
        self.flush()
        self._db.close()


def _dbkey(family: str, key: str) -> str:
    return f"/{family.strip('/')}/{key}"


def _row(b: Binding) -> tuple[object, ...]:
    return (
        b.aor, b.key[0], b.key[1], b.contact, b.expires_at, b.registered_at,
        b.source.host, b.source.port, b.transport.value, b.target.host, b.target.port,
        b.call_id, b.cseq, b.user_agent, b.instance, b.reg_id,
    )  # fmt: skip


def _binding(row: Iterable[object]) -> Binding:
    (aor, _kind, _key, contact, expires_at, registered_at, src_host, src_port, transport,
     dst_host, dst_port, call_id, cseq, user_agent, instance, reg_id) = tuple(row)  # fmt: skip
    return Binding(
        aor=str(aor),
        contact=str(contact),
        expires_at=float(expires_at),  # type: ignore[arg-type]
        registered_at=float(registered_at),  # type: ignore[arg-type]
        source=Address(str(src_host), int(src_port)),  # type: ignore[call-overload]
        transport=TransportKind(str(transport)),
        target=Address(str(dst_host), int(dst_port)),  # type: ignore[call-overload]
        flow=None,
        call_id=str(call_id),
        cseq=int(cseq),  # type: ignore[call-overload]
        user_agent=str(user_agent),
        instance=None if instance is None else str(instance),
        reg_id=None if reg_id is None else int(reg_id),  # type: ignore[call-overload]
    )
