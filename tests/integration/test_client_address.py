"""Connect handlers see the request's whole environ, with the client's own address (engine.io's
aiohttp driver writes 127.0.0.1 and port 0 there), through a real server and a real client: the
port proves it, since on loopback every address is 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from gala.realtime.facade import VIEWER_NS, Connection
from gala.settings import Settings
from tests.support import RawViewer, RunningServer, connect_viewer, running_server, write_show


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[RunningServer]:
    settings = Settings(
        store_url=f"sqlite:///{tmp_path / 'gala.db'}", show_files=(write_show(tmp_path),)
    )
    async with running_server(settings) as running:
        realtime = running.node.realtime

        async def whoami(conn: Connection, _payload: Any) -> dict[str, Any]:
            environ = realtime.sio.get_environ(conn.sid, conn.namespace)
            request = environ["aiohttp.request"]
            return {
                "address": conn.address,
                "remote_addr": environ["REMOTE_ADDR"],
                "remote_port": environ["REMOTE_PORT"],
                "request_remote": request.remote if isinstance(request, web.Request) else None,
                "query": environ["QUERY_STRING"],
                "upgrade": environ.get("HTTP_UPGRADE"),
                "headers": sorted(key for key in environ if key.startswith("HTTP_")),
            }

        realtime.handle(VIEWER_NS, "whoami", whoami)
        yield running


async def test_a_connect_handler_sees_the_clients_address_and_port(server: RunningServer) -> None:
    raw = await RawViewer.connect(server.base_url, await server.viewer_token())
    host, port = raw.writer.get_extra_info("sockname")[:2]
    await raw.send_text('421["whoami",{}]')
    text = await asyncio.wait_for(raw.read_text(), 10)
    while not text.startswith("431"):
        text = await asyncio.wait_for(raw.read_text(), 10)
    seen = json.loads(text[3:])[0]["data"]
    raw.close()
    assert seen["address"] == seen["remote_addr"] == seen["request_remote"] == host
    assert seen["remote_port"] == str(port)
    assert "EIO=4" in seen["query"] and "transport=websocket" in seen["query"]
    assert seen["upgrade"] == "websocket"
    assert {"HTTP_HOST", "HTTP_SEC_WEBSOCKET_KEY"} <= set(seen["headers"])


async def test_a_standard_client_is_seen_at_its_address(server: RunningServer) -> None:
    viewer = await connect_viewer(server.base_url, await server.viewer_token())
    seen = (await viewer.call("whoami", {}))["data"]
    await viewer.close()
    assert seen["address"] == "127.0.0.1"
    assert seen["remote_port"] != "0"
