"""The red-envelope split and grab rules (pure): hypothesis properties of the split, its fairness
by position with a fixed seed, and the grab and close rules against a simple reference model."""

from __future__ import annotations

import random
from statistics import fmean, pstdev

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gala.kernel.errors import GalaError
from redpackets import model as rp
from redpackets import show_drops


def terms(count: int = 5, budget: int = 1_000, minimum: int = 1, **changes: int) -> rp.DropTerms:
    fields = {"opens_at_ms": 1_000, "closes_at_ms": 2_000, **changes}
    return rp.DropTerms("d-1", "show", "show_budget:show", budget, count, minimum, "CNY", **fields)


@settings(max_examples=400, deadline=None)
@given(
    count=st.integers(1, 300),
    minimum=st.integers(1, 500),
    extra=st.integers(0, 200_000),
    seed=st.integers(0, 2**32),
)
def test_split_adds_up_exactly_and_keeps_every_envelope_above_the_minimum(
    count: int, minimum: int, extra: int, seed: int
) -> None:
    budget = count * minimum + extra
    amounts = rp.split(budget, count, minimum, random.Random(seed))
    assert len(amounts) == count
    assert sum(amounts) == budget
    assert min(amounts) >= minimum
    assert all(type(a) is int for a in amounts)


def test_each_grab_position_gets_the_mean_on_average_whatever_the_order_of_grabbing() -> None:
    rng = random.Random(20261111)
    count, budget, runs = 10, 10_000, 20_000
    by_position = [[] for _ in range(count)]  # type: list[list[int]]
    for _ in range(runs):
        for position, amount in enumerate(rp.split(budget, count, 1, rng)):
            by_position[position].append(amount)
    means = [fmean(amounts) for amounts in by_position]
    # The standard error of each mean is about 7 (amounts spread about 1,000 around 1,000).
    assert all(abs(mean - budget / count) < 35 for mean in means), means
    # Unshuffled, the double mean gives later positions a wider spread (about 580 for the first,
    # 760 for the last); shuffled, every position has the same distribution (about 645).
    spreads = [pstdev(amounts) for amounts in by_position]
    assert max(spreads) / min(spreads) < 1.06, spreads


def test_a_budget_that_cannot_cover_the_minimum_is_refused() -> None:
    with pytest.raises(rp.BadDrop):
        rp.split(9, 10, 1, random.Random(1))
    with pytest.raises(rp.BadDrop):
        terms(count=10, budget=9)
    with pytest.raises(rp.BadDrop):
        terms(closes_at_ms=1_000)


def live_drop(count: int = 3) -> rp.DropState:
    t = terms(count=count, budget=600)
    return rp.activate(rp.new_drop(t, rp.split(600, count, 1, random.Random(7))), funded=True)


def test_second_grab_by_same_viewer_returns_first_amount_even_after_the_close() -> None:
    state, claim = rp.grab(live_drop(), "v1", 1_500)
    with pytest.raises(rp.AlreadyGrabbed) as again:
        rp.grab(state, "v1", 1_600)
    assert again.value.amount_minor == claim.amount_minor
    assert again.value.as_dict()["amount_minor"] == claim.amount_minor
    closed = rp.close(state, 2_000)
    with pytest.raises(rp.AlreadyGrabbed):
        rp.grab(closed, "v1", 2_500)


@pytest.mark.parametrize(
    ("now_ms", "code"),
    [(999, "not_open"), (2_000, "closed"), (5_000, "closed")],
)
def test_grabs_outside_the_window_are_refused(now_ms: int, code: str) -> None:
    with pytest.raises(GalaError) as refused:
        rp.grab(live_drop(), "v1", now_ms)
    assert refused.value.code == code


def test_pending_and_cancelled_drops_refuse_grabs() -> None:
    pending = rp.new_drop(terms(), rp.split(1_000, 5, 1, random.Random(1)))
    with pytest.raises(rp.NotOpen):
        rp.grab(pending, "v1", 1_500)
    cancelled = rp.activate(pending, funded=False)
    assert cancelled.status == rp.CANCELLED
    with pytest.raises(rp.DropCancelled):
        rp.grab(cancelled, "v1", 1_500)
    assert rp.close_due(cancelled, 1_500)


def test_the_last_claim_empties_the_drop_exactly_and_the_next_viewer_finds_it_empty() -> None:
    state = live_drop(count=3)
    claims = []
    for viewer in ("a", "b", "c"):
        state, claim = rp.grab(state, viewer, 1_500)
        claims.append(claim)
    assert sum(c.amount_minor for c in claims) == 600
    assert rp.leftover_minor(state) == 0
    with pytest.raises(rp.DropEmpty):
        rp.grab(state, "d", 1_500)
    assert rp.close_due(state, 1_500)
    assert rp.check(state) == []


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["grab", "close"]), st.sampled_from("abcdefg"), st.integers(0, 3_000)
        ),
        max_size=40,
    ),
    st.integers(1, 6),
)
def test_grabs_and_closes_match_a_reference_model(
    steps: list[tuple[str, str, int]], count: int
) -> None:
    budget = 100 * count
    amounts = rp.split(budget, count, 5, random.Random(count))
    state = rp.activate(rp.new_drop(terms(count=count, budget=budget, minimum=5), amounts), True)
    won: dict[str, int] = {}
    closed = False
    for kind, viewer, now in steps:
        if kind == "close":
            due = not closed and (now >= 2_000 or len(won) == count)
            state = rp.close(state, now)
            closed = closed or due
            assert (state.status == rp.CLOSED) == closed
            continue
        try:
            state, claim = rp.grab(state, viewer, now)
        except rp.AlreadyGrabbed as again:
            assert again.amount_minor == won[viewer]
            continue
        except GalaError as refused:
            expected = (
                "empty" if len(won) == count else "closed" if closed or now >= 2_000 else "not_open"
            )
            assert refused.code == expected
            assert viewer not in won
            continue
        assert viewer not in won and not closed and 1_000 <= now < 2_000
        assert claim.amount_minor == amounts[len(won)]
        won[viewer] = claim.amount_minor
        assert rp.check(state) == []
    assert sum(won.values()) + rp.leftover_minor(state) == budget


def test_a_launch_action_is_validated_and_announces_the_window() -> None:
    launch = show_drops.parse_launch(
        {"budget_minor": 88_800, "envelopes": 100, "countdown_ms": 3_000, "duration_ms": 20_000},
        frozenset({"aurora"}),
    )
    [event] = show_drops.events_for("gala", "CNY", launch, 10_000)
    assert event.data["opens_at_ms"] == 13_000 and event.data["closes_at_ms"] == 33_000
    assert event.data["funder_account"] == "show_budget:gala"
    announced = show_drops.announced_drop("gala", event.data)
    assert announced.terms.budget_minor == 88_800 and announced.terms.show_id == "gala"
    assert announced.as_wire() == event.data
    for bad in (
        {"budget_minor": 99, "envelopes": 100},
        {"budget_minor": 100, "envelopes": 0},
        {"budget_minor": "100", "envelopes": 1},
        {"budget_minor": 100, "envelopes": 1, "funder": "stranger"},
        {"budget_minor": 100, "envelopes": 1, "duration_ms": 10},
    ):
        with pytest.raises(show_drops.DropActionError):
            show_drops.parse_launch(bad, frozenset({"aurora"}))
