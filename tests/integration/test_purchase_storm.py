"""2,000 buyers through real sockets against 100 units (both backends): exactly 100 sold, none of
the others charged, one viewer tapping from 3 connections at once stays within its limit, and the
money audit is clean."""

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
    call_as_the_page,
    connect_and_join,
    running_server,
    shop_show,
    viewer_tokens,
)

BUYERS = 2000
GRANT = 50_000


@pytest.fixture
async def shop(store_url: str, tmp_path: Path) -> AsyncIterator[RunningServer]:
    settings = Settings(
        store_url=store_url,
        show_files=(shop_show(tmp_path, stock=100),),
        demo_wallet_grant_minor=GRANT,
    )
    async with running_server(settings) as server:
        yield server


async def test_2000_buyers_on_100_units(shop: RunningServer) -> None:
    tokens = await viewer_tokens(shop.base_url, BUYERS)
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
    buyers = await connect_and_join(shop.base_url, tokens, SHOP_SHOW)
    same_viewer = await connect_and_join(shop.base_url, [tokens[0]] * 3, SHOP_SHOW)

    async def tap(client: socketio.AsyncClient, key: str, quantity: int) -> dict[str, Any]:
        return await call_as_the_page(
            client,
            "buy",
            {"show_id": SHOP_SHOW, "product_id": "widget", "quantity": quantity, "key": key},
        )

    acks = await asyncio.gather(
        *(tap(c, f"storm-tap-{i:05d}", 1) for i, c in enumerate(buyers)),
        *(tap(c, f"device-tap-{i}", 2) for i, c in enumerate(same_viewer)),
    )
    outcomes = Counter("paid" if a["ok"] else a["error"]["code"] for a in acks)
    assert set(outcomes) <= {"paid", "sold_out", "not_enough_stock", "limit_reached"}, outcomes
    paid_units = sum(a["data"]["order"]["quantity"] for a in acks if a["ok"])
    assert paid_units == 100, outcomes

    node = shop.node
    viewer_0 = node.authenticate(tokens[0]).subject
    sale_id = (await node.store.sales.sale_ids())[0]
    mine = [o for o in await node.store.sales.orders(sale_id) if o.viewer_id == viewer_0]
    assert sum(o.quantity for o in mine if o.state != "released") <= 2, "limit across devices"
    charged = 0
    for token in tokens:
        viewer = node.authenticate(token).subject
        charged += GRANT - await node.store.ledger.balance(lg.account("wallet", viewer))
    assert charged == 100 * SHOP_PRICE, "exactly the buyers were charged, once each"
    assert await node.store.ledger.balance(lg.account("revenue", "acme")) == 100 * SHOP_PRICE
    problems, _summary = await audit_commerce(node.store.sales, node.store.ledger)
    assert problems == []
    await asyncio.gather(*(c.disconnect() for c in buyers + same_viewer), producer.disconnect())
