"""Keeps each show's run of show up to date: the show file, the producers' edits of it (stored
with a version, `cue_edits.py`), and the approved reveal bookings merged into their slots.
Every node refreshes once a second from its sweeper, and the node that takes an edit or an
approval at once, so a GO on any node fires the same sheet within a second of a change."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence

from gala.kernel.errors import GalaError
from gala.runofshow import cue_edits
from gala.runofshow.booked_cues import BookedCue, booked_cue, next_time_of_day_ms, sponsor_names
from gala.runofshow.registry import ShowRegistry
from gala.runofshow.showfile import ShowDefinition, ShowFileError, parse_show_document
from gala.stores.ports import EditedRunOfShow
from sponsors.model import APPROVED
from sponsors.service import SponsorService
from stage_control.service import StageService

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 10


class RunOfShow:
    def __init__(
        self,
        shows: ShowRegistry,
        sponsors: SponsorService,
        edits: EditedRunOfShow,
        stage: StageService,
    ) -> None:
        self._shows = shows
        self._sponsors = sponsors
        self._edits = edits
        self._stage = stage

    async def refresh(self, show_id: str) -> bool:
        """Re-read the show's edits and approved bookings; True when its run of show changed."""
        edited = await self._refresh_edits(show_id)
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
        return self._shows.set_booked(show_id, booked) or edited

    async def _refresh_edits(self, show_id: str) -> bool:
        version, cues_json = await self._edits.edited_cues(show_id)
        if cues_json is None or version == self._shows.edited_version(show_id):
            return False
        try:
            definition = self._with_cues(show_id, json.loads(cues_json))
        except ShowFileError as error:
            log.error(
                "show %s: edited run of show v%d no longer loads: %s", show_id, version, error
            )
            return False
        self._shows.set_edited(show_id, version, definition)
        return True

    def _with_cues(self, show_id: str, cues: Sequence[cue_edits.StoredCue]) -> ShowDefinition:
        document = json.loads(self._shows.file_definition(show_id).document)
        document["cues"] = list(cues)
        return parse_show_document(json.dumps(document, ensure_ascii=False))

    async def edit(self, show_id: str, actor: str, change: cue_edits.CueEdit) -> None:
        """Apply one producer edit (docs/protocol.md, `cue:edit`): the whole edited show is
        validated like a show file, stored by compare-and-set (a concurrent edit is applied on
        top of the other), audited."""
        detail = {"kind": change.kind, "cue_id": cue_edits.edited_cue_id(change)}
        try:
            for _attempt in range(MAX_ATTEMPTS):
                await self._refresh_edits(show_id)
                version, cues_json = await self._edits.edited_cues(show_id)
                tables = (
                    json.loads(cues_json)
                    if cues_json is not None
                    else json.loads(self._shows.file_definition(show_id).document)["cues"]
                )
                anchors = frozenset(
                    b.slot.after_cue
                    for b in await self._sponsors.show_bookings(show_id)
                    if b.state == APPROVED and b.slot.after_cue is not None
                )
                new_tables = cue_edits.apply_edit(
                    tables,
                    change,
                    [cue.id for cue in self._shows.get(show_id).cues],
                    await self._stage.state(show_id),
                    anchors,
                )
                try:
                    self._with_cues(show_id, new_tables)
                except ShowFileError as error:
                    raise cue_edits.BadEdit(error.message) from None
                encoded = json.dumps(new_tables, ensure_ascii=False)
                if await self._edits.save_cues(show_id, version, encoded):
                    break
            else:
                raise GalaError("the run of show is too busy; try again", code="busy")
        except GalaError as refused:
            await self._stage.publish(
                show_id, actor, "cue.edit", [], {**detail, "refused": refused.code}
            )
            raise
        await self._stage.publish(show_id, actor, "cue.edit", [], detail)

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
