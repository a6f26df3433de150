"""Store call latency: every coroutine method of a port, timed into one histogram labelled
`port.method` (`gala_store_call_seconds`). The node wraps each port of its `StoreBundle` once;
callers see the same port.

A wrapper per method is built on first use and kept on the proxy, so a call costs one attribute
read, one `perf_counter` pair and one `observe` (about 1 µs here) beyond the call itself.
Async generators and plain methods pass through untimed.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any

from prometheus_client import Histogram


class TimedPort:
    def __init__(self, inner: object, port: str, histogram: Histogram) -> None:
        self._inner = inner
        self._port = port
        self._histogram = histogram

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if name.startswith("_") or not inspect.iscoroutinefunction(attribute):
            return attribute
        timed = _timed(attribute, self._histogram.labels(f"{self._port}.{name}"))
        # cached on the proxy: the next look-up finds it without __getattr__
        setattr(self, name, timed)
        return timed


def _timed(call: Callable[..., Awaitable[Any]], child: Any) -> Callable[..., Awaitable[Any]]:
    observe = child.observe
    clock = time.perf_counter

    async def timed(*args: Any, **kwargs: Any) -> Any:
        started = clock()
        try:
            return await call(*args, **kwargs)
        finally:
            observe(clock() - started)

    return timed
