"""Bad input over real sockets and HTTP (both backends): every refusal is an error ack with a
stable code, nothing changes, the connection stays up and the server keeps serving."""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
import pytest
import socketio

from tests.support import RunningServer, Viewer, connect_viewer

SHOW = "test-show"
P = "/producer"


def code(ack: dict[str, Any]) -> str:
    assert ack["ok"] is False, ack
    assert set(ack["error"]) == {"code", "message"} and ack["error"]["message"]
    return str(ack["error"]["code"])


@pytest.fixture
async def viewer(server: RunningServer) -> Any:
    client = await connect_viewer(server.base_url, await server.viewer_token())
    yield client
    await client.close()


@pytest.fixture
async def producer(server: RunningServer) -> Any:
    client = await connect_viewer(server.base_url, await server.producer_token(), namespace=P)
    yield client
    await client.close()


VIEWER_CASES = [
    ("join", "gala-1111", "bad_payload"),
    ("join", ["show_id", SHOW], "bad_payload"),
    ("join", 42, "bad_payload"),
    ("join", None, "bad_payload"),
    ("join", {}, "bad_field"),
    ("join", {"show_id": 7}, "bad_field"),
    ("join", {"show_id": "Not An Id!"}, "bad_field"),
    ("join", {"show_id": "x" * 65}, "bad_field"),
    ("join", {"show_id": "no-such-show"}, "unknown_show"),
    ("join", {"show_id": SHOW, "resume": "yesterday"}, "bad_field"),
    ("join", {"show_id": SHOW, "resume": {"epoch": 5, "seq": 1}}, "bad_field"),
    ("join", {"show_id": SHOW, "resume": {"epoch": "abc", "seq": -1}}, "bad_field"),
    ("join", {"show_id": SHOW, "resume": {"epoch": "abc", "seq": 1.5}}, "bad_field"),
    ("join", {"show_id": SHOW, "pad": "x" * 20_000}, "payload_too_large"),
    ("time", {"t0": "now"}, "bad_field"),
    ("time", {"t0": True}, "bad_field"),
    ("leave", {"show_id": None}, "bad_field"),
    ("dance", {"show_id": SHOW}, "unknown_message"),
]


@pytest.mark.parametrize("event, payload, expected", VIEWER_CASES)
async def test_bad_viewer_messages_get_a_stable_code_and_the_viewer_stays_connected(
    server: RunningServer, viewer: Viewer, event: str, payload: Any, expected: str
) -> None:
    assert code(await viewer.call(event, payload)) == expected
    ack = await viewer.call("join", {"show_id": SHOW})
    assert ack["ok"] and ack["data"]["snapshot"]["seq"] == 0


PRODUCER_CASES = [
    ("go", {"show_id": SHOW}, "bad_field"),
    ("go", {"show_id": SHOW, "standby_cue_id": 3}, "bad_field"),
    ("go", {"show_id": SHOW, "standby_cue_id": "c09"}, "standby_changed"),
    ("go", {"show_id": "nope", "standby_cue_id": "c01"}, "unknown_show"),
    ("go", "GO!", "bad_payload"),
    ("standby", {"show_id": SHOW, "cue_id": "c99"}, "unknown_cue"),
    ("standby", {"show_id": SHOW, "cue_id": ["c01"]}, "bad_field"),
    ("back", {"show_id": SHOW}, "start_of_cue_list"),
    ("audit", {"show_id": SHOW, "limit": 0}, "bad_field"),
    ("audit", {"show_id": SHOW, "limit": "all"}, "bad_field"),
    ("console:join", {"show_id": SHOW, "x": "y" * 20_000}, "payload_too_large"),
    ("explode", {}, "unknown_message"),
]

LAUNCH = {"show_id": SHOW, "key": "launch-1", "budget_minor": 1000, "envelopes": 10}
LAUNCH_CASES = [
    ({**LAUNCH, "funder": []}, "bad_action"),
    ({**LAUNCH, "funder": {}}, "bad_action"),
    ({**LAUNCH, "funder": {"a": [1]}}, "bad_action"),
    ({**LAUNCH, "funder": ["acme"]}, "bad_action"),
    ({**LAUNCH, "funder": "nobody"}, "bad_action"),
    ({**LAUNCH, "name": {"x": 1}}, "bad_action"),
    ({**LAUNCH, "budget_minor": "1000"}, "bad_action"),
    ({**LAUNCH, "budget_minor": True}, "bad_action"),
    ({**LAUNCH, "budget_minor": 2**80}, "bad_action"),
    ({**LAUNCH, "budget_minor": float("nan")}, "bad_action"),
    ({**LAUNCH, "envelopes": 1.5}, "bad_action"),
    ({**LAUNCH, "envelopes": None}, "bad_action"),
    ({**LAUNCH, "budget_minor": 5}, "bad_action"),  # cannot give 10 envelopes 1 each
    ({**LAUNCH, "key": {"k": 1}}, "bad_field"),
    ({k: v for k, v in LAUNCH.items() if k != "key"}, "bad_field"),
    ([LAUNCH], "bad_payload"),
    ("launch", "bad_payload"),
]


