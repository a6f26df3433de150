"""Redis key names of sponsors: a sponsor's products in its slot `{sponsor:ID}`; the whole booking
book (every booking, the slot index, each sponsor's reservation) in the one slot `{bookings}`, so
a booking's conflict check is one script on one slot. The book is small (a few hundred bookings
per show), so one slot is no bottleneck."""

from __future__ import annotations

from dataclasses import dataclass


def products_key(sponsor_id: str, prefix: str = "gala") -> str:
    """A hash: product id -> the product as JSON."""
    return f"{prefix}:{{sponsor:{sponsor_id}}}:products"


@dataclass(frozen=True, slots=True)
class BookKeys:
    bookings: str  # hash: booking id -> booking JSON
    slots: str  # hash: slot key of a holding booking -> booking id
    reserved: str  # hash: sponsor id -> minor units its holding bookings reserve

    def all(self) -> list[str]:
        return [self.bookings, self.slots, self.reserved]


def book_keys(prefix: str = "gala") -> BookKeys:
    tag = f"{prefix}:{{bookings}}"
    return BookKeys(bookings=f"{tag}:all", slots=f"{tag}:slots", reserved=f"{tag}:reserved")
