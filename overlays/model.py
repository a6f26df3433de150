"""The overlay rules: which actions a cue may carry, the events they produce, and the screen fold.

A screen has five layers (`LAYERS`); each shows at most one overlay at a time, and showing another
replaces it. Actions are parsed and validated once, when a show file is loaded (`parse_action`),
so a cue never fails at GO. Executing an action (`events_for`) is pure: it turns the action and the
program time into public events. `fold` applies one event to a `Screen`; the snapshot a viewer
gets is the fold of the whole log, and the tests check snapshot + later events == fresh snapshot.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from zoneinfo import ZoneInfo

from gala.kernel.errors import BadRequest
from gala.kernel.ids import is_valid_id
from gala.kernel.showlog import NewEvent

LAYERS: tuple[str, ...] = ("product_card", "lower_third", "banner", "countdown", "fullscreen")
UPDATABLE_FIELDS: tuple[str, ...] = ("text", "title", "subtitle", "body", "label")

Localized = Mapping[str, str]

# Public event types this module produces and folds.
OVERLAY_SHOWN = "overlay.shown"
OVERLAY_UPDATED = "overlay.updated"
OVERLAY_HIDDEN = "overlay.hidden"
LAYER_CLEARED = "layer.cleared"
STAGE_CLEARED = "stage.cleared"
EVENT_TYPES: tuple[str, ...] = (
    OVERLAY_SHOWN,
    OVERLAY_UPDATED,
    OVERLAY_HIDDEN,
    LAYER_CLEARED,
    STAGE_CLEARED,
)


class ActionError(BadRequest):
    code = "bad_action"


# --- actions ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ShowOverlay:
    """Put `overlay` (already complete, JSON-ready) on `layer`."""

    layer: str
    overlay: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class StartCountdown:
    """Show a countdown ending after `duration_ms`, or at the next `until` time of day."""

    overlay_id: str
    label: Localized
    duration_ms: int | None
    until: dt.time | None
    timezone: str


@dataclass(frozen=True, slots=True)
class UpdateOverlay:
    overlay_id: str
    changes: Mapping[str, Localized]


@dataclass(frozen=True, slots=True)
class HideOverlay:
    overlay_id: str


@dataclass(frozen=True, slots=True)
class ClearLayer:
    layer: str


@dataclass(frozen=True, slots=True)
class ClearStage:
    pass


OverlayAction = ShowOverlay | StartCountdown | UpdateOverlay | HideOverlay | ClearLayer | ClearStage

ACTION_KINDS: tuple[str, ...] = (
    "banner.show",
    "lower_third.show",
    "fullscreen.show",
    "product.show",
    "countdown.start",
    "overlay.update",
    "overlay.hide",
    "layer.clear",
    "stage.clear",
)


@dataclass(frozen=True, slots=True)
class ActionContext:
    """What parsing needs from the show: its languages, time zone and product cards."""

    locales: Sequence[str]
    timezone: str
    product_cards: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


def parse_action(raw: Mapping[str, Any], ctx: ActionContext) -> OverlayAction:
    """Validate one action table from a show file; raise `ActionError` naming what is wrong."""
    kind = raw.get("do")
    if kind not in ACTION_KINDS:
        raise ActionError(f"unknown action {kind!r}; expected one of {', '.join(ACTION_KINDS)}")
    if kind == "banner.show":
        oid = _overlay_id(raw)
        return ShowOverlay(
            "banner", {"id": oid, "kind": "banner", "text": localized_text(raw, "text", ctx)}
        )
    if kind == "lower_third.show":
        oid = _overlay_id(raw)
        overlay: dict[str, Any] = {
            "id": oid,
            "kind": "lower_third",
            "title": localized_text(raw, "title", ctx),
        }
        if "subtitle" in raw:
            overlay["subtitle"] = localized_text(raw, "subtitle", ctx)
        return ShowOverlay("lower_third", overlay)
    if kind == "fullscreen.show":
        oid = _overlay_id(raw)
        overlay = {"id": oid, "kind": "fullscreen", "title": localized_text(raw, "title", ctx)}
        if "body" in raw:
            overlay["body"] = localized_text(raw, "body", ctx)
        if "image" in raw:
            overlay["image"] = _string(raw, "image")
        return ShowOverlay("fullscreen", overlay)
    if kind == "product.show":
        product_id = _string(raw, "product")
        card = ctx.product_cards.get(product_id)
        if card is None:
            raise ActionError(f"product.show names unknown product {product_id!r}")
        return ShowOverlay("product_card", {"id": product_id, "kind": "product", "product": card})
    if kind == "countdown.start":
        return _parse_countdown(raw, ctx)
    if kind == "overlay.update":
        changes = {name: localized_text(raw, name, ctx) for name in UPDATABLE_FIELDS if name in raw}
        if not changes:
            raise ActionError(f"overlay.update needs one of {', '.join(UPDATABLE_FIELDS)}")
        return UpdateOverlay(_overlay_id(raw), changes)
    if kind == "overlay.hide":
        return HideOverlay(_overlay_id(raw))
    if kind == "layer.clear":
        layer = raw.get("layer")
        if layer not in LAYERS:
            raise ActionError(f"layer.clear needs a layer, one of {', '.join(LAYERS)}")
        return ClearLayer(layer)
    return ClearStage()


def _parse_countdown(raw: Mapping[str, Any], ctx: ActionContext) -> StartCountdown:
    oid = _overlay_id(raw)
    label = localized_text(raw, "label", ctx)
    duration = raw.get("duration_ms")
    until = raw.get("until")
    if (duration is None) == (until is None):
        raise ActionError("countdown.start needs exactly one of duration_ms or until")
    if duration is not None:
        if type(duration) is not int or not 0 < duration <= 7 * 24 * 3_600_000:
            raise ActionError("countdown.start duration_ms must be a positive integer (ms)")
        return StartCountdown(oid, label, duration, None, ctx.timezone)
    try:
        until_time = dt.time.fromisoformat(str(until))
    except ValueError:
        raise ActionError(f"countdown.start until must be HH:MM, got {until!r}") from None
    return StartCountdown(oid, label, None, until_time, ctx.timezone)


def _overlay_id(raw: Mapping[str, Any]) -> str:
    oid = raw.get("id")
    if not is_valid_id(oid):
        raise ActionError(f"{raw.get('do')} needs an id of [a-z0-9-] (got {oid!r})")
    assert isinstance(oid, str)
    return oid


def _string(raw: Mapping[str, Any], name: str) -> str:
    value = raw.get(name)
    if not isinstance(value, str) or not value or len(value) > 500:
        raise ActionError(f"{raw.get('do')} needs {name} as a non-empty string")
    return value


def localized_text(raw: Mapping[str, Any], name: str, ctx: ActionContext) -> dict[str, str]:
    """A text in the show's languages: a table locale -> text (a plain string means all)."""
    value = raw.get(name)
    if isinstance(value, str) and value:
        return {locale: value for locale in ctx.locales}
    if not isinstance(value, Mapping) or not value:
        raise ActionError(f"{raw.get('do')} needs {name} as a text or a table of locales")
    unknown = sorted(set(value) - set(ctx.locales))
    if unknown:
        raise ActionError(f"{raw.get('do')} {name} has locales the show lacks: {unknown}")
    if not all(isinstance(text, str) and 0 < len(text) <= 500 for text in value.values()):
        raise ActionError(f"{raw.get('do')} {name} texts must be non-empty strings")
    return dict(value)


