"""The SQLite adapter of `ResultsStore`: reveals, displays (one row per viewer and reveal) and
taps (one row per viewer and sale, counting)."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping

from gala.kernel.storage import SqliteRunner, transaction
from gala.results.ports import RevealRecord, TapCounts

SCHEMA: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS result_reveals (
        show_id TEXT NOT NULL, epoch TEXT NOT NULL, seq INTEGER NOT NULL,
        product_id TEXT NOT NULL, at_ms INTEGER NOT NULL, viewers_online INTEGER NOT NULL,
        PRIMARY KEY (show_id, epoch, seq))""",
    """CREATE TABLE IF NOT EXISTS result_displays (
        show_id TEXT NOT NULL, epoch TEXT NOT NULL, seq INTEGER NOT NULL, viewer_id TEXT NOT NULL,
        PRIMARY KEY (show_id, epoch, seq, viewer_id))""",
    """CREATE TABLE IF NOT EXISTS result_taps (
        show_id TEXT NOT NULL, sale_id TEXT NOT NULL, viewer_id TEXT NOT NULL,
        taps INTEGER NOT NULL, PRIMARY KEY (show_id, sale_id, viewer_id))""",
)


class SqliteResultsStore:
    def __init__(self, db: SqliteRunner) -> None:
        self._db = db

    async def record_reveal(
        self, show_id: str, epoch: str, seq: int, product_id: str, at_ms: int, viewers_online: int
    ) -> None:
        def record(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                conn.execute(
                    "INSERT INTO result_reveals VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    (show_id, epoch, seq, product_id, at_ms, viewers_online),
                )

        await self._db.run(record)

    async def add_displays(
        self, show_id: str, displays: Mapping[tuple[str, int], set[str]]
    ) -> None:
        rows = [
            (show_id, epoch, seq, viewer)
            for (epoch, seq), viewers in displays.items()
            for viewer in viewers
        ]

        def add(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                conn.executemany(
                    "INSERT INTO result_displays VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING", rows
                )

        if rows:
            await self._db.run(add)

    async def add_taps(self, show_id: str, taps: Mapping[str, Mapping[str, int]]) -> None:
        rows = [
            (show_id, sale_id, viewer, count)
            for sale_id, by_viewer in taps.items()
            for viewer, count in by_viewer.items()
        ]

        def add(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                conn.executemany(
                    "INSERT INTO result_taps VALUES (?, ?, ?, ?) ON CONFLICT "
                    "(show_id, sale_id, viewer_id) DO UPDATE SET taps = taps + excluded.taps",
                    rows,
                )

        if rows:
            await self._db.run(add)

    async def reveals(self, show_id: str, epoch: str) -> list[RevealRecord]:
        def read(conn: sqlite3.Connection) -> list[RevealRecord]:
            rows = conn.execute(
                "SELECT r.seq, r.product_id, r.at_ms, r.viewers_online, "
                "(SELECT COUNT(*) FROM result_displays d WHERE d.show_id = r.show_id "
                "AND d.epoch = r.epoch AND d.seq = r.seq) "
                "FROM result_reveals r WHERE r.show_id = ? AND r.epoch = ? ORDER BY r.seq",
                (show_id, epoch),
            )
            return [RevealRecord(epoch, *row) for row in rows]

        return await self._db.run(read)

    async def taps(self, show_id: str) -> dict[str, TapCounts]:
        def read(conn: sqlite3.Connection) -> dict[str, TapCounts]:
            rows = conn.execute(
                "SELECT sale_id, SUM(taps), COUNT(*) FROM result_taps WHERE show_id = ? "
                "GROUP BY sale_id",
                (show_id,),
            )
            return {row[0]: TapCounts(int(row[1]), int(row[2])) for row in rows}

        return await self._db.run(read)
