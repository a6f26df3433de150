"""Overload is shed, not failed (both backends): with the pipeline's wait bound set low, a storm of
buys gets coded `busy` answers with a `retry_after_ms`, never `internal_error`; each refused tap,
sent again with the same key as the page does, is decided exactly once; the units sold, the money
moved and the audit come out exact. Taps are decided in batches larger than one."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import socketio

from commerce.audit import audit_commerce
from gala.kernel import ledger as lg
from gala.settings import Settings
from tests.support import (
    SHOP_PRICE,
    SHOP_SHOW,
    RunningServer,
    connect_and_join,
    running_server,
    shop_show,
    tap_batches,
    viewer_tokens,
)

BUYERS = 600
STOCK = 150
GRANT = 50_000


@pytest.fixture
async def shop(store_url: str, tmp_path: Path) -> AsyncIterator[RunningServer]:
    settings = Settings(
        store_url=store_url,
        show_files=(shop_show(tmp_path, stock=STOCK),),
        demo_wallet_grant_minor=GRANT,
        tap_max_wait_ms=10,  # a queue of about 50 taps is already "full"
    )
    async with running_server(settings) as server:
        yield server


async def open_the_sale(shop: RunningServer) -> None:
    producer = socketio.AsyncClient(reconnection=False)
    await producer.connect(
        shop.base_url,
        transports=["websocket"],
        auth={"token": await shop.producer_token()},
        namespaces=["/producer"],
    )
    for cue in ("c1", "c2"):
        ack = await producer.call(
            "go", {"show_id": SHOP_SHOW, "standby_cue_id": cue}, namespace="/producer", timeout=30
        )
        assert ack["ok"], ack
    await producer.disconnect()


async def test_a_storm_over_the_bound_is_answered_busy_and_its_retries_buy_once(
    shop: RunningServer,
) -> None:
    await open_the_sale(shop)
    tokens = await viewer_tokens(shop.base_url, BUYERS)
    buyers = await connect_and_join(shop.base_url, tokens, SHOP_SHOW)
    first_answers: Counter[str] = Counter()
    attempts: Counter[str] = Counter()

    async def tap(client: socketio.AsyncClient, key: str) -> dict[str, Any]:
        payload = {"show_id": SHOP_SHOW, "product_id": "widget", "quantity": 1, "key": key}
        while True:
            attempts[key] += 1
            ack: dict[str, Any] = await client.call("buy", payload, timeout=60)
            code = "ok" if ack["ok"] else ack["error"]["code"]
            if attempts[key] == 1:
                first_answers[code] += 1
            if code != "busy":
                return ack
            assert ack["error"]["retry_after_ms"] >= 250, ack
            await asyncio.sleep(ack["error"]["retry_after_ms"] / 1000)

    try:
        acks = await asyncio.gather(*(tap(c, f"overload-{i:05d}") for i, c in enumerate(buyers)))
    finally:
        await asyncio.gather(*(c.disconnect() for c in buyers))
    assert first_answers["busy"] > 0, f"the bound was never reached: {first_answers}"
    assert "internal_error" not in first_answers
    outcomes = Counter("paid" if a["ok"] else a["error"]["code"] for a in acks)
    assert set(outcomes) <= {"paid", "sold_out"}, outcomes
    assert outcomes["paid"] == STOCK, outcomes
    retried_and_paid = [a for a in acks if a["ok"]]
    assert len({a["data"]["order"]["order_id"] for a in retried_and_paid}) == STOCK

    node = shop.node
    sale_id = (await node.store.sales.sale_ids())[0]
    orders = await node.store.sales.orders(sale_id)
    assert len(orders) == STOCK, "one order per key, however often it was sent"
    assert all(o.state == "paid" for o in orders)
    assert await node.store.ledger.balance(lg.account("revenue", "acme")) == STOCK * SHOP_PRICE
    charges = [t for t in await node.store.ledger.transfers() if t.id.endswith("/pay")]
    assert len(charges) == STOCK, "charged once per order"
    problems, _ = await audit_commerce(node.store.sales, node.store.ledger)
    assert problems == [], problems
    batches, taps = await tap_batches(shop.base_url, "buy")
    assert taps > batches > 0, f"taps were decided one by one: {batches} batches, {taps} taps"
