"""The hub's Redis adapter: show logs are streams tailed with XREAD, definitions and audit live in
the show's slot, accounts in `{account:NAME}`, and each node reports presence into a hash that
every node sums (reports older than a few seconds are ignored)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from gala.kernel.showlog import AuditEntry, LoggedEvent
from gala.stores.ports import (
    NO_TAPS,
    PRESENCE_FRESH_MS,
    Account,
    Durability,
    LogBatch,
    PresenceTotals,
    TapTotals,
)
from stage_control.showlog_store import show_keys

TAIL_BATCH = 500

# Under redis-py's default 5 s socket timeout, so a quiet stream is not a read error.
BLOCK_MS = 2000


class RedisHubStore:
    def __init__(self, redis: Redis, prefix: str = "gala") -> None:
        # redis-py types every reply as a wide union; the adapter knows each reply's shape.
        self._redis: Any = redis
        self._prefix = prefix

    def _keys(self, show_id: str) -> Any:
        return show_keys(show_id, self._prefix)

    async def read_log(self, show_id: str) -> LogBatch:
        keys = self._keys(show_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hget(keys.log_head, "epoch")
            pipe.hget(keys.log_head, "pos")
            pipe.xrange(keys.log, "-", "+")
            epoch, pos, entries = await pipe.execute()
        if epoch is None:
            return LogBatch(0)
        return LogBatch(int(pos or 0), [_event(fields) for _id, fields in entries], epoch.decode())

    async def tail_log(self, show_id: str, after_pos: int) -> AsyncIterator[LogBatch]:
        key = self._keys(show_id).log
        last_id = f"{after_pos}-1" if after_pos else "0-0"
        while True:
            reply = await self._redis.xread({key: last_id}, count=TAIL_BATCH, block=BLOCK_MS)
            if not reply:
                continue
            entries = reply[0][1]
            last_id = entries[-1][0].decode()
            yield LogBatch(int(last_id.split("-")[0]), [_event(f) for _id, f in entries])

    async def read_audit(self, show_id: str, limit: int) -> list[AuditEntry]:
        raw = await self._redis.lrange(self._keys(show_id).audit, -limit, -1)
        return [AuditEntry(**json.loads(item)) for item in raw]

    async def put_show_document(self, show_id: str, document: str) -> None:
        await self._redis.set(self._keys(show_id).document, document)
        await self._redis.sadd(f"{self._prefix}:shows", show_id)

    async def show_documents(self) -> dict[str, str]:
        ids = sorted(
            member.decode() for member in await self._redis.smembers(f"{self._prefix}:shows")
        )
        documents = {}
        for show_id in ids:
            raw = await self._redis.get(self._keys(show_id).document)
            if raw is not None:
                documents[show_id] = raw.decode()
        return documents

    def _account_key(self, username: str) -> str:
        return f"{self._prefix}:{{account:{username}}}"

    async def put_account(self, account: Account) -> None:
        key = self._account_key(account.username)
        fields = {"password_hash": account.password_hash, "role": account.role}
        async with self._redis.pipeline(transaction=True) as pipe:  # one key: MULTI is atomic
            pipe.hset(key, mapping=fields)
            if account.sponsor_id is None:
                pipe.hdel(key, "sponsor_id")
            else:
                pipe.hset(key, "sponsor_id", account.sponsor_id)
            await pipe.execute()

    async def get_account(self, username: str) -> Account | None:
        raw = await self._redis.hmget(
            self._account_key(username), ["password_hash", "role", "sponsor_id"]
        )
        if raw[0] is None:
            return None
        sponsor = None if raw[2] is None else raw[2].decode()
        return Account(username, raw[0].decode(), raw[1].decode(), sponsor)

    async def store_identity(self) -> str | None:
        stored = await self._redis.get(f"{self._prefix}:identity")
        return None if stored is None else _text(stored)

    async def create_store_identity(self, candidate: str) -> str:
        return _text(await self._set_once(f"{self._prefix}:identity", candidate))

    async def durability(self) -> Durability:
        """From INFO persistence (allowed where CONFIG is not, as on managed Redis services), and
        `appendfsync` from CONFIG GET when it is allowed."""
        info = await self._redis.info("persistence")
        if not int(info.get("aof_enabled", 0)):
            return Durability(False, "appendonly no")
        try:
            fsync = _text((await self._redis.config_get("appendfsync"))["appendfsync"])
        except (ResponseError, KeyError):
            return Durability(True, "appendonly yes")
        return Durability(True, f"appendonly yes, appendfsync {fsync}")

    async def server_secret(self, candidate: bytes) -> bytes:
        return bytes(await self._set_once(f"{self._prefix}:secret", candidate))

    async def _set_once(self, key: str, candidate: bytes | str) -> bytes:
        """The key's value, `candidate` written first if it has none (SET NX, then GET)."""
        await self._redis.set(key, candidate, nx=True)
        stored = await self._redis.get(key)
        assert stored is not None
        return bytes(stored)

    async def report_presence(
        self,
        show_id: str,
        node_id: str,
        viewers: int,
        operators: tuple[str, ...],
        now_ms: int,
        taps: TapTotals = NO_TAPS,
    ) -> None:
        key = self._keys(show_id).presence
        report = json.dumps(
            {
                "viewers": viewers,
                "operators": list(operators),
                "at_ms": now_ms,
                "buys": taps.buys,
                "grabs": taps.grabs,
            }
        )
        await self._redis.hset(key, node_id, report)
        await self._redis.pexpire(key, PRESENCE_FRESH_MS * 4)

    async def presence(self, show_id: str, now_ms: int) -> PresenceTotals:
        reports = await self._redis.hvals(self._keys(show_id).presence)
        viewers = 0
        operators: set[str] = set()
        taps = TapTotals()
        for raw in reports:
            report = json.loads(raw)
            if now_ms - report["at_ms"] <= PRESENCE_FRESH_MS:
                viewers += report["viewers"]
                operators.update(report["operators"])
                taps += TapTotals(report.get("buys", 0), report.get("grabs", 0))
        return PresenceTotals(viewers, tuple(sorted(operators)), taps)


def _event(fields: dict[bytes, bytes]) -> LoggedEvent:
    return LoggedEvent(
        int(fields[b"seq"]),
        fields[b"epoch"].decode(),
        fields[b"type"].decode(),
        int(fields[b"t"]),
        json.loads(fields[b"data"]),
    )


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
