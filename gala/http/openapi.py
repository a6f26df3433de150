"""The OpenAPI 3 document of the JSON API brands automate against (`GET /api/openapi.json`):
login and every `/api/sponsor/...` endpoint, with their bodies, answers and error codes.

Written by hand as data, next to nothing else; `tests/integration/test_sponsor_api.py` fails when
a sponsor route of the router is missing from it.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gala.http.responses import json_response

ERROR = {"$ref": "#/components/schemas/Error"}


def _ok(schema: dict[str, Any], description: str = "done") -> dict[str, Any]:
    return {
        "description": description,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["ok", "data"],
                    "properties": {"ok": {"const": True}, "data": schema},
                }
            }
        },
    }


def _errors(*codes: str) -> dict[str, Any]:
    described = {
        "400": "bad input (`bad_payload`, `bad_product`, `bad_booking`, ...)",
        "401": "not logged in (`unauthorized`, `bad_token`, `token_expired`, `bad_login`)",
        "403": "the token's role cannot use this endpoint (`forbidden`)",
        "404": "unknown id of *yours* (`unknown_product`, `unknown_booking`, `unknown_show`)",
        "409": "refused in the current state (`slot_taken`, `no_stock`, ...)",
    }
    return {
        code: {
            "description": described[code],
            "content": {"application/json": {"schema": ERROR}},
        }
        for code in codes
    }


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _op(
    summary: str,
    answer: dict[str, Any],
    *errors: str,
    body: str | None = None,
    status: str = "200",
    params: tuple[str, ...] = (),
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "security": [{"bearer": []}],
        "responses": {status: _ok(answer), **_errors("401", "403", *errors)},
    }
    if body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(body)}},
        }
    if params:
        op["parameters"] = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in params
        ]
    return op


TEXTS = {
    "type": "object",
    "description": "texts by language tag",
    "additionalProperties": {"type": "string", "maxLength": 2000},
}
MINOR = {"type": "integer", "description": "integer minor units of the show's currency"}


def openapi_document() -> dict[str, Any]:
    product_fields = {
        "name": {**TEXTS, "description": "one per language of every show you book it into"},
        "description": TEXTS,
        "image_url": {"type": "string", "maxLength": 500},
        "price_minor": {**MINOR, "minimum": 1},
        "stock": {"type": "integer", "minimum": 0},
        "per_viewer_limit": {"type": "integer", "minimum": 1, "maximum": 1000},
    }
    slot = {
        "oneOf": [
            {
                "type": "object",
                "required": ["after_cue"],
                "properties": {"after_cue": {"type": "string"}},
            },
            {
                "type": "object",
                "required": ["at"],
                "properties": {"at": {"type": "string", "pattern": "^[0-2][0-9]:[0-5][0-9]$"}},
            },
        ]
    }
    drop = {
        "type": "object",
        "required": ["budget_minor", "envelopes"],
        "properties": {
            "budget_minor": {**MINOR, "minimum": 1},
            "envelopes": {"type": "integer", "minimum": 1, "maximum": 100000},
            "min_minor": {**MINOR, "minimum": 1, "default": 1},
            "countdown_ms": {"type": "integer", "default": 5000},
            "duration_ms": {"type": "integer", "default": 30000},
        },
    }
    schemas = {
        "Error": {
            "type": "object",
            "required": ["ok", "error"],
            "properties": {
                "ok": {"const": False},
                "error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
                },
            },
        },
        "ProductInput": {
            "type": "object",
            "required": ["id", "name", "price_minor", "stock"],
            "additionalProperties": False,
            "properties": {"id": {"type": "string"}, **product_fields},
        },
        "ProductChanges": {
            "type": "object",
            "additionalProperties": False,
            "properties": product_fields,
        },
        "Product": {
            "type": "object",
            "properties": {"id": {"type": "string"}, "sponsor_id": {"type": "string"}}
            | product_fields,
        },
        "BookingInput": {
            "type": "object",
            "required": ["show_id", "product_id", "slot", "sale_duration_ms"],
            "additionalProperties": False,
            "properties": {
                "show_id": {"type": "string"},
                "product_id": {"type": "string"},
                "slot": slot,
                "sale_duration_ms": {"type": "integer", "minimum": 10000, "maximum": 3600000},
                "flash_price_minor": {**MINOR, "description": "below the product's price"},
                "drop": drop,
            },
        },
        "Booking": {
            "type": "object",
            "properties": {
                "id": {"type": "string"},
                "sponsor_id": {"type": "string"},
                "show_id": {"type": "string"},
                "product_id": {"type": "string"},
                "slot": slot,
                "sale_duration_ms": {"type": "integer"},
                "flash_price_minor": {"type": ["integer", "null"]},
                "drop": {"oneOf": [drop, {"type": "null"}]},
                "state": {"enum": ["pending", "approved", "rejected", "withdrawn"]},
                "reason": {"type": "string"},
                "created_at_ms": {"type": "integer"},
                "decided_by": {"type": "string"},
                "decided_at_ms": {"type": ["integer", "null"]},
            },
        },
        "Budget": {
            "type": "object",
            "properties": {
                "balance_minor": MINOR,
                "reserved_minor": MINOR,
                "available_minor": MINOR,
            },
        },
        "Me": {
            "type": "object",
            "properties": {
                "username": {"type": "string"},
                "sponsor_id": {"type": "string"},
                "shows": {"type": "array", "items": {"type": "object"}},
            },
        },
    }
    products = {"type": "array", "items": _ref("Product")}
    bookings = {"type": "array", "items": _ref("Booking")}
    login = {
        "summary": "Log in (producer or sponsor account); the token goes in "
        "`Authorization: Bearer TOKEN`",
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["username", "password"],
                        "properties": {
                            "username": {"type": "string"},
                            "password": {"type": "string"},
                        },
                    }
                }
            },
        },
        "responses": {
            "200": _ok(
                {
                    "type": "object",
                    "properties": {
                        "token": {"type": "string"},
                        "username": {"type": "string"},
                        "role": {"type": "string"},
                        "sponsor_id": {"type": ["string", "null"]},
                        "expires_in_s": {"type": "integer"},
                    },
                }
            ),
            **_errors("401"),
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "gala sponsor API",
            "version": "1",
            "description": "Everything the sponsor portal does. Every answer is "
            '`{"ok": true, "data": ...}` or `{"ok": false, "error": {"code", "message"}}`. '
            "A sponsor token acts for its own sponsor only; another sponsor's ids answer 404 "
            "like ids that do not exist.",
        },
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "paths": {
            "/api/login": {"post": login},
            "/api/sponsor/me": {
                "get": _op("Who you are, and the shows that list you as a sponsor", _ref("Me"))
            },
            "/api/sponsor/products": {
                "get": _op("Your products", products),
                "post": _op(
                    "Create a product",
                    _ref("Product"),
                    "400",
                    "409",
                    body="ProductInput",
                    status="201",
                ),
            },
            "/api/sponsor/products/{product_id}": {
                "get": _op("One of your products", _ref("Product"), "404", params=("product_id",)),
                "patch": _op(
                    "Change some fields of one of your products",
                    _ref("Product"),
                    "400",
                    "404",
                    body="ProductChanges",
                    params=("product_id",),
                ),
            },
            "/api/sponsor/bookings": {
                "get": _op("Your reveal bookings, oldest first", bookings),
                "post": _op(
                    "Book a reveal (refusals: `slot_taken`, `slot_outside_show`, `no_stock`, "
                    "`insufficient_budget`, `missing_translation`, `unknown_product`, "
                    "`unknown_show`, `bad_booking`)",
                    _ref("Booking"),
                    "400",
                    "404",
                    "409",
                    body="BookingInput",
                    status="201",
                ),
            },
            "/api/sponsor/bookings/{booking_id}": {
                "get": _op("One of your bookings", _ref("Booking"), "404", params=("booking_id",))
            },
            "/api/sponsor/bookings/{booking_id}/withdraw": {
                "post": _op(
                    "Withdraw a pending booking (`booking_not_pending` otherwise)",
                    _ref("Booking"),
                    "404",
                    "409",
                    params=("booking_id",),
                )
            },
            "/api/sponsor/shows/{show_id}/results": {
                "get": _op(
                    "Your results in a show, live and after it: per reveal of your products "
                    "(viewers online, viewers who saw the card, taps, orders, units, GMV, "
                    "conversion) and per drop you funded (grabbed, given, refunded)",
                    {"type": "object"},
                    "404",
                    params=("show_id",),
                )
            },
            "/api/sponsor/shows/{show_id}/results.csv": {
                "get": _op(
                    "The same results as CSV (a reveal table, then a drop table)",
                    {"type": "string"},
                    "404",
                    params=("show_id",),
                )
            },
            "/api/sponsor/budget": {
                "get": _op(
                    "Your drop budget: the ledger balance, what your pending and approved "
                    "bookings reserve, and what is left to book",
                    _ref("Budget"),
                )
            },
        },
    }


async def openapi_json(request: web.Request) -> web.Response:
    return json_response(openapi_document())


def add_openapi_route(app: web.Application) -> None:
    app.router.add_get("/api/openapi.json", openapi_json)
