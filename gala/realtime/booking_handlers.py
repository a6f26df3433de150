"""Producers' review of sponsors' reveal bookings on `/producer`: list a show's bookings (with the
product each reveals), approve one, reject one with a reason. Each decision is written to the
show's audit log (`booking.approve`, `booking.reject`, with the refusal code when refused) like
every other console command. Payloads are parsed into typed commands (`commands.py`). Only
producers can reach these messages: the `/producer` namespace admits no other role."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from gala.kernel.errors import GalaError
from gala.realtime.answers import Answers
from gala.realtime.commands import DecideBooking, RejectBooking, ShowCommand, parse
from gala.realtime.facade import PRODUCER_NS, Connection, Realtime
from gala.runofshow.registry import ShowRegistry
from sponsors.model import Booking
from sponsors.service import SponsorService
from stage_control.service import StageService


class BookingHandlers:
    def __init__(
        self,
        realtime: Realtime,
        shows: ShowRegistry,
        stage: StageService,
        sponsors: SponsorService,
        refresh_run_of_show: Callable[[str], Awaitable[None]],
        answers: Answers,
    ) -> None:
        self._realtime = realtime
        self._shows = shows
        self._stage = stage
        self._sponsors = sponsors
        self._refresh_run_of_show = refresh_run_of_show
        self._answers = answers

    def register(self) -> None:
        """Decisions are counted by outcome as console commands (`answers.py`)."""
        on, answers = self._realtime.handle, self._answers
        on(PRODUCER_NS, "bookings:list", answers.logged(self.list_bookings))
        on(PRODUCER_NS, "booking:approve", answers.command("booking:approve", self.approve))
        on(PRODUCER_NS, "booking:reject", answers.command("booking:reject", self.reject))

    async def list_bookings(self, conn: Connection, payload: Any) -> dict[str, Any]:
        show = self._shows.get(parse(ShowCommand, payload).show_id)
        found = []
        for booking in await self._sponsors.show_bookings(show.id):
            found.append(await self._with_product(booking))
        return {"bookings": found}

    async def approve(self, conn: Connection, payload: Any) -> dict[str, Any]:
        command = parse(DecideBooking, payload)
        show = self._shows.get(command.show_id)
        booking_id = command.booking_id
        async with self._refusals_audited(show.id, conn, "booking.approve", booking_id):
            booking = await self._sponsors.approve(show.id, booking_id, conn.identity.subject)
        await self._audit(show.id, conn, "booking.approve", booking)
        await self._refresh_run_of_show(show.id)
        return {"booking": await self._with_product(booking)}

    async def reject(self, conn: Connection, payload: Any) -> dict[str, Any]:
        command = parse(RejectBooking, payload)
        show = self._shows.get(command.show_id)
        booking_id = command.booking_id
        async with self._refusals_audited(show.id, conn, "booking.reject", booking_id):
            booking = await self._sponsors.reject(
                show.id, booking_id, conn.identity.subject, command.reason
            )
        await self._audit(show.id, conn, "booking.reject", booking)
        return {"booking": await self._with_product(booking)}

    @contextlib.asynccontextmanager
    async def _refusals_audited(
        self, show_id: str, conn: Connection, action: str, booking_id: str
    ) -> AsyncIterator[None]:
        """Like every console command, a refused decision is audited with its code."""
        try:
            yield
        except GalaError as refused:
            detail = {"booking_id": booking_id, "refused": refused.code}
            await self._stage.publish(show_id, conn.identity.subject, action, [], detail)
            raise

    async def _audit(self, show_id: str, conn: Connection, action: str, booking: Booking) -> None:
        detail = {
            "booking_id": booking.booking_id,
            "sponsor_id": booking.sponsor_id,
            "product_id": booking.product_id,
            "slot": booking.slot.as_wire(),
        }
        if booking.reason:
            detail["reason"] = booking.reason
        await self._stage.publish(show_id, conn.identity.subject, action, [], detail)

    async def _with_product(self, booking: Booking) -> dict[str, Any]:
        product = await self._sponsors.product_or_none(booking.sponsor_id, booking.product_id)
        return {**booking.as_wire(), "product": None if product is None else product.as_wire()}
