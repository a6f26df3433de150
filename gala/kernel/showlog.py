"""The shape of the show event log, shared by the hub and every feature that publishes to it.

A feature's use case decides `NewEvent`s; the store appends them atomically with the feature's own
state and returns `LoggedEvent`s, each with the next `seq` of the show's log and the log's `epoch`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class NewEvent:
    """A public event decided but not yet logged."""

    type: str
    program_time_ms: int
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    """A public event on the log: what viewers receive, exactly once, in `seq` order."""

    seq: int
    epoch: str
    type: str
    program_time_ms: int
    data: dict[str, Any]

    def as_wire(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "epoch": self.epoch,
            "type": self.type,
            "program_time_ms": self.program_time_ms,
            "data": self.data,
        }


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One line of a show's audit log: who did what, when."""

    at_ms: int
    actor: str
    action: str
    detail: dict[str, Any]

    def as_wire(self) -> dict[str, Any]:
        return {
            "at_ms": self.at_ms,
            "actor": self.actor,
            "action": self.action,
            "detail": self.detail,
        }
