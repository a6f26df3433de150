"""In a real browser, the demo show's sponsor (`aurora`, as `gala demo` creates it) on a phone and
at desktop size: it finds the products the show file declares for it, books one after a cue,
reads every amount formatted in the show's currency (never raw minor units), sees the time field
only for a time-of-day slot, and, once a producer approved and fired the reveal, reads its
results row by cue number and time with no column cut off; no console errors throughout.
Screenshots go to /tmp/gala-shots/ for a person to look at."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from gala.auth.tokens import PRODUCER, SPONSOR, hash_password
from gala.settings import Settings
from gala.stores.ports import Account
from tests.support import RunningServer, connect_viewer, running_server

SHOW = "gala-1111"
DEMO_SHOW = str(Path(__file__).parents[2] / "gala" / "shows" / "countdown_gala_1111.toml")
SHOTS = Path("/tmp/gala-shots")
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1440, "height": 900}
RAW_MINOR = re.compile(r"\d{4,}")  # a formatted amount groups its digits: 3,999.00
LOCALES = ("en", "zh", "ar", "vi", "fr", "id")


@pytest.fixture
async def demo_server(tmp_path: Path) -> AsyncIterator[RunningServer]:
    settings = Settings(
        store_url=f"sqlite:///{tmp_path / 'gala.db'}",
        show_files=(DEMO_SHOW,),
        port=0,
        demo_budget_minor=100_000_000,  # as `gala demo`
    )
    async with running_server(settings) as running:
        hub = running.node.store.hub
        await hub.put_account(Account("ann", hash_password("stage-door-42"), PRODUCER))
        await hub.put_account(Account("aurora", hash_password("brand-door-42"), SPONSOR, "aurora"))
        yield running


def console_error(message: Any, errors: list[str]) -> None:
    """A console error, the browser's own favicon.ico probe aside (no page asks for one)."""
    url = str(message.location.get("url", ""))
    if message.type == "error" and not url.endswith("/favicon.ico"):
        errors.append(f"{message.text} {url}")


async def log_in(page: Any, base: str) -> None:
    await page.goto(f"{base}/sponsor")
    await page.fill('input[name="username"]', "aurora")
    await page.fill('input[name="password"]', "brand-door-42")
    await page.click('button[type="submit"]')
    await page.wait_for_selector('#products tr[data-id="aurora-x5"]')


async def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"sponsor-{name}.png"), full_page=True)


async def texts(page: Any, selector: str) -> str:
    return str(await page.locator(selector).inner_text())


async def assert_formatted(page: Any) -> None:
    for selector in ("#budget", "#products tbody", "#bookings tbody", "#booking-product"):
        text = await texts(page, selector)
        assert RAW_MINOR.search(text) is None, (selector, text)
    assert "CN¥" in await texts(page, "#budget") or "CNY" in await texts(page, "#budget")


async def assert_not_clipped(page: Any, table: str) -> None:
    widths = await page.evaluate(
        """(selector) => {
          const table = document.querySelector(selector), box = table.closest('section');
          const right = box.getBoundingClientRect().right;
          const cells = [...table.querySelectorAll('th, td')].filter(c => c.offsetParent);
          return {table: [table.scrollWidth, table.clientWidth],
                  section: [box.scrollWidth, box.clientWidth],
                  overflow: cells.filter(c => c.getBoundingClientRect().right > right + 0.5)
                                 .map(c => c.textContent),
                  selector: selector,
                  // for the failure message: what inside the section is wider than its box
                  wide: [...box.querySelectorAll('*')]
                    .filter(e => e.clientWidth > 0 && e.scrollWidth > e.clientWidth + 1)
                    .map(e => e.tagName + '#' + e.id + ': ' + e.textContent.slice(0, 30))};
        }""",
        table,
    )
    assert widths["table"][0] <= widths["table"][1], widths
    assert widths["section"][0] <= widths["section"][1], widths
    assert widths["overflow"] == [], widths


