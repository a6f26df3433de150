"""The SQLite adapter of `ProductStore` and `BookingStore`. Each write is one `BEGIN IMMEDIATE`
transaction; a booking's conflict check (`model.check_conflicts`) reads the holding bookings of
its slot and of its sponsor inside the transaction that inserts it. Rows keep the wire JSON of
the product or booking, plus the columns the queries need."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from gala.kernel.errors import StoreConflict
from gala.kernel.storage import SqliteRunner, transaction

from . import model
from .model import Booking, Product, ProductExists, UnknownProduct

SCHEMA: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS sponsor_products (
        sponsor_id TEXT NOT NULL, product_id TEXT NOT NULL, data TEXT NOT NULL,
        PRIMARY KEY (sponsor_id, product_id))""",
    """CREATE TABLE IF NOT EXISTS sponsor_bookings (
        booking_id TEXT PRIMARY KEY, sponsor_id TEXT NOT NULL, show_id TEXT NOT NULL,
        slot_key TEXT NOT NULL, state TEXT NOT NULL, created_at_ms INTEGER NOT NULL,
        data TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS sponsor_bookings_by_slot ON sponsor_bookings (slot_key, state)",
    "CREATE INDEX IF NOT EXISTS sponsor_bookings_by_sponsor ON sponsor_bookings (sponsor_id)",
    "CREATE INDEX IF NOT EXISTS sponsor_bookings_by_show ON sponsor_bookings (show_id)",
)

_HOLDING = tuple(sorted(model.HOLDING))


def to_json(wire: dict[str, Any]) -> str:
    return json.dumps(wire, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class SqliteSponsorStore:
    def __init__(self, db: SqliteRunner) -> None:
        self._db = db

    # --- products ---

    async def create_product(self, product: Product) -> None:
        def create(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                cursor = conn.execute(
                    "INSERT INTO sponsor_products VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                    (product.sponsor_id, product.product_id, to_json(product.as_wire())),
                )
                if cursor.rowcount != 1:
                    raise ProductExists(f"you already have a product {product.product_id!r}")

        await self._db.run(create)

    async def replace_product(self, product: Product) -> None:
        def put(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                cursor = conn.execute(
                    "UPDATE sponsor_products SET data = ? WHERE sponsor_id = ? AND product_id = ?",
                    (to_json(product.as_wire()), product.sponsor_id, product.product_id),
                )
                if cursor.rowcount != 1:
                    raise UnknownProduct(f"you have no product {product.product_id!r}")

        await self._db.run(put)

    async def product(self, sponsor_id: str, product_id: str) -> Product | None:
        def read(conn: sqlite3.Connection) -> Product | None:
            row = conn.execute(
                "SELECT data FROM sponsor_products WHERE sponsor_id = ? AND product_id = ?",
                (sponsor_id, product_id),
            ).fetchone()
            return None if row is None else Product.from_wire(json.loads(row[0]))

        return await self._db.run(read)

    async def products(self, sponsor_id: str) -> list[Product]:
        def read(conn: sqlite3.Connection) -> list[Product]:
            rows = conn.execute(
                "SELECT data FROM sponsor_products WHERE sponsor_id = ? ORDER BY product_id",
                (sponsor_id,),
            )
            return [Product.from_wire(json.loads(row[0])) for row in rows]

        return await self._db.run(read)

    # --- bookings ---

    async def create_booking(self, booking: Booking, balance_minor: int) -> None:
        def create(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                rows = conn.execute(
                    "SELECT data FROM sponsor_bookings WHERE (slot_key = ? OR sponsor_id = ?) "
                    "AND state IN (?, ?)",
                    (booking.slot_key, booking.sponsor_id, *_HOLDING),
                )
                others = [Booking.from_wire(json.loads(row[0])) for row in rows]
                model.check_conflicts(booking, others, balance_minor)
                conn.execute(
                    "INSERT INTO sponsor_bookings VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        booking.booking_id,
                        booking.sponsor_id,
                        booking.show_id,
                        booking.slot_key,
                        booking.state,
                        booking.created_at_ms,
                        to_json(booking.as_wire()),
                    ),
                )

        await self._db.run(create)

    async def replace_booking(self, old: Booking, new: Booking) -> None:
        def put(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                cursor = conn.execute(
                    "UPDATE sponsor_bookings SET state = ?, data = ? "
                    "WHERE booking_id = ? AND data = ?",
                    (new.state, to_json(new.as_wire()), old.booking_id, to_json(old.as_wire())),
                )
                if cursor.rowcount != 1:
                    raise StoreConflict(old.booking_id)

        await self._db.run(put)

    async def booking(self, booking_id: str) -> Booking | None:
        def read(conn: sqlite3.Connection) -> Booking | None:
            row = conn.execute(
                "SELECT data FROM sponsor_bookings WHERE booking_id = ?", (booking_id,)
            ).fetchone()
            return None if row is None else Booking.from_wire(json.loads(row[0]))

        return await self._db.run(read)

    async def bookings(
        self, *, sponsor_id: str | None = None, show_id: str | None = None
    ) -> list[Booking]:
        def read(conn: sqlite3.Connection) -> list[Booking]:
            rows = conn.execute(
                "SELECT data FROM sponsor_bookings WHERE (? IS NULL OR sponsor_id = ?) "
                "AND (? IS NULL OR show_id = ?) ORDER BY created_at_ms, booking_id",
                (sponsor_id, sponsor_id, show_id, show_id),
            )
            return [Booking.from_wire(json.loads(row[0])) for row in rows]

        return await self._db.run(read)
