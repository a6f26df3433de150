"""What a sponsor may know of the installed shows: the shows that list it in `[sponsors]`, and of
their run of show only the cue ids and numbers (a label may name another sponsor's embargoed
product). The booking rules and the sponsor API read shows through here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gala.kernel.errors import GalaError
from gala.runofshow.registry import ShowRegistry
from gala.runofshow.showfile import ShowDefinition
from sponsors.model import ShowFacts, UnknownShow


def show_facts(shows: ShowRegistry) -> Callable[[str, str], ShowFacts]:
    """What the booking rules know of a show, for a sponsor the show lists (else `unknown_show`)."""

    def facts(sponsor_id: str, show_id: str) -> ShowFacts:
        show = visible_show(shows, sponsor_id, show_id)
        return ShowFacts(show.id, show.locales, frozenset(c.id for c in show.cues), show.window)

    return facts


def visible_show(shows: ShowRegistry, sponsor_id: str, show_id: str) -> ShowDefinition:
    try:
        # the run of show as its file defines it: a booked reveal is never an anchor, and the
        # other sponsors' booked cues are not the sponsor's to see
        show = shows.base(show_id)
    except GalaError:
        show = None
    if show is None or sponsor_id not in show.sponsors:
        raise UnknownShow(f"no show {show_id!r} lists you as a sponsor")
    return show


def sponsor_show_view(show: ShowDefinition) -> dict[str, Any]:
    return {
        **show.public_info(),
        "window": None if show.window is None else list(show.window),
        "cues": [{"id": cue.id, "number": cue.number} for cue in show.cues],
    }
