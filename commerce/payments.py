"""Paying a held order through the outside payment provider: the tap that asks for the payment,
the signed webhook that confirms it, and the sweeper step for a confirmation a crash cut short.

A provider tap holds the units (`PurchaseService.hold`, the sale's `hold_ms`) and asks the
provider for a payment whose id is derived from the order's (`p-...`), so a retried tap gets the
same order and the same payment. Our record of it (`PaymentStore`) names the order, the sale, the
viewer, the sponsor, the amount and the currency: the webhook trusts only the payment id of a
verified delivery and finds everything else here.

A verified `payment.succeeded` (`webhooks.py`) for a known payment of the right amount and
currency is a saga of idempotent steps, each keyed by a deterministic transfer id:

1. credit the viewer's wallet from the provider's account (`payment/ID/in`);
2. pay the order from the wallet exactly as a wallet tap does (`order/ID/pay`, mark it paid);
3. if the hold expired first, refund that charge (`order/ID/refund`): the late payment ends up
   in the viewer's wallet, automatically.

So two deliveries, or two different events for one payment, credit once. The event id is recorded
after the steps (a crash before that lets the provider's retry run them again); a delivery of a
recorded event is acknowledged as a duplicate and does nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gala.kernel.clock import Clock
from gala.kernel.errors import Conflict, NotFound
from gala.kernel.ledger import InsufficientFunds, Transfer, account, transfer_id

from . import sale as rules
from . import webhooks
from .ports import LedgerStore, Payment, PaymentProvider, PaymentStore, SaleStore
from .service import PurchaseService, order_wire
from .show_sales import AnnouncedSale


class PaymentsDisabled(Conflict):
    code = "payments_unavailable"


class UnknownPayment(NotFound):
    code = "unknown_payment"


class PaymentMismatch(Conflict):
    """The webhook's amount or currency is not the payment's: nothing is done."""

    code = "payment_mismatch"


@dataclass(frozen=True, slots=True)
class ProviderPurchase:
    order: rules.Order
    payment: Payment | None
    balance_minor: int


def payment_id_for(order_id: str) -> str:
    return f"p-{order_id.removeprefix('o-')}"


def provider_account(provider: str) -> str:
    return account("external", f"provider-{provider}")


def payment_wire(payment: Payment) -> dict[str, Any]:
    return {
        "payment_id": payment.payment_id,
        "provider": payment.provider,
        "pay_url": payment.pay_url,
        "amount_minor": payment.amount_minor,
        "currency": payment.currency,
        "expires_at_ms": payment.expires_at_ms,
    }


@dataclass(frozen=True, slots=True)
class PaymentStatus:
    """A payment as its pay page shows it: the record, its order's state, whether it expired."""

    payment: Payment
    order_state: str | None
    expired: bool


