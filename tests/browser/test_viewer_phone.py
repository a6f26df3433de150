"""The viewer's phone in a real browser, through a real server and a show like the demo's: the
pay-with-provider offer belongs to one product and goes with its card; refusals are said in the
page's language; no two overlay boxes meet, through every cue, in en, zh, ar and fr at 390×844,
360×640 and 430×932; every control is at least 44 px; Arabic amounts are bidi-isolated; the bag
sells a product whose card was cleared; a large amount takes a confirming second tap. Screenshots
of each state go to /tmp/gala-shots/ for a person to look at (the assertions are on boxes and
texts)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from gala.settings import Settings
from tests.support import LOCALES, Viewer, connect_viewer, running_server

SHOW = "phone-show"
SHOTS = Path("/tmp/gala-shots")
WAIT_MS = 15_000
PHONES = (
    {"width": 390, "height": 844},
    {"width": 360, "height": 640},
    {"width": 430, "height": 932},
)
LANGUAGES = {"en": "en-US", "zh": "zh-CN", "ar": "ar", "fr": "fr-FR"}

# Texts of the demo show's length, in every language (what a real run of show puts up).
WELCOME = {
    "en": "Welcome to the 11.11 Countdown Gala — the show starts soon!",
    "zh": "欢迎来到 11.11 倒计时晚会——演出即将开始！",
    "ar": "مرحبًا بكم في حفل العد التنازلي 11.11 — سيبدأ العرض قريبًا!",
    "vi": "Chào mừng đến với Đêm hội Đếm ngược 11.11 — chương trình sắp bắt đầu!",
    "fr": "Bienvenue au Gala du compte à rebours 11.11 — le spectacle commence bientôt !",
    "id": "Selamat datang di Gala Hitung Mundur 11.11 — acara segera dimulai!",
}
FLASH = {
    "en": "Flash moment in",
    "zh": "闪购时刻倒计时",
    "ar": "اللحظة الخاطفة تبدأ خلال",
    "vi": "Khoảnh khắc flash sale bắt đầu sau",
    "fr": "Moment flash dans",
    "id": "Momen kilat dimulai dalam",
}
HOSTS = {loc: "Lin Xiaoyu & Marc Dubois" for loc in LOCALES}
HOSTS_SUB = {
    "en": "Your hosts tonight",
    "zh": "今晚主持人",
    "ar": "مقدّما حفل الليلة",
    "vi": "Người dẫn chương trình tối nay",
    "fr": "Vos animateurs ce soir",
    "id": "Pembawa acara malam ini",
}
FS_TITLE = {
    "en": "11.11 Countdown Gala",
    "zh": "11.11 倒计时晚会",
    "ar": "حفل العد التنازلي 11.11",
    "vi": "Đêm hội Đếm ngược 11.11",
    "fr": "Gala du compte à rebours 11.11",
    "id": "Gala Hitung Mundur 11.11",
}
FS_BODY = {
    "en": "Live from Shanghai · music, surprises and the best deals of the year",
    "zh": "上海现场直播 · 音乐、惊喜与全年最佳优惠",
    "ar": "بث مباشر من شنغهاي · موسيقى ومفاجآت وأفضل عروض العام",
    "vi": "Trực tiếp từ Thượng Hải · âm nhạc, bất ngờ và những ưu đãi tốt nhất trong năm",
    "fr": "En direct de Shanghai · musique, surprises et les meilleures offres de l'année",
    "id": "Langsung dari Shanghai · musik, kejutan, dan penawaran terbaik tahun ini",
}
WIDGET = {loc: f"Corallis Rouge No. 11 Lipstick [{loc}]" for loc in LOCALES}
PHONE = {
    "en": "Aurora X5 Smartphone",
    "zh": "极光 X5 智能手机",
    "ar": "هاتف أورورا X5 الذكي",
    "vi": "Điện thoại thông minh Aurora X5",
    "fr": "Smartphone Aurora X5",
    "id": "Ponsel Pintar Aurora X5",
}
PHONE_DESC = {
    "en": "6.7-inch OLED display, 256 GB storage and a 50 MP night camera.",
    "zh": "6.7 英寸 OLED 屏幕，256 GB 存储，5000 万像素夜景相机。",
    "ar": "شاشة OLED مقاس 6.7 بوصة، وسعة تخزين 256 غيغابايت، وكاميرا ليلية بدقة 50 ميغابكسل.",
    "vi": "Màn hình OLED 6,7 inch, bộ nhớ 256 GB và camera chụp đêm 50 MP.",
    "fr": "Écran OLED de 6,7 pouces, 256 Go de stockage et appareil photo de nuit 50 Mpx.",
    "id": "Layar OLED 6,7 inci, penyimpanan 256 GB, dan kamera malam 50 MP.",
}
WIDGET_PRICE, PHONE_PRICE = 12_900, 399_900


def _inline(table: dict[str, str]) -> str:
    return (
        "{ "
        + ", ".join(f"{k} = {json.dumps(v, ensure_ascii=False)}" for k, v in table.items())
        + " }"
    )


def _action(do: str, **fields: Any) -> str:
    parts = [f'do = "{do}"']
    for key, value in fields.items():
        if isinstance(value, dict):
            parts.append(f"{key} = {_inline(value)}")
        else:
            parts.append(f"{key} = {json.dumps(value, ensure_ascii=False)}")
    return "{ " + ", ".join(parts) + " }"


# (cue id, actions): the demo's shapes, with everything up at once at some point.
CUES = [
    ("p01", [_action("banner.show", id="b-welcome", text=WELCOME)]),
    ("p02", [_action("countdown.start", id="cd-flash", label=FLASH, duration_ms=600_000)]),
    ("p03", [_action("lower_third.show", id="lt-host", title=HOSTS, subtitle=HOSTS_SUB)]),
    (
        "p04",
        [
            _action("product.show", product="widget"),
            _action("sale.open", product="widget", duration_ms=600_000),
        ],
    ),
    (
        "p05",
        [
            _action(
                "drop.launch",
                name="opening-rain",
                funder="show",
                budget_minor=1000,
                envelopes=100,
                min_minor=1,
                countdown_ms=1500,
                duration_ms=3000,
            )
        ],
    ),
    (
        "p06",
        [
            _action("product.show", product="phone"),
            _action("sale.open", product="phone", duration_ms=600_000),
        ],
    ),
    ("p07", [_action("layer.clear", layer="product_card")]),
    (
        "p08",
        [
            _action(
                "fullscreen.show",
                id="fs-open",
                title=FS_TITLE,
                body=FS_BODY,
                image="/static/demo/stage.svg",
            ),
            _action(
                "drop.launch",
                name="aurora-rain",
                funder="aurora",
                budget_minor=1000,
                envelopes=100,
                min_minor=1,
                countdown_ms=1000,
                duration_ms=2000,
            ),
        ],
    ),
    ("p09", [_action("layer.clear", layer="fullscreen"), _action("product.show", product="phone")]),
    ("p10", [_action("stage.clear"), _action("banner.show", id="b-bye", text=WELCOME)]),
]
DROP_CUES = {"p05", "p08"}
DROP_NAMES = {
    "p05": {"en": "Red envelopes", "fr": "Enveloppes rouges"},
    "p08": {"en": "Red envelopes · Aurorix Mobile", "fr": "Enveloppes rouges · Aurorix Mobile"},
}


def phone_show(tmp_path: Path) -> str:
    lines = [
        "[show]",
        f'id = "{SHOW}"',
        'title = "Phone Gala"',
        'currency = "CNY"',
        f"locales = {json.dumps(list(LOCALES))}",
        'default_locale = "en"',
        'timezone = "Asia/Shanghai"',
        "",
        "[sponsors.corallis]",
        'name = "Corallis Beauty"',
        "",
        "[sponsors.aurora]",
        'name = "Aurorix Mobile"',
        "",
        "[products.widget]",
        'sponsor = "corallis"',
        f"price_minor = {WIDGET_PRICE}",
        "stock = 50",
        "per_viewer_limit = 1",
        'image = "/static/demo/products/corallis-rouge-11.svg"',
        f"name = {_inline(WIDGET)}",
        "",
        "[products.phone]",
        'sponsor = "aurora"',
        f"price_minor = {PHONE_PRICE}",
        "stock = 50",
        "per_viewer_limit = 2",
        'image = "/static/demo/products/aurora-x5.svg"',
        f"name = {_inline(PHONE)}",
        f"description = {_inline(PHONE_DESC)}",
        "",
    ]
    for number, (cue_id, actions) in enumerate(CUES, start=1):
        lines += [
            "[[cues]]",
            f'id = "{cue_id}"',
            f'number = "{number}"',
            f'label = "Cue {number}"',
            f"actions = [{', '.join(actions)}]",
            "",
        ]
    path = tmp_path / "phone.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return str(path)


class Stage:
    """A server running the phone show, and a producer connection to GO its cues."""

    def __init__(self, base_url: str, producer: Viewer) -> None:
        self.base_url = base_url
        self.producer = producer

    async def go(self, cue: str) -> None:
        ack = await self.producer.call(
            "go", {"show_id": SHOW, "standby_cue_id": cue}, namespace="/producer"
        )
        assert ack["ok"], ack

    async def go_to(self, cue: str) -> None:
        """GO every cue up to and including `cue`."""
        for cue_id, _ in CUES:
            await self.go(cue_id)
            if cue_id == cue:
                return


@pytest.fixture
async def stage(tmp_path: Path) -> AsyncIterator[Stage]:
    settings = Settings(
        store_url=f"sqlite:///{tmp_path / 'gala.db'}",
        show_files=(phone_show(tmp_path),),
        demo_wallet_grant_minor=1_000_000,
        demo_budget_minor=100_000,
        payment_provider="sandbox",
    )
    async with running_server(settings) as server:
        producer = await connect_viewer(
            server.base_url, await server.producer_token(), namespace="/producer"
        )
        try:
            yield Stage(server.base_url, producer)
        finally:
            await producer.close()


def console_error(page: Any, message: Any) -> None:
    if message.type == "error" and "Failed to load resource" not in message.text:
        page.errors.append(message.text)


def failed_load(page: Any, response: Any) -> None:
    """A resource the page could not load (the browser's own favicon.ico probe aside)."""
    if response.status >= 400 and not response.url.endswith("/favicon.ico"):
        page.errors.append(f"{response.status} {response.url}")


async def phone(
    browser: Any, stage: Stage, lang: str = "en", size: dict[str, int] = PHONES[0]
) -> Any:
    context = await browser.new_context(viewport=size, locale=LANGUAGES.get(lang, lang))
    page = await context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.on("console", lambda m: console_error(page, m))
    page.on("response", lambda r: failed_load(page, r))
    await page.goto(f"{stage.base_url}/watch/{SHOW}")
    await page.wait_for_selector('#conn[data-state="live"]')
    await page.wait_for_selector("#wallet:not([hidden])")
    return page


async def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"viewer-{name}.png"))