async def test_the_demo_sponsor_books_a_show_file_product_and_reads_its_results(
    browser: Any, demo_server: RunningServer
) -> None:
    base = demo_server.base_url
    page = await (await browser.new_context(viewport=PHONE, locale="en-US")).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: console_error(message, errors))
    await log_in(page, base)

    # the show file's products of aurora, with their six names and descriptions
    ids = await page.eval_on_selector_all(
        "#products tbody tr", "rows => rows.map(r => r.dataset.id)"
    )
    assert ids == ["aurora-watch-s2", "aurora-x5"]
    assert "Aurora X5 Smartphone" in await texts(page, '#products tr[data-id="aurora-x5"]')
    await page.wait_for_function("document.querySelector('#budget').textContent !== '…'")
    assert await texts(page, "#budget") == "CN¥1,000,000.00 available of CN¥1,000,000.00"
    assert "CN¥3,999.00" in await texts(page, '#products tr[data-id="aurora-x5"]')
    await page.click('#products tr[data-id="aurora-x5"] button')
    for locale in LOCALES:
        assert await page.input_value(f'#descriptions textarea[data-locale="{locale}"]') != ""
    assert "256 Go" in await page.input_value('#descriptions textarea[data-locale="fr"]')
    assert await page.input_value('#product-form input[name="price"]') == "3999.00"
    await page.click("#product-new")

    # the product id's pattern is a valid regex: it is applied (an invalid one is ignored)
    await page.fill('#product-form input[name="id"]', "Bad Id")
    assert await page.eval_on_selector(
        '#product-form input[name="id"]', "i => i.validity.patternMismatch"
    )
    await page.fill('#product-form input[name="id"]', "aurora-x6")
    assert await page.eval_on_selector('#product-form input[name="id"]', "i => i.validity.valid")

    # the time field only for a time-of-day slot, the cue picker by number and id
    assert await page.locator("#at-field").is_hidden()
    await page.select_option("#slot-kind", "at")
    assert await page.locator("#at-field").is_visible()
    assert await page.locator("#cue-field").is_hidden()
    await page.select_option("#slot-kind", "after_cue")
    assert await page.locator("#at-field").is_hidden()
    assert (await page.locator("#at-field").bounding_box()) is None
    cue_options = await page.eval_on_selector_all(
        "#booking-cue option", "os => os.map(o => o.textContent)"
    )
    assert cue_options[0] == "Cue 1 · id c01" and "Cue 6.3 · id c09" in cue_options

    await page.select_option("#booking-product", "aurora-x5")
    await page.select_option("#booking-cue", "c01")
    await page.fill('#booking-form input[name="flash_price"]', "2999")
    await page.fill('#booking-form input[name="drop_budget"]', "1200")
    await page.fill('#booking-form input[name="drop_envelopes"]', "100")
    await page.click("#book")
    await page.wait_for_selector("#bookings td.state-pending")
    message = await texts(page, "#message")
    assert message == (
        "Booked Aurora X5 Smartphone after cue 1 (id c01): waiting for a producer's approval"
    )
    booking = await texts(page, "#bookings tbody")
    assert "Aurora X5 Smartphone (aurora-x5)" in booking
    assert "after cue 1 (id c01)" in booking
    assert "flash price CN¥2,999.00" in booking and "100 envelopes, CN¥1,200.00" in booking
    await page.wait_for_function(
        "document.querySelector('#budget').textContent.startsWith('CN¥998')"
    )
    assert await texts(page, "#budget") == "CN¥998,800.00 available of CN¥1,000,000.00"
    await assert_formatted(page)
    await shot(page, "phone-booked")

    # a producer approves and fires it: the results row names the reveal by its cue and time
    producer = await connect_viewer(base, await demo_server.producer_token(), "/producer")
    try:
        join = await producer.call("console:join", {"show_id": SHOW}, namespace="/producer")
        assert join["ok"], join
        [mine] = [b for b in (await demo_server.node.sponsors.show_bookings(SHOW))]
        ack = await producer.call(
            "booking:approve", {"show_id": SHOW, "booking_id": mine.booking_id}, "/producer"
        )
        assert ack["ok"], ack
        sheet = demo_server.node.shows.get(SHOW).cues
        assert sheet[1].number == "1+1"
        for cue in sheet[:2]:
            ack = await producer.call(
                "go", {"show_id": SHOW, "standby_cue_id": cue.id}, namespace="/producer"
            )
            assert ack["ok"], ack
    finally:
        await producer.close()
    await page.wait_for_selector("#bookings td.state-approved", timeout=15_000)  # polled
    await page.wait_for_selector("#results-reveals tbody tr", timeout=10_000)
    first = await texts(page, "#results-reveals tbody tr td:first-child")
    assert re.search(r"Cue 1\+1 · \d\d:\d\d:\d\d", first), first
    assert "Aurora X5 Smartphone" in await texts(page, "#results-reveals tbody tr")
    await page.wait_for_selector("#results-drops tbody tr")
    drop = await texts(page, "#results-drops tbody tr td:first-child")
    assert drop == "With Aurora X5 Smartphone, after cue 1 (id c01)", drop
    results = await texts(page, "#results")
    assert "Online at reveal" in results and "Saw it" in results
    await assert_formatted(page)
    await assert_not_clipped(page, "#results-reveals")
    await assert_not_clipped(page, "#products")
    await assert_not_clipped(page, "#bookings")
    await shot(page, "phone-results")

    await page.set_viewport_size(DESKTOP)
    await page.wait_for_timeout(300)
    for table in ("#results-reveals", "#results-drops", "#products", "#bookings"):
        await assert_not_clipped(page, table)
    header = await page.locator("#results-reveals th", has_text="Conversion").bounding_box()
    assert header is not None and header["width"] > 0
    await shot(page, "desktop-results")
    assert errors == []
