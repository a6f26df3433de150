"""Purchase use cases: a viewer's tap on Buy, paid from the wallet in the same tap, or held for the
payment provider (`hold`; `payments.py` asks for and confirms the payment); the wallet; the
sweeper step. Load, decide (the rules run inside the stores, atomically), save, answer.

Wallet taps of one sale are decided in batches (`buy_batch`, through the `PurchaseBatches` port;
the realtime edge gathers them, `gala/realtime/tap_pipeline.py`); `buy` is a batch of one. A
tap is a saga of idempotent steps keyed by the order id, which is derived from the viewer and
the page's idempotency key, so a retry replays the same steps:

1. reserve the units in the sale's slot (or get the order this key already made);
2. move the price from the viewer's wallet to the sponsor's revenue (`order/ID/pay`);
3. mark the order paid. If its hold expired in between, the payment is refunded
   (`order/ID/refund`).

On SQLite the three are one transaction; on Redis each is one step for the whole batch. A tap
without the money is refused before anything is written, after the sale's own rules (window,
sold out, stock, limit). If the wallet is spent elsewhere between that check and step 2 (Redis:
the balance is read before the batch), the tap is refused with `insufficient_funds` and its units
stay held until the hold expires (the sweeper then returns them): rare, and never a loss.
What this node already knows refuses a tap without the store (`refuse_from_memory`).

A tap arrives parsed (the socket edge checked its key's format and its types); the sale's rules
(quantity, window, stock, limit, key) are decided by `sale.py` alone, here and inside the stores.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gala.kernel.clock import Clock
from gala.kernel.errors import GalaError
from gala.kernel.ledger import Transfer, account, transfer_id

from . import sale as rules
from .ports import Bought, LedgerStore, PurchaseBatches, SaleCounts, SaleStore, WalletTap
from .show_sales import AnnouncedSale

WALLET, PROVIDER = "wallet", "provider"
REFUNDED = "refunded"
# An idempotency key made by the page for each tap; the edge refuses another with `bad_key`.
KEY_REGEX = r"^[A-Za-z0-9_-]{8,64}$"
DEMO_GRANT = account("external", "demo-grant")


# A wallet tap's outcome: its order and the viewer's balance after it.
Purchase = Bought


@dataclass(frozen=True, slots=True)
class PurchaseSweep:
    """What one sweep of a show's sales finished or undid."""

    transfers_finished: int = 0  # ledger transfers a crash interrupted
    holds_released: int = 0  # orders whose hold expired unpaid
    orders_completed: int = 0  # held orders already charged, marked paid
    orders_refunded: int = 0  # released orders that had been charged

    @property
    def settled(self) -> int:
        """Orders completed or refunded."""
        return self.orders_completed + self.orders_refunded

    def counts(self) -> dict[str, int]:
        return {
            "transfers_finished": self.transfers_finished,
            "holds_released": self.holds_released,
            "orders_completed": self.orders_completed,
            "orders_refunded": self.orders_refunded,
        }


def order_id_for(sale_id: str, viewer_id: str, key: str, method: str = WALLET) -> str:
    """The order a tap makes. The payment method is part of it, so one key cannot name a wallet
    order and a provider order (the store finds the key's first order; its id tells them apart)."""
    seed = f"{sale_id}\n{viewer_id}\n{key}" + ("" if method == WALLET else f"\n{method}")
    return f"o-{hashlib.sha256(seed.encode()).hexdigest()[:24]}"


def key_request(sale_id: str, quantity: int, method: str = WALLET) -> str:
    """What one idempotency key of a viewer names: one request, a quantity of one sale's product
    paid one way. The store binds a key to the first request it decides with it, across every
    sale; the same key with another request is refused with `idempotency_mismatch`."""
    return f"{sale_id}/{quantity}/{method}"


