"""One contract suite for every store backend (the `store_url` fixture runs it on SQLite and on
Redis): stage compare-and-set, the show log, tailing, epochs, audit, accounts, secrets, presence."""

from __future__ import annotations

import asyncio

import pytest

from gala.kernel.errors import StoreConflict
from gala.kernel.showlog import AuditEntry, NewEvent
from gala.stores.factory import StoreBundle
from gala.stores.ports import Account, TapTotals
from stage_control.model import LIVE, StageState


def ev(n: int) -> NewEvent:
    return NewEvent("overlay.shown", 1000 + n, {"n": n, "text": "雪 ☃ مرحبا"})


async def install(store: StoreBundle, show_id: str = "s1") -> None:
    assert await store.stage.install_stage(show_id, StageState(standby_cue_id="c1"))


async def test_install_is_idempotent_and_keeps_state(store: StoreBundle) -> None:
    await install(store)
    loaded = await store.stage.load_stage("s1")
    assert loaded is not None and loaded.version == 0
    await store.stage.commit_stage("s1", 0, StageState(phase=LIVE), [ev(1)], [])
    assert not await store.stage.install_stage("s1", StageState())
    again = await store.stage.load_stage("s1")
    assert again is not None and again.version == 1 and again.state.phase == LIVE
    assert await store.stage.load_stage("unknown") is None


async def test_commit_appends_consecutive_seqs_in_one_epoch(store: StoreBundle) -> None:
    await install(store)
    first = await store.stage.commit_stage("s1", 0, StageState(), [ev(1), ev(2)], [])
    second = await store.stage.commit_stage("s1", 1, StageState(), [ev(3)], [])
    assert [e.seq for e in first + second] == [1, 2, 3]
    assert len({e.epoch for e in first + second}) == 1
    log = await store.hub.read_log("s1")
    assert [e.seq for e in log.events] == [1, 2, 3]
    assert log.events[0].data == {"n": 1, "text": "雪 ☃ مرحبا"}
    assert log.events[2].program_time_ms == 1003
    assert log.epoch == first[0].epoch


async def test_stale_version_is_a_conflict_and_changes_nothing(store: StoreBundle) -> None:
    await install(store)
    await store.stage.commit_stage("s1", 0, StageState(phase=LIVE), [ev(1)], [])
    with pytest.raises(StoreConflict):
        await store.stage.commit_stage(
            "s1", 0, StageState(), [ev(2)], [AuditEntry(1, "a", "go", {})]
        )
    loaded = await store.stage.load_stage("s1")
    assert loaded is not None and loaded.version == 1 and loaded.state.phase == LIVE
    assert [e.seq for e in (await store.hub.read_log("s1")).events] == [1]
    assert await store.hub.read_audit("s1", 10) == []


async def test_concurrent_commits_on_one_version_let_exactly_one_win(store: StoreBundle) -> None:
    await install(store)
    results = await asyncio.gather(
        *(store.stage.commit_stage("s1", 0, StageState(), [ev(i)], []) for i in range(10)),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, BaseException) for r in results) == 1
    assert all(isinstance(r, StoreConflict) for r in results if isinstance(r, BaseException))
    assert len((await store.hub.read_log("s1")).events) == 1


async def test_recreating_the_log_starts_a_new_epoch_at_seq_one(store: StoreBundle) -> None:
    await install(store)
    old = await store.stage.commit_stage("s1", 0, StageState(), [ev(1), ev(2)], [])
    new = await store.stage.commit_stage("s1", 1, StageState(), [ev(3)], [], recreate_log=True)
    assert new[0].seq == 1 and new[0].epoch != old[0].epoch
    log = await store.hub.read_log("s1")
    assert [(e.seq, e.data["n"]) for e in log.events] == [(1, 3)]
    assert log.epoch == new[0].epoch


async def test_tail_yields_every_later_event_once_in_order_across_epochs(
    store: StoreBundle,
) -> None:
    await install(store)
    await store.stage.commit_stage("s1", 0, StageState(), [ev(0)], [])
    start = await store.hub.read_log("s1")
    seen: list[tuple[str, int]] = []

    async def follow() -> None:
        async for batch in store.hub.tail_log("s1", start.last_pos):
            seen.extend((e.epoch, e.seq) for e in batch.events)
            if len(seen) >= 6:
                return

    follower = asyncio.create_task(follow())
    await asyncio.sleep(0.05)
    await store.stage.commit_stage("s1", 1, StageState(), [ev(1), ev(2)], [])
    await store.stage.commit_stage("s1", 2, StageState(), [ev(3)], [])
    await store.stage.commit_stage("s1", 3, StageState(), [ev(4), ev(5)], [], recreate_log=True)
    await store.stage.commit_stage("s1", 4, StageState(), [ev(6)], [])
    await asyncio.wait_for(follower, 10)
    old_epoch = start.epoch
    assert seen[:3] == [(old_epoch, 2), (old_epoch, 3), (old_epoch, 4)]
    new_epoch = seen[3][0]
    assert new_epoch != old_epoch
    assert seen[3:] == [(new_epoch, 1), (new_epoch, 2), (new_epoch, 3)]


