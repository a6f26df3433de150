"""The hooks of the event path in `gala/realtime/compat.py`, checked against the installed
python-socketio and CPython: python-socketio hands every EVENT packet to `_handle_event` with the
arguments `SocketServer` overrides it with, and finds the socket.io sid as it does; an ack is the
bytes python-socketio's own `Packet.encode` writes; a handler's code tells whether it can suspend,
and one that cannot is run to its end by `finish`; the packet JSON reads what engine.io's does."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import engineio
import pytest
import socketio
from engineio import json as engineio_json
from socketio import packet as sio_packet

from gala.realtime import compat
from gala.realtime.viewer_handlers import ViewerHandlers

Routed = tuple[str, str, str, list[Any], compat.Reply]


class RecordingSession(compat.EngineSocket):
    def __init__(self, server: Any, sid: str) -> None:
        super().__init__(server, sid)
        self.written: list[bytes] = []

    def write_message(self, encoded: bytes) -> None:
        self.written.append(encoded)


@pytest.fixture
async def connected() -> AsyncIterator[tuple[compat.SocketServer, str, list[Routed]]]:
    """A server whose router records each event, with one client connected to `/producer`."""
    routed: list[Routed] = []
    sio = compat.SocketServer(
        engineio.AsyncServer,
        route_event=lambda *event: routed.append(event),
        async_mode="aiohttp",
        namespaces=["/", "/producer"],
    )
    sio.eio.sockets["e1"] = RecordingSession(sio.eio, "e1")
    sid = await sio.manager.pre_connect("e1", "/producer")
    await sio.manager.connect(sid, "/producer")
    yield sio, sid, routed


def test_socketio_dispatches_each_event_through_handle_event() -> None:
    assert list(inspect.signature(socketio.AsyncServer._handle_event).parameters) == [
        "self",
        "eio_sid",
        "namespace",
        "id",
        "data",
    ]
    source = inspect.getsource(socketio.AsyncServer._handle_eio_message)
    assert "await self._handle_event(eio_sid, pkt.namespace, pkt.id," in source
    manager = socketio.AsyncManager
    assert list(inspect.signature(manager.sid_from_eio_sid).parameters)[1:] == [
        "eio_sid",
        "namespace",
    ]
    assert list(inspect.signature(manager.is_connected).parameters)[1:] == ["sid", "namespace"]


async def test_an_event_goes_to_the_router_and_its_reply_writes_the_ack(
    connected: tuple[compat.SocketServer, str, list[Routed]],
) -> None:
    sio, sid, routed = connected
    await sio._handle_eio_message("e1", '2/producer,12["go",{"standby_cue_id":"c1"},3]')
    [(namespace, routed_sid, event, args, reply)] = routed
    assert (namespace, routed_sid, event, args) == (
        "/producer",
        sid,
        "go",
        [{"standby_cue_id": "c1"}, 3],
    )
    reply({"ok": True, "data": {"name": "Grüße"}})
    expected = sio_packet.Packet(
        sio_packet.ACK,
        namespace="/producer",
        id=12,
        data=[{"ok": True, "data": {"name": "Grüße"}}],
    ).encode()
    session = sio.eio.sockets["e1"]
    assert isinstance(session, RecordingSession) and session.written == [expected.encode()]


async def test_an_event_without_an_ack_id_gets_a_reply_that_writes_nothing(
    connected: tuple[compat.SocketServer, str, list[Routed]],
) -> None:
    sio, _sid, routed = connected
    await sio._handle_eio_message("e1", '2/producer,["go",{}]')
    routed[0][4]({"ok": True})
    session = sio.eio.sockets["e1"]
    assert isinstance(session, RecordingSession) and session.written == []


async def test_an_event_on_a_namespace_the_client_did_not_connect_is_dropped(
    connected: tuple[compat.SocketServer, str, list[Routed]],
) -> None:
    sio, _sid, routed = connected
    await sio._handle_eio_message("e1", '21["time",{"t0":1}]')
    await sio._handle_eio_message("e2", '2/producer,1["go",{}]')
    assert routed == []


@pytest.mark.parametrize(
    "namespace, ack_id, data",
    [("/", 1, {"ok": True}), ("/producer", 77, {"t": "ça 中文"}), ("/", 3, None)],
)
def test_an_ack_is_encoded_as_python_socketio_encodes_it(
    namespace: str, ack_id: int, data: Any
) -> None:
    expected = sio_packet.Packet(
        sio_packet.ACK, namespace=namespace, id=ack_id, data=[] if data is None else [data]
    ).encode()
    assert compat.ack_packet(namespace, ack_id, data) == expected


async def _never_waits(a: int) -> int:
    return a + 1


async def _awaits() -> None:
    await asyncio.sleep(0)


async def _async_with() -> None:
    async with asyncio.Lock():
        pass


async def _async_for(items: Any) -> None:
    async for _ in items:
        pass


async def _defines_a_coroutine_it_does_not_await() -> Callable[[], Awaitable[None]]:
    async def inner() -> None:
        await asyncio.sleep(0)

    return inner


class Handlers:
    async def quick(self) -> int:
        return 3


def test_a_handler_without_await_never_suspends_and_any_await_can() -> None:
    assert compat.never_suspends(_never_waits)
    assert compat.never_suspends(Handlers().quick)
    assert compat.never_suspends(_defines_a_coroutine_it_does_not_await)  # its own code
    for can in (_awaits, _async_with, _async_for, lambda: None, print, Handlers):
        assert not compat.never_suspends(can), can


def test_the_time_ping_never_suspends() -> None:
    assert compat.never_suspends(ViewerHandlers.time), (
        "the time ping is answered by the reader with no task; an await (or a wrapper that "
        "awaits it) gives every ping a task of its own"
    )


def test_finish_runs_a_coroutine_that_never_suspends_to_its_end() -> None:
    assert compat.finish(_never_waits(1)) == 2

    async def raises() -> None:
        raise LookupError("x")

    with pytest.raises(LookupError):
        compat.finish(raises())


async def test_finish_refuses_a_coroutine_that_suspends() -> None:
    with pytest.raises(RuntimeError, match="suspended"):
        compat.finish(_awaits())


@pytest.mark.parametrize(
    "text", ['["time",{"t0":12345}]', '{"a":[1,2.5,"x",null,true]}', '"\\u00e9"', "-0"]
)
def test_the_packet_json_reads_what_engineio_json_reads(text: str) -> None:
    assert compat._PacketJson.loads(text) == engineio_json.loads(text)


def test_the_packet_json_refuses_integers_engineio_json_refuses() -> None:
    for loads in (compat._PacketJson.loads, engineio_json.loads):
        with pytest.raises(ValueError, match="too large"):
            loads("1" * 101)
    assert compat._PacketJson.loads("1" * 100) == int("1" * 100)
