"""Bad payloads are refused at the edge, while the packet is decoded and before any handler runs,
through a real server and real socket.io clients: a payload nested past the bound (up to
thousands of levels, deeper than `json.loads` can go) is answered `bad_payload`, a message over
the payload limit `payload_too_large` without its JSON being decoded, a packet that is not
socket.io gets nothing or a `bad_payload` ack; the connection stays up, the next message is
answered, and none of it writes a traceback to the log. A message over engine.io's limit closes
the connection (1009) without an answer. The edge comes before any store, so one backend does."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import socketio

from gala.realtime.facade import MAX_MESSAGE_BYTES, MAX_PAYLOAD_DEPTH, VIEWER_NS, Connection
from gala.settings import Settings
from tests.support import (
    RawViewer,
    RunningServer,
    Viewer,
    connect_viewer,
    running_server,
    write_show,
)

SHOW = "test-show"
DEEP = "\x00deep"  # where the client's encoder writes the deep JSON text


def nested(kind: str, depth: int) -> Any:
    """A list or dict `depth` levels deep (`[]` and `{}` are one level)."""
    value: Any = [] if kind == "list" else {}
    for _ in range(depth - 1):
        value = [value] if kind == "list" else {"a": value}
    return value


def nested_text(kind: str, depth: int) -> str:
    if kind == "list":
        return "[" * depth + "]" * depth
    return '{"a":' * (depth - 1) + "{}" + "}" * (depth - 1)


class DeepJson:
    """The client's JSON, able to send what Python's own encoder cannot nest (it stops at the
    recursion limit): `DEEP` strings in the data are replaced by `DeepJson.text`."""

    text = ""

    @staticmethod
    def dumps(data: Any, **options: Any) -> str:
        return json.dumps(data, **options).replace(json.dumps(DEEP), DeepJson.text)

    loads = staticmethod(json.loads)


class DeepPacket(socketio.packet.Packet):  # type: ignore[misc]
    json = DeepJson


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[RunningServer]:
    settings = Settings(
        store_url=f"sqlite:///{tmp_path / 'gala.db'}", show_files=(write_show(tmp_path),)
    )
    async with running_server(settings) as running:
        yield running


@pytest.fixture
def handled(server: RunningServer) -> list[Any]:
    """Payloads that reached the `spy` handler (which answers `{}`)."""
    calls: list[Any] = []

    async def spy(conn: Connection, payload: Any) -> dict[str, Any]:
        calls.append(payload)
        return {}

    server.node.realtime.handle(VIEWER_NS, "spy", spy)
    return calls


@pytest.fixture
async def viewer(server: RunningServer) -> AsyncIterator[Viewer]:
    client = await connect_viewer(server.base_url, await server.viewer_token())
    yield client
    await client.close()


@pytest.fixture
async def deep_viewer(server: RunningServer) -> AsyncIterator[Viewer]:
    """A standard socket.io client whose encoder can nest past the recursion limit."""
    client = socketio.AsyncClient(reconnection=False, serializer=DeepPacket)
    await client.connect(
        server.base_url,
        transports=["websocket"],
        auth={"token": await server.viewer_token()},
        wait_timeout=30,
    )
    yield Viewer(client)
    await client.disconnect()


def code(ack: dict[str, Any]) -> str:
    assert ack["ok"] is False, ack
    assert set(ack["error"]) == {"code", "message"} and ack["error"]["message"]
    return str(ack["error"]["code"])


def no_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    logged = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert logged == [], [r.getMessage() for r in logged]
    assert "Traceback" not in caplog.text


async def still_answered(viewer: Viewer) -> None:
    ack = await viewer.call("join", {"show_id": SHOW})
    assert ack["ok"] and ack["data"]["snapshot"]["seq"] == 0


@pytest.mark.parametrize("kind", ["list", "dict"])
@pytest.mark.parametrize("depth", [MAX_PAYLOAD_DEPTH + 1, 100])
async def test_a_payload_nested_past_the_bound_is_refused_before_any_handler_runs(
    viewer: Viewer,
    handled: list[Any],
    caplog: pytest.LogCaptureFixture,
    kind: str,
    depth: int,
) -> None:
    caplog.set_level(logging.INFO)
    assert code(await viewer.call("spy", nested(kind, depth))) == "bad_payload"
    assert code(await viewer.call("join", {"show_id": SHOW, "x": nested(kind, depth - 1)})) == (
        "bad_payload"
    )
    assert handled == []
    await still_answered(viewer)
    no_tracebacks(caplog)


@pytest.mark.parametrize("kind", ["list", "dict"])
async def test_a_payload_nested_to_the_bound_reaches_its_handler(
    viewer: Viewer, handled: list[Any], kind: str
) -> None:
    payload = nested(kind, MAX_PAYLOAD_DEPTH)
    assert await viewer.call("spy", payload) == {"ok": True, "data": {}}
    assert handled == [payload]


@pytest.mark.parametrize("kind", ["list", "dict"])
@pytest.mark.parametrize("depth", [1000, 2500])  # both under the size limit
async def test_a_payload_nested_thousands_deep_gets_bad_payload_and_no_traceback(
    deep_viewer: Viewer,
    handled: list[Any],
    caplog: pytest.LogCaptureFixture,
    kind: str,
    depth: int,
) -> None:
    caplog.set_level(logging.INFO)
    DeepJson.text = nested_text(kind, depth)
    assert code(await deep_viewer.call("spy", DEEP)) == "bad_payload"
    assert code(await deep_viewer.call("join", {"show_id": SHOW, "x": DEEP})) == "bad_payload"
    assert handled == []
    await still_answered(deep_viewer)
    no_tracebacks(caplog)


async def test_five_hundred_deep_messages_from_one_viewer_are_all_answered_and_log_nothing(
    deep_viewer: Viewer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    DeepJson.text = nested_text("list", 1000)
    acks = await asyncio.gather(*(deep_viewer.call("spy", DEEP) for _ in range(500)))
    assert {code(ack) for ack in acks} == {"bad_payload"}
    await still_answered(deep_viewer)
    no_tracebacks(caplog)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_a_message_over_the_payload_limit_is_refused_without_being_decoded(
    viewer: Viewer, handled: list[Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    ack = await viewer.call("spy", {"pad": "x" * 200_000})
    assert code(ack) == "payload_too_large"
    assert "limit" in ack["error"]["message"]
    assert handled == []
    await still_answered(viewer)
    no_tracebacks(caplog)


async def test_a_message_over_the_engineio_limit_closes_the_connection_without_an_answer(
    server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    raw = await RawViewer.connect(server.base_url, await server.viewer_token())
    text = '421["spy",' + json.dumps("x" * MAX_MESSAGE_BYTES) + "]"
    payload = text.encode()
    raw.writer.write(  # one masked text frame, the all-zero mask
        bytes((0x81, 0x80 | 127)) + len(payload).to_bytes(8, "big") + b"\0\0\0\0" + payload
    )
    opcode, body = await asyncio.wait_for(raw.read_frame(), 10)
    assert (opcode, int.from_bytes(body[:2], "big")) == (0x8, 1009)  # message too big
    rest = b""
    with contextlib.suppress(ConnectionResetError):  # it did not read what was left
        rest = await asyncio.wait_for(raw.reader.read(), 15)
    assert rest == b"", "nothing after the close: no ack"
    raw.close()
    other = await connect_viewer(server.base_url, await server.viewer_token())
    await still_answered(other)
    await other.close()
    no_tracebacks(caplog)


async def send_binary(raw: RawViewer, data: bytes) -> None:
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
    raw.writer.write(bytes((0x82, 0x80 | len(data))) + mask + masked)
    await raw.writer.drain()


async def read_ack(raw: RawViewer) -> str:
    """The next ack's text, skipping pings."""
    while True:
        text = await asyncio.wait_for(raw.read_text(), 10)
        if text.startswith("43"):
            return text


