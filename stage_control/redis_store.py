"""The Redis adapter of `StageStore`: every write is one Lua script (`lua/*.lua`) over keys of the
show's hash slot `{show:ID}`, so it runs unchanged on Redis Cluster."""

from __future__ import annotations

import json
from collections.abc import Sequence
from importlib.resources import files
from typing import Any

from redis.asyncio import Redis

from gala.kernel.errors import StoreConflict
from gala.kernel.showlog import AuditEntry, LoggedEvent, NewEvent
from stage_control.showlog_store import new_epoch, redis_event_args, show_keys

from .model import StageState
from .ports import Versioned


def _script(name: str) -> str:
    return files(__package__).joinpath("lua", name).read_text(encoding="utf-8")


# Under redis-py's default 5 s socket timeout, so a quiet stream is not a read error.
BLOCK_MS = 2000


class RedisStageStore:
    def __init__(self, redis: Redis, prefix: str = "gala") -> None:
        # redis-py types every reply as a wide union; the adapter knows each reply's shape.
        self._redis: Any = redis
        self._prefix = prefix
        self._commit = redis.register_script(_script("commit_stage.lua"))
        self._install = redis.register_script(_script("install_stage.lua"))

    async def install_stage(self, show_id: str, initial: StageState) -> bool:
        keys = show_keys(show_id, self._prefix)
        created = await self._install(
            keys=[keys.stage, keys.log_head], args=[json.dumps(initial.as_wire()), new_epoch()]
        )
        return bool(created)

    async def load_stage(self, show_id: str) -> Versioned | None:
        raw: list[Any] = await self._redis.hmget(
            show_keys(show_id, self._prefix).stage, ["version", "state"]
        )
        if raw[0] is None:
            return None
        return Versioned(StageState.from_wire(json.loads(raw[1])), int(raw[0]))

    async def commit_stage(
        self,
        show_id: str,
        expected_version: int,
        state: StageState,
        events: Sequence[NewEvent],
        audit: Sequence[AuditEntry],
        recreate_log: bool = False,
    ) -> list[LoggedEvent]:
        keys = show_keys(show_id, self._prefix)
        args: list[Any] = [
            expected_version,
            json.dumps(state.as_wire()),
            "1" if recreate_log else "0",
            new_epoch(),
        ]
        args += redis_event_args(events)
        args += [str(len(audit))] + [json.dumps(entry.as_wire()) for entry in audit]
        result = await self._commit(
            keys=[keys.stage, keys.log, keys.log_head, keys.audit, keys.control], args=args
        )
        if _text(result[0]) == "conflict":
            raise StoreConflict(show_id)
        epoch, first_seq = _text(result[1]), int(result[2])
        return [
            LoggedEvent(first_seq + i, epoch, e.type, e.program_time_ms, e.data)
            for i, e in enumerate(events)
        ]

    async def append_audit(self, show_id: str, entry: AuditEntry) -> None:
        await self._redis.rpush(show_keys(show_id, self._prefix).audit, json.dumps(entry.as_wire()))

    async def wait_stage_change(self, show_id: str, cursor: str | None, timeout_s: float) -> str:
        key = show_keys(show_id, self._prefix).control
        if cursor is None:
            newest = await self._redis.xrevrange(key, count=1)
            return _text(newest[0][0]) if newest else "0-0"
        block_ms = max(1, min(int(timeout_s * 1000), BLOCK_MS))
        reply = await self._redis.xread({key: cursor}, count=100, block=block_ms)
        return _text(reply[0][1][-1][0]) if reply else cursor


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
