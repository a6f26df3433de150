"""A node restarted (SIGTERM, then started again) under 1,000 connected viewers and two consoles,
while cues are fired, on both stores: the node exits within its drain bound, every viewer comes
back by itself and resumes, gets every event exactly once and in order across the restart (no
gap, no snapshot needed), and the two consoles agree. With two nodes on one Redis, stopping one
moves its viewers to the other with nothing missed. SIGTERM while viewers tap loses no
acknowledged tap."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
import socketio

from commerce.audit import audit_commerce
from gala.stores.factory import open_store
from tests.support import (
    SHOP_SHOW,
    add_producer,
    connect_viewer,
    free_port,
    gala_process,
    shop_show,
    viewer_tokens,
    write_show,
)
from tests.viewer_swarm import ViewerSwarm

SHOW = "test-show"
VIEWERS = 1000
DRAIN_S = 5
BACK_WITHIN_S = 20.0


class Console:
    """A producer's console that reconnects when its link is gone, and never queues a GO."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url, self.token = base_url, token
        self.client: socketio.AsyncClient | None = None

    async def call(self, event: str, payload: dict[str, Any]) -> dict[str, Any]:
        if self.client is None or not self.client.connected:
            await self._connect()
        assert self.client is not None
        reply: dict[str, Any] = await self.client.call(
            event, payload, namespace="/producer", timeout=10
        )
        return reply

    async def _connect(self) -> None:
        await self.reset()
        self.client = socketio.AsyncClient(reconnection=False)
        await self.client.connect(
            self.base_url,
            transports=["websocket"],
            auth={"token": self.token},
            namespaces=["/producer"],
            wait_timeout=5,
        )

    async def reset(self) -> None:
        """Forget the connection: the next call makes a new one."""
        if self.client is not None:
            with contextlib.suppress(Exception):
                # a client whose server went away can wait forever to say goodbye
                await asyncio.wait_for(self.client.disconnect(), 2)
        self.client = None

    async def close(self) -> None:
        await self.reset()


async def login(base_url: str) -> str:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{base_url}/api/login", json={"username": "op", "password": "op-password"}
        ) as resp,
    ):
        return (await resp.json())["data"]["token"]  # type: ignore[no-any-return]


async def fire(consoles: list[Console], gos: int) -> int:
    """Fire `gos` cues, alternating consoles; a GO that meets a dead link is simply not
    counted (the console refused it), and the next one is tried a moment later."""
    fired = 0
    attempt = 0
    while fired < gos:
        console = consoles[attempt % len(consoles)]
        attempt += 1
        try:
            state = await console.call("console:join", {"show_id": SHOW})
            if not state["ok"]:
                await asyncio.sleep(0.2)
                continue
            standby = state["data"]["stage"]["standby_cue_id"]
            ack = await console.call("go", {"show_id": SHOW, "standby_cue_id": standby})
            if ack["ok"]:
                fired += 1
        except (socketio.exceptions.SocketIOError, OSError, TimeoutError):
            await console.reset()
        await asyncio.sleep(0.1)
    return fired


@contextlib.contextmanager
def node(store_url: str, show: str, workdir: Path, port: int) -> Iterator[Any]:
    with gala_process(
        store_url,
        show,
        workdir,
        demo_budget_minor=1_000_000,  # the test show's cues launch drops
        port=port,
        env={"GALA_DRAIN_TIMEOUT_S": str(DRAIN_S)},
    ) as (proc, _base):
        yield proc


async def stop(proc: Any) -> float:
    """SIGTERM the node and wait (without blocking the viewers' loop) until it exits; the
    seconds it took."""
    started = time.monotonic()
    proc.terminate()
    while proc.poll() is None:
        assert time.monotonic() - started < DRAIN_S + 10, "the node did not exit"
        await asyncio.sleep(0.02)
    return time.monotonic() - started


def assert_everyone_has_every_event_once_in_order(swarm: ViewerSwarm, final_seq: int) -> None:
    expected = list(range(1, final_seq + 1))
    wrong = [v for v in swarm.viewers if v.applied != expected]
    assert not wrong, f"{len(wrong)} viewers missed or reordered events, e.g. {wrong[0].applied}"
    assert sum(v.gaps for v in swarm.viewers) == 0
    assert sum(v.late_snapshots for v in swarm.viewers) == 0


@contextlib.asynccontextmanager
async def swarm_of(base_url: str, count: int) -> AsyncIterator[ViewerSwarm]:
    swarm = ViewerSwarm(base_url, SHOW, await viewer_tokens(base_url, count))
    await swarm.start()
    try:
        yield swarm
    finally:
        await swarm.stop()


