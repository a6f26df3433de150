"""One contract for every ledger store backend (SQLite and Redis): exactly-once transfers, no
overdraft under concurrency, exact totals, and (Redis) a saga interrupted by a crash is finished
by the sweeper."""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict

import pytest

from commerce.redis_keys import account_keys, ledger_index_keys
from gala.kernel import ledger as lg
from gala.kernel.errors import GalaError
from gala.stores.factory import StoreBundle

GRANT = lg.account("external", "demo-grant")
WALLET = lg.account("wallet", "v-1")
REVENUE = lg.account("revenue", "acme")


async def audit(store: StoreBundle) -> list[str]:
    await store.ledger.finish_pending()
    transfers = await store.ledger.transfers()
    ledger = lg.Ledger(
        "CNY", balances=await store.ledger.balances(), transfers={t.id: t for t in transfers}
    )
    return lg.audit(ledger)


async def test_a_transfer_applies_once_and_a_reused_id_is_refused(store: StoreBundle) -> None:
    grant = lg.Transfer("grant/v-1/main", GRANT, WALLET, 10_000, "demo grant")
    await store.ledger.post(grant)
    await store.ledger.post(grant)
    assert await store.ledger.balance(WALLET) == 10_000
    assert await store.ledger.balance(GRANT) == -10_000
    with pytest.raises(lg.TransferMismatch):
        await store.ledger.post(lg.Transfer("grant/v-1/main", GRANT, WALLET, 99, "demo grant"))
    assert await store.ledger.transfers() == [grant]
    assert await audit(store) == []


async def test_a_wallet_never_goes_below_zero_under_concurrent_spending(store: StoreBundle) -> None:
    await store.ledger.post(lg.Transfer("grant/v-1/main", GRANT, WALLET, 1_000, "grant"))
    spends = [
        store.ledger.post(lg.Transfer(f"order/o{n}/pay", WALLET, REVENUE, 10, "order"))
        for n in range(150)
    ]
    results = await asyncio.gather(*spends, return_exceptions=True)
    refused = [r for r in results if isinstance(r, GalaError)]
    assert len(refused) == 50 and {r.code for r in refused} == {"insufficient_funds"}
    assert await store.ledger.balance(WALLET) == 0
    assert await store.ledger.balance(REVENUE) == 1_000
    assert len(await store.ledger.transfers()) == 101
    assert await audit(store) == []


async def test_retries_of_the_same_transfer_at_once_apply_it_once(store: StoreBundle) -> None:
    await store.ledger.post(lg.Transfer("grant/v-1/main", GRANT, WALLET, 500, "grant"))
    pay = lg.Transfer("order/o1/pay", WALLET, REVENUE, 300, "order")
    await asyncio.gather(*(store.ledger.post(pay) for _ in range(10)))
    assert (await store.ledger.balance(WALLET), await store.ledger.balance(REVENUE)) == (200, 300)
    assert await audit(store) == []


async def test_a_saga_cut_off_between_its_legs_is_finished_once_by_the_sweeper(
    store: StoreBundle,
) -> None:
    await store.ledger.post(lg.Transfer("grant/v-1/main", GRANT, WALLET, 500, "grant"))
    pay = lg.Transfer("order/o1/pay", WALLET, REVENUE, 300, "order")
    if store.kind == "redis":
        ledger = store.ledger
        # what a crash after the debit leaves: the intent and the debit, no credit, no record
        intents, _done, _accounts = ledger_index_keys()
        source = account_keys(WALLET)
        await ledger._redis.hset(intents, pay.id, json.dumps(asdict(pay), sort_keys=True))
        await ledger._legs(keys=[source.balance, source.applied], args=["debit", "1", pay.id, 300])
        assert await ledger.balance(WALLET) == 200 and await ledger.balance(REVENUE) == 0
    else:
        await store.ledger.post(pay)
    await asyncio.gather(*(store.ledger.finish_pending() for _ in range(3)))
    assert (await store.ledger.balance(WALLET), await store.ledger.balance(REVENUE)) == (200, 300)
    await store.ledger.post(pay)  # a late retry of the interrupted request changes nothing
    assert (await store.ledger.balance(WALLET), await store.ledger.balance(REVENUE)) == (200, 300)
    assert [t.id for t in await store.ledger.transfers()] == ["grant/v-1/main", "order/o1/pay"]
    assert await audit(store) == []
