"""How the socket handlers' answers are measured and logged: each handler registered through
`Answers` runs in the log context of its connection and its show (`gala.logs.log_context`), and
taps and console commands are counted into the node's metrics (gala/metrics.py) by outcome, `ok`
or the refusal's code (`internal_error` for an unexpected failure).

A tap (`buy`, `grab`) also has its time observed, from its arrival at the handler to its answer,
and an answered-ok tap is added to its show's running total on this node (`taps_of`): the total
each node reports with its presence, from which the consoles' orders/s and grabs/s are summed
over nodes, so /metrics and the console count the same taps. Counter children are resolved once
per outcome; nothing is logged per tap.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Container
from typing import Any

from prometheus_client import Counter

from gala.kernel.errors import GalaError
from gala.logs import log_context
from gala.metrics import Metrics
from gala.realtime.facade import Connection
from gala.stores.ports import TapTotals

Handler = Callable[[Connection, Any], Awaitable[Any]]
OK = "ok"
UNEXPECTED = "internal_error"
BUY, GRAB = "buy", "grab"


def outcome_of(error: Exception) -> str:
    return error.code if isinstance(error, GalaError) else UNEXPECTED


class _Outcomes:
    """One counter's children for a fixed first label, by outcome, each resolved on first use
    (the outcomes are the refusal codes: a small, fixed set)."""

    def __init__(self, counter: Counter, first: str) -> None:
        self._counter = counter
        self._first = first
        self._children = {OK: counter.labels(first, OK)}

    def inc(self, outcome: str) -> None:
        child = self._children.get(outcome)
        if child is None:
            child = self._children[outcome] = self._counter.labels(self._first, outcome)
        child.inc()


class Answers:
    def __init__(
        self, metrics: Metrics, show_ids: Container[str], store_check: Callable[[], None]
    ) -> None:
        self._metrics = metrics
        self._show_ids = show_ids
        # raises `store_replaced` while the store is not the one the node opened: no console
        # command is carried out on it (`gala/stores/store_guard.py`)
        self._store_check = store_check
        self._ok_taps: dict[tuple[str, str], int] = {}

    def taps_of(self, show_id: str) -> TapTotals:
        """The taps of the show this node answered ok since it started."""
        ok = self._ok_taps
        return TapTotals(ok.get((show_id, BUY), 0), ok.get((show_id, GRAB), 0))

    def _show_of(self, payload: Any) -> str | None:
        """The payload's show, when it names one this node runs (never an unchecked string)."""
        show_id = payload.get("show_id") if isinstance(payload, dict) else None
        return show_id if isinstance(show_id, str) and show_id in self._show_ids else None

    def logged(self, handler: Handler) -> Handler:
        """The handler, run in the log context of its connection and show."""

        async def answer(conn: Connection, payload: Any) -> Any:
            with log_context(show_id=self._show_of(payload), conn_id=conn.sid):
                return await handler(conn, payload)

        return answer

    def tap(self, kind: str, handler: Handler) -> Handler:
        """The handler of a tap: logged, counted by outcome and timed."""
        outcomes = _Outcomes(self._metrics.taps, kind)
        seconds = self._metrics.tap_seconds.labels(kind)
        ok_taps = self._ok_taps

        async def answer(conn: Connection, payload: Any) -> Any:
            started = time.perf_counter()
            show_id = self._show_of(payload)
            with log_context(show_id=show_id, conn_id=conn.sid):
                try:
                    result = await handler(conn, payload)
                except Exception as error:
                    outcomes.inc(outcome_of(error))
                    seconds.observe(time.perf_counter() - started)
                    raise
            outcomes.inc(OK)
            seconds.observe(time.perf_counter() - started)
            if show_id is not None:
                ok_taps[(show_id, kind)] = ok_taps.get((show_id, kind), 0) + 1
            return result

        return answer

    def command(self, command: str, handler: Handler) -> Handler:
        """The handler of a console command: logged and counted by outcome."""
        outcomes = _Outcomes(self._metrics.console_commands, command)

        async def answer(conn: Connection, payload: Any) -> Any:
            with log_context(show_id=self._show_of(payload), conn_id=conn.sid):
                try:
                    self._store_check()
                    result = await handler(conn, payload)
                except Exception as error:
                    outcomes.inc(outcome_of(error))
                    raise
            outcomes.inc(OK)
            return result

        return answer
