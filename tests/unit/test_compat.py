"""Every private hook of `gala/realtime/compat.py`, checked against the installed python-socketio,
python-engineio, aiohttp and CPython: each signature we override or call, and the behaviour we
rely on. An upgrade that moves one of them fails here, by name, before anything subtler breaks."""

from __future__ import annotations

import asyncio
import gc
import inspect
import weakref
from collections.abc import Callable, Iterator
from typing import Any
from unittest import mock

import engineio
import pytest
import socketio
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from engineio import packet as eio_packet
from engineio.async_drivers import aiohttp as eio_aiohttp
from engineio.async_socket import AsyncSocket
from socketio import packet as sio_packet

from gala.realtime import compat

WEBSOCKET_OPEN = "/socket.io/?EIO=4&transport=websocket"
UPGRADE = {"Upgrade": "websocket", "Connection": "Upgrade", "Host": "gala.test"}


def params(function: Callable[..., Any]) -> list[tuple[str, Any, Any]]:
    """Names, defaults and kinds: what a caller depends on (annotations are ours to write)."""
    return [(p.name, p.default, p.kind) for p in inspect.signature(function).parameters.values()]


def names(function: Callable[..., Any]) -> list[str]:
    return list(inspect.signature(function).parameters)


# python-socketio


def test_socketio_builds_its_engineio_server_from_engineio_server_class() -> None:
    assert names(socketio.AsyncServer._engineio_server_class) == ["self"]
    built: list[dict[str, Any]] = []
    servers: list[Any] = []

    def factory(**options: Any) -> Any:
        built.append(options)
        servers.append(engineio.AsyncServer(**options))
        return servers[-1]

    sio = compat.SocketServer(
        factory,
        async_mode="aiohttp",
        ping_interval=7,
        ping_timeout=7,
        max_http_buffer_size=1234,
        transports=["websocket"],
    )
    assert len(built) == 1 and sio.eio is servers[0]
    assert {"ping_interval": 7, "ping_timeout": 7, "max_http_buffer_size": 1234}.items() <= (
        built[0].items()
    )
    assert built[0]["async_handlers"] is False  # socket.io runs its handlers as it sees fit


def test_socketio_registers_the_three_engineio_handlers_we_call() -> None:
    sio = compat.SocketServer(engineio.AsyncServer, async_mode="aiohttp")
    handlers = sio.eio.handlers
    assert set(handlers) == {"connect", "message", "disconnect"}
    assert names(handlers["connect"]) == ["eio_sid", "environ"]
    assert names(handlers["message"]) == ["eio_sid", "data"]
    assert names(handlers["disconnect"]) == ["eio_sid", "reason"]
    assert all(inspect.iscoroutinefunction(handler) for handler in handlers.values())


async def test_socketio_keeps_the_environ_it_is_given_as_it_is() -> None:
    sio = compat.SocketServer(engineio.AsyncServer, async_mode="aiohttp")
    environ = compat.RequestEnviron(make_mocked_request("GET", WEBSOCKET_OPEN, headers=UPGRADE))
    assert await sio.eio.handlers["connect"]("e1", environ) is None  # None: accepted
    assert sio.environ["e1"] is environ
    await sio.eio.handlers["disconnect"]("e1", "transport close")
    assert "e1" not in sio.environ


def test_socketio_takes_a_packet_class_as_its_serializer() -> None:
    packet_class = compat.edge_packet_class(max_chars=100, max_depth=3)
    sio = compat.SocketServer(engineio.AsyncServer, async_mode="aiohttp", serializer=packet_class)
    assert sio.packet_class is packet_class
    assert issubclass(packet_class, sio_packet.Packet)
    assert names(sio_packet.Packet.decode) == ["self", "encoded_packet"]


