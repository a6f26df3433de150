"""Paying held orders through the sandbox provider (both backends), through a real server, real
sockets and real HTTP: a confirmed payment completes the order; an expired hold returns its stock
once and a late payment lands in the wallet; forged, stale, replayed and mismatched webhooks are
refused or change nothing. Time is a `ManualClock`, moved by hand."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from commerce import webhooks
from commerce.audit import audit_commerce
from gala.kernel import ledger as lg
from gala.kernel.clock import ManualClock
from gala.settings import Settings
from tests.support import (
    SHOP_PRICE,
    SHOP_SHOW,
    RunningServer,
    Viewer,
    connect_viewer,
    running_server,
    shop_show,
)

SECRET = b"test-webhook-secret"
HOLD_MS = 120_000
STOCK = 10
WEBHOOK = "/api/payments/webhook"
PROVIDER = lg.account("external", "provider-sandbox")
REVENUE = lg.account("revenue", "acme")


@dataclass
class Shop:
    server: RunningServer
    clock: ManualClock
    viewer: Viewer
    viewer_id: str
    sale_id: str

    @property
    def wallet(self) -> str:
        return lg.account("wallet", self.viewer_id)

    def buy(self, key: str, quantity: Any = 1, payment: Any = "provider") -> Any:
        body = {"show_id": SHOP_SHOW, "product_id": "widget", "key": key, "quantity": quantity}
        if payment is not None:
            body["payment"] = payment
        return self.viewer.call("buy", body)

    async def state(self) -> tuple[Any, ...]:
        """Everything a webhook could change: stock, the orders and every balance."""
        store = self.server.node.store
        counts = await store.sales.counts(self.sale_id)
        orders = sorted((o.id, o.state) for o in await store.sales.orders(self.sale_id))
        return (counts.left, counts.held, counts.sold), orders, await store.ledger.balances()

    async def audit(self) -> list[str]:
        store = self.server.node.store
        await store.ledger.finish_pending()
        return (await audit_commerce(store.sales, store.ledger, store.payments))[0]

    def signed(
        self, payment: dict[str, Any], event_id: str, *, secret: bytes = SECRET, **changes: Any
    ) -> tuple[bytes, str]:
        data = {
            "payment_id": payment["payment_id"],
            "amount_minor": payment["amount_minor"],
            "currency": payment["currency"],
            **changes,
        }
        body = json.dumps({"id": event_id, "type": "payment.succeeded", "data": data}).encode()
        return body, webhooks.sign(secret, self.clock.now_ms() // 1000, body)

    async def deliver(self, body: bytes, signature: str | None) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json"}
        if signature is not None:
            headers[webhooks.SIGNATURE_HEADER] = signature
        async with (
            aiohttp.ClientSession() as http,
            http.post(f"{self.server.base_url}{WEBHOOK}", data=body, headers=headers) as resp,
        ):
            return resp.status, await resp.json()


async def open_shop(server: RunningServer, clock: ManualClock) -> Shop:
    producer = await connect_viewer(
        server.base_url, await server.producer_token(), namespace="/producer"
    )
    token = await server.viewer_token()
    viewer = await connect_viewer(server.base_url, token)
    assert (await viewer.call("join", {"show_id": SHOP_SHOW}))["ok"]
    for cue in ("c1", "c2"):
        ack = await producer.call(
            "go", {"show_id": SHOP_SHOW, "standby_cue_id": cue}, namespace="/producer"
        )
        assert ack["ok"], ack
    await producer.close()
    await viewer.wait_for_seq(3)  # show.phase, overlay.shown, sale.opened
    opened = next(e for e in viewer.events if e["type"] == "sale.opened")
    return Shop(
        server, clock, viewer, server.node.authenticate(token).subject, opened["data"]["sale_id"]
    )


@pytest.fixture
async def shop(store_url: str, tmp_path: Path) -> AsyncIterator[Shop]:
    clock = ManualClock()
    settings = Settings(
        store_url=store_url,
        show_files=(shop_show(tmp_path, stock=STOCK, hold_ms=HOLD_MS),),
        payment_provider="sandbox",
        webhook_secret=SECRET.decode(),
    )
    async with running_server(settings, clock) as server:
        shop = await open_shop(server, clock)
        yield shop
        await shop.viewer.close()


async def test_a_provider_payment_completes_a_held_order_through_the_sandbox_pay_page(
    shop: Shop,
) -> None:
    ledger = shop.server.node.store.ledger
    refused = await shop.buy("wallet-tap-01", payment=None)
    assert refused["error"]["code"] == "insufficient_funds"
    now = shop.clock.now_ms()
    held = await shop.buy("provider-tap-01")
    assert held["ok"], held
    order, payment = held["data"]["order"], held["data"]["payment"]
    assert order["state"] == "held" and order["expires_at_ms"] == now + HOLD_MS
    assert payment["pay_url"] == f"/sandbox/pay/{payment['payment_id']}"
    assert (payment["amount_minor"], payment["currency"]) == (SHOP_PRICE, "CNY")
    assert payment["expires_at_ms"] == order["expires_at_ms"] and payment["provider"] == "sandbox"
    again = await shop.buy("provider-tap-01")
    assert again["data"] == held["data"], "a retry returns the same order and payment"
    other_way = await shop.buy("provider-tap-01", payment="wallet")
    assert other_way["error"]["code"] == "idempotency_mismatch"
    assert (await shop.state())[0] == (STOCK - 1, 1, 0)

    pay_url = f"{shop.server.base_url}{payment['pay_url']}"
    async with aiohttp.ClientSession() as http:
        async with http.get(pay_url) as resp:
            page = await resp.text()
            assert resp.status == 200 and "SANDBOX" in page and payment["payment_id"] in page
        async with http.post(pay_url) as resp:
            page = await resp.text()
            assert resp.status == 200 and 'data-ok="true"' in page, page
        async with http.get(f"{shop.server.base_url}/sandbox/pay/p-nothing") as resp:
            assert resp.status == 404

    assert (await shop.state())[0] == (STOCK - 1, 0, 1)
    assert await ledger.balance(shop.wallet) == 0
    assert await ledger.balance(REVENUE) == SHOP_PRICE
    assert await ledger.balance(PROVIDER) == -SHOP_PRICE
    wallet = (await shop.viewer.call("wallet", {"show_id": SHOP_SHOW}))["data"]
    assert [o["state"] for o in wallet["orders"]] == ["paid"]
    assert await shop.audit() == []

    before = await shop.state()
    async with aiohttp.ClientSession() as http, http.post(pay_url) as resp:
        assert resp.status == 200 and "already confirmed" in await resp.text()
    assert await shop.state() == before, "pressing Pay again changes nothing"


async def test_an_expired_hold_returns_its_stock_once_and_a_late_payment_is_refunded_to_the_wallet(
    shop: Shop,
) -> None:
    node = shop.server.node
    held = await shop.buy("provider-tap-02", quantity=2)
    payment = held["data"]["payment"]
    assert (await shop.state())[0] == (STOCK - 2, 2, 0)
    shop.clock.advance(HOLD_MS)
    released = await asyncio.gather(
        *(node.store.sales.expire(shop.sale_id, shop.clock.now_ms()) for _ in range(5)),
        node.purchases.sweep([shop.sale_id], reconcile=True),
        node.purchases.sweep([shop.sale_id]),
    )
    assert sum(len(r) for r in released[:5]) <= 1, "released at most once by these calls"
    for _ in range(3):
        await node.purchases.sweep([shop.sale_id], reconcile=True)
        await node.payments.sweep([shop.sale_id])
    assert (await shop.state())[0] == (STOCK, 0, 0), "the stock came back exactly once"
    assert (await shop.state())[1] == [(held["data"]["order"]["order_id"], "released")]

    body, signature = shop.signed(payment, "evt-late-1")
    status, answer = await shop.deliver(body, signature)
    assert status == 200 and answer["data"]["order"]["state"] == "released", answer
    ledger = node.store.ledger
    assert await ledger.balance(shop.wallet) == 2 * SHOP_PRICE, "the late payment is refunded"
    assert await ledger.balance(REVENUE) == 0
    assert await ledger.balance(PROVIDER) == -2 * SHOP_PRICE

    body, signature = shop.signed(payment, "evt-late-2-another-event-id")
    status, answer = await shop.deliver(body, signature)
    assert status == 200 and answer["data"]["duplicate"] is False
    assert await ledger.balance(shop.wallet) == 2 * SHOP_PRICE, "one payment credits once"
    assert (await shop.state())[0] == (STOCK, 0, 0)
    assert await shop.audit() == []

    bought = await shop.buy("wallet-tap-02", payment="wallet")
    assert bought["ok"] and bought["data"]["balance_minor"] == SHOP_PRICE, "the money is usable"


async def test_forged_stale_and_replayed_webhooks_change_nothing(shop: Shop) -> None:
    payment = (await shop.buy("provider-tap-03"))["data"]["payment"]
    before = await shop.state()
    body, signature = shop.signed(payment, "evt-forged-1", secret=b"not-the-secret")
    good_body, good_signature = shop.signed(payment, "evt-real-1")
    now_s = shop.clock.now_ms() // 1000
    forged = [
        (body, signature),
        (good_body.replace(b"evt-real-1", b"evt-real-2"), good_signature),
        (good_body, None),
        (good_body, ""),
        (good_body, "t=abc,v1=00"),
        (good_body, f"t={now_s}"),
        (good_body, f"v1={webhooks.signature(SECRET, now_s, good_body)}"),
    ]
    for forged_body, forged_signature in forged:
        status, answer = await shop.deliver(forged_body, forged_signature)
        assert (status, answer["error"]["code"]) == (401, "bad_signature"), forged_signature
    for skew_s in (-301, 301):
        stale = webhooks.sign(SECRET, now_s + skew_s, good_body)
        status, answer = await shop.deliver(good_body, stale)
        assert (status, answer["error"]["code"]) == (401, "stale_webhook")
    assert await shop.state() == before, "nothing changed"

    status, answer = await shop.deliver(good_body, good_signature)
    assert status == 200 and answer["data"]["order"]["state"] == "paid"
    paid = await shop.state()
    assert paid[0] == (STOCK - 1, 0, 1)
    for _ in range(2):
        status, answer = await shop.deliver(good_body, good_signature)
        assert status == 200 and answer["data"]["duplicate"] is True, answer
    assert await shop.state() == paid, "a replayed delivery is a no-op"
    shop.clock.advance(301_000)
    status, answer = await shop.deliver(good_body, good_signature)
    assert (status, answer["error"]["code"]) == (401, "stale_webhook")
    assert await shop.state() == paid
    assert await shop.audit() == []


async def test_wrong_amount_currency_unknown_payment_and_bad_bodies_are_refused(
    shop: Shop,
) -> None:
    payment = (await shop.buy("provider-tap-04"))["data"]["payment"]
    before = await shop.state()
    cases: list[tuple[tuple[bytes, str], int, str]] = [
        (shop.signed(payment, "evt-amount", amount_minor=1), 409, "payment_mismatch"),
        (shop.signed(payment, "evt-currency", currency="USD"), 409, "payment_mismatch"),
        (shop.signed(payment, "evt-unknown", payment_id="p-nothing"), 404, "unknown_payment"),
        (shop.signed(payment, "evt-bad-amount", amount_minor="12990"), 400, "bad_webhook"),
        (shop.signed(payment, "evt-neg-amount", amount_minor=-5), 400, "bad_webhook"),
        (shop.signed(payment, "evt-bad-currency", currency="cny"), 400, "bad_webhook"),
        (shop.signed(payment, "bad event id!"), 400, "bad_webhook"),
    ]
    for raw in (b"{not json", b"[]", b'{"id": "evt-x", "type": "payment.succeeded"}'):
        cases.append(
            ((raw, webhooks.sign(SECRET, shop.clock.now_ms() // 1000, raw)), 400, "bad_webhook")
        )
    for (body, signature), status, code in cases:
        got_status, answer = await shop.deliver(body, signature)
        assert (got_status, answer["error"]["code"]) == (status, code), (body, answer)
    big = b" " * (webhooks_max := 17 * 1024)
    status, answer = await shop.deliver(big, webhooks.sign(SECRET, 0, big))
    assert (status, answer["error"]["code"]) == (400, "payload_too_large"), webhooks_max
    other = json.dumps(
        {
            "id": "evt-refund-1",
            "type": "payment.refunded",
            "data": {"payment_id": payment["payment_id"], "amount_minor": 1, "currency": "CNY"},
        }
    ).encode()
    status, answer = await shop.deliver(
        other, webhooks.sign(SECRET, shop.clock.now_ms() // 1000, other)
    )
    assert status == 200 and answer["data"]["handled"] is False, "other events are acknowledged"
    assert await shop.state() == before, "nothing changed"
    for payment_field, code in ((42, "bad_field"), ("card", "bad_field"), ([], "bad_field")):
        assert (await shop.buy("provider-tap-05", payment=payment_field))["error"]["code"] == code
    assert await shop.audit() == []


async def test_without_a_provider_a_provider_tap_is_refused_and_there_is_no_sandbox(
    store_url: str, tmp_path: Path
) -> None:
    clock = ManualClock()
    settings = Settings(store_url=store_url, show_files=(shop_show(tmp_path, stock=STOCK),))
    async with running_server(settings, clock) as server:
        shop = await open_shop(server, clock)
        assert (await shop.buy("provider-tap-06"))["error"]["code"] == "payments_unavailable"
        refused = await shop.buy("wallet-tap-06", payment=None)
        assert refused["error"]["code"] == "insufficient_funds"
        assert (await shop.state())[0] == (STOCK, 0, 0)
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{server.base_url}/sandbox/pay/p-anything") as resp,
        ):
            assert resp.status == 404
        await shop.viewer.close()
