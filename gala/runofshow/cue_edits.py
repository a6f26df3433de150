"""Producers' edits of the run of show: add, remove, move and edit cues. Pure: an edit applied to
the show's cue tables (the `[[cues]]` of its file, as JSON) gives new cue tables, which the caller
validates whole with the show-file parser, so an edited show is exactly as valid as a file.

In rehearsal (pre-show) anything may change but the cue on standby (jump elsewhere first). While
the show is live, an edit may only touch what has not happened yet: cues after the standby cue,
with no timer running; a new or moved cue must land after the standby. An ended show is not
edited. A cue an approved reveal booking is anchored to is never removed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Annotated, Literal

from pydantic import Field, TypeAdapter, ValidationError
from pydantic.dataclasses import dataclass

from gala.kernel.errors import BadRequest, Conflict, NotFound
from gala.runofshow.fields import Id, problems
from gala.runofshow.show_document import CueTable
from stage_control.model import ENDED, LIVE, StageState

KINDS = ("add", "remove", "move", "edit")
StoredCue = Mapping[str, object]  # a cue table as the store keeps it (JSON)


class BadEdit(BadRequest):
    code = "bad_edit"


class UnknownCueToEdit(NotFound):
    code = "unknown_cue"


class CueInUse(Conflict):
    """The edit would touch the cue on standby, one that already ran, or one running a timer."""

    code = "cue_in_use"


class CueBooked(Conflict):
    code = "cue_booked"


class ShowOver(Conflict):
    code = "show_ended"


@dataclass(frozen=True, slots=True)
class AddCue:
    kind: Literal["add"]
    cue: CueTable
    after_cue: Id | None = None  # null: first


@dataclass(frozen=True, slots=True)
class RemoveCue:
    kind: Literal["remove"]
    cue_id: Id


@dataclass(frozen=True, slots=True)
class MoveCue:
    kind: Literal["move"]
    cue_id: Id
    after_cue: Id | None = None


@dataclass(frozen=True, slots=True)
class EditCue:
    """The whole new table of a cue, with the same id."""

    kind: Literal["edit"]
    cue_id: Id
    cue: CueTable


CueEdit = AddCue | RemoveCue | MoveCue | EditCue
_EDIT: TypeAdapter[CueEdit] = TypeAdapter(
    Annotated[AddCue | RemoveCue | MoveCue | EditCue, Field(discriminator="kind")]
)


def parse_edit(raw: object) -> CueEdit:
    """`{"kind": "add", "after_cue": ID|null, "cue": {...}}`, `{"kind": "remove", "cue_id"}`,
    `{"kind": "move", "cue_id", "after_cue": ID|null}` (null: first), `{"kind": "edit",
    "cue_id", "cue": {...}}`; a cue table is checked as in a show file (`CueTable`)."""
    try:
        edit = _EDIT.validate_python(raw)
    except ValidationError as error:
        if error.errors()[0]["type"].startswith("union_tag"):
            raise BadEdit(f"kind must be one of {', '.join(KINDS)}") from None
        # the first place of every other problem is the kind's tag
        raise BadEdit(problems(error, skip=1)[0][1]) from None
    if isinstance(edit, EditCue) and edit.cue.id != edit.cue_id:
        raise BadEdit("an edit keeps the cue's id")
    return edit


def stored_table(cue: CueTable) -> dict[str, object]:
    """The cue as the store keeps it: as a show file would write it, without its defaults."""
    return {
        field.name: list(value) if isinstance(value, tuple) else value
        for field in dataclasses.fields(cue)
        if (value := getattr(cue, field.name)) != field.default
    }


def edited_cue_id(edit: CueEdit) -> str:
    return edit.cue.id if isinstance(edit, AddCue) else edit.cue_id


def apply_edit(
    tables: Sequence[StoredCue],
    edit: CueEdit,
    sheet_ids: Sequence[str],
    state: StageState,
    anchors: frozenset[str],
) -> list[dict[str, object]]:
    """The cue tables after `edit`. `sheet_ids` is the run of show as it runs now (booked cues
    included) and `state` the stage, for the live rules; `anchors` the cues booked reveals
    follow."""
    if state.phase == ENDED:
        raise ShowOver("the show has ended; reset it to edit the run of show")
    cues = [dict(table) for table in tables]
    ids = [str(table.get("id")) for table in cues]
    frozen = _frozen(sheet_ids, state)
    if isinstance(edit, AddCue):
        if edit.cue.id in ids or edit.cue.id in sheet_ids:
            raise BadEdit(f"a cue {edit.cue.id!r} exists already")
        _check_landing(edit.after_cue, ids, sheet_ids, frozen, state)
        cues.insert(_position_after(edit.after_cue, ids), stored_table(edit.cue))
        return cues
    if edit.cue_id not in ids:
        raise UnknownCueToEdit(f"no cue {edit.cue_id!r} in the run of show")
    if edit.cue_id in frozen:
        raise CueInUse(f"cue {edit.cue_id!r} is on standby, has run or is running a timer")
    index = ids.index(edit.cue_id)
    if isinstance(edit, RemoveCue):
        if edit.cue_id in anchors:
            raise CueBooked(f"an approved reveal is booked after cue {edit.cue_id!r}")
        del cues[index]
        return cues
    if isinstance(edit, EditCue):
        cues[index] = stored_table(edit.cue)
        return cues
    moved = cues.pop(index)
    del ids[index]
    _check_landing(edit.after_cue, ids, sheet_ids, frozen, state)
    cues.insert(_position_after(edit.after_cue, ids), moved)
    return cues


def _frozen(sheet_ids: Sequence[str], state: StageState) -> set[str]:
    """Cues an edit may not touch: the standby cue, those with a timer, and, live, every cue up
    to the standby (they have run)."""
    frozen = {timer.cue_id for timer in state.timers}
    if state.standby_cue_id is not None:
        frozen.add(state.standby_cue_id)
    if state.phase == LIVE:
        upto = (
            sheet_ids.index(state.standby_cue_id)
            if state.standby_cue_id in sheet_ids
            else len(sheet_ids)
        )
        frozen.update(sheet_ids[:upto])
    return frozen


def _check_landing(
    after_cue: str | None,
    ids: Sequence[str],
    sheet_ids: Sequence[str],
    frozen: set[str],
    state: StageState,
) -> None:
    if after_cue is not None and after_cue not in ids:
        raise UnknownCueToEdit(f"no cue {after_cue!r} to put it after")
    if state.phase != LIVE:
        return
    standby = state.standby_cue_id
    if standby is None or standby not in sheet_ids:
        raise CueInUse("the cue list has run to its end")
    lands_after = sheet_ids.index(after_cue) if after_cue in sheet_ids else -1
    if lands_after < sheet_ids.index(standby):
        raise CueInUse("while live, a cue can only go after the cue on standby")


def _position_after(after_cue: str | None, ids: Sequence[str]) -> int:
    return 0 if after_cue is None else ids.index(after_cue) + 1
