"""Sponsors' products and reveal bookings: the pure rules (docs/sponsors.md). No I/O.

A sponsor owns products (ids scoped to the sponsor) and books reveals of them into slots of a
show: after a named cue of the run of show, or at a time of day in the show's time zone. A booking
is `pending` until a producer approves or rejects it (with a reason); the sponsor may withdraw it
while it is pending. A pending or approved booking *holds* its slot (no other reveal may take the
same slot of the same show) and *reserves* its drop budget out of the sponsor's ledger balance
(`sponsor_budget:ID`), so two bookings can never promise the same money. `book` checks what
depends on the request alone; `check_conflicts` checks the slot and the budget against every
holding booking, and stores run it inside the same atomic step as the insert.

What a sponsor asks for comes in as typed commands (`NewProduct`, `ProductEdit`,
`BookingRequest`), built by the edge from a body it has parsed; the rules here still check every
value against the bounds, so a command that breaks one is refused with the same code
(`bad_product`, `bad_booking`) whoever built it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from gala.kernel.errors import BadRequest, Conflict, NotFound
from gala.kernel.ids import is_valid_id

PENDING = "pending"
APPROVED = "approved"
REJECTED = "rejected"
WITHDRAWN = "withdrawn"
STATES = (PENDING, APPROVED, REJECTED, WITHDRAWN)
HOLDING = frozenset({PENDING, APPROVED})

MAX_NAME = 120
MAX_DESCRIPTION = 2000
MAX_IMAGE_URL = 500
MAX_PRICE_MINOR = 10**12
MAX_STOCK = 10_000_000
MAX_REASON = 500
MIN_SALE_MS = 10_000
MAX_SALE_MS = 3_600_000
MAX_DROP_WINDOW_MS = 3_600_000
LOCALE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
TIME_OF_DAY = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")
MAX_PER_VIEWER = 1000
MAX_ENVELOPES = 100_000
MAX_MIN_MINOR = 10**9
MIN_DROP_DURATION_MS = 1_000
EDITABLE = ("name", "description", "image_url", "price_minor", "stock", "per_viewer_limit")


class BadProduct(BadRequest):
    code = "bad_product"


class BadBooking(BadRequest):
    code = "bad_booking"


class UnknownProduct(NotFound):
    """No such product *of this sponsor*: another sponsor's product answers the same."""

    code = "unknown_product"


class UnknownBooking(NotFound):
    code = "unknown_booking"


class UnknownShow(NotFound):
    """No such show, or a show that does not list this sponsor."""

    code = "unknown_show"


class ProductExists(Conflict):
    code = "product_exists"


class SlotTaken(Conflict):
    code = "slot_taken"


class SlotOutsideShow(BadRequest):
    code = "slot_outside_show"


class MissingTranslation(BadRequest):
    code = "missing_translation"


class NoStock(Conflict):
    code = "no_stock"


class InsufficientBudget(Conflict):
    code = "insufficient_budget"


class BookingNotPending(Conflict):
    code = "booking_not_pending"


class ProductLocked(Conflict):
    """An edit that would break an approved reveal of a live show."""

    code = "product_locked"


# --- products ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Product:
    sponsor_id: str
    product_id: str
    name: Mapping[str, str]
    description: Mapping[str, str]
    image_url: str
    price_minor: int
    stock: int
    per_viewer_limit: int

    def as_wire(self) -> dict[str, Any]:
        return {
            "id": self.product_id,
            "sponsor_id": self.sponsor_id,
            "name": dict(self.name),
            "description": dict(self.description),
            "image_url": self.image_url,
            "price_minor": self.price_minor,
            "stock": self.stock,
            "per_viewer_limit": self.per_viewer_limit,
        }

    @classmethod
    def from_wire(cls, raw: Mapping[str, Any]) -> Product:
        return cls(
            sponsor_id=raw["sponsor_id"],
            product_id=raw["id"],
            name=dict(raw["name"]),
            description=dict(raw["description"]),
            image_url=raw["image_url"],
            price_minor=raw["price_minor"],
            stock=raw["stock"],
            per_viewer_limit=raw["per_viewer_limit"],
        )


@dataclass(frozen=True, slots=True)
class NewProduct:
    """A product as its sponsor creates it (its id included)."""

    product_id: str
    name: Mapping[str, str]
    price_minor: int
    stock: int
    description: Mapping[str, str] = field(default_factory=dict)
    image_url: str = ""
    per_viewer_limit: int = 1


@dataclass(frozen=True, slots=True)
class ProductEdit:
    """Some fields of a product: None keeps a field as it is. `product_id`, when given, must be
    the product's own (a product's id never changes)."""

    product_id: str | None = None
    name: Mapping[str, str] | None = None
    description: Mapping[str, str] | None = None
    image_url: str | None = None
    price_minor: int | None = None
    stock: int | None = None
    per_viewer_limit: int | None = None


