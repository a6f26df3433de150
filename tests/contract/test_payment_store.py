"""One contract for every payment store backend (SQLite and Redis): a payment record is written
once (the first wins), and a webhook event id is recorded exactly once under concurrency."""

from __future__ import annotations

import asyncio
import dataclasses

from commerce.ports import EVENT_RETENTION_MS, Payment
from gala.stores.factory import StoreBundle

NOW_MS = 1_700_000_000_000
PAYMENT = Payment(
    "p-0123456789abcdef01234567",
    "sandbox",
    "o-0123456789abcdef01234567",
    "flash-1",
    "v-1",
    "acme",
    12_990,
    "CNY",
    "/sandbox/pay/p-0123456789abcdef01234567",
    NOW_MS + 60_000,
)


async def test_a_payment_record_is_written_once_and_the_first_wins(store: StoreBundle) -> None:
    payments = store.payments
    assert await payments.payment(PAYMENT.payment_id) is None
    assert await payments.create_payment(PAYMENT) == PAYMENT
    other = dataclasses.replace(PAYMENT, amount_minor=1, pay_url="/elsewhere")
    assert await payments.create_payment(other) == PAYMENT, "a retry gets the first record"
    assert await payments.payment(PAYMENT.payment_id) == PAYMENT
    second = dataclasses.replace(PAYMENT, payment_id="p-second", order_id="o-second")
    results = await asyncio.gather(*(payments.create_payment(second) for _ in range(20)))
    assert set(results) == {second}
    assert await payments.payments() == [PAYMENT, second]


async def test_concurrent_records_of_one_event_give_exactly_one_true(store: StoreBundle) -> None:
    payments = store.payments
    assert not await payments.has_event("evt-1")
    results = await asyncio.gather(*(payments.record_event("evt-1", NOW_MS) for _ in range(50)))
    assert results.count(True) == 1 and results.count(False) == 49
    assert await payments.has_event("evt-1")
    assert not await payments.has_event("evt-2")
    assert await payments.record_event("evt-2", NOW_MS + 1)
    assert not await payments.record_event("evt-1", NOW_MS + EVENT_RETENTION_MS // 2)