def add_cue(**cue: Any) -> dict[str, Any]:
    return {"show_id": SHOW, "kind": "add", "after_cue": "c05", "cue": {"id": "n1", **cue}}


EDIT_CASES = [
    (add_cue(label="New", number=None), "bad_edit"),
    (add_cue(label="New", number=float("nan")), "bad_edit"),
    (add_cue(label="New", number=float("inf")), "bad_edit"),
    (add_cue(label="New", number={"a": [1]}), "bad_edit"),
    (add_cue(label="New", number=2**80), "bad_edit"),
    (add_cue(label="New", number="9" * 10_000), "bad_edit"),
    (add_cue(label="New", number="1e5"), "bad_edit"),
    (add_cue(label="New", number=True), "bad_edit"),
    (add_cue(label="New", number=6.1), "bad_edit"),
    (add_cue(label="x" * 10_000), "bad_edit"),
    (add_cue(label="x" * 201), "bad_edit"),
    (add_cue(label="   "), "bad_edit"),
    (add_cue(label=5), "bad_edit"),
    (add_cue(), "bad_edit"),
    (add_cue(label="New", notes="x" * 2001), "bad_edit"),
    (add_cue(label="New", pre_wait_ms="5"), "bad_edit"),
    (add_cue(label="New", auto_follow_ms=True), "bad_edit"),
    (add_cue(label="New", actions="stage.clear"), "bad_edit"),
    ({"show_id": SHOW, "kind": "add", "cue": ["n1"]}, "bad_edit"),
    ({"show_id": SHOW, "kind": None, "cue_id": "c01"}, "bad_edit"),
    ({"show_id": SHOW, "kind": "move", "cue_id": {"id": "c01"}}, "bad_edit"),
    ({"kind": "remove", "cue_id": "c07"}, "bad_field"),
]


@pytest.mark.parametrize("event, payload, expected", PRODUCER_CASES)
async def test_bad_producer_commands_change_nothing(
    server: RunningServer, producer: Viewer, event: str, payload: Any, expected: str
) -> None:
    before = await server.node.stage.state(SHOW)
    assert code(await producer.call(event, payload, namespace=P)) == expected
    assert await server.node.stage.state(SHOW) == before
    assert (await server.node.store.hub.read_log(SHOW)).events == []
    assert (await producer.call("console:join", {"show_id": SHOW}, namespace=P))["ok"]


@pytest.mark.parametrize(
    "event, payload, expected",
    [("drop:launch", p, c) for p, c in LAUNCH_CASES] + [("cue:edit", p, c) for p, c in EDIT_CASES],
)
async def test_malformed_launches_and_cue_edits_get_a_coded_refusal_and_no_traceback(
    server: RunningServer,
    producer: Viewer,
    caplog: pytest.LogCaptureFixture,
    event: str,
    payload: Any,
    expected: str,
) -> None:
    cues_before = server.node.shows.get(SHOW).cue_list()
    assert code(await producer.call(event, payload, namespace=P)) == expected
    assert (await server.node.store.hub.read_log(SHOW)).events == []
    assert server.node.shows.get(SHOW).cue_list() == cues_before
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert (await producer.call("console:join", {"show_id": SHOW}, namespace=P))["ok"]


async def test_a_cue_number_is_a_decimal_as_in_show_files(
    server: RunningServer, producer: Viewer
) -> None:
    for cue_id, number, shown in (("n1", "5.5", "5.5"), ("n2", 12, "12")):
        ack = await producer.call("cue:edit", add_cue(id=cue_id, label="New", number=number), P)
        assert ack["ok"], ack
        assert {c["id"]: c["number"] for c in ack["data"]["cues"]}[cue_id] == shown


