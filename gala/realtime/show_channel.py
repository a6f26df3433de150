"""Show-log fan-out on one node: tail the show's log from the store, keep the snapshot (the fold)
and a ring of recent events in memory, and broadcast each event to the show's viewers in order.

Joins are answered from this memory: a viewer resuming from `(epoch, seq)` inside the ring gets
exactly the events it missed; otherwise (other epoch, too old) it gets a fresh snapshot. Viewers
may receive an event twice around a join or a reload and must ignore `seq` they already applied;
a gap tells them to resume (docs/protocol.md, "Ordering"). Each event broadcast to a room with
viewers in it is counted by type (`gala_events_fanned_out`); nothing is logged per event.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable
from typing import Any

from prometheus_client import Counter

from gala.kernel.showlog import LoggedEvent
from gala.metrics import Metrics
from gala.realtime.facade import VIEWER_NS, Realtime
from gala.realtime.protocol import ResumePosition
from gala.results.report import product_reveal
from gala.runofshow.snapshot import ShowSnapshot, empty_snapshot, fold_all
from gala.stores.ports import ShowLogReader


def viewer_room(show_id: str) -> str:
    return f"show:{show_id}"


class ShowChannel:
    def __init__(
        self,
        show_id: str,
        reader: ShowLogReader,
        realtime: Realtime,
        replay_window: int,
        metrics: Metrics,
    ) -> None:
        self.show_id = show_id
        self._reader = reader
        self._realtime = realtime
        self._ring: deque[LoggedEvent] = deque(maxlen=replay_window)
        self._snapshot: ShowSnapshot | None = None
        self.ready = asyncio.Event()
        self._advanced = asyncio.Event()
        self.on_tailed: Callable[[list[LoggedEvent]], None] | None = None
        # product id -> the (epoch, seq) of its latest reveal, for the viewers' `displayed`
        self.reveals: dict[str, tuple[str, int]] = {}
        self._fanned_out = metrics.events_fanned_out
        self._fanned_out_by_type: dict[str, Counter] = {}

    @property
    def snapshot(self) -> ShowSnapshot:
        assert self._snapshot is not None, "wait for ready first"
        return self._snapshot

    async def run(self) -> None:
        """Load the log, then follow it for ever. Raises (and is restarted by its supervisor)
        when it sees a gap it cannot explain; the reload then re-broadcasts what was missed."""
        batch = await self._reader.read_log(self.show_id)
        previous = self._snapshot
        self._snapshot = fold_all(self.show_id, batch.epoch, batch.events)
        self._ring.clear()
        self._ring.extend(batch.events)
        self.reveals = {}
        self._note_reveals(batch.events)
        self.ready.set()
        if previous is not None and previous.epoch == batch.epoch:
            self._broadcast([e for e in batch.events if e.seq > previous.seq])
        async for tail in self._reader.tail_log(self.show_id, batch.last_pos):
            accepted: list[LoggedEvent] = []
            try:
                for event in tail.events:
                    if self._accept(event):
                        accepted.append(event)
            finally:
                self._broadcast(accepted)
                if accepted:
                    self._note_reveals(accepted)
                    self._advanced.set()
                    self._advanced = asyncio.Event()
                    if self.on_tailed is not None:
                        self.on_tailed(accepted)

    def _note_reveals(self, events: list[LoggedEvent]) -> None:
        for event in events:
            product_id = product_reveal(event)
            if product_id is not None:
                self.reveals[product_id] = (event.epoch, event.seq)

    async def wait_until_folded(self, event: LoggedEvent, timeout_s: float) -> None:
        """Wait (at most `timeout_s`) until this node's snapshot includes `event`: a command
        that published it can then answer retries from the snapshot."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        while self._snapshot is None or (self._snapshot.epoch, self._snapshot.seq) < (
            event.epoch,
            event.seq,
        ):
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._advanced.wait(), left)

    def _accept(self, event: LoggedEvent) -> bool:
        """Fold one tailed event into the snapshot; False for a duplicate. Raises on a gap."""
        snapshot = self.snapshot
        if event.epoch != snapshot.epoch:
            if event.seq != 1:
                raise RuntimeError(f"log of {self.show_id} changed epoch mid-way; reloading")
            snapshot = empty_snapshot(self.show_id, event.epoch)
            self.reveals = {}
            self._ring.clear()
        elif event.seq <= snapshot.seq:
            return False
        elif event.seq != snapshot.seq + 1:
            raise RuntimeError(f"log of {self.show_id} skipped to {event.seq}; reloading")
        self._snapshot = snapshot.apply(event)
        self._ring.append(event)
        return True

    def _broadcast(self, events: list[LoggedEvent]) -> None:
        """Events that arrived together go out together: one write per viewer for the batch, so
        a node that fell behind catches up with fewer, larger writes."""
        room = viewer_room(self.show_id)
        if not events or not self._realtime.room_size(VIEWER_NS, room):
            return
        self._realtime.broadcast_fast(VIEWER_NS, room, "event", [e.as_wire() for e in events])
        for event in events:
            counter = self._fanned_out_by_type.get(event.type)
            if counter is None:
                counter = self._fanned_out.labels(self.show_id, event.type)
                self._fanned_out_by_type[event.type] = counter
            counter.inc()

    def catch_up(self, resume: ResumePosition | None) -> dict[str, Any]:
        """What a joining viewer needs: the missed events, or a fresh snapshot."""
        snapshot = self.snapshot
        if resume is not None and resume.epoch == snapshot.epoch:
            if resume.seq >= snapshot.seq:
                return {"mode": "replay", "epoch": snapshot.epoch, "events": []}
            oldest = self._ring[0].seq if self._ring else snapshot.seq + 1
            if resume.seq >= oldest - 1:
                missed = [e.as_wire() for e in self._ring if e.seq > resume.seq]
                return {"mode": "replay", "epoch": snapshot.epoch, "events": missed}
        return {"mode": "snapshot", "epoch": snapshot.epoch, "snapshot": snapshot.as_wire()}