def key_mismatch() -> rules.KeyReused:
    return rules.KeyReused(
        "this idempotency key was used for another request (another product, quantity or "
        "payment method): a key names one request"
    )


def pay_transfer(order: rules.Order, revenue: str) -> Transfer:
    """`order/ID/pay`: the order's price, from its viewer's wallet to the sale's revenue."""
    return Transfer(
        transfer_id("order", order.id, "pay"),
        account("wallet", order.viewer_id),
        revenue,
        order.amount_minor,
        "order",
    )


def refund_transfer(order: rules.Order, revenue: str) -> Transfer:
    """`order/ID/refund`: the charge of an order that can no longer be paid, given back."""
    return Transfer(
        transfer_id("order", order.id, "refund"),
        revenue,
        account("wallet", order.viewer_id),
        order.amount_minor,
        "refund",
    )


class PurchaseService:
    def __init__(
        self, sales: SaleStore, ledger: LedgerStore, batches: PurchaseBatches, clock: Clock
    ) -> None:
        self._sales = sales
        self._ledger = ledger
        self._batches = batches
        self._clock = clock
        self._statuses: dict[str, str] = {}
        # Per sale sold out or closed: every (viewer, key) that has an order, read once from the
        # store (at most one order per unit sold, so bounded by the stock). While a sale is in
        # here, a tap whose key is not is refused from memory.
        self._settled: dict[str, dict[tuple[str, str], str]] = {}
        # Per sale: (viewer, key) the store refused for the viewer's limit, until a hold returns.
        self._over_limit: dict[str, set[tuple[str, str]]] = {}
        self._held_seen: dict[str, int] = {}

    async def sync_sale(self, sale: AnnouncedSale) -> None:
        """Make the sale store agree with the show log about this sale (idempotent; cached)."""
        if self._statuses.get(sale.sale_id) == sale.status:
            return
        await self._sales.create_sale(sale.terms)
        await self._sales.set_sale_status(sale.sale_id, sale.status)
        self._statuses[sale.sale_id] = sale.status

    def refuse_from_memory(
        self, sale: AnnouncedSale, viewer_id: str, key: str, quantity: int
    ) -> None:
        """Raise the refusal this node can give without asking the store, as the store would
        give it: a quantity out of range, a sale that has not opened (no order can exist yet),
        a sold-out or closed sale for a key without an order, a key already refused for the
        viewer's limit. Anything else returns: the tap goes to the store."""
        terms = sale.terms
        rules.check_quantity(terms, quantity)
        now_ms = self._clock.now_ms()
        if sale.status == rules.SCHEDULED or (
            sale.status == rules.OPEN and now_ms < terms.opens_at_ms
        ):
            raise rules.SaleNotOpen("this sale has not opened yet")
        settled = self._settled.get(sale.sale_id)
        if settled is not None and (viewer_id, key) not in settled:
            rules.check_window(terms, sale.status, now_ms)
            raise rules.SoldOut("sold out")
        if (viewer_id, key) in self._over_limit.get(sale.sale_id, ()):
            raise rules.LimitReached(f"the limit is {terms.per_viewer_limit} per viewer")

    async def buy(self, sale: AnnouncedSale, viewer_id: str, key: str, quantity: int) -> Purchase:
        """A tap paid from the wallet, in the same tap (a batch of one)."""
        self.refuse_from_memory(sale, viewer_id, key, quantity)
        (outcome,) = await self.buy_batch(sale, [wallet_tap(sale, viewer_id, key, quantity)])
        if isinstance(outcome, GalaError):
            raise outcome
        return outcome

    async def buy_batch(
        self, sale: AnnouncedSale, taps: Sequence[WalletTap]
    ) -> list[Purchase | GalaError]:
        """Wallet taps on one sale decided together in one store step
        (`PurchaseBatches.buy_batch`); one outcome per tap, in order."""
        await self.sync_sale(sale)
        outcomes = await self._batches.buy_batch(
            sale.sale_id, account("revenue", sale.sponsor_id), taps, self._clock.now_ms()
        )
        settle = False
        for tap, outcome in zip(taps, outcomes, strict=True):
            if isinstance(outcome, rules.LimitReached):
                self._over_limit.setdefault(sale.sale_id, set()).add((tap.viewer_id, tap.key))
            settle = settle or isinstance(outcome, rules.SoldOut | rules.SaleClosed)
        if settle:
            await self._remember_settled(sale.sale_id)
        return outcomes

    async def hold(
        self, sale: AnnouncedSale, viewer_id: str, key: str, quantity: int
    ) -> rules.Order:
        """A tap to be paid through the payment provider: the units are held for the sale's
        `hold_ms`, whatever the wallet holds. A retry with the key returns the same order."""
        self.refuse_from_memory(sale, viewer_id, key, quantity)
        await self.sync_sale(sale)
        request = key_request(sale.sale_id, quantity, PROVIDER)
        if await self._sales.bind_key(viewer_id, key, request) != request:
            raise key_mismatch()
        order_id = order_id_for(sale.sale_id, viewer_id, key, PROVIDER)
        try:
            order = await self._sales.reserve(
                sale.sale_id, order_id, viewer_id, key, quantity, self._clock.now_ms()
            )
        except rules.SoldOut:
            await self._remember_settled(sale.sale_id)
            raise
        if order.id != order_id:
            # the payment method is part of the order id: this key made an order paid the other way
            raise rules.KeyReused("this idempotency key was used with another payment method")
        return order

    async def _remember_settled(self, sale_id: str) -> None:
        """Read once which keys have orders in a sale that is sold out or closed, so later taps
        of other keys are refused from memory."""
        if sale_id in self._settled:
            return
        counts = await self._sales.counts(sale_id)
        if counts.left == 0 or counts.status == rules.CLOSED:
            orders = await self._sales.orders(sale_id)
            self._settled[sale_id] = {(o.viewer_id, o.key): o.id for o in orders}

    async def pay_order(self, sale_id: str, sponsor_id: str, order: rules.Order) -> rules.Order:
        """Pay a held order from its viewer's wallet (`order/ID/pay`), then mark it paid; if its
        hold expired in between, refund the charge (`order/ID/refund`) and raise `HoldExpired`.
        Each step is idempotent, so a retry or the sweeper may run it again."""
        revenue = account("revenue", sponsor_id)
        await self._ledger.post(pay_transfer(order, revenue))
        try:
            return await self._sales.pay(sale_id, order.id)
        except rules.HoldExpired:
            await self._ledger.post(refund_transfer(order, revenue))
            raise

    async def counts(self, sale_id: str) -> SaleCounts:
        """The sale's counters; stock that came back (an expired hold) puts the sale back in
        the store's hands on this node: it may sell again, and a viewer's limit may allow more."""
        counts = await self._sales.counts(sale_id)
        if counts.left > 0 and counts.status != rules.CLOSED:
            self._settled.pop(sale_id, None)
        if counts.held < self._held_seen.get(sale_id, 0):
            self._over_limit.pop(sale_id, None)
        self._held_seen[sale_id] = counts.held
        if counts.left == 0 or counts.status == rules.CLOSED:
            await self._remember_settled(sale_id)
        return counts

    async def sale_orders(self, sale_id: str) -> tuple[rules.SaleTerms, list[rules.Order]]:
        """A sale's terms and every order of it, in order id order (`unknown_sale` if none)."""
        return await self._sales.sale_terms(sale_id), await self._sales.orders(sale_id)

    async def wallet(self, viewer_id: str, sales: Mapping[str, str]) -> dict[str, Any]:
        """The viewer's balance and its orders in these sales (sale id -> its product id),
        each order with its product."""
        orders = []
        for sale_id, product_id in sales.items():
            orders += [
                {**order_wire(o), "product_id": product_id}
                for o in await self._sales.orders_of(sale_id, viewer_id)
            ]
        return {
            "balance_minor": await self._ledger.balance(account("wallet", viewer_id)),
            "orders": orders,
        }

    async def grant_demo_balance(self, viewer_id: str, amount_minor: int) -> None:
        """Demo mode only: a starting balance, once per viewer."""
        if amount_minor > 0:
            await self._ledger.post(
                Transfer(
                    transfer_id("grant", viewer_id, "demo"),
                    DEMO_GRANT,
                    account("wallet", viewer_id),
                    amount_minor,
                    "demo grant",
                )
            )

    async def sweep(self, sale_ids: list[str], reconcile: bool = False) -> PurchaseSweep:
        """Finish what a crash left half done, idempotently; returns what it finished.

        Always: finish interrupted transfers; complete each order whose hold ran out and that was
        already charged (a crash between its charge and its being marked paid: the viewer paid,
        so the order stands); release the other holds that ran out; refund a released order
        that was charged (a charge that landed after its hold ran out). With `reconcile` (at
        start, before the node serves a tap, and once a minute), every order is checked: a held
        order that was already charged is completed, a released one that was charged is
        refunded."""
        finished = await self._ledger.finish_pending()
        released_total = completed = refunded = 0
        for sale_id in sale_ids:
            now_ms = self._clock.now_ms()
            if reconcile:
                candidates = await self._sales.orders(sale_id)
            else:
                candidates = await self._sales.due_holds(sale_id, now_ms)
            # charged orders are completed before the holds that ran out are released
            completed_here, refunded_here = await self._settle_all(sale_id, candidates)
            released: list[rules.Order] = []
            if any(o.state == rules.HELD and o.expires_at_ms <= now_ms for o in candidates):
                released = await self._sales.expire(sale_id, now_ms)
            if released:
                self._settled.pop(sale_id, None)
                self._over_limit.pop(sale_id, None)
                released_total += len(released)
            raced_completed, raced_refunded = await self._settle_all(sale_id, released)
            completed += completed_here + raced_completed
            refunded += refunded_here + raced_refunded
        return PurchaseSweep(finished, released_total, completed, refunded)

    async def _settle_all(self, sale_id: str, orders: list[rules.Order]) -> tuple[int, int]:
        """(completed, refunded) of `_settle` over these orders."""
        outcomes = [await self._settle(sale_id, order) for order in orders]
        return outcomes.count(rules.PAID), outcomes.count(REFUNDED)

    async def _settle(self, sale_id: str, order: rules.Order) -> str | None:
        """`PAID` when a charged held order is marked paid, `REFUNDED` when a charged order
        that can no longer be paid is refunded, else None (nothing to do)."""
        if order.state == rules.PAID:
            return None  # nothing to do, and most orders are paid: no ledger read for them
        paid = await self._ledger.transfer(transfer_id("order", order.id, "pay"))
        if paid is None:
            return None
        if order.state == rules.HELD:
            try:
                await self._sales.pay(sale_id, order.id)
                return rules.PAID
            except rules.HoldExpired:
                pass
        refund = Transfer(
            transfer_id("order", order.id, "refund"),
            paid.destination,
            paid.source,
            paid.amount_minor,
            "refund",
        )
        if await self._ledger.transfer(refund.id) is not None:
            return None
        await self._ledger.post(refund)
        return REFUNDED


def wallet_tap(sale: AnnouncedSale, viewer_id: str, key: str, quantity: int) -> WalletTap:
    return WalletTap(order_id_for(sale.sale_id, viewer_id, key), viewer_id, key, quantity)


def order_wire(order: rules.Order) -> dict[str, Any]:
    return {
        "order_id": order.id,
        "quantity": order.quantity,
        "amount_minor": order.amount_minor,
        "state": order.state,
        "expires_at_ms": order.expires_at_ms,
    }
