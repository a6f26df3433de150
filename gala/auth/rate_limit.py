"""Keyed token buckets on this node's memory: the login limits (per username, per client address).

A bucket holds up to `burst` tokens and refills at `per_s` tokens a second on the injected clock;
`retry_after_s` tells a refused caller when the next token is due. A small class of our own, like
the tap limiter's, rather than a library: the limits bound the work one client makes this node do
and slow down password guessing, so one node's memory is where they belong, and the library that
fits (limits) would bring a storage layer for thirty lines.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from gala.kernel.clock import Clock

# Past this many keys the buckets that have refilled are forgotten (a full bucket is what a new
# key gets anyway); if every bucket is still draining, all are: memory stays bounded.
MAX_TRACKED = 100_000


@dataclass(frozen=True, slots=True)
class Rate:
    burst: int
    per_s: float


class KeyedBuckets:
    def __init__(self, clock: Clock, rate: Rate) -> None:
        self._clock = clock
        self._burst = float(rate.burst)
        self._per_ms = rate.per_s / 1000
        self._buckets: dict[str, tuple[float, int]] = {}

    def retry_after_s(self, key: str) -> int:
        """0 when the key has a token to spend, else the whole seconds until it has one."""
        tokens = self._tokens(key, self._clock.now_ms())
        return 0 if tokens >= 1 else max(1, math.ceil((1 - tokens) / self._per_ms / 1000))

    def spend(self, key: str) -> None:
        """Take one token (the bucket may go below one: the next check then refuses)."""
        now = self._clock.now_ms()
        tokens = self._tokens(key, now)
        if key not in self._buckets and len(self._buckets) >= MAX_TRACKED:
            self._forget(now)
        self._buckets[key] = (max(0.0, tokens - 1), now)

    def _tokens(self, key: str, now_ms: int) -> float:
        tokens, since = self._buckets.get(key, (self._burst, now_ms))
        return min(self._burst, tokens + (now_ms - since) * self._per_ms)

    def _forget(self, now_ms: int) -> None:
        full = [key for key in self._buckets if self._tokens(key, now_ms) >= self._burst]
        for key in full:
            del self._buckets[key]
        if len(self._buckets) >= MAX_TRACKED:
            self._buckets.clear()
