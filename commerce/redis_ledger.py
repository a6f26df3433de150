"""The Redis adapter of `LedgerStore`: a transfer between two accounts in two hash slots is a saga
of idempotent steps keyed by its id:

1. log the intent (`lua/ledger_intents.lua` in the intents hash; an intent with other content
   is a mismatch);
2. the debit leg in the source's slot (`lua/ledger_legs.lua`: refuses a guarded overdraft);
3. the credit leg in the destination's slot (`lua/ledger_legs.lua` too);
4. record the transfer, then drop the intent.

`post_many` runs these steps for a whole batch, pipelined: the intents in one round trip, every
debit in one (one script call per source account, however many of the batch's legs it has),
every credit and record in one.

A crash anywhere leaves an intent; `finish_pending` (the sweeper) runs the steps again, and each
is a no-op where it already happened. A transfer is only listed once both legs are in.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from importlib.resources import files
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import NoScriptError

from gala.kernel.errors import GalaError
from gala.kernel.ledger import NON_NEGATIVE, InsufficientFunds, Transfer, TransferMismatch, kind_of

from .redis_keys import account_keys, ledger_index_keys


def _script(name: str) -> str:
    return files(__package__).joinpath("lua", name).read_text(encoding="utf-8")


@dataclass(frozen=True, slots=True)
class Posted:
    """What `post_many` did: per transfer None (in the ledger) or its refusal; the balances of
    the accounts whose legs ran, after them."""

    outcomes: list[GalaError | None]
    balances: dict[str, int]


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisLedgerStore:
    def __init__(self, redis: Redis, prefix: str = "gala") -> None:
        # redis-py types every reply as a wide union; the adapter knows each reply's shape.
        self._redis: Any = redis
        self._prefix = prefix
        self._intents, self._done, self._accounts = ledger_index_keys(prefix)
        self._legs = redis.register_script(_script("ledger_legs.lua"))
        self._log_intents = redis.register_script(_script("ledger_intents.lua"))
        self._scripts_loaded = False

    async def post(self, transfer: Transfer) -> None:
        (refused,) = (await self.post_many([transfer])).outcomes
        if refused is not None:
            raise refused

    async def post_many(self, transfers: Sequence[Transfer]) -> Posted:
        try:
            return await self._post_many(transfers)
        except NoScriptError:  # the server lost its scripts (restarted, flushed): every step
            self._scripts_loaded = False  # is idempotent, so the whole batch runs again
            return await self._post_many(transfers)

    async def _post_many(self, transfers: Sequence[Transfer]) -> Posted:
        """`post` for each transfer, the steps of every transfer pipelined together: three
        round trips for the whole batch, whatever its size. Returns, per transfer, None once it
        is in the ledger (now or before) or its refusal (`InsufficientFunds`,
        `TransferMismatch`: nothing moved), and the balances of the accounts whose legs ran."""
        encoded = [json.dumps(asdict(t), sort_keys=True) for t in transfers]
        outcomes: list[GalaError | None] = [None] * len(transfers)
        if not transfers:
            return Posted(outcomes, {})
        ids = [t.id for t in transfers]
        await self._load_scripts()
        pipe = self._redis.pipeline(transaction=False)
        pipe.hmget(self._done, ids)
        pipe.evalsha(
            self._log_intents.sha,
            1,
            self._intents,
            json.dumps(list(zip(ids, encoded, strict=True))),
        )
        done, logged = await pipe.execute()
        pending, stray = [], []
        for i, (transfer, text) in enumerate(zip(transfers, encoded, strict=True)):
            if done[i] is not None or logged[i] == -1:
                if done[i] is None or _text(done[i]) != text:
                    outcomes[i] = TransferMismatch(
                        f"transfer {transfer.id!r} was posted with other content"
                    )
                if logged[i] == 1:
                    stray.append(transfer.id)  # logged just now for a transfer already done
                continue
            pending.append(i)
        if stray:
            await self._redis.hdel(self._intents, *stray)
        refused, balances = await self._complete_many(
            [transfers[i] for i in pending], [encoded[i] for i in pending]
        )
        for j in refused:
            i = pending[j]
            transfer = transfers[i]
            outcomes[i] = InsufficientFunds(f"{transfer.source} cannot pay {transfer.amount_minor}")
        return Posted(outcomes, balances)

    async def _complete_many(
        self, transfers: list[Transfer], encoded: list[str]
    ) -> tuple[set[int], dict[str, int]]:
        """Steps 2 to 4 for logged transfers, grouped by account; returns the positions whose
        debit was refused (their intents dropped: nothing moved) and the balances after."""
        if not transfers:
            return set(), {}
        balances: dict[str, int] = {}
        debits = await self._run_legs(
            "debit", [(t.source, i) for i, t in enumerate(transfers)], transfers, balances
        )
        refused = {i for i, status in debits.items() if status != "ok"}
        credited = [(t.destination, i) for i, t in enumerate(transfers) if i not in refused]
        pipe = self._redis.pipeline(transaction=False)
        legs = self._queue_legs(pipe, "credit", credited, transfers)
        accounts = {t.source for i, t in enumerate(transfers) if i not in refused}
        accounts |= {t.destination for i, t in enumerate(transfers) if i not in refused}
        if accounts:
            pipe.sadd(self._accounts, *sorted(accounts))
            pipe.hset(
                self._done,
                mapping={
                    transfers[i].id: encoded[i] for i in range(len(transfers)) if i not in refused
                },
            )
        pipe.hdel(self._intents, *(t.id for t in transfers))
        replies = await pipe.execute()
        for (name, _), reply in zip(legs, replies, strict=False):
            balances[name] = int(_text(reply[-1]))
        return refused, balances

    def _queue_legs(
        self, pipe: Any, kind: str, legs: list[tuple[str, int]], transfers: list[Transfer]
    ) -> list[tuple[str, list[int]]]:
        """Queue one `ledger_legs.lua` call per account on `pipe`; returns (account, positions)
        in the order queued."""
        by_account: dict[str, list[int]] = {}
        for name, i in legs:
            by_account.setdefault(name, []).append(i)
        for name, positions in by_account.items():
            keys = account_keys(name, self._prefix)
            guarded = "1" if kind == "debit" and kind_of(name) in NON_NEGATIVE else "0"
            args: list[str | int] = [kind, guarded]
            for i in positions:
                args += [transfers[i].id, transfers[i].amount_minor]
            pipe.evalsha(self._legs.sha, 2, keys.balance, keys.applied, *args)
        return list(by_account.items())

    async def _run_legs(
        self,
        kind: str,
        legs: list[tuple[str, int]],
        transfers: list[Transfer],
        balances: dict[str, int],
    ) -> dict[int, str]:
        """Run the legs (one pipelined round trip); the status of each transfer's leg."""
        pipe = self._redis.pipeline(transaction=False)
        queued = self._queue_legs(pipe, kind, legs, transfers)
        statuses: dict[int, str] = {}
        for (name, positions), reply in zip(queued, await pipe.execute(), strict=True):
            for i, status in zip(positions, reply[:-1], strict=True):
                statuses[i] = _text(status)
            balances[name] = int(_text(reply[-1]))
        return statuses

    async def _load_scripts(self) -> None:
        """Load the ledger's scripts into Redis when it does not know them (a fresh or
        restarted server), so pipelines can call them by hash without a check per call."""
        if self._scripts_loaded:
            return
        scripts = (self._legs, self._log_intents)
        known = await self._redis.script_exists(*(script.sha for script in scripts))
        for script, exists in zip(scripts, known, strict=True):
            if not exists:
                await self._redis.script_load(script.script)
        self._scripts_loaded = True

    async def finish_pending(self) -> int:
        self._scripts_loaded = False  # checked once a sweep: a restarted server lost them
        await self._load_scripts()
        finished = 0
        for encoded in await self._redis.hvals(self._intents):
            transfer = Transfer(**json.loads(encoded))
            # a refused debit never happened: nothing moved, and the intent is gone
            refused, _ = await self._complete_many([transfer], [_text(encoded)])
            if not refused:
                finished += 1
        return finished

    async def balances_of(self, account_names: Sequence[str]) -> list[int]:
        """The balances of these accounts, in one pipelined round trip."""
        pipe = self._redis.pipeline(transaction=False)
        for name in account_names:
            pipe.get(account_keys(name, self._prefix).balance)
        return [int(raw or 0) for raw in await pipe.execute()]

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
