"""Fixtures: the two store backends (SQLite always; Redis when redis-server exists, mandatory in
CI), and a running gala server on a free loopback port for a generated test show."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from gala.settings import Settings
from tests.support import IN_CI, RunningServer, redis_server, running_server, write_show


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    if shutil.which("redis-server") is None:
        if IN_CI:
            pytest.fail("CI=true but redis-server is not installed: the Redis leg is mandatory")
        pytest.skip("redis-server is not installed")
    with redis_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "redis"])
async def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, empty store of each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'gala.db'}"
        return
    url = request.getfixturevalue("redis_url")
    client = aioredis.Redis.from_url(url)
    await client.flushall()
    await client.aclose()
    yield url


@pytest.fixture
def show_file(tmp_path: Path) -> str:
    return write_show(tmp_path)


@pytest.fixture
async def server(store_url: str, show_file: str) -> AsyncIterator[RunningServer]:
    settings = Settings(
        store_url=store_url,
        show_files=(show_file,),
        port=0,
        presence_interval_s=0.2,
        demo_budget_minor=1_000_000,  # the show's cues launch drops
    )
    async with running_server(settings) as running:
        yield running