def new_product(sponsor_id: str, command: NewProduct) -> Product:
    """The product, checked whole; raises `BadProduct` naming the bad field."""
    if not is_valid_id(command.product_id):
        raise BadProduct("id must be an id of [a-z0-9-] (at most 64 characters)")
    return _checked(
        Product(
            sponsor_id=sponsor_id,
            product_id=command.product_id,
            name=command.name,
            description=command.description,
            image_url=command.image_url,
            price_minor=command.price_minor,
            stock=command.stock,
            per_viewer_limit=command.per_viewer_limit,
        )
    )


def edit_product(current: Product, edit: ProductEdit) -> Product:
    """The product with the edit's given fields applied, checked whole."""
    if edit.product_id is not None and edit.product_id != current.product_id:
        raise BadProduct("a product's id cannot change")
    changes = {name: value for name in EDITABLE if (value := getattr(edit, name)) is not None}
    return _checked(replace(current, **changes))


def check_live_edit(before: Product, after: Product, committed_units: int) -> None:
    """Once a show is live, a product in one of its approved reveals keeps its price (viewers
    may have seen it on the card) and its stock cannot go below the units already sold or held
    (`committed_units`)."""
    if after.price_minor != before.price_minor:
        raise ProductLocked("the price of a product in an approved reveal of a live show is fixed")
    if after.stock < committed_units:
        raise ProductLocked(
            f"stock cannot go below the {committed_units} units already sold or held"
        )


def _checked(product: Product) -> Product:
    image = product.image_url
    if not isinstance(image, str) or len(image) > MAX_IMAGE_URL:
        raise BadProduct(f"image_url must be a URL of at most {MAX_IMAGE_URL} characters")
    if image and not image.startswith(("https://", "http://", "/")):
        raise BadProduct("image_url must be an http(s) URL or a path on this site")
    _bounded(product.price_minor, "price_minor", 1, MAX_PRICE_MINOR, BadProduct)
    _bounded(product.stock, "stock", 0, MAX_STOCK, BadProduct)
    _bounded(product.per_viewer_limit, "per_viewer_limit", 1, MAX_PER_VIEWER, BadProduct)
    return replace(
        product,
        name=_texts(product.name, "name", MAX_NAME, required=True),
        description=_texts(product.description, "description", MAX_DESCRIPTION),
    )


def _texts(raw: object, field: str, limit: int, required: bool = False) -> dict[str, str]:
    if not isinstance(raw, Mapping) or (required and not raw):
        raise BadProduct(f"{field} must be an object of texts by locale, e.g. {{'en': '...'}}")
    texts = {}
    for locale, text in raw.items():
        if not isinstance(locale, str) or LOCALE.fullmatch(locale) is None:
            raise BadProduct(f"{field}: {locale!r} is not a language tag")
        if not isinstance(text, str) or not text.strip() or len(text) > limit:
            raise BadProduct(f"{field}.{locale} must be a non-empty text of at most {limit}")
        texts[locale] = text
    return texts


def _bounded(value: object, field: str, low: int, high: int, error: type[BadRequest]) -> None:
    if type(value) is not int or not low <= value <= high:
        raise error(f"{field} must be a whole number from {low} to {high}")


# --- slots and shows --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Slot:
    """After the cue `after_cue`, or at the time of day `at` ("HH:MM", the show's time zone)."""

    after_cue: str | None = None
    at: str | None = None

    @property
    def key(self) -> str:
        return f"cue:{self.after_cue}" if self.after_cue is not None else f"at:{self.at}"

    def as_wire(self) -> dict[str, str]:
        return {"after_cue": self.after_cue} if self.after_cue is not None else {"at": str(self.at)}


def parse_slot(raw: Any) -> Slot:
    if not isinstance(raw, Mapping) or len(raw) != 1:
        raise BadBooking('slot must be {"after_cue": CUE_ID} or {"at": "HH:MM"}')
    if "after_cue" in raw:
        if not is_valid_id(raw["after_cue"]):
            raise BadBooking("slot.after_cue must be a cue id")
        return Slot(after_cue=raw["after_cue"])
    if isinstance(raw.get("at"), str) and TIME_OF_DAY.fullmatch(raw["at"]):
        return Slot(at=raw["at"])
    raise BadBooking('slot must be {"after_cue": CUE_ID} or {"at": "HH:MM"} (24-hour clock)')


def minutes_of_day(text: str) -> int:
    found = TIME_OF_DAY.fullmatch(text)
    if found is None:
        raise ValueError(f"not a time of day: {text!r}")
    return int(found.group(1)) * 60 + int(found.group(2))


