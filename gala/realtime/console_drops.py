"""Drops the console is responsible for: the funding check before a GO fires a cue that
launches one, and the console's own `drop:launch` (fund the escrow, then announce the drop on
the log). The realtime layer owns them because both read the node's show runtime (the snapshot
a retried launch finds its drop in); the money moves in `DropService`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gala.kernel.clock import Clock
from gala.realtime.show_runtime import ShowRuntime
from gala.runofshow.registry import ShowRegistry
from redpackets import show_drops
from redpackets.service import DropService
from stage_control.service import StageService

LAUNCH_FOLD_WAIT_S = 5.0


class ConsoleDrops:
    def __init__(
        self,
        shows: ShowRegistry,
        runtimes: Callable[[str], ShowRuntime],
        stage: StageService,
        drops: DropService,
        clock: Clock,
    ) -> None:
        self._shows = shows
        self._runtimes = runtimes
        self._stage = stage
        self._drops = drops
        self._clock = clock

    async def check_go_funds(self, show_id: str) -> None:
        """Refuse a GO whose cue would launch a drop its funder cannot cover (a timer-fired
        cue is not checked: its drop is cancelled at launch instead)."""
        state = await self._stage.state(show_id)
        cue = self._shows.get(show_id).cue(state.standby_cue_id) if state.standby_cue_id else None
        needed: dict[str, int] = {}
        for action in cue.actions if cue is not None else ():
            if isinstance(action, show_drops.LaunchDrop):
                funder = show_drops.funder_account(show_id, action.funder)
                needed[funder] = needed.get(funder, 0) + action.budget_minor
        await self._drops.check_funds(needed)

    async def launch(
        self, show_id: str, actor: str, key: str, launch: show_drops.LaunchDrop
    ) -> dict[str, Any]:
        """Launch a drop from the console (docs/protocol.md, `drop:launch`): fund it first,
        then announce it on the log; the `drop.announced` data. A retry with the same key
        returns the same drop."""
        show = self._shows.get(show_id)
        checked = show_drops.checked_launch(launch, frozenset(show.sponsors))
        runtime = self._runtimes(show.id)
        await runtime.channel.ready.wait()
        drop_id = show_drops.drop_id_for(show.id, "console", key)
        announced = runtime.channel.snapshot.drops.drops.get(drop_id)
        if announced is not None:
            return announced.as_wire()
        [event] = show_drops.events_for(
            show.id, show.currency, checked, self._clock.now_ms(), drop_id=drop_id
        )
        await self._drops.launch(show_drops.announced_drop(show.id, event.data).terms)
        [logged] = await self._stage.publish(show.id, actor, "drop", [event], {"drop_id": drop_id})
        # A retry of this key (after a lost ack) must find the drop in the snapshot.
        await runtime.channel.wait_until_folded(logged, LAUNCH_FOLD_WAIT_S)
        return event.data
