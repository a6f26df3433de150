"""A sponsor's reveal end to end (both backends): the sponsor books two reveals (one with a drop)
through the API, the producer approves one and rejects the other, the approved one joins the run
of show as a cue, the show runs, viewers see the card, buy and grab, and the sponsor's results
match the orders and grabs exactly; the product stays secret until its cue fires."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from gala.kernel.clock import ManualClock
from gala.runofshow.booked_cues import product_key
from gala.settings import Settings
from tests.support import LOCALES, RunningServer, Viewer, connect_viewer, running_server

SHOW = "test-show"
PASSWORD = "correct horse battery"
FLASH_PRICE = 8_000
KEY = product_key("acme", "x5")
PHONE: dict[str, Any] = {
    "id": "x5",
    "name": {loc: f"Acme X5 [{loc}]" for loc in LOCALES},
    "image_url": "/static/demo/products/aurora-x5.svg",
    "price_minor": 10_000,
    "stock": 5,
    "per_viewer_limit": 2,
}


async def sponsor_api(server: RunningServer, http: aiohttp.ClientSession) -> Any:
    token = await server.sponsor_token("acme-brand", "acme", PASSWORD)

    async def call(method: str, path: str, body: Any = None, ok: bool = True) -> dict[str, Any]:
        async with http.request(
            method,
            f"{server.base_url}/api/sponsor{path}",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
        ) as resp:
            answer: dict[str, Any] = await resp.json()
            assert answer["ok"] is ok, (path, answer)
            return answer

    return call


async def producer_call(producer: Viewer, event: str, payload: dict[str, Any]) -> Any:
    ack = await producer.call(event, {"show_id": SHOW, **payload}, namespace="/producer")
    assert ack["ok"], (event, ack)
    return ack["data"]


@pytest.fixture
async def server(store_url: str, show_file: str) -> AsyncIterator[RunningServer]:
    settings = Settings(
        store_url=store_url,
        show_files=(show_file,),
        demo_budget_minor=1_000_000,  # the sponsor's drop budget
        demo_wallet_grant_minor=100_000,
    )
    async with running_server(settings) as running:
        yield running


async def test_a_booked_reveal_runs_and_the_sponsor_sees_exactly_its_orders_and_grabs(
    server: RunningServer,
) -> None:
    async with aiohttp.ClientSession() as http:
        sponsor = await sponsor_api(server, http)
        await sponsor("POST", "/products", PHONE)
        drop = {"budget_minor": 3_000, "envelopes": 3, "min_minor": 1, "countdown_ms": 0,
                "duration_ms": 60_000}  # fmt: skip
        approved = (
            await sponsor(
                "POST",
                "/bookings",
                {
                    "show_id": SHOW,
                    "product_id": "x5",
                    "slot": {"after_cue": "c01"},
                    "sale_duration_ms": 600_000,
                    "flash_price_minor": FLASH_PRICE,
                    "drop": drop,
                },
            )
        )["data"]
        rejected = (
            await sponsor(
                "POST",
                "/bookings",
                {"show_id": SHOW, "product_id": "x5", "slot": {"after_cue": "c02"},
                 "sale_duration_ms": 600_000},
            )
        )["data"]  # fmt: skip

        producer = await connect_viewer(server.base_url, await server.producer_token(), "/producer")
        await producer_call(producer, "console:join", {})
        await producer_call(producer, "booking:approve", {"booking_id": approved["id"]})
        await producer_call(
            producer, "booking:reject", {"booking_id": rejected["id"], "reason": "no slot"}
        )
        sheet = [cue.id for cue in server.node.shows.get(SHOW).cues]
        assert sheet[:2] == ["c01", sheet[1]] and sheet[1].startswith("bk-")
        assert sheet[2] == "c02" and len(sheet) == 31, "only the approved booking is a cue"

        viewers = [
            await connect_viewer(server.base_url, await server.viewer_token()) for _ in "abc"
        ]
        for viewer in viewers:
            assert (await viewer.call("join", {"show_id": SHOW}))["ok"]
        await producer_call(producer, "go", {"standby_cue_id": "c01"})
        stage = await server.node.stage.state(SHOW)
        assert stage.standby_cue_id == sheet[1], "the booked reveal is next"
        await viewers[0].wait_for_seq(2)
        assert "Acme X5" not in json.dumps(viewers[0].events), "secret until its cue fires"
        for path in ("/", f"/watch/{SHOW}", f"/api/shows/{SHOW}", f"/api/shows/{SHOW}/snapshot"):
            async with http.get(f"{server.base_url}{path}") as resp:
                assert "Acme X5" not in await resp.text(), path

        await producer_call(producer, "go", {"standby_cue_id": sheet[1]})
        await asyncio.gather(*(v.wait_for_seq(5) for v in viewers))
        types = [e["type"] for e in viewers[0].events]
        assert types[-3:] == ["overlay.shown", "sale.opened", "drop.announced"]
        card = viewers[0].events[-3]["data"]["overlay"]
        assert card["id"] == KEY and card["product"]["price_minor"] == FLASH_PRICE
        drop_id = viewers[0].events[-1]["data"]["drop_id"]

        for viewer in viewers:
            ack = await viewer.call("displayed", {"show_id": SHOW, "product_id": KEY})
            assert ack["ok"], ack
        bought = 0
        for viewer, quantity in zip(viewers[:2], (2, 1), strict=True):
            ack = await viewer.call(
                "buy",
                {"show_id": SHOW, "product_id": KEY, "key": f"tap-{quantity}-0001",
                 "quantity": quantity},
            )  # fmt: skip
            assert ack["ok"] and ack["data"]["order"]["state"] == "paid", ack
            bought += ack["data"]["order"]["amount_minor"]
        given = 0
        for viewer in viewers:
            ack = await viewer.call("grab", {"show_id": SHOW, "drop_id": drop_id})
            assert ack["ok"], ack
            given += ack["data"]["amount_minor"]
        assert (bought, given) == (3 * FLASH_PRICE, 3_000)

        results = (await sponsor("GET", f"/shows/{SHOW}/results"))["data"]
        [reveal] = results["reveals"]
        assert (reveal["product_id"], reveal["sponsor_id"]) == (KEY, "acme")
        assert (reveal["displayed"], reveal["taps"], reveal["orders"]) == (3, 2, 2)
        assert (reveal["units"], reveal["gmv_minor"], reveal["buyers"]) == (3, bought, 2)
        assert reveal["conversion"] == round(2 / 3, 4)
        [drop_row] = results["drops"]
        assert (drop_row["funder"], drop_row["grabbed"], drop_row["given_minor"]) == (
            "acme",
            3,
            given,
        )
        # the show is live and the reveal approved: its price is fixed, its stock >= sold
        for change in ({"price_minor": 9_000}, {"stock": 2}):
            refused = await sponsor("PATCH", "/products/x5", change, ok=False)
            assert refused["error"]["code"] == "product_locked", refused
        assert (await sponsor("PATCH", "/products/x5", {"stock": 3}))["data"]["stock"] == 3
        mine = await sponsor("GET", "/bookings")
        states = {b["id"]: (b["state"], b.get("reason")) for b in mine["data"]}
        assert states[approved["id"]][0] == "approved"
        assert states[rejected["id"]] == ("rejected", "no slot")
        for client in (*viewers, producer):
            await client.close()


async def test_armed_automatic_mode_fires_a_time_of_day_reveal_at_its_time(
    store_url: str, show_file: str
) -> None:
    zone = ZoneInfo("Asia/Shanghai")  # the test show's time zone
    clock = ManualClock(int(datetime(2026, 11, 10, 21, 0, tzinfo=zone).timestamp() * 1000))
    settings = Settings(store_url=store_url, show_files=(show_file,), demo_budget_minor=10_000)
    async with running_server(settings, clock) as server, aiohttp.ClientSession() as http:
        sponsor = await sponsor_api(server, http)
        await sponsor("POST", "/products", PHONE)
        booked = await sponsor(
            "POST",
            "/bookings",
            {"show_id": SHOW, "product_id": "x5", "slot": {"at": "21:30"},
             "sale_duration_ms": 600_000},
        )  # fmt: skip
        producer = await connect_viewer(server.base_url, await server.producer_token(), "/producer")
        await producer_call(producer, "booking:approve", {"booking_id": booked["data"]["id"]})
        refused = await producer.call("auto", {"show_id": SHOW, "armed": True}, "/producer")
        assert refused["error"]["code"] == "show_not_live"
        viewer = await connect_viewer(server.base_url, await server.viewer_token())
        assert (await viewer.call("join", {"show_id": SHOW}))["ok"]
        await producer_call(producer, "go", {"standby_cue_id": "c01"})
        armed = await producer_call(producer, "auto", {"armed": True})
        [timer] = [t for t in armed["timers"] if t["reason"] == "time_of_day"]
        assert timer["due_ms"] == clock.now_ms() + 30 * 60_000
        await viewer.wait_for_seq(2)
        clock.advance(30 * 60_000 - 1)
        await asyncio.sleep(2.5)  # a stage watcher's longest wait
        assert all(e["type"] != "overlay.shown" or e["data"]["layer"] != "product_card"
                   for e in viewer.events), "not a millisecond early"  # fmt: skip
        clock.advance(1)
        await viewer.wait_for_seq(4)
        card = [e for e in viewer.events if e["type"] == "overlay.shown"][-1]
        assert card["data"]["overlay"]["id"] == KEY
        assert card["program_time_ms"] == timer["due_ms"]
        stage = await server.node.stage.state(SHOW)
        assert stage.standby_cue_id == "c02", "the manual sequence is untouched"
        for client in (viewer, producer):
            await client.close()
