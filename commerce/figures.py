"""Live sales figures of a show: stock left and sold per product, the show's GMV, and what was
just bought since the last figures. Pure: built from the sale counters the store holds.

Figures are never sent once per order: each node computes them at a fixed cadence and sends them
only when they changed (docs/protocol.md, `figures`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .ports import SaleCounts
from .show_sales import AnnouncedSale


@dataclass(frozen=True, slots=True)
class ShowFigures:
    products: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    gmv_minor: int = 0

    def as_wire(self) -> dict[str, Any]:
        return {
            "products": {pid: dict(p) for pid, p in self.products.items()},
            "gmv_minor": self.gmv_minor,
        }


def figures_of(sales: Mapping[str, AnnouncedSale], counts: Mapping[str, SaleCounts]) -> ShowFigures:
    """`sales`: the snapshot's sales by product; `counts`: the store's counters by sale id."""
    products: dict[str, dict[str, Any]] = {}
    gmv = 0
    for product_id, sale in sales.items():
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
        gmv += count.sold * sale.price_minor
    return ShowFigures(products, gmv)


def just_bought(before: ShowFigures, after: ShowFigures) -> dict[str, int]:
    """Units sold per product between two figures (only products that sold)."""
    bought = {}
    for product_id, now in after.products.items():
        then = before.products.get(product_id)
        earlier = then["sold"] if then is not None and then["sale_id"] == now["sale_id"] else 0
        if now["sold"] > earlier:
            bought[product_id] = now["sold"] - earlier
    return bought
