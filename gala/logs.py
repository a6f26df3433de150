"""Log lines: one JSON object per line (python-json-logger over the standard library's logging),
each carrying the node id and, where the code runs for one, the show, connection, order or drop
id, taken from context variables that the edges set (`log_context`). `GALA_LOG_FORMAT=text`
gives plain lines for a person at a terminal.

Nothing on a hot path logs per viewer: the fan-out and the taps count into metrics instead.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from contextvars import ContextVar

from pythonjsonlogger.json import JsonFormatter

CONTEXT_FIELDS = ("show_id", "conn_id", "order_id", "drop_id")
_context: dict[str, ContextVar[str | None]] = {
    name: ContextVar(f"gala_log_{name}", default=None) for name in CONTEXT_FIELDS
}


@contextlib.contextmanager
def log_context(**ids: str | None) -> Iterator[None]:
    """Within the block (and the tasks it starts), log lines carry these ids."""
    tokens = [(_context[name], _context[name].set(value)) for name, value in ids.items()]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


class _ContextFilter(logging.Filter):
    def __init__(self, node_id: str) -> None:
        super().__init__()
        self._node_id = node_id

    def filter(self, record: logging.LogRecord) -> bool:
        record.node_id = self._node_id
        for name, var in _context.items():
            if not hasattr(record, name) and (value := var.get()) is not None:
                setattr(record, name, value)
        return True


def configure_logging(level: str, node_id: str, fmt: str = "json") -> None:
    """The process's one log handler, on standard error."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_ContextFilter(node_id))
    if fmt == "json":
        handler.setFormatter(
            JsonFormatter(
                "%(levelname)s %(name)s %(message)s",
                rename_fields={"levelname": "level", "name": "logger"},
                timestamp="time",  # ISO 8601, UTC
            )
        )
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(node_id)s]: %(message)s")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
