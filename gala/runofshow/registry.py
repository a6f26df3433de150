"""The node's registry of shows: installs show files into the store and keeps the parsed
definitions (the cue sheets stage control reads) of every show the store holds, with the cues of
approved reveal bookings merged into their slots (`gala/booked_cues.py`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from gala.runofshow.booked_cues import BookedCue, merged_sheet
from gala.runofshow.showfile import ShowDefinition, load_show_file, parse_show_document
from gala.stores.ports import ShowDocuments
from stage_control.model import Cue, initial_state
from stage_control.ports import StageStore
from stage_control.service import ShowNotInstalled


class ShowRegistry:
    def __init__(self) -> None:
        self._shows: dict[str, ShowDefinition] = {}
        self._booked: dict[str, tuple[BookedCue, ...]] = {}
        self._merged: dict[str, ShowDefinition] = {}
        self._edited: dict[str, tuple[int, ShowDefinition]] = {}

    async def install_files(
        self, paths: Iterable[str], documents: ShowDocuments, stage: StageStore
    ) -> None:
        """Load each file (failing fast on the first bad one), then store it and create its
        stage and log if the show is new. A known show keeps its state and log."""
        definitions = [load_show_file(path) for path in paths]
        for definition in definitions:
            await documents.put_show_document(definition.id, definition.document)
            await stage.install_stage(definition.id, initial_state(definition.cues))

    async def load(self, documents: ShowDocuments) -> None:
        stored = await documents.show_documents()
        self._shows = {show_id: parse_show_document(doc) for show_id, doc in stored.items()}
        self._booked, self._merged, self._edited = {}, {}, {}

    def file_definition(self, show_id: str) -> ShowDefinition:
        """The show exactly as its file defines it (no edits, no booked cues)."""
        show = self._shows.get(show_id)
        if show is None:
            raise ShowNotInstalled(f"no show {show_id!r}")
        return show

    def edited_version(self, show_id: str) -> int:
        return self._edited[show_id][0] if show_id in self._edited else 0

    def set_edited(self, show_id: str, version: int, definition: ShowDefinition) -> None:
        """The show with the producers' edits of its run of show (booked cues merged again)."""
        self._edited[show_id] = (version, definition)
        booked = self._booked.get(show_id, ())
        self._merged[show_id] = replace(definition, cues=merged_sheet(definition.cues, booked))

    def set_booked(self, show_id: str, booked: Iterable[BookedCue]) -> bool:
        """Merge these booked cues into the show's run of show; True when it changed."""
        cues = tuple(booked)
        if self._booked.get(show_id, ()) == cues:
            return False
        base = self.base(show_id)
        self._booked[show_id] = cues
        self._merged[show_id] = replace(base, cues=merged_sheet(base.cues, cues))
        return True

    def timed_cues(self, show_id: str) -> list[tuple[str, str]]:
        """(cue id, "HH:MM") of the show's booked cues that have a time of day."""
        return [(b.cue.id, b.at) for b in self._booked.get(show_id, ()) if b.at is not None]

    def base(self, show_id: object) -> ShowDefinition:
        """The show as its file and the producers' edits define it, without booked cues."""
        if isinstance(show_id, str) and show_id in self._edited:
            return self._edited[show_id][1]
        show = self._shows.get(show_id) if isinstance(show_id, str) else None
        if show is None:
            raise ShowNotInstalled(f"no show {show_id!r}")
        return show

    def get(self, show_id: object) -> ShowDefinition:
        """The show with its run of show as it stands (booked cues included)."""
        show = (
            self._merged.get(show_id) or self._shows.get(show_id)
            if isinstance(show_id, str)
            else None
        )
        if show is None:
            raise ShowNotInstalled(f"no show {show_id!r}")
        return show

    def sheet(self, show_id: str) -> Sequence[Cue]:
        return self.get(show_id).cues

    def all(self) -> list[ShowDefinition]:
        return list(self._shows.values())
