"""The SQLite adapter of `SaleStore`. Each operation is one `BEGIN IMMEDIATE` transaction that
loads just the part of the sale the rule needs (the counters, the viewer's count, the order of an
idempotency key), applies the pure rule from `sale.py` to it, and writes the result back."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from gala.kernel.storage import SqliteRunner, transaction

from . import sale
from .errors import UnknownSale
from .ports import SaleCounts
from .sale import Order, SaleState, SaleTerms

SCHEMA: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS sales (
        sale_id TEXT PRIMARY KEY, product_id TEXT NOT NULL, price_minor INTEGER NOT NULL,
        stock INTEGER NOT NULL, per_viewer_limit INTEGER NOT NULL, opens_at_ms INTEGER NOT NULL,
        closes_at_ms INTEGER, hold_ms INTEGER NOT NULL, status TEXT NOT NULL,
        left_units INTEGER NOT NULL, held_units INTEGER NOT NULL, sold_units INTEGER NOT NULL,
        CHECK (left_units >= 0 AND held_units >= 0 AND sold_units >= 0),
        CHECK (left_units + held_units + sold_units = stock))""",
    """CREATE TABLE IF NOT EXISTS sale_orders (
        sale_id TEXT NOT NULL, order_id TEXT NOT NULL, viewer_id TEXT NOT NULL,
        idem_key TEXT NOT NULL, quantity INTEGER NOT NULL, amount_minor INTEGER NOT NULL,
        state TEXT NOT NULL, expires_at_ms INTEGER NOT NULL,
        PRIMARY KEY (sale_id, order_id), UNIQUE (sale_id, viewer_id, idem_key))""",
    # Only held orders are looked up by expiry, and a wallet tap's order is paid when it is
    # written: a partial index costs a paid order no index entry.
    "DROP INDEX IF EXISTS sale_orders_holds",
    """CREATE INDEX IF NOT EXISTS sale_orders_held
        ON sale_orders (sale_id, expires_at_ms) WHERE state = 'held'""",
    """CREATE TABLE IF NOT EXISTS sale_taken (
        sale_id TEXT NOT NULL, viewer_id TEXT NOT NULL, units INTEGER NOT NULL,
        PRIMARY KEY (sale_id, viewer_id))""",
    # A viewer's idempotency key, bound to the one request it names (`service.key_request`)
    """CREATE TABLE IF NOT EXISTS tap_keys (
        viewer_id TEXT NOT NULL, idem_key TEXT NOT NULL, request TEXT NOT NULL,
        PRIMARY KEY (viewer_id, idem_key)) WITHOUT ROWID""",
)

_ORDER_COLUMNS = "order_id, viewer_id, idem_key, quantity, amount_minor, state, expires_at_ms"


