"""Crash injection for `tests/contract/test_money_simulation.py` (owned by that simulation): a
fuse that kills the "process" at its k-th store call, before the call is sent or just after it
landed, and proxies that put the fuse in front of a store.

- `CrashingPort` wraps a store port (SQLite: every port call is one transaction, so a crash
  falls between transactions);
- `CrashingRedis` wraps a Redis client under the real Redis adapters, so a crash falls between
  any two round trips of a saga (the reserve script, the ledger's intent, debit and credit legs,
  the pay script), which is where a dying node leaves Redis half done.

Once the fuse has blown every later call raises too: a dead process sends nothing more.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from redis.commands.core import AsyncScript


class SimulatedCrash(BaseException):  # noqa: N818 - not an error a handler may catch
    """The process died here. A BaseException, so no `except Exception` of the code under test
    can swallow it and carry on as if it had lived."""


class Fuse:
    def __init__(self) -> None:
        self._countdown = 0
        self._after = False
        self.dead = False
        self.calls = 0

    def arm(self, k: int, after: bool) -> None:
        """Crash at the k-th store call from now: before it is sent, or once it has landed."""
        self._countdown, self._after = k, after

    def disarm(self) -> None:
        self._countdown = 0

    @property
    def blown(self) -> bool:
        return self.dead

    def before(self) -> bool:
        """Called before each store call; True when the process must die once it has landed."""
        if self.dead:
            raise SimulatedCrash("the process is dead")
        self.calls += 1
        if self._countdown:
            self._countdown -= 1
            if self._countdown == 0:
                if not self._after:
                    self.dead = True
                    raise SimulatedCrash(f"crash before store call {self.calls}")
                return True
        return False

    def blow(self) -> None:
        self.dead = True
        raise SimulatedCrash(f"crash after store call {self.calls} landed")


def _fused(fuse: Fuse, call: Callable[..., Any]) -> Callable[..., Any]:
    async def run(*args: Any, **kwargs: Any) -> Any:
        crash_after = fuse.before()
        value = await call(*args, **kwargs)
        if crash_after:
            fuse.blow()
        return value

    return run


class CrashingPort:
    """A store port whose every coroutine method goes through the fuse."""

    def __init__(self, inner: Any, fuse: Fuse) -> None:
        self._inner = inner
        self._fuse = fuse

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if inspect.iscoroutinefunction(attr):
            return _fused(self._fuse, attr)
        return attr


class _CrashingPipeline:
    def __init__(self, inner: Any, fuse: Fuse) -> None:
        self._inner = inner
        self._fuse = fuse

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if name == "execute":
            return _fused(self._fuse, attr)
        return attr


class CrashingRedis:
    """A Redis client whose every command, script call and pipeline round trip goes through the
    fuse (scripts registered on it run through it too)."""

    def __init__(self, inner: Any, fuse: Fuse) -> None:
        self._inner = inner
        self._fuse = fuse

    def register_script(self, script: str) -> AsyncScript:
        return AsyncScript(self, script)  # type: ignore[arg-type]

    def pipeline(self, *args: Any, **kwargs: Any) -> _CrashingPipeline:
        return _CrashingPipeline(self._inner.pipeline(*args, **kwargs), self._fuse)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if not callable(attr):
            return attr
        return _fused(self._fuse, attr)
