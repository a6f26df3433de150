"""The producer namespace `/producer`, the stage console: join a show's console, GO, standby
(jump), back, panic, end, reset, audit, automatic mode, launch a drop, edit the run of show, time
ping. (Reveal bookings are `booking_handlers.py`.)

Each handler parses its payload into a typed command (`commands.py`), calls one service and
returns the ack's data. Only producers reach these messages: the facade admits no other role on
`/producer`, and turns raised errors into acks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gala.kernel.clock import Clock
from gala.realtime.answers import Answers
from gala.realtime.commands import (
    ArmAuto,
    Go,
    LaunchConsoleDrop,
    PingClock,
    ReadAudit,
    ShowCommand,
    Standby,
    parse,
    parse_cue_edit,
)
from gala.realtime.console_drops import ConsoleDrops
from gala.realtime.facade import PRODUCER_NS, Connection, Realtime
from gala.realtime.show_runtime import ShowRuntime, console_room
from gala.runofshow.registry import ShowRegistry
from stage_control.service import StageService


class ConsoleHandlers:
    def __init__(
        self,
        realtime: Realtime,
        shows: ShowRegistry,
        runtimes: Callable[[str], ShowRuntime],
        stage: StageService,
        drops: ConsoleDrops,
        clock: Clock,
        answers: Answers,
    ) -> None:
        self._realtime = realtime
        self._shows = shows
        self._runtimes = runtimes
        self._stage = stage
        self._drops = drops
        self._clock = clock
        self._answers = answers

    def register(self) -> None:
        """Commands that change the show are counted by outcome (`answers.py`); every handler
        but the clock ping runs in its log context."""
        on, answers = self._realtime.handle, self._answers
        on(PRODUCER_NS, "time", self.time)
        on(PRODUCER_NS, "console:join", answers.logged(self.console_join))
        on(PRODUCER_NS, "audit", answers.logged(self.audit))
        commands = {
            "go": self.go,
            "standby": self.standby,
            "back": self.back,
            "panic": self.panic,
            "end": self.end,
            "reset": self.reset,
            "drop:launch": self.launch_drop,
            "auto": self.auto,
            "cue:edit": self.edit_cue,
        }
        for command, handler in commands.items():
            on(PRODUCER_NS, command, answers.command(command, handler))

    def _show_id(self, payload: Any) -> str:
        return self._shows.get(parse(ShowCommand, payload).show_id).id

    async def time(self, conn: Connection, payload: Any) -> dict[str, Any]:
        """The NTP-style ping of `/`, for the console's clock."""
        return {"t0": parse(PingClock, payload).t0, "server_ms": self._clock.now_ms()}

    async def console_join(self, conn: Connection, payload: Any) -> dict[str, Any]:
        show = self._shows.get(self._show_id(payload))
        runtime = self._runtimes(show.id)
        await self._realtime.join(conn, console_room(show.id))
        return {
            "show": show.public_info(),
            "cues": show.cue_list(),
            **await runtime.console_state(),
            "presence": await runtime.presence_totals(),
        }

    async def go(self, conn: Connection, payload: Any) -> dict[str, Any]:
        command = parse(Go, payload)
        show_id = self._shows.get(command.show_id).id
        await self._drops.check_go_funds(show_id)
        state = await self._stage.go(show_id, conn.identity.subject, command.standby_cue_id)
        return state.as_wire()

    async def standby(self, conn: Connection, payload: Any) -> dict[str, Any]:
        command = parse(Standby, payload)
        show_id = self._shows.get(command.show_id).id
        state = await self._stage.set_standby(show_id, conn.identity.subject, command.cue_id)
        return state.as_wire()

    async def back(self, conn: Connection, payload: Any) -> dict[str, Any]:
        return (await self._stage.back(self._show_id(payload), conn.identity.subject)).as_wire()

    async def panic(self, conn: Connection, payload: Any) -> dict[str, Any]:
        return (await self._stage.panic(self._show_id(payload), conn.identity.subject)).as_wire()

    async def end(self, conn: Connection, payload: Any) -> dict[str, Any]:
        return (await self._stage.end_show(self._show_id(payload), conn.identity.subject)).as_wire()

    async def reset(self, conn: Connection, payload: Any) -> dict[str, Any]:
        return (await self._stage.reset(self._show_id(payload), conn.identity.subject)).as_wire()

    async def audit(self, conn: Connection, payload: Any) -> dict[str, Any]:
        command = parse(ReadAudit, payload)
        show_id = self._shows.get(command.show_id).id
        return {"entries": await self._runtimes(show_id).audit(command.limit)}

    async def auto(self, conn: Connection, payload: Any) -> dict[str, Any]:
        """Arm or disarm automatic mode: booked time-of-day cues fire at their time."""
        command = parse(ArmAuto, payload)
        show_id = self._shows.get(command.show_id).id
        state = await self._runtimes(show_id).arm_clock(conn.identity.subject, command.armed)
        return state.as_wire()

    async def edit_cue(self, conn: Connection, payload: Any) -> dict[str, Any]:
        """Add, remove, move or edit a cue of the run of show (docs/protocol.md, `cue:edit`)."""
        command = parse_cue_edit(payload)
        show_id = self._shows.get(command.show_id).id
        return await self._runtimes(show_id).edit_run_of_show(conn.identity.subject, command.edit)

    async def launch_drop(self, conn: Connection, payload: Any) -> dict[str, Any]:
        """Launch a drop from the console (docs/protocol.md, `drop:launch`)."""
        command = parse(LaunchConsoleDrop, payload)
        drop = await self._drops.launch(
            command.show_id, conn.identity.subject, command.key, command.launch()
        )
        return {"drop": drop}
