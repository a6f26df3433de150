"""Show results through the real parts (both backends): viewers online at a reveal, viewers whose
page displayed it, taps, orders, units, GMV and conversion for its sale, and each drop's grabs,
money given and refunded; producers only."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from gala.settings import Settings
from tests.support import (
    DROP_SHOW,
    SHOP_PRICE,
    SHOP_SHOW,
    RunningServer,
    Viewer,
    connect_viewer,
    drop_show,
    running_server,
    shop_show,
)


@pytest.fixture
async def shop(store_url: str, tmp_path: Path) -> AsyncIterator[RunningServer]:
    settings = Settings(
        store_url=store_url,
        show_files=(shop_show(tmp_path, stock=10),),
        demo_wallet_grant_minor=100_000,
        presence_interval_s=0.1,
    )
    async with running_server(settings) as server:
        yield server


async def get(server: RunningServer, path: str, token: str | None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{server.base_url}{path}", headers=headers) as resp,
    ):
        if resp.content_type == "text/csv":
            return resp.status, await resp.text()
        return resp.status, await resp.json()


async def go(producer: Viewer, show_id: str, cue: str) -> None:
    ack = await producer.call(
        "go", {"show_id": show_id, "standby_cue_id": cue}, namespace="/producer"
    )
    assert ack["ok"], ack


async def test_a_reveal_counts_who_saw_it_who_tapped_and_who_bought(shop: RunningServer) -> None:
    viewers = [await connect_viewer(shop.base_url, await shop.viewer_token()) for _ in range(5)]
    for viewer in viewers:
        assert (await viewer.call("join", {"show_id": SHOP_SHOW}))["ok"]
    runtime = shop.node.runtime(SHOP_SHOW)
    while (await runtime.presence_totals())["viewers_online"] != 5:
        await asyncio.sleep(0.05)
    producer_token = await shop.producer_token()
    producer = await connect_viewer(shop.base_url, producer_token, "/producer")
    not_yet = await viewers[0].call("displayed", {"show_id": SHOP_SHOW, "product_id": "widget"})
    assert not_yet["error"]["code"] == "not_revealed"

    await go(producer, SHOP_SHOW, "c1")
    await viewers[0].wait_for_event("overlay.shown")
    for viewer in (*viewers[:3], viewers[0]):
        ack = await viewer.call("displayed", {"show_id": SHOP_SHOW, "product_id": "widget"})
        assert ack["ok"], ack
    await go(producer, SHOP_SHOW, "c2")
    await viewers[0].wait_for_event("sale.opened")

    def buy(viewer: Viewer, key: str, quantity: Any) -> Any:
        return viewer.call(
            "buy", {"show_id": SHOP_SHOW, "product_id": "widget", "key": key, "quantity": quantity}
        )

    assert (await buy(viewers[0], "tap-a-0001", 1))["ok"]
    assert (await buy(viewers[1], "tap-b-0001", 2))["ok"]
    assert (await buy(viewers[2], "tap-c-0001", 99))["error"]["code"] == "bad_quantity"

    status, body = await get(shop, f"/api/shows/{SHOP_SHOW}/results", producer_token)
    assert status == 200, body
    [reveal] = body["data"]["reveals"]
    assert reveal["product_id"] == "widget" and reveal["sponsor_id"] == "acme"
    assert reveal["viewers_online"] == 5
    assert (reveal["displayed"], reveal["taps"], reveal["tappers"]) == (3, 3, 3)
    assert (reveal["orders"], reveal["units"], reveal["buyers"]) == (2, 3, 2)
    assert reveal["gmv_minor"] == 3 * SHOP_PRICE
    assert reveal["conversion"] == round(2 / 3, 4)
    assert body["data"]["drops"] == []

    status, text = await get(shop, f"/api/shows/{SHOP_SHOW}/results.csv", producer_token)
    assert status == 200 and "reveal," in text and ",widget,acme,5,3," in text
    viewer_status, _ = await get(shop, f"/api/shows/{SHOP_SHOW}/results", await shop.viewer_token())
    anonymous_status, _ = await get(shop, f"/api/shows/{SHOP_SHOW}/results", None)
    assert (viewer_status, anonymous_status) == (403, 401)
    for viewer in (*viewers, producer):
        await viewer.close()


async def test_a_drop_reports_its_grabs_money_given_and_refund(
    store_url: str, tmp_path: Path
) -> None:
    settings = Settings(
        store_url=store_url,
        show_files=(drop_show(tmp_path, envelopes=5, budget_minor=500, duration_ms=1_500),),
        demo_budget_minor=10_000,
    )
    async with running_server(settings) as server:
        producer_token = await server.producer_token()
        producer = await connect_viewer(server.base_url, producer_token, "/producer")
        viewers = [
            await connect_viewer(server.base_url, await server.viewer_token()) for _ in range(2)
        ]
        for viewer in viewers:
            assert (await viewer.call("join", {"show_id": DROP_SHOW}))["ok"]
        await go(producer, DROP_SHOW, "c1")
        drop = await viewers[0].wait_for_event("drop.announced")
        given = 0
        for viewer in viewers:
            ack = await viewer.call("grab", {"show_id": DROP_SHOW, "drop_id": drop["drop_id"]})
            given += ack["data"]["amount_minor"]
        while server.node.clock.now_ms() < drop["closes_at_ms"]:
            await asyncio.sleep(0.05)
        await server.node.drops.sweep(DROP_SHOW)
        status, body = await get(server, f"/api/shows/{DROP_SHOW}/results", producer_token)
        assert status == 200, body
        [row] = body["data"]["drops"]
        assert (row["status"], row["grabbed"], row["given_minor"]) == ("closed", 2, given)
        assert row["refunded_minor"] == 500 - given and row["funder"] == "show"
        for viewer in (*viewers, producer):
            await viewer.close()
