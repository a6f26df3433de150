"""What commerce needs from a store.

`SaleStore` keeps each flash sale's counters, orders and idempotency keys, and applies the rules of
`sale.py` atomically per sale: every method is one transaction (SQLite) or one Lua script over the
sale's hash slot `{sale:ID}` (Redis), so concurrent taps from any number of nodes can never
oversell, pass a viewer's limit or create two orders for one key. `tests/contract/
test_sale_store.py` checks both backends against the pure model.

`PurchaseBatches` decides a batch of wallet taps on one sale in one step of the store: each tap
is reserved, charged and marked paid, or refused, atomically on its own, and the whole batch costs
one transaction (SQLite) or a fixed handful of round trips (Redis), not a handful per tap.
`tests/contract/test_tap_batches.py` checks both backends.

`PaymentStore` keeps the payments asked of the provider and the webhook events already handled
(`tests/contract/test_payment_store.py`); `PaymentProvider` is the outside payment provider (the
sandbox, `sandbox_provider.py`, is the only one shipped).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from gala.kernel.errors import GalaError
from gala.kernel.ledger import Transfer

from .sale import Order, SaleTerms


@dataclass(frozen=True, slots=True)
class SaleCounts:
    status: str
    left: int
    held: int
    sold: int


class SaleStore(Protocol):
    async def create_sale(self, terms: SaleTerms) -> bool:
        """Create the sale (status scheduled, all stock left) unless it exists. Idempotent; True
        when it created it."""
        ...

    async def set_sale_status(self, sale_id: str, status: str) -> None:
        """Open or close the sale. Atomic; idempotent."""
        ...

    async def reserve(
        self, sale_id: str, order_id: str, viewer_id: str, key: str, quantity: int, now_ms: int
    ) -> Order:
        """`sale.reserve` applied atomically: hold the units or raise its refusal. The same
        (viewer, key) returns its first order (idempotent); another quantity is refused."""
        ...

    async def pay(self, sale_id: str, order_id: str) -> Order:
        """`sale.pay` applied atomically: held -> paid; paid stays paid (idempotent); an expired
        hold raises `HoldExpired`."""
        ...

    async def expire(self, sale_id: str, now_ms: int) -> list[Order]:
        """`sale.expire` applied atomically: release the holds that are over, each exactly once;
        returns the orders released by this call."""
        ...

    async def bind_key(self, viewer_id: str, key: str, request: str) -> str:
        """Bind the viewer's idempotency key to `request` (`service.key_request`: the sale, the
        quantity and the payment method) unless it is bound already; returns the request it is
        bound to. Atomic per key, across every sale: the first request wins. (A wallet tap's
        batch binds its keys inside `PurchaseBatches.buy_batch`.)"""
        ...

    async def taken(self, sale_id: str) -> dict[str, int]:
        """The units each viewer holds and bought, as the sale counts them for its limit (for
        audits: a count that disagrees with the orders is named)."""
        ...

    async def due_holds(self, sale_id: str, now_ms: int) -> list[Order]:
        """The held orders whose hold is over at `now_ms` (what `expire` would release), without
        releasing them: the sweeper first completes those already charged."""
        ...

    async def counts(self, sale_id: str) -> SaleCounts: ...

    async def sale_terms(self, sale_id: str) -> SaleTerms: ...

    async def sale_ids(self) -> list[str]:
        """Every sale in the store (for audits)."""
        ...

    async def orders(self, sale_id: str) -> list[Order]:
        """Every order of the sale (for audits and exports)."""
        ...

    async def order(self, sale_id: str, order_id: str) -> Order | None:
        """One order of the sale, if it exists."""
        ...

    async def orders_of(self, sale_id: str, viewer_id: str) -> list[Order]:
        """The viewer's orders in the sale, in order id order (its wallet), read through an
        index of the viewer's orders: never every order of the sale."""
        ...


@dataclass(frozen=True, slots=True)
class WalletTap:
    """One tap on Buy paid from the viewer's wallet: its order id is derived from the sale, the
    viewer and the page's idempotency key (`service.order_id_for`)."""

    order_id: str
    viewer_id: str
    key: str
    quantity: int


