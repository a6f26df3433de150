"""The Redis adapter of `EditedRunOfShow`: a hash in the show's slot `{show:ID}` (version and cue
tables), replaced by one compare-and-set script (`lua/save_cues.lua`)."""

from __future__ import annotations

from importlib.resources import files
from typing import Any

from redis.asyncio import Redis


class RedisRunOfShowStore:
    def __init__(self, redis: Redis, prefix: str = "gala") -> None:
        # redis-py types every reply as a wide union; the adapter knows each reply's shape.
        self._redis: Any = redis
        self._prefix = prefix
        script = files(__package__).joinpath("lua", "save_cues.lua").read_text(encoding="utf-8")
        self._save = redis.register_script(script)

    def _key(self, show_id: str) -> str:
        return f"{self._prefix}:{{show:{show_id}}}:runofshow"

    async def edited_cues(self, show_id: str) -> tuple[int, str | None]:
        version, cues = await self._redis.hmget(self._key(show_id), ["version", "cues"])
        if version is None:
            return 0, None
        return int(version), cues.decode() if isinstance(cues, bytes) else str(cues)

    async def save_cues(self, show_id: str, expected_version: int, cues_json: str) -> bool:
        saved = await self._save(keys=[self._key(show_id)], args=[expected_version, cues_json])
        return bool(saved)
