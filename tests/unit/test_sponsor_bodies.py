"""The sponsor API's bodies, from JSON to the sponsors feature's typed commands: whichever layer
refuses a body (the pydantic model for its types, the rules for their bounds), the code is the
service's own (`bad_product`, `bad_booking`), and a valid body becomes the command it says."""

from __future__ import annotations

from typing import Any

import pytest

from gala.http.bodies import BookingInput, ProductChanges, ProductInput, parse
from gala.http.sponsor_api import booking_request_of, new_product_of, product_edit_of
from gala.kernel.errors import GalaError
from sponsors import model
from sponsors.model import BookingRequest, DropPlan, NewProduct, ProductEdit, ShowFacts, Slot

PRODUCT: dict[str, Any] = {
    "id": "x5",
    "name": {"en": "Aurora X5"},
    "price_minor": 399_900,
    "stock": 300,
}
BOOKING: dict[str, Any] = {
    "show_id": "gala",
    "product_id": "x5",
    "slot": {"after_cue": "c01"},
    "sale_duration_ms": 600_000,
}
SHOW = ShowFacts("gala", ("en",), frozenset({"c01"}))


def code_of(call: Any) -> str:
    try:
        call()
    except GalaError as refused:
        return refused.code
    return "ok"


def created(raw: dict[str, Any]) -> model.Product:
    return model.new_product("aurora", new_product_of(parse(ProductInput, raw)))


def edited(raw: dict[str, Any]) -> model.Product:
    current = created(PRODUCT)
    return model.edit_product(current, product_edit_of(parse(ProductChanges, raw)))


def booked(raw: dict[str, Any]) -> model.Booking:
    request = booking_request_of(parse(BookingInput, raw))
    return model.book(request, "bk-1", "aurora", created(PRODUCT), SHOW, 0)


def test_valid_bodies_become_the_commands_they_say() -> None:
    assert new_product_of(parse(ProductInput, PRODUCT)) == NewProduct(
        "x5", {"en": "Aurora X5"}, price_minor=399_900, stock=300
    )
    assert product_edit_of(parse(ProductChanges, {"stock": 9})) == ProductEdit(stock=9)
    drop = {"budget_minor": 1000, "envelopes": 10}
    at = {**BOOKING, "slot": {"at": "20:00"}, "drop": drop, "flash_price_minor": 100}
    assert booking_request_of(parse(BookingInput, at)) == BookingRequest(
        "gala", "x5", Slot(at="20:00"), 600_000, 100, DropPlan(1000, 10, 1, 5_000, 30_000)
    )
    assert booked(BOOKING).slot == Slot(after_cue="c01")


@pytest.mark.parametrize(
    "changes",
    [
        {"id": "Not An Id"},
        {"name": {}},
        {"name": "Aurora"},
        {"name": {"en": ""}},
        {"name": {"EN!": "x"}},
        {"name": {"en": "x" * 121}},
        {"description": {"en": 3}},
        {"price_minor": 0},
        {"price_minor": 1.5},
        {"price_minor": True},
        {"price_minor": "100"},
        {"stock": -1},
        {"per_viewer_limit": 0},
        {"image_url": "javascript:alert(1)"},
        {"image_url": 42},
        {"colour": "red"},
    ],
)
def test_a_bad_product_body_is_bad_product_at_either_layer(changes: dict[str, Any]) -> None:
    assert code_of(lambda: created({**PRODUCT, **changes})) == "bad_product"
    if "id" not in changes:
        assert code_of(lambda: edited(changes)) == "bad_product"


@pytest.mark.parametrize("field", ["id", "name", "image_url", "stock", "per_viewer_limit"])
def test_an_edit_that_sends_null_is_bad_product(field: str) -> None:
    assert code_of(lambda: edited({field: None})) == "bad_product"


def test_an_edit_may_send_the_products_own_id_but_not_another() -> None:
    assert edited({"id": "x5", "stock": 1}).stock == 1
    assert code_of(lambda: edited({"id": "x6"})) == "bad_product"


@pytest.mark.parametrize(
    "changes",
    [
        {"slot": {}},
        {"slot": {"after_cue": "c01", "at": "20:00"}},
        {"slot": {"at": "25:00"}},
        {"slot": {"at": "8:00"}},
        {"slot": {"after_cue": "C 1"}},
        {"sale_duration_ms": 5},
        {"sale_duration_ms": None},
        {"flash_price_minor": 0},
        {"drop": {"budget_minor": 5, "envelopes": 10}},
        {"drop": {"budget_minor": 100, "envelopes": 0}},
        {"drop": {"budget_minor": 100, "envelopes": 1, "surprise": 1}},
        {"drop": 100},
        {"show_id": None},
        {"extra": 1},
    ],
)
def test_a_malformed_booking_body_is_bad_booking_at_either_layer(changes: dict[str, Any]) -> None:
    assert code_of(lambda: booked({**BOOKING, **changes})) == "bad_booking"
