"""Stage control use cases: load the stage state, decide (pure), commit with the new public
events and the audit line in one atomic step, and retry when another console or node won the race.

Publishing is the store's job: a committed event reaches every node's fan-out through the log, so
nothing is sent before the commit succeeded.
"""

from __future__ import annotations

import logging
from typing import Any

from gala.kernel.clock import Clock
from gala.kernel.errors import GalaError, NotFound, StoreConflict
from gala.kernel.showlog import AuditEntry, LoggedEvent, NewEvent

from . import model
from .ports import CueEffects, CueSheets, StageStore

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 20


class ShowNotInstalled(NotFound):
    code = "unknown_show"


class StageService:
    def __init__(
        self, store: StageStore, sheets: CueSheets, effects: CueEffects, clock: Clock
    ) -> None:
        self._store = store
        self._sheets = sheets
        self._effects = effects
        self._clock = clock

    async def state(self, show_id: str) -> model.StageState:
        loaded = await self._store.load_stage(show_id)
        if loaded is None:
            raise ShowNotInstalled(f"no show {show_id!r}")
        return loaded.state

    async def go(self, show_id: str, actor: str, expected_standby: str | None) -> model.StageState:
        return await self._run(
            show_id, actor, "go", model.Go(expected_standby), {"expected_standby": expected_standby}
        )

    async def set_standby(self, show_id: str, actor: str, cue_id: str) -> model.StageState:
        return await self._run(
            show_id, actor, "standby", model.SetStandby(cue_id), {"cue_id": cue_id}
        )

    async def back(self, show_id: str, actor: str) -> model.StageState:
        return await self._run(show_id, actor, "back", model.Back(), {})

    async def panic(self, show_id: str, actor: str) -> model.StageState:
        return await self._run(show_id, actor, "panic", model.Panic(), {})

    async def end_show(self, show_id: str, actor: str) -> model.StageState:
        return await self._run(show_id, actor, "end", model.EndShow(), {})

    async def reset(self, show_id: str, actor: str) -> model.StageState:
        return await self._run(show_id, actor, "reset", model.Reset(), {})

    async def publish(
        self, show_id: str, actor: str, action: str, events: list[NewEvent], detail: dict[str, Any]
    ) -> list[LoggedEvent]:
        """Append public events that are not a cue (a drop launched from the console) with their
        audit line, in one atomic step that leaves the stage as it is."""
        for _attempt in range(MAX_ATTEMPTS):
            loaded = await self._store.load_stage(show_id)
            if loaded is None:
                raise ShowNotInstalled(f"no show {show_id!r}")
            audit = [AuditEntry(self._clock.now_ms(), actor, action, detail)]
            try:
                return await self._store.commit_stage(
                    show_id, loaded.version, loaded.state, events, audit, recreate_log=False
                )
            except StoreConflict:
                continue
        raise GalaError("the stage is too busy; try again", code="busy")

    async def arm_clock(
        self, show_id: str, actor: str, armed: bool, schedule: tuple[tuple[str, int], ...]
    ) -> model.StageState:
        """Automatic mode on (with the timed cues' schedule) or off; audited."""
        detail = {"armed": armed, "cues": [cue_id for cue_id, _due in schedule]}
        return await self._run(show_id, actor, "auto", model.ArmClock(armed, schedule), detail)

    async def tick(self, show_id: str) -> model.StageState:
        """Execute due timers. Audited only when a cue actually executed."""
        return await self._run(show_id, "timer", "timer", model.Tick(), {})

    async def _run(
        self, show_id: str, actor: str, action: str, command: model.Command, detail: dict[str, Any]
    ) -> model.StageState:
        sheet = self._sheets.sheet(show_id)
        for _attempt in range(MAX_ATTEMPTS):
            loaded = await self._store.load_stage(show_id)
            if loaded is None:
                raise ShowNotInstalled(f"no show {show_id!r}")
            now_ms = self._clock.now_ms()
            try:
                decision = model.decide(sheet, loaded.state, command, now_ms)
            except GalaError as refused:
                if not isinstance(command, model.Tick):
                    entry = AuditEntry(now_ms, actor, action, {**detail, "refused": refused.code})
                    await self._store.append_audit(show_id, entry)
                raise
            if isinstance(command, model.Tick) and not decision.outcomes:
                return loaded.state
            events = self._events(show_id, decision)
            executed = [o.cue.id for o in decision.outcomes if isinstance(o, model.CueExecuted)]
            audit = [AuditEntry(now_ms, actor, action, {**detail, "executed": executed})]
            recreate = any(isinstance(o, model.LogRecreated) for o in decision.outcomes)
            try:
                await self._store.commit_stage(
                    show_id, loaded.version, decision.state, events, audit, recreate_log=recreate
                )
            except StoreConflict:
                continue
            return decision.state
        raise GalaError("the stage is too busy; try again", code="busy")

    def _events(self, show_id: str, decision: model.Decision) -> list[NewEvent]:
        events: list[NewEvent] = []
        for outcome in decision.outcomes:
            if isinstance(outcome, model.PhaseChanged | model.LogRecreated):
                events.append(
                    NewEvent(
                        model.SHOW_PHASE_EVENT,
                        outcome.at_ms,
                        model.phase_event_data(decision.state),
                    )
                )
            elif isinstance(outcome, model.CueExecuted):
                events.extend(self._effects.events_for_cue(show_id, outcome.cue, outcome.at_ms))
            else:
                events.extend(self._effects.events_for_panic(show_id, outcome.at_ms))
        return events
