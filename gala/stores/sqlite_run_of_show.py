"""The SQLite adapter of `EditedRunOfShow`: a show's edited cue tables with a version, replaced
by compare-and-set."""

from __future__ import annotations

import sqlite3

from gala.kernel.storage import SqliteRunner, transaction

SCHEMA: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS run_of_show (
        show_id TEXT PRIMARY KEY, version INTEGER NOT NULL, cues TEXT NOT NULL)""",
)


class SqliteRunOfShowStore:
    def __init__(self, db: SqliteRunner) -> None:
        self._db = db

    async def edited_cues(self, show_id: str) -> tuple[int, str | None]:
        def read(conn: sqlite3.Connection) -> tuple[int, str | None]:
            row = conn.execute(
                "SELECT version, cues FROM run_of_show WHERE show_id = ?", (show_id,)
            ).fetchone()
            return (0, None) if row is None else (int(row[0]), str(row[1]))

        return await self._db.run(read)

    async def save_cues(self, show_id: str, expected_version: int, cues_json: str) -> bool:
        def save(conn: sqlite3.Connection) -> bool:
            with transaction(conn):
                row = conn.execute(
                    "SELECT version FROM run_of_show WHERE show_id = ?", (show_id,)
                ).fetchone()
                if (0 if row is None else int(row[0])) != expected_version:
                    return False
                conn.execute(
                    "INSERT INTO run_of_show VALUES (?, ?, ?) ON CONFLICT (show_id) "
                    "DO UPDATE SET version = excluded.version, cues = excluded.cues",
                    (show_id, expected_version + 1, cues_json),
                )
                return True

        return await self._db.run(save)
