"""Lean engine.io sessions with standard and bare clients (both backends): the OPEN packet comes
first and advertises the ping interval; a client that answers pings stays, one that does not is
closed and leaves its rooms; a server-side disconnect reaches the client; acks and broadcasts
share the socket in order; a reader that stops reading is cut off on the regular path as on the
fast one; long-polling is refused.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp

from gala.realtime import VIEWER_NS
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
