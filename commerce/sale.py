"""A flash sale's rules: stock, holds, per-viewer limits, idempotency keys and the sale window.
Pure: commands in, new state out, no I/O, time passed in by the caller (the server's clock).

A tap reserves units (`reserve`): the units leave `left` and become `held` by an order, which is
then paid (`pay`: held -> sold) or expires (`expire`: held -> left, exactly once). So
`sold + held + left == stock` always, and a viewer's held and sold units never pass the limit,
however many devices it taps from. One idempotency key of a viewer names one order: the same key
again returns that order, the same key with another quantity is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from gala.kernel.errors import BadRequest, Conflict

SCHEDULED, OPEN, CLOSED = "scheduled", "open", "closed"
HELD, PAID, RELEASED = "held", "paid", "released"


class SaleNotOpen(Conflict):
    code = "sale_not_open"


class SaleClosed(Conflict):
    code = "sale_closed"


class SoldOut(Conflict):
    code = "sold_out"


class NotEnoughStock(Conflict):
    code = "not_enough_stock"


class LimitReached(Conflict):
    code = "limit_reached"


class BadQuantity(BadRequest):
    code = "bad_quantity"


class KeyReused(Conflict):
    code = "idempotency_mismatch"


class HoldExpired(Conflict):
    """A payment for an order whose hold already returned its stock: refund it."""

    code = "hold_expired"


class UnknownOrder(Conflict):
    code = "unknown_order"


@dataclass(frozen=True, slots=True)
class SaleTerms:
    sale_id: str
    product_id: str
    price_minor: int
    stock: int
    per_viewer_limit: int
    opens_at_ms: int
    closes_at_ms: int | None
    hold_ms: int


@dataclass(frozen=True, slots=True)
class Order:
    id: str
    viewer_id: str
    key: str
    quantity: int
    amount_minor: int
    state: str
    expires_at_ms: int


@dataclass(frozen=True, slots=True)
class SaleState:
    terms: SaleTerms
    status: str = SCHEDULED
    left: int = 0
    held: int = 0
    sold: int = 0
    taken: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    orders: Mapping[str, Order] = field(default_factory=lambda: MappingProxyType({}))
    by_key: Mapping[tuple[str, str], str] = field(default_factory=lambda: MappingProxyType({}))


def new_sale(terms: SaleTerms) -> SaleState:
    return SaleState(terms, left=terms.stock)


def open_sale(state: SaleState) -> SaleState:
    return state if state.status == OPEN else replace(state, status=OPEN)


def close_sale(state: SaleState) -> SaleState:
    return replace(state, status=CLOSED)


def check_quantity(terms: SaleTerms, quantity: int) -> None:
    """A tap asks for 1 to the sale's per-viewer limit."""
    if not 1 <= quantity <= terms.per_viewer_limit:
        raise BadQuantity(f"quantity must be a whole number from 1 to {terms.per_viewer_limit}")


def check_window(terms: SaleTerms, status: str, now_ms: int) -> None:
    """The sale takes taps while open and inside its window on the server's clock."""
    if status == CLOSED or (terms.closes_at_ms is not None and now_ms >= terms.closes_at_ms):
        raise SaleClosed("this sale has closed")
    if status != OPEN or now_ms < terms.opens_at_ms:
        raise SaleNotOpen("this sale has not opened yet")


def on_sale(terms: SaleTerms, status: str, now_ms: int) -> bool:
    try:
        check_window(terms, status, now_ms)
    except (SaleClosed, SaleNotOpen):
        return False
    return True


def amount_minor(terms: SaleTerms, quantity: int) -> int:
    return quantity * terms.price_minor


