"""The login service: password checks, rate limits per client address and per username, and the
refusals they answer with (a fake accounts port and a manual clock; the hashing is real)."""

from __future__ import annotations

import pytest

from gala.auth.login import PER_ADDRESS, PER_USERNAME, LoginService, RateLimited
from gala.auth.rate_limit import KeyedBuckets, Rate
from gala.auth.tokens import Identity, hash_password
from gala.kernel.clock import ManualClock
from gala.kernel.errors import Unauthorized
from gala.stores.ports import Account

PASSWORD = "correct horse battery"


class Accounts:
    def __init__(self, *accounts: Account) -> None:
        self.accounts = {a.username: a for a in accounts}

    async def put_account(self, account: Account) -> None:
        self.accounts[account.username] = account

    async def get_account(self, username: str) -> Account | None:
        return self.accounts.get(username)


@pytest.fixture(scope="module")
def stored_hash() -> str:
    return hash_password(PASSWORD)


def service(stored_hash: str, clock: ManualClock) -> LoginService:
    return LoginService(Accounts(Account("ann", stored_hash, "producer")), clock)


async def test_the_right_password_logs_in_and_a_wrong_one_is_bad_login(stored_hash: str) -> None:
    login = service(stored_hash, ManualClock())
    assert await login.log_in("ann", PASSWORD, "10.0.0.1") == Identity("ann", "producer")
    for username, password in [("ann", "wrong"), ("bob", PASSWORD), ("ann", "x" * 2000)]:
        with pytest.raises(Unauthorized) as refused:
            await login.log_in(username, password, "10.0.0.2")
        assert refused.value.code == "bad_login"


async def test_failed_logins_of_one_username_are_limited_from_any_address(
    stored_hash: str,
) -> None:
    clock = ManualClock()
    login = service(stored_hash, clock)
    for attempt in range(PER_USERNAME.burst):
        with pytest.raises(Unauthorized):
            await login.log_in("ann", "wrong", f"10.0.1.{attempt}")
    with pytest.raises(RateLimited) as limited:
        await login.log_in("ann", PASSWORD, "10.0.2.1")  # even the right password, elsewhere
    wait_s = limited.value.retry_after_s
    assert limited.value.status == 429 and 0 < wait_s <= 1 / PER_USERNAME.per_s
    assert limited.value.as_dict()["retry_after_s"] == wait_s
    clock.advance(wait_s * 1000)
    assert await login.log_in("ann", PASSWORD, "10.0.2.1") == Identity("ann", "producer")


async def test_successful_logins_do_not_use_up_the_username_limit(stored_hash: str) -> None:
    login = service(stored_hash, ManualClock())
    for attempt in range(PER_USERNAME.burst * 2):
        await login.log_in("ann", PASSWORD, f"10.0.3.{attempt}")


async def test_every_attempt_from_one_address_counts_against_it(stored_hash: str) -> None:
    clock = ManualClock()
    login = service(stored_hash, clock)
    for _ in range(PER_ADDRESS.burst):
        await login.log_in("ann", PASSWORD, "10.0.4.1")
    with pytest.raises(RateLimited):
        await login.log_in("ann", PASSWORD, "10.0.4.1")
    assert await login.log_in("ann", PASSWORD, "10.0.4.2") == Identity("ann", "producer")


def test_a_bucket_refills_at_its_rate_up_to_its_burst() -> None:
    clock = ManualClock()
    buckets = KeyedBuckets(clock, Rate(burst=2, per_s=0.5))
    buckets.spend("k")
    buckets.spend("k")
    assert buckets.retry_after_s("k") == 2
    clock.advance(1_000)
    assert buckets.retry_after_s("k") == 1
    clock.advance(1_000)
    assert buckets.retry_after_s("k") == 0
    clock.advance(60_000)
    buckets.spend("k")
    buckets.spend("k")
    assert buckets.retry_after_s("k") == 2, "an idle bucket holds no more than its burst"
