"""The SQLite adapter of the tap batches (`commerce.ports.PurchaseBatches`,
`redpackets.ports.GrabBatches`): a whole batch of taps on one sale or one drop is one
`BEGIN IMMEDIATE` transaction, so one commit and one fsync however many taps it holds.

The batch binds its idempotency keys to their requests (a key already bound to another one is
refused `idempotency_mismatch`), then reads what its taps touch in a few set-based statements (the
sale's counters, the orders of the batch's keys, the viewers' counts, the wallets; or the drop, the
viewers' claims, the next envelopes), decides each tap in turn in memory with the pure rules of
`commerce/sale.py` and the ledger's guard (each on a view of the sale holding just that tap's viewer
and key, as the one-tap store operations load it; the wallet's check comes after the sale's rules
and before any write), then writes every outcome in a few statements more.
Why set-based: every statement the `sqlite3` module steps hands the interpreter lock to the
event loop and back, and under a storm each hand-back waits for the loop; a handful of
statements per batch instead of about twenty per tap is what lets a batch cost microseconds per
tap (bench/README.md). A refused tap changes nothing but its key's binding; the taps before and
after it stand.
The sale, the ledger and the drops share the one database, which is why one transaction holds a
tap's reservation, its charge and its payment (on Redis the same tap is a saga over three
slots: `redis_taps.py`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import replace
from types import MappingProxyType
from typing import overload

from commerce import sale as rules
from commerce.ports import Bought, WalletTap
from commerce.service import key_mismatch, key_request, pay_transfer
from commerce.sqlite_ledger import balances_in, posted_in, record_in
from commerce.sqlite_store import (
    bind_keys_in,
    load_counters,
    orders_of_keys_in,
    record_taps_in,
    taken_in,
)
from gala.kernel.errors import GalaError
from gala.kernel.ledger import InsufficientFunds, Transfer, TransferMismatch, account
from gala.kernel.storage import SqliteRunner, transaction
from redpackets import model
from redpackets.ports import Grabbed
from redpackets.service import credit_transfer, escrow_of
from redpackets.sqlite_store import amounts_in, claims_in, load_drop, record_claims_in


class SqliteTapBatches:
    def __init__(self, db: SqliteRunner) -> None:
        self._db = db

    async def buy_batch(
        self, sale_id: str, revenue: str, taps: Sequence[WalletTap], now_ms: int
    ) -> list[Bought | GalaError]:
        def decide(conn: sqlite3.Connection) -> list[Bought | GalaError]:
            with transaction(conn):
                return _buy_batch(conn, sale_id, revenue, taps, now_ms)

        return await self._db.run(decide)

    async def grab_batch(
        self, drop_id: str, viewer_ids: Sequence[str], now_ms: int
    ) -> list[Grabbed | GalaError]:
        def decide(conn: sqlite3.Connection) -> list[Grabbed | GalaError]:
            with transaction(conn):
                return _grab_batch(conn, drop_id, viewer_ids, now_ms)

        return await self._db.run(decide)


def _buy_batch(
    conn: sqlite3.Connection,
    sale_id: str,
    revenue: str,
    taps: Sequence[WalletTap],
    now_ms: int,
) -> list[Bought | GalaError]:
    sale = load_counters(conn, sale_id)
    requests = [key_request(sale_id, t.quantity) for t in taps]
    bound = bind_keys_in(
        conn, [(t.viewer_id, t.key, r) for t, r in zip(taps, requests, strict=True)]
    )
    orders = {
        o.id: o for o in orders_of_keys_in(conn, sale_id, [(t.viewer_id, t.key) for t in taps])
    }
    by_key = {(o.viewer_id, o.key): o.id for o in orders.values()}
    viewers = sorted({t.viewer_id for t in taps})
    taken = taken_in(conn, sale_id, viewers)
    balances = balances_in(conn, [account("wallet", v) for v in viewers])
    held_known = [pay_transfer(o, revenue).id for o in orders.values() if o.state == rules.HELD]
    charged = posted_in(conn, held_known) if held_known else {}
    new_orders: dict[str, rules.Order] = {}
    paid_known: list[str] = []
    taken_now: dict[str, int] = {}
    transfers: list[Transfer] = []
    outcomes: list[Bought | GalaError] = []
    for tap, request in zip(taps, requests, strict=True):
        if bound[(tap.viewer_id, tap.key)] != request:
            outcomes.append(key_mismatch())
            continue
        wallet = account("wallet", tap.viewer_id)
        known = by_key.get((tap.viewer_id, tap.key))
        view = replace(
            sale,
            taken=MappingProxyType({tap.viewer_id: taken.get(tap.viewer_id, 0)}),
            orders=MappingProxyType({} if known is None else {known: orders[known]}),
            by_key=MappingProxyType({} if known is None else {(tap.viewer_id, tap.key): known}),
        )
        try:
            if known is not None and known != tap.order_id:
                # the payment method is part of the order id: this key made an order paid the
                # other way
                raise rules.KeyReused("this idempotency key was used with another payment method")
            view, order = rules.reserve(
                view, tap.order_id, tap.viewer_id, tap.key, tap.quantity, now_ms
            )
            if known is None and order.amount_minor > balances[wallet]:
                # checked after the sale's rules (a tap told `sold_out` is told so whatever its
                # wallet holds) and before anything is written: no stock is held without the money
                raise InsufficientFunds("your wallet does not hold enough for this order")
            if order.state == rules.RELEASED:
                raise rules.HoldExpired("this order's hold expired before it was paid; tap again")
            charge = None
            if order.state == rules.HELD:
                charge = pay_transfer(order, revenue)
                done = charged.get(charge.id)
                if done is not None and done != charge:
                    raise TransferMismatch(f"transfer {charge.id!r} was posted with other content")
                if done is None and balances[wallet] < charge.amount_minor:
                    raise InsufficientFunds("your wallet does not hold enough for this order")
                if done is not None:
                    charge = None  # charged before a crash: only the payment is left
                view = rules.pay(view, order.id)
                order = view.orders[order.id]
        except GalaError as refused:
            outcomes.append(refused)
            continue
        # the tap stands: fold its view back into the batch
        sale = replace(sale, left=view.left, held=view.held, sold=view.sold)
        if known is None or known in new_orders:
            new_orders[order.id] = order
        elif orders[known].state != order.state:
            paid_known.append(known)
        orders[order.id] = order
        by_key[(tap.viewer_id, tap.key)] = order.id
        if known is None:
            taken[tap.viewer_id] = taken_now[tap.viewer_id] = view.taken[tap.viewer_id]
        if charge is not None:
            balances[wallet] -= charge.amount_minor
            charged[charge.id] = charge
            transfers.append(charge)
        outcomes.append(Bought(order, balances[wallet]))
    record_taps_in(conn, sale, list(new_orders.values()), paid_known, taken_now)
    record_in(conn, transfers)
    return outcomes


class _Envelopes(Sequence[int]):
    """The envelopes a batch may hand out, from the drop's next one on, as the pure rules see
    the drop's envelopes."""

    def __init__(self, start: int, amounts: list[int], count: int) -> None:
        self._start, self._amounts, self._count = start, amounts, count

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, index: int) -> int: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[int]: ...

    def __getitem__(self, index: int | slice) -> int | Sequence[int]:
        if isinstance(index, slice):
            raise TypeError("a batch sees only the envelopes it may hand out")
        return self._amounts[index - self._start]


