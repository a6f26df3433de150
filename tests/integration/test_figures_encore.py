"""An encore through a real server (both stores): viewers buy, the producer fires a cue that
reveals a product again and opens its sale again; the GMV of `figures` and `console:figures`
never decreases and ends equal to the paid orders' total exactly; a product's "left" is its
current sale's own counts; the consoles get each product's name."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from gala.settings import Settings
from tests.support import LOCALES, RunningServer, Viewer, connect_viewer, running_server

SHOW = "encore-show"
WIDGET_MINOR, GADGET_MINOR = 2_599, 177_600
STOCK = 10
GRANT = 1_000_000
WIDGET_NAME = {loc: f"Widget {loc}" for loc in LOCALES}


def encore_show(tmp_path: Path) -> str:
    def product(pid: str, price: int) -> list[str]:
        names = ", ".join(f'{loc} = "{pid.title()} {loc}"' for loc in LOCALES)
        return [
            f"[products.{pid}]",
            'sponsor = "acme"',
            f"price_minor = {price}",
            f"stock = {STOCK}",
            "per_viewer_limit = 3",
            f"name = {{ {names} }}",
            "",
        ]

    def cue(cue_id: str, label: str, pid: str) -> list[str]:
        return [
            "[[cues]]",
            f'id = "{cue_id}"',
            f'label = "{label}"',
            f'actions = [{{ do = "product.show", product = "{pid}" }}, '
            f'{{ do = "sale.open", product = "{pid}", duration_ms = 600000 }}]',
            "",
        ]

    path = tmp_path / "encore.toml"
    lines = [
        "[show]",
        f'id = "{SHOW}"',
        'title = "Encore"',
        'currency = "CNY"',
        "locales = [" + ", ".join(f'"{loc}"' for loc in LOCALES) + "]",
        "",
        "[sponsors.acme]",
        'name = "Acme"',
        "",
        *product("widget", WIDGET_MINOR),
        *product("gadget", GADGET_MINOR),
        *cue("c1", "Reveal the widget", "widget"),
        *cue("c2", "Reveal the gadget", "gadget"),
        *cue("c3", "Encore: the widget", "widget"),
    ]
    path.write_text("\n".join(lines))
    return str(path)


@pytest.fixture
async def server(store_url: str, tmp_path: Path) -> AsyncIterator[RunningServer]:
    settings = Settings(
        store_url=store_url, show_files=(encore_show(tmp_path),), demo_wallet_grant_minor=GRANT
    )
    async with running_server(settings) as running:
        yield running


async def go(producer: Viewer, cue: str) -> None:
    ack = await producer.call("go", {"show_id": SHOW, "standby_cue_id": cue}, namespace="/producer")
    assert ack["ok"], ack


async def buy(viewer: Viewer, product: str, key: str, quantity: int) -> dict[str, Any]:
    payload = {"show_id": SHOW, "product_id": product, "key": key, "quantity": quantity}
    ack = await viewer.call("buy", payload)
    assert ack["ok"], ack
    order: dict[str, Any] = ack["data"]["order"]
    assert order["state"] == "paid"
    return order


async def sales_opened(viewer: Viewer, count: int) -> list[dict[str, Any]]:
    """The data of the `sale.opened` events the viewer got, once it has `count` of them."""
    for _ in range(500):
        opened = [e["data"] for e in viewer.events if e["type"] == "sale.opened"]
        if len(opened) >= count:
            return opened
        await asyncio.sleep(0.02)
    raise AssertionError(f"fewer than {count} sales opened")


async def until(messages: list[dict[str, Any]], ok: Callable[[dict[str, Any]], bool]) -> None:
    for _ in range(200):
        if messages and ok(messages[-1]):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the figures never got there; last {messages[-1:]}")


async def test_gmv_never_decreases_across_an_encore_and_equals_the_paid_orders(
    server: RunningServer,
) -> None:
    producer = await connect_viewer(
        server.base_url, await server.producer_token(), namespace="/producer"
    )
    joined = await producer.call("console:join", {"show_id": SHOW}, namespace="/producer")
    assert joined["ok"], joined
    console: list[dict[str, Any]] = []
    producer.client.on("console:figures", console.append, namespace="/producer")
    viewers = [await connect_viewer(server.base_url, await server.viewer_token()) for _ in range(3)]
    for viewer in viewers:
        assert (await viewer.call("join", {"show_id": SHOW}))["ok"]
    phone: list[dict[str, Any]] = []
    viewers[0].client.on("figures", phone.append, namespace="/")

    await go(producer, "c1")
    await go(producer, "c2")
    for viewer in viewers:
        await sales_opened(viewer, 2)
    orders = [
        await buy(viewers[0], "widget", "widget-first-0", 2),
        await buy(viewers[1], "widget", "widget-first-1", 3),
        await buy(viewers[2], "widget", "widget-first-2", 1),
        await buy(viewers[0], "gadget", "gadget-first-0", 1),
    ]
    first_total = 6 * WIDGET_MINOR + GADGET_MINOR
    assert sum(o["amount_minor"] for o in orders) == first_total
    await until(phone, lambda f: f["gmv_minor"] == first_total)
    await until(console, lambda f: f["gmv_minor"] == first_total)
    first_sale = phone[-1]["products"]["widget"]["sale_id"]

    await go(producer, "c3")  # the encore: the widget revealed again, its sale opened again
    for viewer in viewers:
        opened = await sales_opened(viewer, 3)
    encore_sale = opened[-1]["sale_id"]
    assert encore_sale != first_sale and opened[-1]["product_id"] == "widget"
    assert opened[-1]["name"] == WIDGET_NAME
    await until(phone, lambda f: f["products"]["widget"]["sale_id"] == encore_sale)
    assert phone[-1]["gmv_minor"] == first_total, "the encore's new sale adds, never replaces"
    assert phone[-1]["products"]["widget"]["left"] == STOCK, "the encore's sale's own stock"

    orders.append(await buy(viewers[1], "widget", "widget-encore-1", 2))
    total = sum(o["amount_minor"] for o in orders)
    assert total == 8 * WIDGET_MINOR + GADGET_MINOR == 198_392
    await until(phone, lambda f: f["gmv_minor"] == total)
    await until(console, lambda f: f["gmv_minor"] == total)

    for messages in (phone, console):
        gmvs = [f["gmv_minor"] for f in messages]
        assert gmvs == sorted(gmvs), f"GMV went down: {gmvs}"
        assert gmvs[-1] == total

    store = server.node.store.sales
    paid = 0
    for sale_id in await store.sale_ids():
        paid += sum(o.amount_minor for o in await store.orders(sale_id) if o.state == "paid")
    assert paid == total, "GMV is the sum of every paid order of the show"
    encore_counts = await store.counts(encore_sale)
    first_counts = await store.counts(first_sale)
    assert (first_counts.left, first_counts.sold) == (STOCK - 6, 6)
    for messages in (phone, console):
        widget = messages[-1]["products"]["widget"]
        assert widget["sale_id"] == encore_sale
        assert (
            (widget["left"], widget["held"], widget["sold"])
            == (
                encore_counts.left,
                encore_counts.held,
                encore_counts.sold,
            )
            == (STOCK - 2, 0, 2)
        )

    assert console[-1]["products"]["widget"]["name"] == WIDGET_NAME
    assert console[-1]["products"]["gadget"]["name"]["fr"] == "Gadget fr"
    assert all("name" not in p for f in phone for p in f["products"].values())

    wallet = await viewers[1].call("wallet", {"show_id": SHOW})
    mine = {o["order_id"] for o in wallet["data"]["orders"]}
    assert {orders[1]["order_id"], orders[4]["order_id"]} <= mine, "both sales' orders listed"
    for client in (producer, *viewers):
        await client.close()
