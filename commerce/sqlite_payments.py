"""The SQLite adapter of `PaymentStore`: one row per payment asked of a provider, one per handled
webhook event (set-if-absent by primary key, pruned after `EVENT_RETENTION_MS`)."""

from __future__ import annotations

import dataclasses
import sqlite3

from gala.kernel.storage import SqliteRunner, transaction

from .ports import EVENT_RETENTION_MS, Payment

SCHEMA: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS payments (
        payment_id TEXT PRIMARY KEY, provider TEXT NOT NULL, order_id TEXT NOT NULL,
        sale_id TEXT NOT NULL, viewer_id TEXT NOT NULL, sponsor_id TEXT NOT NULL,
        amount_minor INTEGER NOT NULL, currency TEXT NOT NULL, pay_url TEXT NOT NULL,
        expires_at_ms INTEGER NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS webhook_events (
        event_id TEXT PRIMARY KEY, recorded_at_ms INTEGER NOT NULL)""",
    """CREATE INDEX IF NOT EXISTS webhook_events_age ON webhook_events (recorded_at_ms)""",
)

_COLUMNS = ", ".join(field.name for field in dataclasses.fields(Payment))


class SqlitePaymentStore:
    def __init__(self, db: SqliteRunner) -> None:
        self._db = db

    async def create_payment(self, payment: Payment) -> Payment:
        def create(conn: sqlite3.Connection) -> Payment:
            with transaction(conn):
                conn.execute(
                    f"INSERT INTO payments ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "  # noqa: S608 - fixed column list; values are bound
                    "ON CONFLICT (payment_id) DO NOTHING",
                    dataclasses.astuple(payment),
                )
                stored = _read(conn, payment.payment_id)
                assert stored is not None
                return stored

        return await self._db.run(create)

    async def payment(self, payment_id: str) -> Payment | None:
        return await self._db.run(lambda conn: _read(conn, payment_id))

    async def payments(self) -> list[Payment]:
        def read(conn: sqlite3.Connection) -> list[Payment]:
            rows = conn.execute(f"SELECT {_COLUMNS} FROM payments ORDER BY payment_id")  # noqa: S608 - fixed column list
            return [Payment(*row) for row in rows]

        return await self._db.run(read)

    async def record_event(self, event_id: str, now_ms: int) -> bool:
        def record(conn: sqlite3.Connection) -> bool:
            with transaction(conn):
                conn.execute(
                    "DELETE FROM webhook_events WHERE recorded_at_ms < ?",
                    (now_ms - EVENT_RETENTION_MS,),
                )
                cursor = conn.execute(
                    "INSERT INTO webhook_events VALUES (?, ?) ON CONFLICT (event_id) DO NOTHING",
                    (event_id, now_ms),
                )
                return cursor.rowcount == 1

        return await self._db.run(record)

    async def has_event(self, event_id: str) -> bool:
        def read(conn: sqlite3.Connection) -> bool:
            row = conn.execute(
                "SELECT 1 FROM webhook_events WHERE event_id = ?", (event_id,)
            ).fetchone()
            return row is not None

        return await self._db.run(read)


def _read(conn: sqlite3.Connection, payment_id: str) -> Payment | None:
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM payments WHERE payment_id = ?",  # noqa: S608 - fixed column list; values are bound
        (payment_id,),
    ).fetchone()
    return None if row is None else Payment(*row)
