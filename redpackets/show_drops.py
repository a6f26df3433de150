"""Drops on the show log: the `drop.launch` cue action, the `drop.announced` event a launch
publishes (with the countdown's opening time and the window, in server time), and its fold into
the viewer's snapshot. Pure.

The event carries the drop's full terms, so every node knows the drop from the log alone and
launches it (idempotently) on first use: the sweeper, a grab or the figures, whichever comes
first. The envelopes themselves are never on the log: only the store knows them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from gala.kernel.errors import BadRequest
from gala.kernel.ids import is_valid_id
from gala.kernel.ledger import account
from gala.kernel.showlog import NewEvent

from .model import DropTerms

DROP_ANNOUNCED = "drop.announced"
EVENT_TYPES = (DROP_ANNOUNCED,)
ACTION_KINDS = ("drop.launch",)
SHOW_FUNDER = "show"
DEFAULT_COUNTDOWN_MS = 5_000
DEFAULT_DURATION_MS = 30_000
MAX_WINDOW_MS = 3_600_000


class DropActionError(BadRequest):
    code = "bad_action"


@dataclass(frozen=True, slots=True)
class LaunchDrop:
    """Drop `envelopes` envelopes sharing `budget_minor`, opening `countdown_ms` after the
    launch and closing `duration_ms` later, funded by a sponsor's budget or the show's own."""

    name: str
    funder: str
    budget_minor: int
    envelopes: int
    min_minor: int
    countdown_ms: int
    duration_ms: int


def funder_account(show_id: str, funder: str) -> str:
    """`show` is the show's own budget; any other name is a sponsor's budget."""
    if funder == SHOW_FUNDER:
        return account("show_budget", show_id)
    return account("sponsor_budget", funder)


# The bounds of a launch's numbers, for a cue's action and for the console's form alike.
LAUNCH_BOUNDS: Mapping[str, tuple[int, int]] = {
    "budget_minor": (1, 10**12),
    "envelopes": (1, 100_000),
    "min_minor": (1, 10**9),
    "countdown_ms": (0, MAX_WINDOW_MS),
    "duration_ms": (1_000, MAX_WINDOW_MS),
}
LAUNCH_DEFAULTS: Mapping[str, int] = {
    "min_minor": 1,
    "countdown_ms": DEFAULT_COUNTDOWN_MS,
    "duration_ms": DEFAULT_DURATION_MS,
}


def parse_launch(raw: Mapping[str, Any], sponsors: frozenset[str]) -> LaunchDrop:
    """Validate a cue's `drop.launch` action (a show file's table)."""
    name = raw.get("name", "drop")
    if not is_valid_id(name):
        raise DropActionError("drop.launch name must be an id of [a-z0-9-]")
    funder = raw.get("funder", SHOW_FUNDER)
    if not isinstance(funder, str):
        raise DropActionError("drop.launch funder must be 'show' or a sponsor id")
    numbers = {}
    for key, (low, high) in LAUNCH_BOUNDS.items():
        value = raw.get(key, LAUNCH_DEFAULTS.get(key))
        if type(value) is not int or not low <= value <= high:
            raise DropActionError(f"drop.launch {key} must be a whole number from {low} to {high}")
        numbers[key] = value
    return checked_launch(LaunchDrop(str(name), funder, **numbers), sponsors)


def checked_launch(launch: LaunchDrop, sponsors: frozenset[str]) -> LaunchDrop:
    """The rules a launch's fields obey together: a known funder, a budget that gives every
    envelope its minimum."""
    if launch.funder != SHOW_FUNDER and launch.funder not in sponsors:
        raise DropActionError(
            f"drop.launch funder must be 'show' or a sponsor, not {launch.funder!r}"
        )
    if launch.envelopes * launch.min_minor > launch.budget_minor:
        raise DropActionError("drop.launch budget_minor cannot give every envelope min_minor")
    return launch


def drop_id_for(show_id: str, name: str, launch: int | str) -> str:
    """One id per launch (a cue's: its name and time; the console's: its key); short enough
    for every id field and account name."""
    digest = hashlib.sha256(f"{show_id}\n{name}\n{launch}".encode()).hexdigest()[:20]
    return f"d-{digest}"


def events_for(
    show_id: str, currency: str, action: LaunchDrop, launched_at_ms: int, drop_id: str = ""
) -> list[NewEvent]:
    opens = launched_at_ms + action.countdown_ms
    data = {
        "drop_id": drop_id or drop_id_for(show_id, action.name, launched_at_ms),
        "name": action.name,
        "funder": action.funder,
        "funder_account": funder_account(show_id, action.funder),
        "budget_minor": action.budget_minor,
        "envelopes": action.envelopes,
        "min_minor": action.min_minor,
        "currency": currency,
        "opens_at_ms": opens,
        "closes_at_ms": opens + action.duration_ms,
    }
    return [NewEvent(DROP_ANNOUNCED, launched_at_ms, data)]


@dataclass(frozen=True, slots=True)
class AnnouncedDrop:
    """A drop as the show log announced it (`drop.announced`): its name and funder as the show
    wrote them, and its store terms, built once when the event is folded (a grab reads them,
    never the event's JSON)."""

    name: str
    funder: str
    terms: DropTerms

    @property
    def drop_id(self) -> str:
        return self.terms.drop_id

    def as_wire(self) -> dict[str, Any]:
        """The `drop.announced` data."""
        terms = self.terms
        return {
            "drop_id": terms.drop_id,
            "name": self.name,
            "funder": self.funder,
            "funder_account": terms.funder,
            "budget_minor": terms.budget_minor,
            "envelopes": terms.count,
            "min_minor": terms.min_minor,
            "currency": terms.currency,
            "opens_at_ms": terms.opens_at_ms,
            "closes_at_ms": terms.closes_at_ms,
        }


def announced_drop(show_id: str, data: Mapping[str, Any]) -> AnnouncedDrop:
    """The typed record of a `drop.announced` event's data (written by `events_for`)."""
    terms = DropTerms(
        str(data["drop_id"]),
        show_id,
        str(data["funder_account"]),
        int(data["budget_minor"]),
        int(data["envelopes"]),
        int(data["min_minor"]),
        str(data["currency"]),
        int(data["opens_at_ms"]),
        int(data["closes_at_ms"]),
    )
    return AnnouncedDrop(str(data["name"]), str(data["funder"]), terms)


@dataclass(frozen=True, slots=True)
class DropBoard:
    """The part of the viewer's snapshot drops own: every drop announced in the show, by id.
    The show's id is part of each drop's store terms."""

    show_id: str = ""
    drops: Mapping[str, AnnouncedDrop] = field(default_factory=dict)

    @classmethod
    def from_wire(cls, show_id: str, wire: Mapping[str, Mapping[str, Any]]) -> DropBoard:
        return cls(show_id, {drop_id: announced_drop(show_id, d) for drop_id, d in wire.items()})

    def as_wire(self) -> dict[str, Any]:
        return {drop_id: drop.as_wire() for drop_id, drop in self.drops.items()}


def fold(board: DropBoard, event_type: str, data: Mapping[str, Any]) -> DropBoard:
    if event_type == DROP_ANNOUNCED:
        if not board.show_id:
            raise ValueError("drops fold into the board of a named show (empty_snapshot)")
        drop = announced_drop(board.show_id, data)
        return replace(board, drops={**board.drops, drop.drop_id: drop})
    return board
