"""What sponsors need from a store, and from the ledger.

`ProductStore` keeps each sponsor's products (ids scoped to the sponsor). `BookingStore` keeps
every reveal booking and applies `model.check_conflicts` in the same atomic step as the insert:
one transaction (SQLite) or one Lua script over the booking book's hash slot `{bookings}` (Redis),
so two concurrent bookings can never hold the same slot nor reserve the same money.
`tests/contract/test_sponsor_store.py` checks both backends.
"""

from __future__ import annotations

from typing import Protocol

from .model import Booking, Product


class ProductStore(Protocol):
    async def create_product(self, product: Product) -> None:
        """Insert the product. Atomic; raises `ProductExists` if the sponsor already has one with
        this id (so a retried create is refused, never doubled)."""
        ...

    async def replace_product(self, product: Product) -> None:
        """Overwrite an existing product. Atomic, idempotent; raises `UnknownProduct` if the
        sponsor has no product with this id."""
        ...

    async def product(self, sponsor_id: str, product_id: str) -> Product | None: ...

    async def products(self, sponsor_id: str) -> list[Product]:
        """The sponsor's products, by id."""
        ...


class BookingStore(Protocol):
    async def create_booking(self, booking: Booking, balance_minor: int) -> None:
        """Insert a new (pending) booking after `model.check_conflicts` against every holding
        booking, atomically with that check; raises `SlotTaken` or `InsufficientBudget` and
        stores nothing. Not idempotent: booking ids are fresh, and a retry of a booking that was
        stored is refused `slot_taken` by the first one."""
        ...

    async def replace_booking(self, old: Booking, new: Booking) -> None:
        """Compare-and-set: store `new` if the stored booking still equals `old`, else raise
        `StoreConflict` (the service reloads and decides again). A `new` that no longer holds
        releases its slot and its budget reservation in the same step."""
        ...

    async def booking(self, booking_id: str) -> Booking | None: ...

    async def bookings(
        self, *, sponsor_id: str | None = None, show_id: str | None = None
    ) -> list[Booking]:
        """Bookings of one sponsor and/or one show, oldest first."""
        ...


class BudgetLedger(Protocol):
    async def balance(self, account_name: str) -> int:
        """The account's balance in the ledger (commerce's ledger adapters satisfy this)."""
        ...