class SqliteSaleStore:
    def __init__(self, db: SqliteRunner) -> None:
        self._db = db

    async def create_sale(self, terms: SaleTerms) -> bool:
        def create(conn: sqlite3.Connection) -> bool:
            with transaction(conn):
                cursor = conn.execute(
                    "INSERT INTO sales VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0) "
                    "ON CONFLICT (sale_id) DO NOTHING",
                    (
                        terms.sale_id,
                        terms.product_id,
                        terms.price_minor,
                        terms.stock,
                        terms.per_viewer_limit,
                        terms.opens_at_ms,
                        terms.closes_at_ms,
                        terms.hold_ms,
                        sale.SCHEDULED,
                        terms.stock,
                    ),
                )
                return cursor.rowcount == 1

        return await self._db.run(create)

    async def set_sale_status(self, sale_id: str, status: str) -> None:
        def update(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                cursor = conn.execute(
                    "UPDATE sales SET status = ? WHERE sale_id = ?", (status, sale_id)
                )
                if cursor.rowcount != 1:
                    raise UnknownSale(f"no sale {sale_id!r}")

        await self._db.run(update)

    async def reserve(
        self, sale_id: str, order_id: str, viewer_id: str, key: str, quantity: int, now_ms: int
    ) -> Order:
        def reserve(conn: sqlite3.Connection) -> Order:
            with transaction(conn):
                return reserve_in(conn, sale_id, order_id, viewer_id, key, quantity, now_ms)

        return await self._db.run(reserve)

    async def pay(self, sale_id: str, order_id: str) -> Order:
        def pay(conn: sqlite3.Connection) -> Order:
            with transaction(conn):
                return pay_in(conn, sale_id, order_id)

        return await self._db.run(pay)

    async def expire(self, sale_id: str, now_ms: int) -> list[Order]:
        def expire(conn: sqlite3.Connection) -> list[Order]:
            with transaction(conn):
                state = _load(conn, sale_id, due_by_ms=now_ms)
                new_state, released = sale.expire(state, now_ms)
                if released:
                    _save_counters(conn, new_state)
                    for order in released:
                        _save_order_state(conn, sale_id, new_state.orders[order.id])
                        _save_taken(
                            conn, sale_id, order.viewer_id, new_state.taken[order.viewer_id]
                        )
                return [new_state.orders[order.id] for order in released]

        return await self._db.run(expire)

    async def bind_key(self, viewer_id: str, key: str, request: str) -> str:
        def bind(conn: sqlite3.Connection) -> str:
            with transaction(conn):
                return bind_keys_in(conn, [(viewer_id, key, request)])[(viewer_id, key)]

        return await self._db.run(bind)

    async def taken(self, sale_id: str) -> dict[str, int]:
        def read(conn: sqlite3.Connection) -> dict[str, int]:
            rows = conn.execute(
                "SELECT viewer_id, units FROM sale_taken WHERE sale_id = ?", (sale_id,)
            ).fetchall()
            return {str(row[0]): int(row[1]) for row in rows}

        return await self._db.run(read)

    async def due_holds(self, sale_id: str, now_ms: int) -> list[Order]:
        def read(conn: sqlite3.Connection) -> list[Order]:
            # the partial index sale_orders_held finds them
            rows = conn.execute(
                f"SELECT {_ORDER_COLUMNS} FROM sale_orders WHERE sale_id = ? AND state = 'held' "  # noqa: S608 - fixed column list; values are bound
                "AND expires_at_ms <= ? ORDER BY order_id",
                (sale_id, now_ms),
            ).fetchall()
            return [_order(row) for row in rows]

        return await self._db.run(read)

    async def counts(self, sale_id: str) -> SaleCounts:
        def read(conn: sqlite3.Connection) -> SaleCounts:
            row = conn.execute(
                "SELECT status, left_units, held_units, sold_units FROM sales WHERE sale_id = ?",
                (sale_id,),
            ).fetchone()
            if row is None:
                raise UnknownSale(f"no sale {sale_id!r}")
            return SaleCounts(row[0], row[1], row[2], row[3])

        return await self._db.run(read)

    async def sale_terms(self, sale_id: str) -> SaleTerms:
        return (await self._db.run(lambda conn: _load(conn, sale_id))).terms

    async def sale_ids(self) -> list[str]:
        def read(conn: sqlite3.Connection) -> list[str]:
            return [row[0] for row in conn.execute("SELECT sale_id FROM sales ORDER BY sale_id")]

        return await self._db.run(read)

    async def orders(self, sale_id: str) -> list[Order]:
        def read(conn: sqlite3.Connection) -> list[Order]:
            rows = conn.execute(
                f"SELECT {_ORDER_COLUMNS} FROM sale_orders WHERE sale_id = ? ORDER BY order_id",  # noqa: S608 - fixed column list and clauses; values are bound
                (sale_id,),
            ).fetchall()
            return [_order(row) for row in rows]

        return await self._db.run(read)

    async def orders_of(self, sale_id: str, viewer_id: str) -> list[Order]:
        def read(conn: sqlite3.Connection) -> list[Order]:
            # the (sale_id, viewer_id, idem_key) unique index finds them
            rows = conn.execute(
                f"SELECT {_ORDER_COLUMNS} FROM sale_orders WHERE sale_id = ? AND viewer_id = ? "  # noqa: S608 - fixed column list; values are bound
                "ORDER BY order_id",
                (sale_id, viewer_id),
            ).fetchall()
            return [_order(row) for row in rows]

        return await self._db.run(read)

    async def order(self, sale_id: str, order_id: str) -> Order | None:
        def read(conn: sqlite3.Connection) -> Order | None:
            row = conn.execute(
                f"SELECT {_ORDER_COLUMNS} FROM sale_orders WHERE sale_id = ? AND order_id = ?",  # noqa: S608 - fixed column list; values are bound
                (sale_id, order_id),
            ).fetchone()
            return None if row is None else _order(row)

        return await self._db.run(read)


def reserve_in(
    conn: sqlite3.Connection,
    sale_id: str,
    order_id: str,
    viewer_id: str,
    key: str,
    quantity: int,
    now_ms: int,
) -> Order:
    """`sale.reserve` inside the caller's transaction."""
    state = _load(conn, sale_id, viewer_id=viewer_id, key=key)
    new_state, order = sale.reserve(state, order_id, viewer_id, key, quantity, now_ms)
    if new_state is not state:
        _save_counters(conn, new_state)
        _save_taken(conn, sale_id, viewer_id, new_state.taken[viewer_id])
        conn.execute(
            f"INSERT INTO sale_orders (sale_id, {_ORDER_COLUMNS}) "  # noqa: S608 - fixed column list and clauses; values are bound
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (sale_id, *_row(order)),
        )
    return order


def pay_in(conn: sqlite3.Connection, sale_id: str, order_id: str) -> Order:
    """`sale.pay` inside the caller's transaction."""
    state = _load(conn, sale_id, order_id=order_id)
    new_state = sale.pay(state, order_id)
    order = new_state.orders[order_id]
    if new_state is not state:
        _save_counters(conn, new_state)
        _save_order_state(conn, sale_id, order)
    return order


def load_counters(conn: sqlite3.Connection, sale_id: str) -> SaleState:
    """The sale's terms, status and counters, without any order or viewer count."""
    return _load(conn, sale_id)


def orders_of_keys_in(
    conn: sqlite3.Connection, sale_id: str, keys: Sequence[tuple[str, str]]
) -> list[Order]:
    """The orders of these (viewer, key) pairs, in one statement."""
    row = conn.execute(
        "SELECT json_group_array(json_array(o.order_id, o.viewer_id, o.idem_key, o.quantity, "
        "o.amount_minor, o.state, o.expires_at_ms)) FROM json_each(?) AS k "
        "CROSS JOIN sale_orders AS o ON o.sale_id = ? AND o.viewer_id = k.value ->> 0 "
        "AND o.idem_key = k.value ->> 1",
        (json.dumps(keys), sale_id),
    ).fetchone()
    return [_order(item) for item in json.loads(row[0])]


def bind_keys_in(
    conn: sqlite3.Connection, requests: Sequence[tuple[str, str, str]]
) -> dict[tuple[str, str], str]:
    """Bind each (viewer, key) not bound yet to its request; returns the request every one of
    them is bound to (the first one given wins), in two statements."""
    given = json.dumps(requests)
    conn.execute(
        "INSERT OR IGNORE INTO tap_keys (viewer_id, idem_key, request) "
        "SELECT value ->> 0, value ->> 1, value ->> 2 FROM json_each(?)",
        (given,),
    )
    row = conn.execute(
        "SELECT json_group_array(json_array(t.viewer_id, t.idem_key, t.request)) "
        "FROM json_each(?) AS k CROSS JOIN tap_keys AS t "
        "ON t.viewer_id = k.value ->> 0 AND t.idem_key = k.value ->> 1",
        (given,),
    ).fetchone()
    return {(v, k): request for v, k, request in json.loads(row[0])}


def taken_in(conn: sqlite3.Connection, sale_id: str, viewers: Sequence[str]) -> dict[str, int]:
    """The units held and bought by each of these viewers (absent: none), in one statement."""
    row = conn.execute(
        "SELECT json_group_object(t.viewer_id, t.units) FROM json_each(?) AS v "
        "CROSS JOIN sale_taken AS t ON t.sale_id = ? AND t.viewer_id = v.value",
        (json.dumps(viewers), sale_id),
    ).fetchone()
    return {str(k): int(v) for k, v in json.loads(row[0]).items()}


def record_taps_in(
    conn: sqlite3.Connection,
    state: SaleState,
    new_orders: Sequence[Order],
    paid_order_ids: Sequence[str],
    taken: Mapping[str, int],
) -> None:
    """Write what a batch of taps decided, in a fixed number of statements: the sale's counters
    (`state`), the new orders, the orders now paid, the viewers' counts."""
    sale_id = state.terms.sale_id
    _save_counters(conn, state)
    if new_orders:
        conn.execute(
            f"INSERT INTO sale_orders (sale_id, {_ORDER_COLUMNS}) "  # noqa: S608 - fixed column list; values are bound
            "SELECT ?, value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, "
            "value ->> 5, value ->> 6 FROM json_each(?)",
            (sale_id, json.dumps([_row(order) for order in new_orders])),
        )
    if paid_order_ids:
        conn.execute(
            "UPDATE sale_orders SET state = 'paid' WHERE sale_id = ? "
            "AND order_id IN (SELECT value FROM json_each(?))",
            (sale_id, json.dumps(paid_order_ids)),
        )
    if taken:
        conn.execute(
            "INSERT INTO sale_taken SELECT ?, key, value FROM json_each(?) WHERE true "
            "ON CONFLICT (sale_id, viewer_id) DO UPDATE SET units = excluded.units",
            (sale_id, json.dumps(taken)),
        )


def _load(
    conn: sqlite3.Connection,
    sale_id: str,
    *,
    viewer_id: str | None = None,
    key: str | None = None,
    order_id: str | None = None,
    due_by_ms: int | None = None,
) -> SaleState:
    """The sale's counters plus only the orders and viewer counts the rule will look at."""
    row = conn.execute("SELECT * FROM sales WHERE sale_id = ?", (sale_id,)).fetchone()
    if row is None:
        raise UnknownSale(f"no sale {sale_id!r}")
    terms = SaleTerms(
        row["sale_id"],
        row["product_id"],
        row["price_minor"],
        row["stock"],
        row["per_viewer_limit"],
        row["opens_at_ms"],
        row["closes_at_ms"],
        row["hold_ms"],
    )
    where, args = "0", ()  # type: tuple[str, tuple[object, ...]]
    if viewer_id is not None:
        where, args = "viewer_id = ? AND idem_key = ?", (viewer_id, key)
    elif order_id is not None:
        where, args = "order_id = ?", (order_id,)
    elif due_by_ms is not None:
        where, args = "state = 'held' AND expires_at_ms <= ?", (due_by_ms,)
    orders = {
        o.id: o
        for o in map(
            _order,
            conn.execute(
                f"SELECT {_ORDER_COLUMNS} FROM sale_orders WHERE sale_id = ? AND {where}",  # noqa: S608 - fixed column list and clauses; values are bound
                (sale_id, *args),
            ),
        )
    }
    viewers = {o.viewer_id for o in orders.values()} | ({viewer_id} if viewer_id else set())
    taken = {}
    for viewer in viewers:
        found = conn.execute(
            "SELECT units FROM sale_taken WHERE sale_id = ? AND viewer_id = ?", (sale_id, viewer)
        ).fetchone()
        taken[viewer] = found[0] if found else 0
    return SaleState(
        terms,
        row["status"],
        row["left_units"],
        row["held_units"],
        row["sold_units"],
        MappingProxyType(taken),
        MappingProxyType(orders),
        MappingProxyType({(o.viewer_id, o.key): o.id for o in orders.values()}),
    )


def _save_counters(conn: sqlite3.Connection, state: SaleState) -> None:
    conn.execute(
        "UPDATE sales SET left_units = ?, held_units = ?, sold_units = ? WHERE sale_id = ?",
        (state.left, state.held, state.sold, state.terms.sale_id),
    )


def _save_taken(conn: sqlite3.Connection, sale_id: str, viewer_id: str, units: int) -> None:
    conn.execute(
        "INSERT INTO sale_taken VALUES (?, ?, ?) ON CONFLICT (sale_id, viewer_id) "
        "DO UPDATE SET units = excluded.units",
        (sale_id, viewer_id, units),
    )


def _save_order_state(conn: sqlite3.Connection, sale_id: str, order: Order) -> None:
    conn.execute(
        "UPDATE sale_orders SET state = ? WHERE sale_id = ? AND order_id = ?",
        (order.state, sale_id, order.id),
    )


def _row(order: Order) -> tuple[object, ...]:
    return (
        order.id,
        order.viewer_id,
        order.key,
        order.quantity,
        order.amount_minor,
        order.state,
        order.expires_at_ms,
    )


def _order(row: Sequence[Any]) -> Order:
    return Order(
        str(row[0]), str(row[1]), str(row[2]), int(row[3]), int(row[4]), str(row[5]), int(row[6])
    )