@pytest.mark.parametrize(
    "text, error",
    [
        ('2/producer,7["go",' + "[" * 5000 + "]" * 5000 + "]", RecursionError),
        ('2/producer,7["go",{', ValueError),
    ],
)
def test_socketio_decode_knows_namespace_and_id_before_the_data_fails(
    text: str, error: type[Exception]
) -> None:
    pkt = sio_packet.Packet.__new__(sio_packet.Packet)
    pkt.id = None
    with pytest.raises(error):
        pkt.decode(text)
    assert (pkt.packet_type, pkt.namespace, pkt.id) == (sio_packet.EVENT, "/producer", 7)


def test_socketio_decode_reads_only_the_header_when_there_is_no_data() -> None:
    pkt = sio_packet.Packet.__new__(sio_packet.Packet)
    pkt.id = None
    pkt.decode("2/producer,12")
    assert (pkt.packet_type, pkt.namespace, pkt.id, pkt.data) == (2, "/producer", 12, None)


async def test_socketio_raises_for_packets_a_server_cannot_take_so_the_edge_refuses_them() -> None:
    sio = socketio.AsyncServer(async_mode="aiohttp")
    for text in ('4{"message":"x"}', "9"):
        with pytest.raises(ValueError):
            await sio._handle_eio_message("e1", text)


# the edge packet (ours, over the decode above)


EDGE = compat.edge_packet_class(max_chars=2048, max_depth=4)


def decoded(text: Any) -> Any:
    return EDGE(encoded_packet=text)


def refused(pkt: Any) -> compat.Refused | None:
    if pkt.packet_type == sio_packet.CONNECT:
        return compat.refusal_in(pkt.data)
    if isinstance(pkt.data, list) and pkt.data[:1] == [compat.REFUSED_EVENT]:
        return compat.refusal_in(pkt.data[1])
    return None


@pytest.mark.parametrize(
    "text, code, namespace, ack_id",
    [
        ('2/producer,7["go",' + "[" * 3 + "]" * 3 + "]", None, "/producer", 7),
        ('2/producer,7["go",' + "[" * 4 + "]" * 4 + "]", None, "/producer", 7),
        ('2/producer,7["go",' + "[" * 5 + "]" * 5 + "]", "bad_payload", "/producer", 7),
        ("27" + "[" * 900 + "]" * 900, "bad_payload", None, 7),
        ('27["go",{', "bad_payload", None, 7),
        ('27["go","' + "x" * 3000 + '"]', "payload_too_large", None, 7),
        ('2/producer,8["go","' + "x" * 3000 + '"]', "payload_too_large", "/producer", 8),
        ("27{}", "bad_payload", None, 7),
        ("27[5]", "bad_payload", None, 7),
        ("27", "bad_payload", None, 7),
        ('51-7["go",{"_placeholder":true,"num":0}]', "bad_payload", None, 7),
        ("37{}", "bad_payload", None, None),  # an ack is not answered
        ('4{"message":"x"}', "bad_payload", None, None),
        ("x", "bad_payload", None, None),
        (b"\x01", "bad_payload", None, None),
    ],
)
def test_the_edge_refuses_in_place_of_the_data_and_keeps_where_to_answer(
    text: Any, code: str | None, namespace: str | None, ack_id: int | None
) -> None:
    pkt = decoded(text)
    why = refused(pkt)
    assert (why.code if why else None, pkt.namespace, pkt.id) == (code, namespace, ack_id)
    if why is not None:
        assert pkt.packet_type == sio_packet.EVENT and why.message


def test_the_edge_refuses_a_connect_in_its_auth() -> None:
    why = refused(decoded('0/producer,{"token":' + "[" * 9 + "]" * 9 + "}"))
    assert why is not None and why.code == "bad_payload"
    assert refused(decoded('0/producer,{"token":"t"}')) is None


@pytest.mark.parametrize(
    "value, depth",
    [(1, 0), ([], 1), ({"a": 1}, 1), ([[], {"a": [1]}], 3), ({"a": {"b": {"c": []}}}, 4)],
)
def test_deeper_than_counts_levels_of_lists_and_dicts(value: Any, depth: int) -> None:
    assert not compat.deeper_than(value, depth)
    assert compat.deeper_than(value, depth - 1) or depth == 0


# python-engineio


