"""How the garbage collector runs in a node that holds tens of thousands of connections.

CPython 3.11 collects its oldest generation when the objects that reached it since the last full
collection pass a quarter of it, and a full collection visits every tracked object: about 80 per
connected viewer, so the process stops for about 600 ms at 10,000 viewers (measured with
`bench.fanout`), and no cue goes out meanwhile. Viewers joining during a show trigger one every
few thousand joins. The policy here:

- after start-up, and after every full collection, the survivors are frozen (`gc.freeze()`), so
  later collections visit only what was allocated since: a pause grows with what changed since
  the last full collection, not with the audience;
- an ended connection is freed by reference counting: `lean_engineio` breaks the two cycles
  aiohttp and CPython 3.11's socket transport leave (measured: no cyclic garbage per ended
  connection). Frozen garbage is never collected, so as a safety net for cycles made elsewhere,
  once the frozen heap has grown past `min_thaw_objects` (about 25,000 viewers' worth) and to
  `thaw_growth` times its size after the last thaw, it is thawed and collected once: one long
  pause, logged.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from typing import Any, Protocol

log = logging.getLogger(__name__)


class Collector(Protocol):
    """The parts of the `gc` module the policy uses."""

    def collect(self, generation: int = 2) -> int: ...

    def freeze(self) -> None: ...

    def unfreeze(self) -> None: ...

    def get_freeze_count(self) -> int: ...

    def get_stats(self) -> list[dict[str, Any]]: ...


class HeapPolicy:
    def __init__(
        self,
        collector: Collector = gc,
        thaw_growth: float = 4.0,
        min_thaw_objects: int = 2_000_000,
    ) -> None:
        self._gc = collector
        self._thaw_growth = thaw_growth
        self._min_thaw_objects = min_thaw_objects
        self._full_collections = 0
        self._frozen_after_thaw = 0
        self.thaws = 0

    def start(self) -> None:
        """Collect and freeze what start-up built: modules, the app, the stores."""
        self._gc.collect()
        self._gc.freeze()
        self._full_collections = self._full_collections_so_far()
        self._frozen_after_thaw = self._gc.get_freeze_count()

    def tend(self) -> None:
        """Freeze the survivors of a full collection that ran since the last call; thaw and
        collect when the frozen heap has grown too much."""
        full = self._full_collections_so_far()
        if full == self._full_collections:
            return
        self._gc.freeze()
        frozen = self._gc.get_freeze_count()
        if frozen > max(self._min_thaw_objects, self._thaw_growth * self._frozen_after_thaw):
            started = time.perf_counter()
            self._gc.unfreeze()
            freed = self._gc.collect()
            self._gc.freeze()
            self._frozen_after_thaw = self._gc.get_freeze_count()
            self.thaws += 1
            log.warning(
                "heap thawed and collected: %d objects frozen, %d freed, %.0f ms",
                frozen,
                freed,
                (time.perf_counter() - started) * 1000,
            )
        self._full_collections = self._full_collections_so_far()

    async def run(self, interval_s: float = 1.0) -> None:
        while True:
            await asyncio.sleep(interval_s)
            self.tend()

    def stop(self) -> None:
        self._gc.unfreeze()

    def _full_collections_so_far(self) -> int:
        return int(self._gc.get_stats()[2]["collections"])
