"""In a real browser: the link (web/static/link.js) comes back by itself. A viewer page and a
console stay open while the server is stopped and started again on the same address and store:
while it is down both say so (the viewer in its own language, nothing looks live, Buy and the
envelopes are disabled with the reason); then both reconnect without a reload and show what fired
while they were away. A GO pressed while the console is offline, or a viewer's tap to pay, is
refused on screen and never fires later. And the link alone, with `io` stubbed: the backoff has
full jitter, grows with failures and is capped; the server's own disconnect is retried; a command
is never queued."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from gala.auth.tokens import PRODUCER, hash_password
from gala.settings import Settings
from gala.stores.ports import Account
from tests.support import (
    RunningServer,
    connect_viewer,
    free_port,
    producer_client,
    running_server,
)

SHOW = "rc-show"
USER, PASSWORD = "ann", "stage-door-42"
WAIT_MS = 30_000  # a page's next attempt can be up to the 15 s cap away
LINK_JS = Path(__file__).parents[2] / "web" / "static" / "link.js"
RECONNECTING_FR = "Reconnexion…"
LIVE_FR = "EN DIRECT"

SHOW_TOML = f"""
[show]
id = "{SHOW}"
title = "Reconnect"
currency = "CNY"
locales = ["en", "fr"]
default_locale = "en"
timezone = "Asia/Shanghai"

[sponsors.acme]
name = "Acme"

[products.widget]
sponsor = "acme"
price_minor = 12990
stock = 100
per_viewer_limit = 2
image = "/static/demo/products/aurora-x5.svg"
name = {{ en = "Widget", fr = "Gadget" }}

[[cues]]
id = "c1"
label = "Reveal"
actions = [{{ do = "product.show", product = "widget" }}]

[[cues]]
id = "c2"
label = "Open the sale"
actions = [{{ do = "sale.open", product = "widget", duration_ms = 600000 }}]

[[cues]]
id = "c3"
label = "Red envelopes"
[[cues.actions]]
do = "drop.launch"
budget_minor = 1000
envelopes = 10
countdown_ms = 0
duration_ms = 600000

[[cues]]
id = "c4"
label = "Welcome back"
actions = [{{ do = "banner.show", id = "b1", text = {{ en = "Welcome back", fr = "Bon retour" }} }}]

