"""The Redis adapter of `DropStore`: each rule is one Lua script (`lua/*.lua`) over the keys of the
drop's hash slot `{drop:ID}`, so a grab is decided atomically by one script on one slot, from any
number of nodes."""

from __future__ import annotations

import json
from collections.abc import Sequence
from importlib.resources import files
from typing import Any

from redis.asyncio import Redis

from gala.kernel.errors import GalaError

from . import model
from .model import AlreadyGrabbed, Claim, DropTerms, UnknownDrop
from .ports import DropCounts
from .redis_keys import drop_index_keys, drop_keys

_REFUSALS: dict[str, type[GalaError]] = {
    cls.code: cls
    for cls in (
        UnknownDrop,
        model.DropCancelled,
        model.DropClosed,
        model.NotOpen,
        model.DropEmpty,
    )
}


def _script(name: str) -> str:
    return files(__package__).joinpath("lua", name).read_text(encoding="utf-8")


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _claim(drop_id: str, viewer_id: str, raw: Any) -> Claim:
    index, amount = _text(raw).split(":")
    return Claim(drop_id, viewer_id, int(index), int(amount))


def _refusal(reply: list[Any]) -> GalaError:
    code, message = _text(reply[1]), _text(reply[2])
    return _REFUSALS.get(code, GalaError)(message, code=code)


