"""Show results, per reveal and per drop: what producers (and, through the sponsor portal, each
sponsor for its own reveals) see live and after the show.

A reveal is a product card going up (`overlay.shown` of a product). For each: the viewers online
then (summed over nodes, recorded by the first node that tails it), the viewers whose screen
actually showed it (the page acknowledges with `displayed` once its picture reaches the cue),
and for the sale the reveal opened (the product's first `sale.opened` after it): taps on Buy,
distinct tappers, paid orders, units, GMV and conversion (buyers / viewers who displayed the
card). For each drop: envelopes grabbed, money given and refunded.

`ResultsRecorder` buffers displays and taps in memory and writes them in one batch per show at
the live figures' cadence (`FIGURES_INTERVAL_S` of the show runtime, 0.5 s) and before results
are read (results are analytics; money comes from the money stores). `compile_results` is pure.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from commerce.ports import SaleStore
from commerce.sale import PAID, Order
from gala.kernel.errors import NotFound
from gala.kernel.ledger import transfer_id
from gala.kernel.showlog import LoggedEvent
from gala.results.ports import ResultsStore, RevealRecord, TapCounts
from gala.stores.ports import ShowLogReader
from redpackets.ports import DropCounts, DropLedger, DropStore

OVERLAY_SHOWN = "overlay.shown"


def product_reveal(event: LoggedEvent) -> str | None:
    """The product id an event reveals, if it is a product card going up."""
    if event.type != OVERLAY_SHOWN:
        return None
    overlay = event.data.get("overlay") or {}
    return str(overlay["id"]) if overlay.get("kind") == "product" else None


class ResultsRecorder:
    def __init__(self, store: ResultsStore) -> None:
        self._store = store
        self._displays: dict[str, dict[tuple[str, int], set[str]]] = defaultdict(
            lambda: defaultdict(set)
        )
        self._taps: dict[str, dict[str, dict[str, int]]] = defaultdict(
            lambda: defaultdict(lambda: defaultdict(int))
        )

    def displayed(self, show_id: str, epoch: str, seq: int, viewer_id: str) -> None:
        self._displays[show_id][(epoch, seq)].add(viewer_id)

    def tapped(self, show_id: str, sale_id: str, viewer_id: str) -> None:
        self._taps[show_id][sale_id][viewer_id] += 1

    async def record_reveal(
        self, show_id: str, event: LoggedEvent, product_id: str, viewers_online: int
    ) -> None:
        await self._store.record_reveal(
            show_id, event.epoch, event.seq, product_id, event.program_time_ms, viewers_online
        )

    async def flush(self, show_id: str) -> None:
        """Write what was buffered for the show, in one batch each."""
        displays, taps = self._displays.pop(show_id, {}), self._taps.pop(show_id, {})
        if displays:
            await self._store.add_displays(show_id, displays)
        if taps:
            await self._store.add_taps(show_id, taps)


async def show_results(
    show_id: str,
    reader: ShowLogReader,
    results: ResultsStore,
    sales: SaleStore,
    drops: DropStore,
    ledger: DropLedger,
) -> dict[str, Any]:
    """Results per reveal and per drop of the show's current epoch, from the stores."""
    batch = await reader.read_log(show_id)
    orders: dict[str, list[Order]] = {}
    drop_counts: dict[str, DropCounts] = {}
    refunds: dict[str, int] = {}
    for event in batch.events:
        try:
            if event.type == "sale.opened":
                orders[event.data["sale_id"]] = await sales.orders(event.data["sale_id"])
            elif event.type == "drop.announced":
                drop_id = event.data["drop_id"]
                refund = await ledger.transfer(transfer_id("drop", drop_id, "refund"))
                refunds[drop_id] = refund.amount_minor if refund else 0
                drop_counts[drop_id] = await drops.counts(drop_id)
        except NotFound:
            pass  # announced, not in the store yet: the first node has not launched it
    compiled = compile_results(
        batch.events,
        await results.reveals(show_id, batch.epoch),
        await results.taps(show_id),
        orders,
        drop_counts,
        refunds,
    )
    return {"show_id": show_id, "epoch": batch.epoch, **compiled}


