"""The node's show channel on its own (fake log, recording broadcaster): order, duplicates, a new
epoch, and the reload after a gap, which re-broadcasts exactly what the viewers missed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from gala.kernel.showlog import LoggedEvent
from gala.metrics import Metrics
from gala.realtime.protocol import ResumePosition
from gala.realtime.show_channel import ShowChannel
from gala.stores.ports import LogBatch


def ev(seq: int, epoch: str = "e1") -> LoggedEvent:
    return LoggedEvent(
        seq,
        epoch,
        "overlay.shown",
        seq,
        {"layer": "banner", "overlay": {"id": f"b{seq}", "kind": "banner"}},
    )


class FakeLog:
    def __init__(self, events: list[LoggedEvent]) -> None:
        self.events = events
        self.tail: asyncio.Queue[list[LoggedEvent]] = asyncio.Queue()

    async def read_log(self, show_id: str) -> LogBatch:
        epoch = self.events[-1].epoch if self.events else "e1"
        return LogBatch(len(self.events), [e for e in self.events if e.epoch == epoch], epoch)

    async def tail_log(self, show_id: str, after_pos: int) -> AsyncIterator[LogBatch]:
        while True:
            events = await self.tail.get()
            yield LogBatch(0, events)


class Recorder:
    def __init__(self) -> None:
        self.sent: list[int] = []

    def broadcast_fast(self, namespace: str, room: str, event: str, messages: list[Any]) -> None:
        self.sent += [m["seq"] for m in messages]

    def room_size(self, namespace: str, room: str) -> int:
        return 1


async def run_until(channel: ShowChannel, log: FakeLog, batches: list[list[LoggedEvent]]) -> None:
    for batch in batches:
        await log.tail.put(batch)
    while not log.tail.empty():
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.01)


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


@pytest.fixture
def parts(metrics: Metrics) -> tuple[FakeLog, Recorder, ShowChannel]:
    log = FakeLog([ev(1), ev(2)])
    recorder = Recorder()
    channel = ShowChannel("s", log, recorder, 3, metrics)  # type: ignore[arg-type]
    return log, recorder, channel


async def test_tailed_events_are_broadcast_once_in_order(
    parts: tuple[FakeLog, Recorder, ShowChannel], metrics: Metrics
) -> None:
    log, recorder, channel = parts
    task = asyncio.create_task(channel.run())
    await run_until(channel, log, [[ev(2), ev(3)], [ev(3), ev(4), ev(5)]])
    assert recorder.sent == [3, 4, 5]
    fanned_out = {"show": "s", "type": "overlay.shown"}
    assert metrics.registry.get_sample_value("gala_events_fanned_out_total", fanned_out) == 3
    assert channel.snapshot.seq == 5
    assert channel.catch_up(ResumePosition("e1", 3))["events"] == [ev(4).as_wire(), ev(5).as_wire()]
    assert channel.catch_up(ResumePosition("e1", 1))["mode"] == "snapshot", "older than ring"
    assert channel.catch_up(ResumePosition("e0", 5))["mode"] == "snapshot", "another epoch"
    task.cancel()


async def test_a_new_epoch_starts_from_an_empty_screen(
    parts: tuple[FakeLog, Recorder, ShowChannel],
) -> None:
    log, recorder, channel = parts
    task = asyncio.create_task(channel.run())
    await run_until(channel, log, [[ev(1, "e2")]])
    assert recorder.sent == [1]
    assert channel.snapshot.epoch == "e2" and channel.snapshot.seq == 1
    task.cancel()


async def test_a_gap_reloads_and_rebroadcasts_what_was_missed(
    parts: tuple[FakeLog, Recorder, ShowChannel],
) -> None:
    log, recorder, channel = parts
    task = asyncio.create_task(channel.run())
    await run_until(channel, log, [[ev(3)]])
    log.events += [ev(3), ev(4), ev(5)]
    with pytest.raises(RuntimeError, match="skipped"):
        await run_until(channel, log, [[ev(5)]])
        await task
    rerun = asyncio.create_task(channel.run())
    await asyncio.sleep(0.05)
    assert recorder.sent == [3, 4, 5], "seq 4 and 5 go out once the reload finds them"
    assert channel.snapshot.seq == 5
    rerun.cancel()
