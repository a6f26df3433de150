"""The operators' endpoints on a real server: `/healthz` answers while anything answers,
`/readyz` says why the node should get no traffic (its store stopped, a show's log not folded
yet, draining, still starting), `/metrics` is Prometheus text with the store calls timed, and the
production runner writes one access-log record per request (none for the probes)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families
from pythonjsonlogger.json import JsonFormatter

from gala import appkeys
from gala.app import create_app
from gala.http.access_log import ACCESS_LOGGER
from gala.http.protocol_errors import app_runner
from gala.settings import Settings
from tests.support import RunningServer, redis_server, running_server, write_show

SHOW = "test-show"


def settings_for(store_url: str, tmp_path: Path) -> Settings:
    return Settings(store_url=store_url, show_files=(write_show(tmp_path),), port=0)


@pytest.fixture
async def node(tmp_path: Path) -> Any:
    async with running_server(settings_for(f"sqlite:///{tmp_path / 'gala.db'}", tmp_path)) as run:
        yield run


async def get(node: RunningServer, path: str) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{node.base_url}{path}", timeout=aiohttp.ClientTimeout(10)) as resp,
    ):
        return resp.status, await resp.json()


async def until_ready(node: RunningServer) -> dict[str, Any]:
    for _ in range(100):
        status, body = await get(node, "/readyz")
        if status == 200:
            return dict(body["data"])
        await asyncio.sleep(0.1)
    raise AssertionError(f"never ready: {body}")


async def test_healthz_and_readyz_on_a_node_that_serves(node: RunningServer) -> None:
    status, health = await get(node, "/healthz")
    assert status == 200 and health == {
        "ok": True,
        "data": {"node_id": node.node.node_id, "status": "up"},
    }
    ready = await until_ready(node)
    assert ready["ready"] is True
    checks = ready["checks"]
    assert checks["store"]["kind"] == "sqlite" and checks["store"]["ok"] is True
    assert checks["store"]["latency_ms"] >= 0 and "error" not in checks["store"]
    assert checks["shows"] == {SHOW: {"ready": True}} and checks["draining"] is False


async def test_readyz_is_not_ready_while_draining_and_healthz_stays_up(
    node: RunningServer,
) -> None:
    await until_ready(node)
    node.node.draining = True
    status, body = await get(node, "/readyz")
    assert status == 503 and body["error"]["code"] == "not_ready", body
    assert body["error"]["checks"]["draining"] is True
    assert body["error"]["checks"]["store"]["ok"] is True
    assert "draining" in body["error"]["message"]
    assert (await get(node, "/healthz"))[0] == 200
    node.node.draining = False
    assert (await get(node, "/readyz"))[0] == 200


async def test_readyz_waits_for_every_show_log_to_be_folded(node: RunningServer) -> None:
    await until_ready(node)
    ready = node.node.runtime(SHOW).channel.ready
    ready.clear()
    try:
        status, body = await get(node, "/readyz")
    finally:
        ready.set()
    assert status == 503 and body["error"]["code"] == "not_ready"
    assert body["error"]["checks"]["shows"] == {SHOW: {"ready": False}}


async def test_a_starting_node_is_up_but_unavailable(node: RunningServer) -> None:
    slot = node.app[appkeys.NODE]
    running, node_id = slot.node, node.node.node_id
    slot.node = None  # as before the node's store is open
    try:
        ready = await get(node, "/readyz")
        health = await get(node, "/healthz")
    finally:
        slot.node = running
    assert ready[0] == 503 and ready[1]["error"]["code"] == "unavailable"
    assert health == (200, {"ok": True, "data": {"node_id": node_id, "status": "up"}})


async def test_readyz_fails_the_store_check_when_redis_stops(tmp_path: Path) -> None:
    with contextlib.ExitStack() as redis:
        url = redis.enter_context(redis_server())
        async with running_server(settings_for(url, tmp_path)) as node:
            ready = await until_ready(node)
            assert ready["checks"]["store"]["kind"] == "redis"
            redis.close()  # the redis-server process is stopped
            status, body = await get(node, "/readyz")
            assert status == 503 and body["error"]["code"] == "not_ready", body
            store = body["error"]["checks"]["store"]
            assert store["kind"] == "redis" and store["ok"] is False and store["error"]
            assert store["latency_ms"] <= 1_500, "the round trip is waited for 1 s at most"
            assert (await get(node, "/healthz"))[0] == 200


async def test_metrics_are_prometheus_text_with_the_store_calls_timed(
    node: RunningServer,
) -> None:
    async with aiohttp.ClientSession() as http:
        login = {"username": "nobody", "password": "wrong"}
        async with http.post(f"{node.base_url}/api/login", json=login) as resp:
            assert resp.status == 401  # the accounts port was asked
        async with http.get(f"{node.base_url}/metrics") as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            text = await resp.text()
    families = {family.name: family for family in text_string_to_metric_families(text)}
    samples = families["gala_store_call_seconds"].samples
    counts = {
        s.labels["operation"]: s.value for s in samples if s.name == "gala_store_call_seconds_count"
    }
    assert counts.get("hub.get_account", 0) >= 1, sorted(counts)


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def test_the_production_runner_logs_one_json_access_record_per_request(
    tmp_path: Path,
) -> None:
    records = Records()
    access = logging.getLogger(ACCESS_LOGGER)
    level = access.level
    access.addHandler(records)
    access.setLevel(logging.INFO)
    runner = app_runner(
        create_app(settings_for(f"sqlite:///{tmp_path / 'gala.db'}", tmp_path)),
        handle_signals=False,
        shutdown_timeout=5,
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        base = f"http://127.0.0.1:{runner.addresses[0][1]}"
        async with aiohttp.ClientSession() as http:
            for probe in ("/healthz", "/readyz", "/metrics"):
                async with http.get(base + probe) as resp:
                    await resp.read()
            async with http.get(f"{base}/api/shows/{SHOW}?lang=en") as resp:
                body = await resp.read()
                assert resp.status == 200
        for _ in range(50):  # written once the answer is sent
            if records.records:
                break
            await asyncio.sleep(0.02)
    finally:
        await runner.cleanup()
        access.removeHandler(records)
        access.setLevel(level)
    assert len(records.records) == 1, [r.getMessage() for r in records.records]
    line = json.loads(JsonFormatter("%(message)s").format(records.records[0]))
    assert line["method"] == "GET" and line["path"] == f"/api/shows/{SHOW}"
    assert line["status"] == 200 and line["size"] > len(body)  # headers included
    assert line["remote"] == "127.0.0.1"
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
