"""One contract for every sponsor store backend (SQLite and Redis), through the sponsor service:
products scoped to their sponsor, bookings whose slot and budget checks hold under concurrency,
and state changes that release what a booking held exactly once."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from gala.kernel.clock import ManualClock
from gala.kernel.ledger import Transfer, account
from gala.stores.factory import StoreBundle
from sponsors.model import (
    BookingRequest,
    DropPlan,
    NewProduct,
    ProductEdit,
    ShowFacts,
    Slot,
    UnknownShow,
)
from sponsors.service import SponsorService, budget_account
from tests.support import code_of

SHOW = ShowFacts("gala", ("en",), frozenset({f"c{i:02d}" for i in range(1, 31)}))
X5 = NewProduct("x5", {"en": "Aurora X5"}, price_minor=1000, stock=5)


def facts(sponsor_id: str, show_id: str) -> ShowFacts:
    if show_id != SHOW.show_id:
        raise UnknownShow(show_id)
    return SHOW


@pytest.fixture
def sponsors(store: StoreBundle) -> SponsorService:
    return SponsorService(store.sponsors, store.sponsors, store.ledger, ManualClock(), facts)


async def deposit(store: StoreBundle, sponsor_id: str, amount: int) -> None:
    await store.ledger.post(
        Transfer(
            f"deposit/{sponsor_id}/{amount}",
            account("external", "deposits"),
            budget_account(sponsor_id),
            amount,
            "budget deposit",
        )
    )


def reveal(cue: str = "c01", drop: DropPlan | None = None) -> BookingRequest:
    return BookingRequest("gala", "x5", Slot(after_cue=cue), sale_duration_ms=60_000, drop=drop)


async def test_products_belong_to_their_sponsor_only(sponsors: SponsorService) -> None:
    made = await sponsors.create_product("aurora", X5)
    assert await sponsors.product("aurora", "x5") == made
    assert await code_of(sponsors.create_product("aurora", X5)) == "product_exists"
    await sponsors.create_product("borealis", X5)  # the same id for another sponsor is its own
    edited = await sponsors.edit_product("aurora", "x5", ProductEdit(stock=9))
    assert (await sponsors.product("aurora", "x5")).stock == edited.stock == 9
    assert (await sponsors.product("borealis", "x5")).stock == 5
    assert [p.product_id for p in await sponsors.products("aurora")] == ["x5"]
    assert await sponsors.products("nobody") == []
    assert await code_of(sponsors.product("nobody", "x5")) == "unknown_product"
    assert (
        await code_of(sponsors.edit_product("nobody", "x5", ProductEdit(stock=1)))
        == "unknown_product"
    )


async def test_concurrent_bookings_of_one_slot_give_it_to_exactly_one(
    sponsors: SponsorService,
) -> None:
    for sponsor in ("aurora", "borealis"):
        await sponsors.create_product(sponsor, X5)
    calls = [sponsors.book(("aurora", "borealis")[i % 2], reveal()) for i in range(20)]
    codes = [await code_of(c) for c in asyncio.as_completed(calls)]
    assert sorted(set(codes)) == ["ok", "slot_taken"] and codes.count("ok") == 1
    held = [b for b in await sponsors.show_bookings("gala") if b.holds]
    assert len(held) == 1


async def test_concurrent_drops_never_reserve_more_than_the_budget(
    store: StoreBundle, sponsors: SponsorService
) -> None:
    await sponsors.create_product("aurora", X5)
    await deposit(store, "aurora", 1000)
    drop = DropPlan(budget_minor=300, envelopes=3)
    calls = [sponsors.book("aurora", reveal(f"c{i + 1:02d}", drop=drop)) for i in range(10)]
    codes = await asyncio.gather(*(code_of(c) for c in calls))
    assert codes.count("ok") == 3 and codes.count("insufficient_budget") == 7
    budget = await sponsors.budget("aurora")
    assert budget.as_wire() == {
        "balance_minor": 1000,
        "reserved_minor": 900,
        "available_minor": 100,
    }


async def test_withdrawing_or_rejecting_releases_the_slot_and_the_budget_once(
    store: StoreBundle, sponsors: SponsorService
) -> None:
    await sponsors.create_product("aurora", X5)
    await deposit(store, "aurora", 500)
    drop = DropPlan(budget_minor=500, envelopes=5)
    first = await sponsors.book("aurora", reveal(drop=drop))
    assert await code_of(sponsors.book("aurora", reveal("c02", drop=drop))) == (
        "insufficient_budget"
    )
    withdrawn = await sponsors.withdraw("aurora", first.booking_id)
    assert withdrawn.state == "withdrawn"
    assert await code_of(sponsors.withdraw("aurora", first.booking_id)) == "booking_not_pending"
    second = await sponsors.book("aurora", reveal(drop=drop))  # same slot, same money: free again
    rejected = await sponsors.reject("gala", second.booking_id, "ann", "the host is off")
    assert (rejected.state, rejected.reason, rejected.decided_by) == (
        "rejected",
        "the host is off",
        "ann",
    )
    third = await sponsors.book("aurora", reveal(drop=drop))
    approved = await sponsors.approve("gala", third.booking_id, "ann")
    assert approved.state == "approved"
    assert await code_of(sponsors.book("aurora", reveal())) == "slot_taken"
    assert (await sponsors.budget("aurora")).reserved_minor == 500
    states = {b.booking_id: b.state for b in await sponsors.bookings_of("aurora")}
    assert states == {
        first.booking_id: "withdrawn",
        second.booking_id: "rejected",
        third.booking_id: "approved",
    }


async def test_approve_and_withdraw_racing_on_one_booking_leave_one_outcome(
    sponsors: SponsorService,
) -> None:
    await sponsors.create_product("aurora", X5)
    booked = await sponsors.book("aurora", reveal())
    codes = await asyncio.gather(
        code_of(sponsors.approve("gala", booked.booking_id, "ann")),
        code_of(sponsors.withdraw("aurora", booked.booking_id)),
    )
    assert sorted(codes) == ["booking_not_pending", "ok"]
    final = await sponsors.booking_of("aurora", booked.booking_id)
    assert final.state == ("approved" if codes[0] == "ok" else "withdrawn")


async def test_another_sponsors_booking_answers_like_one_that_does_not_exist(
    sponsors: SponsorService,
) -> None:
    await sponsors.create_product("aurora", X5)
    booked = await sponsors.book("aurora", reveal())
    for call in (
        sponsors.booking_of("borealis", booked.booking_id),
        sponsors.withdraw("borealis", booked.booking_id),
        sponsors.booking_of("borealis", "bk-nope"),
    ):
        assert await code_of(call) == "unknown_booking"
    assert await sponsors.bookings_of("borealis") == []
    assert await code_of(sponsors.approve("other-show", booked.booking_id, "ann")) == (
        "unknown_booking"
    )
    assert await code_of(sponsors.book("borealis", reveal())) == "unknown_product"
    assert await code_of(sponsors.book("aurora", replace(reveal(), show_id="nope"))) == (
        "unknown_show"
    )
