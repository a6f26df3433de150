"""The pure rules of sponsors: product validation, booking requests, slots, conflicts, states.
The commands are typed; what only a body's types could get wrong (a text for a number, an unknown
field) is the HTTP edge's, and tests/unit/test_sponsor_bodies.py checks it keeps these codes."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from sponsors import model
from sponsors.model import (
    Booking,
    BookingRequest,
    DropPlan,
    NewProduct,
    ProductEdit,
    ShowFacts,
    Slot,
)

SHOW = ShowFacts("gala", ("en", "zh"), frozenset({"c01", "c02"}), window=("19:30", "00:30"))
PRODUCT = NewProduct(
    product_id="x5",
    name={"en": "Aurora X5", "zh": "极光 X5"},
    description={"en": "A phone"},
    image_url="https://cdn.example/x5.png",
    price_minor=399_900,
    stock=300,
    per_viewer_limit=2,
)
REQUEST = BookingRequest("gala", "x5", Slot(after_cue="c01"), sale_duration_ms=600_000)


def product(**changes: Any) -> model.Product:
    return model.new_product("aurora", replace(PRODUCT, **changes))


def request(**changes: Any) -> BookingRequest:
    return replace(REQUEST, **changes)


def booking(booking_id: str = "bk-1", sponsor: str = "aurora", **changes: Any) -> Booking:
    made = model.book(
        request(**changes), booking_id, sponsor, replace(product(), sponsor_id=sponsor), SHOW, 5
    )
    return made


def drop(budget: int) -> DropPlan:
    return DropPlan(budget_minor=budget, envelopes=10)


# --- products ---


def test_a_valid_product_keeps_every_field_and_round_trips_through_the_wire() -> None:
    made = product()
    assert made.sponsor_id == "aurora" and made.product_id == "x5"
    assert model.Product.from_wire(made.as_wire()) == made


@pytest.mark.parametrize(
    "changes",
    [
        {"product_id": "Not An Id"},
        {"name": {}},
        {"name": {"en": ""}},
        {"name": {"en": "   "}},
        {"name": {"EN!": "x"}},
        {"name": {"en": "x" * 121}},
        {"description": {"en": "x" * 2001}},
        {"price_minor": 0},
        {"price_minor": True},
        {"stock": -1},
        {"stock": 10_000_001},
        {"per_viewer_limit": 0},
        {"image_url": "javascript:alert(1)"},
        {"image_url": "/" + "x" * 500},
    ],
)
def test_a_bad_product_is_refused_with_bad_product(changes: dict[str, Any]) -> None:
    with pytest.raises(model.BadProduct):
        product(**changes)


def test_editing_a_product_changes_only_the_given_fields_and_never_its_id() -> None:
    edited = model.edit_product(product(), ProductEdit(price_minor=299_900, stock=10))
    assert (edited.price_minor, edited.stock, edited.name) == (299_900, 10, product().name)
    assert model.edit_product(product(), ProductEdit(product_id="x5")) == product()
    with pytest.raises(model.BadProduct):
        model.edit_product(product(), ProductEdit(product_id="other"))
    with pytest.raises(model.BadProduct):
        model.edit_product(product(), ProductEdit(stock=-5))


# --- booking requests and slots ---


@pytest.mark.parametrize(
    "changes",
    [
        {"slot": Slot()},
        {"slot": Slot(after_cue="c01", at="20:00")},
        {"slot": Slot(at="25:00")},
        {"slot": Slot(at="8:00")},
        {"slot": Slot(after_cue="C 1")},
        {"sale_duration_ms": 5},
        {"sale_duration_ms": 3_600_001},
        {"flash_price_minor": 0},
        {"drop": DropPlan(budget_minor=5, envelopes=10)},
        {"drop": DropPlan(budget_minor=100, envelopes=0)},
        {"drop": DropPlan(budget_minor=100, envelopes=1, duration_ms=999)},
        {"show_id": "Not An Id"},
        {"product_id": ""},
    ],
)
def test_a_malformed_booking_request_is_refused_with_bad_booking(changes: dict[str, Any]) -> None:
    with pytest.raises(model.BadBooking):
        model.check_request(request(**changes))
    with pytest.raises(model.BadBooking):
        booking(**changes)


def test_a_booking_after_a_cue_of_the_show_is_pending_and_round_trips() -> None:
    made = booking(drop=drop(1000), flash_price_minor=299_900)
    assert made.state == model.PENDING and made.slot_key == "gala/cue:c01"
    assert made.reserved_minor == 1000
    assert Booking.from_wire(made.as_wire()) == made


def test_a_cue_the_show_does_not_have_is_outside_the_show() -> None:
    with pytest.raises(model.SlotOutsideShow):
        booking(slot=Slot(after_cue="c99"))


@pytest.mark.parametrize(
    ("at", "inside"),
    [
        ("19:30", True),
        ("23:59", True),
        ("00:00", True),
        ("00:30", True),
        ("00:31", False),
        ("12:00", False),
        ("19:29", False),
    ],
)
def test_a_time_of_day_must_fall_in_the_show_window_even_past_midnight(
    at: str, inside: bool
) -> None:
    assert SHOW.has_slot(Slot(at=at)) is inside
    if not inside:
        with pytest.raises(model.SlotOutsideShow):
            booking(slot=Slot(at=at))


def test_a_show_without_a_window_takes_any_time_of_day() -> None:
    assert replace(SHOW, window=None).has_slot(Slot(at="04:00"))
    assert ShowFacts("s", ("en",), frozenset(), ("10:00", "12:00")).has_slot(Slot(at="11:00"))


def test_another_sponsors_product_or_none_is_an_unknown_product() -> None:
    with pytest.raises(model.UnknownProduct):
        model.book(request(), "bk-1", "borealis", product(), SHOW, 0)
    with pytest.raises(model.UnknownProduct):
        model.book(request(), "bk-1", "aurora", None, SHOW, 0)


def test_a_product_without_stock_cannot_be_booked() -> None:
    with pytest.raises(model.NoStock):
        model.book(request(), "bk-1", "aurora", product(stock=0), SHOW, 0)


def test_a_product_needs_a_name_in_every_language_of_the_show() -> None:
    with pytest.raises(model.MissingTranslation):
        model.book(request(), "bk-1", "aurora", product(name={"en": "X5"}), SHOW, 0)


def test_a_flash_price_must_be_below_the_price() -> None:
    with pytest.raises(model.BadBooking):
        booking(flash_price_minor=399_900)


# --- conflicts ---


def test_a_holding_booking_on_the_same_slot_takes_it_whoever_the_sponsor() -> None:
    first = booking("bk-1")
    with pytest.raises(model.SlotTaken):
        model.check_conflicts(booking("bk-2", sponsor="borealis"), [first], 0)
    approved = model.approve(first, "ann", 6)
    with pytest.raises(model.SlotTaken):
        model.check_conflicts(booking("bk-2"), [approved], 0)


def test_a_rejected_or_withdrawn_booking_frees_its_slot_and_its_budget() -> None:
    first = booking("bk-1", drop=drop(1000))
    freed = [model.reject(first, "ann", "not tonight", 6), model.withdraw(first, "aurora", 6)]
    for other in freed:
        model.check_conflicts(booking("bk-2", drop=drop(1000)), [other], 1000)


def test_other_slots_and_other_shows_do_not_conflict() -> None:
    first = booking("bk-1")
    model.check_conflicts(booking("bk-2", slot=Slot(after_cue="c02")), [first], 0)
    model.check_conflicts(booking("bk-3", slot=Slot(at="20:00")), [first], 0)
    elsewhere = replace(first, show_id="other-gala")
    model.check_conflicts(booking("bk-4"), [elsewhere], 0)


def test_a_drop_must_fit_the_budget_minus_what_the_sponsors_holding_bookings_reserve() -> None:
    held = booking("bk-1", drop=drop(600))
    fits = booking("bk-2", slot=Slot(after_cue="c02"), drop=drop(400))
    model.check_conflicts(fits, [held], 1000)
    too_much = booking("bk-3", slot=Slot(after_cue="c02"), drop=drop(401))
    with pytest.raises(model.InsufficientBudget):
        model.check_conflicts(too_much, [held], 1000)
    with pytest.raises(model.InsufficientBudget):
        model.check_conflicts(booking("bk-4", drop=drop(10)), [], 9)


def test_another_sponsors_reservations_do_not_touch_my_budget() -> None:
    theirs = booking("bk-1", sponsor="borealis", drop=drop(900))
    mine = booking("bk-2", slot=Slot(after_cue="c02"), drop=drop(1000))
    model.check_conflicts(mine, [theirs], 1000)


def test_a_booking_without_a_drop_needs_no_budget() -> None:
    model.check_conflicts(booking("bk-1"), [], 0)


# --- states ---


def test_only_a_pending_booking_can_be_approved_rejected_or_withdrawn() -> None:
    pending = booking()
    approved = model.approve(pending, "ann", 7)
    assert (approved.state, approved.decided_by, approved.decided_at_ms) == ("approved", "ann", 7)
    rejected = model.reject(pending, "ann", "  clashes with the host  ", 7)
    assert (rejected.state, rejected.reason) == ("rejected", "clashes with the host")
    assert model.withdraw(pending, "aurora", 7).state == "withdrawn"
    for done in (approved, rejected, model.withdraw(pending, "aurora", 7)):
        with pytest.raises(model.BookingNotPending):
            model.approve(done, "ann", 8)
        with pytest.raises(model.BookingNotPending):
            model.reject(done, "ann", "no", 8)
        with pytest.raises(model.BookingNotPending):
            model.withdraw(done, "aurora", 8)


@pytest.mark.parametrize("reason", ["", "   ", "x" * 501])
def test_a_rejection_needs_a_reason(reason: str) -> None:
    with pytest.raises(model.BadBooking):
        model.reject(booking(), "ann", reason, 7)


def test_a_sponsor_cannot_withdraw_another_sponsors_booking() -> None:
    with pytest.raises(model.UnknownBooking):
        model.withdraw(booking(), "borealis", 7)
