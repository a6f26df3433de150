"""`gala audit` names each kind of damage planted in a real store (SQLite and Redis): a show with
two sales and a red-envelope drop runs in its own process, viewers buy from their wallets and
grab envelopes, the audit of what it left is clean; then, with the server stopped, each damage is
planted raw in the store (SQL on the SQLite file, commands on Redis), every other invariant kept
consistent where the damage allows it, so only the check that names it can catch it; the audit
(`audit_store`, then the `gala audit` CLI) names every one, with the ids involved, and says
nothing it cannot explain.

This file owns: the show it writes, one planter per backend behind `Planter` (the store layouts
it writes are the adapters': commerce/sqlite_store.py, commerce/sqlite_ledger.py,
redpackets/sqlite_store.py, commerce/redis_store.py, commerce/redis_ledger.py,
redpackets/redis_store.py), and the list of damages with the lines they must produce.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import redis.asyncio as aioredis

from commerce.redis_keys import account_keys, ledger_index_keys, sale_keys
from commerce.sale import Order
from gala.kernel import ledger as lg
from gala.money_audit import audit_store
from gala.stores.factory import StoreBundle, open_store
from redpackets.redis_keys import drop_keys
from redpackets.service import credit_transfer, fund_transfer
from tests.integration.test_commerce_audit import run_audit
from tests.support import (
    LOCALES,
    Viewer,
    add_producer,
    call_as_the_page,
    connect_viewer,
    gala_process,
    producer_client,
    viewer_tokens,
)

SHOW = "audit-damage"
PRICES = {"alpha": 12_990, "beta": 4_990}
STOCK = 100
LIMIT = 3
GRANT = 100_000  # each viewer's demo wallet
FUNDS = 1_000_000  # the show's demo budget, funding the drop
BUDGET = 2_000
ENVELOPES = 20  # more than the viewers, so unclaimed envelopes remain
VIEWERS = 10
# what each viewer buys, (product, quantity) per tap; viewer 6 buys nothing of alpha and
# viewer 9 nothing at all (it only grabs)
PLAN: dict[int, list[tuple[str, int]]] = {
    0: [("alpha", 1)],
    1: [("alpha", 1)],
    2: [("alpha", 2)],
    3: [("alpha", 2)],
    4: [("alpha", 1)],
    5: [("alpha", 1), ("beta", 1)],
    6: [("beta", 2)],
    7: [("beta", 1)],
    8: [("beta", 1)],
    9: [],
}
REVENUE = lg.account("revenue", "acme")
GHOST = lg.transfer_id("order", "o-ghost-audit-0001", "pay")


def show_file(tmp_path: Path) -> str:
    """Cue c1 opens alpha's sale, c2 beta's, c3 launches the drop (open at once, for 10 min)."""
    lines = [
        "[show]",
        f'id = "{SHOW}"',
        'title = "Audit damage"',
        'currency = "CNY"',
        f"locales = {list(LOCALES)!r}".replace("'", '"'),
        "",
        "[sponsors.acme]",
        'name = "Acme"',
        "",
    ]
    for product, price in PRICES.items():
        name = "{ " + ", ".join(f'{loc} = "{product} {loc}"' for loc in LOCALES) + " }"
        lines += [
            f"[products.{product}]",
            'sponsor = "acme"',
            f"price_minor = {price}",
            f"stock = {STOCK}",
            f"per_viewer_limit = {LIMIT}",
            f"name = {name}",
            "",
        ]
    actions = [
        '{ do = "sale.open", product = "alpha", duration_ms = 600000 }',
        '{ do = "sale.open", product = "beta", duration_ms = 600000 }',
        f'{{ do = "drop.launch", name = "rain", funder = "show", budget_minor = {BUDGET}, '
        f"envelopes = {ENVELOPES}, min_minor = 1, countdown_ms = 0, duration_ms = 600000 }}",
    ]
    for index, action in enumerate(actions, start=1):
        lines += ["[[cues]]", f'id = "c{index}"', f'label = "Cue {index}"', f"actions = [{action}]"]
        lines.append("")
    path = tmp_path / "audit-damage.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return str(path)


@dataclass
class Run:
    """What the show left: its sales by product, its drop, the viewers (by their place in
    PLAN) and their orders ({(viewer index, product): order id})."""

    sales: dict[str, str]
    drop_id: str
    viewers: list[str]
    orders: dict[tuple[int, str], str] = field(default_factory=dict)


async def events_of(viewer: Viewer, event_type: str, count: int) -> list[dict[str, Any]]:
    for _ in range(500):
        found = [e["data"] for e in viewer.events if e["type"] == event_type]
        if len(found) >= count:
            return found
        await asyncio.sleep(0.02)
    raise AssertionError(f"fewer than {count} {event_type} events")


async def run_show(store_url: str, tmp_path: Path) -> Run:
    """The show in its own process: GO every cue, viewers buy and grab, the sweeper runs."""
    show = show_file(tmp_path)
    add_producer(store_url, "audit-op", "audit-op-pass", tmp_path)
    with gala_process(store_url, show, tmp_path, GRANT, FUNDS) as (_proc, base):
        viewers = [
            await connect_viewer(base, token) for token in await viewer_tokens(base, VIEWERS)
        ]
        viewer_ids = []
        for viewer in viewers:
            joined = await viewer.call("join", {"show_id": SHOW})
            assert joined["ok"], joined
            viewer_ids.append(str(joined["data"]["viewer_id"]))
        async with producer_client(base, "audit-op", "audit-op-pass") as producer:
            for cue in ("c1", "c2", "c3"):
                ack = await producer.call(
                    "go", {"show_id": SHOW, "standby_cue_id": cue}, namespace="/producer"
                )
                assert ack["ok"], ack
        opened = await events_of(viewers[0], "sale.opened", 2)
        (drop,) = await events_of(viewers[0], "drop.announced", 1)
        run = Run({str(s["product_id"]): str(s["sale_id"]) for s in opened}, drop["drop_id"], [])
        run.viewers = viewer_ids
        for index, taps in PLAN.items():
            for product, quantity in taps:
                buy = {
                    "show_id": SHOW,
                    "product_id": product,
                    "quantity": quantity,
                    "key": f"tap-{index}-{product}",
                }
                ack = await call_as_the_page(viewers[index].client, "buy", buy)
                assert ack["ok"] and ack["data"]["order"]["state"] == "paid", ack
                run.orders[(index, product)] = str(ack["data"]["order"]["order_id"])
        for viewer in viewers:
            grab = {"show_id": SHOW, "drop_id": run.drop_id}
            ack = await call_as_the_page(viewer.client, "grab", grab)
            assert ack["ok"], ack
        await asyncio.sleep(1.5)  # the sweeper has run
        for viewer in viewers:
            await viewer.close()
    return run


class Planter(Protocol):
    """Raw writes to one backend's store, below every adapter's rules."""

    async def raise_stock(self, sale_id: str, by: int) -> None:
        """Raise the sale's stock and its units left together (sold + held + left == stock)."""

    async def put_order(self, sale_id: str, old: Order, new: Order) -> None:
        """Replace an order's record (the same id) with `new`."""

    async def set_taken(self, sale_id: str, viewer_id: str, units: int) -> None:
        """Set a viewer's per-viewer count in the sale."""

    async def delete_sale(self, sale_id: str) -> None:
        """Remove the sale from the sale store: its terms, counters, orders, counts."""

    async def replace_transfer(self, old: lg.Transfer | None, new: lg.Transfer | None) -> None:
        """Remove `old` from the ledger and record `new`, each with its balances moved, so
        the ledger still balances."""

    async def set_budget(self, drop_id: str, budget_minor: int) -> None:
        """Set the drop's budget in the drop store."""

    async def set_envelope(self, drop_id: str, index: int, amount_minor: int) -> None:
        """Set one envelope's amount."""

    async def close(self) -> None: ...


