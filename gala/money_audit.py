"""The whole of `gala audit`: every money and stock invariant of DESIGN.md's "Money" section, over
every feature that moves money (commerce's sales and orders, redpackets' drops), on one store."""

from __future__ import annotations

from commerce.audit import audit_commerce
from gala.stores.factory import StoreBundle
from redpackets.audit import audit_drops


async def audit_store(store: StoreBundle) -> tuple[list[str], str]:
    """(every difference found, a one-line summary of what was checked)."""
    problems, sales_summary = await audit_commerce(store.sales, store.ledger, store.payments)
    transfers = {t.id: t for t in await store.ledger.transfers()}
    drop_problems, drops_summary = await audit_drops(
        store.drops, transfers, await store.ledger.balances()
    )
    return problems + drop_problems, f"{sales_summary}, {drops_summary}"
