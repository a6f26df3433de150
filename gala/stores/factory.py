"""Open a store backend from its URL and build every adapter on it (hub and features).

`sqlite:///PATH` opens the embedded database (created with its schema if new);
`redis://HOST:PORT/DB` connects to Redis and checks it answers. `StoreBundle.close()` releases it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

import redis.asyncio as aioredis
import redis.exceptions as redis_errors

from commerce.ports import LedgerStore, PaymentStore, PurchaseBatches, SaleStore
from commerce.redis_ledger import RedisLedgerStore
from commerce.redis_payments import RedisPaymentStore
from commerce.redis_store import RedisSaleStore
from commerce.sqlite_ledger import SCHEMA as LEDGER_SCHEMA
from commerce.sqlite_ledger import SqliteLedgerStore
from commerce.sqlite_payments import SCHEMA as PAYMENT_SCHEMA
from commerce.sqlite_payments import SqlitePaymentStore
from commerce.sqlite_store import SCHEMA as SALE_SCHEMA
from commerce.sqlite_store import SqliteSaleStore
from gala.results.ports import ResultsStore
from gala.stores.ports import (
    Accounts,
    EditedRunOfShow,
    Presence,
    Secrets,
    ShowDocuments,
    ShowLogReader,
    StoreIdentity,
)
from redpackets.ports import DropStore, GrabBatches
from redpackets.redis_store import RedisDropStore
from redpackets.sqlite_store import SCHEMA as DROP_SCHEMA
from redpackets.sqlite_store import SqliteDropStore
from sponsors.ports import BookingStore, ProductStore
from sponsors.redis_store import RedisSponsorStore
from sponsors.sqlite_store import SCHEMA as SPONSOR_SCHEMA
from sponsors.sqlite_store import SqliteSponsorStore
from stage_control.ports import StageStore
from stage_control.redis_store import RedisStageStore
from stage_control.sqlite_store import SCHEMA as STAGE_SCHEMA
from stage_control.sqlite_store import SqliteStageStore

from .redis_hub import RedisHubStore
from .redis_results import RedisResultsStore
from .redis_run_of_show import RedisRunOfShowStore
from .redis_taps import RedisTapBatches
from .sqlite_db import SqliteDatabase
from .sqlite_hub import SCHEMA as HUB_SCHEMA
from .sqlite_hub import SqliteHubStore
from .sqlite_results import SCHEMA as RESULTS_SCHEMA
from .sqlite_results import SqliteResultsStore
from .sqlite_run_of_show import SCHEMA as RUN_OF_SHOW_SCHEMA
from .sqlite_run_of_show import SqliteRunOfShowStore
from .sqlite_taps import SqliteTapBatches


class HubStore(ShowLogReader, ShowDocuments, Accounts, Secrets, StoreIdentity, Presence, Protocol):
    """The hub's own ports, which one adapter per backend implements together."""


class TapBatches(PurchaseBatches, GrabBatches, Protocol):
    """The tap batches of both features, which one adapter per backend implements together."""


class SponsorStore(ProductStore, BookingStore, Protocol):
    """The sponsors feature's two ports, which one adapter per backend implements together."""


@dataclass(slots=True)
class StoreBundle:
    """Every port of one store backend, typed as the ports (never as the adapters), so a caller
    can rely only on what a port promises."""

    kind: str
    hub: HubStore
    stage: StageStore
    sales: SaleStore
    ledger: LedgerStore
    drops: DropStore
    payments: PaymentStore
    results: ResultsStore
    run_of_show: EditedRunOfShow
    sponsors: SponsorStore
    taps: TapBatches
    close: Callable[[], Awaitable[None]]
    # one cheap round trip to the backend (`/readyz`): SELECT 1, or PING
    ping: Callable[[], Awaitable[None]]
    # the backend's exceptions that mean it did not answer (unreachable, timed out, no free
    # connection): the node answers them as `store_unavailable` (`timing.py`)
    failures: tuple[type[BaseException], ...] = ()


async def open_store(url: str, redis_prefix: str = "gala") -> StoreBundle:
    if url.startswith("sqlite:///"):
        db = SqliteDatabase(
            url.removeprefix("sqlite:///"),
            HUB_SCHEMA
            + STAGE_SCHEMA
            + SALE_SCHEMA
            + LEDGER_SCHEMA
            + DROP_SCHEMA
            + PAYMENT_SCHEMA
            + RESULTS_SCHEMA
            + RUN_OF_SHOW_SCHEMA
            + SPONSOR_SCHEMA,
        )
        await db.open()
        return StoreBundle(
            "sqlite",
            SqliteHubStore(db),
            SqliteStageStore(db),
            SqliteSaleStore(db),
            SqliteLedgerStore(db),
            SqliteDropStore(db),
            SqlitePaymentStore(db),
            SqliteResultsStore(db),
            SqliteRunOfShowStore(db),
            SqliteSponsorStore(db),
            SqliteTapBatches(db),
            db.close,
            lambda: _sqlite_ping(db),
        )
    # A blocking pool: a burst of taps waits for a free connection instead of failing with
    # MaxConnectionsError (seen with 2,000 concurrent reserves on the default pool).
    pool = aioredis.BlockingConnectionPool.from_url(
        url, max_connections=256, timeout=10, health_check_interval=30
    )
    client = aioredis.Redis(connection_pool=pool, decode_responses=False)
    await client.ping()

    async def close() -> None:
        await client.aclose()
        await pool.aclose()

    sales = RedisSaleStore(client, redis_prefix)
    ledger = RedisLedgerStore(client, redis_prefix)
    drops = RedisDropStore(client, redis_prefix)
    return StoreBundle(
        "redis",
        RedisHubStore(client, redis_prefix),
        RedisStageStore(client, redis_prefix),
        sales,
        ledger,
        drops,
        RedisPaymentStore(client, redis_prefix),
        RedisResultsStore(client, redis_prefix),
        RedisRunOfShowStore(client, redis_prefix),
        RedisSponsorStore(client, redis_prefix),
        RedisTapBatches(sales, drops, ledger),
        close,
        lambda: _redis_ping(client),
        (redis_errors.ConnectionError, redis_errors.TimeoutError),
    )


async def _sqlite_ping(db: SqliteDatabase) -> None:
    await db.run(lambda conn: conn.execute("SELECT 1").fetchone())


async def _redis_ping(client: aioredis.Redis) -> None:
    await client.ping()