[[cues]]
id = "c5"
label = "Thanks"
actions = [{{ do = "stage.clear" }}]
"""


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    show = tmp_path / "rc.toml"
    show.write_text(SHOW_TOML, encoding="utf-8")
    return Settings(
        store_url=f"sqlite:///{tmp_path / 'gala.db'}",
        show_files=(str(show),),
        demo_budget_minor=1_000_000,
    )


@pytest.fixture
def port() -> int:
    """One address for both servers, so the open pages reconnect to the same place."""
    return free_port()


async def console_page(browser: Any, base: str) -> Any:
    page = await (await browser.new_context()).new_page()
    await page.goto(f"{base}/console")
    await page.fill('input[name="username"]', USER)
    await page.fill('input[name="password"]', PASSWORD)
    await page.click('button[type="submit"]')
    await page.wait_for_selector('#conn[data-state="live"]')
    return page


async def go(base: str, cue: str) -> dict[str, Any]:
    """GO from a producer of its own (not the console under test); the ack."""
    async with producer_client(base, USER, PASSWORD) as producer:
        ack: dict[str, Any] = await producer.call(
            "go", {"show_id": SHOW, "standby_cue_id": cue}, namespace="/producer", timeout=30
        )
    return ack


async def console_join(base: str) -> dict[str, Any]:
    """What the server holds for the console (stage and audit), on a connection of its own."""
    async with producer_client(base, USER, PASSWORD) as producer:
        ack: dict[str, Any] = await producer.call(
            "console:join", {"show_id": SHOW}, namespace="/producer", timeout=30
        )
    assert ack["ok"], ack
    return dict(ack["data"])


async def snapshot(base: str) -> dict[str, Any]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{base}/api/shows/{SHOW}/snapshot") as resp,
    ):
        return (await resp.json())["data"]  # type: ignore[no-any-return]


async def add_producer(server: RunningServer) -> None:
    await server.node.store.hub.put_account(Account(USER, hash_password(PASSWORD), PRODUCER))


async def test_pages_come_back_by_themselves_after_a_server_restart(
    browser: Any, settings: Settings, port: int
) -> None:
    errors: list[str] = []
    async with running_server(settings, port=port) as first:
        base = first.base_url
        await add_producer(first)
        viewer = await (
            await browser.new_context(viewport={"width": 390, "height": 844}, locale="fr-FR")
        ).new_page()
        viewer.on("pageerror", lambda error: errors.append(str(error)))
        await viewer.goto(f"{base}/watch/{SHOW}")
        await viewer.wait_for_selector('#conn[data-state="live"]')
        console = await console_page(browser, base)
        console.on("pageerror", lambda error: errors.append(str(error)))
        await console.wait_for_selector('#standby[data-cue-id="c1"]')
        for cue in ("c1", "c2", "c3"):
            ack = await go(base, cue)
            assert ack["ok"], ack
        # Live with something to tap: the Buy button of an open sale and a rain of envelopes.
        await viewer.wait_for_selector('.buy-button[data-state="buy"]')
        await viewer.wait_for_selector('#drop[data-state="rain"]')
        await console.wait_for_selector('#standby[data-cue-id="c4"]')
        assert await viewer.locator("#phase").inner_text() == LIVE_FR
        assert await viewer.locator(".buy-button").is_enabled()
        assert await viewer.locator("#link").is_hidden()
        assert await viewer.locator("#drop .envelope:disabled").count() == 0
        for page in (viewer, console):  # gone if the page reloads
            await page.evaluate("window.sameDocument = true")

    # The node has disconnected every client ("io server disconnect") and is gone.
    await viewer.wait_for_selector('#conn[data-state="reconnecting"]')
    link = viewer.locator("#link")
    assert await link.is_visible(), "the viewer page says the link is down"
    assert await link.inner_text() == RECONNECTING_FR
    phase = viewer.locator("#phase")
    assert await phase.inner_text() == RECONNECTING_FR
    assert await phase.get_attribute("data-phase") == "reconnecting"
    buy = viewer.locator(".buy-button")
    assert await buy.is_disabled(), "no Buy while the link is down"
    assert await buy.inner_text() == RECONNECTING_FR
    envelopes = viewer.locator("#drop .envelope")
    assert await envelopes.count() > 0
    assert await viewer.locator("#drop .envelope:enabled").count() == 0
    assert await envelopes.first.get_attribute("title") == RECONNECTING_FR
    assert await viewer.locator("#drop-title").inner_text() == RECONNECTING_FR
    await console.wait_for_selector('#conn[data-state="reconnecting"]')
    assert await console.locator("#conn").inner_text() == "reconnecting…"

    async with running_server(settings, port=port) as second:
        assert second.base_url == base
        # Fired at once: the pages are still waiting out their backoff, or only just back.
        ack = await go(base, "c4")
        assert ack["ok"], ack

        await viewer.wait_for_selector('#conn[data-state="live"]', timeout=WAIT_MS)
        banner = viewer.locator('[data-layer="banner"] .banner-text')
        await banner.wait_for(state="visible", timeout=WAIT_MS)
        assert await banner.inner_text() == "Bon retour"
        assert await link.is_hidden()
        assert await phase.inner_text() == LIVE_FR
        await viewer.wait_for_selector('.buy-button[data-state="buy"]:enabled')
        assert await viewer.locator("#drop .envelope:disabled").count() == 0

        await console.wait_for_selector('#conn[data-state="live"]', timeout=WAIT_MS)
        await console.wait_for_selector('#standby[data-cue-id="c5"]', timeout=WAIT_MS)
        await console.wait_for_selector('#cues tr.standby[data-cue-id="c5"]')
        assert await console.locator("#conn").inner_text() == "live"
        for page in (viewer, console):
            assert await page.evaluate("window.sameDocument === true"), "no reload"

        expected = await snapshot(base)
        state: Any = None
        for _ in range(50):
            state = await viewer.evaluate("galaViewer.state().received")
            if state == expected:
                break
            await asyncio.sleep(0.1)
        assert state == expected, "the page's fold of the log equals the server's snapshot"
        assert errors == []
        for page in (viewer, console):
            await page.context.close()


async def test_a_go_pressed_while_offline_is_refused_and_never_fires_later(
    browser: Any, settings: Settings, port: int
) -> None:
    async with running_server(settings, port=port) as first:
        base = first.base_url
        await add_producer(first)
        console = await console_page(browser, base)
        await console.wait_for_selector('#standby[data-cue-id="c1"]')
        await console.click("#go")  # the same GO works while the link is up
        await console.wait_for_selector('#standby[data-cue-id="c2"]')
        before = await snapshot(base)
        assert before["seq"] > 0

    await console.wait_for_selector('#conn[data-state="reconnecting"]')
    message = console.locator("#message")
    await console.wait_for_timeout(800)  # past the double-press guard
    await console.click("#go")
    assert (await message.inner_text()).startswith("Not sent: the link is down")
    assert await message.get_attribute("class") == "message error"
    await console.evaluate("document.getElementById('message').textContent = ''")
    await console.wait_for_timeout(800)
    await console.keyboard.press("Space")
    assert (await message.inner_text()).startswith("Not sent: the link is down")

    async with running_server(settings, port=port) as second:
        await console.wait_for_selector('#conn[data-state="live"]', timeout=WAIT_MS)
        await console.wait_for_timeout(3000)  # time for anything queued to have gone out
        joined = await console_join(second.base_url)
        assert joined["stage"]["standby_cue_id"] == "c2", "the refused GO did not fire"
        assert joined["stage"]["last_cue_id"] == "c1"
        gos = [entry for entry in joined["audit"] if entry["action"] == "go"]
        assert len(gos) == 1, gos
        assert await snapshot(second.base_url) == before
        assert await console.locator("#standby").get_attribute("data-cue-id") == "c2"
        await console.context.close()


async def test_a_pay_tap_while_offline_is_refused_and_never_fires_later(
    browser: Any, settings: Settings, port: int
) -> None:
    """The viewer's own command: "Pay with the sandbox provider" (offered after a Buy the wallet
    cannot cover) tapped while the link is down holds nothing, then or after the reconnect."""
    settings = settings.replace(payment_provider="sandbox")
    async with running_server(settings, port=port) as first:
        base = first.base_url
        await add_producer(first)
        context = await browser.new_context(viewport={"width": 390, "height": 844}, locale="fr-FR")
        viewer = await context.new_page()
        await viewer.goto(f"{base}/watch/{SHOW}")
        await viewer.wait_for_selector("#wallet:not([hidden])")
        for cue in ("c1", "c2"):
            ack = await go(base, cue)
            assert ack["ok"], ack
        await viewer.wait_for_selector('.buy-button[data-state="buy"]')
        await viewer.locator(".buy-button").click()
        offer = viewer.locator("#pay-offer button")
        await offer.wait_for(state="visible")

    await viewer.wait_for_selector('#conn[data-state="reconnecting"]')
    await offer.click()
    toast = viewer.locator("#toast")
    await toast.wait_for(state="visible")
    assert await toast.inner_text() == RECONNECTING_FR
    assert len(context.pages) == 1, "no provider tab left open"
    assert await offer.is_visible() and await offer.is_enabled(), "it can be tapped again"

    async with running_server(settings, port=port) as second:
        await viewer.wait_for_selector('#conn[data-state="live"]', timeout=WAIT_MS)
        await viewer.wait_for_timeout(3000)  # time for anything queued to have gone out
        token = await viewer.evaluate("localStorage.getItem('gala.viewer.token')")
        own = await connect_viewer(second.base_url, token)
        try:
            wallet = await own.call("wallet", {"show_id": SHOW})
        finally:
            await own.close()
        assert wallet["ok"], wallet
        assert wallet["data"]["orders"] == [], "the tap while offline held nothing"
        assert await viewer.locator("#pay-offer .pay-held").count() == 0
        await context.close()


# link.js alone, on a page of its own: `io` is a fake socket the test drives, and setTimeout
# only records the delay and keeps the callback for the test to run.
STUBS = """
window.delays = [];
window.timers = [];
window.setTimeout = function (fn, ms) { delays.push(ms); timers.push(fn); return timers.length; };
window.sockets = [];
window.io = function (namespace, options) {
  var socket = {
    handlers: {}, connected: false, connects: 0, emitted: [], sendBuffer: [],
    on: function (event, fn) {
      (this.handlers[event] = this.handlers[event] || []).push(fn);
      return this;
    },
    fire: function (event, arg) {
      (this.handlers[event] || []).forEach(function (fn) { fn(arg); });
    },
    connect: function () { this.connects += 1; return this; },
    emit: function () { this.emitted.push(Array.prototype.slice.call(arguments)); return this; },
    timeout: function () { return this; }
  };
  sockets.push(socket);
  return socket;
};
"""

# `links` links each fail `attempts` times in a row (a second connect_error while a retry is
# pending must not schedule another); the delays, one list per link.
FAIL_IN_A_ROW = """([links, attempts]) => {
  const runs = [];
  for (let l = 0; l < links; l++) {
    GalaLink.open("/", {}, {});
    const socket = sockets[sockets.length - 1], start = delays.length;
    for (let i = 0; i < attempts; i++) {
      socket.fire("connect_error", new Error("refused"));
      socket.fire("connect_error", new Error("refused again"));
      timers[timers.length - 1]();
    }
    runs.push(delays.slice(start));
  }
  return runs;
}"""


def link_constants() -> dict[str, int]:
    source = LINK_JS.read_text(encoding="utf-8")
    return {
        name: int(value)
        for name, value in re.findall(r"var (\w+_MS) = (\d+);", source)
        if name in ("MIN_DELAY_MS", "FIRST_CAP_MS", "MAX_DELAY_MS")
    }


async def link_page(browser: Any) -> Any:
    page = await (await browser.new_context()).new_page()
    await page.add_init_script(script=STUBS)

    async def serve(route: Any) -> None:
        if route.request.url.endswith("/link.js"):
            await route.fulfill(
                body=LINK_JS.read_text(encoding="utf-8"), content_type="text/javascript"
            )
        else:
            await route.fulfill(
                body='<!doctype html><script src="/static/link.js"></script>',
                content_type="text/html",
            )

    await page.route("http://gala.test/**", serve)
    await page.goto("http://gala.test/")
    await page.wait_for_function("window.GalaLink !== undefined")
    return page


async def test_backoff_has_full_jitter_grows_with_failures_and_is_capped(browser: Any) -> None:
    constants = link_constants()
    assert constants == {"MIN_DELAY_MS": 250, "FIRST_CAP_MS": 1000, "MAX_DELAY_MS": 15_000}
    low, first_cap, cap = 250, 1000, 15_000
    links, attempts = 40, 14
    ceilings = [min(cap, first_cap * 2**i) for i in range(attempts)]

    loads = []
    for _ in range(2):
        page = await link_page(browser)
        runs = await page.evaluate(FAIL_IN_A_ROW, [links, attempts])
        assert all(len(run) == attempts for run in runs), "one retry per failure, never two"
        for run in runs:
            for delay, ceiling in zip(run, ceilings, strict=True):
                assert low <= delay <= ceiling <= cap, (delay, ceiling)
        loads.append(runs)

        # Growth and the cap, exactly: the random draw at its top and at its bottom.
        await page.evaluate("Math.random = () => 0.999999")
        (top,) = await page.evaluate(FAIL_IN_A_ROW, [1, attempts])
        assert [round(d, -1) for d in top] == [float(c) for c in ceilings]
        assert all(a < b for a, b in zip(top[:5], top[1:5], strict=False)), top
        await page.evaluate("Math.random = () => 0")
        (bottom,) = await page.evaluate(FAIL_IN_A_ROW, [1, attempts])
        assert bottom == [low] * attempts
        await page.context.close()

    for runs in loads:
        # Jitter: the same attempt waits a different time on every link...
        for i in range(attempts):
            assert len({run[i] for run in runs}) > links * 3 // 4, f"attempt {i}: no jitter"
        # ...the waits grow with failures (on average) and reach towards the cap, never past it.
        means = [sum(run[i] for run in runs) / links for i in range(attempts)]
        assert means[0] < means[1] < means[2] < means[3] < means[4], means
        assert means[0] < first_cap and means[-1] > cap / 3, means
        late = [delay for run in runs for delay in run[4:]]
        assert max(late) > 0.8 * cap and max(late) <= cap
    assert loads[0] != loads[1], "two page loads do not wait the same times"


async def test_the_link_retries_after_the_servers_own_disconnect_and_never_queues(
    browser: Any,
) -> None:
    page = await link_page(browser)
    result = await page.evaluate(
        """async () => {
      const answers = [];
      const link = GalaLink.open("/producer", {}, {});
      const socket = sockets[0];
      const sent = link.send("go", { standby_cue_id: "c1" }, (ack) => answers.push(ack));
      const offline = { sent, answers: answers.slice(), emitted: socket.emitted.length };

      for (let i = 0; i < 6; i++) {
        socket.fire("connect_error", new Error("refused"));
        timers[timers.length - 1]();
      }
      for (let i = 0; i < 10; i++) await Promise.resolve();
      socket.connected = true; socket.fire("connect");
      const live = link.send("go", { standby_cue_id: "c1" }, () => {});
      socket.connected = false;
      socket.sendBuffer = [["go"]];
      Math.random = () => 0.999999;
      const before = delays.length, connects = socket.connects;
      socket.fire("disconnect", "io server disconnect");
      const afterServer = delays.slice(before);
      timers[timers.length - 1]();
      for (let i = 0; i < 10; i++) await Promise.resolve();
      const reconnected = socket.connects - connects;

      socket.fire("drain", { within_ms: 5000 });
      socket.connected = true; socket.fire("connect");
      socket.connected = false; socket.fire("disconnect", "transport close");
      const drained = delays[delays.length - 1];
      return { offline, live, emittedLive: socket.emitted.length, afterServer, reconnected,
               buffer: socket.sendBuffer.length, drained };
    }"""
    )
    assert result["offline"] == {
        "sent": False,
        "answers": [
            {"ok": False, "error": {"code": "offline", "message": "not connected to the server"}}
        ],
        "emitted": 0,
    }, "refused at once while down, nothing handed to the socket"
    assert result["live"] is True and result["emittedLive"] == 1
    # The server's own disconnect is retried too, after the first (reset) backoff step.
    assert len(result["afterServer"]) == 1 and 990 <= result["afterServer"][0] <= 1000
    assert result["reconnected"] == 1
    assert result["buffer"] == 0, "nothing sent while down goes out later"
    # A draining node's window replaces the backoff for that one attempt.
    assert 5000 <= result["drained"] <= 5250
    await page.context.close()
