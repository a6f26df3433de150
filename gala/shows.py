"""The node's registry of shows: installs show files into the store and keeps the parsed
definitions (the cue sheets stage control reads) of every show the store holds."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from gala.ports import ShowDocuments
from gala.showfile import ShowDefinition, load_show_file, parse_show_document
from stage_control.model import Cue, initial_state
from stage_control.ports import StageStore
from stage_control.service import ShowNotInstalled


class ShowRegistry:
    def __init__(self) -> None:
        self._shows: dict[str, ShowDefinition] = {}

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

    def get(self, show_id: object) -> ShowDefinition:
        show = self._shows.get(show_id) if isinstance(show_id, str) else None
        if show is None:
            raise ShowNotInstalled(f"no show {show_id!r}")
        return show

    def sheet(self, show_id: str) -> Sequence[Cue]:
        return self.get(show_id).cues

    def all(self) -> list[ShowDefinition]:
        return list(self._shows.values())