async def test_a_restart_under_a_thousand_viewers_and_two_consoles_loses_nothing(
    store_url: str, tmp_path: Path
) -> None:
    show = write_show(tmp_path, SHOW, cues=30)
    add_producer(store_url, "op", "op-password", tmp_path)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with node(store_url, show, tmp_path, port) as first:
        token = await login(base)
        consoles = [Console(base, token), Console(base, token)]
        async with swarm_of(base, VIEWERS) as swarm:
            fired = await fire(consoles, 5)
            await swarm.wait_for_seq(fired + 1, 30)
            exit_s = await stop(first)
            assert first.returncode == 0
            assert exit_s < DRAIN_S + 5, f"the node took {exit_s:.1f} s to stop"
            with node(store_url, show, tmp_path, port):
                back_from = time.monotonic()
                fired += await fire(consoles, 10)
                final_seq = fired + 1
                await swarm.wait_for_seq(final_seq, BACK_WITHIN_S)
                back_s = time.monotonic() - back_from
                assert back_s < BACK_WITHIN_S, f"viewers took {back_s:.1f} s to be back"
                assert all(v.connects >= 2 for v in swarm.viewers)
                assert_everyone_has_every_event_once_in_order(swarm, final_seq)
                states = [await c.call("console:join", {"show_id": SHOW}) for c in consoles]
                assert states[0]["data"]["stage"] == states[1]["data"]["stage"]
                for console in consoles:
                    await console.close()


@pytest.mark.redis
async def test_stopping_one_of_two_nodes_moves_its_viewers_to_the_other(
    redis_url: str, tmp_path: Path
) -> None:
    client = aioredis.Redis.from_url(redis_url)
    await client.flushall()
    await client.aclose()
    show = write_show(tmp_path, SHOW, cues=30)
    add_producer(redis_url, "op", "op-password", tmp_path)
    port_a, port_b = free_port(), free_port()
    base_a, base_b = f"http://127.0.0.1:{port_a}", f"http://127.0.0.1:{port_b}"
    with node(redis_url, show, tmp_path, port_a) as a, node(redis_url, show, tmp_path, port_b):
        console = Console(base_b, await login(base_b))
        swarm = ViewerSwarm(base_a, SHOW, await viewer_tokens(base_a, 300))
        swarm.fallbacks = [("127.0.0.1", port_b)]
        await swarm.start()
        try:
            fired = await fire([console], 3)
            await swarm.wait_for_seq(fired + 1, 30)
            await stop(a)
            fired += await fire([console], 5)
            await swarm.wait_for_seq(fired + 1, 40)
            assert_everyone_has_every_event_once_in_order(swarm, fired + 1)
            assert all(v.connects >= 2 for v in swarm.viewers)
        finally:
            await swarm.stop()
            await console.close()


async def test_sigterm_while_viewers_tap_loses_no_acknowledged_tap(
    store_url: str, tmp_path: Path
) -> None:
    show = shop_show(tmp_path, stock=500)
    add_producer(store_url, "op", "op-password", tmp_path)
    acknowledged: dict[str, dict[str, Any]] = {}
    with gala_process(store_url, show, tmp_path, demo_grant_minor=10_000_000) as (proc, base):
        console = Console(base, await login(base))
        for cue in ("c1", "c2"):
            assert (await console.call("go", {"show_id": SHOP_SHOW, "standby_cue_id": cue}))["ok"]
        await console.close()
        viewers = [await connect_viewer(base, token) for token in await viewer_tokens(base, 40)]
        for viewer in viewers:
            assert (await viewer.call("join", {"show_id": SHOP_SHOW}))["ok"]

        async def keep_tapping(index: int) -> None:
            for n in range(1000):
                payload = {
                    "show_id": SHOP_SHOW,
                    "product_id": "widget",
                    "quantity": 1,
                    "key": f"tap-{index:03d}-{n:04d}",
                }
                try:
                    ack = await viewers[index].client.call("buy", payload, timeout=5)
                except Exception:  # noqa: BLE001 - the node has closed the connection
                    return
                if ack["ok"]:
                    acknowledged[ack["data"]["order"]["order_id"]] = ack["data"]["order"]

        tappers = [asyncio.create_task(keep_tapping(i)) for i in range(len(viewers))]
        while len(acknowledged) < 40 and not all(t.done() for t in tappers):
            await asyncio.sleep(0.01)
        assert len(acknowledged) >= 40, f"only {len(acknowledged)} taps were answered"
        exit_s = await stop(proc)
        await asyncio.gather(*tappers)
        for viewer in viewers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(viewer.client.disconnect(), 2)
    assert proc.returncode == 0
    assert exit_s < DRAIN_S + 5
    store = await open_store(store_url)
    try:
        orders = {}
        for sale_id in await store.sales.sale_ids():
            orders.update({o.id: o for o in await store.sales.orders(sale_id)})
        # in flight at SIGTERM were answered, and what was answered was finished: no sweeper
        # has run since, and every acknowledged order is paid, for what its ack said
        for order_id, order in acknowledged.items():
            assert orders[order_id].state == "paid"
            assert orders[order_id].amount_minor == order["amount_minor"]
        problems, _summary = await audit_commerce(store.sales, store.ledger, store.payments)
        assert problems == [], problems
    finally:
        await store.close()
