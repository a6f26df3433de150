"""The SQLite adapter of `DropStore`. Each operation is one `BEGIN IMMEDIATE` transaction that
loads the drop's counters and only the rows the rule looks at (the viewer's claim, the next
envelope), applies the pure rule from `model.py`, and writes the result back."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from types import MappingProxyType
from typing import overload

from gala.kernel.storage import SqliteRunner, transaction

from . import model
from .model import Claim, DropState, DropTerms, UnknownDrop
from .ports import DropCounts

SCHEMA: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS drops (
        drop_id TEXT PRIMARY KEY, show_id TEXT NOT NULL, funder TEXT NOT NULL,
        budget_minor INTEGER NOT NULL, envelopes INTEGER NOT NULL, min_minor INTEGER NOT NULL,
        currency TEXT NOT NULL, opens_at_ms INTEGER NOT NULL, closes_at_ms INTEGER NOT NULL,
        status TEXT NOT NULL, next_index INTEGER NOT NULL, claimed_minor INTEGER NOT NULL,
        CHECK (next_index >= 0 AND next_index <= envelopes),
        CHECK (claimed_minor >= 0 AND claimed_minor <= budget_minor))""",
    """CREATE INDEX IF NOT EXISTS drops_by_show ON drops (show_id)""",
    """CREATE TABLE IF NOT EXISTS drop_envelopes (
        drop_id TEXT NOT NULL, idx INTEGER NOT NULL, amount_minor INTEGER NOT NULL,
        PRIMARY KEY (drop_id, idx))""",
    """CREATE TABLE IF NOT EXISTS drop_claims (
        drop_id TEXT NOT NULL, viewer_id TEXT NOT NULL, idx INTEGER NOT NULL,
        amount_minor INTEGER NOT NULL, credited INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (drop_id, viewer_id), UNIQUE (drop_id, idx))""",
    """CREATE INDEX IF NOT EXISTS drop_claims_uncredited ON drop_claims (drop_id, credited)""",
)


