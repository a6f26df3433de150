"""Purchase use cases: a viewer's tap on Buy, paid from the wallet in the same tap, or held for the
payment provider (`hold`; `payments.py` asks for and confirms the payment); the wallet; the
sweeper step. Load, decide (the rules run inside the stores, atomically), save, answer.

A tap is a saga of idempotent steps keyed by the order id, which is derived from the viewer and
the page's idempotency key, so a retry replays the same steps:

1. reserve the units in the sale's slot (or get the order this key already made);
2. move the price from the viewer's wallet to the sponsor's revenue (`order/ID/pay`);
3. mark the order paid. If its hold expired in between, the payment is refunded
   (`order/ID/refund`).

A tap without the money is refused before any stock is touched (a tap outside the sale's window
gets the window's refusal, whatever the wallet holds). If the wallet is spent elsewhere between
that check and step 2, the tap is refused with `insufficient_funds` and its units stay held until
the hold expires (the sweeper then returns them): rare, and never a loss.

A tap arrives parsed (the socket edge checked its key's format and its types); the sale's rules
(quantity, window, stock, limit, key) are decided by `sale.py` alone, here and inside the stores.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from gala.kernel.clock import Clock
from gala.kernel.ledger import InsufficientFunds, Transfer, account, transfer_id

from . import sale as rules
from .ports import LedgerStore, SaleCounts, SaleStore
from .show_sales import AnnouncedSale

WALLET, PROVIDER = "wallet", "provider"
REFUNDED = "refunded"
# An idempotency key made by the page for each tap; the edge refuses another with `bad_key`.
KEY_REGEX = r"^[A-Za-z0-9_-]{8,64}$"
DEMO_GRANT = account("external", "demo-grant")


@dataclass(frozen=True, slots=True)
class Purchase:
    order: rules.Order
    balance_minor: int


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


class PurchaseService:
    def __init__(self, sales: SaleStore, ledger: LedgerStore, clock: Clock) -> None:
        self._sales = sales
        self._ledger = ledger
        self._clock = clock
        self._statuses: dict[str, str] = {}
        self._sold_out: set[str] = set()

    async def sync_sale(self, sale: AnnouncedSale) -> None:
        """Make the sale store agree with the show log about this sale (idempotent; cached)."""
        if self._statuses.get(sale.sale_id) == sale.status:
            return
        await self._sales.create_sale(sale.terms)
        await self._sales.set_sale_status(sale.sale_id, sale.status)
        self._statuses[sale.sale_id] = sale.status

    async def buy(self, sale: AnnouncedSale, viewer_id: str, key: str, quantity: int) -> Purchase:
        """A tap paid from the wallet, in the same tap."""
        order_id, now_ms, on_sale = await self._check_tap(sale, viewer_id, key, quantity)
        if on_sale:
            await self._refuse_if_sold_out(sale.sale_id, order_id)
        wallet = account("wallet", viewer_id)
        if (
            on_sale
            and rules.amount_minor(sale.terms, quantity) > await self._ledger.balance(wallet)
            and await self._sales.order(sale.sale_id, order_id) is None
        ):
            provider_id = order_id_for(sale.sale_id, viewer_id, key, PROVIDER)
            if await self._sales.order(sale.sale_id, provider_id) is not None:
                raise rules.KeyReused("this idempotency key was used with another payment method")
            raise InsufficientFunds("your wallet does not hold enough for this order")
        order = await self._reserve(sale, order_id, viewer_id, key, quantity, now_ms)
        if order.state == rules.HELD:
            order = await self.pay_order(sale.sale_id, sale.sponsor_id, order)
        return Purchase(order, await self._ledger.balance(wallet))

    async def hold(
        self, sale: AnnouncedSale, viewer_id: str, key: str, quantity: int
    ) -> rules.Order:
        """A tap to be paid through the payment provider: the units are held for the sale's
        `hold_ms`, whatever the wallet holds. A retry with the key returns the same order."""
        order_id, now_ms, on_sale = await self._check_tap(
            sale, viewer_id, key, quantity, method=PROVIDER
        )
        if on_sale:
            await self._refuse_if_sold_out(sale.sale_id, order_id)
        return await self._reserve(sale, order_id, viewer_id, key, quantity, now_ms)

    async def _check_tap(
        self,
        sale: AnnouncedSale,
        viewer_id: str,
        key: str,
        quantity: int,
        method: str = WALLET,
    ) -> tuple[str, int, bool]:
        """(The tap's order id, the server's now, whether the sale takes taps now); a quantity
        the sale refuses is refused before the wallet is looked at."""
        await self.sync_sale(sale)
        rules.check_quantity(sale.terms, quantity)
        now_ms = self._clock.now_ms()
        on_sale = rules.on_sale(sale.terms, sale.status, now_ms)
        return order_id_for(sale.sale_id, viewer_id, key, method), now_ms, on_sale

    async def _reserve(
        self,
        sale: AnnouncedSale,
        order_id: str,
        viewer_id: str,
        key: str,
        quantity: int,
        now_ms: int,
    ) -> rules.Order:
        try:
            order = await self._sales.reserve(
                sale.sale_id, order_id, viewer_id, key, quantity, now_ms
            )
        except rules.SoldOut:
            self._sold_out.add(sale.sale_id)
            raise
        if order.id != order_id:
            # the payment method is part of the order id: this key made an order paid the other way
            raise rules.KeyReused("this idempotency key was used with another payment method")
        return order

    async def _refuse_if_sold_out(self, sale_id: str, order_id: str) -> None:
        """A sale this node has seen sold out is answered here, without asking the sale's slot
        to reserve; only a retry of a key that already has an order goes on (to get it back).
        The figures (every 0.5 s on every node) and the sweeper clear it when stock comes back,
        so a unit returned by an expired hold is on sale again within half a second."""
        if sale_id in self._sold_out and await self._sales.order(sale_id, order_id) is None:
            raise rules.SoldOut("sold out")

    async def pay_order(self, sale_id: str, sponsor_id: str, order: rules.Order) -> rules.Order:
        """Pay a held order from its viewer's wallet (`order/ID/pay`), then mark it paid; if its
        hold expired in between, refund the charge (`order/ID/refund`) and raise `HoldExpired`.
        Each step is idempotent, so a retry or the sweeper may run it again."""
        wallet = account("wallet", order.viewer_id)
        revenue = account("revenue", sponsor_id)
        await self._ledger.post(
            Transfer(
                transfer_id("order", order.id, "pay"), wallet, revenue, order.amount_minor, "order"
            )
        )
        try:
            return await self._sales.pay(sale_id, order.id)
        except rules.HoldExpired:
            await self._ledger.post(
                Transfer(
                    transfer_id("order", order.id, "refund"),
                    revenue,
                    wallet,
                    order.amount_minor,
                    "refund",
                )
            )
            raise

    async def counts(self, sale_id: str) -> SaleCounts:
        """The sale's counters; they also tell this node whether the sale is sold out."""
        counts = await self._sales.counts(sale_id)
        if counts.left == 0:
            self._sold_out.add(sale_id)
        else:
            self._sold_out.discard(sale_id)
        return counts

    async def sale_orders(self, sale_id: str) -> tuple[rules.SaleTerms, list[rules.Order]]:
        """A sale's terms and every order of it, in order id order (`unknown_sale` if none)."""
        return await self._sales.sale_terms(sale_id), await self._sales.orders(sale_id)

    async def wallet(self, viewer_id: str, sale_ids: list[str]) -> dict[str, Any]:
        orders = []
        for sale_id in sale_ids:
            orders += [o for o in await self._sales.orders(sale_id) if o.viewer_id == viewer_id]
        return {
            "balance_minor": await self._ledger.balance(account("wallet", viewer_id)),
            "orders": [order_wire(o) for o in orders],
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

        Always: finish interrupted transfers, release expired holds, refund a released order
        that was charged. With `reconcile` (at start and once a minute), every order is checked:
        a held order that was already charged is completed (marked paid), a released one that
        was charged is refunded."""
        finished = await self._ledger.finish_pending()
        released_total = completed = refunded = 0
        for sale_id in sale_ids:
            released = await self._sales.expire(sale_id, self._clock.now_ms())
            if released:
                self._sold_out.discard(sale_id)
                released_total += len(released)
            orders = await self._sales.orders(sale_id) if reconcile else released
            for order in orders:
                outcome = await self._settle(sale_id, order)
                if outcome == rules.PAID:
                    completed += 1
                elif outcome == REFUNDED:
                    refunded += 1
        return PurchaseSweep(finished, released_total, completed, refunded)

    async def _settle(self, sale_id: str, order: rules.Order) -> str | None:
        """`PAID` when a charged held order is marked paid, `REFUNDED` when a charged order
        that can no longer be paid is refunded, else None (nothing to do)."""
        paid = await self._ledger.transfer(transfer_id("order", order.id, "pay"))
        if paid is None or order.state == rules.PAID:
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


def order_wire(order: rules.Order) -> dict[str, Any]:
    return {
        "order_id": order.id,
        "quantity": order.quantity,
        "amount_minor": order.amount_minor,
        "state": order.state,
        "expires_at_ms": order.expires_at_ms,
    }