NOT_SOCKETIO = [
    "4",  # an empty engine.io message
    "4" + "[" * 5000 + "]" * 5000,  # engine.io message data that is not a socket.io packet
    '4{"a":1}',
    "4hello",
    "42",  # an event without data
    "42{}",
    "42[]",
    "42[5]",
    '42["time"',  # cut short
    '44{"message":"x"}',  # CONNECT_ERROR is the server's to send
    "43",  # an ack of nothing
    '43["x"]',
    '451-["spy",{"_placeholder":true,"num":0}]',  # binary packets are not accepted
    "49",
    '42/nowhere,["spy",{}]',
    "5",  # an upgrade, a noop and a v3 client's ping mean nothing here
    "6",
    "2",
]


async def test_packets_that_are_not_socketio_events_are_dropped_without_a_traceback(
    server: RunningServer, handled: list[Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    raw = await RawViewer.connect(server.base_url, await server.viewer_token())
    for text in NOT_SOCKETIO:
        await raw.send_text(text)
    await send_binary(raw, b"\x01\x02")
    await send_binary(raw, b"")
    await raw.send_text('427["spy",{"after":"all of it"}]')
    assert await read_ack(raw) == '437[{"ok":true,"data":{}}]'
    assert handled == [{"after": "all of it"}]
    raw.close()
    no_tracebacks(caplog)


@pytest.mark.parametrize(
    "text",
    [
        "4211",  # no data
        "4211{}",
        "4211[]",
        "4211[7]",
        '4211["spy"',
        "4211" + "[" * 5000 + "]" * 5000,
        '451-11["spy",{"_placeholder":true,"num":0}]',  # binary packets are not accepted
    ],
)
async def test_a_malformed_event_with_an_ack_id_is_answered_bad_payload(
    server: RunningServer, handled: list[Any], caplog: pytest.LogCaptureFixture, text: str
) -> None:
    caplog.set_level(logging.INFO)
    raw = await RawViewer.connect(server.base_url, await server.viewer_token())
    await raw.send_text(text)
    ack = await read_ack(raw)
    assert ack.startswith("4311[")
    assert code(json.loads(ack[4:])[0]) == "bad_payload"
    await raw.send_text('4212["spy",{}]')
    assert await read_ack(raw) == '4312[{"ok":true,"data":{}}]'
    assert handled == [{}]
    raw.close()
    no_tracebacks(caplog)


async def test_a_connect_with_auth_nested_past_the_bound_is_refused_bad_payload(
    server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    client = socketio.AsyncClient(reconnection=False, serializer=DeepPacket)
    reasons: list[Any] = []
    client.on("connect_error", reasons.append, namespace="/")
    DeepJson.text = nested_text("dict", 2500)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(
            server.base_url,
            transports=["websocket"],
            auth={"token": await server.viewer_token(), "x": DEEP},
            wait_timeout=10,
        )
    await client.disconnect()
    assert reasons[0]["data"]["code"] == "bad_payload"
    no_tracebacks(caplog)
