"""Headless Debian Chromium driven by Playwright (never a downloaded browser). Skipped when
/usr/bin/chromium is missing, except with CI=true, where the browser leg is mandatory."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.support import IN_CI

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    if not os.path.exists(CHROMIUM):
        if IN_CI:
            pytest.fail("CI=true but /usr/bin/chromium is missing: the browser leg is mandatory")
        pytest.skip("Debian chromium is not installed")
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=FLAGS, headless=True
        )
        yield browser
        await browser.close()