class SqlitePlanter:
    def __init__(self, path: str) -> None:
        self._conn = sqlite3.connect(path, isolation_level=None)

    def _run(self, *statements: tuple[str, tuple[object, ...]]) -> None:
        self._conn.execute("BEGIN IMMEDIATE")
        for sql, args in statements:
            self._conn.execute(sql, args)
        self._conn.execute("COMMIT")

    async def raise_stock(self, sale_id: str, by: int) -> None:
        self._run(
            (
                "UPDATE sales SET stock = stock + ?, left_units = left_units + ? WHERE sale_id = ?",
                (by, by, sale_id),
            )
        )

    async def put_order(self, sale_id: str, old: Order, new: Order) -> None:
        self._run(
            (
                "UPDATE sale_orders SET viewer_id = ?, idem_key = ?, quantity = ?, "
                "amount_minor = ?, state = ?, expires_at_ms = ? WHERE sale_id = ? AND order_id = ?",
                (
                    new.viewer_id,
                    new.key,
                    new.quantity,
                    new.amount_minor,
                    new.state,
                    new.expires_at_ms,
                    sale_id,
                    old.id,
                ),
            )
        )

    async def set_taken(self, sale_id: str, viewer_id: str, units: int) -> None:
        self._run(
            (
                "UPDATE sale_taken SET units = ? WHERE sale_id = ? AND viewer_id = ?",
                (units, sale_id, viewer_id),
            )
        )

    async def delete_sale(self, sale_id: str) -> None:
        self._run(
            *(
                (f"DELETE FROM {table} WHERE sale_id = ?", (sale_id,))  # noqa: S608 - fixed names
                for table in ("sale_orders", "sale_taken", "sales")
            )
        )

    async def replace_transfer(self, old: lg.Transfer | None, new: lg.Transfer | None) -> None:
        move = (
            "INSERT INTO ledger_balances VALUES (?, ?) ON CONFLICT (account) "
            "DO UPDATE SET balance_minor = balance_minor + excluded.balance_minor"
        )
        statements: list[tuple[str, tuple[object, ...]]] = []
        if old is not None:
            statements += [
                ("DELETE FROM ledger_transfers WHERE id = ?", (old.id,)),
                (move, (old.source, old.amount_minor)),
                (move, (old.destination, -old.amount_minor)),
            ]
        if new is not None:
            row = (new.id, new.source, new.destination, new.amount_minor, new.reason)
            statements += [
                ("INSERT INTO ledger_transfers VALUES (?, ?, ?, ?, ?)", row),
                (move, (new.source, -new.amount_minor)),
                (move, (new.destination, new.amount_minor)),
            ]
        self._run(*statements)

    async def set_budget(self, drop_id: str, budget_minor: int) -> None:
        self._run(("UPDATE drops SET budget_minor = ? WHERE drop_id = ?", (budget_minor, drop_id)))

    async def set_envelope(self, drop_id: str, index: int, amount_minor: int) -> None:
        self._run(
            (
                "UPDATE drop_envelopes SET amount_minor = ? WHERE drop_id = ? AND idx = ?",
                (amount_minor, drop_id, index),
            )
        )

    async def close(self) -> None:
        self._conn.close()


