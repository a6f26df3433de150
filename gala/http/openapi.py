"""The OpenAPI 3.1 document of everything the node serves over HTTP (`GET /api/openapi.json`),
generated: the paths and methods from the app's router, what each route takes and answers from
the `ROUTES` table, and the schemas from the pydantic models of `bodies.py` and `answers.py`.

`tests/integration/test_openapi.py` fails when a route of the router has no row in `ROUTES` (or a
row names no route), and checks real requests and answers of a running server against the
document. HEAD is answered wherever GET is, and is not listed.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from gala.http import answers, bodies
from gala.http.responses import json_response

REF = "#/components/schemas/{model}"
JSON, CSV, HTML = "application/json", "text/csv", "text/html"
SPONSOR_REFUSALS = "`unauthorized`, `bad_token`, `token_expired`, `forbidden`"


@dataclass(frozen=True, slots=True)
class Route:
    summary: str
    answer: type[BaseModel] | str | None = None  # a model (in the ack shape) or a media type
    body: type[BaseModel] | None = None
    many: bool = False  # the answer's data is a list of `answer`
    status: int = 200
    auth: str | None = None  # "bearer": a token, or the session cookie of the login form
    form: bool = False  # the body is an HTML form, not JSON


R = Route
ROUTES: dict[tuple[str, str], Route] = {
    ("POST", "/api/viewer-token"): R("A viewer token (send one you hold to stay the same viewer)",
                                     answers.ViewerToken, bodies.ViewerTokenRequest),
    ("POST", "/api/login"): R("Log in with a producer or sponsor account (`bad_login`; "
                              "`rate_limited` with `Retry-After` after too many attempts)",
                              answers.LoginAnswer, bodies.LoginRequest),
    ("GET", "/api/shows/{show_id}"): R("A show's public info (`unknown_show`)", answers.ShowInfo),
    ("GET", "/api/shows/{show_id}/snapshot"): R("The show's public state now", answers.Snapshot),
    ("GET", "/api/sales/{sale_id}/orders.csv"): R("A sale's orders (producers)", CSV,
                                                  auth="bearer"),
    ("GET", "/api/shows/{show_id}/results"): R("A show's results per reveal and per drop "
                                               "(producers)", answers.Results, auth="bearer"),
    ("GET", "/api/shows/{show_id}/results.csv"): R("The same results as CSV (producers)", CSV,
                                                   auth="bearer"),
    ("GET", "/healthz"): R("The process is up (also while the node starts); for operators",
                           answers.Health),
    ("GET", "/readyz"): R("This node should get traffic: its store answers, every show's log is "
                          "folded, it is not draining (503 `not_ready` with the checks; 503 "
                          "`unavailable` while it starts); for operators", answers.Ready),
    ("GET", "/metrics"): R("Prometheus metrics of this node (docs/operations.md); for operators",
                           "text/plain"),
    ("POST", "/api/payments/webhook"): R("The payment provider's signed event (`Gala-Signature` "
                                         "over the exact body; `bad_signature`, `bad_webhook`)",
                                         answers.WebhookOutcome, bodies.WebhookEvent),
    ("GET", "/api/openapi.json"): R("This document", JSON),
    ("GET", "/api/sponsor/me"): R("Who you are, and the shows that list you as a sponsor",
                                  answers.Me, auth="bearer"),
    ("GET", "/api/sponsor/products"): R("Your products", answers.Product, many=True,
                                        auth="bearer"),
    ("POST", "/api/sponsor/products"): R("Create a product (`bad_product`, `product_exists`)",
                                         answers.Product, bodies.ProductInput, status=201,
                                         auth="bearer"),
    ("GET", "/api/sponsor/products/{product_id}"): R("One of your products (`unknown_product`)",
                                                     answers.Product, auth="bearer"),
    ("PATCH", "/api/sponsor/products/{product_id}"): R(
        "Change some fields of one of your products (`bad_product`, `product_locked`)",
        answers.Product, bodies.ProductChanges, auth="bearer"),
    ("GET", "/api/sponsor/bookings"): R("Your reveal bookings", answers.Booking, many=True,
                                        auth="bearer"),
    ("POST", "/api/sponsor/bookings"): R(
        "Book a reveal (`slot_taken`, `slot_outside_show`, `no_stock`, `insufficient_budget`, "
        "`missing_translation`, `unknown_product`, `unknown_show`, `bad_booking`)",
        answers.Booking, bodies.BookingInput, status=201, auth="bearer"),
    ("GET", "/api/sponsor/bookings/{booking_id}"): R("One of your bookings (`unknown_booking`)",
                                                     answers.Booking, auth="bearer"),
    ("POST", "/api/sponsor/bookings/{booking_id}/withdraw"): R(
        "Withdraw a pending booking (`booking_not_pending`)", answers.Booking, auth="bearer"),
    ("GET", "/api/sponsor/budget"): R("Your drop budget: balance, reserved by bookings, left",
                                      answers.Budget, auth="bearer"),
    ("GET", "/api/sponsor/shows/{show_id}/results"): R("Your reveals and drops in a show",
                                                       answers.Results, auth="bearer"),
    ("GET", "/api/sponsor/shows/{show_id}/results.csv"): R("The same as CSV", CSV, auth="bearer"),
    ("GET", "/"): R("The viewer page (or the list of shows)", HTML),
    ("GET", "/watch/{show_id}"): R("A show's viewer page", HTML),
    ("GET", "/console"): R("Redirects to the first show's console", None, status=302),
    ("GET", "/console/{show_id}"): R("The stage console (a producer session; else redirects "
                                     "to the login)", HTML, auth="bearer"),
    ("GET", "/sponsor"): R("The sponsor portal (a sponsor session)", HTML, auth="bearer"),
    ("GET", "/login"): R("The login form", HTML),
    ("POST", "/login"): R("Log in: sets the session cookie and redirects", None,
                          bodies.LoginRequest, status=302, form=True),
    ("POST", "/logout"): R("Clears the session cookie and redirects to the login", None,
                           status=302),
    ("GET", "/vendor/{name}"): R("A browser library from the npm lockfile", "text/javascript"),
    ("GET", "/static/{filename}"): R("Static files of the pages", "*/*"),
    ("GET", "/sandbox/pay/{payment_id}"): R("The sandbox provider's pay page (sandbox only)", HTML),
    ("POST", "/sandbox/pay/{payment_id}"): R("Pay in the sandbox: signs the event and delivers "
                                             "it to this node's webhook", HTML),
    ("GET", "/socket.io/"): R("The socket.io endpoint: websocket transport only "
                              "(docs/protocol.md)", None, status=101),
    ("POST", "/socket.io/"): R("Long-polling, refused: websocket only", JSON, status=400),
    ("OPTIONS", "/socket.io/"): R("Long-polling preflight, refused: websocket only", JSON,
                                  status=400),
}  # fmt: skip


def path_of(resource: web.AbstractResource) -> str:
    """The document's path for a resource: static files name their file."""
    if isinstance(resource, web.StaticResource):
        return resource.canonical + "/{filename}"
    return resource.canonical