# Every overlay box on screen: the bars' items, the stack's items (layers, drop head, toast, pay
# offer, link message) and the full screen's contents. The full screen's own background and the
# rain are backdrops over the whole player, by design.
BOXES = """() => {
  const out = [];
  const add = (el, kind) => {
    const r = el.getBoundingClientRect(), cs = getComputedStyle(el);
    if (!r.width || !r.height || cs.visibility === "hidden" || cs.display === "none") return;
    out.push({ name: kind + ":" + (el.id || el.dataset.layer || el.className),
               kind, x: r.left, y: r.top, r: r.right, b: r.bottom });
  };
  document.querySelectorAll("#status-bar > *").forEach(el => add(el, "status"));
  document.querySelectorAll("#figures-bar > *").forEach(el => add(el, "figures"));
  document.querySelectorAll("#stack > *").forEach(el => add(el, "stack"));
  document.querySelectorAll(".layer-fullscreen:not([hidden]) > *").forEach(el => add(el, "fs"));
  const s = document.getElementById("stack").getBoundingClientRect();
  return { boxes: out, stack: { x: s.left, y: s.top, r: s.right, b: s.bottom },
           view: { r: innerWidth, b: innerHeight } };
}"""

# Every visible control: buttons and links a viewer taps.
TARGETS = """() => [...document.querySelectorAll("button, a[href]")].map(el => {
  const r = el.getBoundingClientRect(), cs = getComputedStyle(el);
  const shown = r.width > 0 && r.height > 0 && cs.visibility !== "hidden"
    && el.offsetParent !== null;
  return shown ? { name: el.id || el.className, w: r.width, h: r.height } : null;
}).filter(Boolean)"""


