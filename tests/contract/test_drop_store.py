"""One contract for every drop store backend (SQLite and Redis), with the drop service on top: the
rules of `redpackets/model.py` applied atomically under concurrency, and exact money through the
ledger (fund, credit once, refund the leftover once)."""

from __future__ import annotations

import asyncio
import random

import pytest

from gala.kernel.clock import ManualClock
from gala.kernel.errors import GalaError
from gala.kernel.ledger import account
from gala.stores.factory import StoreBundle
from redpackets import model as rp
from redpackets.service import DropService, credit_transfer, escrow_of, fund_transfer
from tests.support import code_of

FUNDER = account("sponsor_budget", "aurora")
TERMS = rp.DropTerms(
    "d-1", "gala", FUNDER, 10_000, 100, 1, "CNY", opens_at_ms=1_000, closes_at_ms=60_000
)


def service(store: StoreBundle, clock: ManualClock, seed: int = 1) -> DropService:
    return DropService(store.drops, store.ledger, store.taps, clock, random.Random(seed))


async def funded_service(
    store: StoreBundle, clock: ManualClock, budget: int = 10_000
) -> DropService:
    drops = service(store, clock)
    await drops.deposit(FUNDER, budget, "invoice-1")
    assert await drops.launch(TERMS) == rp.LIVE
    return drops


async def test_creating_twice_keeps_the_first_envelopes(store: StoreBundle) -> None:
    first = rp.split(10_000, 100, 1, random.Random(1))
    assert await store.drops.create_drop(TERMS, first)
    assert not await store.drops.create_drop(TERMS, rp.split(10_000, 100, 1, random.Random(2)))
    assert await store.drops.amounts("d-1") == first
    assert await store.drops.drop_ids("gala") == ["d-1"]
    assert await store.drops.drop_ids("other") == []
    assert await store.drops.terms("d-1") == TERMS
    with pytest.raises(rp.BadDrop):
        await store.drops.create_drop(TERMS, [1] * 100)


async def test_launch_moves_the_budget_into_escrow_once(store: StoreBundle) -> None:
    clock = ManualClock(0)
    drops = await funded_service(store, clock)
    assert await service(store, clock, seed=9).launch(TERMS) == rp.LIVE, "a second node"
    assert await store.ledger.balance(escrow_of("d-1")) == 10_000
    assert await store.ledger.balance(FUNDER) == 0
    assert (await drops.counts("d-1")).status == rp.LIVE


async def test_a_funder_that_cannot_cover_the_drop_is_refused_and_nothing_moves(
    store: StoreBundle,
) -> None:
    clock = ManualClock(2_000)
    drops = service(store, clock)
    await drops.deposit(FUNDER, 9_999, "invoice-1")
    assert await code_of(drops.launch(TERMS)) == "drop_unfunded"
    assert await store.ledger.balance(FUNDER) == 9_999
    assert await store.ledger.balance(escrow_of("d-1")) == 0
    assert await code_of(drops.grab(TERMS, "v1")) == "drop_cancelled"
    assert (await drops.sweep("gala")).done == 0
    assert (await drops.counts("d-1")).status == rp.CLOSED
    assert await store.ledger.balance(FUNDER) == 9_999, "nothing to refund"


async def test_window_is_enforced_by_the_given_server_time(store: StoreBundle) -> None:
    clock = ManualClock(999)
    drops = await funded_service(store, clock)
    assert await code_of(drops.grab(TERMS, "v1")) == "not_open"
    clock.set(1_000)
    assert await code_of(drops.grab(TERMS, "v1")) == "ok"
    clock.set(60_000)
    assert await code_of(drops.grab(TERMS, "v2")) == "closed"
    assert await code_of(drops.grab(TERMS, "v1")) == "already_grabbed"


