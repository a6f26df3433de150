"""kill -9 of the server in the middle of a drop (SQLite and Redis), among grabs decided in
batches: after a restart and the
sweeper, every grab acknowledged to a viewer is a claim with the same amount, every claim is
credited to its wallet exactly once, the leftover goes back once the window closes, and the
audit is clean."""

from __future__ import annotations

import asyncio
import random
import signal
import time
from pathlib import Path
from typing import Any

from gala.auth.tokens import TokenSigner
from gala.kernel.ledger import account
from gala.money_audit import audit_store
from gala.stores.factory import open_store
from redpackets.service import escrow_of
from tests.support import (
    DROP_SHOW,
    add_producer,
    connect_and_join,
    drop_show,
    gala_process,
    producer_client,
    tap_batches,
    viewer_tokens,
)

BUDGET = 300_000
FUNDS = 1_000_000
WINDOW_MS = 12_000


async def test_kill_9_mid_drop_loses_no_claim_credits_none_twice_and_audits_clean(
    store_url: str, tmp_path: Path
) -> None:
    show = drop_show(tmp_path, envelopes=1000, budget_minor=BUDGET, duration_ms=WINDOW_MS)
    add_producer(store_url, "crash-op", "crash-op-pass", tmp_path)
    acknowledged: dict[str, int] = {}
    with gala_process(store_url, show, tmp_path, demo_budget_minor=FUNDS) as (proc, base):
        tokens = await viewer_tokens(base, 400)
        viewers = await connect_and_join(base, tokens, DROP_SHOW)
        async with producer_client(base, "crash-op", "crash-op-pass") as producer:
            ack = await producer.call(
                "go", {"show_id": DROP_SHOW, "standby_cue_id": "c1"}, namespace="/producer"
            )
            assert ack["ok"], ack
        went_live = time.monotonic()
        drop_id = ""
        while not drop_id:
            joined = await viewers[0].call("join", {"show_id": DROP_SHOW})
            drop_id = next(iter(joined["data"]["snapshot"]["drops"]), "")
            await asyncio.sleep(0.02)
        rng = random.Random(4)

        async def tap(index: int) -> None:
            await asyncio.sleep(rng.random())
            try:
                ack: dict[str, Any] = await viewers[index].call(
                    "grab", {"show_id": DROP_SHOW, "drop_id": drop_id}, timeout=15
                )
            except Exception:  # noqa: BLE001 - the server is gone
                return
            if ack["ok"]:
                acknowledged[str(index)] = ack["data"]["amount_minor"]

        tappers = [asyncio.create_task(tap(i)) for i in range(len(viewers))]
        while len(acknowledged) < 60 and not all(t.done() for t in tappers):
            await asyncio.sleep(0.005)
        assert len(acknowledged) >= 60, f"only {len(acknowledged)} grabs were answered"
        batches, grabs = await tap_batches(base, "grab")
        assert grabs > batches, "the kill lands among grabs decided in batches"
        proc.send_signal(signal.SIGKILL)
        proc.wait(20)
        await asyncio.gather(*tappers)
        await asyncio.gather(*(v.disconnect() for v in viewers), return_exceptions=True)
    assert len(acknowledged) < len(viewers), "the kill came in the middle of the grabs"

    with gala_process(store_url, show, tmp_path, demo_budget_minor=FUNDS):
        # the sweeper credits what the kill left, then closes the drop after its window
        await asyncio.sleep(max(0.0, went_live + WINDOW_MS / 1000 - time.monotonic()) + 3)

    store = await open_store(store_url)
    try:
        claims = {c.viewer_id: c for c in await store.drops.claims(drop_id)}
        subjects = await viewer_subjects(store_url, tokens)
        for index, amount in acknowledged.items():
            claim = claims.get(subjects[int(index)])
            assert claim is not None and claim.amount_minor == amount, "an acknowledged grab"
        for claim in claims.values():
            wallet = await store.ledger.balance(account("wallet", claim.viewer_id))
            assert wallet == claim.amount_minor, "credited exactly once"
        claimed = sum(c.amount_minor for c in claims.values())
        assert await store.drops.uncredited(drop_id) == []
        assert (await store.drops.counts(drop_id)).status == "closed"
        assert await store.ledger.balance(account("show_budget", DROP_SHOW)) == FUNDS - claimed
        assert await store.ledger.balance(escrow_of(drop_id)) == 0
        problems, _summary = await audit_store(store)
        assert problems == [], problems
    finally:
        await store.close()


async def viewer_subjects(store_url: str, tokens: list[str]) -> list[str]:
    """Each token's viewer id, read from the token the way the server verifies it."""
    store = await open_store(store_url)
    try:
        secret = await store.hub.server_secret(b"unused: the secret exists")
    finally:
        await store.close()
    signer = TokenSigner(secret)
    return [signer.verify(token, int(time.time())).subject for token in tokens]
