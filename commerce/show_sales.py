"""Sales on the show log: the cue actions that open and close a product's sale, the public events
they produce, and their fold into the viewer's snapshot. Pure.

A cue's `sale.open` publishes `sale.opened` with the sale's full terms (id, price, stock, limit,
window in server time), so every node knows the sale from the log alone and creates it in the
sale store on first use (idempotently). The window is the server's: it opens at the cue's
program time and closes `duration_ms` later (or at `sale.close`).

The fold reads each `sale.opened` once into an `AnnouncedSale`, a frozen, typed record; the tap,
the sweeper and the figures take that record, never the event's JSON.

Each opening is its own sale (`sale_id_for`): an encore that opens a product's sale again starts
a new sale with the product's declared stock and per-viewer limit, and taps go to it. The board
keeps, per product, its current sale, and every earlier sale of the log's epoch beside it, so
the show's GMV, the sweeper and a viewer's orders still reach the sales an encore replaced.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from gala.kernel.errors import BadRequest
from gala.kernel.showlog import NewEvent

from .sale import CLOSED, OPEN, SaleTerms

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
    name: Mapping[str, str] = field(default_factory=dict)  # the product's name by locale


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
        _names(product.get("name")),
    )


def _names(raw: object) -> dict[str, str]:
    """A product's name by locale, as the show file or the sponsor gave it (empty if none)."""
    if not isinstance(raw, Mapping):
        return {}
    return {str(locale): str(text) for locale, text in raw.items()}


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
        "name": dict(action.name),
    }
    return [NewEvent(SALE_OPENED, program_time_ms, data)]


@dataclass(frozen=True, slots=True)
class AnnouncedSale:
    """A sale as the show log announced it (`sale.opened`), with its status on the log."""

    sale_id: str
    product_id: str
    sponsor_id: str
    price_minor: int
    currency: str
    stock: int
    per_viewer_limit: int
    opens_at_ms: int
    closes_at_ms: int | None
    hold_ms: int
    status: str = OPEN
    name: Mapping[str, str] = field(default_factory=dict)  # the product's name by locale

    @property
    def terms(self) -> SaleTerms:
        """What the sale store keeps of it."""
        return SaleTerms(
            self.sale_id,
            self.product_id,
            self.price_minor,
            self.stock,
            self.per_viewer_limit,
            self.opens_at_ms,
            self.closes_at_ms,
            self.hold_ms,
        )

    def as_wire(self) -> dict[str, Any]:
        wire = {name: getattr(self, name) for name in _SALE_FIELDS}
        wire["name"] = dict(self.name)
        return wire


_SALE_FIELDS = tuple(f.name for f in fields(AnnouncedSale))


def announced_sale(data: Mapping[str, Any], status: str = OPEN) -> AnnouncedSale:
    """The typed record of a `sale.opened` event's data (written by `events_for`)."""
    return AnnouncedSale(
        sale_id=str(data["sale_id"]),
        product_id=str(data["product_id"]),
        sponsor_id=str(data["sponsor_id"]),
        price_minor=int(data["price_minor"]),
        currency=str(data["currency"]),
        stock=int(data["stock"]),
        per_viewer_limit=int(data["per_viewer_limit"]),
        opens_at_ms=int(data["opens_at_ms"]),
        closes_at_ms=None if data["closes_at_ms"] is None else int(data["closes_at_ms"]),
        hold_ms=int(data["hold_ms"]),
        status=str(data.get("status", status)),
        name=_names(data.get("name")),  # absent from logs written before names were carried
    )


@dataclass(frozen=True, slots=True)
class SalesBoard:
    """The part of the viewer's snapshot commerce owns: each product's current sale (the latest
    opened), and the earlier sales of this epoch that a later opening of their product replaced,
    oldest first. Only the current sales are on the wire: a viewer taps, and sees the stock of,
    the current sale alone; the earlier ones stay on the server (GMV, sweeper, orders)."""

    sales: Mapping[str, AnnouncedSale] = field(default_factory=dict)
    earlier: tuple[AnnouncedSale, ...] = ()

    @classmethod
    def from_wire(cls, wire: Mapping[str, Mapping[str, Any]]) -> SalesBoard:
        return cls({product: announced_sale(sale) for product, sale in wire.items()})

    def as_wire(self) -> dict[str, Any]:
        return {product: sale.as_wire() for product, sale in self.sales.items()}

    def every_sale(self) -> tuple[AnnouncedSale, ...]:
        """Every sale this epoch of the log opened: the earlier ones, then the current ones."""
        return (*self.earlier, *self.sales.values())


def fold(board: SalesBoard, event_type: str, data: Mapping[str, Any]) -> SalesBoard:
    if event_type == SALE_OPENED:
        opened = announced_sale(data)
        replaced = board.sales.get(opened.product_id)
        earlier = board.earlier
        if replaced is not None and replaced.sale_id != opened.sale_id:
            earlier = (*earlier, replaced)
        return SalesBoard({**board.sales, opened.product_id: opened}, earlier)
    if event_type == SALE_CLOSED and data["product_id"] in board.sales:
        closed = replace(board.sales[data["product_id"]], status=CLOSED)
        return replace(board, sales={**board.sales, data["product_id"]: closed})
    return board
