"""What stage control needs from the outside world.

`StageStore` keeps each show's `StageState` and appends to the show's public log and audit log in
the same atomic step; `CueEffects` turns an executed cue into the public events of the features it
drives (overlays, sales and drops), so stage control never knows what a cue does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from gala.kernel.showlog import AuditEntry, LoggedEvent, NewEvent

from .model import Cue, StageState


@dataclass(frozen=True, slots=True)
class Versioned:
    state: StageState
    version: int


class StageStore(Protocol):
    async def install_stage(self, show_id: str, initial: StageState) -> bool:
        """Create the show's stage state (version 0) and an empty log with a new epoch, unless
        the show is installed already. Atomic and idempotent; True when it created them."""
        ...

    async def load_stage(self, show_id: str) -> Versioned | None:
        """The show's stage state and its version, or None when the show was never installed."""
        ...

    async def commit_stage(
        self,
        show_id: str,
        expected_version: int,
        state: StageState,
        events: Sequence[NewEvent],
        audit: Sequence[AuditEntry],
        recreate_log: bool = False,
    ) -> list[LoggedEvent]:
        """Atomically: if the stored version is still `expected_version`, save `state` as version
        + 1, (when `recreate_log`) drop the show's log and start it again under a new epoch at
        seq 0, append `events` to the log with consecutive seqs, and append `audit`. Returns the
        logged events. Raises `StoreConflict` (and changes nothing) when the version moved.
        Not idempotent by itself: the version check is what makes a retried decision safe."""
        ...

    async def append_audit(self, show_id: str, entry: AuditEntry) -> None:
        """Append one audit entry (for refused commands). Atomic, not idempotent."""
        ...

    async def wait_stage_change(self, show_id: str, cursor: str | None, timeout_s: float) -> str:
        """Wait until the stage changed after `cursor` (or `timeout_s` passed) and return the new
        cursor; an unchanged cursor means nothing changed. `cursor=None` returns the current
        cursor at once. Changes may coalesce; a change after `cursor` is never missed."""
        ...


class CueEffects(Protocol):
    def events_for_cue(self, show_id: str, cue: Cue, program_time_ms: int) -> list[NewEvent]:
        """The public events of executing `cue` at `program_time_ms`. Pure; must not fail for a
        cue that was validated when the show was loaded."""
        ...

    def events_for_panic(self, show_id: str, program_time_ms: int) -> list[NewEvent]:
        """The public events that clear every layer of every feature."""
        ...


class CueSheets(Protocol):
    def sheet(self, show_id: str) -> Sequence[Cue]:
        """The show's cue sheet; raises `NotFound` for an unknown show."""
        ...
