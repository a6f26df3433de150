"""Redis key names of commerce, all of one sale in the hash slot `{sale:ID}`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SaleKeys:
    sale: str
    orders: str
    keys: str
    taken: str
    holds: str


def sale_keys(sale_id: str, prefix: str = "gala") -> SaleKeys:
    tag = f"{prefix}:{{sale:{sale_id}}}"
    return SaleKeys(
        sale=f"{tag}:sale",
        orders=f"{tag}:orders",
        keys=f"{tag}:keys",
        taken=f"{tag}:taken",
        holds=f"{tag}:holds",
    )
