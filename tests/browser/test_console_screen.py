"""In a real browser at 1440×900 and 1920×1080: the stage console as two producers see it. The
audit log is on screen without scrolling (and the page scrolls when the side panels are taller);
each console names every operator and who pressed each GO; a GO during a pending auto-follow
fires the follower now; product names in the stock table and drop names on a console that did
not launch the drop; cue rows reachable by keyboard (Enter sets standby, ↓ / ↑ next / back); no
table wider than its box; the running cue's elapsed time, the pending timer and the phone
preview on screen; no console errors. Screenshots go to /tmp/gala-shots/."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from gala.auth.tokens import PRODUCER, hash_password
from gala.settings import Settings
from gala.stores.ports import Account
from tests.support import RunningServer, running_server, show_toml

SHOW = "test-show"
PASSWORD = "stage-door-42"
SHOTS = Path("/tmp/gala-shots")
FOLLOW_MS = 50_000

# Every table of the console whose content is wider than its box (clipped or scrolled).
OVERFLOWING_TABLES = """() => [...document.querySelectorAll("table")].filter((t) => {
  const box = t.parentElement;
  return t.scrollWidth > t.clientWidth + 1 ||
    t.getBoundingClientRect().right > box.getBoundingClientRect().right + 1;
}).map((t) => t.id + " " + t.scrollWidth + ">" + t.clientWidth)"""


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[RunningServer]:
    text = show_toml(SHOW).replace(
        'label = "Cue 1"\n', f'label = "Cue 1"\nauto_follow_ms = {FOLLOW_MS}\n', 1
    )
    path = tmp_path / "show.toml"
    path.write_text(text, encoding="utf-8")
    settings = Settings(
        store_url=f"sqlite:///{tmp_path / 'gala.db'}",
        show_files=(str(path),),
        demo_budget_minor=100_000,
    )
    async with running_server(settings) as running:
        for name in ("ann", "bob"):
            await running.node.store.hub.put_account(
                Account(name, hash_password(PASSWORD), PRODUCER)
            )
        yield running


async def console_page(
    browser: Any, base: str, user: str, viewport: dict[str, int], errors: list[str]
) -> Any:
    page = await (await browser.new_context(viewport=viewport, locale="en-US")).new_page()
    page.on("pageerror", lambda error: errors.append(f"{user}: {error}"))
    page.on(
        "console",
        lambda msg: (
            errors.append(f"{user}: {msg.text} {msg.location.get('url')}")
            if msg.type == "error" and not msg.location.get("url", "").endswith("/favicon.ico")
            else None
        ),
    )
    await page.goto(f"{base}/console/{SHOW}")
    await page.fill('input[name="username"]', user)
    await page.fill('input[name="password"]', PASSWORD)
    await page.click('button[type="submit"]')
    await page.wait_for_selector('#conn[data-state="live"]')
    await page.wait_for_selector('#cues tr.standby[data-cue-id="c01"]')
    return page


async def box(page: Any, selector: str) -> dict[str, float]:
    found = await page.locator(selector).bounding_box()
    assert found is not None, f"{selector} is not rendered"
    return dict(found)


async def assert_audit_on_screen(page: Any, viewport: dict[str, int]) -> None:
    await page.evaluate("window.scrollTo(0, 0)")
    audit = await box(page, "#audit-box")
    assert audit["y"] >= 0 and audit["y"] + audit["height"] <= viewport["height"], audit
    assert audit["height"] >= 150, f"the audit log is a sliver: {audit}"
    cues = await box(page, ".cue-pane")
    assert cues["height"] >= 200 and cues["y"] + cues["height"] <= audit["y"], (cues, audit)


async def go_and_wait(page: Any, standby: str) -> None:
    await page.wait_for_selector(f'#standby[data-cue-id="{standby}"]')
    await page.wait_for_timeout(750)  # past the double-press guard
    await page.click("#go")


@pytest.mark.parametrize(
    "viewport", [{"width": 1440, "height": 900}, {"width": 1920, "height": 1080}], ids=str
)
async def test_the_console_shows_operators_who_pressed_go_names_and_the_audit_log(
    browser: Any, server: RunningServer, viewport: dict[str, int]
) -> None:
    SHOTS.mkdir(exist_ok=True)
    size = f"{viewport['width']}x{viewport['height']}"
    errors: list[str] = []
    ann = await console_page(browser, server.base_url, "ann", viewport, errors)
    bob = await console_page(browser, server.base_url, "bob", viewport, errors)
    for page in (ann, bob):
        await page.wait_for_function(
            "['ann', 'bob'].every((n) =>"
            " document.getElementById('operators').textContent.includes(n))"
        )
    assert "ann (you)" in await ann.locator("#operators").inner_text()
    assert "bob (you)" in await bob.locator("#operators").inner_text()
    await assert_audit_on_screen(ann, viewport)

    # ann GOes cue 1: its auto-follow is pending, the follower waits on standby with its timer
    await ann.click("#go")
    await bob.wait_for_selector('#pending[data-cue-id="c02"]:not([hidden])')
    assert re.fullmatch(r"in \d+\.\d s", await bob.locator("#pending-left").inner_text())
    assert await bob.locator("#standby").get_attribute("data-cue-id") == "c02"
    assert "GO fires it now" in await bob.locator("#standby-note").inner_text()
    await bob.wait_for_selector('#running[data-cue-id="c01"]')
    assert await bob.locator("#running-by").inner_text() == "GO by ann"
    await bob.wait_for_function(
        "/^\\d\\d:\\d\\d$/.test(document.getElementById('running-elapsed').textContent)"
    )
    await bob.screenshot(path=str(SHOTS / f"console-{size}-follow-pending.png"))

    # bob presses GO during the follow: cue 2 executes now, its timer is spent
    await go_and_wait(bob, "c02")
    await ann.wait_for_selector('#running[data-cue-id="c02"]')
    await ann.wait_for_selector("#pending", state="hidden")
    assert await ann.locator("#running-by").inner_text() == "GO by bob"
    fired_by = ann.locator('#cues tr[data-cue-id="c02"] .fired-by')
    assert await fired_by.inner_text() == "GO by bob"
    assert await ann.locator('#cues tr[data-cue-id="c01"] .fired-by').count() == 0
    newest = ann.locator("#audit li").first
    assert await newest.locator(".actor").inner_text() == "bob"
    assert "go → c02" in await newest.inner_text()
    audit_text = await ann.locator("#audit").inner_text()
    assert "ann go → c01" in audit_text and "bob go → c02" in audit_text

    # keyboard: a cue row takes focus, Enter puts it on standby; ↓ next, ↑ back
    row = ann.locator('#cues tr[data-cue-id="c09"]')
    assert await row.get_attribute("tabindex") == "0"
    await row.focus()
    await ann.keyboard.press("Enter")
    await ann.wait_for_selector('#standby[data-cue-id="c09"]')
    await ann.locator("body").click(position={"x": 5, "y": 5})
    await ann.keyboard.press("ArrowDown")
    await ann.wait_for_selector('#standby[data-cue-id="c10"]')
    await ann.keyboard.press("ArrowDown")
    await ann.wait_for_selector('#standby[data-cue-id="c11"]')
    await ann.keyboard.press("ArrowUp")
    await ann.wait_for_selector('#standby[data-cue-id="c10"]')
    await ann.keyboard.press("ArrowDown")
    await go_and_wait(ann, "c11")  # opens the sale of the widget

    # the stock table names the product (the default locale's name), not its id
    await bob.wait_for_selector('#stock tr[data-product-id="widget"]')
    await bob.wait_for_function(
        "document.querySelector('#stock tr[data-product-id=\"widget\"] .product-name')"
        ".textContent === 'Widget en'"
    )

    # a drop ann launches from her panel shows its name on bob's console too
    await ann.fill("#drop-name", "rain-from-ann")
    await ann.click("#drop-launch")
    await ann.wait_for_function(
        "!['', 'launching…'].includes(document.getElementById('drop-message').textContent)"
    )
    assert (await ann.locator("#drop-message").inner_text()).startswith("launched")
    name_cell = bob.locator("#drops tbody tr .drop-name").first
    await name_cell.wait_for()
    await bob.wait_for_function(
        "document.querySelector('#drops tbody tr .drop-name').textContent === 'rain-from-ann'"
    )
    last_cell = await box(bob, "#drops tbody tr .drop-rate")
    panel = await box(bob, "#drops-panel")
    assert last_cell["x"] + last_cell["width"] <= panel["x"] + panel["width"], (last_cell, panel)

    for page in (ann, bob):
        assert await page.evaluate(OVERFLOWING_TABLES) == []
        await assert_audit_on_screen(page, viewport)
        scroll = await page.evaluate(
            "[document.scrollingElement.scrollHeight, innerHeight,"
            " getComputedStyle(document.body).overflowY]"
        )
        assert scroll[2] != "hidden", "the page can scroll"
        if scroll[0] > scroll[1]:
            await page.evaluate("window.scrollTo(0, 10000)")
            assert await page.evaluate("window.scrollY") > 0, "taller content scrolls"
            await page.evaluate("window.scrollTo(0, 0)")
    await ann.screenshot(path=str(SHOTS / f"console-{size}-ann.png"), full_page=True)

    # the phone preview: the viewer page itself, scaled down beside the cue list
    await bob.click("#preview-toggle")
    frame = bob.frame_locator("#preview-frame")
    await frame.locator('#conn[data-state="live"]').wait_for(state="attached")
    await frame.locator('#phase[data-phase="live"]').wait_for(state="attached")
    preview = await box(bob, "#preview")
    cues = await box(bob, ".cue-pane")
    assert preview["x"] >= cues["x"] + cues["width"], "beside the cue list"
    assert preview["y"] + preview["height"] <= viewport["height"]
    await assert_audit_on_screen(bob, viewport)
    await bob.screenshot(path=str(SHOTS / f"console-{size}-bob-preview.png"))

    assert errors == []
    for page in (ann, bob):
        await page.context.close()
