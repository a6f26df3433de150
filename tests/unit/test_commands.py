"""Socket payloads become typed commands at the edge: strict types (no "1" for 1, no true for 1,
no 1.0 for 1), bounded numbers, and each refusal coded and naming its field."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from gala.kernel.errors import GalaError
from gala.realtime.commands import BuyProduct, JoinShow, LaunchConsoleDrop, parse, parse_cue_edit
from gala.realtime.protocol import ResumePosition
from gala.runofshow.cue_edits import AddCue

BUY = {"show_id": "gala-1111", "product_id": "aurora-x5", "quantity": 1, "key": "tap-6f1c2a9b"}


def refusal(command: Any, payload: Any) -> tuple[str, str]:
    with pytest.raises(GalaError) as refused:
        parse(command, payload)
    return refused.value.code, refused.value.message


def test_a_buy_payload_becomes_a_frozen_typed_command() -> None:
    buy = parse(BuyProduct, {**BUY, "extra": "ignored"})
    assert (buy.quantity, buy.key, buy.payment, buy.through_provider) == (
        1,
        "tap-6f1c2a9b",
        "wallet",
        False,
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        buy.quantity = 2  # type: ignore[misc]


@pytest.mark.parametrize(
    "change, code, field",
    [
        ({"quantity": "1"}, "bad_quantity", "quantity"),
        ({"quantity": True}, "bad_quantity", "quantity"),
        ({"quantity": 1.0}, "bad_quantity", "quantity"),
        ({"quantity": 2**80}, "bad_quantity", "quantity"),
        ({"quantity": 0}, "bad_quantity", "quantity"),
        ({"key": "short"}, "bad_key", "key"),
        ({"key": "tap-6f1c2a9b\n"}, "bad_key", "key"),
        ({"payment": "card"}, "bad_field", "payment"),
        ({"show_id": "Gala"}, "bad_field", "show_id"),
        ({"product_id": None}, "bad_field", "product_id"),
    ],
)
def test_a_bad_buy_field_is_refused_with_its_code_naming_it(
    change: dict[str, Any], code: str, field: str
) -> None:
    got, message = refusal(BuyProduct, {**BUY, **change})
    assert got == code and message.startswith(field)


@pytest.mark.parametrize("payload", [None, [], "buy", 7, [BUY]])
def test_a_payload_that_is_not_an_object_is_bad_payload(payload: Any) -> None:
    assert refusal(BuyProduct, payload)[0] == "bad_payload"


def test_resume_positions_and_drop_launches_are_strict() -> None:
    joined = parse(JoinShow, {"show_id": "s", "resume": {"epoch": "9f2c", "seq": 3}})
    assert joined.resume == ResumePosition("9f2c", 3)
    assert refusal(JoinShow, {"show_id": "s", "resume": {"epoch": "e", "seq": 1.5}}) == (
        "bad_field",
        "resume.seq must be a whole number",
    )
    launch = {"show_id": "s", "key": "k1", "budget_minor": 100, "envelopes": 10}
    assert parse(LaunchConsoleDrop, launch).launch().min_minor == 1
    assert refusal(LaunchConsoleDrop, {**launch, "funder": ["x"]})[0] == "bad_action"
    assert refusal(LaunchConsoleDrop, {**launch, "envelopes": 100_001})[0] == "bad_action"


def test_a_cue_edit_is_parsed_with_the_cue_table_of_show_files() -> None:
    command = parse_cue_edit(
        {"show_id": "s", "kind": "add", "after_cue": None, "cue": {"id": "n1", "label": "New"}}
    )
    assert isinstance(command.edit, AddCue) and command.edit.cue.label == "New"
    with pytest.raises(GalaError) as refused:
        parse_cue_edit({"show_id": "s", "kind": "add", "cue": {"id": "n1", "label": "x" * 201}})
    assert refused.value.code == "bad_edit" and "cue.label" in refused.value.message
