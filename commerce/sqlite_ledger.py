"""The SQLite adapter of `LedgerStore`: a transfer is one transaction (both legs and the record),
so nothing is ever half done and `finish_pending` has nothing to finish."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence

from gala.kernel.ledger import NON_NEGATIVE, InsufficientFunds, Transfer, TransferMismatch, kind_of
from gala.kernel.storage import SqliteRunner, transaction

SCHEMA: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS ledger_transfers (
        id TEXT PRIMARY KEY, source TEXT NOT NULL, destination TEXT NOT NULL,
        amount_minor INTEGER NOT NULL CHECK (amount_minor > 0), reason TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS ledger_balances (
        account TEXT PRIMARY KEY, balance_minor INTEGER NOT NULL)""",
)


class SqliteLedgerStore:
    def __init__(self, db: SqliteRunner) -> None:
        self._db = db

    async def post(self, transfer: Transfer) -> None:
        def post(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                post_in(conn, transfer)

        await self._db.run(post)

    async def balance(self, account_name: str) -> int:
        return await self._db.run(lambda conn: balance_in(conn, account_name))

    async def balances(self) -> dict[str, int]:
        def read(conn: sqlite3.Connection) -> dict[str, int]:
            rows = conn.execute(
                "SELECT account, balance_minor FROM ledger_balances ORDER BY account"
            )
            return {row[0]: row[1] for row in rows}

        return await self._db.run(read)

    async def transfers(self) -> list[Transfer]:
        def read(conn: sqlite3.Connection) -> list[Transfer]:
            rows = conn.execute(
                "SELECT id, source, destination, amount_minor, reason "
                "FROM ledger_transfers ORDER BY id"
            )
            return [Transfer(*row) for row in rows]

        return await self._db.run(read)

    async def transfer(self, transfer_id: str) -> Transfer | None:
        def read(conn: sqlite3.Connection) -> Transfer | None:
            row = conn.execute(
                "SELECT id, source, destination, amount_minor, reason "
                "FROM ledger_transfers WHERE id = ?",
                (transfer_id,),
            ).fetchone()
            return None if row is None else Transfer(*row)

        return await self._db.run(read)

    async def finish_pending(self) -> int:
        return 0


def post_in(conn: sqlite3.Connection, transfer: Transfer) -> None:
    """Apply the transfer inside the caller's transaction, exactly once (see `post`)."""
    row = conn.execute(
        "SELECT id, source, destination, amount_minor, reason FROM ledger_transfers WHERE id = ?",
        (transfer.id,),
    ).fetchone()
    if row is not None:
        if Transfer(*row) != transfer:
            raise TransferMismatch(f"transfer {transfer.id!r} was posted with other content")
        return
    balance = balance_in(conn, transfer.source)
    if kind_of(transfer.source) in NON_NEGATIVE and balance < transfer.amount_minor:
        raise InsufficientFunds(f"{transfer.source} holds {balance}, needs {transfer.amount_minor}")
    _add(conn, transfer.source, -transfer.amount_minor)
    _add(conn, transfer.destination, transfer.amount_minor)
    conn.execute(
        "INSERT INTO ledger_transfers VALUES (?, ?, ?, ?, ?)",
        (
            transfer.id,
            transfer.source,
            transfer.destination,
            transfer.amount_minor,
            transfer.reason,
        ),
    )


def balances_in(conn: sqlite3.Connection, accounts: Sequence[str]) -> dict[str, int]:
    """The balance of each of these accounts (0 when it has none yet), in one statement."""
    row = conn.execute(
        "SELECT json_group_object(b.account, b.balance_minor) FROM json_each(?) AS a "
        "CROSS JOIN ledger_balances AS b ON b.account = a.value",
        (json.dumps(accounts),),
    ).fetchone()
    found = {str(k): int(v) for k, v in json.loads(row[0]).items()}
    return {name: found.get(name, 0) for name in accounts}


def posted_in(conn: sqlite3.Connection, transfer_ids: Sequence[str]) -> dict[str, Transfer]:
    """The transfers among these ids already in the ledger, in one statement."""
    row = conn.execute(
        "SELECT json_group_array(json_array(t.id, t.source, t.destination, t.amount_minor, "
        "t.reason)) FROM json_each(?) AS i CROSS JOIN ledger_transfers AS t ON t.id = i.value",
        (json.dumps(transfer_ids),),
    ).fetchone()
    return {item[0]: Transfer(*item) for item in json.loads(row[0])}


def record_in(conn: sqlite3.Connection, transfers: Sequence[Transfer]) -> None:
    """Record new transfers and move their amounts, in two statements. The caller has checked
    what `post_in` checks (the ids are new, guarded sources hold the amounts)."""
    if not transfers:
        return
    deltas: dict[str, int] = {}
    for t in transfers:
        deltas[t.source] = deltas.get(t.source, 0) - t.amount_minor
        deltas[t.destination] = deltas.get(t.destination, 0) + t.amount_minor
    conn.execute(
        "INSERT INTO ledger_transfers SELECT value ->> 0, value ->> 1, value ->> 2, "
        "value ->> 3, value ->> 4 FROM json_each(?)",
        (
            json.dumps(
                [[t.id, t.source, t.destination, t.amount_minor, t.reason] for t in transfers]
            ),
        ),
    )
    conn.execute(
        "INSERT INTO ledger_balances SELECT key, value FROM json_each(?) WHERE true "
        "ON CONFLICT (account) DO UPDATE "
        "SET balance_minor = balance_minor + excluded.balance_minor",
        (json.dumps(deltas),),
    )


def balance_in(conn: sqlite3.Connection, account_name: str) -> int:
    row = conn.execute(
        "SELECT balance_minor FROM ledger_balances WHERE account = ?", (account_name,)
    ).fetchone()
    return int(row[0]) if row else 0


def _add(conn: sqlite3.Connection, account_name: str, amount_minor: int) -> None:
    conn.execute(
        "INSERT INTO ledger_balances VALUES (?, ?) ON CONFLICT (account) "
        "DO UPDATE SET balance_minor = balance_minor + excluded.balance_minor",
        (account_name, amount_minor),
    )
