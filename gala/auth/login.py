"""Logging in: a username and password checked against the accounts port, for the JSON API and
the login form alike.

The scrypt check (about 33 ms of CPU and 16 MiB of memory each) runs off the event loop, in the
loop's default executor (`asyncio.to_thread`): that pool is the loop's own, shut down by
`asyncio.run`, so logins need no thread pool with a lifetime of their own; a semaphore lets at
most `CHECKS_AT_ONCE` checks run together, so a burst of logins neither takes every thread of that
pool (name resolution uses it too) nor its memory, and past `MAX_WAITING` waiting logins the next
one is answered `busy`. Attempts are rate-limited before any hashing, per client address (every
attempt) and per username (failed attempts, so a producer who mistypes is not locked out by
logging in), and answered `rate_limited` (429, retryable after `retry_after_s`). An unknown
username costs the same check as a known one, so the answer's time does not tell which exist.
"""

from __future__ import annotations

import asyncio
from typing import Any

from gala.auth.rate_limit import KeyedBuckets, Rate
from gala.auth.tokens import ACCOUNT_ROLES, SPONSOR, Identity, hash_password, verify_password
from gala.kernel.clock import Clock
from gala.kernel.errors import GalaError, Unauthorized
from gala.stores.ports import Accounts

CHECKS_AT_ONCE = 2
MAX_WAITING = 64
MAX_PASSWORD_CHARS = 1024
# Ten attempts a minute from one address (a studio behind one NAT has a few producers), and five
# failures then one every 30 s for one username: slow enough to make guessing hopeless.
PER_ADDRESS = Rate(burst=10, per_s=1 / 6)
PER_USERNAME = Rate(burst=5, per_s=1 / 30)


class RateLimited(GalaError):
    code = "rate_limited"
    status = 429

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s

    def as_dict(self) -> dict[str, Any]:
        return {**super().as_dict(), "retry_after_s": self.retry_after_s}


class LoginBusy(GalaError):
    code = "busy"
    status = 503


class LoginService:
    def __init__(
        self,
        accounts: Accounts,
        clock: Clock,
        per_address: Rate = PER_ADDRESS,
        per_username: Rate = PER_USERNAME,
    ) -> None:
        self._accounts = accounts
        self._by_address = KeyedBuckets(clock, per_address)
        self._by_username = KeyedBuckets(clock, per_username)
        self._checks = asyncio.Semaphore(CHECKS_AT_ONCE)
        self._waiting = 0
        self._decoy_hash: str | None = None

    async def log_in(self, username: str, password: str, client: str) -> Identity:
        """The identity of an account whose password is `password`, or `bad_login`;
        `rate_limited` before any check when this client or this username tried too often."""
        wait_s = max(
            self._by_address.retry_after_s(client), self._by_username.retry_after_s(username)
        )
        if wait_s:
            raise RateLimited(f"too many login attempts; try again in {wait_s} s", wait_s)
        self._by_address.spend(client)
        if len(password) > MAX_PASSWORD_CHARS:
            self._by_username.spend(username)
            raise Unauthorized("wrong username or password", code="bad_login")
        account = await self._accounts.get_account(username)
        stored = account.password_hash if account else await self._decoy()
        if not await self._verify(password, stored) or account is None:
            self._by_username.spend(username)
            raise Unauthorized("wrong username or password", code="bad_login")
        if account.role not in ACCOUNT_ROLES or (
            account.role == SPONSOR and not account.sponsor_id
        ):
            raise Unauthorized("this account cannot log in", code="bad_login")
        return Identity(account.username, account.role, account.sponsor_id)

    async def _verify(self, password: str, stored: str) -> bool:
        if self._waiting >= MAX_WAITING:
            raise LoginBusy("too many logins at once; try again", code="busy")
        self._waiting += 1
        try:
            async with self._checks:
                return await asyncio.to_thread(verify_password, password, stored)
        finally:
            self._waiting -= 1

    async def _decoy(self) -> str:
        if self._decoy_hash is None:
            self._decoy_hash = await asyncio.to_thread(hash_password, "no such account")
        return self._decoy_hash