class RedisPlanter:
    def __init__(self, url: str, prefix: str = "gala") -> None:
        self._redis: Any = aioredis.Redis.from_url(url, decode_responses=True)
        self._prefix = prefix

    async def raise_stock(self, sale_id: str, by: int) -> None:
        key = sale_keys(sale_id, self._prefix).sale
        await self._redis.hincrby(key, "stock", by)
        await self._redis.hincrby(key, "left", by)

    async def put_order(self, sale_id: str, old: Order, new: Order) -> None:
        keys = sale_keys(sale_id, self._prefix)
        await self._redis.hset(keys.orders, new.id, json.dumps(asdict(new)))
        if (old.viewer_id, old.key) != (new.viewer_id, new.key):
            await self._redis.hdel(keys.keys, f"{old.viewer_id}|{old.key}")
            await self._redis.hset(keys.keys, f"{new.viewer_id}|{new.key}", new.id)
        if old.viewer_id != new.viewer_id:
            mine = (await self._redis.hget(keys.by_viewer, old.viewer_id) or "").split(",")
            rest = [order_id for order_id in mine if order_id and order_id != old.id]
            if rest:
                await self._redis.hset(keys.by_viewer, old.viewer_id, ",".join(rest))
            else:
                await self._redis.hdel(keys.by_viewer, old.viewer_id)
            theirs = await self._redis.hget(keys.by_viewer, new.viewer_id)
            joined = f"{theirs},{new.id}" if theirs else new.id
            await self._redis.hset(keys.by_viewer, new.viewer_id, joined)

    async def set_taken(self, sale_id: str, viewer_id: str, units: int) -> None:
        await self._redis.hset(sale_keys(sale_id, self._prefix).taken, viewer_id, units)

    async def delete_sale(self, sale_id: str) -> None:
        keys = sale_keys(sale_id, self._prefix)
        await self._redis.delete(*asdict(keys).values())
        await self._redis.srem(f"{self._prefix}:sales", sale_id)

    async def replace_transfer(self, old: lg.Transfer | None, new: lg.Transfer | None) -> None:
        _intents, done, accounts = ledger_index_keys(self._prefix)
        if old is not None:
            await self._redis.hdel(done, old.id)
            for name, delta in (
                (old.source, old.amount_minor),
                (old.destination, -old.amount_minor),
            ):
                keys = account_keys(name, self._prefix)
                await self._redis.incrby(keys.balance, delta)
                await self._redis.srem(keys.applied, old.id)
        if new is not None:
            await self._redis.hset(done, new.id, json.dumps(asdict(new), sort_keys=True))
            for name, delta in (
                (new.source, -new.amount_minor),
                (new.destination, new.amount_minor),
            ):
                keys = account_keys(name, self._prefix)
                await self._redis.incrby(keys.balance, delta)
                await self._redis.sadd(keys.applied, new.id)
                await self._redis.sadd(accounts, name)

    async def set_budget(self, drop_id: str, budget_minor: int) -> None:
        await self._redis.hset(drop_keys(drop_id, self._prefix).drop, "budget", budget_minor)

    async def set_envelope(self, drop_id: str, index: int, amount_minor: int) -> None:
        await self._redis.lset(drop_keys(drop_id, self._prefix).envelopes, index, amount_minor)

    async def close(self) -> None:
        await self._redis.aclose()


