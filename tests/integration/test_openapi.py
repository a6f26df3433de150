"""The generated OpenAPI document: every route of the app is in it (and it names no other), its
schemas are valid JSON Schemas, and the requests and answers of a running server, captured while
a producer and a sponsor use the API, validate against the operations that describe them."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from jsonschema import Draft202012Validator

from commerce.ports import Payment
from commerce.sandbox_provider import SandboxProvider
from gala.http.openapi import ROUTES, documented_routes
from gala.kernel.clock import SystemClock
from gala.settings import Settings
from tests.support import LOCALES, RunningServer, running_server, write_show

SHOW = "test-show"
PASSWORD = "correct horse battery"
X5 = {
    "id": "x5",
    "name": {loc: f"Acme X5 [{loc}]" for loc in LOCALES},
    "price_minor": 399_900,
    "stock": 300,
    "per_viewer_limit": 2,
}


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[RunningServer]:
    settings = Settings(
        store_url=f"sqlite:///{tmp_path / 'gala.db'}",
        show_files=(write_show(tmp_path),),
        port=0,
        payment_provider="sandbox",
        demo_budget_minor=1_000_000,
    )
    async with running_server(settings) as running:
        yield running


class Recorder:
    """Calls the API and checks each request and answer against the document."""

    def __init__(self, http: aiohttp.ClientSession, node: RunningServer, doc: dict[str, Any]):
        self.http, self.node, self.doc = http, node, doc
        self.checked: set[tuple[str, str]] = set()

    def operation(self, method: str, path: str) -> tuple[str, dict[str, Any]]:
        for template, operations in self.doc["paths"].items():
            pattern = (
                "^"
                + "/".join(
                    "[^/]+" if part.startswith("{") else part for part in template.split("/")
                )
                + "$"
            )
            if method.lower() in operations and re.match(pattern, path):
                return template, operations[method.lower()]
        raise AssertionError(f"{method} {path} is not in the document")

    def validate(self, schema: dict[str, Any], instance: Any, what: str) -> None:
        root = {"components": self.doc["components"], **schema}
        errors = list(Draft202012Validator(root).iter_errors(instance))
        assert not errors, f"{what}: {errors[0].message}"

    async def call(
        self, method: str, path: str, body: Any = None, token: str | None = None,
        data: bytes | None = None, headers: dict[str, str] | None = None, invalid: bool = False,
    ) -> tuple[int, Any]:  # fmt: skip
        """`invalid`: the body breaks its schema, and the document says so."""
        template, operation = self.operation(method, path)
        if body is not None:
            schema = operation["requestBody"]["content"]["application/json"]["schema"]
            if invalid:
                root = {"components": self.doc["components"], **schema}
                assert not Draft202012Validator(root).is_valid(body), body
            else:
                self.validate(schema, body, f"request of {method} {path}")
        sent = {**(headers or {}), **({"Authorization": f"Bearer {token}"} if token else {})}
        async with self.http.request(
            method, self.node.base_url + path, json=body, data=data, headers=sent
        ) as resp:
            status, media, raw = resp.status, resp.content_type, await resp.read()
        responses = operation["responses"]
        described = responses.get(str(status)) or responses["default"]
        assert media in described.get("content", {}), (method, path, status, media)
        answer = json.loads(raw) if media == "application/json" else raw.decode()
        schema = described["content"][media].get("schema")
        if media == "application/json" and schema is not None:
            self.validate(schema, answer, f"answer {status} of {method} {path}")
        self.checked.add((method, template))
        return status, answer


def test_every_route_of_the_app_is_in_the_document_and_nothing_else(
    node: RunningServer,
) -> None:
    assert documented_routes(node.app.router) == set(ROUTES)


async def test_real_requests_and_answers_validate_against_the_document(
    node: RunningServer,
) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{node.base_url}/api/openapi.json") as resp:
            doc = await resp.json()
        assert doc["openapi"] == "3.1.0"
        for schema in doc["components"]["schemas"].values():
            Draft202012Validator.check_schema(schema)
        described = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
        assert described == set(ROUTES)

        api = Recorder(http, node, doc)
        status, viewer = await api.call("POST", "/api/viewer-token", {})
        assert status == 200
        await api.call("POST", "/api/viewer-token", {"token": viewer["data"]["token"]})
        await api.call("GET", f"/api/shows/{SHOW}")
        await api.call("GET", f"/api/shows/{SHOW}/snapshot")
        assert (await api.call("GET", "/api/shows/nope"))[0] == 404
        await api.call("GET", "/healthz")
        for _ in range(100):  # ready once the show's log is folded
            if (await api.call("GET", "/readyz"))[0] == 200:
                break
            await asyncio.sleep(0.05)
        node.node.draining = True
        assert (await api.call("GET", "/readyz"))[0] == 503, "the refusal carries the checks"
        node.node.draining = False
        await api.call("GET", "/metrics")
        await api.call("GET", "/api/openapi.json")
        producer = await node.producer_token()
        for password, expected in [("wrong", 401), (PASSWORD, 200)]:
            body = {"username": "stage-manager", "password": password}
            assert (await api.call("POST", "/api/login", body))[0] == expected
        await api.call("GET", f"/api/shows/{SHOW}/results", token=producer)
        await api.call("GET", f"/api/shows/{SHOW}/results.csv", token=producer)
        assert (await api.call("GET", "/api/sales/s-1/orders.csv", token=producer))[0] == 404

        sponsor = await node.sponsor_token("brand", "acme")
        await api.call("GET", "/api/sponsor/me", token=sponsor)
        assert (await api.call("POST", "/api/sponsor/products", X5, token=sponsor))[0] == 201
        await api.call("GET", "/api/sponsor/products", token=sponsor)
        await api.call("GET", "/api/sponsor/products/x5", token=sponsor)
        await api.call("PATCH", "/api/sponsor/products/x5", {"stock": 50}, token=sponsor)
        assert (await api.call("GET", "/api/sponsor/products/x5", token=None))[0] == 401
        drop = {"budget_minor": 600_000, "envelopes": 100}
        for slot in ({"after_cue": "c01"}, {"at": "21:30"}):
            booking = {
                "show_id": SHOW, "product_id": "x5", "slot": slot,
                "sale_duration_ms": 600_000, "drop": drop if "at" in slot else None,
            }  # fmt: skip
            status, booked = await api.call("POST", "/api/sponsor/bookings", booking, sponsor)
            assert status == 201, booked
        bad = {**booking, "sale_duration_ms": 5}
        status, _ = await api.call("POST", "/api/sponsor/bookings", bad, sponsor, invalid=True)
        assert status == 400
        booking_id = booked["data"]["id"]
        await api.call("GET", "/api/sponsor/bookings", token=sponsor)
        await api.call("GET", f"/api/sponsor/bookings/{booking_id}", token=sponsor)
        await api.call("POST", f"/api/sponsor/bookings/{booking_id}/withdraw", token=sponsor)
        await api.call("GET", "/api/sponsor/budget", token=sponsor)
        await api.call("GET", f"/api/sponsor/shows/{SHOW}/results", token=sponsor)
        await api.call("GET", f"/api/sponsor/shows/{SHOW}/results.csv", token=sponsor)

        payment = Payment("p-1", "sandbox", "o-1", "s-1", "v-1", "acme", 100, "CNY", "/", 0)
        delivery, headers = SandboxProvider(b"another secret", SystemClock()).delivery(payment)
        _, webhook = api.operation("POST", "/api/payments/webhook")
        event_schema = webhook["requestBody"]["content"]["application/json"]["schema"]
        api.validate(event_schema, json.loads(delivery), "the sandbox's delivery")
        status, refused = await api.call(
            "POST", "/api/payments/webhook", data=delivery, headers=headers
        )
        assert status == 401 and refused["ok"] is False, "signed with another secret"

    operators = {"/healthz", "/readyz", "/metrics"}
    api_routes = {r for r in ROUTES if r[1].startswith("/api/") or r[1] in operators}
    assert api_routes - api.checked == set(), "every JSON route was called and checked"