class SqliteDropStore:
    def __init__(self, db: SqliteRunner) -> None:
        self._db = db

    async def create_drop(self, terms: DropTerms, amounts: list[int]) -> bool:
        model.new_drop(terms, amounts)  # refuses amounts that do not split the budget

        def create(conn: sqlite3.Connection) -> bool:
            with transaction(conn):
                cursor = conn.execute(
                    "INSERT INTO drops VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0) "
                    "ON CONFLICT (drop_id) DO NOTHING",
                    (
                        terms.drop_id,
                        terms.show_id,
                        terms.funder,
                        terms.budget_minor,
                        terms.count,
                        terms.min_minor,
                        terms.currency,
                        terms.opens_at_ms,
                        terms.closes_at_ms,
                        model.PENDING,
                    ),
                )
                if cursor.rowcount != 1:
                    return False
                conn.executemany(
                    "INSERT INTO drop_envelopes VALUES (?, ?, ?)",
                    ((terms.drop_id, index, amount) for index, amount in enumerate(amounts)),
                )
                return True

        return await self._db.run(create)

    async def activate(self, drop_id: str, funded: bool) -> str:
        def activate(conn: sqlite3.Connection) -> str:
            with transaction(conn):
                state = model.activate(_load(conn, drop_id), funded)
                _save_status(conn, state)
                return state.status

        return await self._db.run(activate)

    async def grab(self, drop_id: str, viewer_id: str, now_ms: int) -> Claim:
        def grab(conn: sqlite3.Connection) -> Claim:
            with transaction(conn):
                return grab_in(conn, drop_id, viewer_id, now_ms)

        return await self._db.run(grab)

    async def claim_of(self, drop_id: str, viewer_id: str) -> Claim | None:
        def read(conn: sqlite3.Connection) -> Claim | None:
            row = conn.execute(
                "SELECT idx, amount_minor FROM drop_claims WHERE drop_id = ? AND viewer_id = ?",
                (drop_id, viewer_id),
            ).fetchone()
            return None if row is None else Claim(drop_id, viewer_id, int(row[0]), int(row[1]))

        return await self._db.run(read)

    async def mark_credited(self, drop_id: str, viewer_id: str) -> None:
        def mark(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                mark_credited_in(conn, drop_id, viewer_id)

        await self._db.run(mark)

    async def uncredited(self, drop_id: str) -> list[Claim]:
        return await self._claims(drop_id, "AND credited = 0")

    async def claims(self, drop_id: str) -> list[Claim]:
        return await self._claims(drop_id, "")

    async def _claims(self, drop_id: str, where: str) -> list[Claim]:
        def read(conn: sqlite3.Connection) -> list[Claim]:
            rows = conn.execute(
                "SELECT viewer_id, idx, amount_minor FROM drop_claims "  # noqa: S608 - a fixed clause; values are bound
                f"WHERE drop_id = ? {where} ORDER BY idx",
                (drop_id,),
            )
            return [Claim(drop_id, str(row[0]), int(row[1]), int(row[2])) for row in rows]

        return await self._db.run(read)

    async def close(self, drop_id: str, now_ms: int) -> DropCounts:
        def close(conn: sqlite3.Connection) -> DropCounts:
            with transaction(conn):
                state = model.close(_load(conn, drop_id), now_ms)
                _save_status(conn, state)
                return _counts(conn, drop_id)

        return await self._db.run(close)

    async def counts(self, drop_id: str) -> DropCounts:
        return await self._db.run(lambda conn: _counts(conn, drop_id))

    async def terms(self, drop_id: str) -> DropTerms:
        return await self._db.run(lambda conn: _load(conn, drop_id).terms)

    async def amounts(self, drop_id: str) -> list[int]:
        def read(conn: sqlite3.Connection) -> list[int]:
            rows = conn.execute(
                "SELECT amount_minor FROM drop_envelopes WHERE drop_id = ? ORDER BY idx",
                (drop_id,),
            )
            return [int(row[0]) for row in rows]

        return await self._db.run(read)

    async def drop_ids(self, show_id: str | None = None) -> list[str]:
        def read(conn: sqlite3.Connection) -> list[str]:
            if show_id is None:
                rows = conn.execute("SELECT drop_id FROM drops ORDER BY drop_id")
            else:
                rows = conn.execute(
                    "SELECT drop_id FROM drops WHERE show_id = ? ORDER BY drop_id", (show_id,)
                )
            return [str(row[0]) for row in rows]

        return await self._db.run(read)


class _StoredEnvelopes(Sequence[int]):
    """The drop's envelopes as the pure rules see them, read one at a time: a grab looks at
    one envelope, so it need not load a thousand."""

    def __init__(self, conn: sqlite3.Connection, drop_id: str, count: int) -> None:
        self._conn, self._drop_id, self._count = conn, drop_id, count

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, index: int) -> int: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[int]: ...

    def __getitem__(self, index: int | slice) -> int | Sequence[int]:
        if isinstance(index, slice):
            rows = self._conn.execute(
                "SELECT amount_minor FROM drop_envelopes WHERE drop_id = ? ORDER BY idx",
                (self._drop_id,),
            )
            return [int(row[0]) for row in rows][index]
        row = self._conn.execute(
            "SELECT amount_minor FROM drop_envelopes WHERE drop_id = ? AND idx = ?",
            (self._drop_id, index),
        ).fetchone()
        if row is None:
            raise IndexError(index)
        return int(row[0])


def grab_in(conn: sqlite3.Connection, drop_id: str, viewer_id: str, now_ms: int) -> Claim:
    """`model.grab` inside the caller's transaction; the claim is recorded uncredited."""
    _, claim = model.grab(_load(conn, drop_id, viewer_id), viewer_id, now_ms)
    conn.execute(
        "UPDATE drops SET next_index = next_index + 1, "
        "claimed_minor = claimed_minor + ? WHERE drop_id = ?",
        (claim.amount_minor, drop_id),
    )
    conn.execute(
        "INSERT INTO drop_claims VALUES (?, ?, ?, ?, 0)",
        (drop_id, viewer_id, claim.index, claim.amount_minor),
    )
    return claim