def meet(a: dict[str, float], b: dict[str, float]) -> bool:
    return min(a["r"], b["r"]) - max(a["x"], b["x"]) > 0.5 and (
        min(a["b"], b["b"]) - max(a["y"], b["y"]) > 0.5
    )


async def assert_laid_out(page: Any, where: str) -> None:
    """No two overlay boxes meet; each is whole on screen (stack items inside the stack); each
    bar is one row; every control is at least 44 px each way."""
    seen = await page.evaluate(BOXES)
    boxes, stack, view = seen["boxes"], seen["stack"], seen["view"]
    for i, a in enumerate(boxes):
        assert a["x"] >= -0.5 and a["r"] <= view["r"] + 0.5, f"{where}: {a['name']} off screen"
        assert a["y"] >= -0.5 and a["b"] <= view["b"] + 0.5, f"{where}: {a['name']} off screen"
        if a["kind"] == "stack":
            assert a["y"] >= stack["y"] - 0.5, f"{where}: {a['name']} cut off at the top"
        for b in boxes[i + 1 :]:
            assert not meet(a, b), f"{where}: {a['name']} meets {b['name']}: {a} {b}"
    for kind in ("status", "figures"):
        row = [box for box in boxes if box["kind"] == kind]
        if row:
            assert max(b["y"] for b in row) < min(b["b"] for b in row), f"{where}: {kind} wraps"
    for target in await page.evaluate(TARGETS):
        assert target["w"] >= 44 and target["h"] >= 44, f"{where}: {target} under 44 px"


