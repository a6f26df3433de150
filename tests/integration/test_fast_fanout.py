"""The broadcast fast path with standard socket.io clients (both backends): frames of every size
class arrive intact, non-ASCII included; a reader that stops reading is cut off at the bound and
resumes from the log; ordering holds under concurrent broadcasts."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gala.realtime.facade import VIEWER_NS
from gala.settings import Settings
from tests.support import (
    RawViewer,
    RunningServer,
    connect_viewer,
    data_of_packet_size,
    running_server,
    write_show,
)

SHOW = "test-show"
ROOM = f"show:{SHOW}"


@pytest.mark.parametrize("batched", [False, True], ids=["one-per-write", "batched"])
@pytest.mark.parametrize("filler", ["x", "雪☃مرحبا"])
async def test_every_frame_size_class_arrives_intact(
    server: RunningServer, filler: str, batched: bool
) -> None:
    viewers = [await connect_viewer(server.base_url, await server.viewer_token()) for _ in range(3)]
    for viewer in viewers:
        assert (await viewer.call("join", {"show_id": SHOW}))["ok"]
    sizes = [40, 125, 126, 127, 65535, 65536, 65537, 300_000]
    sent = [data_of_packet_size(size, seq, filler) for seq, size in enumerate(sizes, start=1)]
    if batched:
        server.node.realtime.broadcast_fast(VIEWER_NS, ROOM, "event", sent)
    for data in [] if batched else sent:
        server.node.realtime.broadcast_fast(VIEWER_NS, ROOM, "event", [data])
    for viewer in viewers:
        await viewer.wait_for_seq(len(sizes))
        assert viewer.events == sent
        await viewer.close()


async def test_concurrent_broadcasts_keep_their_order_and_acks_still_flow(
    server: RunningServer,
) -> None:
    viewer = await connect_viewer(server.base_url, await server.viewer_token())
    assert (await viewer.call("join", {"show_id": SHOW}))["ok"]
    order: list[int] = []

    async def broadcaster(first: int) -> None:
        for seq in range(first, 600, 3):
            order.append(seq)
            server.node.realtime.broadcast_fast(VIEWER_NS, ROOM, "event", [{"seq": seq}])
            await asyncio.sleep(0)

    async def pinger() -> None:
        for t0 in range(50):
            assert (await viewer.call("time", {"t0": t0}))["data"]["t0"] == t0

    await asyncio.gather(broadcaster(0), broadcaster(1), broadcaster(2), pinger())
    await viewer.wait_for_seq(599)
    assert viewer.seqs() == order
    await viewer.close()


async def test_a_stalled_reader_is_cut_off_at_the_bound_and_resumes_from_the_log(
    store_url: str, tmp_path: Path
) -> None:
    settings = Settings(
        store_url=store_url, show_files=(write_show(tmp_path),), max_viewer_buffer_bytes=64 * 1024
    )
    async with running_server(settings) as server:
        realtime = server.node.realtime
        healthy = await connect_viewer(server.base_url, await server.viewer_token())
        assert (await healthy.call("join", {"show_id": SHOW}))["ok"]
        token = await server.viewer_token()
        stalled = await RawViewer.connect(server.base_url, token, join=SHOW)
        assert realtime.room_size(VIEWER_NS, ROOM) == 2
        big = {"seq": 0, "pad": "z" * 60_000}
        sent = 0
        while realtime.room_size(VIEWER_NS, ROOM) == 2 and sent < 2000:
            sent += 1
            realtime.broadcast_fast(VIEWER_NS, ROOM, "event", [{**big, "seq": sent}])
            await asyncio.sleep(0)
            if sent % 20 == 0:
                await asyncio.sleep(0.01)
        for _ in range(100):
            if realtime.room_size(VIEWER_NS, ROOM) == 1:
                break
            await asyncio.sleep(0.05)
        assert realtime.cut_off == 1 and realtime.room_size(VIEWER_NS, ROOM) == 1
        assert sent < 2000, "the stalled reader was cut off long before the end"
        await healthy.wait_for_seq(sent)
        assert healthy.seqs() == list(range(1, sent + 1)), "the others got everything"
        stalled.close()

        producer = await connect_viewer(
            server.base_url, await server.producer_token(), namespace="/producer"
        )
        standby = "c01"
        for _ in range(3):
            ack = await producer.call(
                "go", {"show_id": SHOW, "standby_cue_id": standby}, namespace="/producer"
            )
            standby = ack["data"]["standby_cue_id"]
        log = await server.node.store.hub.read_log(SHOW)
        back = await connect_viewer(server.base_url, token)
        ack = await back.call("join", {"show_id": SHOW, "resume": {"epoch": log.epoch, "seq": 0}})
        assert ack["data"]["mode"] == "replay"
        assert ack["data"]["events"] == [e.as_wire() for e in log.events]
        assert len(log.events) == 4
        for client in (healthy, producer, back):
            await client.close()
