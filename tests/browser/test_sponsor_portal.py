"""In a real browser: a sponsor logs in on a phone-sized screen, creates a product and books its
reveal in the portal; a producer approves it in the console's bookings panel; the portal then
shows the booking approved."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from gala.auth.tokens import PRODUCER, SPONSOR, hash_password
from gala.settings import Settings
from gala.stores.ports import Account
from tests.support import LOCALES, RunningServer, running_server, write_show

SHOW = "test-show"


@pytest.fixture
async def sqlite_server(tmp_path: Path) -> AsyncIterator[RunningServer]:
    settings = Settings(
        store_url=f"sqlite:///{tmp_path / 'gala.db'}", show_files=(write_show(tmp_path),), port=0
    )
    async with running_server(settings) as running:
        hub = running.node.store.hub
        await hub.put_account(Account("ann", hash_password("stage-door-42"), PRODUCER))
        await hub.put_account(Account("bo", hash_password("brand-door-42"), SPONSOR, "acme"))
        yield running


async def log_in(page: Any, base: str, path: str, username: str, password: str) -> None:
    await page.goto(f"{base}{path}")
    assert "/login" in page.url
    await page.fill('input[name="username"]', username)
    await page.fill('input[name="password"]', password)
    await page.click('button[type="submit"]')


async def test_a_reveal_booked_in_the_portal_is_approved_in_the_console(
    browser: Any, sqlite_server: RunningServer
) -> None:
    base = sqlite_server.base_url
    portal = await (await browser.new_context(viewport={"width": 390, "height": 844})).new_page()
    console = await (await browser.new_context()).new_page()
    errors: list[str] = []
    for page in (portal, console):
        page.on("pageerror", lambda error: errors.append(str(error)))

    await log_in(portal, base, "/sponsor", "bo", "brand-door-42")
    await portal.wait_for_selector(f'#booking-show option[value="{SHOW}"]', state="attached")
    assert portal.url.endswith("/sponsor")
    await portal.fill('#product-form input[name="id"]', "x5")
    for locale in LOCALES:
        await portal.fill(f'#names input[data-locale="{locale}"]', f"Acme X5 {locale}")
    await portal.fill('#product-form input[name="price"]', "3999")  # CNY, not minor units
    await portal.fill('#product-form input[name="stock"]', "0")
    await portal.click("#product-save")
    await portal.wait_for_selector('#products tr[data-id="x5"]')
    await portal.wait_for_selector('#booking-product option[value="x5"]', state="attached")

    await portal.click("#book")  # after cue c01, no stock yet: refused with the server's reason
    await portal.wait_for_selector("#message.error")
    assert "no_stock" in await portal.locator("#message").inner_text()
    await portal.click('#products tr[data-id="x5"] button')
    await portal.fill('#product-form input[name="stock"]', "50")
    await portal.click("#product-save")
    stock_cell = "document.querySelector('#products tr[data-id=\"x5\"] td:nth-child(4)')"
    await portal.wait_for_function(f"{stock_cell}.textContent === '50'")
    await portal.click("#book")
    await portal.wait_for_selector("#bookings td.state-pending")

    await log_in(console, base, "/console", "ann", "stage-door-42")
    await console.wait_for_selector('#bookings tr[data-state="pending"] .booking-approve')
    await console.click('#bookings tr[data-state="pending"] .booking-approve')
    await console.wait_for_selector('#bookings tr[data-state="approved"]')
    await console.wait_for_selector("#audit >> text=booking.approve")

    await portal.reload()
    await portal.wait_for_selector("#bookings td.state-approved")

    # the approved reveal is now a cue after c01: GO twice fires it, and the portal's live
    # results show the reveal of the sponsor's product
    await console.wait_for_selector("#cues >> text=Sponsor reveal")
    await console.click("#go")
    await console.wait_for_function(
        "document.querySelector('#standby').textContent.includes('Sponsor reveal')"
    )
    await console.click("#go")
    await portal.wait_for_selector("#results-reveals tbody tr >> text=Acme X5 en", timeout=30_000)
    assert errors == []


async def test_a_producer_adds_a_cue_in_the_console_and_goes_through_it(
    browser: Any, sqlite_server: RunningServer
) -> None:
    base = sqlite_server.base_url
    console = await (await browser.new_context()).new_page()
    errors: list[str] = []
    console.on("pageerror", lambda error: errors.append(str(error)))
    await log_in(console, base, "/console", "ann", "stage-door-42")
    await console.wait_for_selector("#cues tbody tr")
    await console.fill("#edit-after", "c01")
    await console.click("#edit-form button[type=submit]")  # the form's sample cue: a banner
    await console.wait_for_selector("#cues >> text=Extra banner")
    assert await console.locator("#edit-message").inner_text() == "add: done"
    await console.click("#go")
    await console.wait_for_function(
        "document.querySelector('#standby').textContent.includes('Extra banner')"
    )
    await console.select_option("#edit-kind", "remove")
    await console.fill("#edit-cue", "extra-1")
    await console.click("#edit-form button[type=submit]")
    await console.wait_for_selector("#edit-message.error")
    assert "cue_in_use" in await console.locator("#edit-message").inner_text()
    assert errors == []
