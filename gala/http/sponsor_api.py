"""The sponsor portal's JSON API under `/api/sponsor/...` (docs/protocol.md, docs/sponsors.md),
and the sponsor's view of the shows it may book into.

Every handler first checks the caller holds the `sponsor` role (a `Bearer` token or the portal's
session cookie) and then acts for the sponsor id *in its token*: no request names a sponsor, so a
sponsor can only ever reach its own products, bookings and budget; another sponsor's ids answer
like ids that do not exist. A sponsor sees a show only if the show file lists it in [sponsors],
and sees of its run of show only the cue ids and numbers (labels may name other sponsors'
embargoed products).

Bodies are parsed into the pydantic models of `bodies.py`, then turned into the sponsors
feature's typed commands (`NewProduct`, `ProductEdit`, `BookingRequest`) here, so the service
never reads a mapping.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aiohttp import web

from gala.auth.tokens import SPONSOR
from gala.errors_map import ok
from gala.http.bodies import AfterCue, BookingInput, ProductChanges, ProductInput, parse_body
from gala.http.responses import caller_of, csv_response, json_response, services
from gala.results.report import for_sponsor, results_as_csv
from gala.runofshow.sponsor_view import sponsor_show_view, visible_show
from overlays.model import ShowOverlay
from sponsors.model import (
    BadProduct,
    BookingRequest,
    DropPlan,
    NewProduct,
    ProductEdit,
    Slot,
)
from sponsors.service import SponsorService
from stage_control.model import Cue

SPONSOR_API = "/api/sponsor"


def new_product_of(body: ProductInput) -> NewProduct:
    return NewProduct(
        product_id=body.id,
        name=body.name,
        price_minor=body.price_minor,
        stock=body.stock,
        description=body.description,
        image_url=body.image_url,
        per_viewer_limit=body.per_viewer_limit,
    )


def product_edit_of(body: ProductChanges) -> ProductEdit:
    """Left out keeps a field; `null` is no value a product has, so it is refused."""
    for name in sorted(body.model_fields_set):
        if getattr(body, name) is None:
            raise BadProduct(f"{name}: leave it out to keep it; null is not a value")
    return ProductEdit(
        product_id=body.id,
        name=body.name,
        description=body.description,
        image_url=body.image_url,
        price_minor=body.price_minor,
        stock=body.stock,
        per_viewer_limit=body.per_viewer_limit,
    )


def booking_request_of(body: BookingInput) -> BookingRequest:
    slot = (
        Slot(after_cue=body.slot.after_cue)
        if isinstance(body.slot, AfterCue)
        else Slot(at=body.slot.at)
    )
    drop = body.drop
    return BookingRequest(
        show_id=body.show_id,
        product_id=body.product_id,
        slot=slot,
        sale_duration_ms=body.sale_duration_ms,
        flash_price_minor=body.flash_price_minor,
        drop=None
        if drop is None
        else DropPlan(
            budget_minor=drop.budget_minor,
            envelopes=drop.envelopes,
            min_minor=drop.min_minor,
            countdown_ms=drop.countdown_ms,
            duration_ms=drop.duration_ms,
        ),
    )


def with_cues(results: Mapping[str, Any], cues: Sequence[Cue]) -> dict[str, Any]:
    """Each reveal row with the cue that revealed it (`cue_id`, `cue_number`, or None when no
    cue of the run of show reveals that product now): the n-th reveal of a product is put down
    to the n-th cue of the run of show that reveals it, the last one for any later reveal (an
    encore fired again). Ids and numbers only, never a label."""
    revealing: dict[str, list[Cue]] = {}
    for cue in cues:
        for action in cue.actions:
            if isinstance(action, ShowOverlay) and action.overlay.get("kind") == "product":
                product = action.overlay.get("product", {})
                revealing.setdefault(str(product.get("id")), []).append(cue)
    seen: dict[str, int] = {}
    rows = []
    for row in results["reveals"]:
        candidates = revealing.get(row["product_id"], [])
        index = seen.get(row["product_id"], 0)
        seen[row["product_id"]] = index + 1
        fired = candidates[min(index, len(candidates) - 1)] if candidates else None
        rows.append(
            {
                **row,
                "cue_id": fired.id if fired is not None else None,
                "cue_number": fired.number if fired is not None else None,
            }
        )
    return {**results, "reveals": rows}


def _sponsor(request: web.Request) -> tuple[str, SponsorService]:
    identity = caller_of(request, SPONSOR)
    assert identity.sponsor_id is not None  # a sponsor token always carries it (gala/auth.py)
    return identity.sponsor_id, services(request).sponsors


async def me(request: web.Request) -> web.Response:
    identity = caller_of(request, SPONSOR)
    shows = services(request).shows.all()
    mine = [sponsor_show_view(s) for s in shows if identity.sponsor_id in s.sponsors]
    return json_response(
        ok({"username": identity.subject, "sponsor_id": identity.sponsor_id, "shows": mine})
    )


async def list_products(request: web.Request) -> web.Response:
    sponsor_id, sponsors = _sponsor(request)
    return json_response(ok([p.as_wire() for p in await sponsors.products(sponsor_id)]))


async def create_product(request: web.Request) -> web.Response:
    sponsor_id, sponsors = _sponsor(request)
    body = await parse_body(request, ProductInput)
    product = await sponsors.create_product(sponsor_id, new_product_of(body))
    return json_response(ok(product.as_wire()), status=201)


async def get_product(request: web.Request) -> web.Response:
    sponsor_id, sponsors = _sponsor(request)
    product = await sponsors.product(sponsor_id, request.match_info["product_id"])
    return json_response(ok(product.as_wire()))


async def edit_product(request: web.Request) -> web.Response:
    sponsor_id, sponsors = _sponsor(request)
    edit = product_edit_of(await parse_body(request, ProductChanges))
    product = await sponsors.edit_product(sponsor_id, request.match_info["product_id"], edit)
    return json_response(ok(product.as_wire()))


async def list_bookings(request: web.Request) -> web.Response:
    sponsor_id, sponsors = _sponsor(request)
    return json_response(ok([b.as_wire() for b in await sponsors.bookings_of(sponsor_id)]))


async def create_booking(request: web.Request) -> web.Response:
    sponsor_id, sponsors = _sponsor(request)
    body = await parse_body(request, BookingInput)
    booking = await sponsors.book(sponsor_id, booking_request_of(body))
    return json_response(ok(booking.as_wire()), status=201)


async def get_booking(request: web.Request) -> web.Response:
    sponsor_id, sponsors = _sponsor(request)
    booking = await sponsors.booking_of(sponsor_id, request.match_info["booking_id"])
    return json_response(ok(booking.as_wire()))


async def withdraw_booking(request: web.Request) -> web.Response:
    sponsor_id, sponsors = _sponsor(request)
    booking = await sponsors.withdraw(sponsor_id, request.match_info["booking_id"])
    return json_response(ok(booking.as_wire()))


async def budget(request: web.Request) -> web.Response:
    sponsor_id, sponsors = _sponsor(request)
    return json_response(ok((await sponsors.budget(sponsor_id)).as_wire()))


async def show_results(request: web.Request) -> web.Response:
    """The sponsor's own reveals and drops of a show that lists it (gala/results.py)."""
    sponsor_id, _ = _sponsor(request)
    node = services(request)
    show = visible_show(node.shows, sponsor_id, request.match_info["show_id"])
    results = for_sponsor(await node.show_results(show.id), sponsor_id)
    return json_response(ok(with_cues(results, node.shows.get(show.id).cues)))