def _grab_batch(
    conn: sqlite3.Connection, drop_id: str, viewer_ids: Sequence[str], now_ms: int
) -> list[Grabbed | GalaError]:
    drop = load_drop(conn, drop_id)
    viewers = sorted(set(viewer_ids))
    claims = claims_in(conn, drop_id, viewers)
    wanted = min(len(viewers), drop.left)
    drop = replace(
        drop,
        amounts=_Envelopes(
            drop.next_index,
            amounts_in(conn, drop_id, drop.next_index, drop.next_index + wanted),
            drop.terms.count,
        ),
    )
    escrow = escrow_of(drop_id)
    balances = balances_in(conn, [escrow, *(account("wallet", v) for v in viewers)])
    new_claims: list[model.Claim] = []
    outcomes: list[Grabbed | GalaError] = []
    for viewer in viewer_ids:
        known = claims.get(viewer)
        view = replace(drop, claims=MappingProxyType({} if known is None else {viewer: known}))
        try:
            view, claim = model.grab(view, viewer, now_ms)
        except GalaError as refused:
            outcomes.append(refused)
            continue
        drop = replace(drop, next_index=view.next_index)
        claims[viewer] = claim
        new_claims.append(claim)
        wallet = account("wallet", viewer)
        balances[wallet] += claim.amount_minor
        balances[escrow] -= claim.amount_minor
        outcomes.append(Grabbed(claim, balances[wallet]))
    if balances[escrow] < 0:
        # a live drop's escrow holds every envelope not yet claimed: refuse the whole batch
        raise InsufficientFunds(f"{escrow} cannot pay the batch's envelopes")
    record_claims_in(conn, drop_id, new_claims)
    record_in(conn, [credit_transfer(claim) for claim in new_claims])
    return outcomes
