"""Show files: the human-editable TOML run of show that `gala` loads (format in docs/shows.md).

`parse_show` validates a whole document up front and names the first problem with its place
("cues[3].actions[0]: ..."), so a show that loads never fails at GO: first its shape, each field
typed and bounded (`show_document.py`, pydantic), then what the tables must agree on (a known
currency and time zone, listed sponsors, unique cue ids) and each action against the show (the
features' action parsers). The parsed `ShowDefinition` holds the cue sheet (stage control's
`Cue`s, whose actions are overlay actions) and the public product cards. The raw document is
what the store keeps, so every node parses the same show.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from commerce import show_sales
from gala.kernel.errors import BadRequest
from gala.kernel.money import CURRENCY_EXPONENTS, plain_amount
from gala.runofshow.show_document import (
    CueTable,
    DocumentProblem,
    ProductTable,
    read_document,
)
from overlays import model as overlays
from redpackets import show_drops
from stage_control.model import Cue

CueAction = overlays.OverlayAction | show_sales.SaleAction | show_drops.LaunchDrop


class ShowFileError(BadRequest):
    code = "bad_show_file"


@dataclass(frozen=True, slots=True)
class ShowDefinition:
    id: str
    title: str
    currency: str
    locales: tuple[str, ...]
    default_locale: str
    timezone: str
    stream_url: str
    cues: tuple[Cue, ...]
    product_cards: Mapping[str, Mapping[str, Any]]
    document: str
    sponsors: Mapping[str, Mapping[str, str]]
    window: tuple[str, str] | None = None  # ("19:30", "00:30"): when sponsors may book times

    def public_info(self) -> dict[str, Any]:
        """What any viewer may know about the show before it starts (no cues, no products)."""
        return {
            "id": self.id,
            "title": self.title,
            "currency": self.currency,
            "currency_exponent": CURRENCY_EXPONENTS[self.currency],
            "locales": list(self.locales),
            "default_locale": self.default_locale,
            "timezone": self.timezone,
            "stream_url": self.stream_url,
        }

    def cue(self, cue_id: str) -> Cue | None:
        return next((cue for cue in self.cues if cue.id == cue_id), None)

    def cue_list(self) -> list[dict[str, Any]]:
        return [
            {
                "id": c.id,
                "number": c.number,
                "label": c.label,
                "notes": c.notes,
                "pre_wait_ms": c.pre_wait_ms,
                "auto_follow_ms": c.auto_follow_ms,
                "does": list(c.summary),
            }
            for c in self.cues
        ]


def load_show_file(path: str) -> ShowDefinition:
    try:
        with open(path, "rb") as handle:
            raw = tomllib.load(handle)
    except OSError as error:
        raise ShowFileError(f"{path}: cannot read: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise ShowFileError(f"{path}: not valid TOML: {error}") from None
    try:
        return parse_show(raw)
    except ShowFileError as error:
        raise ShowFileError(f"{path}: {error.message}") from None


def parse_show_document(document: str) -> ShowDefinition:
    return parse_show(json.loads(document))


def parse_show(raw: Mapping[str, Any]) -> ShowDefinition:
    try:
        document = read_document(raw)
    except DocumentProblem as problem:
        raise ShowFileError(problem.message) from None
    show = document.show
    if show.currency not in CURRENCY_EXPONENTS:
        raise ShowFileError(f"show.currency must be one of {sorted(CURRENCY_EXPONENTS)}")
    try:
        ZoneInfo(show.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ShowFileError(f"show.timezone {show.timezone!r} is not a known time zone") from None
    default_locale = show.default_locale or show.locales[0]
    if default_locale not in show.locales:
        raise ShowFileError("show.default_locale must be one of show.locales")
    sponsors = {sid: {"id": sid, "name": table.name} for sid, table in document.sponsors.items()}
    cards = {
        pid: _product_card(pid, table, sponsors, show.locales, show.currency)
        for pid, table in document.products.items()
    }
    for_sale = {
        pid: {**cards[pid], "stock": table.stock, "per_viewer_limit": table.per_viewer_limit}
        for pid, table in document.products.items()
    }
    ctx = overlays.ActionContext(show.locales, show.timezone, cards)
    return ShowDefinition(
        id=show.id,
        title=show.title,
        currency=show.currency,
        locales=show.locales,
        default_locale=default_locale,
        timezone=show.timezone,
        stream_url=show.stream_url,
        cues=_cues(document.cues, ctx, for_sale, frozenset(sponsors), show.currency),
        product_cards=cards,
        document=json.dumps(raw, ensure_ascii=False, sort_keys=True),
        sponsors=sponsors,
        window=show.window,
    )


def _cues(
    tables: tuple[CueTable, ...],
    ctx: overlays.ActionContext,
    for_sale: Mapping[str, Mapping[str, Any]],
    sponsors: frozenset[str],
    currency: str,
) -> tuple[Cue, ...]:
    seen: set[str] = set()
    cues = []
    for index, table in enumerate(tables):
        where = f"cues[{index}]"
        if table.id in seen:
            raise ShowFileError(f"{where}.id must be a unique id of [a-z0-9-]")
        seen.add(table.id)
        actions = tuple(
            _action(action, f"{where}.actions[{a_index}]", ctx, for_sale, sponsors)
            for a_index, action in enumerate(table.actions)
        )
        cues.append(
            Cue(
                id=table.id,
                number=table.number or str(index + 1),
                label=table.label,
                notes=table.notes,
                pre_wait_ms=table.pre_wait_ms or 0,
                auto_follow_ms=table.auto_follow_ms,
                actions=actions,
                summary=tuple(describe_action(a, currency) for a in actions),
            )
        )
    return tuple(cues)


def _action(
    action: Mapping[str, Any],
    where: str,
    ctx: overlays.ActionContext,
    for_sale: Mapping[str, Mapping[str, Any]],
    sponsors: frozenset[str],
) -> CueAction:
    """One action table, checked by the feature that owns its kind, against the show."""
    try:
        if action.get("do") in show_sales.ACTION_KINDS:
            return show_sales.parse_sale_action(action, for_sale)
        if action.get("do") in show_drops.ACTION_KINDS:
            return show_drops.parse_launch(action, sponsors)
        return overlays.parse_action(action, ctx)
    except (
        overlays.ActionError,
        show_sales.SaleActionError,
        show_drops.DropActionError,
    ) as error:
        raise ShowFileError(f"{where}: {error.message}") from None


def describe_action(action: CueAction, currency: str) -> str:
    """A one-line description of an action for the console's cue list."""
    if isinstance(action, show_sales.OpenSale):
        window = f" for {action.duration_ms // 1000} s" if action.duration_ms else ""
        return f"open the sale of '{action.product_id}'{window}"
    if isinstance(action, show_sales.CloseSale):
        return f"close the sale of '{action.product_id}'"
    if isinstance(action, show_drops.LaunchDrop):
        budget = plain_amount(action.budget_minor, currency)
        return (
            f"drop {action.envelopes} red envelopes ({budget}, "
            f"funded by {action.funder}) in {action.countdown_ms // 1000} s"
        )
    if isinstance(action, overlays.ShowOverlay):
        return f"show {action.overlay.get('kind')} '{action.overlay.get('id')}' on {action.layer}"
    if isinstance(action, overlays.StartCountdown):
        length = (
            f"{action.duration_ms // 1000} s"
            if action.duration_ms is not None
            else f"until {action.until}"
        )
        return f"start countdown '{action.overlay_id}' ({length})"
    if isinstance(action, overlays.UpdateOverlay):
        return f"update '{action.overlay_id}' ({', '.join(action.changes)})"
    if isinstance(action, overlays.HideOverlay):
        return f"hide '{action.overlay_id}'"
    if isinstance(action, overlays.ClearLayer):
        return f"clear layer {action.layer}"
    return "clear every layer"


def _product_card(
    product_id: str,
    table: ProductTable,
    sponsors: Mapping[str, Mapping[str, str]],
    locales: tuple[str, ...],
    currency: str,
) -> dict[str, Any]:
    where = f"products.{product_id}"
    sponsor = sponsors.get(table.sponsor)
    if sponsor is None:
        raise ShowFileError(f"{where}.sponsor must name one of [sponsors]")
    ctx = overlays.ActionContext(locales, "UTC")
    texts = {"do": where, "name": table.name, "description": table.description}
    try:
        name = overlays.localized_text(texts, "name", ctx)
        description = (
            overlays.localized_text(texts, "description", ctx)
            if table.description is not None
            else None
        )
    except overlays.ActionError as error:
        raise ShowFileError(error.message) from None
    card: dict[str, Any] = {
        "id": product_id,
        "name": name,
        "price_minor": table.price_minor,
        "currency": currency,
        "image": table.image,
        "sponsor": dict(sponsor),
    }
    if description is not None:
        card["description"] = description
    return card
