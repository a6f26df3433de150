"""Sales on the show log: the cue actions that open and close a product's sale, the public events
they produce, and their fold into the viewer's snapshot. Pure.

A cue's `sale.open` publishes `sale.opened` with the sale's full terms (id, price, stock, limit,
window in server time), so every node knows the sale from the log alone and creates it in the
sale store on first use (idempotently). The window is the server's: it opens at the cue's
program time and closes `duration_ms` later (or at `sale.close`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from gala.kernel.errors import BadRequest
from gala.kernel.showlog import NewEvent

from .sale import SaleTerms

SALE_OPENED = "sale.opened"
SALE_CLOSED = "sale.closed"
EVENT_TYPES = (SALE_OPENED, SALE_CLOSED)
ACTION_KINDS = ("sale.open", "sale.close")
DEFAULT_HOLD_MS = 5 * 60_000


class SaleActionError(BadRequest):
    code = "bad_action"


@dataclass(frozen=True, slots=True)
class OpenSale:
    product_id: str
    sponsor_id: str
    price_minor: int
    currency: str
    stock: int
    per_viewer_limit: int
    duration_ms: int | None
    hold_ms: int


@dataclass(frozen=True, slots=True)
class CloseSale:
    product_id: str


SaleAction = OpenSale | CloseSale


def parse_sale_action(
    raw: Mapping[str, Any], products: Mapping[str, Mapping[str, Any]]
) -> SaleAction:
    """Validate a `sale.open` / `sale.close` action against the show's products."""
    kind = raw.get("do")
    product_id = raw.get("product")
    product = products.get(product_id) if isinstance(product_id, str) else None
    if product is None:
        raise SaleActionError(f"{kind} names unknown product {product_id!r}")
    assert isinstance(product_id, str)
    if kind == "sale.close":
        return CloseSale(product_id)
    duration = raw.get("duration_ms")
    if duration is not None and (type(duration) is not int or not 0 < duration <= 86_400_000):
        raise SaleActionError("sale.open duration_ms must be a positive whole number of ms")
    hold = raw.get("hold_ms", DEFAULT_HOLD_MS)
    if type(hold) is not int or not 1_000 <= hold <= 86_400_000:
        raise SaleActionError("sale.open hold_ms must be between 1000 and 86400000")
    stock, limit = product.get("stock", 0), product.get("per_viewer_limit", 1)
    if type(stock) is not int or stock <= 0:
        raise SaleActionError(f"sale.open: product {product_id!r} has no stock")
    if type(limit) is not int or limit <= 0:
        raise SaleActionError(f"sale.open: product {product_id!r} needs a per_viewer_limit")
    return OpenSale(
        product_id,
        str(product["sponsor"]["id"]),
        int(product["price_minor"]),
        str(product["currency"]),
        stock,
        limit,
        duration,
        hold,
    )


def sale_id_for(show_id: str, product_id: str, opens_at_ms: int) -> str:
    """One id per opening of a product's sale (a product may be sold again in an encore)."""
    return f"{show_id}-{product_id}-{opens_at_ms}"


def events_for(show_id: str, action: SaleAction, program_time_ms: int) -> list[NewEvent]:
    if isinstance(action, CloseSale):
        return [NewEvent(SALE_CLOSED, program_time_ms, {"product_id": action.product_id})]
    closes = None if action.duration_ms is None else program_time_ms + action.duration_ms
    data = {
        "sale_id": sale_id_for(show_id, action.product_id, program_time_ms),
        "product_id": action.product_id,
        "sponsor_id": action.sponsor_id,
        "price_minor": action.price_minor,
        "currency": action.currency,
        "stock": action.stock,
        "per_viewer_limit": action.per_viewer_limit,
        "opens_at_ms": program_time_ms,
        "closes_at_ms": closes,
        "hold_ms": action.hold_ms,
    }
    return [NewEvent(SALE_OPENED, program_time_ms, data)]


def terms_of(sale: Mapping[str, Any]) -> SaleTerms:
    """The store terms of a sale as published in `sale.opened`."""
    return SaleTerms(
        sale["sale_id"],
        sale["product_id"],
        sale["price_minor"],
        sale["stock"],
        sale["per_viewer_limit"],
        sale["opens_at_ms"],
        sale["closes_at_ms"],
        sale["hold_ms"],
    )


@dataclass(frozen=True, slots=True)
class SalesBoard:
    """The part of the viewer's snapshot commerce owns: each product's latest sale."""

    sales: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def as_wire(self) -> dict[str, Any]:
        return {product: dict(sale) for product, sale in self.sales.items()}


def fold(board: SalesBoard, event_type: str, data: Mapping[str, Any]) -> SalesBoard:
    if event_type == SALE_OPENED:
        return replace(board, sales={**board.sales, data["product_id"]: {**data, "status": "open"}})
    if event_type == SALE_CLOSED and data["product_id"] in board.sales:
        closed = {**board.sales[data["product_id"]], "status": "closed"}
        return replace(board, sales={**board.sales, data["product_id"]: closed})
    return board
