"""Lean engine.io sessions with standard and bare clients (both backends): the OPEN packet comes
first and advertises the ping interval; a client that answers pings stays, one that does not is
closed and leaves its rooms; a server-side disconnect reaches the client; acks and broadcasts
share the socket in order; a reader that stops reading is cut off on the regular path as on the
fast one; long-polling is refused; an ended connection is freed by reference counting.
"""

from __future__ import annotations

import asyncio
import gc
import json
import socket
from collections import Counter
from pathlib import Path

import aiohttp

from gala.realtime.facade import VIEWER_NS
from gala.settings import Settings
from tests.support import RawViewer, connect_viewer, running_server, write_show

SHOW = "test-show"
ROOM = f"show:{SHOW}"


def settings_for(store_url: str, tmp_path: Path, **changes: object) -> Settings:
    return Settings(store_url=store_url, show_files=(write_show(tmp_path),)).replace(**changes)


async def test_the_open_packet_advertises_the_ping_interval_and_no_upgrades(
    store_url: str, tmp_path: Path
) -> None:
    async with running_server(settings_for(store_url, tmp_path, ping_interval_s=7)) as server:
        viewer = await RawViewer.connect(server.base_url, await server.viewer_token())
        assert viewer.open_packet["pingInterval"] == 7000
        assert viewer.open_packet["pingTimeout"] == 7000
        assert viewer.open_packet["upgrades"] == []
        assert isinstance(viewer.open_packet["sid"], str)
        viewer.close()


async def test_a_client_that_answers_pings_stays_and_one_that_does_not_is_closed(
    store_url: str, tmp_path: Path
) -> None:
    async with running_server(settings_for(store_url, tmp_path, ping_interval_s=1)) as server:
        realtime = server.node.realtime
        answering = await connect_viewer(server.base_url, await server.viewer_token())
        assert (await answering.call("join", {"show_id": SHOW}))["ok"]
        silent = await RawViewer.connect(server.base_url, await server.viewer_token(), join=SHOW)
        assert realtime.room_size(VIEWER_NS, ROOM) == 2
        assert await asyncio.wait_for(silent.read_text(), 3) == "2"  # a ping, left unanswered
        opcode, _ = await asyncio.wait_for(silent.read_frame(), 3)
        while opcode == 0x1:  # the engine.io CLOSE packet ("1"), then the websocket close
            opcode, _ = await asyncio.wait_for(silent.read_frame(), 3)
        assert opcode == 0x8
        for _ in range(50):
            if realtime.room_size(VIEWER_NS, ROOM) == 1:
                break
            await asyncio.sleep(0.05)
        assert realtime.room_size(VIEWER_NS, ROOM) == 1, "the silent viewer left its room"
        await asyncio.sleep(2.5)  # more than two ping intervals for the answering client
        assert (await answering.call("time", {"t0": 1}))["data"]["t0"] == 1
        silent.close()
        await answering.close()


async def test_a_server_side_disconnect_reaches_a_standard_client(
    store_url: str, tmp_path: Path
) -> None:
    async with running_server(settings_for(store_url, tmp_path)) as server:
        viewer = await connect_viewer(server.base_url, await server.viewer_token())
        assert (await viewer.call("join", {"show_id": SHOW}))["ok"]
        gone = asyncio.Event()
        viewer.client.on("disconnect", lambda *_: gone.set())
        await server.node.realtime.close()
        await asyncio.wait_for(gone.wait(), 5)
        await viewer.close()


async def test_acks_and_broadcasts_share_the_socket_in_order(
    store_url: str, tmp_path: Path
) -> None:
    async with running_server(settings_for(store_url, tmp_path)) as server:
        realtime = server.node.realtime
        viewer = await RawViewer.connect(server.base_url, await server.viewer_token(), join=SHOW)
        for n in range(20):
            realtime.broadcast_fast(VIEWER_NS, ROOM, "event", [{"seq": 1000 + n}])
            await viewer.send_text(f'42{n}["time",{{"t0":{n}}}]')
        acks, events = [], []
        while len(acks) < 20 or len(events) < 20:
            text = await asyncio.wait_for(viewer.read_text(), 5)
            if text.startswith("43"):
                acks.append(int(text[2 : text.index("[")]))
            elif text.startswith('42["event"'):
                events.append(text)
        assert acks == list(range(20))
        assert [int(e.split('"seq":')[1].rstrip("}]")) for e in events] == list(range(1000, 1020))
        viewer.close()


