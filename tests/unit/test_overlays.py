"""Overlay actions, their events, and the screen fold."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from overlays import model as o

CTX = o.ActionContext(
    ("en", "zh"), "Asia/Shanghai", {"p1": {"id": "p1", "name": {"en": "Phone"}, "price_minor": 100}}
)


def run(screen: o.Screen, action: dict[str, object], at_ms: int = 1000) -> o.Screen:
    for event in o.events_for(o.parse_action(action, CTX), at_ms):
        screen = o.fold(screen, event.type, event.data)
    return screen


def test_show_update_hide_clear_on_layers() -> None:
    screen = run(o.Screen(), {"do": "banner.show", "id": "b1", "text": "Hi"})
    assert screen.layers["banner"] == {
        "id": "b1",
        "kind": "banner",
        "text": {"en": "Hi", "zh": "Hi"},
    }
    screen = run(screen, {"do": "overlay.update", "id": "b1", "text": {"en": "Bye"}})
    assert screen.layers["banner"]["text"] == {"en": "Bye"}  # type: ignore[index]
    screen = run(screen, {"do": "product.show", "product": "p1"})
    assert screen.layers["product_card"]["product"]["price_minor"] == 100  # type: ignore[index]
    screen = run(screen, {"do": "overlay.hide", "id": "b1"})
    assert screen.layers["banner"] is None
    screen = run(screen, {"do": "layer.clear", "layer": "product_card"})
    assert all(overlay is None for overlay in screen.layers.values())


def test_showing_on_a_busy_layer_replaces_the_overlay() -> None:
    screen = run(o.Screen(), {"do": "lower_third.show", "id": "a", "title": "A"})
    screen = run(screen, {"do": "lower_third.show", "id": "b", "title": "B"})
    assert screen.layers["lower_third"]["id"] == "b"  # type: ignore[index]


def test_update_or_hide_of_an_overlay_not_shown_changes_nothing() -> None:
    screen = run(o.Screen(), {"do": "banner.show", "id": "b1", "text": "Hi"})
    assert run(screen, {"do": "overlay.update", "id": "zz", "text": "x"}) == screen
    assert run(screen, {"do": "overlay.hide", "id": "zz"}) == screen


def test_stage_clear_empties_every_layer() -> None:
    screen = run(o.Screen(), {"do": "banner.show", "id": "b1", "text": "Hi"})
    screen = run(screen, {"do": "countdown.start", "id": "c", "label": "L", "duration_ms": 5})
    assert run(screen, {"do": "stage.clear"}) == o.Screen()


def test_countdown_to_midnight_ends_at_the_next_midnight_in_the_show_time_zone() -> None:
    zone = ZoneInfo("Asia/Shanghai")
    at = dt.datetime(2026, 11, 10, 22, 30, tzinfo=zone)
    at_ms = int(at.timestamp() * 1000)
    screen = run(
        o.Screen(), {"do": "countdown.start", "id": "m", "label": "M", "until": "00:00"}, at_ms
    )
    ends = screen.layers["countdown"]["ends_at_ms"]  # type: ignore[index]
    assert ends == int(dt.datetime(2026, 11, 11, 0, 0, tzinfo=zone).timestamp() * 1000)
    screen = run(
        o.Screen(), {"do": "countdown.start", "id": "d", "label": "D", "duration_ms": 60_000}, at_ms
    )
    assert screen.layers["countdown"]["ends_at_ms"] == at_ms + 60_000  # type: ignore[index]


@pytest.mark.parametrize(
    "action, fragment",
    [
        ({"do": "explode"}, "unknown action"),
        ({"do": "banner.show", "id": "B!", "text": "x"}, "needs an id"),
        ({"do": "banner.show", "id": "b"}, "needs text"),
        ({"do": "banner.show", "id": "b", "text": {"de": "x"}}, "locales the show lacks"),
        ({"do": "product.show", "product": "nope"}, "unknown product"),
        ({"do": "countdown.start", "id": "c", "label": "x"}, "exactly one of"),
        ({"do": "countdown.start", "id": "c", "label": "x", "duration_ms": -5}, "positive"),
        ({"do": "countdown.start", "id": "c", "label": "x", "until": "25:99"}, "HH:MM"),
        ({"do": "overlay.update", "id": "b"}, "needs one of"),
        ({"do": "layer.clear", "layer": "sky"}, "needs a layer"),
    ],
)
def test_bad_actions_are_refused_with_a_reason(action: dict[str, object], fragment: str) -> None:
    with pytest.raises(o.ActionError) as refused:
        o.parse_action(action, CTX)
    assert fragment in refused.value.message
    assert refused.value.code == "bad_action"
