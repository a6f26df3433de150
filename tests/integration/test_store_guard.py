"""A Redis that would forget, and one that forgot: a node refuses to start on a Redis without
AOF unless told it may, and a node whose Redis restarted empty (no persistence) refuses every
tap and console command with `store_replaced`, says it is not ready, and `gala audit` names the
loss instead of "audit clean: 0 sales"."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
import socketio

from gala.settings import Settings
from tests.integration.test_commerce_audit import run_audit
from tests.integration.test_store_outage import buy
from tests.integration.test_tap_overload import open_the_sale
from tests.support import (
    SHOP_SHOW,
    RedisProcess,
    connect_and_join,
    running_server,
    shop_show,
    viewer_tokens,
)

pytestmark = pytest.mark.usefixtures("redis_url")  # skipped, or failed in CI, without Redis


def serve(url: str, show: str, *flags: str) -> subprocess.CompletedProcess[str]:
    """`gala serve` expected to stop at once (a refusal at start)."""
    return subprocess.run(
        [sys.executable, "-m", "gala", "serve", "--store", url, "--port", "0", "--show", show]
        + list(flags),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_redis_without_aof_is_refused_at_start_unless_allowed(tmp_path: Path) -> None:
    volatile = RedisProcess(persist=False)
    volatile.start()
    try:
        show = shop_show(tmp_path)
        refused = serve(volatile.url, show)
        assert refused.returncode == 1, refused.stdout + refused.stderr
        assert "volatile_store" in refused.stderr and "appendonly no" in refused.stderr
        assert "--allow-volatile-redis" in refused.stderr
    finally:
        volatile.remove()


async def test_a_redis_that_restarted_empty_is_refused_for_taps_and_audited_as_lost(
    tmp_path: Path,
) -> None:
    volatile = RedisProcess(persist=False)
    volatile.start()
    try:
        settings = Settings(
            store_url=volatile.url,
            show_files=(shop_show(tmp_path, stock=10),),
            demo_wallet_grant_minor=100_000,
            allow_volatile_redis=True,
        )
        async with running_server(settings) as shop:
            await open_the_sale(shop)
            tokens = await viewer_tokens(shop.base_url, 1)
            (viewer,) = await connect_and_join(shop.base_url, tokens, SHOP_SHOW)
            assert (await buy(viewer, "before-restart-1"))["ok"]
            volatile.stop(kill=True)
            volatile.start()  # nothing kept: an empty Redis at the same address
            answer = await until_refused_replaced(viewer)
            assert answer["error"]["code"] == "store_replaced", answer
            producer = socketio.AsyncClient(reconnection=False)
            await producer.connect(
                shop.base_url,
                transports=["websocket"],
                auth={"token": await shop.producer_token()},
                namespaces=["/producer"],
            )
            go = await producer.call(
                "go", {"show_id": SHOP_SHOW, "standby_cue_id": "c3"}, namespace="/producer"
            )
            assert go["error"]["code"] == "store_replaced", "no console command on it either"
            await producer.disconnect()
            async with (
                aiohttp.ClientSession() as http,
                http.get(f"{shop.base_url}/readyz") as response,
            ):
                ready = await response.json()
            assert response.status == 503, ready
            assert "not the one this node opened" in ready["error"]["checks"]["store"]["error"]
            await viewer.disconnect()
        audit = run_audit(volatile.url)
        assert audit.returncode == 1, audit.stdout
        assert "no identity" in audit.stdout
    finally:
        volatile.remove()


async def test_a_flushed_redis_is_refused_until_its_data_is_back(tmp_path: Path) -> None:
    server = RedisProcess()
    server.start()
    try:
        settings = Settings(
            store_url=server.url,
            show_files=(shop_show(tmp_path, stock=10),),
            demo_wallet_grant_minor=100_000,
        )
        async with running_server(settings) as shop:
            await open_the_sale(shop)
            tokens = await viewer_tokens(shop.base_url, 2)
            viewer, other = await connect_and_join(shop.base_url, tokens, SHOP_SHOW)
            assert (await buy(viewer, "before-flush-01"))["ok"]
            client = aioredis.Redis.from_url(server.url)
            identity = await client.get("gala:identity")
            await client.delete("gala:identity")  # what a FLUSHALL does to it, the rest kept
            refused = await until_refused_replaced(viewer, data_kept=True)
            assert refused["error"]["code"] == "store_replaced"
            await client.set("gala:identity", identity)  # the data is back
            for _attempt in range(50):
                answer = await buy(other, "after-restore-1")
                if answer["ok"]:
                    break
                assert answer["error"]["code"] == "store_replaced", answer
                await asyncio.sleep(0.1)
            assert answer["ok"], answer
            await client.aclose()
            await viewer.disconnect()
            await other.disconnect()
    finally:
        server.remove()


async def until_refused_replaced(viewer: Any, data_kept: bool = False) -> dict[str, Any]:
    """Taps until one is refused `store_replaced` (the node checks its store once a second);
    none of them is answered `internal_error` meanwhile, and none ok on a store that lost the
    sale (`data_kept`: only the identity went, so a tap before the check may still buy)."""
    for attempt in range(60):
        answer = await buy(viewer, f"after-loss-{attempt:03d}")
        if not answer["ok"] and answer["error"]["code"] == "store_replaced":
            return answer
        if answer["ok"]:
            assert data_kept, "a tap on a store that forgot its sale can never buy"
            continue
        assert answer["error"]["code"] != "internal_error", answer
        await asyncio.sleep(0.1)
    raise AssertionError("taps on a store that forgot were never refused")
