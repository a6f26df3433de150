"""Live figures of a show's drops: envelopes left, money given and left, grabs per second. Pure:
built from the counters the drop store holds.

Like the sales figures, they are sent at a fixed cadence and only when they change, never once
per grab. A closed drop is sent once more with its final counts, then left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .model import CLOSED
from .ports import DropCounts


@dataclass(frozen=True, slots=True)
class DropFigures:
    drops: Mapping[str, DropCounts] = field(default_factory=dict)

    def as_wire(self, before: DropFigures, interval_s: float) -> dict[str, Any]:
        wire = {}
        for drop_id, now in self.drops.items():
            then = before.drops.get(drop_id)
            grabbed = (then.left if then is not None else now.count) - now.left
            wire[drop_id] = {
                "status": now.status,
                "envelopes": now.count,
                "left": now.left,
                "given_minor": now.claimed_minor,
                "money_left_minor": now.budget_minor - now.claimed_minor,
                "grabs_per_s": round(max(grabbed, 0) / interval_s, 1),
            }
        return wire


def still_reported(drop_id: str, before: DropFigures) -> bool:
    """Whether a drop's figures are still wanted: not yet sent as closed."""
    then = before.drops.get(drop_id)
    return then is None or then.status != CLOSED
