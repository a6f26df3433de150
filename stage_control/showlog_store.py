"""How every backend lays out a show's public log. Stage control appends to it, in the same atomic
step as the stage state (every public event is the effect of a cue or a console command); the
hub's show-log readers read it with the same layout:

- SQLite: `SHOWLOG_SCHEMA` tables and `append_events_sqlite`, called inside the adapter's
  transaction.
- Redis: `show_keys(show_id)` builds every key of a show's hash slot (`{show:ID}`); the entries of
  the `log` stream have globally increasing ids `<pos>-1`, so a tailer never goes back even when a
  reset recreates the log under a new epoch with seq starting again at 1.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from gala.kernel.showlog import LoggedEvent, NewEvent

SHOWLOG_SCHEMA: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS show_log_head (
        show_id TEXT PRIMARY KEY, epoch TEXT NOT NULL, seq INTEGER NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS show_log (
        pos INTEGER PRIMARY KEY AUTOINCREMENT, show_id TEXT NOT NULL, epoch TEXT NOT NULL,
        seq INTEGER NOT NULL, type TEXT NOT NULL, program_time_ms INTEGER NOT NULL,
        data TEXT NOT NULL, UNIQUE (show_id, epoch, seq))""",
    "CREATE INDEX IF NOT EXISTS show_log_by_show ON show_log (show_id, pos)",
)


def new_epoch() -> str:
    return secrets.token_hex(4)


def log_channel(show_id: str) -> str:
    """The SQLite notification channel woken after events are appended to a show's log."""
    return f"log:{show_id}"


def create_log_sqlite(conn: sqlite3.Connection, show_id: str, recreate: bool) -> str:
    """Start the show's log if it has none (or, with `recreate`, drop it and start a new epoch).
    Returns the current epoch. Call inside a transaction."""
    row = conn.execute("SELECT epoch FROM show_log_head WHERE show_id = ?", (show_id,)).fetchone()
    if row is not None and not recreate:
        return str(row["epoch"])
    epoch = new_epoch()
    conn.execute("DELETE FROM show_log WHERE show_id = ?", (show_id,))
    conn.execute(
        "INSERT INTO show_log_head (show_id, epoch, seq) VALUES (?, ?, 0) "
        "ON CONFLICT (show_id) DO UPDATE SET epoch = excluded.epoch, seq = 0",
        (show_id, epoch),
    )
    return epoch


def append_events_sqlite(
    conn: sqlite3.Connection, show_id: str, events: Sequence[NewEvent]
) -> list[LoggedEvent]:
    """Append `events` with consecutive seqs. Call inside the caller's transaction."""
    head = conn.execute(
        "SELECT epoch, seq FROM show_log_head WHERE show_id = ?", (show_id,)
    ).fetchone()
    if head is None:
        raise LookupError(f"show {show_id!r} has no log")
    epoch, seq = str(head["epoch"]), int(head["seq"])
    logged = []
    for event in events:
        seq += 1
        conn.execute(
            "INSERT INTO show_log (show_id, epoch, seq, type, program_time_ms, data) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                show_id,
                epoch,
                seq,
                event.type,
                event.program_time_ms,
                json.dumps(event.data, separators=(",", ":"), ensure_ascii=False),
            ),
        )
        logged.append(LoggedEvent(seq, epoch, event.type, event.program_time_ms, event.data))
    conn.execute("UPDATE show_log_head SET seq = ? WHERE show_id = ?", (seq, show_id))
    return logged


@dataclass(frozen=True, slots=True)
class ShowKeys:
    """Redis keys of one show, all in the hash slot `{show:ID}`."""

    stage: str
    log: str
    log_head: str
    audit: str
    control: str
    document: str
    presence: str


def show_keys(show_id: str, prefix: str = "gala") -> ShowKeys:
    tag = f"{prefix}:{{show:{show_id}}}"
    return ShowKeys(
        stage=f"{tag}:stage",
        log=f"{tag}:log",
        log_head=f"{tag}:loghead",
        audit=f"{tag}:audit",
        control=f"{tag}:ctl",
        document=f"{tag}:doc",
        presence=f"{tag}:presence",
    )


def redis_event_args(events: Sequence[NewEvent]) -> list[str]:
    """Script arguments for a batch of events: the count, then type, program time, data each."""
    args = [str(len(events))]
    for event in events:
        args += [
            event.type,
            str(event.program_time_ms),
            json.dumps(event.data, separators=(",", ":"), ensure_ascii=False),
        ]
    return args
