"""Embargo (both backends): a product is never sent to viewers, nor visible in any public page
or endpoint, before the cue that reveals it fires; a viewer connected before the reveal sees it
only on the log, at the cue."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from gala.settings import Settings
from tests.support import SHOP_SHOW, RunningServer, connect_viewer, running_server, shop_show

SECRETS = ("Widget en", "Widget zh", "12990")  # the product's name and price


@pytest.fixture
async def shop(store_url: str, tmp_path: Path) -> AsyncIterator[RunningServer]:
    settings = Settings(store_url=store_url, show_files=(shop_show(tmp_path),))
    async with running_server(settings) as server:
        yield server


async def public_texts(server: RunningServer) -> dict[str, str]:
    """Everything an anonymous client (or a viewer) can read over HTTP."""
    paths = [
        "/",
        f"/watch/{SHOP_SHOW}",
        f"/api/shows/{SHOP_SHOW}",
        f"/api/shows/{SHOP_SHOW}/snapshot",
        f"/api/shows/{SHOP_SHOW}/results",
        "/healthz",
    ]
    texts = {}
    async with aiohttp.ClientSession() as http:
        for path in paths:
            async with http.get(f"{server.base_url}{path}") as resp:
                texts[path] = await resp.text()
    return texts


async def test_a_product_stays_secret_until_its_cue_fires(shop: RunningServer) -> None:
    early = await connect_viewer(shop.base_url, await shop.viewer_token())
    joined = await early.call("join", {"show_id": SHOP_SHOW})
    wallet = await early.call("wallet", {"show_id": SHOP_SHOW})
    await asyncio.sleep(1.2)  # figures and presence ticks come and go
    before = {
        **await public_texts(shop),
        "join": json.dumps(joined, ensure_ascii=False),
        "wallet": json.dumps(wallet, ensure_ascii=False),
        "events": json.dumps(early.events, ensure_ascii=False),
    }
    leaks = {where: s for where, text in before.items() for s in SECRETS if s in text}
    assert leaks == {}, leaks

    producer = await connect_viewer(shop.base_url, await shop.producer_token(), "/producer")
    ack = await producer.call(
        "go", {"show_id": SHOP_SHOW, "standby_cue_id": "c1"}, namespace="/producer"
    )
    assert ack["ok"], ack
    await early.wait_for_seq(2)
    after = json.dumps(early.events, ensure_ascii=False)
    assert all(secret in after for secret in SECRETS), "the cue reveals it"
    snapshot = (await public_texts(shop))[f"/api/shows/{SHOP_SHOW}/snapshot"]
    assert "Widget en" in snapshot
    await early.close()
    await producer.close()
