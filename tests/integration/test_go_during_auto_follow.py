"""On a real server: the order of a pending timer and a GO. A GO while an auto-follow is pending
fires the pending cue now and consumes its timer (cues execute in list order, the timer never
fires it again); two GOs pressed together then fire it once; a GO while a pre-wait runs is
refused with `pre_wait_pending` and the waiting cue still executes at its time."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from gala.settings import Settings
from tests.support import LOCALES, Viewer, connect_viewer, running_server

SHOW = "follow-show"
FOLLOW_MS = 1500
PRE_WAIT_MS = 1200


def follow_show(tmp_path: Path) -> str:
    text = "{ " + ", ".join(f'{loc} = "F {loc}"' for loc in LOCALES) + " }"
    cues = [
        ("f1", "6", f"auto_follow_ms = {FOLLOW_MS}", "banner.show", "b1"),
        ("f2", "6.1", "", "lower_third.show", "l1"),
        ("f3", "6.2", f"pre_wait_ms = {PRE_WAIT_MS}", "banner.show", "b2"),
        ("f4", "6.3", "", "lower_third.show", "l2"),
    ]
    lines = ["[show]", f'id = "{SHOW}"', 'title = "Follow"', 'currency = "EUR"']
    lines.append('locales = ["en", "zh", "ar", "vi", "fr", "id"]')
    for cue_id, number, timing, action, overlay in cues:
        field = "text" if action == "banner.show" else "title"
        lines += ["", "[[cues]]", f'id = "{cue_id}"', f'number = "{number}"']
        lines += [f'label = "Cue {number}"', timing]
        lines.append(f'actions = [{{ do = "{action}", id = "{overlay}", {field} = {text} }}]')
    path = tmp_path / "follow.toml"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


async def go(console: Viewer, cue: str | None) -> dict[str, Any]:
    return await console.call("go", {"show_id": SHOW, "standby_cue_id": cue}, namespace="/producer")


def overlay_ids(viewer: Viewer) -> list[str]:
    return [e["data"]["overlay"]["id"] for e in viewer.events if e["type"] == "overlay.shown"]


async def test_go_during_a_pending_auto_follow_fires_the_pending_cue_once_and_in_order(
    store_url: str, tmp_path: Path
) -> None:
    settings = Settings(store_url=store_url, show_files=(follow_show(tmp_path),), port=0)
    async with running_server(settings) as server:
        viewer = await connect_viewer(server.base_url, await server.viewer_token())
        assert (await viewer.call("join", {"show_id": SHOW}))["ok"]
        ann = await connect_viewer(
            server.base_url, await server.producer_token("ann"), namespace="/producer"
        )
        bob = await connect_viewer(
            server.base_url, await server.producer_token("bob"), namespace="/producer"
        )

        first = await go(ann, "f1")
        assert first["ok"], first
        assert first["data"]["standby_cue_id"] == "f2", "the follower waits on standby"
        assert [t["reason"] for t in first["data"]["timers"]] == ["auto_follow"]

        both = await asyncio.gather(go(ann, "f2"), go(bob, "f2"))
        assert sorted(a["ok"] for a in both) == [False, True], both
        refused = next(a for a in both if not a["ok"])
        assert refused["error"]["code"] == "standby_changed"
        fired = next(a for a in both if a["ok"])["data"]
        assert fired["timers"] == [] and fired["last_cue_id"] == "f2"
        assert fired["standby_cue_id"] == "f3"

        await viewer.wait_for_seq(3)
        await asyncio.sleep(FOLLOW_MS / 1000 + 0.5)  # past the consumed timer
        assert overlay_ids(viewer) == ["b1", "l1"], "6.1 once, and nothing fired on top of it"

        assert (await go(ann, "f3"))["ok"]
        during = await go(bob, "f4")
        assert not during["ok"] and during["error"]["code"] == "pre_wait_pending", during
        await viewer.wait_for_seq(4, timeout=10)
        assert overlay_ids(viewer) == ["b1", "l1", "b2"]
        state = await server.node.stage.state(SHOW)
        assert state.timers == () and state.standby_cue_id == "f4"
        after = await go(bob, "f4")
        assert after["ok"], after
        await viewer.wait_for_seq(5)
        assert overlay_ids(viewer) == ["b1", "l1", "b2", "l2"]

        audit = await server.node.store.hub.read_audit(SHOW, 20)
        trail = [
            (e.actor, e.action, e.detail.get("executed"), e.detail.get("refused")) for e in audit
        ]
        assert ("ann", "go", ["f1"], None) in trail
        assert any(t[1] == "go" and t[2] == ["f2"] for t in trail)
        assert ("bob", "go", None, "pre_wait_pending") in trail
        assert ("timer", "timer", ["f3"], None) in trail
        assert not any(t[1] == "timer" and t[2] == ["f2"] for t in trail), "the timer was spent"
        for client in (viewer, ann, bob):
            await client.close()
