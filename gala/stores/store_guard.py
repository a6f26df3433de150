"""What a node checks of its store before and while it decides money on it: that the store keeps
what it acknowledges, and that it is still the store the node opened.

Durability (`require_durable`): at start the node reads how the store's server persists (Redis:
INFO persistence and `appendfsync`) and refuses to start on a Redis without AOF, where a
restart of Redis forgets every paid order, unless the operator says so explicitly
(`--allow-volatile-redis`, for tests and benchmarks; docs/operations.md says what each setting
keeps).

Identity: a store is given an identity (a random id) by the first node that opens it, kept in the
store itself (SQLite's `meta` table; Redis's `gala:identity` key), never created again. Each node
reads it at start and then once a second (`StoreWatch.run`): a store that answers with another
identity, or none, is not the one the node opened (a Redis emptied by a restart without
persistence, a FLUSHALL, a failover to a replica that never had the data, another database behind
the same address). The node then refuses taps with `store_replaced` (`StoreWatch.check`;
docs/protocol.md), `/readyz` says not ready, and the sweeper stops writing, until the store it
opened answers again: taps decided on a store that forgot the sale would sell stock and pay
envelopes a second time. A node that starts on a store without an identity cannot tell a new store
from an emptied one: it says so in a WARNING, the line an operator alerts on.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

from gala.kernel.errors import GalaError, StoreUnavailable, Unavailable
from gala.stores.ports import Durability, StoreIdentity

log = logging.getLogger(__name__)

WATCH_INTERVAL_S = 1.0


class StoreReplaced(Unavailable):
    """The store answering is not the one this node opened: nothing is decided on it."""

    code = "store_replaced"


class VolatileStore(GalaError):
    """The store's server would forget what it acknowledged if it restarted."""

    code = "volatile_store"


def require_durable(durability: Durability, store_kind: str, allow_volatile: bool) -> None:
    """Log how the store keeps what it acknowledges; raise `VolatileStore` if it does not, unless
    the operator allowed it."""
    if durability.durable:
        log.info("the %s store keeps what it acknowledges: %s", store_kind, durability.setting)
        return
    if not allow_volatile:
        raise VolatileStore(
            f"the {store_kind} store does not persist what it acknowledges "
            f"({durability.setting}): a restart of it would lose every paid order and the "
            "show; turn on AOF (appendonly yes with appendfsync always or everysec, see "
            "docs/operations.md) or start with --allow-volatile-redis (tests, benchmarks)"
        )
    log.warning(
        "the %s store does not persist what it acknowledges (%s), as allowed by "
        "--allow-volatile-redis: a restart of it loses every paid order and the show",
        store_kind,
        durability.setting,
    )


async def open_identity(hub: StoreIdentity, store_kind: str) -> str:
    """The store's identity, created if it has none (logged: a new store, or one that forgot)."""
    found = await hub.store_identity()
    if found is not None:
        log.info("the %s store's identity is %s", store_kind, found)
        return found
    created = await hub.create_store_identity(f"store-{uuid.uuid4().hex}")
    log.warning(
        "the %s store had no identity: taken as a new store, identity %s (if it held a show "
        "before, it has lost it: run `gala audit`)",
        store_kind,
        created,
    )
    return created


class StoreWatch:
    def __init__(self, hub: StoreIdentity, identity: str) -> None:
        self._hub = hub
        self.identity = identity
        self.lost: str | None = None  # why the store is not the one opened, while it is not

    def check(self) -> None:
        """Raise `StoreReplaced` while the store is not the one this node opened."""
        if self.lost is not None:
            raise StoreReplaced(self.lost)

    async def run(self) -> None:
        """Read the store's identity once a WATCH_INTERVAL_S; log each change of state once."""
        while True:
            await asyncio.sleep(WATCH_INTERVAL_S)
            try:
                found = await self._hub.store_identity()
            except StoreUnavailable:
                continue  # no answer says nothing about which store it is
            if found == self.identity:
                if self.lost is not None:
                    log.warning("the store is again the one this node opened (%s)", found)
                self.lost = None
            elif self.lost is None:
                self.lost = (
                    f"the store is not the one this node opened: its identity is "
                    f"{found or 'gone'}, not {self.identity}; nothing is decided on it"
                )
                log.error("%s (emptied, replaced or failed over: run `gala audit`)", self.lost)
