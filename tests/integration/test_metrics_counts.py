"""The node's metrics count exactly what happened (real server, both backends): the taps of each
kind by outcome, their answer times, the console's GOs by outcome, the events fanned out and the
sweeper's rounds, read from GET /metrics (the Prometheus text format); the consoles'
orders/s and grabs/s come from the same taps."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from gala.settings import Settings
from tests.support import (
    DROP_SHOW,
    SHOP_SHOW,
    RunningServer,
    Viewer,
    connect_viewer,
    drop_show,
    running_server,
    shop_show,
)

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
async def server(store_url: str, tmp_path: Path) -> AsyncIterator[RunningServer]:
    settings = Settings(
        store_url=store_url,
        show_files=(
            shop_show(tmp_path, stock=3),
            drop_show(tmp_path, envelopes=2, budget_minor=50),
        ),
        demo_wallet_grant_minor=30_000,
        demo_budget_minor=1_000,
        presence_interval_s=0.2,
    )
    async with running_server(settings) as running:
        yield running


async def scrape(server: RunningServer) -> Samples:
    async with aiohttp.ClientSession() as http, http.get(f"{server.base_url}/metrics") as resp:
        assert resp.status == 200
        text = await resp.text()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def delta(before: Samples, after: Samples, name: str, **labels: str) -> float:
    key = (name, frozenset(labels.items()))
    return after.get(key, 0.0) - before.get(key, 0.0)


def outcomes(acks: list[dict[str, Any]]) -> Counter[str]:
    return Counter("ok" if ack["ok"] else ack["error"]["code"] for ack in acks)


async def viewer_of(server: RunningServer, *shows: str) -> Viewer:
    viewer = await connect_viewer(server.base_url, await server.viewer_token())
    for show in shows:
        assert (await viewer.call("join", {"show_id": show}))["ok"]
    return viewer


async def go(producer: Viewer, show: str, cue: str | None) -> dict[str, Any]:
    payload = {"show_id": show, "standby_cue_id": cue}
    return await producer.call("go", payload, namespace="/producer")


def buy(viewer: Viewer, key: str, quantity: Any = 1) -> Any:
    payload = {"show_id": SHOP_SHOW, "product_id": "widget", "key": key, "quantity": quantity}
    return viewer.call("buy", payload)


async def test_metrics_count_exactly_the_taps_grabs_and_cues_made(server: RunningServer) -> None:
    producer = await connect_viewer(
        server.base_url, await server.producer_token(), namespace="/producer"
    )
    assert (await producer.call("console:join", {"show_id": SHOP_SHOW}, namespace="/producer"))[
        "ok"
    ]
    figures: list[dict[str, Any]] = []
    producer.client.on("console:figures", figures.append, namespace="/producer")
    viewers = [await viewer_of(server, SHOP_SHOW, DROP_SHOW) for _ in range(5)]
    before = await scrape(server)

    buys = [await buy(viewers[0], "early-tap-0001")]  # before the sale opens
    gos = [await go(producer, SHOP_SHOW, "c1"), await go(producer, SHOP_SHOW, "c2")]
    gos.append(await go(producer, SHOP_SHOW, "c1"))  # another console moved the standby
    gos.append(await go(producer, DROP_SHOW, "c1"))
    await viewers[0].wait_for_event("sale.opened")
    for _ in range(200):  # the figures loop has seen the sale, and taps none of it yet
        if figures and "widget" in figures[-1]["products"]:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)
    buys += await asyncio.gather(*(buy(v, f"tap-key-{i:04}") for i, v in enumerate(viewers)))
    buys.append(await buy(viewers[0], "bad-quantity-1", 0))
    await viewers[0].wait_for_event("drop.announced")
    drop_id = next(iter(server.node.runtime(DROP_SHOW).channel.snapshot.drops.drops))
    grab = {"show_id": DROP_SHOW, "drop_id": drop_id}
    grabs = list(await asyncio.gather(*(v.call("grab", grab) for v in viewers[:3])))
    grabs.append(await viewers[0].call("grab", grab))  # a second grab of the same viewer
    after = await scrape(server)

    bought, grabbed, went = outcomes(buys), outcomes(grabs), outcomes(gos)
    assert bought == {"ok": 3, "sold_out": 2, "sale_not_open": 1, "bad_quantity": 1}, bought
    assert grabbed["ok"] == 2 and sum(grabbed.values()) == 4, grabbed
    assert went == {"ok": 3, "standby_changed": 1}, went
    for kind, answered in (("buy", bought), ("grab", grabbed)):
        for outcome, count in answered.items():
            assert delta(before, after, "gala_taps_total", kind=kind, outcome=outcome) == count
        counted = delta(before, after, "gala_tap_seconds_count", kind=kind)
        assert counted == sum(answered.values()), kind
    for outcome, count in went.items():
        labels = {"command": "go", "outcome": outcome}
        assert delta(before, after, "gala_console_commands_total", **labels) == count
    opened = {"show": SHOP_SHOW, "type": "sale.opened"}
    assert delta(before, after, "gala_events_fanned_out_total", **opened) == 1
    for show in (SHOP_SHOW, DROP_SHOW):
        assert after[("gala_sweeper_runs_total", frozenset({("show", show)}))] >= 1

    for _ in range(200):  # the consoles' rates count the same taps, summed over presence reports
        if any(f["orders_per_s"] > 0 for f in figures):
            break
        await asyncio.sleep(0.05)
    assert any(f["orders_per_s"] > 0 for f in figures), figures[-1:]
    for viewer in viewers:
        await viewer.close()
    await producer.close()
