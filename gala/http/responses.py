"""The JSON HTTP API: viewer tokens, producer and sponsor login, public show info, snapshots.

Every answer has the ack shape `{"ok": true, "data": ...}` or `{"ok": false, "error": {...}}` with
the error's HTTP status. Nothing here reveals a cue or a product before its cue has fired: the
public endpoints only serve the show's public info and the current snapshot.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from aiohttp import web

from gala import appkeys
from gala.auth.tokens import (
    ACCOUNT_ROLES,
    PRODUCER,
    SPONSOR,
    VIEWER,
    Identity,
    require_role,
    verify_password,
)
from gala.errors_map import ok, refusal
from gala.kernel.errors import BadRequest, Unauthorized
from gala.kernel.ids import new_id
from gala.results.report import results_as_csv

MAX_BODY_BYTES = 16 * 1024


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda d: json.dumps(d, ensure_ascii=False))


@web.middleware
async def error_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Turn refusals raised by API handlers into the ack shape; pages handle their own."""
    try:
        return await handler(request)  # type: ignore[no-any-return]
    except web.HTTPException:
        raise
    except Exception as error:  # noqa: BLE001 - every failure gets the one error shape
        if not request.path.startswith("/api/"):
            raise
        status, body = refusal(error)
        return json_response(body, status)


async def read_json(request: web.Request) -> dict[str, Any]:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise BadRequest("the body is too large", code="payload_too_large")
    raw = await request.content.read(MAX_BODY_BYTES + 1)
    if len(raw) > MAX_BODY_BYTES:
        raise BadRequest("the body is too large", code="payload_too_large")
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise BadRequest("the body is not JSON", code="bad_payload") from None
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object", code="bad_payload")
    return body


async def viewer_token(request: web.Request) -> web.Response:
    """Issue a viewer token. A still-valid viewer token in the body keeps the same viewer id, so a
    returning device stays the same viewer."""
    node = appkeys.node_of(request.app)
    body = await read_json(request)
    viewer_id = new_id("v")
    if body.get("token") is not None:
        try:
            known = node.authenticate(body["token"])
            if known.role == VIEWER:
                viewer_id = known.subject
        except Unauthorized:
            pass
    ttl = node.settings.viewer_token_ttl_s
    token = node.issue_token(Identity(viewer_id, VIEWER), ttl)
    await node.purchases.grant_demo_balance(viewer_id, node.settings.demo_wallet_grant_minor)
    return json_response(ok({"token": token, "viewer_id": viewer_id, "expires_in_s": ttl}))


async def account_login(request: web.Request) -> web.Response:
    body = await read_json(request)
    identity = await check_login(request, body.get("username"), body.get("password"))
    node = appkeys.node_of(request.app)
    ttl = node.settings.producer_token_ttl_s
    return json_response(
        ok(
            {
                "token": node.issue_token(identity, ttl),
                "username": identity.subject,
                "role": identity.role,
                "sponsor_id": identity.sponsor_id,
                "expires_in_s": ttl,
            }
        )
    )


async def check_login(request: web.Request, username: Any, password: Any) -> Identity:
    if not isinstance(username, str) or not isinstance(password, str) or len(password) > 1024:
        raise Unauthorized("username and password are required", code="bad_login")
    account = await appkeys.node_of(request.app).store.hub.get_account(username)
    if account is None or not verify_password(password, account.password_hash):
        raise Unauthorized("wrong username or password", code="bad_login")
    if account.role not in ACCOUNT_ROLES or (account.role == SPONSOR and not account.sponsor_id):
        raise Unauthorized("this account cannot log in", code="bad_login")
    return Identity(account.username, account.role, account.sponsor_id)


async def show_info(request: web.Request) -> web.Response:
    show = appkeys.node_of(request.app).shows.get(request.match_info["show_id"])
    return json_response(ok(show.public_info()))


async def show_snapshot(request: web.Request) -> web.Response:
    node = appkeys.node_of(request.app)
    show = node.shows.get(request.match_info["show_id"])
    channel = node.runtime(show.id).channel
    await channel.ready.wait()
    return json_response(ok(channel.snapshot.as_wire()))


def caller_of(request: web.Request, *roles: str) -> Identity:
    """The caller behind a request, who must hold one of `roles`: a `Bearer` token, or the
    session cookie the login form sets (console and portal)."""
    node = appkeys.node_of(request.app)
    header = request.headers.get("Authorization", "")
    token = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else None
    token = token or request.cookies.get("gala_session")
    if not token:
        raise Unauthorized("log in first", code="unauthorized")
    return require_role(node.authenticate(token), *roles)


def producer_of(request: web.Request) -> Identity:
    """The producer behind a request: a `Bearer` token, or the console's session cookie."""
    return caller_of(request, PRODUCER)


async def sale_orders_csv(request: web.Request) -> web.StreamResponse:
    """A sale's orders as CSV, for producers (the operator role until sponsor accounts exist)."""
    producer_of(request)
    node = appkeys.node_of(request.app)
    sale_id = request.match_info["sale_id"]
    terms = await node.store.sales.sale_terms(sale_id)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        [
            "sale_id",
            "product_id",
            "order_id",
            "viewer_id",
            "quantity",
            "amount_minor",
            "state",
            "expires_at_ms",
        ]
    )
    for order in await node.store.sales.orders(sale_id):
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
    node = appkeys.node_of(request.app)
    show = node.shows.get(request.match_info["show_id"])
    return json_response(ok(await node.show_results(show.id)))


async def results_csv(request: web.Request) -> web.StreamResponse:
    """A show's results as CSV, for producers."""
    producer_of(request)
    node = appkeys.node_of(request.app)
    show = node.shows.get(request.match_info["show_id"])
    return csv_response(results_as_csv(await node.show_results(show.id)), f"results-{show.id}")


def csv_response(text: str, name: str) -> web.Response:
    return web.Response(
        text=text,
        content_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


async def health(request: web.Request) -> web.Response:
    node = appkeys.node_of(request.app)
    return json_response(
        ok({"node_id": node.node_id, "store": node.store.kind, "shows": sorted(node.runtimes)})
    )


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/viewer-token", viewer_token)
    app.router.add_post("/api/login", account_login)
    app.router.add_get("/api/shows/{show_id}", show_info)
    app.router.add_get("/api/shows/{show_id}/snapshot", show_snapshot)
    app.router.add_get("/api/sales/{sale_id}/orders.csv", sale_orders_csv)
    app.router.add_get("/api/shows/{show_id}/results", results_json)
    app.router.add_get("/api/shows/{show_id}/results.csv", results_csv)
    app.router.add_get("/healthz", health)
