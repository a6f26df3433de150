"""Red-envelope drops: the terms of a drop, the split of its budget into envelopes, and the rules
of grabbing and closing. Pure: commands in, new state out, no I/O, time and randomness passed in.

The split is computed once, when the drop is created, with the "double mean" method (each
envelope draws a uniform amount between 0 and twice the mean of what is left, above the minimum;
the last takes the rest) and then shuffled, so the envelopes are exchangeable: the k-th grabber's
amount has the same distribution for every k, and grabbing early or late does not change the
odds (docs/redpackets.md). A grab takes the next envelope in that order. One claim per viewer per
drop: a viewer's second grab returns its first claim. `claimed + remaining == budget` always, and
the last claim empties the drop exactly.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableSequence, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Protocol

from gala.kernel.errors import BadRequest, Conflict, NotFound

PENDING, LIVE, CANCELLED, CLOSED = "pending", "live", "cancelled", "closed"
MAX_ENVELOPES = 100_000
MAX_BUDGET_MINOR = 10**12


class BadDrop(BadRequest):
    code = "bad_drop"


class UnknownDrop(NotFound):
    code = "unknown_drop"


class DropUnfunded(Conflict):
    """The funder's budget cannot cover the drop: it is refused (or cancelled) before it opens."""

    code = "drop_unfunded"


class DropCancelled(Conflict):
    code = "drop_cancelled"


class NotOpen(Conflict):
    code = "not_open"


class DropClosed(Conflict):
    code = "closed"


class DropEmpty(Conflict):
    code = "empty"


class AlreadyGrabbed(Conflict):
    """A viewer's second grab: the answer carries the amount of its first one."""

    code = "already_grabbed"

    def __init__(self, amount_minor: int) -> None:
        super().__init__("you already grabbed an envelope of this drop")
        self.amount_minor = amount_minor

    def as_dict(self) -> dict[str, Any]:
        return {**super().as_dict(), "amount_minor": self.amount_minor}


class RandomSource(Protocol):
    """What the split needs of a random generator: `random.SystemRandom()` in production,
    `random.Random(seed)` in tests."""

    def randrange(self, start: int, stop: int) -> int: ...

    def shuffle(self, x: MutableSequence[Any]) -> None: ...


@dataclass(frozen=True, slots=True)
class DropTerms:
    drop_id: str
    show_id: str
    funder: str
    budget_minor: int
    count: int
    min_minor: int
    currency: str
    opens_at_ms: int
    closes_at_ms: int

    def __post_init__(self) -> None:
        for name in ("budget_minor", "count", "min_minor", "opens_at_ms", "closes_at_ms"):
            if type(getattr(self, name)) is not int:
                raise BadDrop(f"{name} must be a whole number")
        if not 1 <= self.count <= MAX_ENVELOPES:
            raise BadDrop(f"a drop has 1 to {MAX_ENVELOPES} envelopes")
        if self.min_minor < 1:
            raise BadDrop("the minimum envelope is at least 1 minor unit")
        if not self.count * self.min_minor <= self.budget_minor <= MAX_BUDGET_MINOR:
            raise BadDrop(
                f"the budget must cover {self.count} envelopes of at least {self.min_minor} "
                f"(and be at most {MAX_BUDGET_MINOR})"
            )
        if self.closes_at_ms <= self.opens_at_ms:
            raise BadDrop("a drop closes after it opens")


@dataclass(frozen=True, slots=True)
class Claim:
    drop_id: str
    viewer_id: str
    index: int
    amount_minor: int


