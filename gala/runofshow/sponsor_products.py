"""The products a show file declares for its sponsors, as those sponsors' own products.

A show file's `[products.ID]` with `sponsor = "aurora"` is a product of that sponsor: when a node
installs its show files, each such product is created in the sponsor's products (same id, name,
description, image, price, stock and per-viewer limit) if the sponsor has no product of that id
yet, so the sponsor sees it in the portal and can book reveals of it. Creating only what is
missing makes it idempotent, and a sponsor's edits are never overwritten (docs/sponsors.md,
"Products"). Nothing here is public: the sponsors' store is read by the sponsor and, through
approved bookings, by the producers' cue list, so the embargo stands.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from gala.runofshow.show_document import read_document
from gala.runofshow.showfile import ShowDefinition
from sponsors.model import NewProduct
from sponsors.service import SponsorService


def show_file_products(show: ShowDefinition) -> dict[str, list[NewProduct]]:
    """The show file's products by sponsor id, in the file's order."""
    tables = read_document(json.loads(show.document)).products
    by_sponsor: dict[str, list[NewProduct]] = {}
    for product_id, table in tables.items():
        card = show.product_cards[product_id]
        by_sponsor.setdefault(table.sponsor, []).append(
            NewProduct(
                product_id=product_id,
                name=dict(card["name"]),
                price_minor=table.price_minor,
                stock=table.stock,
                description=dict(card.get("description") or {}),
                image_url=table.image,
                per_viewer_limit=table.per_viewer_limit,
            )
        )
    return by_sponsor


async def import_show_products(
    shows: Iterable[ShowDefinition], sponsors: SponsorService
) -> dict[str, list[str]]:
    """Give each sponsor the show files' products it lacks; the ids created, by sponsor."""
    created: dict[str, list[str]] = {}
    for show in shows:
        for sponsor_id, products in show_file_products(show).items():
            made = await sponsors.import_products(sponsor_id, products)
            if made:
                created.setdefault(sponsor_id, []).extend(made)
    return created
