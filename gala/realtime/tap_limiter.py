"""Per-viewer tap rate limits: a token bucket per viewer, on this node, so one thumb (or a script)
hammering Grab cannot take more than its share of the node. It bounds load, not fairness: the one
envelope per viewer is the drop store's rule, whatever the rate."""

from __future__ import annotations

from gala.kernel.clock import Clock
from gala.kernel.errors import GalaError

MAX_TRACKED = 200_000


class RateLimited(GalaError):
    code = "rate_limited"
    status = 429


class TapLimiter:
    def __init__(self, clock: Clock, taps_per_s: int, burst: int) -> None:
        self._clock = clock
        self._rate_per_ms = taps_per_s / 1000
        self._burst = float(burst)
        self._buckets: dict[str, tuple[float, int]] = {}

    def check(self, viewer_id: str) -> None:
        """Spend one token of the viewer's bucket, or raise `RateLimited`."""
        now = self._clock.now_ms()
        tokens, since = self._buckets.get(viewer_id, (self._burst, now))
        tokens = min(self._burst, tokens + (now - since) * self._rate_per_ms)
        if tokens < 1:
            self._buckets[viewer_id] = (tokens, now)
            raise RateLimited("too many taps; slow down")
        if len(self._buckets) >= MAX_TRACKED and viewer_id not in self._buckets:
            self._buckets.clear()  # a full bucket for everyone is the safe way to forget
        self._buckets[viewer_id] = (tokens - 1, now)