class PaymentService:
    def __init__(
        self,
        purchases: PurchaseService,
        sales: SaleStore,
        ledger: LedgerStore,
        store: PaymentStore,
        provider: PaymentProvider | None,
        clock: Clock,
        webhook_secret: bytes,
        tolerance_s: int = webhooks.DEFAULT_TOLERANCE_S,
    ) -> None:
        self._purchases = purchases
        self._sales = sales
        self._ledger = ledger
        self._store = store
        self._provider = provider
        self._clock = clock
        self._secret = webhook_secret
        self._tolerance_s = tolerance_s

    @property
    def provider(self) -> str | None:
        return None if self._provider is None else self._provider.name

    async def buy(
        self, sale: AnnouncedSale, viewer_id: str, key: str, quantity: int
    ) -> ProviderPurchase:
        """Hold the units and ask the provider for the payment (docs/protocol.md, `buy`)."""
        provider = self._provider
        if provider is None:
            raise PaymentsDisabled("this server has no payment provider")
        order = await self._purchases.hold(sale, viewer_id, key, quantity)
        payment_id = payment_id_for(order.id)
        payment = await self._store.payment(payment_id)
        if payment is None and order.state == rules.HELD:
            metadata = {"order_id": order.id, "sale_id": sale.sale_id, "viewer_id": viewer_id}
            request = await provider.create_payment(
                payment_id, order.amount_minor, sale.currency, metadata
            )
            payment = await self._store.create_payment(
                Payment(
                    payment_id,
                    provider.name,
                    order.id,
                    sale.sale_id,
                    viewer_id,
                    sale.sponsor_id,
                    order.amount_minor,
                    sale.currency,
                    request.pay_url,
                    order.expires_at_ms,
                )
            )
        balance = await self._ledger.balance(account("wallet", viewer_id))
        return ProviderPurchase(order, payment, balance)

    async def status(self, payment_id: str) -> PaymentStatus:
        """The payment, the state of its order now (None if it has none), and whether its hold
        has run out on the server's clock; `unknown_payment` for an id we never issued."""
        payment = await self._store.payment(payment_id)
        if payment is None:
            raise UnknownPayment(f"no payment {payment_id!r}")
        order = await self._sales.order(payment.sale_id, payment.order_id)
        expired = self._clock.now_ms() >= payment.expires_at_ms
        return PaymentStatus(payment, order.state if order else None, expired)

    async def receive_webhook(self, signature: str | None, body: bytes) -> dict[str, Any]:
        """Verify, read and apply one delivery (docs/protocol.md, the webhook endpoint)."""
        now_ms = self._clock.now_ms()
        webhooks.verify(self._secret, signature, body, now_ms, self._tolerance_s)
        event = webhooks.parse_event(body)
        answer: dict[str, Any] = {"event_id": event.event_id, "duplicate": False}
        if event.type != webhooks.PAYMENT_SUCCEEDED:
            return {**answer, "handled": False}
        if await self._store.has_event(event.event_id):
            return {**answer, "duplicate": True, "handled": True}
        payment = await self._store.payment(event.payment_id)
        if payment is None:
            raise UnknownPayment(f"no payment {event.payment_id!r}")
        if (event.amount_minor, event.currency) != (payment.amount_minor, payment.currency):
            raise PaymentMismatch(
                f"the payment is {payment.amount_minor} {payment.currency}, "
                f"the event says {event.amount_minor} {event.currency}"
            )
        order = await self.settle(payment)
        first = await self._store.record_event(event.event_id, now_ms)
        return {
            **answer,
            "duplicate": not first,
            "handled": True,
            "payment_id": payment.payment_id,
            "order": order_wire(order),
        }

    async def settle(self, payment: Payment) -> rules.Order:
        """Steps 1 to 3 for a confirmed payment; idempotent. Returns the order as it ends up:
        paid, or released (the payment then stays in the wallet)."""
        order = await self._sales.order(payment.sale_id, payment.order_id)
        if order is None or order.viewer_id != payment.viewer_id:
            raise UnknownPayment(f"payment {payment.payment_id!r} names no order")
        if order.amount_minor != payment.amount_minor:
            raise PaymentMismatch("the payment's amount is not the order's")
        await self._ledger.post(
            Transfer(
                transfer_id("payment", payment.payment_id, "in"),
                provider_account(payment.provider),
                account("wallet", payment.viewer_id),
                payment.amount_minor,
                "payment",
            )
        )
        if order.state != rules.HELD:
            # paid already (a retry), or released: the payment stays in the wallet
            return order
        try:
            return await self._purchases.pay_order(payment.sale_id, payment.sponsor_id, order)
        except rules.HoldExpired:
            return await self._sales.order(payment.sale_id, payment.order_id) or order
        except InsufficientFunds:
            # the wallet was spent between the credit and the charge: the money is the
            # viewer's, and the hold expires as any unpaid one
            return order

    async def sweep(self, sale_ids: list[str]) -> int:
        """Finish a confirmation a crash cut short: a held order whose payment was credited to
        the wallet but not charged is paid now. (A charged one is the purchase sweeper's; an
        expired one leaves the payment in the wallet, which is where a late payment goes.)
        Idempotent; returns how many orders it paid."""
        settled = 0
        for sale_id in sale_ids:
            for order in await self._sales.orders(sale_id):
                if order.state != rules.HELD:
                    continue
                payment_id = payment_id_for(order.id)
                if await self._ledger.transfer(transfer_id("payment", payment_id, "in")) is None:
                    continue
                payment = await self._store.payment(payment_id)
                if payment is None:
                    continue
                if (await self.settle(payment)).state == rules.PAID:
                    settled += 1
        return settled