async def test_a_reader_that_stops_reading_is_cut_off_on_the_regular_path_too(
    store_url: str, tmp_path: Path
) -> None:
    settings = settings_for(store_url, tmp_path, max_viewer_buffer_bytes=64 * 1024)
    async with running_server(settings) as server:
        realtime = server.node.realtime
        stalled = await RawViewer.connect(server.base_url, await server.viewer_token(), join=SHOW)
        healthy = await connect_viewer(server.base_url, await server.viewer_token())
        big = {"seq": 0, "pad": "雪" * 20_000}
        sent = 0
        while realtime.room_size(VIEWER_NS, ROOM) == 1 and sent < 2000:
            sent += 1
            await realtime.broadcast(VIEWER_NS, ROOM, "event", big)  # python-socketio's emit
            await asyncio.sleep(0.001)
        for _ in range(100):
            if realtime.room_size(VIEWER_NS, ROOM) == 0:
                break
            await asyncio.sleep(0.05)
        stalled.close()
        assert realtime.room_size(VIEWER_NS, ROOM) == 0, "the stalled reader was cut off"
        assert sent < 2000
        assert (await healthy.call("time", {"t0": 7}))["data"]["t0"] == 7
        await healthy.close()


async def test_long_polling_is_refused(store_url: str, tmp_path: Path) -> None:
    async with (
        running_server(settings_for(store_url, tmp_path)) as server,
        aiohttp.ClientSession() as http,
        http.get(f"{server.base_url}/socket.io/?EIO=4&transport=polling") as response,
    ):
        assert response.status == 400


def blocking_viewer_session(base_url: str, token: str) -> int:
    """A whole viewer session on a plain blocking socket (no asyncio objects on the client side,
    so the garbage the test finds is the server's): connect, join, close. Returns the client's
    port."""
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            (
                f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {host}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        received = b""
        for text in ("40" + json.dumps({"token": token}), '421["join",{"show_id":"test-show"}]'):
            payload = text.encode()
            assert len(payload) < 1 << 16
            size = bytes((0x80 | 126,)) + len(payload).to_bytes(2, "big")
            sock.sendall(b"\x81" + size + b"\0\0\0\0" + payload)  # all-zero mask
        while b"431[" not in received:
            chunk = sock.recv(65536)
            assert chunk, "the server closed the connection"
            received += chunk
        port_used: int = sock.getsockname()[1]
    return port_used


async def test_an_ended_connection_is_forgotten_and_leaves_no_cyclic_garbage(
    store_url: str, tmp_path: Path
) -> None:
    async with running_server(settings_for(store_url, tmp_path)) as server:
        tokens = [await server.viewer_token() for _ in range(20)]
        gc.collect()
        ports = {
            await asyncio.to_thread(blocking_viewer_session, server.base_url, token)
            for token in tokens
        }
        for _ in range(100):
            if server.node.realtime.room_size(VIEWER_NS, ROOM) == 0:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.5)  # the ping wheel's tick releases the ended transports
        engine = server.node.realtime.sio.eio
        assert (len(engine.sockets), len(engine.pings)) == (0, 0), "nothing keeps an ended session"
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            gc.collect()
            left = Counter(type(o).__name__ for o in gc.garbage)
            sessions_left = [  # the HTTP requests' transports are not the sessions' business
                o
                for o in gc.garbage
                if type(o).__name__ == "_SelectorSocketTransport"
                and o.get_extra_info("peername", ("", 0))[1] in ports
            ]
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
        server_side = ("LeanSocket", "WebSocketResponse", "RequestHandler", "Request")
        assert {name: left[name] for name in server_side if left[name]} == {}
        assert sessions_left == []
