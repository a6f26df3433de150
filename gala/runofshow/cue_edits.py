"""Producers' edits of the run of show: add, remove, move and edit cues. Pure: an edit applied to
the show's cue tables (the `[[cues]]` of its file, as JSON) gives new cue tables, which the caller
validates whole with the show-file parser, so an edited show is exactly as valid as a file.

In rehearsal (pre-show) anything may change but the cue on standby (jump elsewhere first). While
the show is live, an edit may only touch what has not happened yet: cues after the standby cue,
with no timer running; a new or moved cue must land after the standby. An ended show is not
edited. A cue an approved reveal booking is anchored to is never removed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gala.kernel.errors import BadRequest, Conflict, NotFound
from gala.kernel.ids import is_valid_id
from stage_control.model import ENDED, LIVE, StageState

KINDS = ("add", "remove", "move", "edit")


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
class CueEdit:
    kind: str
    cue_id: str | None = None
    after_cue: str | None = None
    table: Mapping[str, Any] | None = None


def parse_edit(raw: Mapping[str, Any]) -> CueEdit:
    """`{"kind": "add", "after_cue": ID|null, "cue": {...}}`, `{"kind": "remove", "cue_id"}`,
    `{"kind": "move", "cue_id", "after_cue": ID|null}` (null: first), `{"kind": "edit",
    "cue_id", "cue": {...}}` (the whole new cue table, same id)."""
    kind = raw.get("kind")
    if kind not in KINDS:
        raise BadEdit(f"kind must be one of {', '.join(KINDS)}")
    after = raw.get("after_cue")
    if after is not None and not is_valid_id(after):
        raise BadEdit("after_cue must be a cue id or null")
    cue_id = raw.get("cue_id")
    if kind != "add" and not is_valid_id(cue_id):
        raise BadEdit("cue_id must be a cue id")
    table = raw.get("cue")
    if kind in ("add", "edit"):
        if not isinstance(table, Mapping) or not is_valid_id(table.get("id")):
            raise BadEdit("cue must be a cue table with an id, as in a show file")
        if kind == "edit" and table.get("id") != cue_id:
            raise BadEdit("an edit keeps the cue's id")
    return CueEdit(str(kind), cue_id, after, table)


def apply_edit(
    tables: Sequence[Mapping[str, Any]],
    edit: CueEdit,
    sheet_ids: Sequence[str],
    state: StageState,
    anchors: frozenset[str],
) -> list[dict[str, Any]]:
    """The cue tables after `edit`. `sheet_ids` is the run of show as it runs now (booked cues
    included) and `state` the stage, for the live rules; `anchors` the cues booked reveals
    follow."""
    if state.phase == ENDED:
        raise ShowOver("the show has ended; reset it to edit the run of show")
    cues = [dict(table) for table in tables]
    ids = [str(table.get("id")) for table in cues]
    frozen = _frozen(sheet_ids, state)
    if edit.kind == "add":
        assert edit.table is not None
        if str(edit.table["id"]) in ids or str(edit.table["id"]) in sheet_ids:
            raise BadEdit(f"a cue {edit.table['id']!r} exists already")
        _check_landing(edit.after_cue, ids, sheet_ids, frozen, state)
        cues.insert(_position_after(edit.after_cue, ids), dict(edit.table))
        return cues
    assert edit.cue_id is not None
    if edit.cue_id not in ids:
        raise UnknownCueToEdit(f"no cue {edit.cue_id!r} in the run of show")
    if edit.cue_id in frozen:
        raise CueInUse(f"cue {edit.cue_id!r} is on standby, has run or is running a timer")
    index = ids.index(edit.cue_id)
    if edit.kind == "remove":
        if edit.cue_id in anchors:
            raise CueBooked(f"an approved reveal is booked after cue {edit.cue_id!r}")
        del cues[index]
        return cues
    if edit.kind == "edit":
        assert edit.table is not None
        cues[index] = dict(edit.table)
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
