"""Sponsor use cases: a sponsor's products, its reveal bookings and its budget; producers' review
of a show's bookings. Load, decide (the pure rules of `model.py`), save.

Every sponsor-facing method takes the caller's sponsor id (from its token, never from the
request) and only ever reads that sponsor's products and bookings: another sponsor's ids answer
exactly like ids that do not exist (`unknown_product`, `unknown_booking`). What a sponsor asks
for comes as the model's typed commands (`NewProduct`, `ProductEdit`, `BookingRequest`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from gala.kernel.clock import Clock
from gala.kernel.errors import GalaError, StoreConflict
from gala.kernel.ids import is_valid_id, new_id
from gala.kernel.ledger import account

from . import model
from .model import (
    Booking,
    BookingRequest,
    NewProduct,
    Product,
    ProductEdit,
    ShowFacts,
    UnknownBooking,
    UnknownProduct,
)
from .ports import BookingStore, BudgetLedger, ProductStore

MAX_ATTEMPTS = 20

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Budget:
    balance_minor: int
    reserved_minor: int

    @property
    def available_minor(self) -> int:
        return self.balance_minor - self.reserved_minor

    def as_wire(self) -> dict[str, int]:
        return {
            "balance_minor": self.balance_minor,
            "reserved_minor": self.reserved_minor,
            "available_minor": self.available_minor,
        }


def budget_account(sponsor_id: str) -> str:
    """The ledger account a sponsor's drops are funded from (`gala budget deposit sponsor:ID`)."""
    return account("sponsor_budget", sponsor_id)


class SponsorService:
    def __init__(
        self,
        products: ProductStore,
        bookings: BookingStore,
        ledger: BudgetLedger,
        clock: Clock,
        show_facts: Callable[[str, str], ShowFacts],
        live_units: Callable[[str, str], Awaitable[int | None]] | None = None,
    ) -> None:
        """`show_facts(sponsor_id, show_id)` describes a show the sponsor may book into, or
        raises `model.UnknownShow`. `live_units(sponsor_id, product_id)` is None when the
        product is in no approved reveal of a live show, else the units sold or held of it."""
        self._products = products
        self._bookings = bookings
        self._ledger = ledger
        self._clock = clock
        self._show_facts = show_facts
        self._live_units = live_units

    # --- products ---

    async def create_product(self, sponsor_id: str, command: NewProduct) -> Product:
        product = model.new_product(sponsor_id, command)
        await self._products.create_product(product)
        return product

    async def edit_product(self, sponsor_id: str, product_id: str, edit: ProductEdit) -> Product:
        before = await self.product(sponsor_id, product_id)
        product = model.edit_product(before, edit)
        committed = (
            None if self._live_units is None else await self._live_units(sponsor_id, product_id)
        )
        if committed is not None:
            model.check_live_edit(before, product, committed)
        await self._products.replace_product(product)
        return product

    async def product(self, sponsor_id: str, product_id: str) -> Product:
        product = (
            await self._products.product(sponsor_id, product_id)
            if is_valid_id(product_id)
            else None
        )
        if product is None:
            raise UnknownProduct(f"you have no product {product_id!r}")
        return product

    async def import_products(self, sponsor_id: str, commands: Iterable[NewProduct]) -> list[str]:
        """Create each product the sponsor does not have yet (by id) and return the ids created.
        Idempotent: a product the sponsor already has, edited or not, is left exactly as it is,
        so importing a show file's products again (every node start) never undoes an edit; two
        nodes importing at once both end with one product (the store refuses the second create).
        A product the rules refuse is skipped and raises nothing: `BadProduct` is logged."""
        created = []
        for command in commands:
            if await self._products.product(sponsor_id, command.product_id) is not None:
                continue
            try:
                await self._products.create_product(model.new_product(sponsor_id, command))
            except model.ProductExists:
                continue
            except model.BadProduct as refused:
                log.warning(
                    "product %r of sponsor %r not imported: %s",
                    command.product_id,
                    sponsor_id,
                    refused.message,
                )
                continue
            created.append(command.product_id)
        return created

    async def product_or_none(self, sponsor_id: str, product_id: str) -> Product | None:
        """For producers reviewing a booking: the product it reveals, as it is now."""
        return await self._products.product(sponsor_id, product_id)

    async def products(self, sponsor_id: str) -> list[Product]:
        return await self._products.products(sponsor_id)

    # --- bookings ---

    async def book(self, sponsor_id: str, request: BookingRequest) -> Booking:
        model.check_request(request)  # before any look-up: a malformed request is `bad_booking`
        show = self._show_facts(sponsor_id, request.show_id)
        product = await self._products.product(sponsor_id, request.product_id)
        booking = model.book(request, new_id("bk"), sponsor_id, product, show, self._clock.now_ms())
        balance = await self._ledger.balance(budget_account(sponsor_id))
        await self._bookings.create_booking(booking, balance)
        return booking

    async def bookings_of(self, sponsor_id: str) -> list[Booking]:
        return await self._bookings.bookings(sponsor_id=sponsor_id)

    async def booking_of(self, sponsor_id: str, booking_id: str) -> Booking:
        booking = await self._bookings.booking(booking_id) if is_valid_id(booking_id) else None
        if booking is None or booking.sponsor_id != sponsor_id:
            raise UnknownBooking(f"you have no booking {booking_id!r}")
        return booking

    async def withdraw(self, sponsor_id: str, booking_id: str) -> Booking:
        async def load() -> Booking:
            return await self.booking_of(sponsor_id, booking_id)

        return await self._change(
            load, lambda b: model.withdraw(b, sponsor_id, self._clock.now_ms())
        )

    async def budget(self, sponsor_id: str) -> Budget:
        balance = await self._ledger.balance(budget_account(sponsor_id))
        mine = await self._bookings.bookings(sponsor_id=sponsor_id)
        return Budget(balance, sum(b.reserved_minor for b in mine))

    # --- producers ---

    async def show_bookings(self, show_id: str) -> list[Booking]:
        return await self._bookings.bookings(show_id=show_id)

    async def approve(self, show_id: str, booking_id: str, actor: str) -> Booking:
        return await self._change(
            lambda: self._show_booking(show_id, booking_id),
            lambda b: model.approve(b, actor, self._clock.now_ms()),
        )

    async def reject(self, show_id: str, booking_id: str, actor: str, reason: str) -> Booking:
        return await self._change(
            lambda: self._show_booking(show_id, booking_id),
            lambda b: model.reject(b, actor, reason, self._clock.now_ms()),
        )

    async def _show_booking(self, show_id: str, booking_id: str) -> Booking:
        booking = await self._bookings.booking(booking_id) if is_valid_id(booking_id) else None
        if booking is None or booking.show_id != show_id:
            raise UnknownBooking(f"the show has no booking {booking_id!r}")
        return booking

    async def _change(
        self, load: Callable[[], Awaitable[Booking]], decide: Callable[[Booking], Booking]
    ) -> Booking:
        for _attempt in range(MAX_ATTEMPTS):
            old = await load()
            new = decide(old)
            try:
                await self._bookings.replace_booking(old, new)
            except StoreConflict:
                continue
            return new
        raise GalaError("the bookings are too busy; try again", code="busy")
