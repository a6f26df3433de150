"""A running node: the store, the services and the per-show runtimes, opened and closed as one.

`Node.open` is the only place the parts are connected (the app factory calls it from its cleanup
context); `Node.close` stops every task and releases the store, in reverse order.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import random
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from commerce.payments import PaymentService
from commerce.ports import PaymentProvider
from commerce.sandbox_provider import SANDBOX, SandboxProvider
from commerce.service import PurchaseService
from gala.auth.login import LoginService
from gala.auth.tokens import Identity, TokenSigner
from gala.http.services import Readiness, StoreCheck
from gala.kernel.clock import Clock
from gala.metrics import Metrics
from gala.realtime.answers import Answers
from gala.realtime.booking_handlers import BookingHandlers
from gala.realtime.console_drops import ConsoleDrops
from gala.realtime.console_handlers import ConsoleHandlers
from gala.realtime.facade import VIEWER_NS, Realtime
from gala.realtime.show_channel import viewer_room
from gala.realtime.show_runtime import ShowRuntime
from gala.realtime.tap_limiter import TapLimiter
from gala.realtime.tap_pipeline import PipelineLimits, TapPipelines
from gala.realtime.viewer_handlers import ViewerHandlers
from gala.results.report import ResultsRecorder, show_results
from gala.runofshow.booked_cues import product_key
from gala.runofshow.cue_effects import ShowCueEffects
from gala.runofshow.registry import ShowRegistry
from gala.runofshow.run_of_show import RunOfShow
from gala.runofshow.sponsor_products import import_show_products
from gala.runofshow.sponsor_view import show_facts
from gala.settings import Settings, default_node_id
from gala.stores.factory import StoreBundle, open_store
from gala.stores.store_guard import StoreWatch, open_identity, require_durable
from gala.stores.timing import StoreHealth, TimedPort
from gala.supervisor import supervise
from redpackets.service import DropService
from redpackets.show_drops import SHOW_FUNDER, funder_account
from sponsors.model import APPROVED
from sponsors.service import SponsorService
from stage_control.model import LIVE
from stage_control.service import ShowNotInstalled, StageService

log = logging.getLogger(__name__)

# A drained node's clients come back spread over this window, so the nodes that take them over
# (or this one, restarted) do not get every reconnect in the same millisecond.
DRAIN_RECONNECT_WINDOW_MS = 3000

STORE_PING_TIMEOUT_S = 1.0


@dataclass(eq=False)
class Node:
    settings: Settings
    clock: Clock
    store: StoreBundle
    signer: TokenSigner
    shows: ShowRegistry
    stage: StageService
    realtime: Realtime
    node_id: str
    purchases: PurchaseService
    drops: DropService
    payments: PaymentService
    sandbox: SandboxProvider | None
    results: ResultsRecorder
    sponsors: SponsorService
    login: LoginService
    metrics: Metrics
    store_watch: StoreWatch
    runtimes: dict[str, ShowRuntime] = field(default_factory=dict)
    _background: list[asyncio.Task[None]] = field(default_factory=list)
    # set while the node drains before it stops: `/readyz` then answers `not_ready`
    draining: bool = False

    @classmethod
    async def open(
        cls, settings: Settings, clock: Clock, realtime: Realtime, metrics: Metrics
    ) -> Node:
        store = timed_bundle(await open_store(settings.store_url), metrics)
        try:
            require_durable(await store.hub.durability(), store.kind, settings.allow_volatile_redis)
            store_watch = StoreWatch(store.hub, await open_identity(store.hub, store.kind))
            secret = (
                settings.secret.encode()
                if settings.secret
                else await store.hub.server_secret(secrets.token_bytes(32))
            )
            shows = ShowRegistry()
            await shows.install_files(settings.show_files, store.hub, store.stage)
            await shows.load(store.hub)
        except BaseException:
            await store.close()
            raise
        node_id = settings.node_id or default_node_id()
        effects = ShowCueEffects(lambda show_id: shows.get(show_id).currency)
        stage = StageService(store.stage, shows, effects, clock)
        purchases = PurchaseService(store.sales, store.ledger, store.taps, clock)
        drops = DropService(store.drops, store.ledger, store.taps, clock, random.SystemRandom())
        webhook_secret = (
            settings.webhook_secret.encode()
            if settings.webhook_secret
            # the sandbox's own secret: derived, so every node on the store agrees
            else hmac.new(secret, b"gala sandbox webhook", hashlib.sha256).digest()
        )
        sandbox = (
            SandboxProvider(webhook_secret, clock) if settings.payment_provider == SANDBOX else None
        )
        provider: PaymentProvider | None = sandbox
        sponsors = SponsorService(
            store.sponsors,
            store.sponsors,
            store.ledger,
            clock,
            show_facts(shows),
            # bound late: the node is built below, and edits come only once it serves
            lambda sponsor_id, product_id: node.live_units(sponsor_id, product_id),
        )
        payments = PaymentService(
            purchases,
            store.sales,
            store.ledger,
            store.payments,
            provider,
            clock,
            webhook_secret,
            settings.webhook_tolerance_s,
        )
        results = ResultsRecorder(store.results)
        node = cls(
            settings,
            clock,
            store,
            TokenSigner(secret),
            shows,
            stage,
            realtime,
            node_id,
            purchases,
            drops,
            payments,
            sandbox,
            results,
            sponsors,
            LoginService(store.hub, clock),
            metrics,
            store_watch,
        )
        metrics.watch_viewers(node.viewers_per_show)
        metrics.start_gc_timing()
        node._background.append(
            asyncio.create_task(supervise("event-loop lag", metrics.measure_loop_lag))
        )
        node._background.append(asyncio.create_task(supervise("store identity", store_watch.run)))
        if settings.demo_budget_minor:
            await node.fund_demo_budgets()
        # the show files' products of each sponsor, as its own (created once, never overwritten)
        await import_show_products(shows.all(), sponsors)
        run_of_show = RunOfShow(shows, sponsors, store.run_of_show, stage)
        answers = Answers(metrics, node.runtimes, store_watch.check)
        for show in shows.all():
            runtime = ShowRuntime(
                show.id,
                node_id=node_id,
                reader=store.hub,
                stage=stage,
                stage_store=store.stage,
                presence=store.hub,
                realtime=realtime,
                clock=clock,
                replay_window=settings.replay_window,
                presence_interval_s=settings.presence_interval_s,
                purchases=purchases,
                drops=drops,
                payments=payments,
                results=results,
                run_of_show=run_of_show,
                metrics=metrics,
                taps=answers.taps_of,
                store_check=store_watch.check,
            )
            node.runtimes[show.id] = runtime
            runtime.start()
        limiter = TapLimiter(clock, settings.grab_taps_per_s, settings.grab_tap_burst)
        ViewerHandlers(
            realtime,
            shows,
            node.runtime,
            clock,
            purchases,
            payments,
            TapPipelines(
                purchases,
                drops,
                PipelineLimits(
                    max_batch=settings.tap_batch_max, max_wait_s=settings.tap_max_wait_ms / 1000
                ),
                metrics,
            ),
            limiter,
            results,
            answers,
        ).register()
        ConsoleHandlers(
            realtime,
            shows,
            node.runtime,
            stage,
            ConsoleDrops(shows, node.runtime, stage, drops, clock),
            clock,
            answers,
        ).register()
        BookingHandlers(
            realtime, shows, stage, sponsors, node.refresh_run_of_show, answers
        ).register()
        log.info(
            "node %s serving %d show(s) on the %s store", node_id, len(node.runtimes), store.kind
        )
        return node

    async def fund_demo_budgets(self) -> None:
        """Demo mode only: the show's own budget and each sponsor's, once (idempotent)."""
        for show in self.shows.all():
            for funder in (SHOW_FUNDER, *show.sponsors):
                await self.drops.deposit(
                    funder_account(show.id, funder), self.settings.demo_budget_minor, "demo"
                )

    async def show_results(self, show_id: str) -> dict[str, Any]:
        """The show's results now (gala/results.py), this node's buffered ones written first."""
        await self.results.flush(show_id)
        store = self.store
        return await show_results(
            show_id, store.hub, store.results, store.sales, store.drops, store.ledger
        )

    async def live_units(self, sponsor_id: str, product_id: str) -> int | None:
        """None when the product is in no approved reveal of a live show; else the units of it
        sold or held in those shows (what an edit of its stock must not go below)."""
        committed: int | None = None
        key = product_key(sponsor_id, product_id)
        for show in self.shows.all():
            if (await self.stage.state(show.id)).phase != LIVE:
                continue
            bookings = await self.sponsors.show_bookings(show.id)
            if not any(
                (b.state, b.sponsor_id, b.product_id) == (APPROVED, sponsor_id, product_id)
                for b in bookings
            ):
                continue
            committed = committed or 0
            channel = self.runtime(show.id).channel
            sale = channel.snapshot.sales.sales.get(key) if channel.ready.is_set() else None
            if sale is not None:
                await self.purchases.sync_sale(sale)
                counts = await self.purchases.counts(sale.sale_id)
                committed += counts.sold + counts.held
        return committed

    async def refresh_run_of_show(self, show_id: str) -> None:
        """Merge the show's approved bookings into its run of show now, and show the consoles."""
        await self.runtime(show_id).refresh_run_of_show()

    def runtime(self, show_id: str) -> ShowRuntime:
        runtime = self.runtimes.get(show_id)
        if runtime is None:
            raise ShowNotInstalled(f"no show {show_id!r}")
        return runtime

    async def readiness(self) -> Readiness:
        """`/readyz`'s checks now: one round trip to the store (at most `STORE_PING_TIMEOUT_S`),
        every installed show's log folded, and whether the node drains."""
        started = time.perf_counter()
        error: str | None = None
        try:
            await asyncio.wait_for(self.store.ping(), STORE_PING_TIMEOUT_S)
        except TimeoutError:
            error = f"no answer within {STORE_PING_TIMEOUT_S:g} s"
            log.warning("readiness: the %s store did not answer: %s", self.store.kind, error)
        except Exception as failure:  # noqa: BLE001 - any failure of the round trip is its answer
            error = type(failure).__name__
            log.warning("readiness: the %s store did not answer: %r", self.store.kind, failure)
        latency_ms = round((time.perf_counter() - started) * 1000, 3)
        if error is None and self.store_watch.lost is not None:
            error = self.store_watch.lost
        return Readiness(
            StoreCheck(self.store.kind, error is None, latency_ms, error),
            {show_id: runtime.channel.ready.is_set() for show_id, runtime in self.runtimes.items()},
            self.draining,
        )

    def authenticate(self, token: object) -> Identity:
        return self.signer.verify(token, self.clock.now_ms() // 1000)

    def issue_token(self, identity: Identity, ttl_s: int) -> str:
        return self.signer.issue(identity, self.clock.now_ms() // 1000, ttl_s)

    def viewers_per_show(self) -> dict[str, int]:
        """Viewers connected to this node, per show (read when /metrics is scraped)."""
        return {
            show_id: self.realtime.room_size(VIEWER_NS, viewer_room(show_id))
            for show_id in self.runtimes
        }

    async def drain(self, timeout_s: float) -> None:
        """Before the node stops (SIGTERM): not ready any more, every client told to come back
        within `DRAIN_RECONNECT_WINDOW_MS` (to whichever node serves it then), what is in flight
        answered and what the fan-out holds written, then every session closed; the results
        this node buffered are written last. Bounded by `timeout_s`."""
        self.draining = True
        self.metrics.draining.set(1)
        log.info("draining: %d connection(s)", self.realtime.connection_count())
        await self.realtime.drain(DRAIN_RECONNECT_WINDOW_MS, timeout_s)
        for show_id in self.runtimes:
            await self.results.flush(show_id)

    async def close(self) -> None:
        await self.realtime.close()
        for runtime in self.runtimes.values():
            await runtime.stop()
        for task in self._background:
            task.cancel()
        for task in self._background:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.metrics.stop_gc_timing()
        await self.store.close()


def timed_bundle(store: StoreBundle, metrics: Metrics) -> StoreBundle:
    """The same store with every port's coroutine methods timed (`gala_store_call_seconds`), and
    the backend's failures to answer raised as `store_unavailable` (`gala/stores/timing.py`)."""
    histogram = metrics.store_call_seconds
    ports = ("hub", "stage", "sales", "ledger", "drops", "payments", "results", "run_of_show")
    health = StoreHealth()
    for port in (*ports, "sponsors", "taps"):
        setattr(
            store, port, TimedPort(getattr(store, port), port, histogram, store.failures, health)
        )
    return store