def test_engineio_creates_sessions_in_handle_connect() -> None:
    assert names(engineio.AsyncServer._handle_connect) == [
        "self",
        "environ",
        "transport",
        "jsonp_index",
    ]
    assert params(compat.EngineServer._handle_connect) == params(
        engineio.AsyncServer._handle_connect
    )
    assert "monitor_clients" in inspect.signature(engineio.AsyncServer).parameters
    for reason in ("SERVER_DISCONNECT", "CLIENT_DISCONNECT", "PING_TIMEOUT", "TRANSPORT_CLOSE"):
        assert isinstance(getattr(engineio.AsyncServer.reason, reason), str)


class RecordingSocket(compat.EngineSocket):
    def __init__(self, server: Any, sid: str) -> None:
        super().__init__(server, sid)
        self.sent: list[Any] = []
        self.closed_for: list[str | None] = []

    async def send(self, pkt: Any) -> None:
        self.sent.append(pkt)

    async def close(
        self, wait: bool = True, abort: bool = False, reason: str | None = None
    ) -> None:
        self.closed_for.append(reason)
        self.closed = True


class RecordingServer(compat.EngineServer):
    def __init__(self) -> None:
        super().__init__(async_mode="aiohttp", transports=["websocket"], monitor_clients=False)
        self.opened: list[tuple[dict[str, Any], str]] = []
        self.response = web.Response(text="the session's own answer")

    async def open_session(self, environ: dict[str, Any], transport: str) -> web.StreamResponse:
        self.opened.append((environ, transport))
        return self.response


@pytest.fixture
def eio() -> Iterator[RecordingServer]:
    yield RecordingServer()


async def test_handle_request_returns_what_open_session_answers(eio: RecordingServer) -> None:
    request = make_mocked_request("GET", WEBSOCKET_OPEN, headers=UPGRADE)
    assert await eio.handle_request(request) is eio.response
    environ, transport = eio.opened[0]
    assert transport == "websocket" and compat.request_of(environ) is request
    assert environ["HTTP_UPGRADE"] == "websocket"


async def status_for(eio: RecordingServer, method: str, sid: str) -> int:
    request = make_mocked_request(method, f"{WEBSOCKET_OPEN}&sid={sid}", headers=UPGRADE)
    response = await eio.handle_request(request)
    return int(response.status)


async def test_engineio_refuses_http_requests_for_a_session_opening_or_open(
    eio: RecordingServer,
) -> None:
    socket = RecordingSocket(eio, "s1")
    eio.add_session("s1", socket)
    assert await status_for(eio, "GET", "s1") == 400  # not connected yet
    assert await status_for(eio, "POST", "s1") == 400
    socket.open()
    assert await status_for(eio, "GET", "s1") == 400  # upgraded
    assert await status_for(eio, "POST", "s1") == 400
    assert socket.sent == [] and eio.opened == []


async def test_engineio_sends_and_disconnects_through_the_session(eio: RecordingServer) -> None:
    socket = RecordingSocket(eio, "s1")
    eio.add_session("s1", socket)
    assert eio.sessions() == [socket]
    socket.open()
    pkt = eio_packet.Packet(eio_packet.MESSAGE, data="2hello")
    await eio.send_packet("s1", pkt)
    assert socket.sent == [pkt]
    async with eio.session("s1") as session:
        session["user"] = "x"
    assert socket.session == {"user": "x"}
    await eio.disconnect("s1")
    assert socket.closed_for == [eio.reason.SERVER_DISCONNECT]
    assert "s1" not in eio.sockets and eio.sessions() == []


async def test_engineio_forgets_a_closed_session(eio: RecordingServer) -> None:
    socket = RecordingSocket(eio, "s1")
    eio.add_session("s1", socket)
    socket.closed = True
    await eio.send_packet("s1", eio_packet.Packet(eio_packet.MESSAGE, data="x"))
    assert socket.sent == [] and "s1" not in eio.sockets


