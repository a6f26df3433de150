"""One contract for every results store backend (SQLite and Redis): a reveal is recorded once,
a viewer counts once per reveal, taps add up per sale with their distinct tappers."""

from __future__ import annotations

import asyncio

from gala.results.ports import RevealRecord, TapCounts
from gala.stores.factory import StoreBundle


async def test_the_first_record_of_a_reveal_wins_and_displays_count_each_viewer_once(
    store: StoreBundle,
) -> None:
    results = store.results
    await asyncio.gather(
        results.record_reveal("gala", "e1", 7, "widget", 1_000, 120),
        results.record_reveal("gala", "e1", 7, "widget", 1_050, 999),
    )
    await results.record_reveal("gala", "e1", 12, "gadget", 2_000, 130)
    await results.record_reveal("gala", "e0", 3, "widget", 500, 10)
    await results.add_displays("gala", {("e1", 7): {"v1", "v2"}, ("e1", 12): {"v1"}})
    await results.add_displays("gala", {("e1", 7): {"v2", "v3"}})
    [first, second] = await results.reveals("gala", "e1")
    assert first.seq == 7 and first.displayed == 3 and first.product_id == "widget"
    assert first.viewers_online in (120, 999) and first.at_ms in (1_000, 1_050)
    assert second == RevealRecord("e1", 12, "gadget", 2_000, 130, 1)
    assert [r.seq for r in await results.reveals("gala", "e0")] == [3]
    assert await results.reveals("other", "e1") == []


async def test_taps_add_up_per_sale_with_distinct_tappers(store: StoreBundle) -> None:
    results = store.results
    await results.add_taps("gala", {"s1": {"v1": 3, "v2": 1}, "s2": {"v1": 1}})
    await results.add_taps("gala", {"s1": {"v1": 2, "v3": 1}})
    assert await results.taps("gala") == {"s1": TapCounts(7, 3), "s2": TapCounts(1, 1)}
    assert await results.taps("other") == {}
