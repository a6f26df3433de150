"""On a phone (390×844, Debian chromium): the GMV the viewer page shows never decreases across an
encore (a cue that reveals a product again and opens its sale again), and ends at the paid
orders' total exactly; the card's stock is the encore sale's own."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from gala.settings import Settings
from tests.integration.test_figures_encore import (
    GADGET_MINOR,
    GRANT,
    SHOW,
    STOCK,
    WIDGET_MINOR,
    buy,
    encore_show,
    go,
    sales_opened,
)
from tests.support import connect_viewer, running_server

SHOTS = Path("/tmp/gala-shots")
# every text the GMV pill takes, in order, recorded by the page itself (no change is missed)
RECORD_GMV = """
window.gmvTexts = [];
new MutationObserver(function () {
  var el = document.getElementById("gmv");
  if (!el || el.hidden || !el.textContent) return;
  var last = window.gmvTexts[window.gmvTexts.length - 1];
  if (last !== el.textContent) window.gmvTexts.push(el.textContent);
}).observe(document, { subtree: true, childList: true, characterData: true, attributes: true });
"""


def minor_of(text: str) -> int:
    """CN¥1,983.92 -> 198392 (CNY has two decimals; the label around it has no digits)."""
    return int(re.sub(r"\D", "", text))


async def page_gmv(page: Any, minor: int) -> None:
    await page.wait_for_function(
        "(m) => { var el = document.getElementById('gmv');"
        " return !el.hidden && el.textContent.replace(/\\D/g, '') === String(m); }",
        arg=minor,
        timeout=15_000,
    )


async def test_the_phones_gmv_never_decreases_across_an_encore(
    browser: Any, tmp_path: Path
) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    settings = Settings(
        store_url=f"sqlite:///{tmp_path / 'gala.db'}",
        show_files=(encore_show(tmp_path),),
        demo_wallet_grant_minor=GRANT,
    )
    async with running_server(settings) as server:
        producer = await connect_viewer(
            server.base_url, await server.producer_token(), namespace="/producer"
        )
        buyers = [
            await connect_viewer(server.base_url, await server.viewer_token()) for _ in range(2)
        ]
        for buyer in buyers:
            assert (await buyer.call("join", {"show_id": SHOW}))["ok"]
        context = await browser.new_context(viewport={"width": 390, "height": 844}, locale="en-US")
        await context.add_init_script(RECORD_GMV)
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        await page.goto(f"{server.base_url}/watch/{SHOW}")
        await page.wait_for_selector('#conn[data-state="live"]')

        await go(producer, "c1")
        await go(producer, "c2")
        for buyer in buyers:
            await sales_opened(buyer, 2)
        orders = [
            await buy(buyers[0], "widget", "widget-first-a", 3),
            await buy(buyers[1], "widget", "widget-first-b", 3),
            await buy(buyers[1], "gadget", "gadget-first-b", 1),
        ]
        first_total = 6 * WIDGET_MINOR + GADGET_MINOR
        assert sum(o["amount_minor"] for o in orders) == first_total
        await page_gmv(page, first_total)
        await page.screenshot(path=str(SHOTS / "gmv-encore-1-before.png"))

        await go(producer, "c3")  # the encore
        for buyer in buyers:
            await sales_opened(buyer, 3)
        stock = page.locator(".product-stock")
        await page.wait_for_function(
            "(t) => (document.querySelector('.product-stock') || {}).textContent === t",
            arg=f"{STOCK} left",
            timeout=15_000,
        )
        await page.screenshot(path=str(SHOTS / "gmv-encore-2-encore.png"))
        assert minor_of(await page.locator("#gmv").inner_text()) == first_total

        orders.append(await buy(buyers[0], "widget", "widget-encore-a", 2))
        total = sum(o["amount_minor"] for o in orders)
        assert total == 8 * WIDGET_MINOR + GADGET_MINOR == 198_392
        await page_gmv(page, total)
        await page.wait_for_function(
            "(t) => (document.querySelector('.product-stock') || {}).textContent === t",
            arg=f"{STOCK - 2} left",
            timeout=15_000,
        )
        assert await stock.inner_text() == f"{STOCK - 2} left", "the encore sale's own left"
        await page.screenshot(path=str(SHOTS / "gmv-encore-3-after.png"))

        texts: list[str] = await page.evaluate("window.gmvTexts")
        shown = [minor_of(text) for text in texts]
        assert shown == sorted(shown), f"the GMV went down on the phone: {texts}"
        assert first_total in shown and shown[-1] == total, texts
        assert "CN¥1,983.92" in await page.locator("#gmv").inner_text()
        box = await page.locator("#gmv").bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
        assert errors == []
        await context.close()
        for client in (producer, *buyers):
            await client.close()