async def test_tail_of_one_show_does_not_see_another_show(store: StoreBundle) -> None:
    await install(store, "s1")
    await install(store, "s2")
    start = await store.hub.read_log("s1")
    await store.stage.commit_stage("s2", 0, StageState(), [ev(9)], [])
    await store.stage.commit_stage("s1", 0, StageState(), [ev(1)], [])
    tail = aiter(store.hub.tail_log("s1", start.last_pos))
    batch = await asyncio.wait_for(anext(tail), 10)
    assert [(e.seq, e.data["n"]) for e in batch.events] == [(1, 1)]
    await tail.aclose()  # type: ignore[attr-defined]


async def test_audit_keeps_order_and_refused_entries(store: StoreBundle) -> None:
    await install(store)
    await store.stage.commit_stage("s1", 0, StageState(), [], [AuditEntry(1, "ann", "go", {})])
    await store.stage.append_audit("s1", AuditEntry(2, "bob", "go", {"refused": "x"}))
    await store.stage.commit_stage("s1", 1, StageState(), [], [AuditEntry(3, "ann", "back", {})])
    entries = await store.hub.read_audit("s1", 10)
    assert [(e.at_ms, e.actor, e.action) for e in entries] == [
        (1, "ann", "go"),
        (2, "bob", "go"),
        (3, "ann", "back"),
    ]
    assert entries[1].detail == {"refused": "x"}
    assert [e.at_ms for e in await store.hub.read_audit("s1", 2)] == [2, 3]


async def test_wait_stage_change_returns_a_new_cursor_after_a_commit(store: StoreBundle) -> None:
    await install(store)
    cursor = await store.stage.wait_stage_change("s1", None, 0)
    assert await store.stage.wait_stage_change("s1", cursor, 0.05) == cursor, "nothing changed"
    waiting = asyncio.create_task(store.stage.wait_stage_change("s1", cursor, 10))
    await asyncio.sleep(0.05)
    await store.stage.commit_stage("s1", 0, StageState(), [], [])
    changed = await asyncio.wait_for(waiting, 10)
    assert changed != cursor
    await store.stage.commit_stage("s1", 1, StageState(), [], [])
    assert await store.stage.wait_stage_change("s1", changed, 10) != changed, "never missed"


async def test_accounts_secret_and_documents(store: StoreBundle) -> None:
    assert await store.hub.get_account("ann") is None
    await store.hub.put_account(Account("ann", "h1", "producer"))
    await store.hub.put_account(Account("ann", "h2", "producer"))
    assert await store.hub.get_account("ann") == Account("ann", "h2", "producer")
    await store.hub.put_account(Account("bea", "h3", "sponsor", "aurora"))
    assert await store.hub.get_account("bea") == Account("bea", "h3", "sponsor", "aurora")
    await store.hub.put_account(Account("bea", "h4", "producer"))
    assert await store.hub.get_account("bea") == Account("bea", "h4", "producer"), "sponsor gone"
    first = await store.hub.server_secret(b"a" * 32)
    assert first == b"a" * 32
    assert await store.hub.server_secret(b"b" * 32) == first
    await store.hub.put_show_document("s1", '{"x": 1}')
    await store.hub.put_show_document("s1", '{"x": 2}')
    assert await store.hub.show_documents() == {"s1": '{"x": 2}'}


async def test_presence_sums_fresh_reports_of_every_node(store: StoreBundle) -> None:
    await store.hub.report_presence("s1", "n1", 10, ("ann",), 1_000, TapTotals(3, 1))
    await store.hub.report_presence("s1", "n2", 5, ("bob", "ann"), 2_000, TapTotals(4, 2))
    await store.hub.report_presence("s1", "n1", 12, ("ann",), 3_000, TapTotals(7, 5))
    await store.hub.report_presence("s2", "n1", 1, (), 3_000, TapTotals(100, 100))
    totals = await store.hub.presence("s1", 3_000)
    assert (totals.viewers, totals.operators, totals.taps) == (17, ("ann", "bob"), TapTotals(11, 7))
    stale = await store.hub.presence("s1", 7_500)
    assert (stale.viewers, stale.operators, stale.taps) == (12, ("ann",), TapTotals(7, 5))


async def test_a_presence_report_without_tap_totals_counts_none(store: StoreBundle) -> None:
    await store.hub.report_presence("s1", "n1", 2, (), 1_000)
    await store.hub.report_presence("s1", "n2", 3, (), 1_000, TapTotals(5, 6))
    assert (await store.hub.presence("s1", 1_000)).taps == TapTotals(5, 6)
