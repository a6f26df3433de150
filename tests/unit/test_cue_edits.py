"""Producers' edits of the run of show (pure): what each edit does to the cue tables, and what the
stage allows: anything but the standby cue in rehearsal, only what has not run yet while live,
nothing once ended, never the anchor of an approved reveal."""

from __future__ import annotations

from typing import Any

import pytest

from gala.kernel.errors import GalaError
from gala.runofshow import cue_edits as ce
from stage_control.model import ENDED, LIVE, StageState, Timer

TABLES = [{"id": f"c{i}", "label": f"Cue {i}"} for i in range(1, 6)]
IDS = [t["id"] for t in TABLES]
REHEARSAL = StageState(standby_cue_id="c1")
LIVE_AT_C3 = StageState(phase=LIVE, standby_cue_id="c3", last_cue_id="c2")


NONE: frozenset[str] = frozenset()


def run(raw: dict[str, Any], state: StageState = REHEARSAL, anchors: frozenset[str] = NONE) -> str:
    """The cue ids after the edit, as one string: `c1 c2 ...`."""
    edited = ce.apply_edit(TABLES, ce.parse_edit(raw), IDS, state, anchors)
    return " ".join(str(t["id"]) for t in edited)


def code(raw: dict[str, Any], state: StageState = REHEARSAL, anchors: frozenset[str] = NONE) -> str:
    with pytest.raises(GalaError) as refused:
        run(raw, state, anchors)
    return refused.value.code


def add(after: str | None, cue_id: str = "n1") -> dict[str, Any]:
    return {"kind": "add", "after_cue": after, "cue": {"id": cue_id, "label": "New"}}


def move(cue_id: str, after: str | None) -> dict[str, Any]:
    return {"kind": "move", "cue_id": cue_id, "after_cue": after}


def remove(cue_id: str) -> dict[str, Any]:
    return {"kind": "remove", "cue_id": cue_id}


def change(cue_id: str) -> dict[str, Any]:
    return {"kind": "edit", "cue_id": cue_id, "cue": {"id": cue_id, "label": "Changed"}}


def test_rehearsal_edits_add_remove_move_and_replace_cues() -> None:
    assert run(add("c2")) == "c1 c2 n1 c3 c4 c5"
    assert run(add(None)) == "n1 c1 c2 c3 c4 c5"
    assert run(remove("c4")) == "c1 c2 c3 c5"
    assert run(move("c5", "c1")) == "c1 c5 c2 c3 c4"
    assert run(move("c3", None)) == "c3 c1 c2 c4 c5"
    edited = ce.apply_edit(TABLES, ce.parse_edit(change("c2")), IDS, REHEARSAL, NONE)
    assert edited[1] == {"id": "c2", "label": "Changed"} and TABLES[1]["label"] == "Cue 2"


def test_the_standby_cue_and_a_booked_anchor_are_not_touched() -> None:
    assert code(remove("c1")) == "cue_in_use"
    assert code(remove("c4"), anchors=frozenset({"c4"})) == "cue_booked"
    ticking = StageState(standby_cue_id="c1", timers=(Timer("c5", 10, "pre_wait"),))
    assert code(change("c5"), ticking) == "cue_in_use"


def test_while_live_only_what_has_not_run_may_change() -> None:
    assert code(remove("c2"), LIVE_AT_C3) == "cue_in_use"
    assert code(change("c3"), LIVE_AT_C3) == "cue_in_use"
    assert code(add("c1"), LIVE_AT_C3) == "cue_in_use"
    assert code(move("c5", "c1"), LIVE_AT_C3) == "cue_in_use"
    assert run(add("c3"), LIVE_AT_C3) == "c1 c2 c3 n1 c4 c5"
    assert run(move("c5", "c3"), LIVE_AT_C3) == "c1 c2 c3 c5 c4"
    assert run(remove("c4"), LIVE_AT_C3) == "c1 c2 c3 c5"
    assert code(remove("c5"), StageState(phase=ENDED)) == "show_ended"


@pytest.mark.parametrize(
    "raw",
    [
        {"kind": "rename"},
        {"kind": "remove"},
        {"kind": "add", "cue": {"label": "no id"}},
        {"kind": "edit", "cue_id": "c2", "cue": {"id": "c9", "label": "other id"}},
        {"kind": "move", "cue_id": "c2", "after_cue": 7},
    ],
)
def test_malformed_edits_are_refused(raw: dict[str, Any]) -> None:
    assert code(raw) == "bad_edit"


def test_unknown_cues_and_duplicate_ids_are_refused() -> None:
    assert code({"kind": "remove", "cue_id": "c9"}) == "unknown_cue"
    assert code({"kind": "move", "cue_id": "c2", "after_cue": "c9"}) == "unknown_cue"
    assert (
        code({"kind": "add", "after_cue": "c2", "cue": {"id": "c3", "label": "dup"}}) == "bad_edit"
    )
