"""The viewer's snapshot: the fold of a show's public log, composed from each feature's fold.

`ShowSnapshot.apply(event)` is the only way state changes, so "snapshot + later events == fresh
snapshot" holds by construction and is checked for every event type in the tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from commerce import show_sales
from gala.kernel.showlog import LoggedEvent
from overlays import model as overlays
from redpackets import show_drops
from stage_control import model as stage


@dataclass(frozen=True, slots=True)
class ShowSnapshot:
    epoch: str
    seq: int = 0
    phase: stage.ShowPhase = field(default_factory=stage.ShowPhase)
    screen: overlays.Screen = field(default_factory=overlays.Screen)
    sales: show_sales.SalesBoard = field(default_factory=show_sales.SalesBoard)
    drops: show_drops.DropBoard = field(default_factory=show_drops.DropBoard)

    def apply(self, event: LoggedEvent) -> ShowSnapshot:
        if event.epoch != self.epoch:
            raise ValueError("an event of another epoch cannot be folded into this snapshot")
        if event.seq != self.seq + 1:
            raise ValueError(f"event seq {event.seq} does not follow {self.seq}")
        return ShowSnapshot(
            epoch=self.epoch,
            seq=event.seq,
            phase=stage.fold(self.phase, event.type, event.data),
            screen=overlays.fold(self.screen, event.type, event.data),
            sales=show_sales.fold(self.sales, event.type, event.data),
            drops=show_drops.fold(self.drops, event.type, event.data),
        )

    def as_wire(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "seq": self.seq,
            "show": self.phase.as_wire(),
            "layers": self.screen.as_wire(),
            "sales": self.sales.as_wire(),
            "drops": self.drops.as_wire(),
        }


def empty_snapshot(show_id: str, epoch: str) -> ShowSnapshot:
    """The snapshot of a show's epoch before its first event."""
    return ShowSnapshot(epoch, drops=show_drops.DropBoard(show_id))


def fold_all(show_id: str, epoch: str, events: list[LoggedEvent]) -> ShowSnapshot:
    snapshot = empty_snapshot(show_id, epoch)
    for event in events:
        snapshot = snapshot.apply(event)
    return snapshot


PUBLIC_EVENT_TYPES: tuple[str, ...] = (
    stage.SHOW_PHASE_EVENT,
    *overlays.EVENT_TYPES,
    *show_sales.EVENT_TYPES,
    *show_drops.EVENT_TYPES,
)
