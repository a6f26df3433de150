"""Everything a node runs for one show, each as a supervised task:

- the fan-out (`ShowChannel`): tail the log, broadcast to viewers;
- the stage watcher: on every stage change, push the console state to producers and re-arm the
  cue clock, which executes pre-wait and auto-follow timers on the server (every node arms it;
  the store's compare-and-set lets exactly one execute each timer);
- presence: report this node's viewers and operators, push the totals to the consoles;
- the sweeper: release expired holds of the show's sales, finish interrupted ledger transfers
  and provider payments; launch the drops the log announced, credit uncredited claims, close
  due drops and refund their leftover. Its first round reconciles every order, and the node
  takes no tap of the show before it has run (`ready_for_taps`);
- figures: stock left and sold of each product's current sale, the GMV of every sale of the
  log's epoch, envelopes left, sent to viewers and consoles at a fixed
  cadence, and for the consoles the show's orders/s and grabs/s, summed over nodes from the tap
  totals each node reports with its presence; the results buffered on this node (displays,
  taps) are written at the same cadence;
- reveals: when a product card goes up on the log, the viewers online then are recorded.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from commerce.figures import ShowFigures, figures_of, just_bought
from commerce.payments import PaymentService
from commerce.service import PurchaseService
from commerce.show_sales import SalesBoard
from gala.kernel.clock import Clock
from gala.kernel.errors import GalaError, Retryable
from gala.kernel.showlog import LoggedEvent
from gala.logs import log_context
from gala.metrics import Metrics
from gala.realtime.facade import PRODUCER_NS, VIEWER_NS, Realtime
from gala.realtime.show_channel import ShowChannel, viewer_room
from gala.results.report import ResultsRecorder, product_reveal
from gala.runofshow import cue_edits
from gala.runofshow.run_of_show import RunOfShow
from gala.stores.ports import Presence, ShowLogReader, TapTotals
from gala.supervisor import supervise
from redpackets.figures import DropFigures, still_reported
from redpackets.model import DropUnfunded
from redpackets.service import DropService
from stage_control.model import TIME_OF_DAY, StageState
from stage_control.ports import StageStore
from stage_control.service import StageService

log = logging.getLogger(__name__)

AUDIT_IN_STATE = 30
STAGE_WAIT_S = 2.0
SWEEP_INTERVAL_S = 1.0
FIGURES_INTERVAL_S = 0.5
RECONCILE_EVERY_ROUNDS = 60
# How long a tap that arrives while the node settles what a restart left waits before it is
# answered `starting` (retryable).
SETTLING_WAIT_S = 2.0


class Starting(Retryable):
    """The node has not yet settled what a crash or restart left (its first sweep, which
    completes charged orders and finishes interrupted transfers, is still running)."""

    code = "starting"

    def __init__(self) -> None:
        super().__init__("this node is settling the show's orders before it takes taps", 500)


def console_room(show_id: str) -> str:
    return f"console:{show_id}"


@dataclass(frozen=True, slots=True)
class TapRates:
    orders_per_s: float = 0.0
    grabs_per_s: float = 0.0


class TapSamples:
    """The show's tap totals summed over nodes, as the figures loop read them, kept over a
    window: the rate is the change over the window. A node whose report went stale leaves the
    sum, so a drop is read as no taps, never as a negative rate."""

    def __init__(self, window_ms: int) -> None:
        self._window_ms = window_ms
        self._samples: deque[tuple[int, TapTotals]] = deque()

    def add(self, at_ms: int, totals: TapTotals) -> TapRates:
        samples = self._samples
        samples.append((at_ms, totals))
        while len(samples) > 2 and at_ms - samples[1][0] >= self._window_ms:
            samples.popleft()
        first_ms, first = samples[0]
        span_s = (at_ms - first_ms) / 1000
        if span_s <= 0:
            return TapRates()
        return TapRates(
            round(max(totals.buys - first.buys, 0) / span_s, 1),
            round(max(totals.grabs - first.grabs, 0) / span_s, 1),
        )


class ShowRuntime:
    def __init__(
        self,
        show_id: str,
        *,
        node_id: str,
        reader: ShowLogReader,
        stage: StageService,
        stage_store: StageStore,
        presence: Presence,
        realtime: Realtime,
        clock: Clock,
        replay_window: int,
        presence_interval_s: float,
        purchases: PurchaseService,
        drops: DropService,
        results: ResultsRecorder,
        payments: PaymentService,
        run_of_show: RunOfShow,
        metrics: Metrics,
        taps: Callable[[str], TapTotals],
        store_check: Callable[[], None],
    ) -> None:
        self.show_id = show_id
        self.channel = ShowChannel(show_id, reader, realtime, replay_window, metrics)
        self._node_id = node_id
        self._reader = reader
        self._stage = stage
        self._stage_store = stage_store
        self._presence = presence
        self._realtime = realtime
        self._clock = clock
        self._presence_interval_s = presence_interval_s
        self._purchases = purchases
        self._drops = drops
        self.results = results
        self._run_of_show = run_of_show
        self._recording: set[asyncio.Task[None]] = set()
        self._launched: set[str] = set()
        self._payments = payments
        self._tasks: list[asyncio.Task[None]] = []
        self._taps = taps
        self._sweeper_runs = metrics.sweeper_runs.labels(show_id)
        self._settled_at_start = asyncio.Event()
        # raises while the store is not the one the node opened (`gala/stores/store_guard.py`)
        self._store_check = store_check
        self._sweeper_finished = metrics.sweeper_finished
        # every node reports its presence once an interval: a rate over two reports is exact
        self._rate_window_ms = int(max(2.0, 2 * presence_interval_s) * 1000)

    def start(self) -> None:
        name = f"show {self.show_id}"
        self.channel.on_tailed = self._record_reveals
        with log_context(show_id=self.show_id):  # the tasks' log lines carry the show
            self._tasks = [
                asyncio.create_task(supervise(f"{name} fan-out", self.channel.run)),
                asyncio.create_task(supervise(f"{name} stage watcher", self._watch_stage)),
                asyncio.create_task(supervise(f"{name} presence", self._report_presence)),
                asyncio.create_task(supervise(f"{name} sweeper", self._sweep)),
                asyncio.create_task(supervise(f"{name} figures", self._publish_figures)),
            ]

    async def stop(self) -> None:
        """Cancel every task and wait for it. A cancellation can be lost inside redis-py (seen
        in a blocking XREAD at shutdown, about one run in five), so it is repeated until each
        task has really finished."""
        for _attempt in range(40):
            pending = [task for task in self._tasks if not task.done()]
            if not pending:
                return
            for task in pending:
                task.cancel()
            await asyncio.wait(pending, timeout=0.25)
        log.warning("show %s: background tasks did not stop", self.show_id)

    async def edit_run_of_show(self, actor: str, edit: cue_edits.CueEdit) -> dict[str, Any]:
        """A producer's edit of the run of show; the consoles get the new cue list at once."""
        await self._run_of_show.edit(self.show_id, actor, edit)
        await self.refresh_run_of_show()
        return {"cues": self._run_of_show.cue_list(self.show_id)}

    async def arm_clock(self, actor: str, armed: bool) -> StageState:
        """Automatic mode on or off, with the booked time-of-day cues' schedule as it is now."""
        schedule = self._run_of_show.clock_schedule(self.show_id, self._clock.now_ms())
        return await self._stage.arm_clock(self.show_id, actor, armed, schedule)

    async def console_state(self) -> dict[str, Any]:
        state = await self._stage.state(self.show_id)
        return {
            "show_id": self.show_id,
            "stage": state.as_wire(),
            "audit": await self.audit(AUDIT_IN_STATE),
            "cues": self._run_of_show.cue_list(self.show_id),
        }

    async def refresh_run_of_show(self) -> None:
        """Merge the approved bookings into the run of show; push it to the consoles when it
        changed."""
        if await self._run_of_show.refresh(self.show_id):
            state = await self._stage.state(self.show_id)
            if any(timer.reason == TIME_OF_DAY for timer in state.timers):
                await self.arm_clock("bookings", armed=True)  # take in the new booking
            await self._realtime.broadcast(
                PRODUCER_NS, console_room(self.show_id), "console:state", await self.console_state()
            )

    async def audit(self, limit: int) -> list[dict[str, Any]]:
        return [entry.as_wire() for entry in await self._reader.read_audit(self.show_id, limit)]

    async def presence_totals(self) -> dict[str, Any]:
        totals = await self._presence.presence(self.show_id, self._clock.now_ms())
        return {
            "show_id": self.show_id,
            "viewers_online": totals.viewers,
            "operators": list(totals.operators),
            "server_ms": self._clock.now_ms(),
        }

    async def _watch_stage(self) -> None:
        """Push the console state on every stage change; execute timers when they fall due."""
        cursor = await self._stage_store.wait_stage_change(self.show_id, None, 0)
        while True:
            state = await self._stage.state(self.show_id)
            due_ms = state.next_due_ms()
            wait_s = STAGE_WAIT_S if due_ms is None else (due_ms - self._clock.now_ms()) / 1000
            if wait_s <= 0:
                await self._stage.tick(self.show_id)
                continue
            new_cursor = await self._stage_store.wait_stage_change(
                self.show_id, cursor, min(wait_s, STAGE_WAIT_S)
            )
            if new_cursor != cursor:
                cursor = new_cursor
                await self._realtime.broadcast(
                    PRODUCER_NS,
                    console_room(self.show_id),
                    "console:state",
                    await self.console_state(),
                )

    def sale_products(self) -> dict[str, str]:
        """Every sale this epoch of the log opened (an encore's earlier sale included), each with
        the product it sells."""
        if not self.channel.ready.is_set():
            return {}
        return {s.sale_id: s.terms.product_id for s in self.channel.snapshot.sales.every_sale()}

    async def _synced_sales(self) -> SalesBoard:
        """The snapshot's sales board, each of its sales (the earlier ones an encore replaced
        too) made to exist, with the log's status, in the sale store: a sale opens on the log,
        and the first tap, the sweeper or the figures may come first."""
        if not self.channel.ready.is_set():
            return SalesBoard()
        board = self.channel.snapshot.sales
        for sale in board.every_sale():
            await self._purchases.sync_sale(sale)
        return board

    async def _launch_announced_drops(self) -> dict[str, int]:
        """Launch every drop the log announced (fund its escrow, set it live), once per node:
        a cue's drop is announced by the commit, and the first node to see it funds it. Returns
        how many this node launched and cancelled."""
        done = {"drops_launched": 0, "drops_cancelled": 0}
        if not self.channel.ready.is_set():
            return done
        for drop_id, drop in list(self.channel.snapshot.drops.drops.items()):
            if drop_id in self._launched:
                continue
            with log_context(drop_id=drop_id):
                try:
                    await self._drops.launch(drop.terms)
                    done["drops_launched"] += 1
                except DropUnfunded as refused:
                    log.warning("show %s: drop %s cancelled: %s", self.show_id, drop_id, refused)
                    done["drops_cancelled"] += 1
            self._launched.add(drop_id)
        return done

    def _count_finished(self, counts: dict[str, int]) -> None:
        for what, count in counts.items():
            if count:
                self._sweeper_finished.labels(what).inc(count)

    async def ready_for_taps(self) -> None:
        """Return once the sweeper's first round has settled what a crash or restart left (a
        charged order completed before anything can release its hold); raise `Starting` if it
        takes longer than SETTLING_WAIT_S; raise `store_replaced` while the store is not the one
        the node opened."""
        self._store_check()
        if self._settled_at_start.is_set():
            return
        try:
            await asyncio.wait_for(self._settled_at_start.wait(), SETTLING_WAIT_S)
        except TimeoutError:
            raise Starting() from None

    async def _sweep(self) -> None:
        """Release expired holds and finish interrupted transfers, once a second; once a minute
        (and at start, after a crash, before the node takes a tap) check every order: a charge
        to complete or refund, a provider payment credited but not charged."""
        await self.channel.ready.wait()  # the sales to settle are the folded log's
        rounds = 0
        while True:
            try:
                self._store_check()
            except GalaError:  # a store that is not the one opened: write nothing to it
                await asyncio.sleep(SWEEP_INTERVAL_S)
                continue
            sale_ids = [sale.sale_id for sale in (await self._synced_sales()).every_sale()]
            reconcile = rounds % RECONCILE_EVERY_ROUNDS == 0
            self._count_finished((await self._purchases.sweep(sale_ids, reconcile)).counts())
            if reconcile:
                paid = await self._payments.sweep(sale_ids)
                self._count_finished({"payments_completed": paid})
            await self.refresh_run_of_show()
            self._count_finished(await self._launch_announced_drops())
            self._count_finished((await self._drops.sweep(self.show_id)).counts())
            self._settled_at_start.set()
            self._sweeper_runs.inc()
            rounds += 1
            await asyncio.sleep(SWEEP_INTERVAL_S)

    async def _publish_figures(self) -> None:
        """Every FIGURES_INTERVAL_S, send the sales figures to viewers and consoles, only when
        they changed: a few messages a second at most, whatever the order rate. The consoles
        also get the show's taps per second, and get figures again when those changed."""
        last, last_drops, last_rates = ShowFigures(), DropFigures(), TapRates()
        samples = TapSamples(self._rate_window_ms)
        while True:
            await asyncio.sleep(FIGURES_INTERVAL_S)
            board = await self._synced_sales()
            counts = {
                sale.sale_id: await self._purchases.counts(sale.sale_id)
                for sale in board.every_sale()
            }
            now = figures_of(board, counts)
            await self.results.flush(self.show_id)
            drops = DropFigures(
                {
                    drop_id: await self._drops.counts(drop_id)
                    for drop_id in sorted(self._launched)
                    if still_reported(drop_id, last_drops)
                }
            )
            now_ms = self._clock.now_ms()
            rates = samples.add(now_ms, (await self._presence.presence(self.show_id, now_ms)).taps)
            changed = now != last or drops.drops != last_drops.drops
            if not changed and rates == last_rates:
                continue
            message = {
                "show_id": self.show_id,
                "at_ms": now_ms,
                **now.as_wire(),
                "just_bought": just_bought(last, now),
                "drops": drops.as_wire(last_drops, FIGURES_INTERVAL_S),
                "interval_s": FIGURES_INTERVAL_S,
            }
            console_message = {
                **message,
                **now.as_wire(names=True),
                "orders_per_s": rates.orders_per_s,
                "grabs_per_s": rates.grabs_per_s,
            }
            last, last_drops, last_rates = now, drops, rates
            if changed:
                self._realtime.broadcast_fast(
                    VIEWER_NS, viewer_room(self.show_id), "figures", [message]
                )
            await self._realtime.broadcast(
                PRODUCER_NS,
                console_room(self.show_id),
                "console:figures",
                console_message,
            )

    def _record_reveals(self, events: list[LoggedEvent]) -> None:
        """Record the viewers online at each reveal the log just brought (first node wins)."""
        for event in events:
            product_id = product_reveal(event)
            if product_id is not None:
                task = asyncio.create_task(self._record_reveal(event, product_id))
                self._recording.add(task)
                task.add_done_callback(self._recording.discard)

    async def _record_reveal(self, event: LoggedEvent, product_id: str) -> None:
        try:
            online = (await self._presence.presence(self.show_id, self._clock.now_ms())).viewers
            await self.results.record_reveal(self.show_id, event, product_id, online)
        except Exception:
            log.exception("show %s: could not record the reveal at seq %d", self.show_id, event.seq)

    async def _report_presence(self) -> None:
        while True:
            viewers = self._realtime.room_size(VIEWER_NS, viewer_room(self.show_id))
            operators = tuple(
                sorted(
                    {
                        identity.subject
                        for identity in self._realtime.identities_in(
                            PRODUCER_NS, console_room(self.show_id)
                        )
                    }
                )
            )
            await self._presence.report_presence(
                self.show_id,
                self._node_id,
                viewers,
                operators,
                self._clock.now_ms(),
                self._taps(self.show_id),
            )
            if self._realtime.room_size(PRODUCER_NS, console_room(self.show_id)):
                await self._realtime.broadcast(
                    PRODUCER_NS,
                    console_room(self.show_id),
                    "console:presence",
                    await self.presence_totals(),
                )
            await asyncio.sleep(self._presence_interval_s)
