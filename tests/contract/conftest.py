"""The store every contract suite runs against: a fresh one of each backend (`store_url`)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from gala.stores.factory import StoreBundle, open_store


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[StoreBundle]:
    bundle = await open_store(store_url)
    await bundle.hub.create_store_identity("store-contract-tests")  # as a node opening it would
    yield bundle
    await bundle.close()