async def test_no_two_overlay_boxes_meet_through_every_cue_in_four_languages(
    browser: Any, stage: Stage
) -> None:
    pages = {
        (lang, size["width"]): await phone(browser, stage, lang, size)
        for lang in LANGUAGES
        for size in PHONES
    }
    for (lang, width), page in pages.items():
        await assert_laid_out(page, f"{lang} {width} pre-show")
        await shot(page, f"{lang}-{width}-00-pre-show")
    for cue_id, _ in CUES:
        await stage.go(cue_id)
        for (lang, width), page in pages.items():
            where = f"{lang} {width} after {cue_id}"
            if cue_id == "p04":
                await page.wait_for_selector('.buy-button[data-state="buy"]', timeout=WAIT_MS)
                await page.locator(".buy-button").click()
                await page.wait_for_selector("#toast:not([hidden])", timeout=WAIT_MS)
            if cue_id == "p06":
                await page.wait_for_selector('.buy-button[data-state="buy"]', timeout=WAIT_MS)
                await page.locator(".buy-button").click()
                await page.wait_for_selector('.buy-button[data-state="confirm"]')
            await page.wait_for_timeout(150)
            await assert_laid_out(page, where)
            await shot(page, f"{lang}-{width}-{cue_id}")
        if cue_id in DROP_NAMES:  # named in the viewer's language, with its sponsor if any
            for lang in ("en", "fr"):
                page = pages[(lang, 390)]
                await page.wait_for_selector("#drop-head:not([hidden])", timeout=WAIT_MS)
                assert await page.locator("#drop-name").inner_text() == DROP_NAMES[cue_id][lang]
        if cue_id in DROP_CUES:  # the countdown, the rain and the result, each in every page
            for step in range(8):
                for (lang, width), page in pages.items():
                    await assert_laid_out(page, f"{lang} {width} {cue_id} drop {step}")
                    if step in (0, 4, 7):
                        await shot(page, f"{lang}-{width}-{cue_id}-drop-{step}")
                await pages[("en", 390)].wait_for_timeout(500)
    for page in pages.values():
        assert page.errors == [], page.errors
        await page.context.close()