async def show_results_csv(request: web.Request) -> web.StreamResponse:
    sponsor_id, _ = _sponsor(request)
    node = services(request)
    show = visible_show(node.shows, sponsor_id, request.match_info["show_id"])
    results = for_sponsor(await node.show_results(show.id), sponsor_id)
    return csv_response(results_as_csv(results), f"results-{show.id}-{sponsor_id}")


def add_sponsor_routes(app: web.Application) -> None:
    add = app.router.add_route
    add("GET", f"{SPONSOR_API}/me", me)
    add("GET", f"{SPONSOR_API}/products", list_products)
    add("POST", f"{SPONSOR_API}/products", create_product)
    add("GET", f"{SPONSOR_API}/products/{{product_id}}", get_product)
    add("PATCH", f"{SPONSOR_API}/products/{{product_id}}", edit_product)
    add("GET", f"{SPONSOR_API}/bookings", list_bookings)
    add("POST", f"{SPONSOR_API}/bookings", create_booking)
    add("GET", f"{SPONSOR_API}/bookings/{{booking_id}}", get_booking)
    add("POST", f"{SPONSOR_API}/bookings/{{booking_id}}/withdraw", withdraw_booking)
    add("GET", f"{SPONSOR_API}/budget", budget)
    add("GET", f"{SPONSOR_API}/shows/{{show_id}}/results", show_results)
    add("GET", f"{SPONSOR_API}/shows/{{show_id}}/results.csv", show_results_csv)
