"""What show results need from a store: the reveals (a product card going up, with the viewers
online then), the viewers whose screen actually showed each reveal, and the taps on Buy per
sale. Both backends (`gala/stores/sqlite_results.py`, `gala/stores/redis_results.py`) pass
`tests/contract/test_results_store.py`.

Results are analytics, not money: nodes buffer displays and taps in memory and write them once a
second in one batch (`gala/results.py`), so a crash may lose up to a second of them; orders,
units, GMV and envelopes come from the money stores, which lose nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class RevealRecord:
    epoch: str
    seq: int
    product_id: str
    at_ms: int
    viewers_online: int
    displayed: int


@dataclass(frozen=True, slots=True)
class TapCounts:
    taps: int
    tappers: int


class ResultsStore(Protocol):
    async def record_reveal(
        self, show_id: str, epoch: str, seq: int, product_id: str, at_ms: int, viewers_online: int
    ) -> None:
        """Record a reveal once: every node sees it on the log, the first record wins."""
        ...

    async def add_displays(
        self, show_id: str, displays: Mapping[tuple[str, int], set[str]]
    ) -> None:
        """Add viewers to the reveals they displayed ((epoch, seq) -> viewer ids). Idempotent:
        a viewer counts once per reveal."""
        ...

    async def add_taps(self, show_id: str, taps: Mapping[str, Mapping[str, int]]) -> None:
        """Add taps per sale and viewer (sale id -> viewer id -> taps). Not idempotent: each
        batch is written once."""
        ...

    async def reveals(self, show_id: str, epoch: str) -> list[RevealRecord]:
        """The reveals of the epoch, in seq order, with how many viewers displayed each."""
        ...

    async def taps(self, show_id: str) -> dict[str, TapCounts]:
        """Taps and distinct tappers per sale id."""
        ...