def documented_routes(router: web.UrlDispatcher) -> set[tuple[str, str]]:
    return {
        (route.method, path_of(route.resource))
        for route in router.routes()
        if route.resource is not None and route.method != "HEAD"
    }


@functools.cache
def schemas() -> dict[str, Any]:
    """Every model's JSON Schema, by name: request bodies as validated, answers as sent."""
    requests = {route.body for route in ROUTES.values() if route.body is not None}
    models: list[tuple[type[BaseModel], JsonSchemaMode]] = [
        (model, "validation") for model in sorted(requests, key=lambda m: m.__name__)
    ]
    sent: list[type[BaseModel]] = [answers.Refusal, *answer_models()]
    models += [(model, "serialization") for model in sent]
    _, top = models_json_schema(models, ref_template=REF)
    return dict(top.get("$defs", {}))


def answer_models() -> list[type[BaseModel]]:
    found = {r.answer for r in ROUTES.values() if isinstance(r.answer, type)}
    return sorted(found, key=lambda model: model.__name__)


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": REF.format(model=model.__name__)}


def _answer(route: Route) -> dict[str, Any]:
    if route.answer is None:
        return {"description": {302: "a redirect", 101: "switching to websocket"}[route.status]}
    if isinstance(route.answer, str):
        schema = {"type": "object" if route.answer == JSON else "string"}
        return {"description": "done", "content": {route.answer: {"schema": schema}}}
    data: dict[str, Any] = _ref(route.answer)
    if route.many:
        data = {"type": "array", "items": data}
    envelope = {
        "type": "object",
        "required": ["ok", "data"],
        "properties": {"ok": {"const": True}, "data": data},
    }
    return {"description": "done", "content": {JSON: {"schema": envelope}}}


def _operation(path: str, route: Route) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": route.summary,
        "responses": {
            str(route.status): _answer(route),
            "default": {
                "description": "a refusal, with its stable code",
                "content": {JSON: {"schema": _ref(answers.Refusal)}, HTML: {}},
            },
        },
    }
    names = re.findall(r"{(\w+)}", path)
    if names:
        operation["parameters"] = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in names
        ]
    if route.auth:
        operation["security"] = [{"bearer": []}, {"session": []}]
    if route.body is not None:
        media = "application/x-www-form-urlencoded" if route.form else JSON
        required = route.body.model_json_schema().get("required", [])
        content = {media: {"schema": _ref(route.body)}}
        operation["requestBody"] = {"required": bool(required), "content": content}
    return operation


def openapi_document(router: web.UrlDispatcher) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for method, path in sorted(documented_routes(router)):
        route = ROUTES.get((method, path))
        if route is not None:
            paths.setdefault(path, {})[method.lower()] = _operation(path, route)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "gala",
            "version": "1",
            "description": "The JSON API (under /api/), the pages and the socket endpoint of a "
            'gala node. Every JSON answer is `{"ok": true, "data": ...}` or `{"ok": false, '
            '"error": {"code", "message"}}`; a browser on a page path gets a refusal as a small '
            "page with the same code. A sponsor token acts for its own sponsor only; another "
            f"sponsor's ids answer 404 like ids that do not exist. Refusals of a token: "
            f"{SPONSOR_REFUSALS}. A request that cannot be parsed gets 400 `bad_http_request`.",
        },
        "components": {
            "schemas": schemas(),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "gala_session"},
            },
        },
        "paths": paths,
    }


async def openapi_json(request: web.Request) -> web.Response:
    return json_response(openapi_document(request.app.router))


def add_openapi_route(app: web.Application) -> None:
    app.router.add_get("/api/openapi.json", openapi_json)
