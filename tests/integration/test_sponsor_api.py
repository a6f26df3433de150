"""The sponsor portal's JSON API through a real server: sponsor accounts made with the CLI log in,
manage their products and book reveals; producers review bookings on `/producer` (audited); the
OpenAPI document lists every sponsor route; and the authorization matrix: every sponsor endpoint,
called as another sponsor, a viewer, a producer or anonymously, is refused and never leaks data."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import socketio

from gala.auth.tokens import SPONSOR, hash_password
from gala.http.sponsor_api import with_cues
from gala.runofshow.showfile import parse_show
from gala.runofshow.sponsor_products import import_show_products, show_file_products
from gala.settings import Settings
from gala.stores.ports import Account
from overlays.model import ShowOverlay
from stage_control.model import Cue
from tests.support import (
    LOCALES,
    RunningServer,
    producer_client,
    running_server,
    show_toml,
    write_show,
)

SHOW = "test-show"
P = "/producer"
PASSWORD = "correct horse battery"
X5: dict[str, Any] = {
    "id": "x5",
    "name": {loc: f"Acme X5 [{loc}]" for loc in LOCALES},
    "description": {"en": "A phone"},
    "image_url": "/static/demo/products/aurora-x5.svg",
    "price_minor": 399_900,
    "stock": 300,
    "per_viewer_limit": 2,
}


async def sponsor_token(server: RunningServer, username: str, sponsor_id: str) -> str:
    return await server.sponsor_token(username, sponsor_id, PASSWORD)


class Api:
    def __init__(self, http: aiohttp.ClientSession, base_url: str, token: str | None) -> None:
        self.http, self.base_url, self.token = http, base_url, token

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, dict[str, Any]]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        async with self.http.request(
            method, f"{self.base_url}{path}", json=body, headers=headers
        ) as resp:
            return resp.status, await resp.json()


def reveal(cue: str = "c01", **more: Any) -> dict[str, Any]:
    return {
        "show_id": SHOW,
        "product_id": "x5",
        "slot": {"after_cue": cue},
        "sale_duration_ms": 600_000,
        **more,
    }


def test_the_cli_creates_sponsor_accounts_only_with_a_sponsor_id(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'gala.db'}"

    def add(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "gala", "user", "add", "brand", "--store", store,
             "--password-stdin", *args],
            input=PASSWORD + "\n", text=True, capture_output=True, cwd=tmp_path, check=False,
        )  # fmt: skip

    assert add("--role", "sponsor").returncode == 2
    assert add("--sponsor", "acme").returncode == 2
    made = add("--role", "sponsor", "--sponsor", "acme")
    assert made.returncode == 0 and "for sponsor acme" in made.stdout


async def test_a_sponsor_manages_its_products_and_books_reveals_through_the_api(
    server: RunningServer,
) -> None:
    async with aiohttp.ClientSession() as http:
        api = Api(http, server.base_url, await sponsor_token(server, "brand", "acme"))
        status, me = await api.call("GET", "/api/sponsor/me")
        assert status == 200 and me["data"]["sponsor_id"] == "acme"
        [show] = me["data"]["shows"]
        assert show["id"] == SHOW and show["cues"][0] == {"id": "c01", "number": "1"}
        assert "label" not in show["cues"][0], "cue labels may name embargoed products"

        status, made = await api.call("POST", "/api/sponsor/products", X5)
        assert status == 201 and made["data"]["price_minor"] == 399_900
        status, again = await api.call("POST", "/api/sponsor/products", X5)
        assert (status, again["error"]["code"]) == (409, "product_exists")
        status, bad = await api.call(
            "POST", "/api/sponsor/products", {**X5, "id": "y", "stock": -1}
        )
        assert (status, bad["error"]["code"]) == (400, "bad_product")
        status, edited = await api.call("PATCH", "/api/sponsor/products/x5", {"stock": 50})
        assert status == 200 and edited["data"]["stock"] == 50
        await api.call("POST", "/api/sponsor/products", {**X5, "id": "empty", "stock": 0})
        await api.call(
            "POST", "/api/sponsor/products", {**X5, "id": "en-only", "name": {"en": "X"}}
        )
        status, listed = await api.call("GET", "/api/sponsor/products")
        # "widget": the show file's product of acme, imported as acme's own when the node started
        assert [p["id"] for p in listed["data"]] == ["empty", "en-only", "widget", "x5"]

        drop = {"budget_minor": 600_000, "envelopes": 100}
        status, booked = await api.call("POST", "/api/sponsor/bookings", reveal(drop=drop))
        assert status == 201 and booked["data"]["state"] == "pending"
        refusals = [
            (reveal(), 409, "slot_taken"),
            (reveal("c99"), 400, "slot_outside_show"),
            (reveal("c02", product_id="empty"), 409, "no_stock"),
            (reveal("c02", product_id="en-only"), 400, "missing_translation"),
            (reveal("c02", product_id="nope"), 404, "unknown_product"),
            (reveal("c02", drop=drop), 409, "insufficient_budget"),  # 1,000,000 - 600,000 left
            (reveal("c02", flash_price_minor=399_900), 400, "bad_booking"),
            ({**reveal("c02"), "show_id": "other-show"}, 404, "unknown_show"),
        ]
        for body, want_status, want_code in refusals:
            status, refused = await api.call("POST", "/api/sponsor/bookings", body)
            assert (status, refused["error"]["code"]) == (want_status, want_code), body
        status, budget = await api.call("GET", "/api/sponsor/budget")
        assert budget["data"] == {
            "balance_minor": 1_000_000,
            "reserved_minor": 600_000,
            "available_minor": 400_000,
        }
        _, second = await api.call(
            "POST", "/api/sponsor/bookings", reveal("c02", flash_price_minor=299_900)
        )
        _, third = await api.call(
            "POST", "/api/sponsor/bookings", {**reveal(), "slot": {"at": "21:30"}}
        )
        status, withdrawn = await api.call(
            "POST", f"/api/sponsor/bookings/{third['data']['id']}/withdraw"
        )
        assert status == 200 and withdrawn["data"]["state"] == "withdrawn"

        await server.producer_token()  # creates the stage-manager account
        async with producer_client(server.base_url, "stage-manager", PASSWORD) as producer:
            listed = await producer.call("bookings:list", {"show_id": SHOW}, namespace=P)
            rows = {b["id"]: b for b in listed["data"]["bookings"]}
            assert rows[booked["data"]["id"]]["product"]["name"]["en"] == "Acme X5 [en]"
            # by id: three bookings made within one millisecond have no "oldest" among them
            assert {b["id"]: b["state"] for b in listed["data"]["bookings"]} == {
                booked["data"]["id"]: "pending",
                second["data"]["id"]: "pending",
                third["data"]["id"]: "withdrawn",
            }
            approved = await producer.call(
                "booking:approve",
                {"show_id": SHOW, "booking_id": booked["data"]["id"]},
                namespace=P,
            )
            assert approved["data"]["booking"]["state"] == "approved"
            no_reason = await producer.call(
                "booking:reject", {"show_id": SHOW, "booking_id": second["data"]["id"]}, namespace=P
            )
            assert no_reason["error"]["code"] == "bad_booking"
            rejected = await producer.call(
                "booking:reject",
                {"show_id": SHOW, "booking_id": second["data"]["id"], "reason": "host is off"},
                namespace=P,
            )
            assert rejected["data"]["booking"]["reason"] == "host is off"
            twice = await producer.call(
                "booking:approve",
                {"show_id": SHOW, "booking_id": second["data"]["id"]},
                namespace=P,
            )
            assert twice["error"]["code"] == "booking_not_pending"
            audit = await producer.call("audit", {"show_id": SHOW}, namespace=P)
            entries = [e for e in audit["data"]["entries"] if e["action"].startswith("booking.")]
            assert [
                (e["action"], e["actor"], e["detail"]["booking_id"], e["detail"].get("refused"))
                for e in entries
            ] == [
                ("booking.approve", "stage-manager", booked["data"]["id"], None),
                ("booking.reject", "stage-manager", second["data"]["id"], "bad_booking"),
                ("booking.reject", "stage-manager", second["data"]["id"], None),
                ("booking.approve", "stage-manager", second["data"]["id"], "booking_not_pending"),
            ]
            assert entries[2]["detail"]["reason"] == "host is off"

        status, mine = await api.call("GET", "/api/sponsor/bookings")
        assert {b["id"]: (b["state"], b["reason"]) for b in mine["data"]} == {
            booked["data"]["id"]: ("approved", ""),
            second["data"]["id"]: ("rejected", "host is off"),
            third["data"]["id"]: ("withdrawn", ""),
        }


async def test_sponsors_log_in_to_the_portal_and_cannot_open_the_console(
    server: RunningServer,
) -> None:
    token = await sponsor_token(server, "brand", "acme")
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.post(
            f"{server.base_url}/login",
            data={"username": "brand", "password": PASSWORD, "next": "/console/test-show"},
            allow_redirects=False,
        ) as resp:
            assert resp.status == 302 and resp.headers["Location"] == "/sponsor"
        async with http.get(f"{server.base_url}/sponsor") as resp:
            assert resp.status == 200 and "acme" in await resp.text()
        async with http.get(f"{server.base_url}/console/{SHOW}", allow_redirects=False) as resp:
            assert resp.status == 302 and resp.headers["Location"].startswith("/login")
    async with (
        aiohttp.ClientSession() as anonymous,
        anonymous.get(f"{server.base_url}/sponsor", allow_redirects=False) as resp,
    ):
        assert resp.status == 302 and resp.headers["Location"] == "/login?next=/sponsor"
    for namespace in (P, "/"):
        client = socketio.AsyncClient(reconnection=False)
        reasons: list[Any] = []
        client.on("connect_error", reasons.append, namespace=namespace)
        with pytest.raises(socketio.exceptions.ConnectionError):
            await client.connect(
                server.base_url,
                transports=["websocket"],
                auth={"token": token},
                namespaces=[namespace],
                wait_timeout=10,
            )
        await client.disconnect()
        assert reasons[0]["data"]["code"] == "forbidden"


async def test_a_sponsor_account_without_a_sponsor_id_cannot_log_in(
    server: RunningServer,
) -> None:
    await server.node.store.hub.put_account(Account("ghost", hash_password(PASSWORD), SPONSOR))
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{server.base_url}/api/login", json={"username": "ghost", "password": PASSWORD}
        ) as resp,
    ):
        assert resp.status == 401 and (await resp.json())["error"]["code"] == "bad_login"


async def test_the_openapi_document_describes_every_sponsor_route(server: RunningServer) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{server.base_url}/api/openapi.json") as resp,
    ):
        document = await resp.json()
    assert document["openapi"].startswith("3.")
    routes = {
        (route.method.lower(), route.resource.canonical)
        for route in server.app.router.routes()
        if route.resource is not None and route.resource.canonical.startswith("/api/sponsor")
    }
    assert len(routes) >= 10
    described = {(method, path) for path, ops in document["paths"].items() for method in ops}
    assert routes - described == set()
    assert ("post", "/api/login") in described


# --- the authorization matrix ----------------------------------------------------------------

# Every sponsor route: (method, path with {product} / {booking} for the owner's ids, body).
SPONSOR_ROUTES: list[tuple[str, str, Any]] = [
    ("GET", "/api/sponsor/me", None),
    ("GET", "/api/sponsor/products", None),
    (
        "POST",
        "/api/sponsor/products",
        {"id": "other", "name": {"en": "O"}, "price_minor": 1, "stock": 1},
    ),
    ("GET", "/api/sponsor/products/{product}", None),
    ("PATCH", "/api/sponsor/products/{product}", {"stock": 1}),
    ("GET", "/api/sponsor/bookings", None),
    ("POST", "/api/sponsor/bookings", reveal("c05")),
    ("GET", "/api/sponsor/bookings/{booking}", None),
    ("POST", "/api/sponsor/bookings/{booking}/withdraw", None),
    ("GET", "/api/sponsor/budget", None),
    ("GET", "/api/sponsor/shows/{show}/results", None),
    ("GET", "/api/sponsor/shows/{show}/results.csv", None),
]


def test_every_sponsor_route_of_the_router_has_a_row_in_the_matrix(
    server: RunningServer,
) -> None:
    rows = {(m, p.replace("{product}", "{product_id}").replace("{booking}", "{booking_id}")
                 .replace("{show}", "{show_id}"))
            for m, p, _ in SPONSOR_ROUTES}  # fmt: skip
    routes = {
        (route.method, route.resource.canonical)
        for route in server.app.router.routes()
        if route.resource is not None and route.resource.canonical.startswith("/api/sponsor")
    }
    assert routes == rows


@pytest.mark.parametrize(("method", "path", "body"), SPONSOR_ROUTES)
async def test_no_one_but_the_owning_sponsor_gets_a_sponsors_data(
    server: RunningServer, method: str, path: str, body: Any
) -> None:
    async with aiohttp.ClientSession() as http:
        owner = Api(http, server.base_url, await sponsor_token(server, "brand", "acme"))
        await owner.call("POST", "/api/sponsor/products", X5)
        _, booked = await owner.call("POST", "/api/sponsor/bookings", reveal())
        secret_ids = {"x5", booked["data"]["id"]}
        assert booked["ok"], booked
        url = path.format(product="x5", booking=booked["data"]["id"], show=SHOW)
        callers = {
            "anonymous": (Api(http, server.base_url, None), {401}),
            "forged": (Api(http, server.base_url, "forged.token"), {401}),
            "viewer": (Api(http, server.base_url, await server.viewer_token()), {403}),
            "producer": (Api(http, server.base_url, await server.producer_token()), {403}),
        }
        for name, (api, statuses) in callers.items():
            status, answer = await api.call(method, url, body)
            assert status in statuses and answer["ok"] is False, (name, status, answer)
        rival = Api(http, server.base_url, await sponsor_token(server, "rival", "borealis"))
        status, answer = await rival.call(method, url, body)
        text = str(answer)
        if "{" in path:
            assert status == 404 and answer["error"]["code"] in (
                "unknown_product",
                "unknown_booking",
                "unknown_show",
            )
        elif method == "POST" and path.endswith("/bookings"):
            assert status == 404 and answer["error"]["code"] == "unknown_show"
        else:
            assert status in (200, 201) and answer["data"] is not None
        assert "acme" not in text.lower(), "the rival sees nothing of the owner's"
        if method == "GET" and "{" not in path and path != "/api/sponsor/me":
            lists = answer["data"] if isinstance(answer["data"], list) else []
            assert not any(item.get("id") in secret_ids for item in lists)
        # nothing the others tried changed the owner's data
        _, product = await owner.call("GET", "/api/sponsor/products/x5")
        _, booking = await owner.call("GET", f"/api/sponsor/bookings/{booked['data']['id']}")
        assert product["data"]["stock"] == X5["stock"] and booking["data"]["state"] == "pending"


@pytest.mark.parametrize("event", ["bookings:list", "booking:approve", "booking:reject"])
async def test_only_producers_reach_the_booking_review_messages(
    server: RunningServer, event: str
) -> None:
    """Sponsor tokens cannot connect to `/producer` (see above); a viewer on `/` is refused."""
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(
        server.base_url, transports=["websocket"], auth={"token": await server.viewer_token()}
    )
    try:
        ack = await client.call(event, {"show_id": SHOW, "booking_id": "bk-1"}, timeout=10)
    finally:
        await client.disconnect()
    assert ack["ok"] is False and ack["error"]["code"] == "forbidden"


# --- the show file's products of a sponsor ---------------------------------------------------


async def test_a_sponsor_sees_and_books_the_products_its_show_file_declares(
    server: RunningServer,
) -> None:
    async with aiohttp.ClientSession() as http:
        api = Api(http, server.base_url, await sponsor_token(server, "brand", "acme"))
        status, listed = await api.call("GET", "/api/sponsor/products")
        assert status == 200
        assert listed["data"] == [
            {
                "id": "widget",
                "sponsor_id": "acme",
                "name": {loc: f"Widget {loc}" for loc in LOCALES},
                "description": {},
                "image_url": "/static/demo/products/aurora-x5.svg",
                "price_minor": 12990,
                "stock": 100,
                "per_viewer_limit": 2,
            }
        ]
        status, booked = await api.call(
            "POST", "/api/sponsor/bookings", {**reveal(), "product_id": "widget"}
        )
        assert status == 201 and booked["data"]["product_id"] == "widget"
        rival = Api(http, server.base_url, await sponsor_token(server, "rival", "borealis"))
        status, theirs = await rival.call("GET", "/api/sponsor/products")
        assert (status, theirs["data"]) == (200, [])


async def test_importing_the_show_files_products_again_keeps_the_sponsors_edits(
    server: RunningServer,
) -> None:
    async with aiohttp.ClientSession() as http:
        api = Api(http, server.base_url, await sponsor_token(server, "brand", "acme"))
        edit = {"stock": 7, "price_minor": 9900, "description": {"en": "Ours now"}}
        status, _ = await api.call("PATCH", "/api/sponsor/products/widget", edit)
        assert status == 200
        node = server.node
        assert await import_show_products(node.shows.all(), node.sponsors) == {}
        _, listed = await api.call("GET", "/api/sponsor/products")
        [widget] = listed["data"]
        assert (widget["stock"], widget["price_minor"], widget["description"]) == (
            7,
            9900,
            {"en": "Ours now"},
        )


async def test_a_restarted_node_keeps_the_edited_show_file_product(tmp_path: Path) -> None:
    settings = Settings(
        store_url=f"sqlite:///{tmp_path / 'gala.db'}",
        show_files=(write_show(tmp_path),),
        port=0,
    )
    for stock in (None, 7):
        async with running_server(settings) as running, aiohttp.ClientSession() as http:
            api = Api(http, running.base_url, await sponsor_token(running, "brand", "acme"))
            if stock is None:
                await api.call("PATCH", "/api/sponsor/products/widget", {"stock": 7})
            else:
                _, listed = await api.call("GET", "/api/sponsor/products")
                assert [(p["id"], p["stock"]) for p in listed["data"]] == [("widget", stock)]


async def test_a_show_file_product_the_sponsor_rules_refuse_is_skipped(tmp_path: Path) -> None:
    huge = show_toml().replace("stock = 100\n", f"stock = {10**8}\n", 1)  # above MAX_STOCK
    assert huge != show_toml()
    assert [p.stock for p in show_file_products(parse_show(tomllib.loads(huge)))["acme"]] == [10**8]
    path = tmp_path / "huge.toml"
    path.write_text(huge, encoding="utf-8")
    settings = Settings(
        store_url=f"sqlite:///{tmp_path / 'gala.db'}", show_files=(str(path),), port=0
    )
    async with running_server(settings) as running, aiohttp.ClientSession() as http:
        api = Api(http, running.base_url, await sponsor_token(running, "brand", "acme"))
        assert (await api.call("GET", "/api/sponsor/products"))[1]["data"] == []


def test_each_reveal_row_names_the_cue_that_revealed_it_by_id_and_number() -> None:
    def revealing(cue_id: str, number: str, product_id: str) -> Cue:
        card = {"id": product_id, "kind": "product", "product": {"id": product_id}}
        return Cue(cue_id, number, "a label", actions=(ShowOverlay("product_card", card),))

    cues = [
        revealing("c01", "1", "x5"),
        Cue("c02", "2", "banner"),
        revealing("c03", "3", "x5"),
        revealing("c04", "4", "watch"),
    ]
    rows = [{"product_id": p, "seq": i} for i, p in enumerate(["x5", "watch", "x5", "x5", "gone"])]
    named = with_cues({"reveals": rows, "drops": []}, cues)["reveals"]
    assert [(r["cue_id"], r["cue_number"]) for r in named] == [
        ("c01", "1"),
        ("c04", "4"),
        ("c03", "3"),
        ("c03", "3"),  # an encore of the last cue that reveals it
        (None, None),
    ]
    assert all("label" not in str(r) for r in named)
