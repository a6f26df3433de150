"""The data of the JSON API's answers, as pydantic models: what `{"ok": true, "data": ...}`
carries on each endpoint, and the refusal shape. The OpenAPI document is generated from their
JSON Schemas; a test checks real answers of a running server against it.

Handlers build these answers from the services' own wire forms (`as_wire`, `public_info`); the
models describe them, and say which fields are always there.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from gala.http.bodies import AfterCue, AtTime, DropInput


class StoreCheck(BaseModel):
    kind: Literal["sqlite", "redis"]
    ok: bool
    latency_ms: float = Field(description="the round trip, or how long it was waited for")
    error: str | None = Field(None, description="what went wrong, when the store did not answer")


class ShowCheck(BaseModel):
    ready: bool = Field(description="this node has folded the show's log")


class Checks(BaseModel):
    store: StoreCheck
    shows: dict[str, ShowCheck] = Field(description="by show id, every installed show")
    draining: bool = Field(description="the node is draining before it stops")


class Error(BaseModel):
    code: str = Field(description="stable, snake_case: what clients branch on")
    message: str = Field(description="for people; may change")
    retry_after_s: int | None = Field(None, description="with `rate_limited`: when to try again")
    checks: Checks | None = Field(None, description="with `not_ready`: every check's state")


class Refusal(BaseModel):
    ok: Literal[False]
    error: Error


class ViewerToken(BaseModel):
    token: str
    viewer_id: str
    expires_in_s: int


class LoginAnswer(BaseModel):
    token: str = Field(description="send it as `Authorization: Bearer TOKEN`")
    username: str
    role: Literal["producer", "sponsor"]
    sponsor_id: str | None
    expires_in_s: int


class ShowInfo(BaseModel):
    id: str
    title: str
    currency: str
    currency_exponent: int
    locales: list[str]
    default_locale: str
    timezone: str
    stream_url: str | None


class CueRef(BaseModel):
    id: str
    number: str


class SponsorShow(ShowInfo):
    window: list[str] | None = Field(description='times of day a slot may take, ["19:30", "00:30"]')
    cues: list[CueRef] = Field(description="ids and numbers only: labels may name other reveals")


class Me(BaseModel):
    username: str
    sponsor_id: str
    shows: list[SponsorShow]


class Product(BaseModel):
    id: str
    sponsor_id: str
    name: dict[str, str]
    description: dict[str, str]
    image_url: str
    price_minor: int
    stock: int
    per_viewer_limit: int


class Booking(BaseModel):
    id: str
    sponsor_id: str
    show_id: str
    product_id: str
    slot: AfterCue | AtTime
    sale_duration_ms: int
    flash_price_minor: int | None
    drop: DropInput | None
    state: Literal["pending", "approved", "rejected", "withdrawn"]
    reason: str
    created_at_ms: int
    decided_by: str
    decided_at_ms: int | None


class Budget(BaseModel):
    balance_minor: int
    reserved_minor: int
    available_minor: int


class Results(BaseModel):
    """Per reveal (viewers online, viewers who saw the card, taps, orders, units, GMV,
    conversion) and per drop (grabbed, given, refunded); docs/protocol.md has every field."""

    reveals: list[dict[str, Any]]
    drops: list[dict[str, Any]]


class Snapshot(BaseModel):
    """The show's public state at `seq` (docs/protocol.md, "snapshot")."""

    epoch: str
    seq: int
    show: dict[str, Any]
    layers: Any
    sales: Any
    drops: Any


class Health(BaseModel):
    node_id: str = Field(description="decided once at start, so known while the node starts")
    status: Literal["up"]


class Ready(BaseModel):
    ready: Literal[True]
    checks: Checks


class WebhookOutcome(BaseModel):
    event_id: str
    duplicate: bool = Field(description="the event was handled before; nothing was done again")
    handled: bool = Field(description="false for an event type gala does not act on")
    payment_id: str | None = None
    order: dict[str, Any] | None = None