async def test_concurrent_grabs_take_each_envelope_once_and_credit_each_winner_once(
    store: StoreBundle,
) -> None:
    clock = ManualClock(5_000)
    drops = await funded_service(store, clock)
    viewers = [f"v{i}" for i in range(300)]
    outcomes = await asyncio.gather(
        *(drops.grab(TERMS, v) for v in viewers for _ in range(2)), return_exceptions=True
    )
    wins = [o for o in outcomes if isinstance(o, object) and hasattr(o, "claim")]
    codes = sorted({o.code for o in outcomes if isinstance(o, GalaError)})
    assert len(wins) == 100 and codes == ["already_grabbed", "empty"]
    winners = {w.claim.viewer_id for w in wins}
    assert len(winners) == 100
    assert sorted(w.claim.index for w in wins) == list(range(100))
    assert sum(w.claim.amount_minor for w in wins) == 10_000
    for win in wins:
        wallet = await store.ledger.balance(account("wallet", win.claim.viewer_id))
        assert wallet == win.claim.amount_minor
    assert await store.ledger.balance(escrow_of("d-1")) == 0
    assert await store.drops.uncredited("d-1") == []
    assert await store.drops.claim_of("d-1", wins[0].claim.viewer_id) == wins[0].claim
    assert await store.drops.claim_of("d-1", "nobody") is None
    state = rp.DropState(
        TERMS,
        await store.drops.amounts("d-1"),
        rp.LIVE,
        100,
        {c.viewer_id: c for c in await store.drops.claims("d-1")},
    )
    assert rp.check(state) == []


async def test_close_refunds_the_leftover_exactly_once_even_when_run_again(
    store: StoreBundle,
) -> None:
    clock = ManualClock(5_000)
    drops = await funded_service(store, clock)
    claims = [(await drops.grab(TERMS, f"v{i}")).claim for i in range(7)]
    claimed = sum(c.amount_minor for c in claims)
    assert (await drops.sweep("gala")).done == 0, "not due yet"
    clock.set(60_000)
    sweeps = [service(store, clock, seed=s) for s in range(3)]
    await asyncio.gather(*(s.sweep("gala") for s in sweeps), drops.sweep("gala"))
    await drops.sweep("gala")
    assert await store.ledger.balance(FUNDER) == 10_000 - claimed
    assert await store.ledger.balance(escrow_of("d-1")) == 0
    refund = await store.ledger.transfer("drop/d-1/refund")
    assert refund is not None and refund.amount_minor == 10_000 - claimed
    counts = await store.drops.close("d-1", 70_000)
    assert (counts.status, counts.left, counts.claimed_minor) == (rp.CLOSED, 93, claimed)


async def test_the_sweeper_credits_a_claim_whose_credit_a_crash_interrupted(
    store: StoreBundle,
) -> None:
    clock = ManualClock(5_000)
    drops = await funded_service(store, clock)
    claim = await store.drops.grab("d-1", "v1", 5_000)  # the grab, then "the crash"
    assert await store.drops.uncredited("d-1") == [claim]
    assert await store.ledger.balance(account("wallet", "v1")) == 0
    assert (await drops.sweep("gala")).done == 1
    assert (await drops.sweep("gala")).done == 0
    assert await store.ledger.balance(account("wallet", "v1")) == claim.amount_minor
    credited = await store.ledger.transfer(credit_transfer(claim).id)
    assert credited is not None and credited.amount_minor == claim.amount_minor
    assert await store.ledger.transfer(fund_transfer(TERMS).id) is not None


async def test_a_pending_drop_left_by_a_crash_is_funded_by_the_sweeper(store: StoreBundle) -> None:
    clock = ManualClock(5_000)
    drops = service(store, clock)
    await drops.deposit(FUNDER, 10_000, "invoice-1")
    await store.drops.create_drop(TERMS, rp.split(10_000, 100, 1, random.Random(3)))
    await drops.sweep("gala")
    assert (await store.drops.counts("d-1")).status == rp.LIVE
    assert await store.ledger.balance(escrow_of("d-1")) == 10_000


async def test_once_a_node_saw_the_drop_empty_it_answers_locally_and_winners_keep_their_amount(
    store: StoreBundle,
) -> None:
    clock = ManualClock(5_000)
    drops = await funded_service(store, clock)
    small = rp.DropTerms("d-2", "gala", FUNDER, 300, 3, 1, "CNY", 1_000, 60_000)
    await drops.deposit(FUNDER, 300, "invoice-2")
    await drops.launch(small)
    won = [(await drops.grab(small, f"v{i}")).claim for i in range(3)]
    assert await code_of(drops.grab(small, "late-1")) == "empty"
    for claim in won:
        with pytest.raises(rp.AlreadyGrabbed) as again:
            await drops.grab(small, claim.viewer_id)
        assert again.value.amount_minor == claim.amount_minor
    assert await code_of(drops.grab(small, "late-2")) == "empty"
    assert await store.drops.claim_of("d-2", "late-2") is None
