"""`gala audit` and the sweeper on both backends: a clean sale audits clean, a payment cut off by
a crash is refunded exactly once, and a broken invariant is named with a non-zero exit."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator

import pytest

from commerce import show_sales
from commerce.audit import audit_commerce
from commerce.payments import PaymentService, provider_account
from commerce.sandbox_provider import SandboxProvider
from commerce.service import PurchaseService, order_id_for
from gala.kernel import ledger as lg
from gala.kernel.clock import ManualClock
from gala.stores.factory import StoreBundle, open_store

START_MS = 1_700_000_000_000


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[StoreBundle]:
    bundle = await open_store(store_url)
    await bundle.hub.create_store_identity("store-audit-tests")  # as a node opening it would
    yield bundle
    await bundle.close()


def opened_sale() -> show_sales.AnnouncedSale:
    action = show_sales.OpenSale(
        "widget",
        "acme",
        12_990,
        "CNY",
        stock=5,
        per_viewer_limit=2,
        duration_ms=None,
        hold_ms=60_000,
    )
    event = show_sales.events_for("show", action, START_MS)[0]
    return show_sales.announced_sale(event.data)


async def charged_hold(
    store: StoreBundle,
    service: PurchaseService,
    sale: show_sales.AnnouncedSale,
    key: str,
    quantity: int,
) -> None:
    """What a crash between a tap's payment and its order being marked paid leaves: viewer v-1's
    units reserved and charged, the order still held."""
    await service.sync_sale(sale)
    await service.grant_demo_balance("v-1", 50_000)
    order_id = order_id_for(sale.sale_id, "v-1", key)
    order = await store.sales.reserve(sale.sale_id, order_id, "v-1", key, quantity, START_MS)
    await store.ledger.post(
        lg.Transfer(
            lg.transfer_id("order", order_id, "pay"),
            lg.account("wallet", "v-1"),
            lg.account("revenue", "acme"),
            order.amount_minor,
            "order",
        )
    )


def run_audit(store_url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gala", "audit", "--store", store_url],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_a_clean_sale_audits_clean(store: StoreBundle, store_url: str) -> None:
    clock = ManualClock(START_MS)
    service = PurchaseService(store.sales, store.ledger, store.taps, clock)
    sale = opened_sale()
    for viewer in ("v-1", "v-2"):
        await service.grant_demo_balance(viewer, 50_000)
        purchase = await service.buy(sale, viewer, f"key-{viewer}-0001", 2)
        assert purchase.order.state == "paid"
    assert await audit_commerce(store.sales, store.ledger) == ([], "1 sales, 2 orders, 4 transfers")
    done = run_audit(store_url)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (
        "audit clean: 1 sales, 2 orders, 4 transfers, 0 drops, 0 claims, 0 differences"
        in done.stdout
    )


async def test_a_payment_cut_off_by_a_crash_is_completed_once_even_after_its_hold_ran_out(
    store: StoreBundle, store_url: str
) -> None:
    """The viewer was charged: the order stands, its units stay sold, nothing is refunded."""
    clock = ManualClock(START_MS)
    service = PurchaseService(store.sales, store.ledger, store.taps, clock)
    sale = opened_sale()
    await charged_hold(store, service, sale, "key-crashed-01", 2)
    problems, _ = await audit_commerce(store.sales, store.ledger)
    assert any("held but already charged" in p for p in problems)
    clock.advance(60_000)
    swept = await service.sweep([sale.sale_id])
    assert (swept.orders_completed, swept.holds_released, swept.orders_refunded) == (1, 0, 0)
    assert (await service.sweep([sale.sale_id], reconcile=True)).settled == 0, "completed once"
    assert await store.ledger.balance(lg.account("wallet", "v-1")) == 50_000 - 2 * 12_990
    assert await store.ledger.balance(lg.account("revenue", "acme")) == 2 * 12_990
    counts = await store.sales.counts(sale.sale_id)
    assert (counts.left, counts.held, counts.sold) == (3, 0, 2)
    assert (await audit_commerce(store.sales, store.ledger))[0] == []


async def test_a_broken_invariant_is_named_and_fails_the_audit(
    store: StoreBundle, store_url: str
) -> None:
    service = PurchaseService(store.sales, store.ledger, store.taps, ManualClock(START_MS))
    sale = opened_sale()
    await service.grant_demo_balance("v-1", 50_000)
    order = (await service.buy(sale, "v-1", "key-refunded-1", 1)).order
    await store.ledger.post(
        lg.Transfer(
            lg.transfer_id("order", order.id, "refund"),
            lg.account("revenue", "acme"),
            lg.account("wallet", "v-1"),
            12_990,
            "refund",
        )
    )
    await store.ledger.post(
        lg.Transfer(
            "order/o-ghost/pay",
            lg.account("wallet", "v-1"),
            lg.account("revenue", "acme"),
            100,
            "order",
        )
    )
    done = run_audit(store_url)
    assert done.returncode == 1
    assert f"order {order.id}: paid but refunded" in done.stdout
    assert "transfer order/o-ghost/pay belongs to no order" in done.stdout
    assert "audit failed" in done.stdout


async def test_a_charged_hold_is_completed_by_the_sweeper_before_it_expires(
    store: StoreBundle,
) -> None:
    clock = ManualClock(START_MS)
    service = PurchaseService(store.sales, store.ledger, store.taps, clock)
    sale = opened_sale()
    await charged_hold(store, service, sale, "key-crashed-02", 1)
    assert (await service.sweep([sale.sale_id])).settled == 0, "a plain sweep waits for the hold"
    assert (await service.sweep([sale.sale_id], reconcile=True)).settled == 1
    assert (await service.sweep([sale.sale_id], reconcile=True)).settled == 0
    counts = await store.sales.counts(sale.sale_id)
    assert (counts.left, counts.held, counts.sold) == (4, 0, 1)
    assert (await audit_commerce(store.sales, store.ledger))[0] == []


async def test_a_payment_credited_but_not_charged_is_finished_by_the_sweeper(
    store: StoreBundle,
) -> None:
    """A crash between a webhook's credit (`payment/ID/in`) and the order's charge: the audit
    names it, the payment sweeper pays the order exactly once, and the audit is clean again."""
    clock = ManualClock(START_MS)
    service = PurchaseService(store.sales, store.ledger, store.taps, clock)
    secret = b"whsec"
    payments = PaymentService(
        service,
        store.sales,
        store.ledger,
        store.payments,
        SandboxProvider(secret, clock),
        clock,
        secret,
    )
    sale = opened_sale()
    held = await payments.buy(sale, "v-1", "key-provider-1", 2)
    assert held.order.state == "held" and held.payment is not None
    await store.ledger.post(
        lg.Transfer(
            lg.transfer_id("payment", held.payment.payment_id, "in"),
            provider_account("sandbox"),
            lg.account("wallet", "v-1"),
            held.order.amount_minor,
            "payment",
        )
    )
    problems, _ = await audit_commerce(store.sales, store.ledger, store.payments)
    assert any("credited but order" in p for p in problems), problems
    assert await payments.sweep([sale.sale_id]) == 1
    assert await payments.sweep([sale.sale_id]) == 0
    counts = await store.sales.counts(sale.sale_id)
    assert (counts.left, counts.held, counts.sold) == (3, 0, 2)
    assert await store.ledger.balance(lg.account("wallet", "v-1")) == 0
    assert await store.ledger.balance(lg.account("revenue", "acme")) == 2 * 12_990
    assert (await audit_commerce(store.sales, store.ledger, store.payments))[0] == []


async def test_a_payment_credit_that_belongs_to_no_payment_fails_the_audit(
    store: StoreBundle, store_url: str
) -> None:
    await store.ledger.post(
        lg.Transfer(
            "payment/p-ghost/in",
            provider_account("sandbox"),
            lg.account("wallet", "v-1"),
            500,
            "payment",
        )
    )
    done = run_audit(store_url)
    assert done.returncode == 1
    assert "transfer payment/p-ghost/in belongs to no payment" in done.stdout
