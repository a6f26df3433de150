"""Protocols for the storage handles the app factory passes to each feature's store adapters.

Adapters receive a `SqliteRunner` (one connection, serialized, on its own thread) or a Redis client;
these protocols let features use them without importing the hub. Pure typing, no I/O here.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Protocol, TypeVar

T = TypeVar("T")


class SqliteRunner(Protocol):
    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn` with the connection on the database thread; calls never overlap."""
        ...

    def notify(self, channel: str) -> None:
        """Wake every waiter of `channel` (same process only: SQLite is the one-node store)."""
        ...

    async def wait(self, channel: str, seen: int, timeout_s: float) -> int:
        """Wait until `channel` has been notified past `seen` (or the timeout); return the new
        count. Start with `seen=-1` to return at once."""
        ...


def transaction(conn: sqlite3.Connection) -> _Transaction:
    """`with transaction(conn):` runs BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any error."""
    return _Transaction(conn)


class _Transaction:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self._conn.execute("BEGIN IMMEDIATE")
        return self._conn

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self._conn.execute("COMMIT" if exc_type is None else "ROLLBACK")