def load_drop(conn: sqlite3.Connection, drop_id: str) -> DropState:
    """The drop's terms, status and next envelope, without any claim."""
    return _load(conn, drop_id)


def claims_in(conn: sqlite3.Connection, drop_id: str, viewers: Sequence[str]) -> dict[str, Claim]:
    """The claims of these viewers on the drop, in one statement."""
    row = conn.execute(
        "SELECT json_group_array(json_array(c.viewer_id, c.idx, c.amount_minor)) "
        "FROM json_each(?) AS v CROSS JOIN drop_claims AS c "
        "ON c.drop_id = ? AND c.viewer_id = v.value",
        (json.dumps(viewers), drop_id),
    ).fetchone()
    return {v: Claim(drop_id, v, int(i), int(a)) for v, i, a in json.loads(row[0])}


def amounts_in(conn: sqlite3.Connection, drop_id: str, start: int, stop: int) -> list[int]:
    """The envelopes `start` to `stop - 1`, in order, in one statement."""
    row = conn.execute(
        "SELECT json_group_array(amount_minor) FROM (SELECT amount_minor FROM drop_envelopes "
        "WHERE drop_id = ? AND idx >= ? AND idx < ? ORDER BY idx)",
        (drop_id, start, stop),
    ).fetchone()
    return [int(a) for a in json.loads(row[0])]


def record_claims_in(conn: sqlite3.Connection, drop_id: str, claims: Sequence[Claim]) -> None:
    """Write the new claims of a batch, credited (the caller posts their credits in the same
    transaction), and move the drop's counters past them, in two statements."""
    if not claims:
        return
    conn.execute(
        "INSERT INTO drop_claims SELECT ?, value ->> 0, value ->> 1, value ->> 2, 1 "
        "FROM json_each(?)",
        (drop_id, json.dumps([[c.viewer_id, c.index, c.amount_minor] for c in claims])),
    )
    conn.execute(
        "UPDATE drops SET next_index = next_index + ?, claimed_minor = claimed_minor + ? "
        "WHERE drop_id = ?",
        (len(claims), sum(c.amount_minor for c in claims), drop_id),
    )


def mark_credited_in(conn: sqlite3.Connection, drop_id: str, viewer_id: str) -> None:
    conn.execute(
        "UPDATE drop_claims SET credited = 1 WHERE drop_id = ? AND viewer_id = ?",
        (drop_id, viewer_id),
    )


def _load(conn: sqlite3.Connection, drop_id: str, viewer_id: str | None = None) -> DropState:
    row = conn.execute("SELECT * FROM drops WHERE drop_id = ?", (drop_id,)).fetchone()
    if row is None:
        raise UnknownDrop(f"no drop {drop_id!r}")
    terms = DropTerms(
        row["drop_id"],
        row["show_id"],
        row["funder"],
        row["budget_minor"],
        row["envelopes"],
        row["min_minor"],
        row["currency"],
        row["opens_at_ms"],
        row["closes_at_ms"],
    )
    claims = {}
    if viewer_id is not None:
        found = conn.execute(
            "SELECT idx, amount_minor FROM drop_claims WHERE drop_id = ? AND viewer_id = ?",
            (drop_id, viewer_id),
        ).fetchone()
        if found is not None:
            claims[viewer_id] = Claim(drop_id, viewer_id, int(found[0]), int(found[1]))
    return DropState(
        terms,
        _StoredEnvelopes(conn, drop_id, terms.count),
        row["status"],
        row["next_index"],
        MappingProxyType(claims),
    )


def _save_status(conn: sqlite3.Connection, state: DropState) -> None:
    conn.execute(
        "UPDATE drops SET status = ? WHERE drop_id = ?", (state.status, state.terms.drop_id)
    )


def _counts(conn: sqlite3.Connection, drop_id: str) -> DropCounts:
    row = conn.execute(
        "SELECT status, envelopes, next_index, claimed_minor, budget_minor FROM drops "
        "WHERE drop_id = ?",
        (drop_id,),
    ).fetchone()
    if row is None:
        raise UnknownDrop(f"no drop {drop_id!r}")
    return DropCounts(row[0], row[1], row[1] - row[2], row[3], row[4])
