"""One contract for every sale store backend (SQLite and Redis): the rules of `commerce/sale.py`
applied atomically under concurrency, and the same outcomes as the pure model."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from dataclasses import replace

import pytest

from commerce import sale as sl
from commerce.ports import WalletTap
from gala.kernel.errors import GalaError
from gala.kernel.ledger import Transfer, account
from gala.stores.factory import StoreBundle
from tests.support import code_of

TERMS = sl.SaleTerms(
    "flash-1",
    "widget",
    price_minor=12_990,
    stock=100,
    per_viewer_limit=2,
    opens_at_ms=1_000,
    closes_at_ms=100_000,
    hold_ms=5_000,
)


async def open_flash(store: StoreBundle, terms: sl.SaleTerms = TERMS) -> None:
    assert await store.sales.create_sale(terms)
    assert not await store.sales.create_sale(terms), "creating twice changes nothing"
    await store.sales.set_sale_status(terms.sale_id, sl.OPEN)


async def test_window_and_status_are_enforced_by_the_given_server_time(store: StoreBundle) -> None:
    assert await store.sales.create_sale(TERMS)
    reserve = store.sales.reserve
    assert await code_of(reserve("flash-1", "o1", "v1", "k1", 1, 5_000)) == "sale_not_open"
    await store.sales.set_sale_status("flash-1", sl.OPEN)
    assert await code_of(reserve("flash-1", "o1", "v1", "k1", 1, 999)) == "sale_not_open"
    assert await code_of(reserve("flash-1", "o1", "v1", "k1", 1, 1_000)) == "ok"
    assert await code_of(reserve("flash-1", "o2", "v2", "k1", 1, 100_000)) == "sale_closed"
    await store.sales.set_sale_status("flash-1", sl.CLOSED)
    assert await code_of(reserve("flash-1", "o3", "v3", "k1", 1, 2_000)) == "sale_closed"
    assert await code_of(reserve("flash-1", "o4", "v4", "k1", 3, 2_000)) == "bad_quantity"
    assert await code_of(reserve("nope", "o5", "v4", "k1", 1, 2_000)) == "unknown_sale"
    counts = await store.sales.counts("flash-1")
    assert (counts.left, counts.held, counts.sold) == (99, 1, 0)


async def test_2000_concurrent_taps_on_100_units_sell_exactly_100_within_limits(
    store: StoreBundle,
) -> None:
    await open_flash(store)
    rng = random.Random(7)
    taps = []
    for n in range(2000):
        viewer = f"v{rng.randrange(700)}"  # many viewers tap several times, as from 3 devices
        taps.append(
            store.sales.reserve("flash-1", f"o{n}", viewer, f"k{n}", rng.choice([1, 1, 2]), 2_000)
        )
    results = await asyncio.gather(*taps, return_exceptions=True)
    refusals = Counter(r.code for r in results if isinstance(r, GalaError))
    assert set(refusals) <= {"sold_out", "not_enough_stock", "limit_reached"}
    assert not [r for r in results if isinstance(r, BaseException) and not isinstance(r, GalaError)]
    orders = await store.sales.orders("flash-1")
    assert sum(o.quantity for o in orders) == 100
    assert sum(o.amount_minor for o in orders) == 100 * 12_990
    per_viewer = Counter()  # type: Counter[str]
    for order in orders:
        per_viewer[order.viewer_id] += order.quantity
    assert max(per_viewer.values()) <= 2
    counts = await store.sales.counts("flash-1")
    assert (counts.left, counts.held, counts.sold) == (0, 100, 0)


async def test_one_key_sent_five_times_at_once_makes_one_order(store: StoreBundle) -> None:
    await open_flash(store)
    orders = await asyncio.gather(
        *(store.sales.reserve("flash-1", f"o{n}", "v1", "tap-1", 2, 2_000) for n in range(5))
    )
    assert len({o.id for o in orders}) == 1
    assert (await store.sales.counts("flash-1")).held == 2
    assert await code_of(store.sales.reserve("flash-1", "o9", "v1", "tap-1", 1, 2_000)) == (
        "idempotency_mismatch"
    )


async def test_expired_holds_return_stock_once_and_a_late_payment_is_refused(
    store: StoreBundle,
) -> None:
    await open_flash(store)
    a = await store.sales.reserve("flash-1", "oa", "v1", "k", 2, 2_000)
    b = await store.sales.reserve("flash-1", "ob", "v2", "k", 1, 3_000)
    assert (await store.sales.pay("flash-1", "ob")).state == sl.PAID
    assert (await store.sales.pay("flash-1", "ob")).state == sl.PAID, "paying twice is a no-op"
    released = await asyncio.gather(*(store.sales.expire("flash-1", 7_000) for _ in range(5)))
    assert sorted(o.id for batch in released for o in batch) == ["oa"], "released exactly once"
    counts = await store.sales.counts("flash-1")
    assert (counts.left, counts.held, counts.sold) == (99, 0, 1)
    assert await code_of(store.sales.pay("flash-1", a.id)) == "hold_expired"
    again = await store.sales.reserve("flash-1", "oc", "v1", "k2", 2, 8_000)
    assert again.state == sl.HELD, "the expired hold no longer counts against the limit"
    assert b.amount_minor == 12_990


async def test_due_holds_are_the_held_orders_whose_hold_ran_out_and_nothing_else(
    store: StoreBundle,
) -> None:
    await open_flash(store)
    due = await store.sales.reserve("flash-1", "o-due", "v1", "k", 1, 2_000)
    await store.sales.reserve("flash-1", "o-paid", "v2", "k", 1, 2_000)
    await store.sales.pay("flash-1", "o-paid")
    await store.sales.reserve("flash-1", "o-later", "v3", "k", 1, 9_000)
    hold_ends = due.expires_at_ms
    assert await store.sales.due_holds("flash-1", hold_ends - 1) == []
    assert await store.sales.due_holds("flash-1", hold_ends) == [due]
    counts = await store.sales.counts("flash-1")
    assert counts.held == 2, "reading what is due releases nothing"
    await store.sales.expire("flash-1", hold_ends)
    assert await store.sales.due_holds("flash-1", hold_ends) == [], "released is no longer due"


async def test_a_random_session_matches_the_pure_model(store: StoreBundle) -> None:
    terms = sl.SaleTerms(
        "s2", "w", 500, stock=9, per_viewer_limit=3, opens_at_ms=0, closes_at_ms=None, hold_ms=300
    )
    await open_flash(store, terms)
    model = sl.open_sale(sl.new_sale(terms))
    rng = random.Random(11)
    now = 0
    for step in range(300):
        action = rng.choice(["reserve", "reserve", "reserve", "pay", "expire"])
        if action == "reserve":
            viewer, key, qty = f"v{rng.randrange(5)}", f"k{rng.randrange(4)}", rng.randrange(5)
            oid = f"o-{viewer}-{key}"
            try:
                model, expected = sl.reserve(model, oid, viewer, key, qty, now)
                outcome = expected.id
            except GalaError as refused:
                outcome = refused.code
            try:
                actual = (await store.sales.reserve("s2", oid, viewer, key, qty, now)).id
            except GalaError as refused:
                actual = refused.code
            assert actual == outcome, step
        elif action == "pay" and model.orders:
            oid = rng.choice(sorted(model.orders))
            try:
                model = sl.pay(model, oid)
                outcome = "ok"
            except GalaError as refused:
                outcome = refused.code
            assert await code_of(store.sales.pay("s2", oid)) == outcome, step
        else:
            now += rng.randrange(200)
            model, expected_released = sl.expire(model, now)
            released = await store.sales.expire("s2", now)
            assert sorted(o.id for o in released) == sorted(o.id for o in expected_released)
        counts = await store.sales.counts("s2")
        assert (counts.left, counts.held, counts.sold) == (model.left, model.held, model.sold)
    assert {o.id: o for o in await store.sales.orders("s2")} == dict(model.orders)


SMALL = sl.SaleTerms(
    "small", "w", 700, stock=3, per_viewer_limit=2, opens_at_ms=1_000, closes_at_ms=9_000, hold_ms=5
)
# (the rule, the sale's status, taps before (viewer, key, quantity), the tap (viewer, key,
# quantity, now), what both backends and the model answer)
RULES = [
    ("a tap in the window", sl.OPEN, [], ("v1", "k1", 1, 2_000), "ok"),
    ("the same key again", sl.OPEN, [("v1", "k1", 1)], ("v1", "k1", 1, 2_000), "ok"),
    (
        "the key, another quantity",
        sl.OPEN,
        [("v1", "k1", 1)],
        ("v1", "k1", 2, 2_000),
        "idempotency_mismatch",
    ),
    ("no units", sl.OPEN, [], ("v1", "k1", 0, 2_000), "bad_quantity"),
    ("over the limit", sl.OPEN, [], ("v1", "k1", 3, 2_000), "bad_quantity"),
    ("before the opening", sl.OPEN, [], ("v1", "k1", 1, 999), "sale_not_open"),
    ("not opened on the log", sl.SCHEDULED, [], ("v1", "k1", 1, 2_000), "sale_not_open"),
    ("at the closing", sl.OPEN, [], ("v1", "k1", 1, 9_000), "sale_closed"),
    ("closed on the log", sl.CLOSED, [], ("v1", "k1", 1, 2_000), "sale_closed"),
    (
        "nothing left",
        sl.OPEN,
        [("v1", "k1", 2), ("v2", "k1", 1)],
        ("v3", "k1", 1, 2_000),
        "sold_out",
    ),
    (
        "fewer left than asked",
        sl.OPEN,
        [("v1", "k1", 2)],
        ("v2", "k1", 2, 2_000),
        "not_enough_stock",
    ),
    ("the viewer's limit", sl.OPEN, [("v1", "k1", 2)], ("v1", "k2", 1, 2_000), "limit_reached"),
]


@pytest.mark.parametrize("rule, status, before, tap, expected", RULES, ids=[r[0] for r in RULES])
async def test_each_rule_of_a_tap_is_decided_by_the_store_as_by_the_pure_model(
    store: StoreBundle,
    rule: str,
    status: str,
    before: list[tuple[str, str, int]],
    tap: tuple[str, str, int, int],
    expected: str,
) -> None:
    """The SQLite store runs `sale.reserve` itself; Redis runs `lua/reserve.lua`, which repeats
    its rules: both must answer every rule as the model does."""
    await open_flash(store, SMALL)
    model = sl.open_sale(sl.new_sale(SMALL))
    for viewer, key, quantity in before:
        model, _order = sl.reserve(model, f"o-{viewer}-{key}", viewer, key, quantity, 2_000)
        await store.sales.reserve("small", f"o-{viewer}-{key}", viewer, key, quantity, 2_000)
    if status != sl.OPEN:
        await store.sales.set_sale_status("small", status)
        model = sl.close_sale(model) if status == sl.CLOSED else replace(model, status=status)
    viewer, key, quantity, now = tap
    try:
        model, _order = sl.reserve(model, f"o-{viewer}-{key}", viewer, key, quantity, now)
        outcome = "ok"
    except GalaError as refused:
        outcome = refused.code
    stored = await code_of(
        store.sales.reserve("small", f"o-{viewer}-{key}", viewer, key, quantity, now)
    )
    assert (outcome, stored) == (expected, expected), rule
    counts = await store.sales.counts("small")
    assert (counts.left, counts.held, counts.sold) == (model.left, model.held, model.sold)


async def test_a_viewers_orders_are_found_through_its_own_index(store: StoreBundle) -> None:
    await open_flash(store)
    await store.sales.reserve("flash-1", "o-solo", "v1", "k-solo", 1, 5_000)
    await store.sales.reserve("flash-1", "o-other", "v2", "k-other", 1, 5_000)
    await store.ledger.post(
        Transfer("grant/v1/t", account("external", "t"), account("wallet", "v1"), 10**6, "t")
    )
    taps = [WalletTap(f"o-batch-{n}", "v1", f"k-batch-{n}", 1) for n in range(1)]
    (bought,) = await store.taps.buy_batch("flash-1", account("revenue", "s"), taps, 5_000)
    assert not isinstance(bought, GalaError), bought
    mine = await store.sales.orders_of("flash-1", "v1")
    assert [o.id for o in mine] == ["o-batch-0", "o-solo"], "both ways of buying are indexed"
    assert [o.state for o in mine] == ["paid", "held"]
    assert [o.id for o in await store.sales.orders_of("flash-1", "v2")] == ["o-other"]
    assert await store.sales.orders_of("flash-1", "nobody") == []