async def test_commands_on_an_ended_show_are_refused_and_audited(
    server: RunningServer, producer: Viewer
) -> None:
    assert (await producer.call("go", {"show_id": SHOW, "standby_cue_id": "c01"}, namespace=P))[
        "ok"
    ]
    assert (await producer.call("end", {"show_id": SHOW}, namespace=P))["ok"]
    log_before = (await server.node.store.hub.read_log(SHOW)).events
    for event, payload in [
        ("go", {"standby_cue_id": "c02"}),
        ("panic", {}),
        ("back", {}),
        ("standby", {"cue_id": "c05"}),
        ("end", {}),
    ]:
        ack = await producer.call(event, {"show_id": SHOW, **payload}, namespace=P)
        assert code(ack) == "show_ended"
    assert (await server.node.store.hub.read_log(SHOW)).events == log_before
    audit = (await producer.call("audit", {"show_id": SHOW}, namespace=P))["data"]["entries"]
    assert [e["action"] for e in audit] == ["go", "end", "go", "panic", "back", "standby", "end"]
    assert all(e["detail"]["refused"] == "show_ended" for e in audit[2:])
    assert {e["actor"] for e in audit} == {"stage-manager"}


@pytest.mark.parametrize(
    "auth, expected",
    [
        (None, "bad_token"),
        ({"token": "forged.token"}, "bad_token"),
        ({"token": 12}, "bad_token"),
    ],
)
async def test_connections_without_a_valid_token_are_refused(
    server: RunningServer, auth: Any, expected: str
) -> None:
    client = socketio.AsyncClient(reconnection=False)
    reasons: list[Any] = []
    client.on("connect_error", reasons.append, namespace="/")
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(server.base_url, transports=["websocket"], auth=auth, wait_timeout=10)
    await client.disconnect()
    assert reasons[0]["data"]["code"] == expected


async def test_a_token_signed_with_another_secret_is_refused(server: RunningServer) -> None:
    from gala.auth.tokens import Identity, TokenSigner

    forged = TokenSigner(b"not the server secret").issue(
        Identity("mallory", "producer"), 2_000_000_000, 60
    )
    client = socketio.AsyncClient(reconnection=False)
    reasons: list[Any] = []
    client.on("connect_error", reasons.append, namespace=P)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(
            server.base_url,
            transports=["websocket"],
            auth={"token": forged},
            namespaces=[P],
            wait_timeout=10,
        )
    await client.disconnect()
    assert reasons[0]["data"]["code"] == "bad_token"


@pytest.mark.parametrize(
    "path, body, status, expected",
    [
        ("/api/login", b"{not json", 400, "bad_payload"),
        ("/api/login", b"[1, 2]", 400, "bad_payload"),
        ("/api/login", b'{"username": "stage-manager", "password": "wrong"}', 401, "bad_login"),
        ("/api/login", b'{"username": 5, "password": null}', 401, "bad_login"),
        ("/api/login", b'{"x": "' + b"y" * 40_000 + b'"}', 400, "payload_too_large"),
        ("/api/viewer-token", b"{oops", 400, "bad_payload"),
    ],
)
async def test_bad_http_requests_get_the_error_shape(
    server: RunningServer, path: str, body: bytes, status: int, expected: str
) -> None:
    await server.producer_token()
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            server.base_url + path, data=body, headers={"Content-Type": "application/json"}
        ) as resp,
    ):
        assert resp.status == status
        assert (await resp.json())["error"]["code"] == expected


async def test_unknown_show_over_http_is_a_404_with_a_code(server: RunningServer) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{server.base_url}/api/shows/nope") as resp:
            assert resp.status == 404
            assert (await resp.json())["error"]["code"] == "unknown_show"
        async with http.get(f"{server.base_url}/api/shows/{SHOW}") as resp:
            info = (await resp.json())["data"]
            assert info["id"] == SHOW and "cues" not in info
        async with http.get(f"{server.base_url}/console/{SHOW}", allow_redirects=False) as resp:
            assert resp.status == 302 and resp.headers["Location"].startswith("/login")


async def test_a_returning_viewer_keeps_its_viewer_id(server: RunningServer) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{server.base_url}/api/viewer-token") as resp:
            first = (await resp.json())["data"]
        async with http.post(
            f"{server.base_url}/api/viewer-token", json={"token": first["token"]}
        ) as resp:
            again = (await resp.json())["data"]
        async with http.post(
            f"{server.base_url}/api/viewer-token", json={"token": "forged.x"}
        ) as resp:
            fresh = (await resp.json())["data"]
    assert again["viewer_id"] == first["viewer_id"]
    assert fresh["viewer_id"] != first["viewer_id"]
