"""Supervised background loops: log each failure with its traceback, let cancellation through,
restart with capped exponential backoff. A loop stopped by a store that does not answer is
restarted without a line of its own (the store's outage is logged once, by
`gala/stores/timing.py`) and at least once a second, so it resumes soon after the store does.
Every long-running task of a node runs under `supervise`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from gala.kernel.errors import StoreUnavailable

log = logging.getLogger(__name__)

INITIAL_BACKOFF_S = 0.05
MAX_BACKOFF_S = 5.0
MAX_STORE_BACKOFF_S = 1.0


async def supervise(name: str, run: Callable[[], Awaitable[None]]) -> None:
    backoff = INITIAL_BACKOFF_S
    while True:
        try:
            await run()
            log.warning("%s stopped by itself; restarting", name)
        except asyncio.CancelledError:
            raise
        except StoreUnavailable:
            log.debug("%s: the store does not answer; restarting", name)
            backoff = min(backoff, MAX_STORE_BACKOFF_S)
        except Exception:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                # A library turned our cancellation into another error (redis-py's read timeout
                # does when both fire together): honour the cancellation, do not restart.
                raise asyncio.CancelledError from None
            log.exception("%s failed; restarting in %.2f s", name, backoff)
        await asyncio.sleep(backoff)
        backoff = min(backoff * 2, MAX_BACKOFF_S)
