"""The cue engine: the rules of running a show, as a pure function of (sheet, state, command, now).

A show has a cue sheet (an ordered tuple of `Cue`s) and a `StageState`: its phase (pre_show, live,
ended), the cue on standby, and the timers that are running (a cue waiting out its pre-wait, or
the next cue of an auto-follow). `decide` takes one command and returns the new state plus what
happened (`Outcome`s: the show went live, a cue executed, the stage was panicked, ...); the service
turns outcomes into public events. Timers are data, not tasks: `Tick(now)` executes whatever is
due, so a server-side scheduler can drive them and they survive a console closing or a restart.

Cues execute in the order of the list. A GO names the cue it believes is on standby (two GOs
pressed together name the same cue, and only the first fires). The standby moves past a cue the
moment a GO triggers it, so a GO during its pre-wait never fires it twice; a GO while that
pre-wait runs is refused (`pre_wait_pending`), since the next cue would otherwise execute first.
A cue waiting on an auto-follow stays on standby with its timer: a GO fires it now (the timer is
consumed), and when the timer runs out first the standby moves on by itself. So a GO never skips
a pending cue and never lands before it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from gala.kernel.errors import Conflict, NotFound

PRE_SHOW = "pre_show"
LIVE = "live"
ENDED = "ended"
PHASES = (PRE_SHOW, LIVE, ENDED)

SHOW_PHASE_EVENT = "show.phase"


class ShowEnded(Conflict):
    code = "show_ended"


class ShowLive(Conflict):
    code = "show_live"


class ShowNotLive(Conflict):
    code = "show_not_live"


class StandbyChanged(Conflict):
    code = "standby_changed"


class EndOfCueList(Conflict):
    code = "end_of_cue_list"


class StartOfCueList(Conflict):
    code = "start_of_cue_list"


class PreWaitPending(Conflict):
    code = "pre_wait_pending"


class UnknownCue(NotFound):
    code = "unknown_cue"


@dataclass(frozen=True, slots=True)
class Cue:
    """One line of the run of show. `actions` are opaque here: the hub parses and executes them;
    `summary` says in words what each one does, for the console."""

    id: str
    number: str
    label: str
    notes: str = ""
    pre_wait_ms: int = 0
    auto_follow_ms: int | None = None
    actions: tuple[Any, ...] = ()
    summary: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Timer:
    """A cue that will execute at `due_ms`: `pre_wait` after a GO, or `auto_follow` of another."""

    cue_id: str
    due_ms: int
    reason: str

    def as_wire(self) -> dict[str, Any]:
        return {"cue_id": self.cue_id, "due_ms": self.due_ms, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class StageState:
    phase: str = PRE_SHOW
    standby_cue_id: str | None = None
    timers: tuple[Timer, ...] = ()
    last_cue_id: str | None = None
    started_at_ms: int | None = None
    ended_at_ms: int | None = None

    def as_wire(self) -> dict[str, Any]:
        return {
            "phase": self.phase,
            "standby_cue_id": self.standby_cue_id,
            "timers": [timer.as_wire() for timer in self.timers],
            "last_cue_id": self.last_cue_id,
            "started_at_ms": self.started_at_ms,
            "ended_at_ms": self.ended_at_ms,
        }

    @classmethod
    def from_wire(cls, raw: dict[str, Any]) -> StageState:
        return cls(
            phase=raw["phase"],
            standby_cue_id=raw["standby_cue_id"],
            timers=tuple(Timer(**timer) for timer in raw["timers"]),
            last_cue_id=raw["last_cue_id"],
            started_at_ms=raw["started_at_ms"],
            ended_at_ms=raw["ended_at_ms"],
        )

    def next_due_ms(self) -> int | None:
        return min((timer.due_ms for timer in self.timers), default=None)


def initial_state(sheet: Sequence[Cue]) -> StageState:
    return StageState(standby_cue_id=sheet[0].id if sheet else None)


# --- commands ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Go:
    """Fire the standby cue. `expected_standby` is the cue the console showed on standby."""

    expected_standby: str | None


@dataclass(frozen=True, slots=True)
class SetStandby:
    """Jump: put any cue on standby."""

    cue_id: str


@dataclass(frozen=True, slots=True)
class Back:
    """Move the standby one cue up the list."""


@dataclass(frozen=True, slots=True)
class Panic:
    """Clear every layer and stop every running timer. The standby stays where it is."""


@dataclass(frozen=True, slots=True)
class EndShow:
    pass


@dataclass(frozen=True, slots=True)
class Reset:
    """Rehearsal: back to pre-show with a fresh log (a new epoch). Refused while live."""


@dataclass(frozen=True, slots=True)
class Tick:
    """Execute every timer that is due."""


@dataclass(frozen=True, slots=True)
class ArmClock:
    """Automatic mode: when `armed`, run each `(cue id, due ms)` of `schedule` (the cues booked
    at a time of day) at its time, as a timer; disarmed, drop those timers. A GO of such a cue
    first replaces its timer (it runs once), and PANIC stops them like every timer."""

    armed: bool
    schedule: tuple[tuple[str, int], ...] = ()


Command = Go | SetStandby | Back | Panic | EndShow | Reset | Tick | ArmClock

TIME_OF_DAY = "time_of_day"
PRE_WAIT = "pre_wait"
AUTO_FOLLOW = "auto_follow"

# --- outcomes ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PhaseChanged:
    phase: str
    at_ms: int


@dataclass(frozen=True, slots=True)
class CueExecuted:
    cue: Cue
    at_ms: int


@dataclass(frozen=True, slots=True)
class StagePanicked:
    at_ms: int


@dataclass(frozen=True, slots=True)
class LogRecreated:
    at_ms: int


Outcome = PhaseChanged | CueExecuted | StagePanicked | LogRecreated


@dataclass(frozen=True, slots=True)
class Decision:
    state: StageState
    outcomes: tuple[Outcome, ...] = field(default_factory=tuple)


# --- the rules ---------------------------------------------------------------------------------


def decide(sheet: Sequence[Cue], state: StageState, command: Command, now_ms: int) -> Decision:
    """Apply one command. Raises a `Conflict`/`NotFound` subclass when it is refused."""
    if isinstance(command, Tick):
        return _run_due_timers(sheet, state, now_ms, ())
    if isinstance(command, Reset):
        if state.phase == LIVE:
            raise ShowLive("end the show before resetting it")
        return Decision(initial_state(sheet), (LogRecreated(now_ms),))
    if state.phase == ENDED:
        raise ShowEnded("the show has ended; reset it to run it again")
    if isinstance(command, Go):
        return _go(sheet, state, command, now_ms)
    if isinstance(command, ArmClock):
        return _arm_clock(sheet, state, command, now_ms)
    if isinstance(command, SetStandby):
        _index_of(sheet, command.cue_id)
        return Decision(replace(state, standby_cue_id=command.cue_id))
    if isinstance(command, Back):
        return Decision(replace(state, standby_cue_id=_previous_cue_id(sheet, state)))
    if isinstance(command, Panic):
        return Decision(replace(state, timers=()), (StagePanicked(now_ms),))
    ended = replace(state, phase=ENDED, timers=(), ended_at_ms=now_ms)
    return Decision(ended, (PhaseChanged(ENDED, now_ms),))


def _go(sheet: Sequence[Cue], state: StageState, command: Go, now_ms: int) -> Decision:
    if command.expected_standby != state.standby_cue_id:
        raise StandbyChanged(
            f"the standby cue is now {state.standby_cue_id!r}, not "
            f"{command.expected_standby!r}; another console moved it"
        )
    waiting = sorted((t for t in state.timers if t.reason == PRE_WAIT), key=lambda t: t.due_ms)
    if waiting:
        left_s = max(0, waiting[0].due_ms - now_ms) / 1000
        raise PreWaitPending(
            f"cue {waiting[0].cue_id!r} is still in its pre-wait ({left_s:.1f} s left); "
            "GO again once it has executed (PANIC stops it)"
        )
    standby_id = state.standby_cue_id
    outcomes: list[Outcome] = []
    follows = [t for t in state.timers if t.reason == AUTO_FOLLOW]
    if follows:
        # the pending auto-follows execute now, first: nothing fires ahead of a triggered cue
        others = tuple(t for t in state.timers if t.reason != AUTO_FOLLOW)
        brought = tuple(replace(t, due_ms=min(t.due_ms, now_ms)) for t in follows)
        decision = _run_due_timers(sheet, replace(state, timers=(*others, *brought)), now_ms, ())
        state, outcomes = decision.state, list(decision.outcomes)
        if any(isinstance(o, CueExecuted) and o.cue.id == standby_id for o in outcomes):
            return Decision(state, tuple(outcomes))
    if standby_id is None:
        if outcomes:
            return Decision(state, tuple(outcomes))
        raise EndOfCueList("no cue is on standby: the cue list is finished")
    if state.phase == PRE_SHOW:
        state = replace(state, phase=LIVE, started_at_ms=now_ms)
        outcomes.insert(0, PhaseChanged(LIVE, now_ms))
    index = _index_of(sheet, standby_id)
    cue = sheet[index]
    state = replace(state, standby_cue_id=_cue_id_at(sheet, index + 1))
    state = _schedule(state, Timer(cue.id, now_ms + cue.pre_wait_ms, PRE_WAIT))
    return _run_due_timers(sheet, state, now_ms, tuple(outcomes))


def _arm_clock(sheet: Sequence[Cue], state: StageState, command: ArmClock, now_ms: int) -> Decision:
    if state.phase != LIVE:
        raise ShowNotLive("automatic mode runs during the show: GO the first cue first")
    state = replace(state, timers=tuple(t for t in state.timers if t.reason != TIME_OF_DAY))
    if command.armed:
        for cue_id, due_ms in command.schedule:
            _index_of(sheet, cue_id)
            state = _schedule(state, Timer(cue_id, due_ms, TIME_OF_DAY))
    return _run_due_timers(sheet, state, now_ms, ())


def _run_due_timers(
    sheet: Sequence[Cue], state: StageState, now_ms: int, outcomes: tuple[Outcome, ...]
) -> Decision:
    """Execute due timers in due order (cue-list order for the same instant); an executed cue
    may schedule its auto-follow, which runs in the same call when it is already due (a chain of
    zero-delay follows executes at once). A cue that executes while on standby moves the
    standby on; a follower stays on standby until its timer runs out or a GO fires it."""
    done = list(outcomes)
    while True:
        due = [timer for timer in state.timers if timer.due_ms <= now_ms]
        if not due:
            return Decision(state, tuple(done))
        timer = min(due, key=lambda t: (t.due_ms, _index_of(sheet, t.cue_id)))
        state = replace(state, timers=tuple(t for t in state.timers if t is not timer))
        index = _index_of(sheet, timer.cue_id)
        cue = sheet[index]
        done.append(CueExecuted(cue, timer.due_ms))
        state = replace(state, last_cue_id=cue.id)
        if state.standby_cue_id == cue.id:
            state = replace(state, standby_cue_id=_cue_id_at(sheet, index + 1))
        follower_id = _cue_id_at(sheet, index + 1)
        if cue.auto_follow_ms is not None and follower_id is not None:
            follower = sheet[index + 1]
            due_ms = timer.due_ms + cue.auto_follow_ms + follower.pre_wait_ms
            state = _schedule(state, Timer(follower_id, due_ms, AUTO_FOLLOW))


def _schedule(state: StageState, timer: Timer) -> StageState:
    others = tuple(t for t in state.timers if t.cue_id != timer.cue_id)
    return replace(state, timers=(*others, timer))


def _previous_cue_id(sheet: Sequence[Cue], state: StageState) -> str:
    if not sheet:
        raise StartOfCueList("the cue list is empty")
    if state.standby_cue_id is None:
        return sheet[-1].id
    index = _index_of(sheet, state.standby_cue_id)
    if index == 0:
        raise StartOfCueList("the first cue is already on standby")
    return sheet[index - 1].id


def _index_of(sheet: Sequence[Cue], cue_id: str) -> int:
    for index, cue in enumerate(sheet):
        if cue.id == cue_id:
            return index
    raise UnknownCue(f"no cue {cue_id!r} in this show")


def _cue_id_at(sheet: Sequence[Cue], index: int) -> str | None:
    return sheet[index].id if index < len(sheet) else None


# --- the public fold -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ShowPhase:
    """The part of the viewer's snapshot stage control owns."""

    phase: str = PRE_SHOW
    started_at_ms: int | None = None
    ended_at_ms: int | None = None

    def as_wire(self) -> dict[str, Any]:
        return {
            "phase": self.phase,
            "started_at_ms": self.started_at_ms,
            "ended_at_ms": self.ended_at_ms,
        }


def phase_event_data(state: StageState) -> dict[str, Any]:
    return {
        "phase": state.phase,
        "started_at_ms": state.started_at_ms,
        "ended_at_ms": state.ended_at_ms,
    }


def fold(view: ShowPhase, event_type: str, data: dict[str, Any]) -> ShowPhase:
    if event_type != SHOW_PHASE_EVENT:
        return view
    return ShowPhase(data["phase"], data["started_at_ms"], data["ended_at_ms"])
