"""The heap policy: freeze what start-up built and what survives each full collection; thaw and
collect once when the frozen heap has grown past its bound."""

from __future__ import annotations

from typing import Any

from gala.heap import HeapPolicy


class FakeCollector:
    def __init__(self) -> None:
        self.live = 1000  # tracked objects not frozen
        self.frozen = 0
        self.garbage_in_frozen = 0
        self.full_collections = 0
        self.calls: list[str] = []

    def collect(self, generation: int = 2) -> int:
        self.calls.append("collect")
        self.full_collections += 1
        return 0

    def freeze(self) -> None:
        self.calls.append("freeze")
        self.frozen += self.live
        self.live = 0

    def unfreeze(self) -> None:
        self.calls.append("unfreeze")
        self.live += self.frozen
        self.frozen = 0
        self.live -= self.garbage_in_frozen
        self.garbage_in_frozen = 0

    def get_freeze_count(self) -> int:
        return self.frozen

    def get_stats(self) -> list[dict[str, Any]]:
        return [{"collections": 0}, {"collections": 0}, {"collections": self.full_collections}]

    def automatic_full_collection(self, survivors: int, frozen_garbage: int = 0) -> None:
        self.live += survivors
        self.garbage_in_frozen += frozen_garbage
        self.full_collections += 1


def test_start_freezes_what_start_up_built() -> None:
    collector = FakeCollector()
    HeapPolicy(collector).start()
    assert collector.calls == ["collect", "freeze"]
    assert collector.frozen == 1000 and collector.live == 0


def test_nothing_happens_without_a_full_collection() -> None:
    collector = FakeCollector()
    policy = HeapPolicy(collector)
    policy.start()
    collector.live += 500
    policy.tend()
    assert collector.calls == ["collect", "freeze"] and collector.live == 500


def test_the_survivors_of_a_full_collection_are_frozen() -> None:
    collector = FakeCollector()
    policy = HeapPolicy(collector, min_thaw_objects=0)
    policy.start()
    collector.automatic_full_collection(survivors=800)
    policy.tend()
    assert collector.live == 0 and collector.frozen == 1800
    assert policy.thaws == 0


def test_a_frozen_heap_grown_past_the_bound_is_thawed_and_collected_once() -> None:
    collector = FakeCollector()
    policy = HeapPolicy(collector, thaw_growth=2.0, min_thaw_objects=0)
    policy.start()
    collector.automatic_full_collection(survivors=1001, frozen_garbage=900)
    policy.tend()
    assert policy.thaws == 1
    assert collector.calls[-4:] == ["freeze", "unfreeze", "collect", "freeze"]
    assert collector.frozen == 1101, "the frozen garbage was collected"
    policy.tend()
    assert policy.thaws == 1, "the thaw's own collection does not count as a new one"


def test_small_heaps_are_never_thawed() -> None:
    collector = FakeCollector()
    policy = HeapPolicy(collector, thaw_growth=2.0, min_thaw_objects=200_000)
    policy.start()
    collector.automatic_full_collection(survivors=5000)
    policy.tend()
    assert policy.thaws == 0 and collector.frozen == 6000
