"""The JSON request bodies of the HTTP API, as pydantic models: each endpoint parses its body
into one at the edge (`parse_body`), and the OpenAPI document takes their JSON Schemas.

Models are strict (a number is not a numeric string, `true` is not 1) and refuse unknown
fields where the service would; a body that does not fit is refused with the code the service
itself uses for that body (`bad_product`, `bad_booking`; `bad_login` for a login), so clients see
one code whichever layer caught it. Bounds are the sponsors feature's own constants.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gala.http.responses import read_json
from gala.kernel.errors import BadRequest, GalaError, Unauthorized
from gala.runofshow.fields import Id
from sponsors import model as rules

Body = TypeVar("Body", bound=BaseModel)

Minor = Annotated[int, Field(description="integer minor units of the show's currency")]
Texts = Annotated[
    dict[Annotated[str, Field(pattern=rules.LOCALE.pattern)], str],
    Field(description="texts by language tag"),
]


class Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class ViewerTokenRequest(BaseModel):
    """Optional: a viewer token the device already holds, to stay the same viewer."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)
    token: str | None = None


class LoginRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)
    username: str
    password: str


class ProductChanges(Strict):
    """Any fields of a product but its id (an unchanged `id` may come along)."""

    id: Id | None = None
    name: Texts | None = Field(None, description="one per language of every show it is booked in")
    description: Texts | None = None
    image_url: Annotated[str, Field(max_length=rules.MAX_IMAGE_URL)] | None = None
    price_minor: Annotated[int, Field(ge=1, le=rules.MAX_PRICE_MINOR)] | None = None
    stock: Annotated[int, Field(ge=0, le=rules.MAX_STOCK)] | None = None
    per_viewer_limit: Annotated[int, Field(ge=1, le=1000)] | None = None


class ProductInput(Strict):
    id: Id
    name: Texts = Field(description="one per language of every show it is booked in")
    description: Texts = Field(default_factory=dict)
    image_url: Annotated[str, Field(max_length=rules.MAX_IMAGE_URL)] = ""
    price_minor: Annotated[int, Field(ge=1, le=rules.MAX_PRICE_MINOR)]
    stock: Annotated[int, Field(ge=0, le=rules.MAX_STOCK)]
    per_viewer_limit: Annotated[int, Field(ge=1, le=1000)] = 1


class AfterCue(Strict):
    after_cue: Id


class AtTime(Strict):
    at: Annotated[str, Field(pattern=rules.TIME_OF_DAY.pattern, description="HH:MM, 24-hour")]


class DropInput(Strict):
    budget_minor: Annotated[int, Field(ge=1, le=rules.MAX_PRICE_MINOR)]
    envelopes: Annotated[int, Field(ge=1, le=100_000)]
    min_minor: Annotated[int, Field(ge=1, le=10**9)] = 1
    countdown_ms: Annotated[int, Field(ge=0, le=rules.MAX_DROP_WINDOW_MS)] = 5_000
    duration_ms: Annotated[int, Field(ge=1_000, le=rules.MAX_DROP_WINDOW_MS)] = 30_000


class BookingInput(Strict):
    show_id: Id
    product_id: Id
    slot: AfterCue | AtTime
    sale_duration_ms: Annotated[int, Field(ge=rules.MIN_SALE_MS, le=rules.MAX_SALE_MS)]
    flash_price_minor: (
        Annotated[
            int, Field(ge=1, le=rules.MAX_PRICE_MINOR, description="below the product's price")
        ]
        | None
    ) = None
    drop: DropInput | None = None


class WebhookData(BaseModel):
    payment_id: str
    amount_minor: Annotated[int, Field(gt=0)]
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]


class WebhookEvent(BaseModel):
    """A provider's event. Read by `commerce/webhooks.py` after the `Gala-Signature` header is
    verified over the body's exact bytes; documented here."""

    id: str
    type: Annotated[str, Field(description="`payment.succeeded` is handled; others are not")]
    data: WebhookData


# The refusal for a body that does not fit its model, by model
REFUSALS: dict[type[BaseModel], type[GalaError] | tuple[type[GalaError], str]] = {
    ProductInput: rules.BadProduct,
    ProductChanges: rules.BadProduct,
    BookingInput: rules.BadBooking,
    LoginRequest: (Unauthorized, "bad_login"),
    ViewerTokenRequest: (BadRequest, "bad_payload"),
}


async def parse_body(request: web.Request, model: type[Body]) -> Body:
    """The request's JSON body as `model`, or the model's refusal naming the first bad field."""
    return parse(model, await read_json(request))


def parse(model: type[Body], raw: dict[str, Any]) -> Body:
    try:
        return model.model_validate(raw)
    except ValidationError as invalid:
        first = invalid.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "the body"
        refusal = REFUSALS.get(model, (BadRequest, "bad_payload"))
        kind, code = refusal if isinstance(refusal, tuple) else (refusal, None)
        raise kind(f"{where}: {first['msg']}", code=code) from None


def given(body: BaseModel) -> dict[str, Any]:
    """The fields the client sent, as the service reads them."""
    return body.model_dump(exclude_unset=True)
