"""The Redis adapter of the tap batches (`commerce.ports.PurchaseBatches`,
`redpackets.ports.GrabBatches`): a batch of taps on one sale or one drop costs a fixed number of
round trips, whatever its size.

A wallet purchase touches three slots: the sale's (`{sale:ID}`), each buyer's wallet and the
sponsor's revenue. For a batch:

1. bind the batch's idempotency keys to their requests (a key already bound to another one is
   refused `idempotency_mismatch`) and read every buyer's wallet balance (two pipelined round
   trips, at once);
2. `reserve_batch.lua` decides every tap in the sale's slot (one call), spending each viewer's
   balance as it reserves, so a tap without the money never holds stock;
3. the charges `order/ID/pay` go through the ledger's saga, every leg of the batch pipelined
   (`RedisLedgerStore.post_many`: three round trips, which also return the wallets' balances
   after their debits);
4. `pay_batch.lua` marks the charged orders paid (one call).

A grab: `grab_batch.lua` claims in the drop's slot (one call), the credits `grab/ID/VIEWER` go
through `post_many` (which returns the wallets' balances), the claims are marked credited
(one command).

A crash between the steps leaves orders reserved (perhaps charged) or claims uncredited: the
retry with the same key continues the order from where it is, and the sweeper completes charged
orders and credits claims (docs/architecture.md, "A tap, end to end").
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from commerce import sale as rules
from commerce.ports import Bought, WalletTap
from commerce.redis_ledger import RedisLedgerStore
from commerce.redis_store import RedisSaleStore
from commerce.service import key_mismatch, key_request, pay_transfer, refund_transfer
from gala.kernel.errors import GalaError
from gala.kernel.ledger import account
from redpackets.model import Claim
from redpackets.ports import Grabbed
from redpackets.redis_store import RedisDropStore
from redpackets.service import credit_transfer

log = logging.getLogger(__name__)


class RedisTapBatches:
    def __init__(
        self, sales: RedisSaleStore, drops: RedisDropStore, ledger: RedisLedgerStore
    ) -> None:
        self._sales = sales
        self._drops = drops
        self._ledger = ledger

    async def buy_batch(
        self, sale_id: str, revenue: str, taps: Sequence[WalletTap], now_ms: int
    ) -> list[Bought | GalaError]:
        wallets = sorted({account("wallet", tap.viewer_id) for tap in taps})
        requests = [key_request(sale_id, tap.quantity) for tap in taps]
        read, bound = await asyncio.gather(
            self._ledger.balances_of(wallets),
            self._sales.bind_keys(
                [(t.viewer_id, t.key, r) for t, r in zip(taps, requests, strict=True)]
            ),
        )
        before = dict(zip(wallets, read, strict=True))
        matched = [t for t, r, b in zip(taps, requests, bound, strict=True) if r == b]
        reserved = iter(
            await self._sales.reserve_batch(
                sale_id, [(t, before[account("wallet", t.viewer_id)]) for t in matched], now_ms
            )
            if matched
            else []
        )
        outcomes = [
            _unless_released(next(reserved)) if r == b else key_mismatch()
            for r, b in zip(requests, bound, strict=True)
        ]
        held = list(
            {
                o.id: o for o in outcomes if isinstance(o, rules.Order) and o.state == rules.HELD
            }.values()
        )
        charges = await self._ledger.post_many([pay_transfer(o, revenue) for o in held])
        refusals = dict(zip((o.id for o in held), charges.outcomes, strict=True))
        charged = [o for o in held if refusals[o.id] is None]
        paid = dict(
            zip(
                (o.id for o in charged),
                await self._sales.pay_batch(sale_id, [o.id for o in charged]),
                strict=True,
            )
        )
        expired = [o for o in charged if isinstance(paid[o.id], GalaError)]
        if expired:  # a retried order whose hold ran out just now: give the money back
            await self._ledger.post_many([refund_transfer(o, revenue) for o in expired])
        after = await self._balances(wallets, {} if expired else charges.balances)
        answers: list[Bought | GalaError] = []
        for tap, outcome in zip(taps, outcomes, strict=True):
            if isinstance(outcome, rules.Order) and outcome.state == rules.HELD:
                final = refusals[outcome.id] or paid[outcome.id]
                outcome = final if final is not None else outcome
            if isinstance(outcome, GalaError):
                answers.append(outcome)
            else:
                answers.append(Bought(outcome, after[account("wallet", tap.viewer_id)]))
        return answers

    async def _balances(self, accounts: list[str], known: dict[str, int]) -> dict[str, int]:
        """The balances of these accounts: those the ledger's legs just returned, the rest read
        (one round trip, only when some are missing)."""
        missing = [name for name in accounts if name not in known]
        read = dict(zip(missing, await self._ledger.balances_of(missing), strict=True))
        return {name: known[name] if name in known else read[name] for name in accounts}

    async def grab_batch(
        self, drop_id: str, viewer_ids: Sequence[str], now_ms: int
    ) -> list[Grabbed | GalaError]:
        claimed = await self._drops.grab_batch(drop_id, viewer_ids, now_ms)
        claims = [c for c in claimed if isinstance(c, Claim)]
        credits = await self._ledger.post_many([credit_transfer(c) for c in claims])
        credited = [c.viewer_id for c, r in zip(claims, credits.outcomes, strict=True) if r is None]
        for claim, refusal in zip(claims, credits.outcomes, strict=True):
            if refusal is not None:  # left uncredited: the sweeper credits it
                log.error(
                    "grab %s/%s not credited: %s",
                    drop_id,
                    claim.viewer_id,
                    refusal.code,
                    extra={"drop_id": drop_id},
                )
        await self._drops.mark_credited_many(drop_id, credited)
        wallets = [account("wallet", c.viewer_id) for c in claims]
        balances = await self._balances(wallets, credits.balances)
        return [
            Grabbed(c, balances[account("wallet", c.viewer_id)]) if isinstance(c, Claim) else c
            for c in claimed
        ]


def _unless_released(outcome: rules.Order | GalaError) -> rules.Order | GalaError:
    """A key whose order's hold ran out bought nothing: never answered ok."""
    if isinstance(outcome, rules.Order) and outcome.state == rules.RELEASED:
        return rules.HoldExpired("this order's hold expired before it was paid; tap again")
    return outcome
