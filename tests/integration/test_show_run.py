"""A show run end to end on a real server (both backends): 200 real socket.io viewers and two
consoles, 30 cues, exactly-once in-order delivery, resume after a disconnect, simultaneous GOs,
and snapshot + later events == fresh snapshot at every point of the run."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
import socketio

from commerce.show_sales import SalesBoard
from gala.kernel.showlog import LoggedEvent
from gala.runofshow.snapshot import PUBLIC_EVENT_TYPES, ShowSnapshot
from overlays.model import Screen
from redpackets.show_drops import DropBoard
from stage_control.model import ShowPhase
from tests.support import RunningServer, Viewer, connect_viewer

SHOW = "test-show"
VIEWERS = 200


def snapshot_from_wire(wire: dict[str, Any]) -> ShowSnapshot:
    return ShowSnapshot(
        wire["epoch"],
        wire["seq"],
        ShowPhase(**wire["show"]),
        Screen(dict(wire["layers"])),
        SalesBoard.from_wire(wire["sales"]),
        DropBoard.from_wire(SHOW, wire["drops"]),
    )


def fold_wire(snapshot: dict[str, Any], events: list[dict[str, Any]]) -> dict[str, Any]:
    state = snapshot_from_wire(snapshot)
    for event in events:
        state = state.apply(LoggedEvent(**event))
    return state.as_wire()


async def join(viewer: Viewer, resume: dict[str, Any] | None = None) -> dict[str, Any]:
    ack = await viewer.call("join", {"show_id": SHOW, "resume": resume})
    assert ack["ok"], ack
    return ack["data"]  # type: ignore[no-any-return]


async def console(server: RunningServer, name: str) -> Viewer:
    token = await server.producer_token(name)
    producer = await connect_viewer(server.base_url, token, namespace="/producer")
    ack = await producer.call("console:join", {"show_id": SHOW}, namespace="/producer")
    assert ack["ok"], ack
    assert len(ack["data"]["cues"]) == 30
    return producer


async def go(producer: Viewer, standby: str | None) -> dict[str, Any]:
    return await producer.call(
        "go", {"show_id": SHOW, "standby_cue_id": standby}, namespace="/producer"
    )


async def log_seq(server: RunningServer) -> tuple[str, int]:
    log = await server.node.store.hub.read_log(SHOW)
    return log.epoch, (log.events[-1].seq if log.events else 0)


async def test_thirty_cues_reach_200_viewers_exactly_once_in_order(server: RunningServer) -> None:
    tokens = [await server.viewer_token() for _ in range(VIEWERS)]
    viewers = list(await asyncio.gather(*(connect_viewer(server.base_url, t) for t in tokens)))
    for ack in await asyncio.gather(*(join(v) for v in viewers)):
        assert ack["mode"] == "snapshot" and ack["snapshot"]["seq"] == 0
    consoles = [await console(server, "ann"), await console(server, "bob")]
    standby: str | None = "c01"
    lost, lost_position = viewers[7], None
    late_joins: list[tuple[dict[str, Any], Viewer]] = []
    latencies_ms = []
    try:
        for cue in range(1, 31):
            if cue == 11:
                lost_position = lost.events[-1]
                await lost.close()
            if cue == 16:
                rejoined = await connect_viewer(server.base_url, tokens[7])
                assert lost_position is not None
                ack = await join(
                    rejoined, {"epoch": lost_position["epoch"], "seq": lost_position["seq"]}
                )
                assert ack["mode"] == "replay"
                log = await server.node.store.hub.read_log(SHOW)
                missed = [e.as_wire() for e in log.events if e.seq > lost_position["seq"]]
                assert ack["events"] == missed, "the resumed viewer gets exactly what it missed"
                assert len(missed) == 5
                rejoined.events[:0] = lost.events + ack["events"]
                viewers[7] = lost = rejoined
            sent = time.perf_counter()
            if cue == 20:
                both = await asyncio.gather(go(consoles[0], standby), go(consoles[1], standby))
                assert sorted(a["ok"] for a in both) == [False, True], both
                refused = next(a for a in both if not a["ok"])
                assert refused["error"]["code"] == "standby_changed"
                ack = next(a for a in both if a["ok"])
            else:
                ack = await go(consoles[cue % 2], standby)
            assert ack["ok"], ack
            standby = ack["data"]["standby_cue_id"]
            _, seq = await log_seq(server)
            live = [v for v in viewers if v is not lost or not 11 <= cue < 16]
            await asyncio.gather(*(v.wait_for_seq(seq) for v in live))
            latencies_ms.append((time.perf_counter() - sent) * 1000)
            late = await connect_viewer(server.base_url, await server.viewer_token())
            late_joins.append((await join(late), late))
        epoch, final_seq = await log_seq(server)
        log = [e.as_wire() for e in (await server.node.store.hub.read_log(SHOW)).events]
        assert [e["seq"] for e in log] == list(range(1, final_seq + 1))
        assert final_seq == 31, "the phase change plus one event per cue; the double GO fired once"
        for viewer in viewers:
            assert viewer.events == log
        fresh = (await join(late_joins[-1][1]))["snapshot"]
        types_after_a_join = set()
        for ack, late in late_joins:
            if ack["snapshot"]["seq"] < final_seq:
                await late.wait_for_seq(final_seq)
            later = [e for e in late.events if e["seq"] > ack["snapshot"]["seq"]]
            types_after_a_join.update(e["type"] for e in later)
            assert fold_wire(ack["snapshot"], later) == fresh
        assert types_after_a_join == set(PUBLIC_EVENT_TYPES) - {"show.phase"}
        assert (
            fold_wire(
                {
                    "epoch": epoch,
                    "seq": 0,
                    "show": ShowPhase().as_wire(),
                    "layers": Screen().as_wire(),
                    "sales": {},
                    "drops": {},
                },
                log,
            )
            == fresh
        )
        print(
            f"\nGO -> all {VIEWERS} viewers: median {sorted(latencies_ms)[15]:.1f} ms, "
            f"max {max(latencies_ms):.1f} ms"
        )
    finally:
        await asyncio.gather(
            *(v.close() for v in viewers + consoles), *(late.close() for _, late in late_joins)
        )


async def test_snapshot_plus_events_equals_fresh_snapshot_for_phase_changes(
    server: RunningServer,
) -> None:
    producer = await console(server, "ann")
    viewer = await connect_viewer(server.base_url, await server.viewer_token())
    try:
        start = (await join(viewer))["snapshot"]
        assert (await go(producer, "c01"))["ok"]
        for command in ("end", "reset"):
            ack = await producer.call(command, {"show_id": SHOW}, namespace="/producer")
            assert ack["ok"], ack
        after_end = await viewer.call("join", {"show_id": SHOW})
        for _ in range(200):
            if any(e["epoch"] != start["epoch"] for e in viewer.events):
                break
            await asyncio.sleep(0.05)
        # the reset started a new epoch: the old position is answered with a fresh snapshot
        resumed = await join(viewer, {"epoch": start["epoch"], "seq": 3})
        assert resumed["mode"] == "snapshot"
        assert resumed["snapshot"]["epoch"] != start["epoch"]
        assert resumed["snapshot"]["seq"] == 1
        assert resumed["snapshot"]["show"]["phase"] == "pre_show"
        old_epoch = [e for e in viewer.events if e["epoch"] == start["epoch"]]
        assert [e["type"] for e in old_epoch] == ["show.phase", "overlay.shown", "show.phase"]
        assert fold_wire(start, old_epoch)["show"]["phase"] == "ended"
        new_epoch = [e for e in viewer.events if e["epoch"] != start["epoch"]]
        empty = {
            "epoch": resumed["epoch"],
            "seq": 0,
            "show": ShowPhase().as_wire(),
            "layers": Screen().as_wire(),
            "sales": {},
            "drops": {},
        }
        assert fold_wire(empty, new_epoch) == resumed["snapshot"]
        assert after_end["ok"]
    finally:
        await viewer.close()
        await producer.close()


async def test_viewers_cannot_send_producer_commands(server: RunningServer) -> None:
    token = await server.viewer_token()
    viewer = await connect_viewer(server.base_url, token)
    try:
        for event in ("go", "panic", "standby", "reset", "console:join"):
            ack = await viewer.call(
                event, {"show_id": SHOW, "standby_cue_id": "c01", "cue_id": "c02"}
            )
            assert ack == {
                "ok": False,
                "error": {"code": "forbidden", "message": ack["error"]["message"]},
            }, ack
        assert (await join(viewer))["snapshot"]["seq"] == 0, "nothing fired; still connected"
    finally:
        await viewer.close()
    refused = socketio.AsyncClient(reconnection=False)
    reasons: list[Any] = []
    refused.on("connect_error", reasons.append, namespace="/producer")
    with pytest.raises(socketio.exceptions.ConnectionError):
        await refused.connect(
            server.base_url,
            transports=["websocket"],
            auth={"token": token},
            namespaces=["/producer"],
            wait_timeout=10,
        )
    await refused.disconnect()
    assert reasons and reasons[0]["data"]["code"] == "forbidden", reasons
    stage = await server.node.stage.state(SHOW)
    assert stage.phase == "pre_show" and stage.standby_cue_id == "c01"
