"""What commerce needs from a store.

`SaleStore` keeps each flash sale's counters, orders and idempotency keys, and applies the rules of
`sale.py` atomically per sale: every method is one transaction (SQLite) or one Lua script over the
sale's hash slot `{sale:ID}` (Redis), so concurrent taps from any number of nodes can never
oversell, pass a viewer's limit or create two orders for one key. `tests/contract/
test_sale_store.py` checks both backends against the pure model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

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

    async def counts(self, sale_id: str) -> SaleCounts: ...

    async def sale_terms(self, sale_id: str) -> SaleTerms: ...

    async def sale_ids(self) -> list[str]:
        """Every sale in the store (for audits)."""
        ...

    async def orders(self, sale_id: str) -> list[Order]:
        """Every order of the sale (for audits and exports)."""
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
