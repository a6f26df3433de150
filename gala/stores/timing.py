"""Store calls as the node's callers see them: every coroutine method of a port timed into one
histogram labelled `port.method` (`gala_store_call_seconds`), and a backend that did not answer
(the backend's own exceptions for that, named by the store bundle: Redis unreachable, timed
out, no free connection) raised as the coded, retryable `store_unavailable` instead of a
library's exception, so every edge answers it as a refusal and nothing becomes
`internal_error`. The ports of one store share a `StoreHealth`, which logs one line when the
store stops answering (with the library's reason) and one when it answers again, not a line
per request. The node wraps each port of its `StoreBundle` once; callers see the same port.

A wrapper per method is built on first use and kept on the proxy, so a call costs one attribute
read, one `perf_counter` pair and one `observe` (about 1 µs here) beyond the call itself.
Async generators (the log's tails) are not timed but their backend failures are mapped the same
way; plain methods pass through.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from prometheus_client import Histogram

from gala.kernel.errors import StoreUnavailable

log = logging.getLogger(__name__)


# A store that failed is back once it has answered, without failing, for this long: calls that
# need no round trip answer while it is down, and pooled connections from before a restart fail
# once after it, so a single answer proves nothing.
BACK_AFTER_S = 1.0


class StoreHealth:
    """Whether the store answers, through any port; each change of state is logged once (the
    node's store-identity check calls it every second, so a recovery is seen without traffic)."""

    def __init__(self) -> None:
        self.down_since: float | None = None
        self._answering_since: float | None = None

    def failed(self, port: str, error: BaseException) -> StoreUnavailable:
        self._answering_since = None
        if self.down_since is None:
            self.down_since = time.perf_counter()
            log.warning(
                "the store did not answer (%s): %s; what needs it is answered "
                "store_unavailable until it answers again",
                port,
                error,
            )
        return StoreUnavailable()

    def answered(self, started: float) -> None:
        """A call started at `started` (`time.perf_counter`) was answered while the store was
        down: it is back once calls started after it went down have answered for BACK_AFTER_S
        without a failure (an answer to an older call says nothing)."""
        if self.down_since is None or started <= self.down_since:
            return
        now = time.perf_counter()
        if self._answering_since is None:
            self._answering_since = now
        elif now - self._answering_since >= BACK_AFTER_S:
            log.warning("the store answers again, after %.1f s", now - self.down_since)
            self.down_since = self._answering_since = None


class TimedPort:
    def __init__(
        self,
        inner: object,
        port: str,
        histogram: Histogram,
        failures: tuple[type[BaseException], ...] = (),
        health: StoreHealth | None = None,
    ) -> None:
        self._inner = inner
        self._port = port
        self._histogram = histogram
        self._failures = failures
        self._health = health or StoreHealth()

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if name.startswith("_"):
            return attribute
        if inspect.isasyncgenfunction(attribute):
            guarded = _guarded(attribute, self._failures, self._port, self._health)
            setattr(self, name, guarded)
            return guarded
        if not inspect.iscoroutinefunction(attribute):
            return attribute
        timed = _timed(
            attribute,
            self._histogram.labels(f"{self._port}.{name}"),
            self._failures,
            self._port,
            self._health,
        )
        # cached on the proxy: the next look-up finds it without __getattr__
        setattr(self, name, timed)
        return timed


def _timed(
    call: Callable[..., Awaitable[Any]],
    child: Any,
    failures: tuple[type[BaseException], ...],
    port: str,
    health: StoreHealth,
) -> Callable[..., Awaitable[Any]]:
    observe = child.observe
    clock = time.perf_counter

    async def timed(*args: Any, **kwargs: Any) -> Any:
        started = clock()
        try:
            answer = await call(*args, **kwargs)
        except failures as error:
            raise health.failed(port, error) from error
        finally:
            observe(clock() - started)
        if health.down_since is not None:
            health.answered(started)
        return answer

    return timed


def _guarded(
    generate: Callable[..., AsyncIterator[Any]],
    failures: tuple[type[BaseException], ...],
    port: str,
    health: StoreHealth,
) -> Callable[..., AsyncIterator[Any]]:
    """An async generator (a tail of the show log) whose backend failures are `store_unavailable`,
    untimed (it lasts as long as its reader)."""

    async def guarded(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        try:
            async for item in generate(*args, **kwargs):
                yield item
        except failures as error:
            raise health.failed(port, error) from error

    return guarded
