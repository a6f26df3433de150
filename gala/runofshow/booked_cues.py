"""What an approved reveal booking becomes in the run of show: one cue, built from the booking and
the sponsor's product, whose actions are the ones a show file would use (`product.show` with the
product's card, `sale.open` with its price, stock and limit, and the booked `drop.launch` funded
by the sponsor), so GO, timers, the sale store and drops need nothing new. Pure.

A booked cue goes right after the cue its slot names (`after_cue`), after any earlier booking of
that cue; a time-of-day booking goes at the end of the run of show, in time order, and is fired
with GO like any cue (docs/sponsors.md). The cue's id is derived from the booking's.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from commerce.show_sales import DEFAULT_HOLD_MS, OpenSale
from gala.kernel.money import plain_amount
from overlays.model import ShowOverlay
from redpackets.show_drops import LaunchDrop
from sponsors.model import Booking, Product
from stage_control.model import Cue


@dataclass(frozen=True, slots=True)
class BookedCue:
    after_cue: str | None
    at: str | None
    cue: Cue


def product_key(sponsor_id: str, product_id: str) -> str:
    """The product's id on the show's log: derived from both ids, so products of two sponsors
    (or a show file's own products, whose ids never look like this) cannot collide; a valid id."""
    return "sp-" + hashlib.sha256(f"{sponsor_id}\n{product_id}".encode()).hexdigest()[:20]


def booked_cue(
    booking: Booking, product: Product, sponsor_name: str, currency: str, number: str
) -> BookedCue:
    key = product_key(booking.sponsor_id, booking.product_id)
    price = booking.flash_price_minor or product.price_minor
    card: dict[str, Any] = {
        "id": key,
        "name": dict(product.name),
        "price_minor": price,
        "currency": currency,
        "image": product.image_url,
        "sponsor": {"id": booking.sponsor_id, "name": sponsor_name},
    }
    if product.description:
        card["description"] = dict(product.description)
    actions: list[Any] = [
        ShowOverlay("product_card", {"id": key, "kind": "product", "product": card}),
        OpenSale(
            key,
            booking.sponsor_id,
            price,
            currency,
            product.stock,
            product.per_viewer_limit,
            booking.sale_duration_ms,
            DEFAULT_HOLD_MS,
            dict(product.name),
        ),
    ]
    seconds = booking.sale_duration_ms // 1000
    summary = [
        f"reveal {booking.sponsor_id}'s '{booking.product_id}'",
        f"open its sale for {seconds} s at {plain_amount(price, currency)}",
    ]
    if booking.drop is not None:
        drop = booking.drop
        actions.append(
            LaunchDrop(
                f"b-{booking.booking_id}"[:64],
                booking.sponsor_id,
                drop.budget_minor,
                drop.envelopes,
                drop.min_minor,
                drop.countdown_ms,
                drop.duration_ms,
            )
        )
        summary.append(
            f"drop {drop.envelopes} red envelopes ({plain_amount(drop.budget_minor, currency)})"
        )
    cue = Cue(
        id=f"bk-{hashlib.sha256(booking.booking_id.encode()).hexdigest()[:16]}",
        number=number,
        label=f"Sponsor reveal: {sponsor_name}",
        notes=f"Booked by {booking.sponsor_id} (booking {booking.booking_id}).",
        pre_wait_ms=0,
        auto_follow_ms=None,
        actions=tuple(actions),
        summary=tuple(summary),
    )
    return BookedCue(booking.slot.after_cue, booking.slot.at, cue)


def merged_sheet(cues: Sequence[Cue], booked: Sequence[BookedCue]) -> tuple[Cue, ...]:
    """The run of show with the booked cues in their slots."""
    after: dict[str, list[Cue]] = {}
    for item in booked:
        if item.after_cue is not None:
            after.setdefault(item.after_cue, []).append(item.cue)
    merged: list[Cue] = []
    for cue in cues:
        merged.append(cue)
        merged.extend(after.get(cue.id, ()))
    timed = sorted((b for b in booked if b.at is not None), key=lambda b: str(b.at))
    merged.extend(b.cue for b in timed)
    return tuple(merged)


def next_time_of_day_ms(at: str, timezone: str, now_ms: int) -> int:
    """The next moment (ms) the show's clock reads `at` ("HH:MM"), from `now_ms` on."""
    zone = ZoneInfo(timezone)
    now = datetime.fromtimestamp(now_ms / 1000, tz=zone)
    hours, minutes = (int(part) for part in at.split(":"))
    moment = now.replace(hour=hours, minute=minutes, second=0, microsecond=0)
    if moment.timestamp() * 1000 < now_ms:
        moment = (moment + timedelta(days=1)).replace(hour=hours, minute=minutes)
    return int(moment.timestamp() * 1000)


def sponsor_names(sponsors: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    return {sid: str(s.get("name", sid)) for sid, s in sponsors.items()}