@dataclass(frozen=True, slots=True)
class ShowFacts:
    """What the booking rules know of a show: its cues, its languages and, if the show file
    declares one, its window of the day (`("19:30", "00:30")` runs past midnight)."""

    show_id: str
    locales: tuple[str, ...]
    cue_ids: frozenset[str]
    window: tuple[str, str] | None = None

    def has_slot(self, slot: Slot) -> bool:
        if slot.after_cue is not None:
            return slot.after_cue in self.cue_ids
        if self.window is None:
            return True
        at, start, end = (minutes_of_day(t) for t in (str(slot.at), *self.window))
        return start <= at <= end if start <= end else at >= start or at <= end


# --- bookings ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DropPlan:
    """A red-envelope drop the sponsor funds from its budget, launched with the reveal."""

    budget_minor: int
    envelopes: int
    min_minor: int = 1
    countdown_ms: int = 5_000
    duration_ms: int = 30_000

    def as_wire(self) -> dict[str, int]:
        return {
            "budget_minor": self.budget_minor,
            "envelopes": self.envelopes,
            "min_minor": self.min_minor,
            "countdown_ms": self.countdown_ms,
            "duration_ms": self.duration_ms,
        }


@dataclass(frozen=True, slots=True)
class BookingRequest:
    """A sponsor's request to reveal its product in a slot of a show (checked by
    `check_request`; the slot and the budget against other bookings by `check_conflicts`)."""

    show_id: str
    product_id: str
    slot: Slot
    sale_duration_ms: int
    flash_price_minor: int | None = None
    drop: DropPlan | None = None


@dataclass(frozen=True, slots=True)
class Booking:
    booking_id: str
    sponsor_id: str
    show_id: str
    product_id: str
    slot: Slot
    sale_duration_ms: int
    flash_price_minor: int | None
    drop: DropPlan | None
    state: str
    created_at_ms: int
    reason: str = ""
    decided_by: str = ""
    decided_at_ms: int | None = None

    @property
    def slot_key(self) -> str:
        """Unique among holding bookings: one reveal per slot of a show."""
        return f"{self.show_id}/{self.slot.key}"

    @property
    def holds(self) -> bool:
        return self.state in HOLDING

    @property
    def reserved_minor(self) -> int:
        """What this booking keeps out of its sponsor's budget."""
        return self.drop.budget_minor if self.drop is not None and self.holds else 0

    def as_wire(self) -> dict[str, Any]:
        return {
            "id": self.booking_id,
            "sponsor_id": self.sponsor_id,
            "show_id": self.show_id,
            "product_id": self.product_id,
            "slot": self.slot.as_wire(),
            "sale_duration_ms": self.sale_duration_ms,
            "flash_price_minor": self.flash_price_minor,
            "drop": None if self.drop is None else self.drop.as_wire(),
            "state": self.state,
            "reason": self.reason,
            "created_at_ms": self.created_at_ms,
            "decided_by": self.decided_by,
            "decided_at_ms": self.decided_at_ms,
        }

    @classmethod
    def from_wire(cls, raw: Mapping[str, Any]) -> Booking:
        drop = raw["drop"]
        return cls(
            booking_id=raw["id"],
            sponsor_id=raw["sponsor_id"],
            show_id=raw["show_id"],
            product_id=raw["product_id"],
            slot=parse_slot(raw["slot"]),
            sale_duration_ms=raw["sale_duration_ms"],
            flash_price_minor=raw["flash_price_minor"],
            drop=None if drop is None else DropPlan(**drop),
            state=raw["state"],
            created_at_ms=raw["created_at_ms"],
            reason=raw["reason"],
            decided_by=raw["decided_by"],
            decided_at_ms=raw["decided_at_ms"],
        )


def check_request(request: BookingRequest) -> None:
    """Refuse with `bad_booking` a request that breaks a bound, whatever the show and product."""
    for name in ("show_id", "product_id"):
        if not is_valid_id(getattr(request, name)):
            raise BadBooking(f"{name} must be an id")
    check_slot(request.slot)
    _bounded(request.sale_duration_ms, "sale_duration_ms", MIN_SALE_MS, MAX_SALE_MS, BadBooking)
    if request.flash_price_minor is not None:
        _bounded(request.flash_price_minor, "flash_price_minor", 1, MAX_PRICE_MINOR, BadBooking)
    if request.drop is not None:
        check_drop(request.drop)


def check_slot(slot: Slot) -> None:
    if (slot.after_cue is None) == (slot.at is None):
        raise BadBooking('slot must be {"after_cue": CUE_ID} or {"at": "HH:MM"}')
    if slot.after_cue is not None and not is_valid_id(slot.after_cue):
        raise BadBooking("slot.after_cue must be a cue id")
    if slot.at is not None and not (isinstance(slot.at, str) and TIME_OF_DAY.fullmatch(slot.at)):
        raise BadBooking('slot must be {"after_cue": CUE_ID} or {"at": "HH:MM"} (24-hour clock)')