def test_a_lean_session_has_what_engineio_reads_of_its_own_sockets(
    eio: RecordingServer,
) -> None:
    theirs = set(vars(AsyncSocket(eio, "s1"))) - {"queue", "last_ping"}
    ours = RecordingSocket(eio, "s2")
    assert {name for name in theirs if not hasattr(ours, name)} == set()
    assert theirs == set(vars(compat.EngineSocket(eio, "s3"))) | {"session"}
    assert params(AsyncSocket.send) == params(compat.EngineSocket.send)
    assert params(AsyncSocket.close) == params(compat.EngineSocket.close)


async def test_deliver_calls_the_registered_handler_and_logs_a_failure(
    eio: RecordingServer, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[Any] = []

    async def message(sid: str, data: Any) -> None:
        seen.append((sid, data))
        if data == "boom":
            raise RuntimeError("boom")

    eio.on("message", message)
    await eio.deliver("message", "s1", "2[]")
    assert await eio.deliver("message", "s1", "boom") is None
    assert seen == [("s1", "2[]"), ("s1", "boom")]
    assert [r.exc_info is not None for r in caplog.records] == [True]
    assert await eio.deliver("nobody", "s1") is None


def test_the_environ_is_engineios_with_the_clients_address() -> None:
    assert names(eio_aiohttp.translate_request) == ["request"]
    transport = mock.Mock()
    transport.get_extra_info.return_value = ("203.0.113.9", 50123)
    request = make_mocked_request(
        "GET", WEBSOCKET_OPEN, headers={**UPGRADE, "User-Agent": "phone"}, transport=transport
    )
    theirs = eio_aiohttp.translate_request(request)
    assert theirs["aiohttp.request"] is request
    assert (theirs["REMOTE_ADDR"], theirs["REMOTE_PORT"]) == ("127.0.0.1", "0")
    ours = compat.RequestEnviron(request)
    assert set(ours) == set(theirs)
    assert dict(ours) == {**theirs, "REMOTE_ADDR": "203.0.113.9", "REMOTE_PORT": "50123"}
    assert ours["HTTP_USER_AGENT"] == "phone" and ours.get("HTTP_NOPE") is None
    assert compat.request_of(ours) is request


# aiohttp


def test_aiohttp_keeps_the_error_that_ended_a_websocket() -> None:
    assert names(web.WebSocketResponse.exception) == ["self"]
    ws = web.WebSocketResponse()
    assert ws.exception() is None
    assert isinstance(inspect.getattr_static(web.BaseRequest, "transport"), property)


def test_drop_tracebacks_clears_the_whole_chain() -> None:
    try:
        try:
            raise ConnectionResetError("reset")
        except ConnectionResetError as inner:
            raise RuntimeError("while closing") from inner
    except RuntimeError as outer:
        error = outer
    assert error.__traceback__ is not None and error.__cause__ is not None
    compat.drop_tracebacks(error)
    assert error.__traceback__ is None and error.__cause__.__traceback__ is None


# asyncio (CPython)


class Recording(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.BaseTransport | None = None
        self.lost = asyncio.Event()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.lost.set()


async def ended_transport() -> Any:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(asyncio.Protocol, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    transport, protocol = await loop.create_connection(Recording, "127.0.0.1", port)
    assert compat.release_transport(transport) is False  # open: nothing to release yet
    transport.close()
    await protocol.lost.wait()
    server.close()
    await server.wait_closed()
    assert transport._sock is None
    return transport


async def test_a_lost_socket_transport_keeps_a_cycle_that_release_transport_breaks() -> None:
    gc.collect()
    gc.disable()
    try:
        kept = await ended_transport()
        assert inspect.ismethod(kept._read_ready_cb) and kept._read_ready_cb.__self__ is kept
        kept_ref = weakref.ref(kept)
        del kept
        assert kept_ref() is not None, "CPython frees it now: release_transport can go"

        released = await ended_transport()
        released_ref = weakref.ref(released)
        assert compat.release_transport(released) is True
        del released
        assert released_ref() is None
    finally:
        gc.enable()
        gc.collect()
