"""A store that stops answering (Redis stopped mid-show) gets coded, retryable answers, never
`internal_error`: a buy and a wallet read are refused `store_unavailable` with a
`retry_after_ms`, the connection stays up and keeps answering what needs no store, and the
failure is logged once a second at most, not once per request."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import Any

import socketio

from gala.settings import Settings
from gala.stores import timing
from tests.integration.test_tap_overload import open_the_sale
from tests.support import (
    SHOP_SHOW,
    connect_and_join,
    redis_server,
    running_server,
    shop_show,
    viewer_tokens,
)


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


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
    assert 1 <= len(outages) <= 3, outages


async def buy(viewer: socketio.AsyncClient, key: str) -> dict[str, Any]:
    ack: dict[str, Any] = await viewer.call(
        "buy",
        {"show_id": SHOP_SHOW, "product_id": "widget", "quantity": 1, "key": key},
        timeout=30,
    )
    return ack