def check_drop(plan: DropPlan) -> None:
    _bounded(plan.budget_minor, "drop.budget_minor", 1, MAX_PRICE_MINOR, BadBooking)
    _bounded(plan.envelopes, "drop.envelopes", 1, MAX_ENVELOPES, BadBooking)
    _bounded(plan.min_minor, "drop.min_minor", 1, MAX_MIN_MINOR, BadBooking)
    _bounded(plan.countdown_ms, "drop.countdown_ms", 0, MAX_DROP_WINDOW_MS, BadBooking)
    window = (MIN_DROP_DURATION_MS, MAX_DROP_WINDOW_MS)
    _bounded(plan.duration_ms, "drop.duration_ms", *window, BadBooking)
    if plan.envelopes * plan.min_minor > plan.budget_minor:
        raise BadBooking("drop.budget_minor cannot give every envelope min_minor")


def book(
    request: BookingRequest,
    booking_id: str,
    sponsor_id: str,
    product: Product | None,
    show: ShowFacts,
    now_ms: int,
) -> Booking:
    """A new pending booking, or the refusal that depends on the request alone. The slot and the
    budget are checked against the other bookings by `check_conflicts`."""
    check_request(request)
    if product is None or product.sponsor_id != sponsor_id:
        raise UnknownProduct(f"you have no product {request.product_id!r}")
    if request.show_id != show.show_id:
        raise UnknownShow(f"no show {request.show_id!r}")
    if not show.has_slot(request.slot):
        where = (
            f"the show has no cue {request.slot.after_cue!r}"
            if request.slot.after_cue is not None
            else f"{request.slot.at} is outside the show's window {'-'.join(show.window or ())}"
        )
        raise SlotOutsideShow(where)
    missing = [locale for locale in show.locales if locale not in product.name]
    if missing:
        raise MissingTranslation(f"the product has no name in {', '.join(missing)}")
    if product.stock == 0:
        raise NoStock("the product has no stock to sell")
    if request.flash_price_minor is not None and request.flash_price_minor >= product.price_minor:
        raise BadBooking(f"flash_price_minor must be below the price ({product.price_minor})")
    return Booking(
        booking_id=booking_id,
        sponsor_id=sponsor_id,
        show_id=show.show_id,
        product_id=product.product_id,
        slot=request.slot,
        sale_duration_ms=request.sale_duration_ms,
        flash_price_minor=request.flash_price_minor,
        drop=request.drop,
        state=PENDING,
        created_at_ms=now_ms,
    )


def check_conflicts(booking: Booking, others: Iterable[Booking], balance_minor: int) -> None:
    """Refuse `booking` if a holding booking has its slot (`slot_taken`), or if its drop does not
    fit in the sponsor's balance minus what the sponsor's holding bookings reserve
    (`insufficient_budget`). `others` may hold any bookings; only holding ones count."""
    reserved = 0
    for other in others:
        if not other.holds or other.booking_id == booking.booking_id:
            continue
        if other.slot_key == booking.slot_key:
            raise SlotTaken(f"another reveal holds {booking.slot.key} of this show")
        if other.sponsor_id == booking.sponsor_id:
            reserved += other.reserved_minor
    needed = booking.reserved_minor
    if needed and reserved + needed > balance_minor:
        raise InsufficientBudget(
            f"your budget holds {balance_minor}, your bookings reserve {reserved}; "
            f"this drop needs {needed}"
        )


def approve(booking: Booking, actor: str, now_ms: int) -> Booking:
    _pending(booking)
    return replace(booking, state=APPROVED, decided_by=actor, decided_at_ms=now_ms)


def reject(booking: Booking, actor: str, reason: str, now_ms: int) -> Booking:
    if not isinstance(reason, str) or not reason.strip() or len(reason) > MAX_REASON:
        raise BadBooking(f"a rejection needs a reason of 1 to {MAX_REASON} characters")
    _pending(booking)
    return replace(
        booking, state=REJECTED, reason=reason.strip(), decided_by=actor, decided_at_ms=now_ms
    )


def withdraw(booking: Booking, sponsor_id: str, now_ms: int) -> Booking:
    if booking.sponsor_id != sponsor_id:
        raise UnknownBooking("you have no such booking")
    _pending(booking)
    return replace(booking, state=WITHDRAWN, decided_by=sponsor_id, decided_at_ms=now_ms)


def _pending(booking: Booking) -> None:
    if booking.state != PENDING:
        raise BookingNotPending(f"the booking is {booking.state}, not pending")
