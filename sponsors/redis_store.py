"""The Redis adapter of `ProductStore` and `BookingStore`. Products are single-key commands in the
sponsor's slot `{sponsor:ID}`; a booking's insert and every change of its state is one Lua script
(`lua/book.lua`, `lua/replace.lua`) over the booking book's slot `{bookings}` (`redis_keys.py`),
so the conflict check and the write are one atomic step on one slot (Redis Cluster ready)."""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Any

from redis.asyncio import Redis

from gala.kernel.errors import StoreConflict

from .model import Booking, InsufficientBudget, Product, ProductExists, SlotTaken, UnknownProduct
from .redis_keys import book_keys, products_key
from .sqlite_store import to_json


def _script(name: str) -> str:
    return files(__package__).joinpath("lua", name).read_text(encoding="utf-8")


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisSponsorStore:
    def __init__(self, redis: Redis, prefix: str = "gala") -> None:
        # redis-py types every reply as a wide union; the adapter knows each reply's shape.
        self._redis: Any = redis
        self._prefix = prefix
        self._keys = book_keys(prefix)
        self._book = redis.register_script(_script("book.lua"))
        self._replace = redis.register_script(_script("replace.lua"))

    # --- products ---

    async def create_product(self, product: Product) -> None:
        key = products_key(product.sponsor_id, self._prefix)
        if not await self._redis.hsetnx(key, product.product_id, to_json(product.as_wire())):
            raise ProductExists(f"you already have a product {product.product_id!r}")

    async def replace_product(self, product: Product) -> None:
        # Products are never deleted, so one that exists keeps existing: no race between the two.
        key = products_key(product.sponsor_id, self._prefix)
        if not await self._redis.hexists(key, product.product_id):
            raise UnknownProduct(f"you have no product {product.product_id!r}")
        await self._redis.hset(key, product.product_id, to_json(product.as_wire()))

    async def product(self, sponsor_id: str, product_id: str) -> Product | None:
        raw = await self._redis.hget(products_key(sponsor_id, self._prefix), product_id)
        return None if raw is None else Product.from_wire(json.loads(raw))

    async def products(self, sponsor_id: str) -> list[Product]:
        raw = await self._redis.hgetall(products_key(sponsor_id, self._prefix))
        products = [Product.from_wire(json.loads(value)) for value in raw.values()]
        return sorted(products, key=lambda p: p.product_id)

    # --- bookings ---

    async def create_booking(self, booking: Booking, balance_minor: int) -> None:
        status, code, reserved = await self._book(
            keys=self._keys.all(),
            args=[
                booking.booking_id,
                to_json(booking.as_wire()),
                booking.slot_key,
                booking.sponsor_id,
                booking.reserved_minor,
                balance_minor,
            ],
        )
        if _text(status) == "ok":
            return
        if _text(code) == "slot_taken":
            raise SlotTaken(f"another reveal holds {booking.slot.key} of this show")
        if _text(code) == "insufficient_budget":
            raise InsufficientBudget(
                f"your budget holds {balance_minor}, your bookings reserve {int(reserved)}; "
                f"this drop needs {booking.reserved_minor}"
            )
        raise StoreConflict(f"booking {booking.booking_id} exists")

    async def replace_booking(self, old: Booking, new: Booking) -> None:
        release = old.holds and not new.holds
        done = await self._replace(
            keys=self._keys.all(),
            args=[
                old.booking_id,
                to_json(old.as_wire()),
                to_json(new.as_wire()),
                "1" if release else "0",
                old.slot_key,
                old.sponsor_id,
                old.reserved_minor,
            ],
        )
        if not done:
            raise StoreConflict(old.booking_id)

    async def booking(self, booking_id: str) -> Booking | None:
        raw = await self._redis.hget(self._keys.bookings, booking_id)
        return None if raw is None else Booking.from_wire(json.loads(raw))

    async def bookings(
        self, *, sponsor_id: str | None = None, show_id: str | None = None
    ) -> list[Booking]:
        raw = await self._redis.hvals(self._keys.bookings)
        found = [
            booking
            for booking in (Booking.from_wire(json.loads(value)) for value in raw)
            if (sponsor_id is None or booking.sponsor_id == sponsor_id)
            and (show_id is None or booking.show_id == show_id)
        ]
        return sorted(found, key=lambda b: (b.created_at_ms, b.booking_id))
