"""The Redis adapter of `SaleStore`: each operation is one Lua script (`lua/*.lua`) over the keys of
the sale's hash slot, so it runs unchanged on Redis Cluster and decides every tap atomically."""

from __future__ import annotations

import json
from collections.abc import Sequence
from importlib.resources import files
from typing import Any

from redis.asyncio import Redis

from gala.kernel.errors import GalaError

from .errors import UnknownSale, refusal
from .ports import SaleCounts, WalletTap
from .redis_keys import sale_keys, tap_keys_key
from .sale import HELD, SCHEDULED, Order, SaleTerms


def _script(name: str) -> str:
    return files(__package__).joinpath("lua", name).read_text(encoding="utf-8")


def _order(raw: Any) -> Order:
    return Order(**json.loads(raw))


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisSaleStore:
    def __init__(self, redis: Redis, prefix: str = "gala") -> None:
        # redis-py types every reply as a wide union; the adapter knows each reply's shape.
        self._redis: Any = redis
        self._prefix = prefix
        self._reserve = redis.register_script(_script("reserve.lua"))
        self._pay = redis.register_script(_script("pay.lua"))
        self._expire = redis.register_script(_script("expire.lua"))
        self._reserve_batch = redis.register_script(_script("reserve_batch.lua"))
        self._pay_batch = redis.register_script(_script("pay_batch.lua"))

    async def create_sale(self, terms: SaleTerms) -> bool:
        keys = sale_keys(terms.sale_id, self._prefix)
        fields = {
            "status": SCHEDULED,
            "product_id": terms.product_id,
            "price": terms.price_minor,
            "stock": terms.stock,
            "limit": terms.per_viewer_limit,
            "opens": terms.opens_at_ms,
            "closes": "" if terms.closes_at_ms is None else terms.closes_at_ms,
            "hold_ms": terms.hold_ms,
            "left": terms.stock,
            "held": 0,
            "sold": 0,
        }
        created = await self._redis.hsetnx(keys.sale, "stock", terms.stock)
        if created:
            await self._redis.hset(keys.sale, mapping=fields)
            await self._redis.sadd(f"{self._prefix}:sales", terms.sale_id)
        return bool(created)

    async def set_sale_status(self, sale_id: str, status: str) -> None:
        key = sale_keys(sale_id, self._prefix).sale
        if not await self._redis.exists(key):
            raise UnknownSale(f"no sale {sale_id!r}")
        await self._redis.hset(key, "status", status)

    async def reserve(
        self, sale_id: str, order_id: str, viewer_id: str, key: str, quantity: int, now_ms: int
    ) -> Order:
        k = sale_keys(sale_id, self._prefix)
        reply = await self._reserve(
            keys=[k.sale, k.orders, k.keys, k.taken, k.holds, k.by_viewer],
            args=[order_id, viewer_id, key, quantity, now_ms],
        )
        return self._answer(reply)

    async def reserve_batch(
        self, sale_id: str, taps: Sequence[tuple[WalletTap, int]], now_ms: int
    ) -> list[Order | GalaError]:
        """`lua/reserve_batch.lua`: each (tap, its viewer's wallet balance before the batch)
        reserved or refused, in order, in one call in the sale's slot."""
        k = sale_keys(sale_id, self._prefix)
        encoded = json.dumps(
            [[t.order_id, t.viewer_id, t.key, t.quantity, balance] for t, balance in taps]
        )
        replies = await self._reserve_batch(
            keys=[k.sale, k.orders, k.keys, k.taken, k.holds, k.by_viewer], args=[now_ms, encoded]
        )
        return [self._outcome(reply) for reply in replies]

    async def bind_keys(self, requests: Sequence[tuple[str, str, str]]) -> list[str]:
        """Bind each (viewer, key, request) unless the key is bound already (HSETNX, atomic per
        key); returns the request each key is bound to, in order, in one pipelined round
        trip."""
        pipe = self._redis.pipeline(transaction=False)
        for viewer_id, key, request in requests:
            pipe.hsetnx(tap_keys_key(viewer_id, self._prefix), key, request)
            pipe.hget(tap_keys_key(viewer_id, self._prefix), key)
        replies = await pipe.execute()
        return [_text(reply) for reply in replies[1::2]]

    async def bind_key(self, viewer_id: str, key: str, request: str) -> str:
        (bound,) = await self.bind_keys([(viewer_id, key, request)])
        return bound

    async def pay_batch(self, sale_id: str, order_ids: Sequence[str]) -> list[Order | GalaError]:
        """`lua/pay_batch.lua`: `pay` for each order, in one call in the sale's slot."""
        if not order_ids:
            return []
        k = sale_keys(sale_id, self._prefix)
        replies = await self._pay_batch(
            keys=[k.sale, k.orders, k.holds], args=[json.dumps(list(order_ids))]
        )
        return [self._outcome(reply) for reply in replies]

    async def pay(self, sale_id: str, order_id: str) -> Order:
        k = sale_keys(sale_id, self._prefix)
        return self._answer(await self._pay(keys=[k.sale, k.orders, k.holds], args=[order_id]))

    async def expire(self, sale_id: str, now_ms: int) -> list[Order]:
        k = sale_keys(sale_id, self._prefix)
        released = await self._expire(keys=[k.sale, k.orders, k.taken, k.holds], args=[now_ms])
        return [_order(raw) for raw in released]

    async def taken(self, sale_id: str) -> dict[str, int]:
        raw = await self._redis.hgetall(sale_keys(sale_id, self._prefix).taken)
        return {_text(viewer): int(units) for viewer, units in raw.items()}

    async def due_holds(self, sale_id: str, now_ms: int) -> list[Order]:
        k = sale_keys(sale_id, self._prefix)
        ids = await self._redis.zrangebyscore(k.holds, "-inf", now_ms)
        if not ids:
            return []
        raw = await self._redis.hmget(k.orders, ids)
        orders = (_order(item) for item in raw if item is not None)
        return sorted((o for o in orders if o.state == HELD), key=lambda o: o.id)

    async def counts(self, sale_id: str) -> SaleCounts:
        raw = await self._redis.hmget(
            sale_keys(sale_id, self._prefix).sale, ["status", "left", "held", "sold"]
        )
        if raw[0] is None:
            raise UnknownSale(f"no sale {sale_id!r}")
        return SaleCounts(_text(raw[0]), int(raw[1]), int(raw[2]), int(raw[3]))

    async def sale_terms(self, sale_id: str) -> SaleTerms:
        raw = await self._redis.hmget(
            sale_keys(sale_id, self._prefix).sale,
            ["product_id", "price", "stock", "limit", "opens", "closes", "hold_ms"],
        )
        if raw[0] is None:
            raise UnknownSale(f"no sale {sale_id!r}")
        closes = _text(raw[5])
        return SaleTerms(
            sale_id,
            _text(raw[0]),
            int(raw[1]),
            int(raw[2]),
            int(raw[3]),
            int(raw[4]),
            int(closes) if closes else None,
            int(raw[6]),
        )

    async def sale_ids(self) -> list[str]:
        return sorted(_text(m) for m in await self._redis.smembers(f"{self._prefix}:sales"))

    async def orders(self, sale_id: str) -> list[Order]:
        raw = await self._redis.hvals(sale_keys(sale_id, self._prefix).orders)
        return sorted((_order(item) for item in raw), key=lambda o: o.id)

    async def orders_of(self, sale_id: str, viewer_id: str) -> list[Order]:
        k = sale_keys(sale_id, self._prefix)
        ids = await self._redis.hget(k.by_viewer, viewer_id)
        if not ids:
            return []
        raw = await self._redis.hmget(k.orders, _text(ids).split(","))
        return sorted((_order(item) for item in raw if item is not None), key=lambda o: o.id)

    async def order(self, sale_id: str, order_id: str) -> Order | None:
        raw = await self._redis.hget(sale_keys(sale_id, self._prefix).orders, order_id)
        return None if raw is None else _order(raw)

    @staticmethod
    def _outcome(reply: list[Any]) -> Order | GalaError:
        if _text(reply[0]) == "ok":
            return _order(reply[1])
        return refusal(_text(reply[1]), _text(reply[2]))

    @classmethod
    def _answer(cls, reply: list[Any]) -> Order:
        outcome = cls._outcome(reply)
        if isinstance(outcome, GalaError):
            raise outcome
        return outcome
