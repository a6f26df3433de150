"""The hub's SQLite adapter: reading and tailing show logs, show definitions, accounts, the
signing secret, and presence (kept in memory: the SQLite store serves a single node)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator, Iterable

from gala.kernel.showlog import AuditEntry, LoggedEvent
from gala.kernel.storage import transaction
from gala.stores.ports import (
    NO_TAPS,
    PRESENCE_FRESH_MS,
    Account,
    Durability,
    LogBatch,
    PresenceTotals,
    TapTotals,
)
from stage_control.showlog_store import SHOWLOG_SCHEMA, log_channel

from .sqlite_db import SqliteDatabase

# One node's presence report: viewers, operators, when, its tap totals.
_Report = tuple[int, tuple[str, ...], int, TapTotals]

SCHEMA: tuple[str, ...] = SHOWLOG_SCHEMA + (
    """CREATE TABLE IF NOT EXISTS shows (
        show_id TEXT PRIMARY KEY, document TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS accounts (
        username TEXT PRIMARY KEY, password_hash TEXT NOT NULL, role TEXT NOT NULL)""",
    # beside `accounts` (not a new column) so a database made before sponsor accounts opens as is
    """CREATE TABLE IF NOT EXISTS account_sponsors (
        username TEXT PRIMARY KEY, sponsor_id TEXT NOT NULL)""",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL)",
)

TAIL_BATCH = 500


class SqliteHubStore:
    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db
        self._presence: dict[str, dict[str, _Report]] = {}

    async def read_log(self, show_id: str) -> LogBatch:
        def read(conn: sqlite3.Connection) -> LogBatch:
            head = conn.execute(
                "SELECT epoch FROM show_log_head WHERE show_id = ?", (show_id,)
            ).fetchone()
            if head is None:
                return LogBatch(0)
            rows = conn.execute(
                "SELECT pos, epoch, seq, type, program_time_ms, data FROM show_log "
                "WHERE show_id = ? AND epoch = ? ORDER BY pos",
                (show_id, head["epoch"]),
            ).fetchall()
            last = conn.execute("SELECT COALESCE(MAX(pos), 0) FROM show_log").fetchone()[0]
            return LogBatch(int(last), [_event(row) for row in rows], str(head["epoch"]))

        return await self._db.run(read)

    async def tail_log(self, show_id: str, after_pos: int) -> AsyncIterator[LogBatch]:
        seen = -1
        while True:
            seen = await self._db.wait(log_channel(show_id), seen, timeout_s=1.0)
            while True:
                batch = await self._read_after(show_id, after_pos)
                if not batch.events:
                    break
                after_pos = batch.last_pos
                yield batch

    async def _read_after(self, show_id: str, after_pos: int) -> LogBatch:
        def read(conn: sqlite3.Connection) -> LogBatch:
            rows = conn.execute(
                "SELECT pos, epoch, seq, type, program_time_ms, data FROM show_log "
                "WHERE show_id = ? AND pos > ? ORDER BY pos LIMIT ?",
                (show_id, after_pos, TAIL_BATCH),
            ).fetchall()
            last = int(rows[-1]["pos"]) if rows else after_pos
            return LogBatch(last, [_event(row) for row in rows])

        return await self._db.run(read)

    async def read_audit(self, show_id: str, limit: int) -> list[AuditEntry]:
        def read(conn: sqlite3.Connection) -> list[AuditEntry]:
            rows = conn.execute(
                "SELECT at_ms, actor, action, detail FROM audit WHERE show_id = ? "
                "ORDER BY id DESC LIMIT ?",
                (show_id, limit),
            ).fetchall()
            return [
                AuditEntry(int(r["at_ms"]), r["actor"], r["action"], json.loads(r["detail"]))
                for r in reversed(rows)
            ]

        return await self._db.run(read)

    async def put_show_document(self, show_id: str, document: str) -> None:
        def put(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                conn.execute(
                    "INSERT INTO shows (show_id, document) VALUES (?, ?) ON CONFLICT "
                    "(show_id) DO UPDATE SET document = excluded.document",
                    (show_id, document),
                )

        await self._db.run(put)

    async def show_documents(self) -> dict[str, str]:
        def read(conn: sqlite3.Connection) -> dict[str, str]:
            rows = conn.execute("SELECT show_id, document FROM shows ORDER BY show_id")
            return {row["show_id"]: row["document"] for row in rows}

        return await self._db.run(read)

    async def put_account(self, account: Account) -> None:
        def put(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                conn.execute(
                    "INSERT INTO accounts (username, password_hash, role) VALUES (?, ?, ?) "
                    "ON CONFLICT (username) DO UPDATE SET password_hash = excluded.password_hash,"
                    " role = excluded.role",
                    (account.username, account.password_hash, account.role),
                )
                conn.execute("DELETE FROM account_sponsors WHERE username = ?", (account.username,))
                if account.sponsor_id is not None:
                    conn.execute(
                        "INSERT INTO account_sponsors (username, sponsor_id) VALUES (?, ?)",
                        (account.username, account.sponsor_id),
                    )

        await self._db.run(put)

    async def get_account(self, username: str) -> Account | None:
        def get(conn: sqlite3.Connection) -> Account | None:
            row = conn.execute(
                "SELECT a.username, a.password_hash, a.role, s.sponsor_id FROM accounts a "
                "LEFT JOIN account_sponsors s ON s.username = a.username WHERE a.username = ?",
                (username,),
            ).fetchone()
            return None if row is None else Account(row[0], row[1], row[2], row[3])

        return await self._db.run(get)

    async def store_identity(self) -> str | None:
        def get(conn: sqlite3.Connection) -> str | None:
            row = conn.execute("SELECT value FROM meta WHERE key = 'identity'").fetchone()
            return None if row is None else str(row[0])

        return await self._db.run(get)

    async def create_store_identity(self, candidate: str) -> str:
        def create(conn: sqlite3.Connection) -> str:
            with transaction(conn):
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('identity', ?) "
                    "ON CONFLICT (key) DO NOTHING",
                    (candidate,),
                )
                return str(
                    conn.execute("SELECT value FROM meta WHERE key = 'identity'").fetchone()[0]
                )

        return await self._db.run(create)

    async def durability(self) -> Durability:
        # sqlite_db.py opens every connection in WAL mode with synchronous=FULL
        return Durability(True, "journal_mode=WAL, synchronous=FULL")

    async def server_secret(self, candidate: bytes) -> bytes:
        def get(conn: sqlite3.Connection) -> bytes:
            with transaction(conn):
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('secret', ?) "
                    "ON CONFLICT (key) DO NOTHING",
                    (candidate,),
                )
                return bytes(
                    conn.execute("SELECT value FROM meta WHERE key = 'secret'").fetchone()[0]
                )

        return await self._db.run(get)

    async def report_presence(
        self,
        show_id: str,
        node_id: str,
        viewers: int,
        operators: tuple[str, ...],
        now_ms: int,
        taps: TapTotals = NO_TAPS,
    ) -> None:
        self._presence.setdefault(show_id, {})[node_id] = (viewers, operators, now_ms, taps)

    async def presence(self, show_id: str, now_ms: int) -> PresenceTotals:
        return _sum_presence(self._presence.get(show_id, {}).values(), now_ms)


def _sum_presence(reports: Iterable[_Report], now_ms: int) -> PresenceTotals:
    viewers = 0
    operators: set[str] = set()
    taps = TapTotals()
    for count, names, at_ms, node_taps in reports:
        if now_ms - at_ms <= PRESENCE_FRESH_MS:
            viewers += count
            operators.update(names)
            taps += node_taps
    return PresenceTotals(viewers, tuple(sorted(operators)), taps)


def _event(row: sqlite3.Row) -> LoggedEvent:
    return LoggedEvent(
        int(row["seq"]),
        str(row["epoch"]),
        str(row["type"]),
        int(row["program_time_ms"]),
        json.loads(row["data"]),
    )
