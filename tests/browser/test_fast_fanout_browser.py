"""In a real browser, the socket.io client of the viewer page (the npm build gala serves) reads
every broadcast of the fast path intact: each websocket length class (7-bit, 16-bit and 64-bit,
on both sides of each boundary), non-ASCII text including characters outside the BMP, one event
per write and many in one write."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gala.realtime.facade import VIEWER_NS
from gala.settings import Settings
from tests.support import data_of_packet_size, running_server, write_show

SHOW = "test-show"
SIZES = [40, 125, 126, 127, 65535, 65536, 65537, 300_000]

JOIN = """(token) => new Promise((resolve, reject) => {
    window.received = [];
    const socket = io({ transports: ["websocket"], auth: { token }, forceNew: true });
    socket.on("event", (event) => { window.received.push(event); });
    socket.on("connect", () => {
        socket.emit("join", { show_id: "test-show" }, (ack) => ack.ok ? resolve() : reject(ack));
    });
    socket.on("connect_error", reject);
})"""


@pytest.mark.parametrize("batched", [False, True], ids=["one-per-write", "batched"])
async def test_the_browser_client_reads_every_frame_size_class_intact(
    browser: Any, tmp_path: Path, batched: bool
) -> None:
    settings = Settings(
        store_url=f"sqlite:///{tmp_path / 'gala.db'}", show_files=(write_show(tmp_path),)
    )
    async with running_server(settings) as server:
        page = await (await browser.new_context()).new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        await page.goto(f"{server.base_url}/login")  # a page of ours that opens no socket
        await page.add_script_tag(url="/vendor/socket.io.min.js")
        await page.evaluate(JOIN, await server.viewer_token())
        fillers = ["x", "雪☃مرحبا", "😀🎆"]
        sent = [
            data_of_packet_size(size, seq, fillers[seq % len(fillers)])
            for seq, size in enumerate(SIZES, start=1)
        ]
        realtime = server.node.realtime
        if batched:
            realtime.broadcast_fast(VIEWER_NS, f"show:{SHOW}", "event", sent)
        for data in [] if batched else sent:
            realtime.broadcast_fast(VIEWER_NS, f"show:{SHOW}", "event", [data])
        await page.wait_for_function(f"window.received.length >= {len(sent)}", timeout=20_000)
        received = await page.evaluate("window.received")
        assert [event["seq"] for event in received] == list(range(1, len(SIZES) + 1))
        assert received == sent
        assert errors == []
