"""Red-envelope drops through real sockets (both backends): a cue or the console launches a drop,
viewers grab, the window is the server's, one envelope per viewer however many taps and
connections, wallets are credited once, the leftover is refunded once, and the audit is clean."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import socketio

from gala.kernel.ledger import account
from gala.money_audit import audit_store
from gala.settings import Settings
from gala.stores.factory import open_store
from redpackets.service import DropService, escrow_of
from tests.support import (
    DROP_SHOW,
    RunningServer,
    Viewer,
    add_producer,
    call_as_the_page,
    connect_and_join,
    connect_viewer,
    drop_show,
    gala_process,
    producer_client,
    running_server,
    viewer_tokens,
)

SHOW_BUDGET = account("show_budget", DROP_SHOW)
Starter = Callable[..., contextlib.AbstractAsyncContextManager[RunningServer]]


@pytest.fixture
def gala(store_url: str, tmp_path: Path) -> Starter:
    """Start a server on a one-drop show: `async with gala(envelopes=..., budget_minor=...)`."""

    @contextlib.asynccontextmanager
    async def start(funds: int = 1_000_000, **drop: Any) -> AsyncIterator[RunningServer]:
        settings = Settings(
            store_url=store_url,
            show_files=(drop_show(tmp_path, **drop),),
            demo_budget_minor=funds,
        )
        async with running_server(settings) as server:
            yield server

    return start


async def producer_of(server: RunningServer) -> Viewer:
    return await connect_viewer(server.base_url, await server.producer_token(), "/producer")


async def go(producer: Viewer, cue: str = "c1") -> dict[str, Any]:
    return await producer.call(
        "go", {"show_id": DROP_SHOW, "standby_cue_id": cue}, namespace="/producer"
    )


async def viewer_of(server: RunningServer, token: str | None = None) -> Viewer:
    viewer = await connect_viewer(server.base_url, token or await server.viewer_token())
    assert (await viewer.call("join", {"show_id": DROP_SHOW}))["ok"]
    return viewer


async def drop_in_snapshot(client: socketio.AsyncClient) -> str:
    """The one drop of the show, once this node's snapshot has it."""
    for _ in range(300):
        joined = await client.call("join", {"show_id": DROP_SHOW}, timeout=30)
        drops = list(joined["data"]["snapshot"]["drops"])
        if drops:
            return drops[0]
        await asyncio.sleep(0.05)
    raise AssertionError("the drop never reached the snapshot")


def grab(client: socketio.AsyncClient | Viewer, drop_id: str) -> Any:
    payload = {"show_id": DROP_SHOW, "drop_id": drop_id}
    if isinstance(client, Viewer):
        return client.call("grab", payload)
    return call_as_the_page(client, "grab", payload)


async def settle(server: RunningServer) -> None:
    """Run the sweeper's drop step now (it also runs every second on its own)."""
    await server.node.drops.sweep(DROP_SHOW)


async def wallet_of(server: RunningServer, viewer: Viewer | str) -> int:
    token = viewer if isinstance(viewer, str) else None
    if token is None:
        ack = await viewer.call("wallet", {"show_id": DROP_SHOW})  # type: ignore[union-attr]
        return int(ack["data"]["balance_minor"])
    subject = server.node.authenticate(token).subject
    return await server.node.store.ledger.balance(account("wallet", subject))


