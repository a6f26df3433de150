"""The SQLite adapter of `StageStore`: one row of stage state per show, versioned for
compare-and-set, committed in the same transaction as the show-log events and the audit lines."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence

from gala.kernel.errors import StoreConflict
from gala.kernel.showlog import AuditEntry, LoggedEvent, NewEvent
from gala.kernel.storage import SqliteRunner, transaction
from stage_control.showlog_store import append_events_sqlite, create_log_sqlite, log_channel

from .model import StageState
from .ports import Versioned

SCHEMA: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS stage (
        show_id TEXT PRIMARY KEY, version INTEGER NOT NULL, state TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT, show_id TEXT NOT NULL, at_ms INTEGER NOT NULL,
        actor TEXT NOT NULL, action TEXT NOT NULL, detail TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS audit_by_show ON audit (show_id, id)",
)


def stage_channel(show_id: str) -> str:
    return f"stage:{show_id}"


class SqliteStageStore:
    def __init__(self, db: SqliteRunner) -> None:
        self._db = db

    async def install_stage(self, show_id: str, initial: StageState) -> bool:
        def install(conn: sqlite3.Connection) -> bool:
            with transaction(conn):
                create_log_sqlite(conn, show_id, recreate=False)
                cursor = conn.execute(
                    "INSERT INTO stage (show_id, version, state) VALUES (?, 0, ?) "
                    "ON CONFLICT (show_id) DO NOTHING",
                    (show_id, json.dumps(initial.as_wire())),
                )
                return cursor.rowcount == 1

        return await self._db.run(install)

    async def load_stage(self, show_id: str) -> Versioned | None:
        def load(conn: sqlite3.Connection) -> Versioned | None:
            row = conn.execute(
                "SELECT version, state FROM stage WHERE show_id = ?", (show_id,)
            ).fetchone()
            if row is None:
                return None
            return Versioned(StageState.from_wire(json.loads(row["state"])), int(row["version"]))

        return await self._db.run(load)

    async def commit_stage(
        self,
        show_id: str,
        expected_version: int,
        state: StageState,
        events: Sequence[NewEvent],
        audit: Sequence[AuditEntry],
        recreate_log: bool = False,
    ) -> list[LoggedEvent]:
        def commit(conn: sqlite3.Connection) -> list[LoggedEvent]:
            with transaction(conn):
                cursor = conn.execute(
                    "UPDATE stage SET version = version + 1, state = ? "
                    "WHERE show_id = ? AND version = ?",
                    (json.dumps(state.as_wire()), show_id, expected_version),
                )
                if cursor.rowcount != 1:
                    raise StoreConflict(show_id)
                if recreate_log:
                    create_log_sqlite(conn, show_id, recreate=True)
                logged = append_events_sqlite(conn, show_id, events)
                _insert_audit(conn, show_id, audit)
                return logged

        logged = await self._db.run(commit)
        self._db.notify(stage_channel(show_id))
        if logged or recreate_log:
            self._db.notify(log_channel(show_id))
        return logged

    async def append_audit(self, show_id: str, entry: AuditEntry) -> None:
        def append(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                _insert_audit(conn, show_id, [entry])

        await self._db.run(append)

    async def wait_stage_change(self, show_id: str, cursor: str | None, timeout_s: float) -> str:
        seen = -1 if cursor is None else int(cursor)
        return str(
            await self._db.wait(stage_channel(show_id), seen, 0.0 if cursor is None else timeout_s)
        )


def _insert_audit(conn: sqlite3.Connection, show_id: str, audit: Sequence[AuditEntry]) -> None:
    conn.executemany(
        "INSERT INTO audit (show_id, at_ms, actor, action, detail) VALUES (?, ?, ?, ?, ?)",
        [(show_id, e.at_ms, e.actor, e.action, json.dumps(e.detail)) for e in audit],
    )
