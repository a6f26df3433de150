"""Server-side timers and several nodes, on real servers: pre-wait and auto-follow fire with no
console connected, and on Redis a GO on one node reaches viewers and consoles on another."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from gala.settings import Settings
from tests.support import LOCALES, connect_viewer, running_server

SHOW = "timed-show"


def timed_show(tmp_path: Path) -> str:
    text = "{ " + ", ".join(f'{loc} = "T {loc}"' for loc in LOCALES) + " }"
    path = tmp_path / "timed.toml"
    path.write_text(
        "\n".join(
            [
                "[show]",
                f'id = "{SHOW}"',
                'title = "Timed"',
                'currency = "EUR"',
                'locales = ["en", "zh", "ar", "vi", "fr", "id"]',
                "",
                "[[cues]]",
                'id = "t1"',
                'label = "Opening, follows in 300 ms"',
                "auto_follow_ms = 300",
                f'actions = [{{ do = "banner.show", id = "b1", text = {text} }}]',
                "",
                "[[cues]]",
                'id = "t2"',
                'label = "Followed, with a 200 ms pre-wait"',
                "pre_wait_ms = 200",
                f'actions = [{{ do = "lower_third.show", id = "l1", title = {text} }}]',
                "",
                "[[cues]]",
                'id = "t3"',
                'label = "Manual"',
                'actions = [{ do = "stage.clear" }]',
                "",
            ]
        )
    )
    return str(path)


async def test_pre_wait_and_auto_follow_run_on_the_server_after_the_console_leaves(
    store_url: str, tmp_path: Path
) -> None:
    settings = Settings(store_url=store_url, show_files=(timed_show(tmp_path),), port=0)
    async with running_server(settings) as server:
        viewer = await connect_viewer(server.base_url, await server.viewer_token())
        assert (await viewer.call("join", {"show_id": SHOW}))["ok"]
        producer = await connect_viewer(
            server.base_url, await server.producer_token(), namespace="/producer"
        )
        ack = await producer.call(
            "go", {"show_id": SHOW, "standby_cue_id": "t1"}, namespace="/producer"
        )
        assert ack["ok"] and ack["data"]["standby_cue_id"] == "t2", "t2 waits on standby"
        await producer.close()
        await viewer.wait_for_seq(3, timeout=10)
        phase, banner, lower_third = viewer.events
        assert (phase["type"], banner["type"], lower_third["type"]) == (
            "show.phase",
            "overlay.shown",
            "overlay.shown",
        )
        assert lower_third["data"]["layer"] == "lower_third"
        gap_ms = lower_third["program_time_ms"] - banner["program_time_ms"]
        assert gap_ms == 500, "auto-follow 300 ms + the follower's pre-wait 200 ms, exactly"
        state = await server.node.stage.state(SHOW)
        assert state.timers == () and state.last_cue_id == "t2"
        audit = await server.node.store.hub.read_audit(SHOW, 10)
        assert [(e.actor, e.action, e.detail.get("executed")) for e in audit] == [
            ("stage-manager", "go", ["t1"]),
            ("timer", "timer", ["t2"]),
        ]
        await viewer.close()


async def test_a_go_on_one_node_reaches_viewers_and_consoles_on_another(
    redis_url: str, tmp_path: Path
) -> None:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(redis_url)
    await client.flushall()
    await client.aclose()
    shows = (timed_show(tmp_path),)
    async with (
        running_server(Settings(store_url=redis_url, show_files=shows, node_id="a")) as a,
        running_server(
            Settings(store_url=redis_url, show_files=shows, node_id="b", presence_interval_s=0.2)
        ) as b,
    ):
        on_b = [await connect_viewer(b.base_url, await a.viewer_token()) for _ in range(3)]
        for viewer in on_b:
            assert (await viewer.call("join", {"show_id": SHOW}))["ok"]
        console_b = await connect_viewer(
            b.base_url, await b.producer_token("bob"), namespace="/producer"
        )
        pushes: list[dict[str, Any]] = []
        console_b.client.on("console:state", pushes.append, namespace="/producer")
        presence: list[dict[str, Any]] = []
        console_b.client.on("console:presence", presence.append, namespace="/producer")
        assert (await console_b.call("console:join", {"show_id": SHOW}, namespace="/producer"))[
            "ok"
        ]
        console_a = await connect_viewer(
            a.base_url, await a.producer_token("ann"), namespace="/producer"
        )
        assert (
            await console_a.call(
                "standby", {"show_id": SHOW, "cue_id": "t3"}, namespace="/producer"
            )
        )["ok"]
        assert (
            await console_a.call(
                "go", {"show_id": SHOW, "standby_cue_id": "t3"}, namespace="/producer"
            )
        )["ok"]
        for viewer in on_b:
            await viewer.wait_for_seq(2)
            assert [e["type"] for e in viewer.events] == ["show.phase", "stage.cleared"]
        for _ in range(100):
            if any(p["stage"]["last_cue_id"] == "t3" for p in pushes):
                break
            await asyncio.sleep(0.05)
        assert any(p["stage"]["last_cue_id"] == "t3" for p in pushes), pushes
        for _ in range(100):
            if presence and presence[-1]["viewers_online"] == 3:
                break
            await asyncio.sleep(0.05)
        assert presence[-1]["viewers_online"] == 3
        for client_ in (*on_b, console_a, console_b):
            await client_.close()