def split(budget_minor: int, count: int, min_minor: int, rng: RandomSource) -> list[int]:
    """`count` amounts, each >= `min_minor`, summing exactly to `budget_minor`, in random order."""
    if count < 1 or min_minor < 1 or budget_minor < count * min_minor:
        raise BadDrop("the budget cannot cover that many envelopes at that minimum")
    extra = budget_minor - count * min_minor
    amounts = []
    for left in range(count, 1, -1):
        # Uniform on [0, 2 * mean of what is left]: never more than what is left (left >= 2).
        drawn = rng.randrange(0, 2 * extra // left + 1)
        amounts.append(min_minor + drawn)
        extra -= drawn
    amounts.append(min_minor + extra)
    rng.shuffle(amounts)
    return amounts


@dataclass(frozen=True, slots=True)
class DropState:
    terms: DropTerms
    amounts: Sequence[int]
    status: str = PENDING
    next_index: int = 0
    claims: Mapping[str, Claim] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def left(self) -> int:
        return self.terms.count - self.next_index


def new_drop(terms: DropTerms, amounts: Sequence[int]) -> DropState:
    if len(amounts) != terms.count or sum(amounts) != terms.budget_minor:
        raise BadDrop("the amounts do not split the budget into the drop's envelopes")
    return DropState(terms, tuple(amounts))


def activate(state: DropState, funded: bool) -> DropState:
    """A pending drop goes live once its escrow holds the budget, or is cancelled."""
    if state.status != PENDING:
        return state
    return replace(state, status=LIVE if funded else CANCELLED)


def grab(state: DropState, viewer_id: str, now_ms: int) -> tuple[DropState, Claim]:
    """Claim the next envelope for the viewer; a viewer's second grab raises `AlreadyGrabbed`
    with its first amount, whatever the drop's state."""
    known = state.claims.get(viewer_id)
    if known is not None:
        raise AlreadyGrabbed(known.amount_minor)
    terms = state.terms
    if state.status == CANCELLED:
        raise DropCancelled("this drop was cancelled")
    if state.next_index >= terms.count:  # also once the sweeper closed it for being empty
        raise DropEmpty("every envelope of this drop has been grabbed")
    if state.status == CLOSED or now_ms >= terms.closes_at_ms:
        raise DropClosed("this drop has closed")
    if state.status == PENDING or now_ms < terms.opens_at_ms:
        raise NotOpen("this drop has not opened yet")
    claim = Claim(terms.drop_id, viewer_id, state.next_index, state.amounts[state.next_index])
    claims = dict(state.claims)
    claims[viewer_id] = claim
    return replace(state, next_index=state.next_index + 1, claims=MappingProxyType(claims)), claim


def close_due(state: DropState, now_ms: int) -> bool:
    """Whether the drop should close now: its window is over, it is empty, or it was
    cancelled."""
    return state.status != CLOSED and (
        now_ms >= state.terms.closes_at_ms
        or state.next_index >= state.terms.count
        or state.status == CANCELLED
    )


def close(state: DropState, now_ms: int) -> DropState:
    """Close the drop when due; closing a closed drop (or one not due) changes nothing."""
    return replace(state, status=CLOSED) if close_due(state, now_ms) else state


def claimed_minor(state: DropState) -> int:
    return sum(state.amounts[: state.next_index])


def leftover_minor(state: DropState) -> int:
    """What goes back to the funder when the drop closes: the envelopes nobody grabbed."""
    return state.terms.budget_minor - claimed_minor(state)


def check(state: DropState) -> list[str]:
    """Every broken invariant of the drop (empty when sound)."""
    terms, problems = state.terms, []
    if len(state.amounts) != terms.count:
        problems.append(f"{len(state.amounts)} envelopes, the drop has {terms.count}")
    if sum(state.amounts) != terms.budget_minor:
        problems.append(f"envelopes add up to {sum(state.amounts)}, not {terms.budget_minor}")
    if state.amounts and min(state.amounts) < terms.min_minor:
        problems.append(f"an envelope of {min(state.amounts)} is below the minimum")
    if not 0 <= state.next_index <= terms.count:
        problems.append(f"next envelope {state.next_index} is outside the drop")
    indexes = sorted(claim.index for claim in state.claims.values())
    if indexes != list(range(state.next_index)):
        problems.append("the claims do not take each grabbed envelope exactly once")
    for claim in state.claims.values():
        if 0 <= claim.index < len(state.amounts) and (
            claim.amount_minor != state.amounts[claim.index]
        ):
            problems.append(f"{claim.viewer_id} claimed {claim.amount_minor}, not its envelope")
    claimed = sum(claim.amount_minor for claim in state.claims.values())
    remaining = sum(state.amounts[state.next_index :])
    if claimed + remaining != terms.budget_minor:
        problems.append(f"claimed {claimed} + remaining {remaining} != budget {terms.budget_minor}")
    return problems