@dataclass(frozen=True, slots=True)
class Bought:
    """A wallet tap's outcome: its order (paid, or held when the charge could not be completed)
    and the viewer's wallet balance once the tap's money moved."""

    order: Order
    balance_minor: int


class PurchaseBatches(Protocol):
    async def buy_batch(
        self, sale_id: str, revenue: str, taps: Sequence[WalletTap], now_ms: int
    ) -> list[Bought | GalaError]:
        """Decide every tap, in order, each atomically: the same (viewer, key) returns its
        order (charging it if it is still held); a new tap is checked in this order: quantity,
        window, sold out, enough stock, the viewer's limit, the wallet holds the price
        (`insufficient_funds`); then its units are held, the price moves from the viewer's wallet to
        `revenue` (`order/ID/pay`) and the order is marked paid. One outcome per tap, in the
        taps' order. A tap is durable once its outcome is returned; a crash in the middle leaves
        every tap either not started, or reserved (and perhaps charged), which the retry with the
        same key and the sweeper finish."""
        ...


class LedgerStore(Protocol):
    async def post(self, transfer: Transfer) -> None:
        """Apply `transfer` exactly once. SQLite: one transaction. Redis: the two accounts live in
        different hash slots, so it is a saga of idempotent steps keyed by the transfer id (an
        intent is logged first, then the debit, then the credit, then the record);
        `finish_pending` completes whatever a crash interrupted. Posting the same transfer again
        is a no-op; the same id with another content raises `TransferMismatch`; a guarded source
        without the funds raises `InsufficientFunds` and nothing moves."""
        ...

    async def balance(self, account_name: str) -> int: ...

    async def balances(self) -> dict[str, int]:
        """Every account's balance (for audits)."""
        ...

    async def transfers(self) -> list[Transfer]:
        """Every completed transfer (for audits)."""
        ...

    async def transfer(self, transfer_id: str) -> Transfer | None:
        """The completed transfer with this id, if any."""
        ...

    async def finish_pending(self) -> int:
        """The sweeper's step: complete every logged transfer a crash left half done (or drop
        it if its debit never happened). Idempotent; returns how many it completed."""
        ...


@dataclass(frozen=True, slots=True)
class PaymentRequest:
    """What the provider answers when asked for a payment: where the viewer goes to pay."""

    payment_id: str
    pay_url: str


class PaymentProvider(Protocol):
    name: str

    async def create_payment(
        self, payment_id: str, amount_minor: int, currency: str, metadata: Mapping[str, str]
    ) -> PaymentRequest:
        """Ask the provider to collect `amount_minor`. Idempotent by `payment_id` (providers take
        an idempotency key): asked again, it names the same payment. The provider later confirms
        with a signed `payment.succeeded` webhook naming `payment_id`."""
        ...


@dataclass(frozen=True, slots=True)
class Payment:
    """Our record of a payment asked of a provider, for one held order."""

    payment_id: str
    provider: str
    order_id: str
    sale_id: str
    viewer_id: str
    sponsor_id: str
    amount_minor: int
    currency: str
    pay_url: str
    expires_at_ms: int


class PaymentStore(Protocol):
    async def create_payment(self, payment: Payment) -> Payment:
        """Record the payment unless its id is known; return the record that is stored (the
        first one: a retried tap gets the same payment). Atomic; idempotent."""
        ...

    async def payment(self, payment_id: str) -> Payment | None: ...

    async def payments(self) -> list[Payment]:
        """Every payment (for audits)."""
        ...

    async def record_event(self, event_id: str, now_ms: int) -> bool:
        """Remember a handled webhook event: True the first time for this id, False after (one
        atomic set-if-absent, so concurrent deliveries of one event get exactly one True). Kept
        for `EVENT_RETENTION_MS`, far longer than the signature's tolerance; money never relies on
        it alone (ledger transfer ids are deterministic)."""
        ...

    async def has_event(self, event_id: str) -> bool: ...


EVENT_RETENTION_MS = 7 * 24 * 3600 * 1000
