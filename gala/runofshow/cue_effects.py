"""The wiring that lets a cue drive features: what executing a cue publishes.

Stage control knows cues, not what they do; this module turns each parsed action of an executed
cue into the public events of the feature that owns it (overlays, sales opening or closing,
red-envelope drops launching), which is why it lives in the hub and not in any one feature.
"""

from __future__ import annotations

from collections.abc import Callable

from commerce import show_sales
from gala.kernel.showlog import NewEvent
from overlays import model as overlays
from redpackets import show_drops
from stage_control.model import Cue


class ShowCueEffects:
    def __init__(self, currency_of: Callable[[str], str]) -> None:
        self._currency_of = currency_of

    def events_for_cue(self, show_id: str, cue: Cue, program_time_ms: int) -> list[NewEvent]:
        events: list[NewEvent] = []
        for action in cue.actions:
            if isinstance(action, show_sales.OpenSale | show_sales.CloseSale):
                events.extend(show_sales.events_for(show_id, action, program_time_ms))
            elif isinstance(action, show_drops.LaunchDrop):
                currency = self._currency_of(show_id)
                events.extend(show_drops.events_for(show_id, currency, action, program_time_ms))
            else:
                events.extend(overlays.events_for(action, program_time_ms))
        return events

    def events_for_panic(self, show_id: str, program_time_ms: int) -> list[NewEvent]:
        return overlays.events_for(overlays.ClearStage(), program_time_ms)