def reserve(
    state: SaleState, order_id: str, viewer_id: str, key: str, quantity: int, now_ms: int
) -> tuple[SaleState, Order]:
    """Hold `quantity` units for the viewer. The same (viewer, key) returns its first order.

    `commerce/lua/reserve.lua` applies these same checks, in this order, atomically on Redis;
    `tests/contract/test_sale_store.py` holds both backends to this function, rule by rule."""
    known = state.by_key.get((viewer_id, key))
    if known is not None:
        order = state.orders[known]
        if order.quantity != quantity:
            raise KeyReused("this idempotency key was used for another quantity")
        return state, order
    terms = state.terms
    check_quantity(terms, quantity)
    check_window(terms, state.status, now_ms)
    if state.left == 0:
        raise SoldOut("sold out")
    if quantity > state.left:
        raise NotEnoughStock(f"only {state.left} left")
    taken = state.taken.get(viewer_id, 0)
    if taken + quantity > terms.per_viewer_limit:
        raise LimitReached(f"the limit is {terms.per_viewer_limit} per viewer; you have {taken}")
    order = Order(
        order_id,
        viewer_id,
        key,
        quantity,
        amount_minor(terms, quantity),
        HELD,
        now_ms + terms.hold_ms,
    )
    return replace(
        state,
        left=state.left - quantity,
        held=state.held + quantity,
        taken=_with(state.taken, viewer_id, taken + quantity),
        orders=_with(state.orders, order_id, order),
        by_key=_with(state.by_key, (viewer_id, key), order_id),
    ), order


def pay(state: SaleState, order_id: str) -> SaleState:
    """Mark a held order paid. Paying a paid order changes nothing; an expired one is refused
    with `hold_expired` (the caller refunds the payment)."""
    order = state.orders.get(order_id)
    if order is None:
        raise UnknownOrder(f"no order {order_id!r} in this sale")
    if order.state == PAID:
        return state
    if order.state == RELEASED:
        raise HoldExpired("the hold expired before the payment arrived")
    return replace(
        state,
        held=state.held - order.quantity,
        sold=state.sold + order.quantity,
        orders=_with(state.orders, order_id, replace(order, state=PAID)),
    )


def expire(state: SaleState, now_ms: int) -> tuple[SaleState, list[Order]]:
    """Release every held order whose hold is over, returning its stock; each exactly once."""
    due = [o for o in state.orders.values() if o.state == HELD and o.expires_at_ms <= now_ms]
    for order in due:
        taken = state.taken[order.viewer_id] - order.quantity
        state = replace(
            state,
            left=state.left + order.quantity,
            held=state.held - order.quantity,
            taken=_with(state.taken, order.viewer_id, taken),
            orders=_with(state.orders, order.id, replace(order, state=RELEASED)),
        )
    return state, due


def check(state: SaleState) -> list[str]:
    """Every broken invariant of the sale (empty when sound)."""
    problems = []
    if state.sold + state.held + state.left != state.terms.stock:
        problems.append(
            f"sold {state.sold} + held {state.held} + left {state.left} "
            f"!= stock {state.terms.stock}"
        )
    if min(state.sold, state.held, state.left) < 0:
        problems.append("a count is negative")
    units = {HELD: 0, PAID: 0}
    per_viewer: dict[str, int] = {}
    for order in state.orders.values():
        if order.state in units:
            units[order.state] += order.quantity
            per_viewer[order.viewer_id] = per_viewer.get(order.viewer_id, 0) + order.quantity
    if (units[HELD], units[PAID]) != (state.held, state.sold):
        problems.append("held or sold disagree with the orders")
    for viewer, count in per_viewer.items():
        if count > state.terms.per_viewer_limit:
            problems.append(f"{viewer} holds {count}, over the limit")
    for viewer in sorted(set(per_viewer) | {k for k, v in state.taken.items() if v}):
        counted, ordered = state.taken.get(viewer, 0), per_viewer.get(viewer, 0)
        if counted != ordered:
            problems.append(f"per-viewer count of {viewer} is {counted}, its orders hold {ordered}")
    return problems


def _with(mapping: Mapping, key: object, value: object) -> Mapping:  # type: ignore[type-arg]
    copy = dict(mapping)
    copy[key] = value
    return MappingProxyType(copy)
