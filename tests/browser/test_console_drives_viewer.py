"""In a real browser: a producer logs in, presses GO (button and space bar) in the console, and the
viewer page shows what the cue put on stage, in the viewer's language; the page's own fold of the
log matches the server's snapshot."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from gala.auth.tokens import PRODUCER, hash_password
from gala.settings import Settings
from gala.stores.ports import Account
from tests.support import (
    SHOP_SHOW,
    RunningServer,
    connect_viewer,
    running_server,
    shop_show,
    write_show,
)

SHOW = "test-show"


@pytest.fixture
async def sqlite_server(tmp_path: Path) -> AsyncIterator[RunningServer]:
    settings = Settings(
        store_url=f"sqlite:///{tmp_path / 'gala.db'}", show_files=(write_show(tmp_path),), port=0
    )
    async with running_server(settings) as running:
        await running.node.store.hub.put_account(
            Account("ann", hash_password("stage-door-42"), PRODUCER)
        )
        yield running


async def server_snapshot(server: RunningServer) -> dict[str, Any]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{server.base_url}/api/shows/{SHOW}/snapshot") as resp,
    ):
        return (await resp.json())["data"]  # type: ignore[no-any-return]


async def test_go_in_the_console_changes_the_viewer_page(
    browser: Any, sqlite_server: RunningServer
) -> None:
    base = sqlite_server.base_url
    viewer = await (
        await browser.new_context(viewport={"width": 390, "height": 844}, locale="en-US")
    ).new_page()
    arabic = await (await browser.new_context(locale="ar")).new_page()
    console = await (await browser.new_context()).new_page()
    errors: list[str] = []
    for page in (viewer, arabic, console):
        page.on("pageerror", lambda error: errors.append(str(error)))

    await viewer.goto(f"{base}/watch/{SHOW}")
    await arabic.goto(f"{base}/watch/{SHOW}")
    await viewer.wait_for_selector('#conn[data-state="live"]')
    await arabic.wait_for_selector('#conn[data-state="live"]')
    assert await viewer.locator('[data-layer="banner"]').is_hidden()

    await console.goto(f"{base}/console")
    assert "/login" in console.url
    await console.fill('input[name="username"]', "ann")
    await console.fill('input[name="password"]', "wrong password")
    await console.click('button[type="submit"]')
    assert "wrong username or password" in await console.locator(".error").inner_text()
    await console.fill('input[name="username"]', "ann")
    await console.fill('input[name="password"]', "stage-door-42")
    await console.click('button[type="submit"]')
    await console.wait_for_selector('#conn[data-state="live"]')
    await console.wait_for_selector('#cues tr.standby[data-cue-id="c01"]')
    await console.wait_for_function("document.getElementById('viewers').textContent === '2'")

    await console.click("#go")
    banner = viewer.locator('[data-layer="banner"] .banner-text')
    await banner.wait_for(state="visible")
    assert await banner.inner_text() == "Welcome [en]"
    await viewer.wait_for_selector('#phase[data-phase="live"]')
    arabic_banner = arabic.locator('[data-layer="banner"] .banner-text')
    await arabic_banner.wait_for(state="visible")
    assert await arabic_banner.inner_text() == "مرحبا Welcome [ar]"
    assert await arabic.evaluate("document.documentElement.dir") == "rtl"
    assert await arabic.locator("#phase").inner_text() == "مباشر"
    assert await viewer.locator("#phase").inner_text() == "LIVE"
    await console.wait_for_selector('#cues tr.standby[data-cue-id="c02"]')

    await console.wait_for_timeout(800)  # past the double-press guard
    await console.keyboard.press("Space")
    title = viewer.locator('[data-layer="lower_third"] .lt-title')
    await title.wait_for(state="visible")
    assert await title.inner_text() == "Host [en]"

    await console.wait_for_timeout(800)
    await console.click("#go")
    price = viewer.locator('[data-layer="product_card"] .product-price')
    await price.wait_for(state="visible")
    assert await price.inner_text() == "CN¥129.90"
    assert await viewer.locator(".product-name").inner_text() == "Widget en"

    await console.click("#panic")
    await viewer.locator('[data-layer="product_card"]').wait_for(state="hidden")
    assert await viewer.locator('[data-layer="banner"]').is_hidden()
    await console.wait_for_selector("#audit li")
    audit = await console.locator("#audit").inner_text()
    assert "ann panic" in audit and "ann go → c01" in audit

    snapshot = await server_snapshot(sqlite_server)
    page_state = await viewer.evaluate("galaViewer.state().received")
    assert page_state == snapshot, "the page's fold of the log equals the server's snapshot"
    assert errors == []
    for page in (viewer, arabic, console):
        await page.context.close()


async def test_a_viewer_buys_the_product_on_stage_with_one_tap(
    browser: Any, tmp_path: Path
) -> None:
    settings = Settings(
        store_url=f"sqlite:///{tmp_path / 'gala.db'}",
        show_files=(shop_show(tmp_path),),
        demo_wallet_grant_minor=30_000,
    )
    async with running_server(settings) as server:
        producer = await connect_viewer(
            server.base_url, await server.producer_token(), namespace="/producer"
        )
        page = await (
            await browser.new_context(viewport={"width": 390, "height": 844}, locale="en-US")
        ).new_page()
        await page.goto(f"{server.base_url}/watch/{SHOP_SHOW}")
        await page.wait_for_selector('#conn[data-state="live"]')
        await page.wait_for_selector("#wallet:not([hidden])")
        assert "CN¥300.00" in await page.locator("#wallet").inner_text()

        async def go(cue: str) -> None:
            ack = await producer.call(
                "go", {"show_id": SHOP_SHOW, "standby_cue_id": cue}, namespace="/producer"
            )
            assert ack["ok"], ack

        await go("c1")
        button = page.locator(".buy-button")
        await button.wait_for(state="visible")
        assert await button.inner_text() == "Coming soon" and await button.is_disabled()
        await go("c2")
        await page.wait_for_selector('.buy-button[data-state="buy"]')
        await button.click()
        toast = page.locator("#toast")
        await toast.wait_for(state="visible")
        assert (await toast.inner_text()).startswith("Bought!")
        await page.wait_for_function(
            "document.getElementById('wallet').textContent.includes('(1)')"
        )
        assert "CN¥170.10" in await page.locator("#wallet").inner_text()
        await go("c3")
        await page.wait_for_selector('.buy-button[data-state="ended"]')
        await page.context.close()
        await producer.close()


async def test_a_viewer_without_the_money_pays_through_the_sandbox_provider(
    browser: Any, tmp_path: Path
) -> None:
    settings = Settings(
        store_url=f"sqlite:///{tmp_path / 'gala.db'}",
        show_files=(shop_show(tmp_path),),
        payment_provider="sandbox",
    )
    async with running_server(settings) as server:
        producer = await connect_viewer(
            server.base_url, await server.producer_token(), namespace="/producer"
        )
        context = await browser.new_context(viewport={"width": 390, "height": 844}, locale="en-US")
        page = await context.new_page()
        await page.goto(f"{server.base_url}/watch/{SHOP_SHOW}")
        await page.wait_for_selector("#wallet:not([hidden])")
        for cue in ("c1", "c2"):
            ack = await producer.call(
                "go", {"show_id": SHOP_SHOW, "standby_cue_id": cue}, namespace="/producer"
            )
            assert ack["ok"], ack
        await page.wait_for_selector('.buy-button[data-state="buy"]')
        await page.locator(".buy-button").click()
        offer = page.locator("#pay-offer button")
        await offer.wait_for(state="visible")
        assert await offer.inner_text() == "Pay with the sandbox provider"
        async with context.expect_page() as opened:
            await offer.click()
        sandbox = await opened.value
        await sandbox.wait_for_selector("#pay")
        assert "SANDBOX" in await sandbox.locator(".sandbox-banner").inner_text()
        await page.wait_for_selector("#pay-offer .pay-held")
        assert "Held for you until" in await page.locator("#pay-offer").inner_text()
        await sandbox.click("#pay")
        await sandbox.wait_for_selector('#result[data-ok="true"]')
        await page.wait_for_selector('#orders li[data-state="paid"]', state="attached")
        sale_id = (await server.node.store.sales.sale_ids())[0]
        counts = await server.node.store.sales.counts(sale_id)
        assert (counts.held, counts.sold) == (0, 1)
        await context.close()
        await producer.close()
