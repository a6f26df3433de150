"""The ledger and the flash-sale rules against simple reference models (hypothesis), plus the
named refusals."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from commerce import sale as sl
from gala.kernel import ledger as lg
from gala.kernel.errors import GalaError

ACCOUNTS = [
    lg.account("wallet", "v1"),
    lg.account("wallet", "v2"),
    lg.account("escrow", "d1"),
    lg.account("revenue", "acme"),
    lg.account("external", "provider"),
]

transfers = st.builds(
    lambda i, src, dst, amount: (f"t{i}", src, dst, amount),
    st.integers(0, 15),
    st.sampled_from(ACCOUNTS),
    st.sampled_from(ACCOUNTS),
    st.integers(1, 5_000),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(transfers, max_size=60))
def test_ledger_matches_a_reference_model(moves: list[tuple[str, str, str, int]]) -> None:
    ledger = lg.Ledger("CNY")
    reference: dict[str, int] = {}
    posted: dict[str, tuple[str, str, int]] = {}
    for tid, src, dst, amount in moves:
        if src == dst:
            with pytest.raises(lg.BadTransfer):
                lg.Transfer(tid, src, dst, amount, "test")
            continue
        transfer = lg.Transfer(tid, src, dst, amount, "test")
        if tid in posted:
            if posted[tid] != (src, dst, amount):
                with pytest.raises(lg.TransferMismatch):
                    ledger.post(transfer)
            else:
                assert ledger.post(transfer) is ledger, "a retried transfer is a no-op"
            continue
        guarded = lg.kind_of(src) in lg.NON_NEGATIVE
        if guarded and reference.get(src, 0) < amount:
            with pytest.raises(lg.InsufficientFunds):
                ledger.post(transfer)
            continue
        ledger = ledger.post(transfer)
        posted[tid] = (src, dst, amount)
        reference[src] = reference.get(src, 0) - amount
        reference[dst] = reference.get(dst, 0) + amount
        assert lg.audit(ledger) == []
    assert {k: v for k, v in ledger.balances.items() if v} == {
        k: v for k, v in reference.items() if v
    }


def test_ledger_audit_names_each_difference() -> None:
    ledger = lg.Ledger("CNY").post(lg.Transfer("t1", ACCOUNTS[4], ACCOUNTS[0], 100, "grant"))
    broken = lg.Ledger(
        "CNY", balances={**ledger.balances, ACCOUNTS[0]: -5}, transfers=ledger.transfers
    )
    problems = lg.audit(broken)
    assert any("sum to" in p for p in problems)
    assert any("wallet:v1: balance -5, transfers say 100" in p for p in problems)
    assert any("wallet:v1 is negative" in p for p in problems)


@pytest.mark.parametrize("amount", [0, -1, 1.5, "10", 10**16])
def test_transfers_move_a_positive_whole_number_of_minor_units(amount: Any) -> None:
    with pytest.raises(lg.BadTransfer):
        lg.Transfer("t", ACCOUNTS[4], ACCOUNTS[0], amount, "x")


TERMS = sl.SaleTerms(
    "s1",
    "widget",
    price_minor=12_990,
    stock=7,
    per_viewer_limit=3,
    opens_at_ms=1_000,
    closes_at_ms=9_000,
    hold_ms=500,
)

commands = st.one_of(
    st.tuples(
        st.just("reserve"),
        st.sampled_from(["v1", "v2", "v3"]),
        st.sampled_from(["k1", "k2", "k3"]),
        st.integers(-1, 4),
    ),
    st.tuples(st.just("pay"), st.integers(0, 12)),
    st.tuples(st.just("tick"), st.integers(0, 800)),
)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 1_500), st.lists(commands, max_size=40))
def test_sale_matches_a_reference_model(start_ms: int, steps: list[tuple[Any, ...]]) -> None:
    state = sl.open_sale(sl.new_sale(TERMS))
    now = start_ms
    ref_left, ref_orders, ref_keys = TERMS.stock, {}, {}  # type: ignore[var-annotated]
    for step in steps:
        if step[0] == "tick":
            now += step[1]
            state, released = sl.expire(state, now)
            expected = sorted(
                o for o, (_v, _q, st_, exp) in ref_orders.items() if st_ == "held" and exp <= now
            )
            assert sorted(o.id for o in released) == expected
            for oid in expected:
                viewer, qty, _s, exp = ref_orders[oid]
                ref_orders[oid] = (viewer, qty, "released", exp)
                ref_left += qty
        elif step[0] == "pay":
            ids = sorted(ref_orders)
            if not ids:
                continue
            oid = ids[step[1] % len(ids)]
            viewer, qty, status, exp = ref_orders[oid]
            if status == "released":
                with pytest.raises(sl.HoldExpired):
                    sl.pay(state, oid)
            else:
                state = sl.pay(state, oid)
                ref_orders[oid] = (viewer, qty, "paid", exp)
        else:
            _, viewer, key, qty = step
            oid = f"o-{viewer}-{key}"
            try:
                state, order = sl.reserve(state, oid, viewer, key, qty, now)
                outcome = "ok"
            except GalaError as refused:
                outcome = refused.code
            assert outcome == reference_reserve(
                ref_left, ref_orders, ref_keys, viewer, key, qty, now
            )
            if outcome == "ok" and (viewer, key) not in ref_keys:
                ref_keys[(viewer, key)] = oid
                ref_orders[oid] = (viewer, qty, "held", now + TERMS.hold_ms)
                ref_left -= qty
        assert sl.check(state) == []
        assert state.left == ref_left
        assert state.sold == sum(q for _v, q, s, _e in ref_orders.values() if s == "paid")


def reference_reserve(
    left: int,
    orders: dict[str, Any],
    keys: dict[Any, str],
    viewer: str,
    key: str,
    qty: int,
    now: int,
) -> str:
    if (viewer, key) in keys:
        return "ok" if orders[keys[(viewer, key)]][1] == qty else "idempotency_mismatch"
    if not 1 <= qty <= TERMS.per_viewer_limit:
        return "bad_quantity"
    if now >= TERMS.closes_at_ms:  # type: ignore[operator]
        return "sale_closed"
    if now < TERMS.opens_at_ms:
        return "sale_not_open"
    if left == 0:
        return "sold_out"
    if qty > left:
        return "not_enough_stock"
    mine = sum(q for v, q, s, _e in orders.values() if v == viewer and s != "released")
    if mine + qty > TERMS.per_viewer_limit:
        return "limit_reached"
    return "ok"


def test_a_scheduled_or_closed_sale_refuses_taps_whatever_the_clock() -> None:
    scheduled = sl.new_sale(TERMS)
    with pytest.raises(sl.SaleNotOpen):
        sl.reserve(scheduled, "o1", "v1", "k1", 1, 2_000)
    live = sl.open_sale(scheduled)
    with pytest.raises(sl.SaleNotOpen):
        sl.reserve(live, "o1", "v1", "k1", 1, 999)
    sl.reserve(live, "o1", "v1", "k1", 1, 1_000)
    with pytest.raises(sl.SaleClosed):
        sl.reserve(sl.close_sale(live), "o1", "v1", "k1", 1, 2_000)


def test_an_expired_hold_returns_its_stock_exactly_once() -> None:
    state, order = sl.reserve(sl.open_sale(sl.new_sale(TERMS)), "o1", "v1", "k1", 2, 1_000)
    assert (state.left, state.held) == (5, 2)
    state, released = sl.expire(state, 1_500)
    assert released == [order] and (state.left, state.held) == (7, 0)
    state, released = sl.expire(state, 5_000)
    assert released == [] and state.left == 7
    with pytest.raises(sl.HoldExpired):
        sl.pay(state, "o1")
