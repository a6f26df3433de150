"""In a real browser: a producer launches a red-envelope drop from the console panel; viewer pages
show the countdown, then the rain (falling envelopes, or one still envelope with reduced motion);
a tap wins an envelope, the page shows the amount the server credited and the wallet badge grows by
exactly that; the console shows the envelopes left going down."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.async_api import TimeoutError as PlaywrightTimeout

from gala.auth.tokens import PRODUCER, hash_password
from gala.settings import Settings
from gala.stores.ports import Account
from tests.support import RunningServer, connect_viewer, running_server, write_show

SHOW = "test-show"
GRANT_MINOR = 30_000  # every new viewer's demo wallet: CN¥300.00
WAIT_MS = 30_000
LANE_ANIMATIONS = (
    "[...document.querySelectorAll('.rain-lane')].map(l => getComputedStyle(l).animationName)"
)

# The centre of an envelope now falling well inside the rain area (clear of the status bar and
# the bottom edge), or null while none is.
ENVELOPE_IN_VIEW = """() => {
  const area = document.getElementById("rain").getBoundingClientRect();
  for (const button of document.querySelectorAll("#drop .envelope")) {
    const r = button.getBoundingClientRect();
    if (r.width && r.top > area.top + 100 && r.bottom < area.bottom - 160 &&
        r.left >= area.left && r.right <= area.right) {
      return [r.left + r.width / 2, r.top + r.height / 2];
    }
  }
  return null;
}"""


async def viewer_page(browser: Any, base: str, **context: Any) -> Any:
    page = await (
        await browser.new_context(viewport={"width": 390, "height": 844}, **context)
    ).new_page()
    await page.goto(f"{base}/watch/{SHOW}")
    await page.wait_for_selector('#conn[data-state="live"]')
    await page.wait_for_selector("#wallet:not([hidden])")
    return page


async def server_view(server: RunningServer, page: Any, drop_id: str) -> tuple[int, int]:
    """(amount of this page's envelope, wallet balance), as the server has them, asked on a
    connection of its own with the page's viewer token: a second grab answers `already_grabbed`
    with the amount of the first."""
    token = await page.evaluate("localStorage.getItem('gala.viewer.token')")
    viewer = await connect_viewer(server.base_url, token)
    try:
        again = await viewer.call("grab", {"show_id": SHOW, "drop_id": drop_id})
        assert not again["ok"] and again["error"]["code"] == "already_grabbed", again
        wallet = await viewer.call("wallet", {"show_id": SHOW})
        assert wallet["ok"], wallet
        return int(again["error"]["amount_minor"]), int(wallet["data"]["balance_minor"])
    finally:
        await viewer.close()


async def formatted(page: Any, minor: int) -> str:
    """An amount as the page's own locale formats money (Intl.NumberFormat, CNY, exponent 2)."""
    return str(
        await page.evaluate(
            """minor => new Intl.NumberFormat(document.documentElement.lang,
                 { style: "currency", currency: "CNY" }).format(minor / 100)""",
            minor,
        )
    )


async def tap_a_falling_envelope(page: Any) -> None:
    """Tap an envelope as it falls; a tap that lands beside a moving one is tried again."""
    for _ in range(5):
        handle = await page.wait_for_function(ENVELOPE_IN_VIEW, timeout=WAIT_MS)
        x, y = await handle.json_value()
        await page.mouse.click(x, y)
        try:
            await page.wait_for_selector('#drop[data-state="result"]', timeout=5_000)
            return
        except PlaywrightTimeout:
            continue
    raise AssertionError("no tap on a falling envelope was taken")


async def test_a_drop_launched_in_the_console_rains_envelopes_on_viewers(
    browser: Any, tmp_path: Path
) -> None:
    settings = Settings(
        store_url=f"sqlite:///{tmp_path / 'gala.db'}",
        show_files=(write_show(tmp_path),),
        demo_budget_minor=100_000,
        demo_wallet_grant_minor=GRANT_MINOR,
    )
    async with running_server(settings) as server:
        await server.node.store.hub.put_account(
            Account("ann", hash_password("stage-door-42"), PRODUCER)
        )
        base = server.base_url
        errors: list[str] = []
        falling = await viewer_page(browser, base, locale="en-US")
        still = await viewer_page(browser, base, locale="fr-FR", reduced_motion="reduce")
        watcher = await viewer_page(browser, base, locale="id-ID")
        console = await (await browser.new_context(locale="en-US")).new_page()
        for page in (falling, still, watcher, console):
            page.on("pageerror", lambda error: errors.append(str(error)))
        assert f"CN¥{GRANT_MINOR / 100:,.2f}" in await falling.locator("#wallet").inner_text()
        assert await falling.locator("#drop").is_hidden()

        await console.goto(f"{base}/console/{SHOW}")
        await console.fill('input[name="username"]', "ann")
        await console.fill('input[name="password"]', "stage-door-42")
        await console.click('button[type="submit"]')
        await console.wait_for_selector('#conn[data-state="live"]')
        await console.fill("#drop-budget", "3")
        await console.fill("#drop-envelopes", "3")
        await console.fill("#drop-min", "0.01")
        await console.fill("#drop-countdown", "3")
        await console.fill("#drop-duration", "20")
        await console.fill("#drop-funder", "show")
        await console.fill("#drop-name", "test-rain")
        await console.click("#drop-launch")
        message = console.locator("#drop-message")
        await console.wait_for_function(
            "document.getElementById('drop-message').textContent.startsWith('launched test-rain')"
        )
        assert "3 envelopes, CN¥3.00" in await message.inner_text()
        row = console.locator("#drops tbody tr").first
        drop_id = await row.get_attribute("data-drop-id")
        assert drop_id and drop_id.startswith("d-")
        assert await row.locator(".drop-name").inner_text() == "test-rain"

        # The countdown to the opening, in each viewer's language, then the rain.
        await falling.wait_for_selector('#drop[data-state="countdown"]', timeout=WAIT_MS)
        assert (await falling.locator("#drop-title").inner_text()).startswith("Red envelopes in ")
        await still.wait_for_selector('#drop[data-state="countdown"]', timeout=WAIT_MS)
        assert (await still.locator("#drop-title").inner_text()).startswith(
            "Enveloppes rouges dans "
        )
        await falling.wait_for_function(
            "document.getElementById('drop-left').textContent === '3 of 3 left'", timeout=WAIT_MS
        )
        await falling.wait_for_selector('#drop[data-state="rain"]', timeout=WAIT_MS)
        assert await falling.locator("#drop-title").inner_text() == "Tap an envelope!"
        assert set(await falling.evaluate(LANE_ANIMATIONS)) == {"envelope-fall"}, "they fall"

        # A tap on a falling envelope: the amount the server credited, and the wallet grows by it.
        await tap_a_falling_envelope(falling)
        won, balance = await server_view(server, falling, drop_id)
        assert won >= 1 and balance == GRANT_MINOR + won
        assert await falling.locator("#drop-result").inner_text() == "You got " + await formatted(
            falling, won
        )
        await falling.wait_for_function(
            "text => document.getElementById('wallet').textContent.includes(text)",
            arg=await formatted(falling, balance),
        )
        await console.wait_for_function(
            "document.querySelector('#drops tbody tr .drop-left').textContent === '2 / 3'",
            timeout=WAIT_MS,
        )

        # Reduced motion: one big envelope that stays put, an ordinary click.
        await still.wait_for_selector('#drop[data-state="rain"]', timeout=WAIT_MS)
        assert set(await still.evaluate(LANE_ANIMATIONS)) == {"none"}, "nothing falls"
        envelope = still.locator("#drop .envelope:visible")
        assert await envelope.count() == 1
        await envelope.click()
        await still.wait_for_selector('#drop[data-state="result"]', timeout=WAIT_MS)
        won_still, balance_still = await server_view(server, still, drop_id)
        assert won_still >= 1 and balance_still == GRANT_MINOR + won_still
        assert await still.locator(
            "#drop-result"
        ).inner_text() == "Vous avez gagné " + await formatted(still, won_still)
        await still.wait_for_function(
            "text => document.getElementById('wallet').textContent.includes(text)",
            arg=await formatted(still, balance_still),
        )
        await console.wait_for_function(
            "document.querySelector('#drops tbody tr .drop-left').textContent === '1 / 3'",
            timeout=WAIT_MS,
        )
        given = await row.locator(".drop-given").inner_text()
        assert given == f"CN¥{(won + won_still) / 100:,.2f}"

        # The last envelope goes to someone else: a viewer who watched without tapping sees the
        # rain stop, "all gone", in their language.
        await watcher.wait_for_selector('#drop[data-state="rain"]', timeout=WAIT_MS)
        other = await connect_viewer(base, await server.viewer_token())
        last = await other.call("grab", {"show_id": SHOW, "drop_id": drop_id})
        await other.close()
        assert last["ok"], last
        assert won + won_still + last["data"]["amount_minor"] == 300, "the drop is emptied exactly"
        await watcher.wait_for_selector('#drop-result[data-result="gone"]', timeout=WAIT_MS)
        assert await watcher.locator("#drop-result").inner_text() == "Angpao habis"
        assert await watcher.locator("#drop-left").inner_text() == "0 dari 3 tersisa"
        await console.wait_for_function(
            "document.querySelector('#drops tbody tr .drop-left').textContent === '0 / 3'",
            timeout=WAIT_MS,
        )

        assert errors == []
        for page in (falling, still, watcher, console):
            await page.context.close()
