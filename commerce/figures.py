"""Live sales figures of a show: stock left and sold per product, the show's GMV, and what was
just bought since the last figures. Pure: built from the sales board of the show's log and the
sale counters the store holds.

The GMV is the sum of every paid order of every sale this epoch of the log opened, the sales an
encore replaced included, so it never goes down while the show runs (a paid order stays paid).
A product's figures are those of its current sale (the one a tap buys from): after an encore,
which opens a new sale with the product's declared stock, "left" is that sale's own.

Figures are never sent once per order: each node computes them at a fixed cadence and sends them
only when they changed (docs/protocol.md, `figures`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .ports import SaleCounts
from .show_sales import SalesBoard


@dataclass(frozen=True, slots=True)
class ShowFigures:
    products: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    gmv_minor: int = 0
    # the product's name by locale: for the consoles only (viewers have it in their snapshot)
    names: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def as_wire(self, *, names: bool = False) -> dict[str, Any]:
        """The figures as sent; with `names`, each product carries its `name` (the consoles)."""
        return {
            "products": {
                pid: {**p, "name": dict(self.names.get(pid, {}))} if names else dict(p)
                for pid, p in self.products.items()
            },
            "gmv_minor": self.gmv_minor,
        }


def figures_of(board: SalesBoard, counts: Mapping[str, SaleCounts]) -> ShowFigures:
    """`board`: the snapshot's sales; `counts`: the store's counters by sale id. A sale without
    counters yet (not in the store) counts for nothing."""
    products: dict[str, dict[str, Any]] = {}
    names: dict[str, Mapping[str, str]] = {}
    for product_id, sale in board.sales.items():
        count = counts.get(sale.sale_id)
        if count is None:
            continue
        products[product_id] = {
            "sale_id": sale.sale_id,
            "left": count.left,
            "held": count.held,
            "sold": count.sold,
            "sold_out": count.left == 0,
        }
        names[product_id] = sale.name
    return ShowFigures(products, gmv_of(board, counts), names)


def gmv_of(board: SalesBoard, counts: Mapping[str, SaleCounts]) -> int:
    """The sum of the paid orders of every sale of the board (sold units at the sale's price:
    an order's amount is its quantity times its sale's price)."""
    gmv = 0
    for sale in board.every_sale():
        count = counts.get(sale.sale_id)
        if count is not None:
            gmv += count.sold * sale.price_minor
    return gmv


def just_bought(before: ShowFigures, after: ShowFigures) -> dict[str, int]:
    """Units sold per product between two figures (only products that sold). When a product's
    sale changed (an encore), the units of the new sale count."""
    bought = {}
    for product_id, now in after.products.items():
        then = before.products.get(product_id)
        earlier = then["sold"] if then is not None and then["sale_id"] == now["sale_id"] else 0
        if now["sold"] > earlier:
            bought[product_id] = now["sold"] - earlier
    return bought
