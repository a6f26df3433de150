"""The show endpoints of the JSON API: viewer tokens, a show's public info and snapshot, the
producers' exports (a sale's orders as CSV, a show's results).

Nothing here reveals a cue or a product before its cue has fired: the public endpoints serve only
the show's public info and the current snapshot.
"""

from __future__ import annotations

import csv
import io

from aiohttp import web

from gala.auth.tokens import VIEWER, Identity
from gala.errors_map import ok
from gala.http.bodies import ViewerTokenRequest, parse_body
from gala.http.responses import csv_response, json_response, producer_of, services
from gala.kernel.errors import Unauthorized
from gala.kernel.ids import new_id
from gala.results.report import results_as_csv

ORDER_COLUMNS = (
    "sale_id",
    "product_id",
    "order_id",
    "viewer_id",
    "quantity",
    "amount_minor",
    "state",
    "expires_at_ms",
)


async def viewer_token(request: web.Request) -> web.Response:
    """Issue a viewer token. A still-valid viewer token in the body keeps the same viewer id, so a
    returning device stays the same viewer."""
    node = services(request)
    body = await parse_body(request, ViewerTokenRequest)
    viewer_id = new_id("v")
    if body.token is not None:
        try:
            known = node.authenticate(body.token)
            if known.role == VIEWER:
                viewer_id = known.subject
        except Unauthorized:
            pass
    ttl = node.settings.viewer_token_ttl_s
    token = node.issue_token(Identity(viewer_id, VIEWER), ttl)
    await node.purchases.grant_demo_balance(viewer_id, node.settings.demo_wallet_grant_minor)
    return json_response(ok({"token": token, "viewer_id": viewer_id, "expires_in_s": ttl}))


async def show_info(request: web.Request) -> web.Response:
    show = services(request).shows.get(request.match_info["show_id"])
    return json_response(ok(show.public_info()))


async def show_snapshot(request: web.Request) -> web.Response:
    node = services(request)
    show = node.shows.get(request.match_info["show_id"])
    channel = node.runtime(show.id).channel
    await channel.ready.wait()
    return json_response(ok(channel.snapshot.as_wire()))


async def sale_orders_csv(request: web.Request) -> web.StreamResponse:
    """A sale's orders as CSV, for producers."""
    producer_of(request)
    sale_id = request.match_info["sale_id"]
    terms, orders = await services(request).purchases.sale_orders(sale_id)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(ORDER_COLUMNS)
    for order in orders:
        writer.writerow(
            [
                sale_id,
                terms.product_id,
                order.id,
                order.viewer_id,
                order.quantity,
                order.amount_minor,
                order.state,
                order.expires_at_ms,
            ]
        )
    return csv_response(out.getvalue(), f"orders-{sale_id}")


async def results_json(request: web.Request) -> web.Response:
    """A show's results per reveal and per drop, for producers."""
    producer_of(request)
    node = services(request)
    show = node.shows.get(request.match_info["show_id"])
    return json_response(ok(await node.show_results(show.id)))


async def results_csv(request: web.Request) -> web.StreamResponse:
    """A show's results as CSV, for producers."""
    producer_of(request)
    node = services(request)
    show = node.shows.get(request.match_info["show_id"])
    return csv_response(results_as_csv(await node.show_results(show.id)), f"results-{show.id}")


def add_show_routes(app: web.Application) -> None:
    app.router.add_post("/api/viewer-token", viewer_token)
    app.router.add_get("/api/shows/{show_id}", show_info)
    app.router.add_get("/api/shows/{show_id}/snapshot", show_snapshot)
    app.router.add_get("/api/sales/{sale_id}/orders.csv", sale_orders_csv)
    app.router.add_get("/api/shows/{show_id}/results", results_json)
    app.router.add_get("/api/shows/{show_id}/results.csv", results_csv)
