"""Producers edit the run of show through real consoles (both backends): edits are validated like
a show file, applied by compare-and-set (two consoles editing at once both land), pushed to every
console, audited, followed by GO, kept across a restart of the node, and limited while live."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from gala.settings import Settings
from tests.support import RunningServer, Viewer, connect_viewer, running_server

SHOW = "test-show"
P = "/producer"


def banner_cue(cue_id: str, text: str) -> dict[str, Any]:
    return {
        "id": cue_id,
        "label": f"Banner {cue_id}",
        "actions": [{"do": "banner.show", "id": f"b-{cue_id}", "text": {"en": text}}],
    }


async def console(server: RunningServer, name: str) -> Viewer:
    producer = await connect_viewer(server.base_url, await server.producer_token(name), P)
    assert (await producer.call("console:join", {"show_id": SHOW}, P))["ok"]
    return producer


async def edit(producer: Viewer, **raw: Any) -> dict[str, Any]:
    return await producer.call("cue:edit", {"show_id": SHOW, **raw}, P)


async def test_producers_edit_the_run_of_show_and_go_follows_it(
    store_url: str, show_file: str, tmp_path: Path
) -> None:
    settings = Settings(store_url=store_url, show_files=(show_file,), demo_budget_minor=10**6)
    async with running_server(settings) as server:
        first, second = await console(server, "ann"), await console(server, "bo")
        pushed: list[list[str]] = []
        second.client.on(
            "console:state",
            lambda data: pushed.append([c["id"] for c in data.get("cues", [])]),
            namespace=P,
        )
        added = await asyncio.gather(
            edit(first, kind="add", after_cue="c01", cue=banner_cue("x1", "One")),
            edit(second, kind="add", after_cue="c01", cue=banner_cue("x2", "Two")),
        )
        assert all(a["ok"] for a in added), added
        moved = await edit(first, kind="move", cue_id="c03", after_cue=None)
        assert moved["ok"], moved
        ids = [c["id"] for c in moved["data"]["cues"]]
        assert ids[0] == "c03" and set(ids[2:4]) == {"x1", "x2"} and len(ids) == 32
        assert (await edit(first, kind="remove", cue_id="c05"))["ok"]
        bad = await edit(
            first, kind="add", after_cue="c02",
            cue={"id": "x3", "label": "x", "actions": [{"do": "product.show", "product": "nope"}]},
        )  # fmt: skip
        assert bad["error"]["code"] == "bad_edit" and "nope" in bad["error"]["message"]
        assert (await edit(first, kind="remove", cue_id="c01"))["error"]["code"] == "cue_in_use"
        await asyncio.sleep(0.3)
        assert pushed and pushed[-1] == [c.id for c in server.node.shows.get(SHOW).cues]
        assert "c05" not in pushed[-1] and "x3" not in pushed[-1]
        audit = (await first.call("audit", {"show_id": SHOW}, P))["data"]["entries"]
        edits = [e for e in audit if e["action"] == "cue.edit"]
        assert len(edits) == 6 and sum("refused" in e["detail"] for e in edits) == 2

        # GO follows the edited order: the standby c01 was not moved, then x1/x2
        sheet = [c.id for c in server.node.shows.get(SHOW).cues]
        viewer = await connect_viewer(server.base_url, await server.viewer_token())
        assert (await viewer.call("join", {"show_id": SHOW}))["ok"]
        standby = (await server.node.stage.state(SHOW)).standby_cue_id
        assert standby == "c01"
        ack = await first.call("go", {"show_id": SHOW, "standby_cue_id": "c01"}, P)
        assert ack["data"]["standby_cue_id"] == sheet[sheet.index("c01") + 1]

        # live: what ran and the standby are frozen; what comes later may change
        assert (await edit(first, kind="remove", cue_id="c01"))["error"]["code"] == "cue_in_use"
        after_live = await edit(first, kind="edit", cue_id="c30", cue=banner_cue("c30", "Late"))
        assert after_live["ok"], after_live
        for client in (first, second, viewer):
            await client.close()

    async with running_server(settings) as restarted:
        await restarted.node.runtime(SHOW).refresh_run_of_show()
        assert [c.id for c in restarted.node.shows.get(SHOW).cues] == sheet
        assert restarted.node.shows.get(SHOW).cue("c30").label == "Banner c30"  # type: ignore[union-attr]
