"""What a node measures, in the Prometheus text format (prometheus-client), served at `/metrics`.

One `Metrics` per app, on its own `CollectorRegistry` (never the library's global default: tests
run many apps in one process, and each must count only its own). Every metric is declared here,
and docs/operations.md documents each one; a test checks the two agree. Hot paths touch a
metric child resolved once (`labels(...)` is a dictionary look-up under a lock, so the callers
keep the child), never a log line.

Viewers connected per show is read when scraped (a callback into the realtime facade), so a
connect or a disconnect costs nothing here.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Seconds. Taps are answered in milliseconds; a store call in tens of microseconds to a few ms;
# a fan-out round of 10,000 viewers takes about 0.1 s.
FAST_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000)
TAP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
ROUND_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
LOOP_LAG_INTERVAL_S = 0.25


class _ViewersConnected(Collector):
    """`gala_viewers_connected{show}`, read from the realtime facade when scraped."""

    def __init__(self, read: Callable[[], Mapping[str, int]]) -> None:
        self._read = read

    def collect(self) -> Iterable[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "gala_viewers_connected", "Viewers connected to this node, per show", labels=["show"]
        )
        for show, count in sorted(self._read().items()):
            family.add_metric([show], count)
        yield family

    def describe(self) -> Iterable[GaugeMetricFamily]:
        return []


class Metrics:
    def __init__(self) -> None:
        registry = self.registry = CollectorRegistry(auto_describe=True)
        self.events_fanned_out = Counter(
            "gala_events_fanned_out",
            "Show-log events broadcast to a show's viewers on this node",
            ["show", "type"],
            registry=registry,
        )
        self.fanout_round_seconds = Histogram(
            "gala_fanout_round_seconds",
            "Time the fan-out writer took to go round a show's viewers once",
            buckets=ROUND_BUCKETS,
            registry=registry,
        )
        self.viewers_cut_off = Counter(
            "gala_viewers_cut_off",
            "Connections aborted because their unsent bytes passed the bound",
            registry=registry,
        )
        self.taps = Counter(
            "gala_taps",
            "Taps answered, by kind (buy, grab) and outcome (ok or the refusal's code)",
            ["kind", "outcome"],
            registry=registry,
        )
        self.tap_seconds = Histogram(
            "gala_tap_seconds",
            "Time from a tap's arrival to its answer, by kind (buy, grab)",
            ["kind"],
            buckets=TAP_BUCKETS,
            registry=registry,
        )
        self.tap_batch_size = Histogram(
            "gala_tap_batch_size",
            "Taps decided together in one store step, by kind (buy, grab)",
            ["kind"],
            buckets=BATCH_BUCKETS,
            registry=registry,
        )
        self.console_commands = Counter(
            "gala_console_commands",
            "Console commands answered, by command and outcome (ok or the refusal's code)",
            ["command", "outcome"],
            registry=registry,
        )
        self.store_call_seconds = Histogram(
            "gala_store_call_seconds",
            "Latency of each store call, by operation (port.method)",
            ["operation"],
            buckets=FAST_BUCKETS,
            registry=registry,
        )
        self.loop_lag_seconds = Histogram(
            "gala_event_loop_lag_seconds",
            f"How late a {LOOP_LAG_INTERVAL_S} s sleep of the event loop woke up",
            buckets=FAST_BUCKETS,
            registry=registry,
        )
        self.gc_pause_seconds = Histogram(
            "gala_gc_pause_seconds",
            "Garbage-collection pauses, by generation",
            ["generation"],
            buckets=FAST_BUCKETS,
            registry=registry,
        )
        self.sweeper_runs = Counter(
            "gala_sweeper_runs", "Sweeper rounds run, per show", ["show"], registry=registry
        )
        self.sweeper_finished = Counter(
            "gala_sweeper_finished",
            "What the sweeper finished or undid, by kind",
            ["what"],
            registry=registry,
        )
        self.draining = Gauge(
            "gala_draining", "1 while this node drains before it stops", registry=registry
        )
        self._gc_started: dict[int, float] = {}

    def watch_viewers(self, read: Callable[[], Mapping[str, int]]) -> None:
        self.registry.register(_ViewersConnected(read))

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def start_gc_timing(self) -> None:
        gc.callbacks.append(self._on_gc)

    def stop_gc_timing(self) -> None:
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        generation = int(info.get("generation", 0))
        if phase == "start":
            self._gc_started[generation] = time.perf_counter()
        elif (started := self._gc_started.pop(generation, None)) is not None:
            self.gc_pause_seconds.labels(str(generation)).observe(time.perf_counter() - started)

    async def measure_loop_lag(self) -> None:
        """Forever: sleep LOOP_LAG_INTERVAL_S and record how late the loop woke up."""
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            await asyncio.sleep(LOOP_LAG_INTERVAL_S)
            self.loop_lag_seconds.observe(max(0.0, loop.time() - started - LOOP_LAG_INTERVAL_S))