def planter_for(store_url: str) -> Planter:
    if store_url.startswith("sqlite:///"):
        return SqlitePlanter(store_url.removeprefix("sqlite:///"))
    return RedisPlanter(store_url)


@dataclass
class Damage:
    """One kind of damage: how to plant it, the lines the audit must name it with, and the
    prefixes of lines that follow from it and that no plant can keep consistent."""

    name: str
    plant: Callable[[Planter], Awaitable[None]]
    names: list[str]
    follows: list[str] = field(default_factory=list)


async def order_of(store: StoreBundle, sale_id: str, order_id: str) -> Order:
    order = await store.sales.order(sale_id, order_id)
    assert order is not None and order.state == "paid", order
    return order


async def pay_of(store: StoreBundle, order_id: str) -> lg.Transfer:
    transfer = await store.ledger.transfer(lg.transfer_id("order", order_id, "pay"))
    assert transfer is not None, order_id
    return transfer


async def damages(store: StoreBundle, run: Run) -> list[Damage]:
    """Every damage, built from what the clean store holds (read before any is planted)."""
    alpha, beta, drop_id, v = run.sales["alpha"], run.sales["beta"], run.drop_id, run.viewers
    found: list[Damage] = []

    async def raise_stock(p: Planter) -> None:
        await p.raise_stock(alpha, 5)

    found.append(
        Damage(
            "stock raised with units left",
            raise_stock,
            [f"sale {alpha}: stock is {STOCK + 5}, the show log announced {STOCK}"],
        )
    )

    moved = await order_of(store, alpha, run.orders[(1, "alpha")])
    assert not await store.sales.orders_of(alpha, v[6]), "viewer 6 has no order of alpha"

    async def move_order(p: Planter) -> None:
        await p.put_order(alpha, moved, replace(moved, viewer_id=v[6]))

    found.append(
        Damage(
            "a paid order moved to another viewer",
            move_order,
            [
                f"sale {alpha}, order {moved.id}: charged to wallet:{v[1]}, but the order is "
                f"{v[6]}'s",
                f"sale {alpha}: per-viewer count of {v[1]} is 1, its orders hold 0",
                f"sale {alpha}: per-viewer count of {v[6]} is 0, its orders hold 1",
            ],
        )
    )

    assert (await store.sales.taken(alpha))[v[2]] == 2

    async def reset_count(p: Planter) -> None:
        await p.set_taken(alpha, v[2], 0)

    found.append(
        Damage(
            "a per-viewer count reset",
            reset_count,
            [f"sale {alpha}: per-viewer count of {v[2]} is 0, its orders hold 2"],
        )
    )

    cheap = await order_of(store, alpha, run.orders[(3, "alpha")])
    cheap_pay = await pay_of(store, cheap.id)
    price = PRICES["alpha"]
    assert cheap.quantity == 2 and cheap.amount_minor == cheap_pay.amount_minor == 2 * price

    async def undercharge(p: Planter) -> None:
        await p.put_order(alpha, cheap, replace(cheap, amount_minor=20_000))
        await p.replace_transfer(cheap_pay, replace(cheap_pay, amount_minor=20_000))

    found.append(
        Damage(
            "an undercharge made consistent",
            undercharge,
            [f"sale {alpha}, order {cheap.id}: amount 20000, but 2 at {price} is {2 * price}"],
        )
    )

    ghost = lg.Transfer(GHOST, lg.account("wallet", v[7]), REVENUE, 500, "order")
    assert await store.ledger.transfer(GHOST) is None

    async def ghost_transfer(p: Planter) -> None:
        await p.replace_transfer(None, ghost)

    found.append(
        Damage(
            "a transfer without its order",
            ghost_transfer,
            [f"ledger: transfer {GHOST} belongs to no order"],
        )
    )

    free = await order_of(store, alpha, run.orders[(4, "alpha")])
    free_pay = await pay_of(store, free.id)

    async def unrecord(p: Planter) -> None:
        await p.replace_transfer(free_pay, None)

    found.append(
        Damage(
            "an order without its transfer",
            unrecord,
            [f"sale {alpha}, order {free.id}: paid but never charged"],
        )
    )

    claim = await store.drops.claim_of(drop_id, v[8])
    assert claim is not None
    credit = await store.ledger.transfer(credit_transfer(claim).id)
    assert credit == credit_transfer(claim)

    async def misdirect(p: Planter) -> None:
        await p.replace_transfer(credit, replace(credit, destination=lg.account("wallet", v[9])))

    found.append(
        Damage(
            "a claim credited to another wallet",
            misdirect,
            [
                f"drop {drop_id}: claim of {v[8]} ({claim.amount_minor}) credited "
                f"{claim.amount_minor} to wallet:{v[9]}"
            ],
            # the escrow really paid it out, to the wrong wallet: it holds less than
            # funded - credited (what was credited to the claims' own wallets)
            [f"drop {drop_id}: escrow holds "],
        )
    )

    lost_orders = [o.id for o in await store.sales.orders(beta)]
    assert len(lost_orders) == 4

    async def lose_sale(p: Planter) -> None:
        await p.delete_sale(beta)

    found.append(
        Damage(
            "an announced sale missing from the sale store",
            lose_sale,
            [f"sale {beta}: announced on the show log but missing from the sale store"],
            # its orders went with it: their charges belong to no order now
            [f"ledger: transfer order/{o}/pay belongs to no order" for o in lost_orders],
        )
    )

    terms = await store.drops.terms(drop_id)
    counts = await store.drops.counts(drop_id)
    amounts = await store.drops.amounts(drop_id)
    fund = await store.ledger.transfer(fund_transfer(terms).id)
    assert (counts.status, counts.count - counts.left) == ("live", VIEWERS)
    assert fund == fund_transfer(terms) and terms.budget_minor == BUDGET
    last = ENVELOPES - 1  # never grabbed: no claim holds it

    async def rebudget(p: Planter) -> None:
        await p.set_budget(drop_id, BUDGET + 7)
        await p.set_envelope(drop_id, last, amounts[last] + 7)
        await p.replace_transfer(fund, replace(fund, amount_minor=BUDGET + 7))

    found.append(
        Damage(
            "a drop's budget changed with one envelope (and its funding)",
            rebudget,
            [f"drop {drop_id}: budget_minor is {BUDGET + 7}, the show log announced {BUDGET}"],
        )
    )
    return found


