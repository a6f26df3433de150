"""The Redis adapter of `LedgerStore`: a transfer between two accounts in two hash slots is a saga
of idempotent steps keyed by its id:

1. log the intent (`HSETNX` in the intents hash; an intent with other content is a mismatch);
2. the debit leg in the source's slot (`lua/ledger_debit.lua`: refuses a guarded overdraft);
3. the credit leg in the destination's slot (`lua/ledger_credit.lua`);
4. record the transfer, then drop the intent.

A crash anywhere leaves an intent; `finish_pending` (the sweeper) runs the steps again, and each
is a no-op where it already happened. A transfer is only listed once both legs are in.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from importlib.resources import files
from typing import Any

from redis.asyncio import Redis

from gala.kernel.ledger import NON_NEGATIVE, InsufficientFunds, Transfer, TransferMismatch, kind_of

from .redis_keys import account_keys, ledger_index_keys


def _script(name: str) -> str:
    return files(__package__).joinpath("lua", name).read_text(encoding="utf-8")


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisLedgerStore:
    def __init__(self, redis: Redis, prefix: str = "gala") -> None:
        # redis-py types every reply as a wide union; the adapter knows each reply's shape.
        self._redis: Any = redis
        self._prefix = prefix
        self._intents, self._done, self._accounts = ledger_index_keys(prefix)
        self._debit = redis.register_script(_script("ledger_debit.lua"))
        self._credit = redis.register_script(_script("ledger_credit.lua"))

    async def post(self, transfer: Transfer) -> None:
        encoded = json.dumps(asdict(transfer), sort_keys=True)
        done = await self._redis.hget(self._done, transfer.id)
        if done is not None:
            if _text(done) != encoded:
                raise TransferMismatch(f"transfer {transfer.id!r} was posted with other content")
            return
        if not await self._redis.hsetnx(self._intents, transfer.id, encoded):
            logged = await self._redis.hget(self._intents, transfer.id)
            if logged is not None and _text(logged) != encoded:
                raise TransferMismatch(f"transfer {transfer.id!r} was posted with other content")
        await self._complete(transfer, encoded)

    async def _complete(self, transfer: Transfer, encoded: str) -> bool:
        """Steps 2 to 4; False (and the intent dropped) when the debit is refused."""
        source = account_keys(transfer.source, self._prefix)
        destination = account_keys(transfer.destination, self._prefix)
        guarded = "1" if kind_of(transfer.source) in NON_NEGATIVE else "0"
        debited = _text(
            await self._debit(
                keys=[source.balance, source.applied],
                args=[transfer.id, transfer.amount_minor, guarded],
            )
        )
        if debited != "ok":
            await self._redis.hdel(self._intents, transfer.id)
            raise InsufficientFunds(f"{transfer.source} cannot pay {transfer.amount_minor}")
        await self._credit(
            keys=[destination.balance, destination.applied],
            args=[transfer.id, transfer.amount_minor],
        )
        await self._redis.sadd(self._accounts, transfer.source, transfer.destination)
        await self._redis.hset(self._done, transfer.id, encoded)
        await self._redis.hdel(self._intents, transfer.id)
        return True

    async def finish_pending(self) -> int:
        finished = 0
        for encoded in await self._redis.hvals(self._intents):
            transfer = Transfer(**json.loads(encoded))
            try:
                await self._complete(transfer, _text(encoded))
                finished += 1
            except InsufficientFunds:
                pass  # its debit never happened: nothing moved, and the intent is gone
        return finished

    async def balance(self, account_name: str) -> int:
        raw = await self._redis.get(account_keys(account_name, self._prefix).balance)
        return int(raw or 0)

    async def balances(self) -> dict[str, int]:
        names = sorted(_text(n) for n in await self._redis.smembers(self._accounts))
        return {name: await self.balance(name) for name in names}

    async def transfer(self, transfer_id: str) -> Transfer | None:
        raw = await self._redis.hget(self._done, transfer_id)
        return None if raw is None else Transfer(**json.loads(raw))

    async def transfers(self) -> list[Transfer]:
        raw = await self._redis.hvals(self._done)
        return sorted((Transfer(**json.loads(item)) for item in raw), key=lambda t: t.id)
