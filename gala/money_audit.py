"""The whole of `gala audit`: every money and stock invariant of DESIGN.md's "Money" section,
over every feature that moves money (commerce's sales and orders, redpackets' drops), on one
store, checked against the facts the books came from: what each installed show's log
announced (its sales' and drops' terms), and the store's identity (a store without one was
emptied or replaced, or never opened by a node: `gala/stores/store_guard.py`)."""

from __future__ import annotations

from commerce.audit import audit_commerce
from commerce.show_sales import SALE_OPENED, AnnouncedSale, announced_sale
from gala.stores.factory import StoreBundle
from redpackets.audit import audit_drops
from redpackets.model import DropTerms
from redpackets.show_drops import DROP_ANNOUNCED, announced_drop


async def audit_store(store: StoreBundle) -> tuple[list[str], str]:
    """(every difference found, a one-line summary of what was checked)."""
    sales, drops = await announcements(store)
    problems, sales_summary = await audit_commerce(store.sales, store.ledger, store.payments, sales)
    transfers = {t.id: t for t in await store.ledger.transfers()}
    drop_problems, drops_summary = await audit_drops(
        store.drops, transfers, await store.ledger.balances(), drops
    )
    if await store.hub.store_identity() is None:
        problems.insert(
            0,
            "store: no identity: no node has opened this store, or it was emptied or replaced "
            "since one did (then every sale, order and drop it held is gone)",
        )
    return problems + drop_problems, f"{sales_summary}, {drops_summary}"


async def announcements(
    store: StoreBundle,
) -> tuple[dict[str, AnnouncedSale], dict[str, DropTerms]]:
    """Every sale and drop the current epoch of each installed show's log announced, by id."""
    sales: dict[str, AnnouncedSale] = {}
    drops: dict[str, DropTerms] = {}
    for show_id in sorted(await store.hub.show_documents()):
        for event in (await store.hub.read_log(show_id)).events:
            if event.type == SALE_OPENED:
                sale = announced_sale(event.data)
                sales[sale.sale_id] = sale
            elif event.type == DROP_ANNOUNCED:
                drop = announced_drop(show_id, event.data).terms
                drops[drop.drop_id] = drop
    return sales, drops
