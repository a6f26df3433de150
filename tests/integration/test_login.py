"""Logging in through a real server: the password check runs off the event loop (the node keeps
answering while one is checked), and too many attempts get a coded, retryable 429 on the API and
on the login form."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from gala.auth import login as login_module
from gala.auth.login import PER_USERNAME
from gala.auth.tokens import PRODUCER, hash_password
from gala.settings import Settings
from gala.stores.ports import Account
from tests.support import RunningServer, running_server, write_show

PASSWORD = "correct horse battery"


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[RunningServer]:
    settings = Settings(
        store_url=f"sqlite:///{tmp_path / 'gala.db'}", show_files=(write_show(tmp_path),), port=0
    )
    async with running_server(settings) as running:
        await running.node.store.hub.put_account(Account("ann", hash_password(PASSWORD), PRODUCER))
        yield running


async def post_login(
    http: aiohttp.ClientSession, node: RunningServer, password: str
) -> tuple[int, dict[str, str], dict[str, Any]]:
    async with http.post(
        f"{node.base_url}/api/login", json={"username": "ann", "password": password}
    ) as resp:
        return resp.status, dict(resp.headers), await resp.json()


async def test_the_node_answers_other_requests_while_a_password_is_checked(
    node: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    checking, release = threading.Event(), threading.Event()
    real_verify = login_module.verify_password

    def slow_verify(password: str, stored: str) -> bool:
        checking.set()
        # were this on the event loop, the loop would wait here and /healthz below could not
        # be answered: the test would fail on its timeout instead of hanging
        release.wait(10)
        return real_verify(password, stored)

    monkeypatch.setattr(login_module, "verify_password", slow_verify)
    async with aiohttp.ClientSession() as http:
        login = asyncio.create_task(post_login(http, node, PASSWORD))
        assert await asyncio.to_thread(checking.wait, 10)
        async with http.get(f"{node.base_url}/healthz", timeout=aiohttp.ClientTimeout(5)) as resp:
            assert resp.status == 200 and (await resp.json())["ok"]
        assert not login.done(), "the login is still being checked"
        release.set()
        status, _, body = await login
    assert status == 200 and body["data"]["username"] == "ann"


async def test_too_many_failed_logins_get_a_retryable_rate_limited_answer(
    node: RunningServer,
) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(PER_USERNAME.burst):
            status, _, body = await post_login(http, node, "wrong")
            assert (status, body["error"]["code"]) == (401, "bad_login")
        status, headers, body = await post_login(http, node, PASSWORD)
    assert status == 429
    assert set(body["error"]) == {"code", "message", "retry_after_s"}
    assert body["error"]["code"] == "rate_limited"
    assert int(headers["Retry-After"]) == body["error"]["retry_after_s"] > 0


async def test_the_login_form_is_rate_limited_too(node: RunningServer) -> None:
    async with aiohttp.ClientSession() as http:
        for expected in [401] * PER_USERNAME.burst + [429]:
            async with http.post(
                f"{node.base_url}/login",
                data={"username": "ann", "password": "wrong", "next": "/console"},
                allow_redirects=False,
            ) as resp:
                assert resp.status == expected
                page = await resp.text()
        assert "too many login attempts" in page and int(resp.headers["Retry-After"]) > 0
