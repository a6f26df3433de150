"""The path of an acked socket message, through a real server and real socket.io clients: a
handler that never awaits is answered by the connection's reader itself (no task), one that waits
runs in a task of its own, so a slow handler holds up neither the same connection's next `time`
ping nor another connection; acks to handlers that never wait come back in the order of their
messages, a slow one's when it is done; a handler that raises still answers with a coded error;
a drain answers what is in flight before it closes. Handlers are added for the test on the
running node; the path comes before any store, so one backend does. The live `figures` reach
viewers on the fan-out fast path: encoded and framed once per tick, whatever the viewers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from gala.kernel.errors import Conflict
from gala.realtime import wire_fanout
from gala.realtime.facade import VIEWER_NS, Connection
from gala.settings import Settings
from tests.support import (
    SHOP_SHOW,
    RawViewer,
    RunningServer,
    Viewer,
    connect_viewer,
    running_server,
    shop_show,
    write_show,
)

SHOW = "test-show"


class Gate:
    """A handler that waits until the test opens it (a buy waiting on its store)."""

    def __init__(self) -> None:
        self.opened = asyncio.Event()
        self.entered = asyncio.Event()
        self.tasks: list[asyncio.Task[Any] | None] = []

    async def handler(self, conn: Connection, payload: Any) -> dict[str, Any]:
        self.tasks.append(asyncio.current_task())
        self.entered.set()
        await self.opened.wait()
        return {"slow": payload}


class OutOfStock(Conflict):
    code = "out_of_stock_for_test"


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[RunningServer]:
    settings = Settings(
        store_url=f"sqlite:///{tmp_path / 'gala.db'}", show_files=(write_show(tmp_path),)
    )
    async with running_server(settings) as running:
        yield running


@pytest.fixture
def gate(server: RunningServer) -> Gate:
    gate = Gate()
    server.node.realtime.handle(VIEWER_NS, "slow", gate.handler)
    return gate


async def viewer_of(server: RunningServer) -> Viewer:
    return await connect_viewer(server.base_url, await server.viewer_token())


async def test_a_slow_handler_does_not_delay_a_time_ack_on_the_same_connection(
    server: RunningServer, gate: Gate
) -> None:
    viewer = await viewer_of(server)
    slow = asyncio.create_task(viewer.call("slow", {"n": 1}))
    await asyncio.wait_for(gate.entered.wait(), 10)
    assert (await viewer.call("time", {"t0": 5}))["data"]["t0"] == 5
    assert not slow.done()
    gate.opened.set()
    assert await slow == {"ok": True, "data": {"slow": {"n": 1}}}
    await viewer.close()


async def test_a_slow_handler_does_not_delay_other_connections(
    server: RunningServer, gate: Gate
) -> None:
    waiting, other = await viewer_of(server), await viewer_of(server)
    slow = asyncio.create_task(waiting.call("slow", {}))
    await asyncio.wait_for(gate.entered.wait(), 10)
    assert (await other.call("time", {"t0": 6}))["ok"]
    assert (await other.call("join", {"show_id": SHOW}))["ok"]
    assert not slow.done()
    gate.opened.set()
    assert (await slow)["ok"]
    await waiting.close()
    await other.close()


async def test_a_handler_that_never_awaits_is_answered_by_the_reader_and_one_that_waits_in_a_task(
    server: RunningServer, gate: Gate
) -> None:
    inline_tasks: list[asyncio.Task[Any] | None] = []

    async def quick(conn: Connection, payload: Any) -> dict[str, Any]:
        inline_tasks.append(asyncio.current_task())
        return {}

    server.node.realtime.handle(VIEWER_NS, "quick", quick)
    gate.opened.set()
    viewer = await viewer_of(server)
    for _ in range(3):
        assert (await viewer.call("quick", {}))["ok"]
        assert (await viewer.call("slow", {}))["ok"]
    reader = inline_tasks[0]
    assert reader is not None and inline_tasks == [reader] * 3, "one reader, no task per message"
    assert reader not in gate.tasks and len(set(gate.tasks)) == 3, "one task per waiting message"
    await viewer.close()


async def test_acks_come_in_message_order_and_a_slow_one_when_it_is_done(
    server: RunningServer, gate: Gate
) -> None:
    viewer = await RawViewer.connect(server.base_url, await server.viewer_token())
    await viewer.send_text('421["slow",{}]')
    await asyncio.wait_for(gate.entered.wait(), 10)
    for n in range(2, 12):
        await viewer.send_text(f'42{n}["time",{{"t0":{n}}}]')
    acks = [await asyncio.wait_for(viewer.read_text(), 10) for _ in range(10)]
    assert [int(ack[2 : ack.index("[")]) for ack in acks] == list(range(2, 12))
    assert [json.loads(ack[ack.index("[") :])[0]["data"]["t0"] for ack in acks] == list(
        range(2, 12)
    )
    gate.opened.set()
    assert await asyncio.wait_for(viewer.read_text(), 10) == '431[{"ok":true,"data":{"slow":{}}}]'
    viewer.close()


@pytest.mark.parametrize("waits", [False, True], ids=["never-awaits", "awaits"])
async def test_a_handler_that_raises_answers_with_a_coded_error_and_the_connection_stays(
    server: RunningServer, waits: bool
) -> None:
    async def refuses(conn: Connection, payload: Any) -> dict[str, Any]:
        if waits:
            await asyncio.sleep(0)
        raise OutOfStock("none left")

    async def fails(conn: Connection, payload: Any) -> dict[str, Any]:
        if waits:
            await asyncio.sleep(0)
        raise RuntimeError("a bug")

    server.node.realtime.handle(VIEWER_NS, "refuses", refuses)
    server.node.realtime.handle(VIEWER_NS, "fails", fails)
    viewer = await viewer_of(server)
    refused = await viewer.call("refuses", {})
    assert refused["ok"] is False and refused["error"]["code"] == "out_of_stock_for_test"
    assert refused["error"]["message"] == "none left"
    failed = await viewer.call("fails", {})
    assert failed["ok"] is False and failed["error"]["code"] == "internal_error"
    assert "a bug" not in json.dumps(failed)
    assert (await viewer.call("time", {"t0": 7}))["data"]["t0"] == 7
    await viewer.close()


async def test_unknown_and_refused_messages_are_answered_inline_with_their_codes(
    server: RunningServer,
) -> None:
    viewer = await viewer_of(server)
    assert (await viewer.call("nope", {}))["error"]["code"] == "unknown_message"
    assert (await viewer.call("go", {}))["error"]["code"] == "forbidden"  # a console command
    assert (await viewer.call("time", "x" * 20_000))["error"]["code"] == "payload_too_large"
    assert (await viewer.call("time", {"t0": 8}))["data"]["t0"] == 8
    await viewer.close()


async def test_a_drain_answers_a_handler_in_flight_before_it_closes(
    server: RunningServer, gate: Gate
) -> None:
    viewer = await viewer_of(server)
    drained = asyncio.Event()
    viewer.client.on("drain", lambda *_: drained.set())
    slow = asyncio.create_task(viewer.call("slow", {"n": 2}))
    await asyncio.wait_for(gate.entered.wait(), 10)
    drain = asyncio.create_task(server.node.realtime.drain(within_ms=0, timeout_s=30))
    await asyncio.wait_for(drained.wait(), 10)
    assert not drain.done(), "the drain waits for the handler in flight"
    gate.opened.set()
    assert await asyncio.wait_for(slow, 10) == {"ok": True, "data": {"slow": {"n": 2}}}
    await asyncio.wait_for(drain, 10)
    await viewer.close()


async def test_figures_reach_viewers_encoded_once_per_tick_on_the_fast_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    published: list[bytes] = []
    publish = wire_fanout.FanoutRoom.publish

    def recording(room: wire_fanout.FanoutRoom, frames: bytes) -> None:
        published.append(frames)
        publish(room, frames)

    monkeypatch.setattr(wire_fanout.FanoutRoom, "publish", recording)
    settings = Settings(
        store_url=f"sqlite:///{tmp_path / 'gala.db'}", show_files=(shop_show(tmp_path),)
    )
    async with running_server(settings) as server:
        emitted: list[tuple[str, str]] = []
        emit = server.node.realtime.sio.emit

        async def recording_emit(event: str, *args: Any, **kwargs: Any) -> None:
            emitted.append((event, kwargs.get("namespace", "/")))
            await emit(event, *args, **kwargs)

        monkeypatch.setattr(server.node.realtime.sio, "emit", recording_emit)
        producer = await connect_viewer(
            server.base_url, await server.producer_token(), namespace="/producer"
        )
        viewers = [await viewer_of(server) for _ in range(3)]
        figures: list[list[dict[str, Any]]] = [[] for _ in viewers]
        for viewer, received in zip(viewers, figures, strict=True):
            assert (await viewer.call("join", {"show_id": SHOP_SHOW}))["ok"]
            viewer.client.on("figures", received.append, namespace="/")
        for cue in ("c1", "c2"):
            ack = await producer.call(
                "go", {"show_id": SHOP_SHOW, "standby_cue_id": cue}, namespace="/producer"
            )
            assert ack["ok"], ack
        for _ in range(200):
            if all(received for received in figures):
                break
            await asyncio.sleep(0.05)
        assert all(received for received in figures), "every viewer got the figures"
        ticks = [frames for frames in published if b'42["figures",' in frames]
        assert ticks, "the figures went through the fan-out"
        # one frame per tick for the whole room: encoded and framed once, not once per viewer
        assert all(frames.count(b'42["figures",') == 1 for frames in ticks)
        assert ("figures", VIEWER_NS) not in emitted
        for viewer in [producer, *viewers]:
            await viewer.close()