async def test_the_pay_offer_goes_with_its_card_and_is_for_its_product_only(
    browser: Any, tmp_path: Path
) -> None:
    settings = Settings(
        store_url=f"sqlite:///{tmp_path / 'gala.db'}",
        show_files=(phone_show(tmp_path),),
        demo_wallet_grant_minor=0,
        demo_budget_minor=100_000,
        payment_provider="sandbox",
    )
    async with running_server(settings) as server:
        producer = await connect_viewer(
            server.base_url, await server.producer_token(), namespace="/producer"
        )
        stage = Stage(server.base_url, producer)
        page = await phone(browser, stage)
        await stage.go_to("p04")
        await page.wait_for_selector('.buy-button[data-state="buy"]')
        await page.locator(".buy-button").click()
        offer = page.locator("#pay-offer button")
        await offer.wait_for(state="visible")
        assert await offer.get_attribute("data-product-id") == "widget"
        assert await page.locator("#toast").inner_text() == "Not enough in your wallet"
        box = await offer.bounding_box()
        assert box["height"] >= 44, box
        await assert_laid_out(page, "pay offer")
        await shot(page, "pay-offer")

        await stage.go("p05")
        await stage.go("p06")  # the next card goes up: the offer for the widget is gone
        await page.wait_for_selector('[data-layer="product_card"][data-overlay-id="phone"]')
        await offer.wait_for(state="detached")
        assert await page.locator("#pay-offer").is_hidden()
        await shot(page, "pay-offer-gone")

        # an offer for the phone goes when its card is cleared
        await page.wait_for_selector('.buy-button[data-state="buy"]')
        await page.locator(".buy-button").click()
        await page.locator('.buy-button[data-state="confirm"]').click()
        await offer.wait_for(state="visible")
        assert await offer.get_attribute("data-product-id") == "phone"
        await stage.go("p07")
        await page.wait_for_selector('[data-layer="product_card"]', state="hidden")
        await offer.wait_for(state="detached")
        token = await page.evaluate("localStorage.getItem('gala.viewer.token')")
        own = await connect_viewer(server.base_url, token)
        wallet = await own.call("wallet", {"show_id": SHOW})
        await own.close()
        assert wallet["ok"] and wallet["data"]["orders"] == [], "nothing was held for anyone"
        assert page.errors == [], page.errors
        await page.context.close()
        await producer.close()


async def test_limit_reached_is_said_in_french_and_offers_no_payment(
    browser: Any, stage: Stage
) -> None:
    page = await phone(browser, stage, "fr")
    await stage.go_to("p04")
    await page.wait_for_selector('.buy-button[data-state="buy"]')
    await page.locator(".buy-button").click()
    await page.wait_for_function("document.getElementById('wallet').textContent.includes('(1)')")
    await page.wait_for_selector('.buy-button[data-state="buy"]')
    await page.locator(".buy-button").click()  # the limit is one per viewer
    toast = page.locator("#toast.error")
    await toast.wait_for(state="visible")
    assert await toast.inner_text() == "Vous avez atteint la limite pour ce produit"
    await page.wait_for_selector('.buy-button[data-state="limit"]')
    assert await page.locator(".buy-button").inner_text() == "Limite atteinte"
    assert await page.locator("#pay-offer").is_hidden()
    assert await page.locator("#pay-offer button").count() == 0
    await page.locator("#wallet").click()
    orders = page.locator("#orders li")
    assert await orders.count() == 1
    assert (await orders.first.inner_text()).startswith(WIDGET["fr"])
    assert "payée" in await orders.first.inner_text()
    await shot(page, "fr-limit-reached")
    assert page.errors == [], page.errors
    await page.context.close()


async def test_arabic_prices_are_bidi_isolated(browser: Any, stage: Stage) -> None:
    page = await phone(browser, stage, "ar")
    await stage.go_to("p04")
    price = page.locator('[data-layer="product_card"] .product-price')
    await price.wait_for(state="visible")
    said = await price.inner_text()
    assert said.startswith("\u2068") and said.endswith("\u2069"), repr(said)
    assert "\u2066CN¥\u2069" in said, repr(said)
    assert "\u2068" in await page.locator("#wallet").inner_text()
    await page.wait_for_selector("#gmv:not([hidden])")
    gmv = await page.locator("#gmv").inner_text()
    assert gmv.startswith("المبيعات") and "\u2066CN¥\u2069" in gmv, repr(gmv)
    await shot(page, "ar-price")
    assert page.errors == [], page.errors
    await page.context.close()


