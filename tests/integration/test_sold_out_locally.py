"""A node that has seen a sale sold out answers "sold out" itself, without asking the sale's slot
to reserve (both backends); a retry of a key that has an order still gets it; the answer changes
as soon as this node sees stock come back (an expired hold)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from commerce.service import PurchaseService
from gala.kernel.clock import ManualClock
from gala.stores.factory import StoreBundle, open_store
from tests.integration.test_commerce_audit import START_MS, opened_sale
from tests.support import code_of


class Counting:
    """A store port, counting the reservations asked of it (single and batched)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.reserves = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def reserve(self, *args: Any) -> Any:
        self.reserves += 1
        return await self.inner.reserve(*args)

    async def buy_batch(self, *args: Any) -> Any:
        self.reserves += 1
        return await self.inner.buy_batch(*args)


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[StoreBundle]:
    bundle = await open_store(store_url)
    yield bundle
    await bundle.close()


async def test_a_node_that_saw_sold_out_answers_locally_until_stock_comes_back(
    store: StoreBundle,
) -> None:
    clock = ManualClock(START_MS)
    sales, taps = Counting(store.sales), Counting(store.taps)
    node = PurchaseService(sales, store.ledger, taps, clock)  # type: ignore[arg-type]
    other_node = PurchaseService(store.sales, store.ledger, store.taps, clock)
    sale = opened_sale()  # 5 units, 2 per viewer, 60 s holds
    for viewer in ("v-1", "v-2", "v-3", "v-4"):
        await node.grant_demo_balance(viewer, 50_000)
    first = await node.buy(sale, "v-1", "key-v1-0001", 2)
    await node.buy(sale, "v-2", "key-v2-0001", 2)
    held = await other_node.hold(sale, "v-3", "key-v3-0001", 1)
    assert await code_of(node.buy(sale, "v-4", "key-v4-0001", 1)) == "sold_out"
    asked = sales.reserves + taps.reserves
    for attempt in range(5):
        assert await code_of(node.buy(sale, "v-4", f"key-v4-000{attempt + 2}", 1)) == "sold_out"
        assert await code_of(node.hold(sale, "v-4", f"key-v4-hold{attempt}", 1)) == "sold_out"
    assert sales.reserves + taps.reserves == asked, "answered on the node, not by the store"
    retry = await node.buy(sale, "v-1", "key-v1-0001", 2)
    assert retry.order == first.order, "a retry still gets its order"

    clock.advance(60_000)
    assert (await other_node.sweep([sale.sale_id])).settled == 0  # another node releases the hold
    assert await code_of(node.buy(sale, "v-4", "key-v4-0099", 1)) == "sold_out", (
        "until this node's figures read the counters again (every 0.5 s)"
    )
    counts = await node.counts(sale.sale_id)  # what the figures loop reads
    assert (counts.left, counts.held) == (1, 0), held
    bought = await node.buy(sale, "v-4", "key-v4-0100", 1)
    assert bought.order.state == "paid", "the returned unit is on sale again"
    assert await code_of(node.buy(sale, "v-4", "key-v4-0101", 1)) == "sold_out"
