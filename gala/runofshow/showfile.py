"""Show files: the human-editable TOML run of show that `gala` loads (format in docs/shows.md).

`parse_show` validates a whole document up front and names the first problem with its place
("cues[3].actions[0]: ..."), so a show that loads never fails at GO. The parsed `ShowDefinition`
holds the cue sheet (stage control's `Cue`s, whose actions are overlay actions) and the public
product cards. The raw document is what the store keeps, so every node parses the same show.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from commerce import show_sales
from gala.kernel.errors import BadRequest
from gala.kernel.ids import is_valid_id
from gala.kernel.money import CURRENCY_EXPONENTS
from overlays import model as overlays
from redpackets import show_drops
from stage_control.model import Cue

MAX_CUES = 2000
TIME_OF_DAY = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")

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
    show = _table(raw, "show", "show")
    show_id = show.get("id")
    if not is_valid_id(show_id):
        raise ShowFileError("show.id must match [a-z0-9][a-z0-9-]{0,63}")
    locales = show.get("locales")
    if (
        not isinstance(locales, list)
        or not locales
        or not all(isinstance(loc, str) and 2 <= len(loc) <= 10 for loc in locales)
    ):
        raise ShowFileError("show.locales must be a list of language tags")
    currency = show.get("currency")
    if currency not in CURRENCY_EXPONENTS:
        raise ShowFileError(f"show.currency must be one of {sorted(CURRENCY_EXPONENTS)}")
    timezone = show.get("timezone", "UTC")
    try:
        ZoneInfo(str(timezone))
    except (ZoneInfoNotFoundError, ValueError):
        raise ShowFileError(f"show.timezone {timezone!r} is not a known time zone") from None
    default_locale = show.get("default_locale", locales[0])
    if default_locale not in locales:
        raise ShowFileError("show.default_locale must be one of show.locales")
    window = _window(show.get("window"))
    sponsors = {
        sid: _sponsor(sid, table)
        for sid, table in _table(raw, "sponsors", "sponsors", optional=True).items()
    }
    ctx_locales = tuple(locales)
    cards = {
        pid: _product_card(pid, table, sponsors, ctx_locales, str(currency))
        for pid, table in _table(raw, "products", "products", optional=True).items()
    }
    for_sale = {
        pid: {**cards[pid], **_stock_terms(pid, table)}
        for pid, table in _table(raw, "products", "products", optional=True).items()
    }
    ctx = overlays.ActionContext(ctx_locales, str(timezone), cards)
    cues = _cues(raw.get("cues"), ctx, for_sale, frozenset(sponsors))
    return ShowDefinition(
        id=str(show_id),
        title=_text(show, "title", "show"),
        currency=str(currency),
        locales=ctx_locales,
        default_locale=str(default_locale),
        timezone=str(timezone),
        stream_url=str(show.get("stream_url", "")),
        cues=cues,
        product_cards=cards,
        document=json.dumps(raw, ensure_ascii=False, sort_keys=True),
        sponsors=sponsors,
        window=window,
    )


def _window(raw: Any) -> tuple[str, str] | None:
    """`window = ["19:30", "00:30"]`: the times of day (show's time zone) the show runs; a
    window that ends before it starts runs past midnight."""
    if raw is None:
        return None
    if (
        not isinstance(raw, list)
        or len(raw) != 2
        or not all(isinstance(t, str) and TIME_OF_DAY.fullmatch(t) for t in raw)
    ):
        raise ShowFileError('show.window must be ["HH:MM", "HH:MM"] (24-hour clock)')
    return (raw[0], raw[1])


def _cues(
    raw: Any,
    ctx: overlays.ActionContext,
    for_sale: Mapping[str, Mapping[str, Any]],
    sponsors: frozenset[str],
) -> tuple[Cue, ...]:
    if not isinstance(raw, list) or not 0 < len(raw) <= MAX_CUES:
        raise ShowFileError(f"cues must be a list of 1 to {MAX_CUES} [[cues]] tables")
    seen: set[str] = set()
    cues = []
    for index, table in enumerate(raw):
        where = f"cues[{index}]"
        if not isinstance(table, Mapping):
            raise ShowFileError(f"{where} must be a table")
        cue_id = table.get("id")
        if not is_valid_id(cue_id) or cue_id in seen:
            raise ShowFileError(f"{where}.id must be a unique id of [a-z0-9-]")
        seen.add(str(cue_id))
        actions_raw = table.get("actions", [])
        if not isinstance(actions_raw, list):
            raise ShowFileError(f"{where}.actions must be a list of tables")
        actions: list[CueAction] = []
        for a_index, action in enumerate(actions_raw):
            if not isinstance(action, Mapping):
                raise ShowFileError(f"{where}.actions[{a_index}] must be a table")
            try:
                if action.get("do") in show_sales.ACTION_KINDS:
                    actions.append(show_sales.parse_sale_action(action, for_sale))
                elif action.get("do") in show_drops.ACTION_KINDS:
                    actions.append(show_drops.parse_launch(action, sponsors))
                else:
                    actions.append(overlays.parse_action(action, ctx))
            except (
                overlays.ActionError,
                show_sales.SaleActionError,
                show_drops.DropActionError,
            ) as error:
                raise ShowFileError(f"{where}.actions[{a_index}]: {error.message}") from None
        cues.append(
            Cue(
                id=str(cue_id),
                number=str(table.get("number", index + 1)),
                label=_text(table, "label", where),
                notes=str(table.get("notes", "")),
                pre_wait_ms=_ms(table, "pre_wait_ms", where) or 0,
                auto_follow_ms=_ms(table, "auto_follow_ms", where),
                actions=tuple(actions),
                summary=tuple(describe_action(a) for a in actions),
            )
        )
    return tuple(cues)


def describe_action(action: CueAction) -> str:
    """A one-line description of an action for the console's cue list."""
    if isinstance(action, show_sales.OpenSale):
        window = f" for {action.duration_ms // 1000} s" if action.duration_ms else ""
        return f"open the sale of '{action.product_id}'{window}"
    if isinstance(action, show_sales.CloseSale):
        return f"close the sale of '{action.product_id}'"
    if isinstance(action, show_drops.LaunchDrop):
        return (
            f"drop {action.envelopes} red envelopes ({action.budget_minor} minor units, "
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


def _sponsor(sponsor_id: str, table: Any) -> dict[str, str]:
    if not is_valid_id(sponsor_id) or not isinstance(table, Mapping):
        raise ShowFileError(f"sponsors.{sponsor_id} must be a table with a valid id")
    return {"id": sponsor_id, "name": _text(table, "name", f"sponsors.{sponsor_id}")}


def _product_card(
    product_id: str,
    table: Any,
    sponsors: Mapping[str, Mapping[str, str]],
    locales: tuple[str, ...],
    currency: str,
) -> dict[str, Any]:
    where = f"products.{product_id}"
    if not is_valid_id(product_id) or not isinstance(table, Mapping):
        raise ShowFileError(f"{where} must be a table with a valid id")
    sponsor = sponsors.get(str(table.get("sponsor")))
    if sponsor is None:
        raise ShowFileError(f"{where}.sponsor must name one of [sponsors]")
    price = table.get("price_minor")
    if type(price) is not int or price <= 0:
        raise ShowFileError(f"{where}.price_minor must be a positive integer (minor units)")
    ctx = overlays.ActionContext(locales, "UTC")
    try:
        name = overlays.localized_text({**table, "do": where}, "name", ctx)
        description = (
            overlays.localized_text({**table, "do": where}, "description", ctx)
            if "description" in table
            else None
        )
    except overlays.ActionError as error:
        raise ShowFileError(error.message) from None
    card: dict[str, Any] = {
        "id": product_id,
        "name": name,
        "price_minor": price,
        "currency": currency,
        "image": str(table.get("image", "")),
        "sponsor": dict(sponsor),
    }
    if description is not None:
        card["description"] = description
    return card


def _stock_terms(product_id: str, table: Mapping[str, Any]) -> dict[str, int]:
    """The product's stock and per-viewer limit: private until a sale opens."""
    where = f"products.{product_id}"
    stock = table.get("stock", 0)
    if type(stock) is not int or stock < 0:
        raise ShowFileError(f"{where}.stock must be a non-negative integer")
    limit = table.get("per_viewer_limit", 1)
    if type(limit) is not int or not 1 <= limit <= 1000:
        raise ShowFileError(f"{where}.per_viewer_limit must be a whole number from 1 to 1000")
    return {"stock": stock, "per_viewer_limit": limit}


def _table(
    raw: Mapping[str, Any], name: str, where: str, optional: bool = False
) -> Mapping[str, Any]:
    value = raw.get(name)
    if value is None and optional:
        return {}
    if not isinstance(value, Mapping):
        raise ShowFileError(f"[{where}] table is missing")
    return value


def _text(table: Mapping[str, Any], name: str, where: str) -> str:
    value = table.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ShowFileError(f"{where}.{name} must be a non-empty string")
    return value


def _ms(table: Mapping[str, Any], name: str, where: str) -> int | None:
    value = table.get(name)
    if value is None:
        return None
    if type(value) is not int or not 0 <= value <= 24 * 3_600_000:
        raise ShowFileError(f"{where}.{name} must be a whole number of milliseconds")
    return value