@pytest.mark.timeout(400)
async def test_5000_grabbers_on_1000_envelopes(store_url: str, tmp_path: Path) -> None:
    """The server runs in its own process, so 5,000 clients in this one do not starve it."""
    show = drop_show(tmp_path, envelopes=1000, budget_minor=88_800)
    add_producer(store_url, "drop-op", "drop-op-pass", tmp_path)
    with gala_process(store_url, show, tmp_path, demo_budget_minor=1_000_000) as (_proc, base):
        tokens = await viewer_tokens(base, 5000)
        grabbers = await connect_and_join(base, tokens, DROP_SHOW)
        try:
            async with producer_client(base, "drop-op", "drop-op-pass") as producer:
                ack = await producer.call(
                    "go", {"show_id": DROP_SHOW, "standby_cue_id": "c1"}, namespace="/producer"
                )
                assert ack["ok"], ack
            drop_id = await drop_in_snapshot(grabbers[0])
            acks = await asyncio.gather(*(grab(c, drop_id) for c in grabbers))
        finally:
            await asyncio.gather(*(c.disconnect() for c in grabbers))
        outcomes = Counter("won" if a["ok"] else a["error"]["code"] for a in acks)
        assert outcomes == {"won": 1000, "empty": 4000}, outcomes
        wins = [a["data"] for a in acks if a["ok"]]
        assert sum(w["amount_minor"] for w in wins) == 88_800
        assert all(w["amount_minor"] >= 1 for w in wins)
        for win in wins:
            assert win["balance_minor"] == win["amount_minor"], "credited before the answer"
        await asyncio.sleep(1.5)  # the sweeper closes the empty drop

    store = await open_store(store_url)
    try:
        claims = await store.drops.claims(drop_id)
        assert len({c.viewer_id for c in claims}) == 1000, "distinct viewers"
        for claim in claims:
            wallet = await store.ledger.balance(account("wallet", claim.viewer_id))
            assert wallet == claim.amount_minor, "each winner credited exactly once"
        assert await store.ledger.balance(escrow_of(drop_id)) == 0
        assert await store.ledger.balance(SHOW_BUDGET) == 1_000_000 - 88_800
        problems, summary = await audit_store(store)
        assert problems == [], problems
        assert "1 drops, 1000 claims" in summary
    finally:
        await store.close()


async def test_one_viewer_tapping_20_times_from_3_connections_gets_one_envelope(
    gala: Starter,
) -> None:
    async with gala(envelopes=50, budget_minor=5_000) as server:
        token = await server.viewer_token()
        devices = [await viewer_of(server, token) for _ in range(3)]
        producer = await producer_of(server)
        assert (await go(producer))["ok"]
        drop_id = (await devices[0].wait_for_event("drop.announced"))["drop_id"]
        acks = await asyncio.gather(*(grab(devices[i % 3], drop_id) for i in range(20)))
        won = [a["data"]["amount_minor"] for a in acks if a["ok"]]
        assert len(won) == 1
        codes = Counter(a["error"]["code"] for a in acks if not a["ok"])
        assert set(codes) <= {"already_grabbed", "rate_limited"} and codes["already_grabbed"]
        again = [
            a["error"]["amount_minor"] for a in acks if not a["ok"] and "amount_minor" in a["error"]
        ]
        assert set(again) == {won[0]}, "a repeat tap answers the first amount"
        assert await wallet_of(server, devices[1]) == won[0]
        await settle(server)
        assert (await audit_store(server.node.store))[0] == []
        for viewer in (*devices, producer):
            await viewer.close()


async def test_grabs_before_the_opening_and_after_the_close_are_refused_and_the_refund_is_once(
    gala: Starter,
) -> None:
    async with gala(
        envelopes=10, budget_minor=1_000, countdown_ms=1_500, duration_ms=1_500
    ) as server:
        viewers = [await viewer_of(server) for _ in range(4)]
        producer = await producer_of(server)
        assert (await go(producer))["ok"]
        drop = await viewers[0].wait_for_event("drop.announced")
        early = await grab(viewers[0], drop["drop_id"])
        assert early["error"]["code"] == "not_open"
        node = server.node
        while node.clock.now_ms() < drop["opens_at_ms"]:
            await asyncio.sleep(0.05)
        won = [await grab(v, drop["drop_id"]) for v in viewers[:3]]
        claimed = sum(a["data"]["amount_minor"] for a in won)
        while node.clock.now_ms() < drop["closes_at_ms"]:
            await asyncio.sleep(0.05)
        late = await grab(viewers[3], drop["drop_id"])
        assert late["error"]["code"] == "closed"
        again = await grab(viewers[0], drop["drop_id"])
        assert again["error"] == {
            "code": "already_grabbed",
            "message": again["error"]["message"],
            "amount_minor": won[0]["data"]["amount_minor"],
        }
        other_node = DropService(
            node.store.drops,
            node.store.ledger,
            node.store.taps,
            node.clock,
            __import__("random").Random(5),
        )
        await asyncio.gather(settle(server), other_node.sweep(DROP_SHOW), settle(server))
        await other_node.sweep(DROP_SHOW)
        refund = await node.store.ledger.transfer(f"drop/{drop['drop_id']}/refund")
        assert refund is not None and refund.amount_minor == 1_000 - claimed
        assert await node.store.ledger.balance(SHOW_BUDGET) == 1_000_000 - claimed
        assert await node.store.ledger.balance(escrow_of(drop["drop_id"])) == 0
        assert (await audit_store(node.store))[0] == []
        for viewer in (*viewers, producer):
            await viewer.close()


