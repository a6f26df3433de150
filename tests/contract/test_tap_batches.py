"""One contract for the tap batches of every backend (SQLite and Redis): a batch of taps on one
sale or one drop is decided tap by tap, each with the rules and the money of a tap alone, and the
books come out exact."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from dataclasses import replace

from commerce.ports import Bought, WalletTap
from commerce.service import PROVIDER, key_request, order_id_for
from gala.kernel.errors import GalaError
from gala.kernel.ledger import Transfer, account
from gala.money_audit import audit_store
from gala.stores.factory import StoreBundle
from redpackets import model as rp
from redpackets.ports import Grabbed
from redpackets.service import escrow_of, fund_transfer
from tests.contract.test_sale_store import TERMS, open_flash

REVENUE = account("revenue", "acme")
NOW = 5_000
PRICE = TERMS.price_minor


def tap(viewer: str, key: str, quantity: int = 1) -> WalletTap:
    return WalletTap(order_id_for(TERMS.sale_id, viewer, key), viewer, key, quantity)


async def fund(store: StoreBundle, viewer: str, amount: int) -> None:
    await store.ledger.post(
        Transfer(
            f"grant/{viewer}/test",
            account("external", "grants"),
            account("wallet", viewer),
            amount,
            "test grant",
        )
    )


def codes(outcomes: list[Bought | GalaError]) -> list[str]:
    return [o.code if isinstance(o, GalaError) else o.order.state for o in outcomes]


async def test_a_batch_holds_every_rule_per_tap(store: StoreBundle) -> None:
    await open_flash(store)
    for viewer in ("v1", "v2", "v3"):
        await fund(store, viewer, 10 * PRICE)
    await fund(store, "poor", PRICE - 1)
    provider_key = "k-provider"
    await store.sales.reserve(
        TERMS.sale_id,
        order_id_for(TERMS.sale_id, "v3", provider_key, PROVIDER),
        "v3",
        provider_key,
        1,
        NOW,
    )
    batch = [
        tap("v1", "k-first"),  # paid
        tap("v1", "k-first"),  # the same key again inside the batch: the same order
        tap("v2", "k-phone"),  # one viewer on three connections, limit 2:
        tap("v2", "k-tablet"),
        tap("v2", "k-laptop"),  # ... the third is over the limit
        tap("v1", "k-greedy", 3),  # a quantity over the limit
        tap("poor", "k-poor"),  # a wallet without the price
        tap("v3", provider_key),  # a key that made a provider order
        tap("v1", "k-first", 2),  # the first key with another quantity
    ]
    outcomes = await store.taps.buy_batch(TERMS.sale_id, REVENUE, batch, NOW)
    assert codes(outcomes) == [
        "paid",
        "paid",
        "paid",
        "paid",
        "limit_reached",
        "bad_quantity",
        "insufficient_funds",
        "idempotency_mismatch",
        "idempotency_mismatch",
    ]
    first, again = outcomes[0], outcomes[1]
    assert isinstance(first, Bought) and isinstance(again, Bought)
    assert first.order == again.order, "one key, one order"
    assert first.balance_minor == again.balance_minor == 9 * PRICE, "charged once"

    counts = await store.sales.counts(TERMS.sale_id)
    assert (counts.sold, counts.held, counts.left) == (3, 1, 96)
    assert await store.ledger.balance(REVENUE) == 3 * PRICE
    assert await store.ledger.balance(account("wallet", "v2")) == 8 * PRICE
    assert await store.ledger.balance(account("wallet", "poor")) == PRICE - 1

    retried = await store.taps.buy_batch(TERMS.sale_id, REVENUE, [tap("v1", "k-first")], NOW)
    assert isinstance(retried[0], Bought) and retried[0].order == first.order
    assert await store.ledger.balance(REVENUE) == 3 * PRICE, "a retry in a later batch: no charge"
    assert (await audit_store(store))[0] == []


async def test_a_batch_sells_the_last_units_exactly_and_refuses_the_rest(
    store: StoreBundle,
) -> None:
    terms = TERMS
    await open_flash(store)
    viewers = [f"v{i:03d}" for i in range(150)]
    for viewer in viewers:
        await fund(store, viewer, PRICE * 2)
    taps = [tap(v, f"k-{v}", 1 + (i % 2)) for i, v in enumerate(viewers)]
    random.Random(3).shuffle(taps)
    # two batches racing, as two nodes would
    first, second = await asyncio.gather(
        store.taps.buy_batch(terms.sale_id, REVENUE, taps[:75], NOW),
        store.taps.buy_batch(terms.sale_id, REVENUE, taps[75:], NOW),
    )
    outcomes = first + second
    sold = sum(o.order.quantity for o in outcomes if isinstance(o, Bought))
    assert sold == terms.stock
    assert set(Counter(codes(outcomes))) <= {"paid", "sold_out", "not_enough_stock"}
    counts = await store.sales.counts(terms.sale_id)
    assert (counts.sold, counts.held, counts.left) == (terms.stock, 0, 0)
    assert await store.ledger.balance(REVENUE) == terms.stock * PRICE
    spent = 0
    for viewer in viewers:
        spent += PRICE * 2 - await store.ledger.balance(account("wallet", viewer))
    assert spent == terms.stock * PRICE
    assert (await audit_store(store))[0] == []


async def test_a_released_order_is_never_answered_ok(store: StoreBundle) -> None:
    await open_flash(store)
    await fund(store, "v1", PRICE)
    order_id = order_id_for(TERMS.sale_id, "v1", "k-late")
    await store.sales.reserve(TERMS.sale_id, order_id, "v1", "k-late", 1, NOW)
    assert len(await store.sales.expire(TERMS.sale_id, NOW + TERMS.hold_ms)) == 1
    (outcome,) = await store.taps.buy_batch(
        TERMS.sale_id, REVENUE, [tap("v1", "k-late")], NOW + TERMS.hold_ms
    )
    assert isinstance(outcome, GalaError) and outcome.code == "hold_expired"
    assert await store.ledger.balance(account("wallet", "v1")) == PRICE, "nothing charged"


DROP = rp.DropTerms(
    "d-batch",
    "gala",
    account("sponsor_budget", "aurora"),
    10_000,
    50,
    1,
    "CNY",
    opens_at_ms=1_000,
    closes_at_ms=60_000,
)


async def live_drop(store: StoreBundle) -> None:
    await store.ledger.post(
        Transfer("deposit/aurora/t", account("external", "deposits"), DROP.funder, 10_000, "dep")
    )
    assert await store.drops.create_drop(DROP, rp.split(10_000, 50, 1, random.Random(2)))
    await store.ledger.post(fund_transfer(DROP))
    assert await store.drops.activate(DROP.drop_id, True) == rp.LIVE


async def test_a_grab_batch_gives_one_envelope_per_viewer_and_credits_each_once(
    store: StoreBundle,
) -> None:
    await live_drop(store)
    viewers = [f"g{i:03d}" for i in range(70)]
    batch = [*viewers[:40], viewers[0], viewers[1], *viewers[40:]]  # two repeats inside
    first, second = await asyncio.gather(
        store.taps.grab_batch(DROP.drop_id, batch[:36], NOW),
        store.taps.grab_batch(DROP.drop_id, batch[36:], NOW),
    )
    outcomes = first + second
    grabbed = [o for o in outcomes if isinstance(o, Grabbed)]
    refusals = Counter(o.code for o in outcomes if isinstance(o, GalaError))
    assert len(grabbed) == 50
    assert refusals == {"already_grabbed": 2, "empty": 20}
    assert len({g.claim.viewer_id for g in grabbed}) == 50
    for g in grabbed:
        assert g.balance_minor == g.claim.amount_minor, "credited once, before the answer"
    repeats = [o for o in outcomes if isinstance(o, rp.AlreadyGrabbed)]
    won = {g.claim.viewer_id: g.claim.amount_minor for g in grabbed}
    assert sorted(r.amount_minor for r in repeats) == sorted([won["g000"], won["g001"]])
    assert sum(g.claim.amount_minor for g in grabbed) == DROP.budget_minor
    assert await store.ledger.balance(escrow_of(DROP.drop_id)) == 0
    assert await store.drops.uncredited(DROP.drop_id) == []
    again = await store.taps.grab_batch(DROP.drop_id, ["g000"], NOW)
    assert isinstance(again[0], rp.AlreadyGrabbed) and again[0].amount_minor == won["g000"]
    assert (await audit_store(store))[0] == []


async def test_a_key_names_one_request_across_sales_quantities_and_payment_methods(
    store: StoreBundle,
) -> None:
    """A key reused for another product's sale, another quantity or the other payment method is
    refused `idempotency_mismatch` and changes nothing; the same request again is its order."""
    other = replace(TERMS, sale_id="flash-2", product_id="gadget")
    await open_flash(store)
    await open_flash(store, other)
    await fund(store, "v1", 10 * PRICE)
    (first,) = await store.taps.buy_batch(TERMS.sale_id, REVENUE, [tap("v1", "k-one")], NOW)
    assert isinstance(first, Bought)
    elsewhere = WalletTap(order_id_for(other.sale_id, "v1", "k-one"), "v1", "k-one", 1)
    (refused,) = await store.taps.buy_batch(other.sale_id, REVENUE, [elsewhere], NOW)
    assert isinstance(refused, GalaError) and refused.code == "idempotency_mismatch"
    (more,) = await store.taps.buy_batch(TERMS.sale_id, REVENUE, [tap("v1", "k-one", 2)], NOW)
    assert isinstance(more, GalaError) and more.code == "idempotency_mismatch"
    provider = key_request(TERMS.sale_id, 1, PROVIDER)
    assert await store.sales.bind_key("v1", "k-one", provider) == key_request(TERMS.sale_id, 1)
    (again,) = await store.taps.buy_batch(TERMS.sale_id, REVENUE, [tap("v1", "k-one")], NOW)
    assert isinstance(again, Bought) and again.order == first.order
    assert await store.sales.orders(other.sale_id) == []
    counts = await store.sales.counts(other.sale_id)
    assert (counts.left, counts.held, counts.sold) == (other.stock, 0, 0)
    assert await store.ledger.balance(account("wallet", "v1")) == 9 * PRICE


async def test_one_key_sent_to_two_sales_at_once_makes_one_order(store: StoreBundle) -> None:
    other = replace(TERMS, sale_id="flash-2", product_id="gadget")
    await open_flash(store)
    await open_flash(store, other)
    viewers = [f"v{n}" for n in range(40)]
    for viewer in viewers:
        await fund(store, viewer, PRICE)
    batches = [
        store.taps.buy_batch(
            terms.sale_id,
            REVENUE,
            [WalletTap(order_id_for(terms.sale_id, v, "k-both"), v, "k-both", 1) for v in group],
            NOW,
        )
        for terms in (TERMS, other)
        for group in (viewers[:20], viewers[20:])
    ]
    outcomes = [o for batch in await asyncio.gather(*batches) for o in batch]
    assert Counter(codes(outcomes)) == {"paid": 40, "idempotency_mismatch": 40}
    orders = await store.sales.orders(TERMS.sale_id) + await store.sales.orders(other.sale_id)
    assert sorted(o.viewer_id for o in orders) == sorted(viewers), "one order per viewer's key"
    assert (await audit_store(store))[0] == []