class RedisDropStore:
    def __init__(self, redis: Redis, prefix: str = "gala") -> None:
        # redis-py types every reply as a wide union; the adapter knows each reply's shape.
        self._redis: Any = redis
        self._prefix = prefix
        self._create = redis.register_script(_script("create.lua"))
        self._activate = redis.register_script(_script("activate.lua"))
        self._grab = redis.register_script(_script("grab.lua"))
        self._grab_batch = redis.register_script(_script("grab_batch.lua"))
        self._close = redis.register_script(_script("close.lua"))

    async def create_drop(self, terms: DropTerms, amounts: list[int]) -> bool:
        model.new_drop(terms, amounts)  # refuses amounts that do not split the budget
        keys = drop_keys(terms.drop_id, self._prefix)
        # Indexed first: a crash after this leaves an id the sweeper skips, never a drop it
        # cannot find.
        every, of_show = drop_index_keys(terms.show_id, self._prefix)
        await self._redis.sadd(every, terms.drop_id)
        await self._redis.sadd(of_show, terms.drop_id)
        created = await self._create(
            keys=[keys.drop, keys.envelopes],
            args=[
                terms.show_id,
                terms.funder,
                terms.budget_minor,
                terms.count,
                terms.min_minor,
                terms.currency,
                terms.opens_at_ms,
                terms.closes_at_ms,
                ",".join(map(str, amounts)),
            ],
        )
        return bool(created)

    async def activate(self, drop_id: str, funded: bool) -> str:
        reply = await self._activate(
            keys=[drop_keys(drop_id, self._prefix).drop], args=["1" if funded else "0"]
        )
        if _text(reply[0]) != "ok":
            raise _refusal(reply)
        return _text(reply[1])

    async def grab(self, drop_id: str, viewer_id: str, now_ms: int) -> Claim:
        reply = await self._grab(
            keys=drop_keys(drop_id, self._prefix).all(), args=[viewer_id, now_ms]
        )
        outcome = _text(reply[0])
        if outcome == "ok":
            return _claim(drop_id, viewer_id, reply[1])
        if outcome == "already":
            raise AlreadyGrabbed(_claim(drop_id, viewer_id, reply[1]).amount_minor)
        raise _refusal(reply)

    async def grab_batch(
        self, drop_id: str, viewer_ids: Sequence[str], now_ms: int
    ) -> list[Claim | GalaError]:
        """`lua/grab_batch.lua`: `grab` for each viewer, in order, in one call in the drop's
        slot; each new claim is recorded uncredited."""
        replies = await self._grab_batch(
            keys=drop_keys(drop_id, self._prefix).all(), args=[now_ms, json.dumps(list(viewer_ids))]
        )
        outcomes: list[Claim | GalaError] = []
        for viewer_id, reply in zip(viewer_ids, replies, strict=True):
            outcome = _text(reply[0])
            if outcome == "ok":
                outcomes.append(_claim(drop_id, viewer_id, reply[1]))
            elif outcome == "already":
                outcomes.append(AlreadyGrabbed(_claim(drop_id, viewer_id, reply[1]).amount_minor))
            else:
                outcomes.append(_refusal(reply))
        return outcomes

    async def mark_credited_many(self, drop_id: str, viewer_ids: Sequence[str]) -> None:
        """`mark_credited` for each viewer, in one command."""
        if viewer_ids:
            await self._redis.srem(drop_keys(drop_id, self._prefix).uncredited, *viewer_ids)

    async def claim_of(self, drop_id: str, viewer_id: str) -> Claim | None:
        raw = await self._redis.hget(drop_keys(drop_id, self._prefix).claims, viewer_id)
        return None if raw is None else _claim(drop_id, viewer_id, raw)

    async def mark_credited(self, drop_id: str, viewer_id: str) -> None:
        await self._redis.srem(drop_keys(drop_id, self._prefix).uncredited, viewer_id)

    async def uncredited(self, drop_id: str) -> list[Claim]:
        keys = drop_keys(drop_id, self._prefix)
        viewers = sorted(_text(v) for v in await self._redis.smembers(keys.uncredited))
        if not viewers:
            return []
        raw = await self._redis.hmget(keys.claims, viewers)
        claims = [_claim(drop_id, v, r) for v, r in zip(viewers, raw, strict=True) if r]
        return sorted(claims, key=lambda c: c.index)

    async def claims(self, drop_id: str) -> list[Claim]:
        raw = await self._redis.hgetall(drop_keys(drop_id, self._prefix).claims)
        claims = [_claim(drop_id, _text(v), r) for v, r in raw.items()]
        return sorted(claims, key=lambda c: c.index)

    async def close(self, drop_id: str, now_ms: int) -> DropCounts:
        reply = await self._close(keys=[drop_keys(drop_id, self._prefix).drop], args=[now_ms])
        if _text(reply[0]) == "err":
            raise _refusal(reply)
        status, count, index, claimed, budget = (_text(part) for part in reply)
        return DropCounts(status, int(count), int(count) - int(index), int(claimed), int(budget))

    async def counts(self, drop_id: str) -> DropCounts:
        raw = await self._redis.hmget(
            drop_keys(drop_id, self._prefix).drop, ["status", "count", "next", "claimed", "budget"]
        )
        if raw[0] is None:
            raise UnknownDrop(f"no drop {drop_id!r}")
        status, count, index, claimed, budget = (_text(part) for part in raw)
        return DropCounts(status, int(count), int(count) - int(index), int(claimed), int(budget))

    async def terms(self, drop_id: str) -> DropTerms:
        fields = ["show", "funder", "budget", "count", "min", "currency", "opens", "closes"]
        raw = await self._redis.hmget(drop_keys(drop_id, self._prefix).drop, fields)
        if raw[0] is None:
            raise UnknownDrop(f"no drop {drop_id!r}")
        show, funder, budget, count, minimum, currency, opens, closes = map(_text, raw)
        return DropTerms(
            drop_id,
            show,
            funder,
            int(budget),
            int(count),
            int(minimum),
            currency,
            int(opens),
            int(closes),
        )

    async def amounts(self, drop_id: str) -> list[int]:
        raw = await self._redis.lrange(drop_keys(drop_id, self._prefix).envelopes, 0, -1)
        return [int(item) for item in raw]

    async def drop_ids(self, show_id: str | None = None) -> list[str]:
        every, of_show = drop_index_keys(show_id or "", self._prefix)
        members = await self._redis.smembers(every if show_id is None else of_show)
        return sorted(_text(m) for m in members)