async def test_the_audit_names_every_damage_planted_in_the_store(
    store_url: str, tmp_path: Path
) -> None:
    run = await run_show(store_url, tmp_path)
    store = await open_store(store_url)
    try:
        problems, summary = await audit_store(store)
        assert problems == [], problems
        assert "2 sales, 10 orders" in summary and "1 drops, 10 claims" in summary, summary
        planned = await damages(store, run)
    finally:
        await store.close()

    planter = planter_for(store_url)
    try:
        for damage in planned:
            await damage.plant(planter)
    finally:
        await planter.close()

    store = await open_store(store_url)
    try:
        problems, _summary = await audit_store(store)
    finally:
        await store.close()
    for damage in planned:
        for line in damage.names:
            assert any(p.startswith(line) for p in problems), (
                f"the audit does not name {damage.name}: {line!r} not in {problems}"
            )
    explained = [
        line
        for line in problems
        if any(line.startswith(prefix) for d in planned for prefix in (*d.names, *d.follows))
    ]
    assert explained == problems, f"unexplained: {sorted(set(problems) - set(explained))}"

    done = run_audit(store_url)
    assert done.returncode == 1, done.stdout + done.stderr
    printed = done.stdout.splitlines()
    for damage in planned:
        for line in damage.names:
            assert any(p.startswith(f"DIFFERENCE {line}") for p in printed), (
                f"the CLI does not print {damage.name}"
            )
    assert printed[-1].startswith("audit failed:"), printed[-1]
    assert printed[-1].endswith(f", {len(problems)} differences"), printed[-1]
