"""The Redis adapter of `PaymentStore`. Every operation is one single-key command, so each key is
its own slot: a payment is one JSON string `{pay:ID}` written with `SET NX` (the first record
wins), listed in one index set for audits; a handled webhook event is `{whevent:ID}` written with
`SET NX PX` (kept `EVENT_RETENTION_MS`)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from redis.asyncio import Redis

from .ports import EVENT_RETENTION_MS, Payment
from .redis_keys import payment_index_key, payment_key, webhook_event_key


class RedisPaymentStore:
    def __init__(self, redis: Redis, prefix: str = "gala") -> None:
        # redis-py types every reply as a wide union; the adapter knows each reply's shape.
        self._redis: Any = redis
        self._prefix = prefix

    async def create_payment(self, payment: Payment) -> Payment:
        key = payment_key(payment.payment_id, self._prefix)
        encoded = json.dumps(dataclasses.asdict(payment), sort_keys=True)
        # Indexed first: a crash between the two leaves an index entry without a record, which
        # readers skip, never a record the audit cannot see.
        await self._redis.sadd(payment_index_key(self._prefix), payment.payment_id)
        await self._redis.set(key, encoded, nx=True)
        stored = await self.payment(payment.payment_id)
        assert stored is not None
        return stored

    async def payment(self, payment_id: str) -> Payment | None:
        raw = await self._redis.get(payment_key(payment_id, self._prefix))
        return None if raw is None else Payment(**json.loads(raw))

    async def payments(self) -> list[Payment]:
        ids = sorted(
            m.decode() if isinstance(m, bytes) else str(m)
            for m in await self._redis.smembers(payment_index_key(self._prefix))
        )
        found = [await self.payment(payment_id) for payment_id in ids]
        return [payment for payment in found if payment is not None]

    async def record_event(self, event_id: str, now_ms: int) -> bool:
        key = webhook_event_key(event_id, self._prefix)
        return bool(await self._redis.set(key, now_ms, nx=True, px=EVENT_RETENTION_MS))

    async def has_event(self, event_id: str) -> bool:
        return bool(await self._redis.exists(webhook_event_key(event_id, self._prefix)))