def compile_results(
    events: list[LoggedEvent],
    reveals: list[RevealRecord],
    taps: Mapping[str, TapCounts],
    orders: Mapping[str, list[Order]],
    drops: Mapping[str, DropCounts],
    refunds: Mapping[str, int],
) -> dict[str, Any]:
    """Per reveal (in log order) and per drop. `orders` and `drops` are keyed by sale and drop
    id; `refunds` is the leftover refunded per drop id."""
    recorded = {(r.epoch, r.seq): r for r in reveals}
    rows: list[dict[str, Any]] = []
    open_rows: dict[str, dict[str, Any]] = {}
    drop_rows: list[dict[str, Any]] = []
    for event in events:
        product_id = product_reveal(event)
        if product_id is not None:
            record = recorded.get((event.epoch, event.seq))
            card = event.data["overlay"].get("product", {})
            sponsor = card.get("sponsor", {})
            row: dict[str, Any] = {
                "seq": event.seq,
                "at_ms": event.program_time_ms,
                "product_id": product_id,
                "name": card.get("name", {}),
                "sponsor_id": sponsor.get("id"),
                "viewers_online": record.viewers_online if record else None,
                "displayed": record.displayed if record else 0,
                "sale_id": None,
                "taps": 0,
                "tappers": 0,
                "orders": 0,
                "units": 0,
                "gmv_minor": 0,
                "buyers": 0,
                "conversion": None,
            }
            rows.append(row)
            open_rows[product_id] = row
        elif event.type == "sale.opened":
            revealed = open_rows.pop(event.data["product_id"], None)
            if revealed is not None:
                _add_sale(revealed, event.data["sale_id"], taps, orders)
        elif event.type == "drop.announced":
            drop_rows.append(_drop_row(event.data, drops, refunds))
    return {"reveals": rows, "drops": drop_rows}


def _add_sale(
    row: dict[str, Any],
    sale_id: str,
    taps: Mapping[str, TapCounts],
    orders: Mapping[str, list[Order]],
) -> None:
    paid = [o for o in orders.get(sale_id, []) if o.state == PAID]
    tapped = taps.get(sale_id, TapCounts(0, 0))
    buyers = len({o.viewer_id for o in paid})
    row.update(
        sale_id=sale_id,
        taps=tapped.taps,
        tappers=tapped.tappers,
        orders=len(paid),
        units=sum(o.quantity for o in paid),
        gmv_minor=sum(o.amount_minor for o in paid),
        buyers=buyers,
        conversion=round(buyers / row["displayed"], 4) if row["displayed"] else None,
    )


def _drop_row(
    data: Mapping[str, Any], drops: Mapping[str, DropCounts], refunds: Mapping[str, int]
) -> dict[str, Any]:
    counts = drops.get(data["drop_id"])
    return {
        "drop_id": data["drop_id"],
        "name": data["name"],
        "funder": data["funder"],
        "at_ms": data["opens_at_ms"],
        "budget_minor": data["budget_minor"],
        "envelopes": data["envelopes"],
        "status": counts.status if counts else "pending",
        "grabbed": counts.count - counts.left if counts else 0,
        "given_minor": counts.claimed_minor if counts else 0,
        "refunded_minor": refunds.get(data["drop_id"], 0),
    }


def for_sponsor(results: Mapping[str, Any], sponsor_id: str) -> dict[str, Any]:
    """Only the sponsor's own reveals and the drops it funded."""
    return {
        **results,
        "reveals": [r for r in results["reveals"] if r["sponsor_id"] == sponsor_id],
        "drops": [d for d in results["drops"] if d["funder"] == sponsor_id],
    }


REVEAL_COLUMNS = (
    "seq",
    "at_ms",
    "product_id",
    "sponsor_id",
    "viewers_online",
    "displayed",
    "sale_id",
    "taps",
    "tappers",
    "orders",
    "units",
    "gmv_minor",
    "buyers",
    "conversion",
)
DROP_COLUMNS = (
    "drop_id",
    "name",
    "funder",
    "at_ms",
    "budget_minor",
    "envelopes",
    "status",
    "grabbed",
    "given_minor",
    "refunded_minor",
)


def results_as_csv(results: Mapping[str, Any]) -> str:
    """A header row and a row per reveal (`kind` reveal), then the same for drops."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["kind", *REVEAL_COLUMNS])
    for row in results["reveals"]:
        writer.writerow(["reveal", *(row[c] for c in REVEAL_COLUMNS)])
    writer.writerow(["kind", *DROP_COLUMNS])
    for row in results["drops"]:
        writer.writerow(["drop", *(row[c] for c in DROP_COLUMNS)])
    return out.getvalue()
