"""The Redis adapter of `ResultsStore`, in the show's slot `{show:ID}`: reveals in a hash (first
write wins), displayed viewers in a set per reveal, taps in a hash per sale (viewer -> taps).
Every command touches one key."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from redis.asyncio import Redis

from gala.results.ports import RevealRecord, TapCounts


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisResultsStore:
    def __init__(self, redis: Redis, prefix: str = "gala") -> None:
        # redis-py types every reply as a wide union; the adapter knows each reply's shape.
        self._redis: Any = redis
        self._prefix = prefix

    def _tag(self, show_id: str) -> str:
        return f"{self._prefix}:{{show:{show_id}}}:results"

    async def record_reveal(
        self, show_id: str, epoch: str, seq: int, product_id: str, at_ms: int, viewers_online: int
    ) -> None:
        record = {"product_id": product_id, "at_ms": at_ms, "viewers_online": viewers_online}
        await self._redis.hsetnx(f"{self._tag(show_id)}:reveals:{epoch}", seq, json.dumps(record))

    async def add_displays(
        self, show_id: str, displays: Mapping[tuple[str, int], set[str]]
    ) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            for (epoch, seq), viewers in displays.items():
                if viewers:
                    pipe.sadd(f"{self._tag(show_id)}:displayed:{epoch}:{seq}", *viewers)
            await pipe.execute()

    async def add_taps(self, show_id: str, taps: Mapping[str, Mapping[str, int]]) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            for sale_id, by_viewer in taps.items():
                pipe.sadd(f"{self._tag(show_id)}:tapped", sale_id)
                for viewer, count in by_viewer.items():
                    pipe.hincrby(f"{self._tag(show_id)}:taps:{sale_id}", viewer, count)
            await pipe.execute()

    async def reveals(self, show_id: str, epoch: str) -> list[RevealRecord]:
        raw = await self._redis.hgetall(f"{self._tag(show_id)}:reveals:{epoch}")
        records = []
        for seq, encoded in sorted(raw.items(), key=lambda item: int(item[0])):
            data = json.loads(encoded)
            displayed = await self._redis.scard(
                f"{self._tag(show_id)}:displayed:{epoch}:{_text(seq)}"
            )
            records.append(
                RevealRecord(
                    epoch,
                    int(seq),
                    data["product_id"],
                    data["at_ms"],
                    data["viewers_online"],
                    int(displayed),
                )
            )
        return records

    async def taps(self, show_id: str) -> dict[str, TapCounts]:
        counts = {}
        for sale in sorted(
            _text(s) for s in await self._redis.smembers(f"{self._tag(show_id)}:tapped")
        ):
            per_viewer = await self._redis.hvals(f"{self._tag(show_id)}:taps:{sale}")
            counts[sale] = TapCounts(sum(int(v) for v in per_viewer), len(per_viewer))
        return counts