async def test_the_bag_sells_a_product_whose_card_was_cleared(browser: Any, stage: Stage) -> None:
    page = await phone(browser, stage, "zh", PHONES[1])
    await stage.go_to("p07")  # the phone's card is cleared, both sales still open
    await page.wait_for_selector('[data-layer="product_card"]', state="hidden")
    bag_button = page.locator("#bag-button")
    await bag_button.wait_for(state="visible")
    assert await page.locator("#bag-count").inner_text() == "2"
    await bag_button.click()
    bag = page.locator("#bag")
    await bag.wait_for(state="visible")
    assert await page.locator("#bag-title").inner_text() == "本场商品"
    item = page.locator('.bag-item[data-product-id="widget"]')
    assert await item.locator(".bag-name").inner_text() == WIDGET["zh"]
    assert await item.locator(".bag-price").inner_text() == "¥129.00"
    phone_item = page.locator('.bag-item[data-product-id="phone"]')
    assert await phone_item.locator(".bag-price").inner_text() == "¥3,999.00"
    await assert_laid_out(page, "bag open")
    await shot(page, "zh-360-bag")
    await item.locator(".bag-buy").click()
    await page.wait_for_function("document.getElementById('wallet').textContent.includes('(1)')")
    await bag.wait_for(state="hidden")  # closed on the answer, so the toast is seen
    toast = page.locator("#toast")
    assert await toast.is_visible() and (await toast.inner_text()).startswith("购买成功！")
    await bag_button.click()
    await bag.wait_for(state="visible")
    await page.locator("#bag-close").click()
    await bag.wait_for(state="hidden")
    await page.locator("#wallet").click()
    assert (await page.locator("#orders li").first.inner_text()).startswith(WIDGET["zh"])
    await shot(page, "zh-360-bag-bought")
    # after a reload (the card long gone) the bag and My orders still name the products
    await page.reload()
    await page.wait_for_selector('#conn[data-state="live"]')
    await page.wait_for_function("document.getElementById('wallet').textContent.includes('(1)')")
    await bag_button.click()
    assert await item.locator(".bag-name").inner_text() == WIDGET["zh"]
    await page.locator("#bag-close").click()
    await page.locator("#wallet").click()
    assert (await page.locator("#orders li").first.inner_text()).startswith(WIDGET["zh"])
    assert page.errors == [], page.errors
    await page.context.close()


async def test_a_large_amount_takes_a_second_tap_to_confirm(browser: Any, stage: Stage) -> None:
    page = await phone(browser, stage, "en")
    await stage.go_to("p06")
    button = page.locator(".buy-button")
    await page.wait_for_selector('.buy-button[data-state="buy"]')
    await button.click()
    await page.wait_for_selector('.buy-button[data-state="confirm"]')
    assert await button.inner_text() == "Confirm CN¥3,999.00"
    assert "(0)" in await page.locator("#wallet").inner_text(), "nothing bought on one tap"
    await shot(page, "en-confirm")
    # not confirmed in time: back to Buy, and the next tap asks again
    await page.wait_for_selector('.buy-button[data-state="buy"]', timeout=WAIT_MS)
    await button.click()
    await page.wait_for_selector('.buy-button[data-state="confirm"]')
    await button.click()
    await page.wait_for_function("document.getElementById('wallet').textContent.includes('(1)')")
    assert (await page.locator("#toast").inner_text()) == "Bought! −CN¥3,999.00"
    assert "CN¥6,001.00" in await page.locator("#wallet").inner_text()
    # under the threshold one tap buys
    await stage.go("p07")
    await stage.go("p08")
    await stage.go("p09")
    await page.wait_for_selector('[data-layer="product_card"][data-overlay-id="phone"]')
    await page.locator("#bag-button").click()
    await page.locator('.bag-item[data-product-id="widget"] .bag-buy').click()
    await page.wait_for_function("document.getElementById('wallet').textContent.includes('(2)')")
    assert page.errors == [], page.errors
    await page.context.close()
