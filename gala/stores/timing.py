"""Store calls as the node's callers see them: every coroutine method of a port timed into one
histogram labelled `port.method` (`gala_store_call_seconds`), and a backend that did not answer
(the backend's own exceptions for that, named by the store bundle: Redis unreachable, timed
out, no free connection) raised as the coded, retryable `store_unavailable` instead of a
library's exception, so every edge answers it as a refusal and nothing becomes
`internal_error`. Such a failure is logged once a second per port at most, with the library's
reason, not once per request. The node wraps each port of its `StoreBundle` once; callers see
the same port.

A wrapper per method is built on first use and kept on the proxy, so a call costs one attribute
read, one `perf_counter` pair and one `observe` (about 1 µs here) beyond the call itself.
Async generators and plain methods pass through untimed.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from prometheus_client import Histogram

from gala.kernel.errors import StoreUnavailable

log = logging.getLogger(__name__)


class TimedPort:
    def __init__(
        self,
        inner: object,
        port: str,
        histogram: Histogram,
        failures: tuple[type[BaseException], ...] = (),
    ) -> None:
        self._inner = inner
        self._port = port
        self._histogram = histogram
        self._failures = failures
        self._logged_at = 0.0

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if name.startswith("_") or not inspect.iscoroutinefunction(attribute):
            return attribute
        timed = _timed(
            attribute,
            self._histogram.labels(f"{self._port}.{name}"),
            self._failures,
            self._unavailable,
        )
        # cached on the proxy: the next look-up finds it without __getattr__
        setattr(self, name, timed)
        return timed

    def _unavailable(self, error: BaseException) -> StoreUnavailable:
        now = time.monotonic()
        if now - self._logged_at >= 1.0:
            self._logged_at = now
            log.warning("the store did not answer (%s): %s", self._port, error)
        return StoreUnavailable()


def _timed(
    call: Callable[..., Awaitable[Any]],
    child: Any,
    failures: tuple[type[BaseException], ...],
    unavailable: Callable[[BaseException], StoreUnavailable],
) -> Callable[..., Awaitable[Any]]:
    observe = child.observe
    clock = time.perf_counter

    async def timed(*args: Any, **kwargs: Any) -> Any:
        started = clock()
        try:
            return await call(*args, **kwargs)
        except failures as error:
            raise unavailable(error) from error
        finally:
            observe(clock() - started)

    return timed
