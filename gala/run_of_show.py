"""Keeps each show's run of show up to date with its approved reveal bookings: reads them (and
the products they reveal) from the sponsors' store and merges their cues into the registry.
Every node refreshes once a second from its sweeper, and the node that approves a booking at
once, so a GO on any node fires the same sheet within a second of an approval."""

from __future__ import annotations

from gala.booked_cues import BookedCue, booked_cue, next_time_of_day_ms, sponsor_names
from gala.shows import ShowRegistry
from sponsors.model import APPROVED
from sponsors.service import SponsorService


class RunOfShow:
    def __init__(self, shows: ShowRegistry, sponsors: SponsorService) -> None:
        self._shows = shows
        self._sponsors = sponsors

    async def refresh(self, show_id: str) -> bool:
        """Re-read the show's approved bookings; True when its run of show changed."""
        show = self._shows.base(show_id)
        names = sponsor_names(show.sponsors)
        numbers = {cue.id: cue.number for cue in show.cues}
        approved = [b for b in await self._sponsors.show_bookings(show_id) if b.state == APPROVED]
        booked: list[BookedCue] = []
        per_anchor: dict[str, int] = {}
        for booking in sorted(approved, key=lambda b: (b.created_at_ms, b.booking_id)):
            product = await self._sponsors.product_or_none(booking.sponsor_id, booking.product_id)
            if product is None:
                continue
            anchor = booking.slot.after_cue
            if anchor is not None:
                per_anchor[anchor] = per_anchor.get(anchor, 0) + 1
                number = f"{numbers.get(anchor, anchor)}+{per_anchor[anchor]}"
            else:
                number = f"@{booking.slot.at}"
            sponsor = names.get(booking.sponsor_id, booking.sponsor_id)
            booked.append(booked_cue(booking, product, sponsor, show.currency, number))
        return self._shows.set_booked(show_id, booked)

    def clock_schedule(self, show_id: str, now_ms: int) -> tuple[tuple[str, int], ...]:
        """When automatic mode runs each booked time-of-day cue: the next time the show's clock
        reads its time (so a slot armed after its time waits for the next day)."""
        zone = self._shows.base(show_id).timezone
        return tuple(
            (cue_id, next_time_of_day_ms(at, zone, now_ms))
            for cue_id, at in self._shows.timed_cues(show_id)
        )

    def cue_list(self, show_id: str) -> list[dict[str, object]]:
        return self._shows.get(show_id).cue_list()