# --- execution ---------------------------------------------------------------------------------


def events_for(action: OverlayAction, program_time_ms: int) -> list[NewEvent]:
    """The public events one action produces when its cue executes at `program_time_ms`."""
    if isinstance(action, ShowOverlay):
        data = {"layer": action.layer, "overlay": dict(action.overlay)}
        return [NewEvent(OVERLAY_SHOWN, program_time_ms, data)]
    if isinstance(action, StartCountdown):
        ends_at_ms = countdown_end_ms(action, program_time_ms)
        overlay = {
            "id": action.overlay_id,
            "kind": "countdown",
            "label": dict(action.label),
            "ends_at_ms": ends_at_ms,
        }
        return [
            NewEvent(OVERLAY_SHOWN, program_time_ms, {"layer": "countdown", "overlay": overlay})
        ]
    if isinstance(action, UpdateOverlay):
        changes = {name: dict(text) for name, text in action.changes.items()}
        return [
            NewEvent(
                OVERLAY_UPDATED, program_time_ms, {"id": action.overlay_id, "changes": changes}
            )
        ]
    if isinstance(action, HideOverlay):
        return [NewEvent(OVERLAY_HIDDEN, program_time_ms, {"id": action.overlay_id})]
    if isinstance(action, ClearLayer):
        return [NewEvent(LAYER_CLEARED, program_time_ms, {"layer": action.layer})]
    return [NewEvent(STAGE_CLEARED, program_time_ms, {})]


def countdown_end_ms(action: StartCountdown, program_time_ms: int) -> int:
    if action.duration_ms is not None:
        return program_time_ms + action.duration_ms
    assert action.until is not None
    zone = ZoneInfo(action.timezone)
    now = dt.datetime.fromtimestamp(program_time_ms / 1000, tz=zone)
    target = dt.datetime.combine(now.date(), action.until, tzinfo=zone)
    if target <= now:
        target = dt.datetime.combine(now.date() + dt.timedelta(days=1), action.until, tzinfo=zone)
    return int(target.timestamp() * 1000)


# --- the screen fold ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Screen:
    """What is drawn over the picture: one overlay (a JSON-ready mapping) or none per layer."""

    layers: Mapping[str, Mapping[str, Any] | None] = field(
        default_factory=lambda: dict.fromkeys(LAYERS)
    )

    def as_wire(self) -> dict[str, Any]:
        return {
            layer: (dict(overlay) if overlay is not None else None)
            for layer, overlay in self.layers.items()
        }


def fold(screen: Screen, event_type: str, data: Mapping[str, Any]) -> Screen:
    """Apply one public event; events of other features leave the screen as it is."""
    if event_type == OVERLAY_SHOWN:
        return _with_layers(screen, {data["layer"]: data["overlay"]})
    if event_type == OVERLAY_UPDATED:
        layer = _layer_showing(screen, data["id"])
        if layer is None:
            return screen
        current = screen.layers[layer]
        assert current is not None
        return _with_layers(screen, {layer: {**current, **data["changes"]}})
    if event_type == OVERLAY_HIDDEN:
        layer = _layer_showing(screen, data["id"])
        return screen if layer is None else _with_layers(screen, {layer: None})
    if event_type == LAYER_CLEARED:
        return _with_layers(screen, {data["layer"]: None})
    if event_type == STAGE_CLEARED:
        return Screen()
    return screen


def _layer_showing(screen: Screen, overlay_id: str) -> str | None:
    for layer, overlay in screen.layers.items():
        if overlay is not None and overlay.get("id") == overlay_id:
            return layer
    return None


def _with_layers(screen: Screen, changes: Mapping[str, Mapping[str, Any] | None]) -> Screen:
    return replace(screen, layers={**screen.layers, **changes})
