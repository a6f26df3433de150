"""What an approved booking becomes in the run of show (pure): one cue in its slot, whose actions
reveal the sponsor's product card, open its sale at the booked price and launch the booked drop."""

from __future__ import annotations

import pytest

from commerce.show_sales import OpenSale
from gala.kernel.ids import is_valid_id
from gala.runofshow.booked_cues import booked_cue, merged_sheet, product_key
from overlays.model import ShowOverlay
from redpackets.show_drops import LaunchDrop
from sponsors.model import APPROVED, Booking, DropPlan, Product, Slot
from stage_control.model import Cue

PHONE = Product("acme", "x5", {"en": "X5"}, {}, "/x5.svg", 10_000, 50, 2)


def booking(booking_id: str, slot: Slot, **more: object) -> Booking:
    fields: dict[str, object] = {
        "sale_duration_ms": 60_000,
        "flash_price_minor": None,
        "drop": None,
        **more,
    }
    return Booking(
        booking_id,
        "acme",
        "gala",
        "x5",
        slot,
        state=APPROVED,
        created_at_ms=1,
        **fields,  # type: ignore[arg-type]
    )


def test_a_booking_becomes_a_reveal_a_sale_at_the_flash_price_and_the_sponsors_drop() -> None:
    drop = DropPlan(3_000, 3, 1, 0, 60_000)
    item = booked_cue(
        booking("b1", Slot(after_cue="c01"), flash_price_minor=8_000, drop=drop),
        PHONE,
        "Acme",
        "CNY",
        "1+1",
    )
    reveal, sale, launch = item.cue.actions
    assert isinstance(reveal, ShowOverlay) and reveal.overlay["id"] == product_key("acme", "x5")
    assert reveal.overlay["product"]["price_minor"] == 8_000
    assert reveal.overlay["product"]["sponsor"] == {"id": "acme", "name": "Acme"}
    assert isinstance(sale, OpenSale)
    assert (sale.price_minor, sale.stock, sale.per_viewer_limit) == (8_000, 50, 2)
    assert isinstance(launch, LaunchDrop) and launch.funder == "acme"
    assert launch.budget_minor == 3_000 and item.after_cue == "c01"
    plain = booked_cue(booking("b2", Slot(at="21:30")), PHONE, "Acme", "CNY", "@21:30")
    assert len(plain.cue.actions) == 2 and plain.cue.actions[1].price_minor == 10_000


def test_booked_cues_go_after_their_cue_in_booking_order_and_timed_ones_at_the_end() -> None:
    file_cues = [Cue("c01", "1", "One"), Cue("c02", "2", "Two")]
    first = booked_cue(booking("b1", Slot(after_cue="c01")), PHONE, "A", "CNY", "1+1")
    second = booked_cue(booking("b2", Slot(after_cue="c01")), PHONE, "A", "CNY", "1+2")
    late = booked_cue(booking("b3", Slot(at="23:00")), PHONE, "A", "CNY", "@23:00")
    early = booked_cue(booking("b4", Slot(at="21:00")), PHONE, "A", "CNY", "@21:00")
    sheet = merged_sheet(file_cues, [late, first, early, second])
    assert [c.id for c in sheet] == [
        "c01",
        first.cue.id,
        second.cue.id,
        "c02",
        early.cue.id,
        late.cue.id,
    ]
    assert len({c.id for c in sheet}) == 6


def test_a_product_key_is_unique_per_sponsor_and_always_a_valid_id() -> None:
    keys = {product_key(s, p) for s, p in [("acme", "x5-y"), ("acme-x5", "y"), ("a" * 64, "b")]}
    assert len(keys) == 3
    assert all(is_valid_id(key) for key in keys)


def test_a_live_reveals_product_keeps_its_price_and_its_stock_covers_what_is_sold() -> None:
    from sponsors.model import ProductEdit, ProductLocked, check_live_edit, edit_product

    check_live_edit(PHONE, edit_product(PHONE, ProductEdit(stock=7, name={"en": "X5 Pro"})), 7)
    with pytest.raises(ProductLocked):
        check_live_edit(PHONE, edit_product(PHONE, ProductEdit(price_minor=9_999)), 0)
    with pytest.raises(ProductLocked):
        check_live_edit(PHONE, edit_product(PHONE, ProductEdit(stock=6)), 7)


def test_the_next_time_of_day_is_today_or_tomorrow_in_the_shows_time_zone() -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from gala.runofshow.booked_cues import next_time_of_day_ms

    zone = ZoneInfo("Asia/Shanghai")
    now = int(datetime(2026, 11, 10, 23, 30, tzinfo=zone).timestamp() * 1000)
    midnight = next_time_of_day_ms("00:00", "Asia/Shanghai", now)
    assert midnight == int(datetime(2026, 11, 11, 0, 0, tzinfo=zone).timestamp() * 1000)
    soon = next_time_of_day_ms("23:45", "Asia/Shanghai", now)
    assert soon == now + 15 * 60_000
    assert next_time_of_day_ms("23:30", "Asia/Shanghai", now) == now


def test_plain_amounts_are_exact_in_the_currency_major_unit() -> None:
    from gala.kernel.money import plain_amount

    assert plain_amount(888, "CNY") == "CNY 8.88"
    assert plain_amount(399_900, "CNY") == "CNY 3,999.00"
    assert plain_amount(5, "JPY") == "JPY 5"
    assert plain_amount(-1_234_567, "USD") == "USD -12,345.67"
