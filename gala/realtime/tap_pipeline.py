"""Tap pipelines: the taps of one sale (wallet buys) or one drop (grabs) that arrive together are
decided together.

Each sale and each drop has one pipeline: a queue and at most one worker. The first tap starts the
worker, which takes everything queued (up to `max_batch`) and hands it to the store as one batch
(`PurchaseService.buy_batch`, `DropService.grab_batch`); the taps that arrive meanwhile wait for
the next batch. So a batch is whatever arrived during the previous store step: one tap when taps
are rare (no added wait), hundreds in a burst, and the store step is paid once per batch.

A tap is answered when its batch's step has returned, that is once its outcome is durable. What
needs no store is refused before the queue (`refuse_from_memory`). The queue is bounded by time:
when the taps already waiting would take longer than `max_wait_s` to decide at the pipeline's
measured rate, a new tap is answered `busy` with a `retry_after_ms` (the page retries with the
same key: docs/protocol.md). A store that fails (Redis down, a timeout) answers the batch's taps
`store_unavailable`, retryable too: a tap's outcome is idempotent by its key, so a retry finds
whatever part of it happened. Nothing here answers `internal_error` for load.

The arithmetic is in docs/architecture.md, "A tap, end to end".
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from commerce.ports import WalletTap
from commerce.service import Purchase, PurchaseService, wallet_tap
from commerce.show_sales import AnnouncedSale
from gala.kernel.errors import GalaError, Retryable, StoreUnavailable
from gala.metrics import Metrics
from gala.realtime.answers import BUY, GRAB
from redpackets.model import DropTerms
from redpackets.service import DropService, Grab

T = TypeVar("T")
R = TypeVar("R")

log = logging.getLogger(__name__)


class Busy(Retryable):
    """The pipeline holds as many taps as it can decide in `max_wait_s`: retry after a while,
    with the same key."""

    code = "busy"

    def __init__(self, retry_after_ms: int) -> None:
        super().__init__("too many taps at once; retrying", retry_after_ms)


@dataclass(frozen=True, slots=True)
class PipelineLimits:
    max_batch: int = 1000  # taps per store step
    max_wait_s: float = 1.0  # the longest a tap may wait for its answer before `busy` is said
    # before any batch was measured: taps/s assumed, so the first burst is not refused
    initial_rate_per_s: float = 5000.0
    retry_after_ms: int = 250  # the least a refused tap is told to wait


class TapPipeline(Generic[T, R]):
    """One sale's or drop's queue and its worker."""

    def __init__(
        self,
        decide: Callable[[list[T]], Awaitable[Sequence[R | GalaError]]],
        refuse: Callable[[T], None],
        limits: PipelineLimits,
        observe: Callable[[float], None],
        can_win: Callable[[], int | None] = lambda: None,
    ) -> None:
        self._decide = decide
        self._refuse = refuse
        self._observe = observe
        self._can_win = can_win
        self._limits = limits
        self._queue: list[tuple[T, asyncio.Future[R]]] = []
        self._worker: asyncio.Task[None] | None = None
        self._rate_per_s = limits.initial_rate_per_s

    def waiting(self) -> int:
        return len(self._queue)

    def _wait_s(self, taps: int) -> float:
        """How long `taps` queued taps take to decide at the measured rate. When the store said
        how many taps can still win (a drop's envelopes left), the taps past those and one more
        batch are refusals the next batch or memory answers at once: not counted."""
        can_win = self._can_win()
        if can_win is not None:
            taps = min(taps, can_win + self._limits.max_batch)
        return taps / self._rate_per_s

    async def submit(self, tap: T) -> R:
        limits = self._limits
        if self._queue and self._wait_s(len(self._queue)) > limits.max_wait_s:
            wait_ms = self._wait_s(len(self._queue)) * 1000
            raise Busy(max(limits.retry_after_ms, math.ceil(wait_ms)))
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.append((tap, future))
        if self._worker is None:
            self._worker = asyncio.create_task(self._run(), name="tap pipeline")
        # a tapper that goes away cancels only its wait: its tap stays queued and is decided
        # (the worker skips a future that is done), so its retry finds the outcome
        return await future

    async def _run(self) -> None:
        try:
            while self._queue:
                self._answer_from_memory()
                batch = self._queue[: self._limits.max_batch]
                del self._queue[: len(batch)]
                if not batch:
                    break
                started = time.perf_counter()
                outcomes = await self._outcomes([tap for tap, _ in batch])
                elapsed = time.perf_counter() - started
                self._measure(len(batch), elapsed)
                for (_, future), outcome in zip(batch, outcomes, strict=True):
                    if future.done():
                        continue
                    if isinstance(outcome, BaseException):
                        future.set_exception(outcome)
                    else:
                        future.set_result(outcome)
        finally:
            self._worker = None
            for _, future in self._queue:  # only when the worker itself was cancelled
                if not future.done():
                    future.set_exception(
                        StoreUnavailable(retry_after_ms=self._limits.retry_after_ms)
                    )
            if self._queue:
                self._queue.clear()

    def _answer_from_memory(self) -> None:
        """Answer the queued taps that what the last batch taught this node now refuses (the
        sale sold out, the drop emptied): they need not wait for a store step."""
        waiting = []
        for tap, future in self._queue:
            try:
                self._refuse(tap)
            except GalaError as refused:
                if not future.done():
                    future.set_exception(refused)
                continue
            waiting.append((tap, future))
        self._queue = waiting

    async def _outcomes(self, taps: list[T]) -> Sequence[R | GalaError]:
        try:
            outcomes = await self._decide(taps)
        except GalaError as refused:  # the whole batch refused alike (an unknown sale, or the
            return [refused for _ in taps]  # store out of reach: `store_unavailable`)
        except Exception:
            log.exception("a batch of %d taps failed in the store", len(taps))
            return [StoreUnavailable(retry_after_ms=self._limits.retry_after_ms) for _ in taps]
        if len(outcomes) != len(taps):
            log.error("a batch of %d taps got %d outcomes", len(taps), len(outcomes))
            return [StoreUnavailable(retry_after_ms=self._limits.retry_after_ms) for _ in taps]
        return outcomes

    def _measure(self, taps: int, elapsed_s: float) -> None:
        """The pipeline's rate: taps per second of store step, smoothed over batches."""
        self._observe(taps)
        if elapsed_s > 0:
            rate = taps / elapsed_s
            # a batch of one says little about the rate under load: weigh by size
            weight = min(1.0, taps / 50)
            self._rate_per_s += 0.3 * weight * (rate - self._rate_per_s)
            self._rate_per_s = max(self._rate_per_s, 50.0)


class TapPipelines:
    """Every pipeline of this node, by sale and by drop; the viewer handlers' way to the store."""

    def __init__(
        self,
        purchases: PurchaseService,
        drops: DropService,
        limits: PipelineLimits,
        metrics: Metrics,
    ) -> None:
        self._purchases = purchases
        self._drops = drops
        self._limits = limits
        self._buy_batches = metrics.tap_batch_size.labels(BUY)
        self._grab_batches = metrics.tap_batch_size.labels(GRAB)
        self._sales: dict[str, TapPipeline[tuple[AnnouncedSale, WalletTap], Purchase]] = {}
        self._grabs: dict[str, TapPipeline[tuple[DropTerms, str], Grab]] = {}

    async def buy(self, sale: AnnouncedSale, viewer_id: str, key: str, quantity: int) -> Purchase:
        """A wallet tap on `sale`: refused from memory, or decided in the
        sale's next batch."""
        self._purchases.refuse_from_memory(sale, viewer_id, key, quantity)
        pipeline = self._sales.get(sale.sale_id)
        if pipeline is None:
            pipeline = self._sales[sale.sale_id] = TapPipeline(
                self._decide_buys, self._refuse_buy, self._limits, self._buy_batches.observe
            )
        return await pipeline.submit((sale, wallet_tap(sale, viewer_id, key, quantity)))

    async def grab(self, terms: DropTerms, viewer_id: str) -> Grab:
        """A grab of the drop: answered from memory, or decided in the drop's next batch."""
        self._drops.refuse_from_memory(terms, viewer_id)
        pipeline = self._grabs.get(terms.drop_id)
        if pipeline is None:
            drop_id = terms.drop_id
            pipeline = self._grabs[drop_id] = TapPipeline(
                self._decide_grabs,
                self._refuse_grab,
                self._limits,
                self._grab_batches.observe,
                lambda: self._drops.envelopes_left(drop_id),
            )
        return await pipeline.submit((terms, viewer_id))

    def _refuse_buy(self, queued: tuple[AnnouncedSale, WalletTap]) -> None:
        sale, tap = queued
        self._purchases.refuse_from_memory(sale, tap.viewer_id, tap.key, tap.quantity)

    def _refuse_grab(self, queued: tuple[DropTerms, str]) -> None:
        self._drops.refuse_from_memory(*queued)

    async def _decide_buys(
        self, taps: list[tuple[AnnouncedSale, WalletTap]]
    ) -> Sequence[Purchase | GalaError]:
        # the sale as the latest tap saw it on the show log (its status may have moved on)
        return await self._purchases.buy_batch(taps[-1][0], [tap for _, tap in taps])

    async def _decide_grabs(self, taps: list[tuple[DropTerms, str]]) -> Sequence[Grab | GalaError]:
        return await self._drops.grab_batch(taps[-1][0], [viewer for _, viewer in taps])
