"""The wire protocol in one place: every socket message type, and the validation of payloads.

`CLIENT_MESSAGES` are what clients send (with the namespace and the role that may send them);
`SERVER_MESSAGES` are what the server pushes. docs/protocol.md documents each one, and a test fails
when one is missing there. Handlers parse payloads with the helpers below, which raise
`BadRequest` subclasses with stable codes, so bad input never reaches a service.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gala.kernel.errors import BadRequest
from gala.kernel.ids import is_valid_id

# (namespace, event) -> roles that may send it
CLIENT_MESSAGES: dict[tuple[str, str], tuple[str, ...]] = {
    ("/", "join"): ("viewer", "producer"),
    ("/", "leave"): ("viewer", "producer"),
    ("/", "time"): ("viewer", "producer"),
    ("/", "buy"): ("viewer",),
    ("/", "wallet"): ("viewer",),
    ("/", "grab"): ("viewer",),
    ("/", "displayed"): ("viewer",),
    ("/producer", "console:join"): ("producer",),
    ("/producer", "go"): ("producer",),
    ("/producer", "standby"): ("producer",),
    ("/producer", "back"): ("producer",),
    ("/producer", "panic"): ("producer",),
    ("/producer", "end"): ("producer",),
    ("/producer", "reset"): ("producer",),
    ("/producer", "audit"): ("producer",),
    ("/producer", "time"): ("producer",),
    ("/producer", "drop:launch"): ("producer",),
    ("/producer", "auto"): ("producer",),
    ("/producer", "cue:edit"): ("producer",),
    ("/producer", "bookings:list"): ("producer",),
    ("/producer", "booking:approve"): ("producer",),
    ("/producer", "booking:reject"): ("producer",),
}

# (namespace, event) pushed by the server
SERVER_MESSAGES: tuple[tuple[str, str], ...] = (
    ("/", "event"),
    ("/", "figures"),
    ("/producer", "console:figures"),
    ("/producer", "console:state"),
    ("/producer", "console:presence"),
)


class BadPayload(BadRequest):
    code = "bad_payload"


class BadField(BadRequest):
    code = "bad_field"


@dataclass(frozen=True, slots=True)
class ResumePosition:
    epoch: str
    seq: int


def payload_dict(payload: Any) -> Mapping[str, Any]:
    if not isinstance(payload, Mapping):
        raise BadPayload("the payload must be a JSON object")
    return payload


def id_field(payload: Mapping[str, Any], name: str, *, optional: bool = False) -> str | None:
    value = payload.get(name)
    if value is None and optional:
        return None
    if not is_valid_id(value):
        raise BadField(f"{name} must be an id of [a-z0-9-] (at most 64 characters)")
    assert isinstance(value, str)
    return value


def required_id(payload: Mapping[str, Any], name: str) -> str:
    value = id_field(payload, name)
    assert value is not None
    return value


def int_field(
    payload: Mapping[str, Any], name: str, low: int, high: int, default: int | None = None
) -> int:
    value = payload.get(name, default)
    if type(value) is not int or not low <= value <= high:
        raise BadField(f"{name} must be an integer between {low} and {high}")
    return value


def resume_field(payload: Mapping[str, Any]) -> ResumePosition | None:
    raw = payload.get("resume")
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise BadField("resume must be an object {epoch, seq}")
    epoch, seq = raw.get("epoch"), raw.get("seq")
    if not isinstance(epoch, str) or not 0 < len(epoch) <= 32:
        raise BadField("resume.epoch must be the epoch string from an earlier event")
    if type(seq) is not int or not 0 <= seq < 2**53:
        raise BadField("resume.seq must be a non-negative integer")
    return ResumePosition(epoch, seq)
