"""A seeded simulation of the money rules against both stores (owned by this file, with
`tests/sim_model.py`, the reference model, and `tests/sim_crash.py`, crash injection): thousands
of random operations on the real services (wallet taps alone and in batches, retries, key reuse,
provider holds and their webhooks, clock advances, sweeps, drops, grabs, restarts, crashes of the
sweeps and deposits), the store compared with the model and audited after every step.

Replay a failure: GALA_SIM_SEED=<seed> GALA_SIM_STEPS=<steps> pytest <this file> -k <backend>.
"""

from __future__ import annotations

import copy
import os
import random
from dataclasses import replace
from typing import Any, cast

import pytest
import redis.asyncio as aioredis

from commerce import sale as rules
from commerce import webhooks
from commerce.payments import PaymentService
from commerce.ports import Bought, LedgerStore, PaymentStore, SaleStore
from commerce.redis_ledger import RedisLedgerStore
from commerce.redis_payments import RedisPaymentStore
from commerce.redis_store import RedisSaleStore
from commerce.sandbox_provider import SandboxProvider
from commerce.service import PurchaseService, wallet_tap
from commerce.show_sales import AnnouncedSale
from gala.kernel.clock import ManualClock
from gala.kernel.errors import GalaError
from gala.kernel.ledger import account, kind_of
from gala.money_audit import audit_store
from gala.stores.factory import StoreBundle, TapBatches, open_store
from gala.stores.redis_taps import RedisTapBatches
from redpackets import model as rp
from redpackets.ports import DropStore
from redpackets.redis_store import RedisDropStore
from redpackets.service import DropService
from tests.sim_crash import CrashingPort, CrashingRedis, Fuse, SimulatedCrash
from tests.sim_model import Model

START = 1_700_000_000_000
SHOW = "gala-sim"
SECRET = b"sim-secret"
SPONSORS = ("acme", "aurora")
SEEDS = [int(os.environ["GALA_SIM_SEED"])] if "GALA_SIM_SEED" in os.environ else [1, 2]
STEPS = int(os.environ.get("GALA_SIM_STEPS", "400"))


class Node:
    """One process: services over ports that a fuse can kill."""

    def __init__(self, bundle: StoreBundle, url: str, clock: ManualClock, seed: int) -> None:
        self.fuse = Fuse()
        self.client: Any = None
        if bundle.kind == "redis":
            self.client = aioredis.Redis.from_url(url)
            wired: Any = CrashingRedis(self.client, self.fuse)
            sales, ledger = RedisSaleStore(wired), RedisLedgerStore(wired)
            drops, payments = RedisDropStore(wired), RedisPaymentStore(wired)
            taps: Any = RedisTapBatches(sales, drops, ledger)
        else:
            sales = cast(Any, CrashingPort(bundle.sales, self.fuse))
            ledger = cast(Any, CrashingPort(bundle.ledger, self.fuse))
            drops = cast(Any, CrashingPort(bundle.drops, self.fuse))
            payments = cast(Any, CrashingPort(bundle.payments, self.fuse))
            taps = CrashingPort(bundle.taps, self.fuse)
        self.purchases = PurchaseService(
            cast(SaleStore, sales), cast(LedgerStore, ledger), cast(TapBatches, taps), clock
        )
        self.provider = SandboxProvider(SECRET, clock)
        self.payments = PaymentService(
            self.purchases,
            cast(SaleStore, sales),
            cast(LedgerStore, ledger),
            cast(PaymentStore, payments),
            self.provider,
            clock,
            SECRET,
        )
        self.drops = DropService(
            cast(DropStore, drops),
            cast(Any, ledger),
            cast(TapBatches, taps),
            clock,
            random.Random(seed),
        )

    async def close(self) -> None:
        if self.client is not None:
            await self.client.aclose()


def code(outcome: object) -> str:
    if isinstance(outcome, GalaError):
        return outcome.code
    return "ok"


