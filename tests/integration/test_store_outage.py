"""A store that stops answering (Redis stopped mid-show) gets coded, retryable answers, never
`internal_error`: a buy and a wallet read are refused `store_unavailable` with a
`retry_after_ms`, the connection stays up and keeps answering what needs no store, and the
outage is logged once when it starts and once when it ends, not once per request. A Redis with
AOF that comes back is used again within seconds, without a restart of the node, and the taps
retried with their keys are each decided exactly once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from pathlib import Path
from typing import Any

import socketio

from gala.settings import Settings
from gala.stores import timing
from tests.integration.test_tap_overload import open_the_sale
from tests.support import (
    SHOP_SHOW,
    RedisProcess,
    call_as_the_page,
    connect_and_join,
    redis_server,
    running_server,
    shop_buy,
    shop_show,
    viewer_tokens,
)


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []
        self.errors: list[str] = []  # ERROR and worse: a failure of ours, with its traceback

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())
        if record.levelno >= logging.ERROR:
            self.errors.append(record.getMessage())


async def test_a_stopped_redis_is_answered_store_unavailable_and_the_socket_stays(
    tmp_path: Path,
) -> None:
    records = Records()
    logging.getLogger(timing.__name__).addHandler(records)
    try:
        with contextlib.ExitStack() as redis:
            url = redis.enter_context(redis_server())
            settings = Settings(
                store_url=url,
                show_files=(shop_show(tmp_path, stock=10),),
                demo_wallet_grant_minor=100_000,
            )
            async with running_server(settings) as shop:
                await open_the_sale(shop)
                tokens = await viewer_tokens(shop.base_url, 1)
                (viewer,) = await connect_and_join(shop.base_url, tokens, SHOP_SHOW)
                bought = await buy(viewer, "outage-key-01")
                assert bought["ok"], bought
                redis.close()  # the redis-server process is stopped
                answers = await asyncio.gather(
                    *(buy(viewer, f"outage-key-{n:02d}") for n in range(2, 12)),
                    viewer.call("wallet", {"show_id": SHOP_SHOW}, timeout=30),
                )
                for answer in answers:
                    assert not answer["ok"], answer
                    assert answer["error"]["code"] == "store_unavailable", answer
                    assert answer["error"]["retry_after_ms"] > 0
                ping = await viewer.call("time", {"t0": 1}, timeout=10)
                assert ping["ok"], "the connection stays up and answers what needs no store"
                await viewer.disconnect()
    finally:
        logging.getLogger(timing.__name__).removeHandler(records)
    outages = [m for m in records.messages if "did not answer" in m]
    assert len(outages) == 1, outages


async def test_a_redis_that_comes_back_is_used_again_and_retried_taps_buy_once(
    tmp_path: Path,
) -> None:
    records = Records()
    logging.getLogger().addHandler(records)
    server = RedisProcess()
    server.start()
    try:
        settings = Settings(
            store_url=server.url,
            show_files=(shop_show(tmp_path, stock=50),),
            demo_wallet_grant_minor=1_000_000,
        )
        async with running_server(settings) as shop:
            await open_the_sale(shop)
            tokens = await viewer_tokens(shop.base_url, 20)
            viewers = await connect_and_join(shop.base_url, tokens, SHOP_SHOW)
            server.stop(kill=True)
            during = await asyncio.gather(
                *(buy(viewer, f"comeback-{n:02d}-key") for n, viewer in enumerate(viewers))
            )
            assert {a["error"]["code"] for a in during} == {"store_unavailable"}, during
            server.start()  # with what its AOF kept
            started = time.monotonic()
            answers = await asyncio.gather(
                *(
                    call_as_the_page(viewer, "buy", shop_buy(f"comeback-{n:02d}-key"))
                    for n, viewer in enumerate(viewers)
                )
            )
            resumed_s = time.monotonic() - started
            assert all(a["ok"] and a["data"]["order"]["state"] == "paid" for a in answers), answers
            assert resumed_s < 10, f"the node took {resumed_s:.1f} s to use its store again"
            again = await asyncio.gather(
                *(buy(viewer, f"comeback-{n:02d}-key") for n, viewer in enumerate(viewers))
            )
            assert [a["data"]["order"] for a in again] == [a["data"]["order"] for a in answers]
            counts = await shop.node.store.sales.counts((await shop.node.store.sales.sale_ids())[0])
            assert (counts.sold, counts.held, counts.left) == (20, 0, 30), "each key bought once"
            for viewer in viewers:
                await viewer.disconnect()
    finally:
        logging.getLogger().removeHandler(records)
        server.remove()
    assert len([m for m in records.messages if "did not answer" in m]) == 1, "\n".join(
        records.messages
    )
    assert len([m for m in records.messages if "answers again" in m]) == 1, records.messages
    assert records.errors == [], "an outage is not a failure of ours: no ERROR, no traceback"


async def buy(viewer: socketio.AsyncClient, key: str) -> dict[str, Any]:
    ack: dict[str, Any] = await viewer.call("buy", shop_buy(key), timeout=30)
    return ack