async def test_a_drop_the_funder_cannot_cover_is_refused_at_go_and_at_the_console(
    gala: Starter,
) -> None:
    async with gala(funds=999, envelopes=10, budget_minor=1_000) as server:
        producer = await producer_of(server)
        refused = await go(producer)
        assert refused["error"]["code"] == "drop_unfunded"
        stage = await server.node.stage.state(DROP_SHOW)
        assert stage.standby_cue_id == "c1", "nothing fired"
        launch = {"show_id": DROP_SHOW, "key": "launch-1", "budget_minor": 2_000, "envelopes": 5}
        ack = await producer.call("drop:launch", launch, namespace="/producer")
        assert ack["error"]["code"] == "drop_unfunded"
        assert await server.node.store.ledger.balance(SHOW_BUDGET) == 999, "nothing moved"
        bad = await producer.call("drop:launch", {**launch, "envelopes": 0}, namespace="/producer")
        assert bad["error"]["code"] == "bad_action"
        await producer.close()


async def test_the_console_launches_a_drop_once_per_key_and_viewers_see_it(gala: Starter) -> None:
    async with gala(envelopes=10, budget_minor=1_000) as server:
        viewer = await viewer_of(server)
        producer = await producer_of(server)
        launch = {
            "show_id": DROP_SHOW,
            "key": "launch-7",
            "budget_minor": 600,
            "envelopes": 3,
            "countdown_ms": 0,
            "funder": "show",
        }
        first = await producer.call("drop:launch", launch, namespace="/producer")
        again = await producer.call("drop:launch", launch, namespace="/producer")
        assert first["ok"] and again["ok"], (first, again)
        assert first["data"]["drop"]["drop_id"] == again["data"]["drop"]["drop_id"]
        drop = await viewer.wait_for_event("drop.announced")
        assert drop == first["data"]["drop"]
        assert await server.node.store.ledger.balance(SHOW_BUDGET) == 1_000_000 - 600
        ack = await grab(viewer, drop["drop_id"])
        assert ack["ok"] and ack["data"]["balance_minor"] == ack["data"]["amount_minor"]
        assert sum(e["type"] == "drop.announced" for e in viewer.events) == 1
        entries = await producer.call("audit", {"show_id": DROP_SHOW}, namespace="/producer")
        assert any(e["action"] == "drop" for e in entries["data"]["entries"])
        await viewer.close()
        await producer.close()


async def test_bad_grabs_get_stable_codes_and_touch_nothing(gala: Starter) -> None:
    async with gala(envelopes=10, budget_minor=1_000) as server:
        viewer = await viewer_of(server)
        producer = await producer_of(server)
        assert (await go(producer))["ok"]
        drop_id = (await viewer.wait_for_event("drop.announced"))["drop_id"]
        cases = [
            ({"show_id": DROP_SHOW}, "bad_field"),
            ({"show_id": DROP_SHOW, "drop_id": 7}, "bad_field"),
            ({"show_id": DROP_SHOW, "drop_id": "x" * 65}, "bad_field"),
            ({"show_id": DROP_SHOW, "drop_id": "d-nope"}, "unknown_drop"),
            ({"show_id": "no-show", "drop_id": drop_id}, "unknown_show"),
            (["not", "an", "object"], "bad_payload"),
        ]
        for payload, code in cases:
            ack = await viewer.call("grab", payload)
            assert ack["error"]["code"] == code, (payload, ack)
        producer_on_viewers = await connect_viewer(server.base_url, await server.producer_token())
        as_producer = await producer_on_viewers.call(
            "grab", {"show_id": DROP_SHOW, "drop_id": drop_id}
        )
        assert as_producer["error"]["code"] == "forbidden"
        won = await grab(viewer, drop_id)
        assert won["ok"], "the connection is still up"
        counts = await server.node.drops.counts(drop_id)
        assert (counts.left, counts.claimed_minor) == (9, won["data"]["amount_minor"])
        for client in (viewer, producer, producer_on_viewers):
            await client.close()
