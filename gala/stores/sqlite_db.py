"""The embedded SQLite database: one connection on one thread, WAL, and in-process notifications.

Every call runs on a single worker thread, so transactions never interleave; `BEGIN IMMEDIATE`
makes each one atomic and durable on commit (WAL, synchronous=FULL survives a kill -9 of the
process). Notifications are per channel counters with asyncio events: the SQLite store serves one
node, so tailers only need to hear about writes made in this process.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


class SqliteDatabase:
    def __init__(self, path: str, schema: Iterable[str]) -> None:
        self._path = path
        self._schema = tuple(schema)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gala-sqlite")
        self._conn: sqlite3.Connection | None = None
        self._counters: dict[str, int] = {}
        self._events: dict[str, asyncio.Event] = {}

    async def open(self) -> None:
        self._conn = await asyncio.get_running_loop().run_in_executor(self._executor, self._connect)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self._path, isolation_level=None, check_same_thread=False, timeout=30
        )
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        # 64 MiB of page cache (the default is 2 MiB): a show's orders, claims and balances stay
        # in memory, so a batch of taps reads no page from the file
        conn.execute("PRAGMA cache_size=-65536")
        conn.execute("BEGIN IMMEDIATE")
        for statement in self._schema:
            conn.execute(statement)
        conn.execute("COMMIT")
        return conn

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await asyncio.get_running_loop().run_in_executor(self._executor, conn.close)
        self._executor.shutdown(wait=True)

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        conn = self._conn
        if conn is None:
            raise RuntimeError("the database is closed")
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, conn)

    def notify(self, channel: str) -> None:
        self._counters[channel] = self._counters.get(channel, 0) + 1
        event = self._events.pop(channel, None)
        if event is not None:
            event.set()

    async def wait(self, channel: str, seen: int, timeout_s: float) -> int:
        current = self._counters.get(channel, 0)
        if current != seen:
            return current
        event = self._events.setdefault(channel, asyncio.Event())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout_s)
        return self._counters.get(channel, 0)