class Sim:
    def __init__(self, store: StoreBundle, url: str, seed: int) -> None:
        self.store, self.url, self.seed = store, url, seed
        self.rng = random.Random(seed)
        self.clock = ManualClock(START)
        self.model = Model()
        self.node = Node(store, url, self.clock, seed)
        self.restarts = 0
        self.step = -1
        self.desc = "setup"
        self.requests: list[tuple[str, str, str, str, int]] = []  # method, sale, viewer, key, q
        self.viewers = [f"v{i}" for i in range(8)]
        self.keys = 0
        self.sales: dict[str, AnnouncedSale] = {}
        self.drop_terms: dict[str, rp.DropTerms] = {}

    def where(self) -> str:
        return (
            f"backend={self.store.kind} seed={self.seed} step={self.step} op={self.desc} "
            f"(replay: GALA_SIM_SEED={self.seed} GALA_SIM_STEPS={STEPS} .venv/bin/python -m "
            f"pytest tests/contract/test_money_simulation.py -k {self.store.kind})"
        )

    async def setup(self) -> None:
        r = self.rng
        for i in range(3):
            sponsor = SPONSORS[i % 2]
            opens = START + (30_000 if i == 2 else 0)
            sale = AnnouncedSale(
                f"{SHOW}-p{i}-{opens}",
                f"p{i}",
                sponsor,
                r.randint(100, 900),
                "CNY",
                r.randint(4, 12),
                r.randint(1, 3),
                opens,
                None if r.random() < 0.5 else START + r.randint(200_000, 600_000),
                r.choice([30_000, 60_000, 90_000]),
            )
            self.sales[sale.sale_id] = sale
            self.model.add_sale(sale)
            await self.node.purchases.sync_sale(sale)
        for v in self.viewers:
            amount = r.choice([0, 300, 1_000, 5_000])
            await self.node.purchases.grant_demo_balance(v, amount)
            self.model.grant(v, amount)
        for sponsor in SPONSORS:
            await self.deposit(account("sponsor_budget", sponsor), r.randint(0, 3_000))

    async def deposit(self, funder: str, amount: int) -> None:
        if amount <= 0:
            return
        ref = f"ref{self.keys}"
        self.keys += 1
        self.model.deposit(funder, amount, ref)
        await self.crashable(lambda: self.node.drops.deposit(funder, amount, ref))

    async def crashable(self, call: Any) -> Any:
        """Run a call whose outcome does not depend on where it died; maybe crash it, restart
        and retry it."""
        if self.rng.random() < 0.15:
            self.node.fuse.arm(self.rng.randint(1, 6), self.rng.random() < 0.5)
        try:
            result = await call()
        except SimulatedCrash:
            await self.restart()
            return await call()
        finally:
            self.node.fuse.disarm()
        return result

    async def restart(self) -> None:
        self.restarts += 1
        await self.node.close()
        await self.store.close()
        self.store = await open_store(self.url)
        self.node = Node(self.store, self.url, self.clock, self.seed * 1000 + self.restarts)
        sale_ids = sorted(self.sales)
        await self.node.purchases.sweep(sale_ids, reconcile=True)
        await self.node.payments.sweep(sale_ids)
        await self.node.drops.sweep(SHOW)
        self.model.expire(self.clock.now_ms())
        self.model.payments_sweep()
        self.model.drop_sweep(self.clock.now_ms())

    def new_key(self, viewer: str) -> str:
        self.keys += 1
        return f"k-{viewer}-{self.keys:06d}"

    # -- operations

    async def op_buy(self) -> None:
        sale = self.rng.choice(list(self.sales.values()))
        v = self.rng.choice(self.viewers)
        req = self.pick_request("wallet") if self.rng.random() < 0.3 else None
        if req is not None:
            _, sid, v, key, q = req
            sale = self.sales[sid]
        else:
            key, q = self.new_key(v), self.rng.randint(1, sale.per_viewer_limit)
            self.requests.append(("wallet", sale.sale_id, v, key, q))
        self.desc = f"buy {sale.sale_id} {v} {key} x{q}"
        await self.wallet_batch(sale, [(v, key, q)], single=True)

    async def op_batch(self) -> None:
        sale = self.rng.choice(list(self.sales.values()))
        taps: list[tuple[str, str, int]] = []
        for _ in range(self.rng.randint(2, 6)):
            roll = self.rng.random()
            if roll < 0.2 and taps:
                taps.append(self.rng.choice(taps))  # the same tap twice in the batch
                continue
            # the same viewer on another device, or any viewer
            v = self.rng.choice(taps)[0] if roll < 0.4 and taps else self.rng.choice(self.viewers)
            q = self.rng.randint(1, sale.per_viewer_limit)
            if self.rng.random() < 0.05:
                q = sale.per_viewer_limit + 1
            key = self.new_key(v)
            self.requests.append(("wallet", sale.sale_id, v, key, q))
            taps.append((v, key, q))
        self.desc = f"batch {sale.sale_id} {taps}"
        await self.wallet_batch(sale, taps, single=False)

    async def op_mismatch(self) -> None:
        keyed = [
            (s, o)
            for s in self.model.sales.values()
            for o in s.orders.values()
            if o.id.startswith("o-")
        ]
        if not keyed:
            return
        s, order = self.rng.choice(keyed)
        sale = self.sales[s.announced.sale_id]
        other = [x for x in self.sales.values() if x.sale_id != sale.sale_id]
        choice = self.rng.random()
        if choice < 0.4 and sale.per_viewer_limit > 1:
            q = self.rng.choice(
                [n for n in range(1, sale.per_viewer_limit + 1) if n != order.quantity]
            )
            target = sale
        else:
            target, q = self.rng.choice(other), 1
        self.desc = f"reuse key {order.key} of {order.id} on {target.sale_id} x{q}"
        await self.wallet_batch(target, [(order.viewer_id, order.key, q)], single=False)

    def pick_request(self, method: str) -> tuple[str, str, str, str, int] | None:
        reqs = [r for r in self.requests if r[0] == method]
        return self.rng.choice(reqs) if reqs else None

    async def wallet_batch(
        self, sale: AnnouncedSale, taps: list[tuple[str, str, int]], single: bool
    ) -> None:
        def plan() -> tuple[Any, list[Any], list[int]]:
            now = self.clock.now_ms()
            trial = copy.deepcopy(self.model)
            expected, running = [], []
            for v, key, q in taps:
                expected.append(trial.wallet_tap(sale.sale_id, v, key, q, now))
                running.append(trial.balance(account("wallet", v)))
            return trial, expected, running

        async def decide() -> list[Any]:
            if single:
                v, key, q = taps[0]
                try:
                    return [await self.node.purchases.buy(sale, v, key, q)]
                except GalaError as refused:
                    return [refused]
            return list(
                await self.node.purchases.buy_batch(
                    sale, [wallet_tap(sale, v, k, q) for v, k, q in taps]
                )
            )

        # the process may die anywhere in the batch (on Redis, between the reserve script, the
        # ledger's legs and the pay script); after the restart's reconcile, the page's retry of
        # the same taps with the same keys gets what one undisturbed batch would have on the
        # books the restart left
        trial, expected, running = plan()
        if self.rng.random() < 0.15:
            self.node.fuse.arm(self.rng.randint(1, 6), self.rng.random() < 0.5)
        try:
            outcomes: list[Any] = await decide()
        except SimulatedCrash:
            await self.restart()
            trial, expected, running = plan()
            outcomes = await decide()
        finally:
            self.node.fuse.disarm()
        for i, (want, got) in enumerate(zip(expected, outcomes, strict=True)):
            if isinstance(want, str):
                assert code(got) == want, f"tap {i} {taps[i]}: store {got!r}, model {want}"
            else:
                assert isinstance(got, Bought), f"tap {i} {taps[i]}: store {got!r}, model {want}"
                assert got.order == want, f"tap {i}: order {got.order}, model {want}"
                final = trial.balance(account("wallet", taps[i][0]))
                assert got.balance_minor in (running[i], final), (
                    f"tap {i}: balance {got.balance_minor}, model {running[i]} (or {final})"
                )
        self.model = trial

    async def op_hold(self) -> None:
        req = self.pick_request("provider") if self.rng.random() < 0.3 else None
        if req is not None:
            _, sid, v, key, q = req
            sale = self.sales[sid]
        else:
            sale = self.rng.choice(list(self.sales.values()))
            v = self.rng.choice(self.viewers)
            key, q = self.new_key(v), self.rng.randint(1, sale.per_viewer_limit)
            self.requests.append(("provider", sale.sale_id, v, key, q))
        self.desc = f"hold {sale.sale_id} {v} {key} x{q}"
        trial = copy.deepcopy(self.model)
        want = trial.hold(sale.sale_id, v, key, q, self.clock.now_ms())
        try:
            got: Any = await self.node.payments.buy(sale, v, key, q)
        except GalaError as refused:
            got = refused
        if isinstance(want, str):
            assert code(got) == want, f"store {got!r}, model {want}"
        else:
            assert code(got) == "ok" and got.order == want, f"store {got!r}, model {want}"
            pid = "p-" + want.id.removeprefix("o-")
            assert got.payment == trial.payments.get(pid), f"payment {got.payment}"
        self.model = trial

    async def op_webhook(self) -> None:
        if not self.model.payments:
            return
        payment = self.model.payments[self.rng.choice(sorted(self.model.payments))]
        roll = self.rng.random()
        amount = payment.amount_minor + (1 if roll < 0.05 else 0)
        event_id = f"evt-{payment.payment_id}-succeeded"
        if roll > 0.85:
            event_id = f"evt-{payment.payment_id}-again{self.keys}"
            self.keys += 1
        event = webhooks.PaymentEvent(
            event_id, webhooks.PAYMENT_SUCCEEDED, payment.payment_id, amount, payment.currency
        )
        body = webhooks.event_body(event)
        signature = webhooks.sign(SECRET, self.clock.now_ms() // 1000, body)
        self.desc = f"webhook {event_id} amount {amount}"
        trial = copy.deepcopy(self.model)
        want = trial.webhook(event_id, payment.payment_id, amount)
        try:
            got: Any = await self.node.payments.receive_webhook(signature, body)
        except GalaError as refused:
            got = refused
        if want == "duplicate":
            assert isinstance(got, dict) and got["duplicate"], f"store {got!r}, model duplicate"
        elif isinstance(want, str):
            assert code(got) == want, f"store {got!r}, model {want}"
        else:
            assert isinstance(got, dict) and not got["duplicate"], f"store {got!r}"
            assert got["order"]["state"] == want.state, f"store {got!r}, model {want}"
        self.model = trial

    async def op_advance(self) -> None:
        ms = self.rng.choice([1_000, 5_000, 20_000, 45_000, 70_000])
        self.desc = f"advance {ms} ms"
        self.clock.advance(ms)

    async def op_sweep(self) -> None:
        reconcile = self.rng.random() < 0.5
        self.desc = f"purchase sweep reconcile={reconcile}"
        released = self.model.expire(self.clock.now_ms())
        done = await self.crashable(
            lambda: self.node.purchases.sweep(sorted(self.sales), reconcile=reconcile)
        )
        if self.node.fuse.calls and self.restarts == 0:
            assert done.holds_released == released, f"released {done}, model {released}"
        assert self.model.payments_sweep() == 0

    async def op_drop_sweep(self) -> None:
        self.desc = "drop sweep"
        self.model.drop_sweep(self.clock.now_ms())
        await self.crashable(lambda: self.node.drops.sweep(SHOW))

    async def op_deposit(self) -> None:
        funder = account("sponsor_budget", self.rng.choice(SPONSORS))
        amount = self.rng.randint(1, 2_000)
        self.desc = f"deposit {funder} {amount}"
        await self.deposit(funder, amount)

    async def op_launch(self) -> None:
        if len(self.drop_terms) >= 6:
            return
        r, now = self.rng, self.clock.now_ms()
        count, minimum = r.randint(2, 8), r.randint(1, 20)
        opens = now + r.choice([0, 0, 5_000])
        terms = rp.DropTerms(
            f"d{len(self.drop_terms)}",
            SHOW,
            account("sponsor_budget", r.choice(SPONSORS)),
            count * minimum + r.randint(0, 500),
            count,
            minimum,
            "CNY",
            opens,
            opens + r.randint(20_000, 200_000),
        )
        self.drop_terms[terms.drop_id] = terms
        self.desc = f"launch {terms}"
        want = self.model.launch(terms)
        try:
            got = await self.node.drops.launch(terms)
        except GalaError as refused:
            got = refused.code
        assert got == want, f"store {got}, model {want}"
        amounts = await self.store.drops.amounts(terms.drop_id)
        assert len(amounts) == terms.count and sum(amounts) == terms.budget_minor
        assert min(amounts) >= terms.min_minor
        self.model.drops[terms.drop_id].amounts = amounts

    async def op_grab(self) -> None:
        if not self.drop_terms:
            return
        terms = self.drop_terms[self.rng.choice(sorted(self.drop_terms))]
        viewers = [self.rng.choice(self.viewers) for _ in range(self.rng.randint(1, 4))]
        self.desc = f"grab {terms.drop_id} {viewers}"
        now = self.clock.now_ms()
        trial = copy.deepcopy(self.model)
        drop = trial.drops[terms.drop_id]
        expected: list[Any] = []
        for v in viewers:
            if v in drop.claims:
                expected.append(("already_grabbed", drop.claims[v].amount_minor))
            else:
                expected.append(trial.grab(terms.drop_id, v, now))
        if len(viewers) == 1:
            try:
                got: list[Any] = [await self.node.drops.grab(terms, viewers[0])]
            except GalaError as refused:
                got = [refused]
        else:
            got = list(await self.node.drops.grab_batch(terms, viewers))
        for want, outcome in zip(expected, got, strict=True):
            if isinstance(want, tuple):
                assert isinstance(outcome, rp.AlreadyGrabbed), f"store {outcome!r}, model {want}"
                assert outcome.amount_minor == want[1], f"store {outcome.amount_minor}, {want}"
            elif isinstance(want, str):
                assert code(outcome) == want, f"store {outcome!r}, model {want}"
            else:
                assert code(outcome) == "ok" and outcome.claim == want, f"{outcome!r} {want}"
                bal = trial.balance(account("wallet", want.viewer_id))
                assert outcome.balance_minor == bal, f"balance {outcome.balance_minor}, {bal}"
        self.model = trial

    async def op_close_sale(self) -> None:
        sale = self.rng.choice(list(self.sales.values()))
        self.desc = f"close {sale.sale_id}"
        closed = replace(sale, status=rules.CLOSED)
        self.sales[sale.sale_id] = closed
        self.model.sales[sale.sale_id].status = rules.CLOSED
        self.model.sales[sale.sale_id].announced = closed
        await self.crashable(lambda: self.node.purchases.sync_sale(closed))

    async def op_restart(self) -> None:
        self.desc = "restart"
        await self.restart()

    # -- the comparison

    async def compare(self) -> None:
        r, m = self.store, self.model
        for sid, s in m.sales.items():
            c = await r.sales.counts(sid)
            assert (c.status, c.left, c.held, c.sold) == (s.status, s.left, s.held, s.sold), (
                f"sale {sid}: store {c}, model {(s.status, s.left, s.held, s.sold)}"
            )
            orders = {o.id: o for o in await r.sales.orders(sid)}
            assert orders == s.orders, (
                f"sale {sid}: orders differ: store {orders}, model {s.orders}"
            )
            taken = {v: n for v, n in (await r.sales.taken(sid)).items() if n}
            assert taken == {v: n for v, n in s.taken.items() if n}, f"sale {sid}: taken {taken}"
        posted = {
            t.id: (t.source, t.destination, t.amount_minor) for t in await r.ledger.transfers()
        }
        assert posted == m.posted, (
            f"transfers: store-only {set(posted) - set(m.posted)}, "
            f"model-only {set(m.posted) - set(posted)}"
        )
        balances = {a: b for a, b in (await r.ledger.balances()).items() if b}
        assert balances == {a: b for a, b in m.balances.items() if b}, f"balances {balances}"
        payments = {p.payment_id: p for p in await r.payments.payments()}
        assert payments == m.payments, f"payments {payments}"
        for drop_id, d in m.drops.items():
            c2 = await r.drops.counts(drop_id)
            want = (d.status, d.terms.count - d.next_index, d.claimed)
            assert (c2.status, c2.left, c2.claimed_minor) == want, f"drop {drop_id}: {c2} {want}"
            claims = {c.viewer_id: c for c in await r.drops.claims(drop_id)}
            assert claims == d.claims, f"drop {drop_id}: claims {claims}, model {d.claims}"
        held = sum(b for a, b in balances.items() if kind_of(a) != "external")
        assert held == m.inflow, f"wallets+revenue+escrow+budgets {held}, money in {m.inflow}"
        problems, _ = await audit_store(r)
        assert problems == [], f"audit: {problems}"


OPS = [
    ("op_buy", 14),
    ("op_batch", 10),
    ("op_mismatch", 4),
    ("op_hold", 8),
    ("op_webhook", 9),
    ("op_advance", 8),
    ("op_sweep", 5),
    ("op_drop_sweep", 4),
    ("op_deposit", 2),
    ("op_launch", 3),
    ("op_grab", 10),
    ("op_close_sale", 1),
    ("op_restart", 1),
]


@pytest.mark.parametrize("seed", SEEDS)
async def test_the_store_agrees_with_the_money_model(
    store: StoreBundle, store_url: str, seed: int
) -> None:
    sim = Sim(store, store_url, seed)
    try:
        await sim.setup()
        names, weights = [n for n, _ in OPS], [w for _, w in OPS]
        for step in range(STEPS):
            sim.step = step
            name = sim.rng.choices(names, weights)[0]
            sim.desc = name
            await getattr(sim, name)()
            await sim.compare()
    except AssertionError as failed:
        raise AssertionError(f"{sim.where()}: {failed}") from failed
    finally:
        await sim.node.close()
        if sim.store is not store:
            await sim.store.close()
