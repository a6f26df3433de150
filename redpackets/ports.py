"""What red-envelope drops need from a store, and from the ledger.

`DropStore` keeps each drop's envelopes, counters and claims, and applies the rules of `model.py`
atomically per drop: every method is one transaction (SQLite) or one Lua script over the drop's
hash slot `{drop:ID}` (Redis), so any number of concurrent grabs from any number of nodes take
each envelope once and give each viewer at most one. `tests/contract/test_drop_store.py` checks
both backends.

`GrabBatches` decides a batch of grabs on one drop in one step of the store: each grab is
claimed and credited to its viewer's wallet, or refused, on its own; the batch costs one
transaction (SQLite) or a fixed handful of round trips (Redis). `tests/contract/
test_tap_batches.py` checks both backends.

`DropLedger` is the part of the ledger store drops use (commerce's adapters satisfy it): moving
the budget into escrow, crediting claims and refunding the leftover are transfers with
deterministic ids, so each happens exactly once however often a step is retried.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from gala.kernel.errors import GalaError
from gala.kernel.ledger import Transfer

from .model import Claim, DropTerms


@dataclass(frozen=True, slots=True)
class DropCounts:
    status: str
    count: int
    left: int
    claimed_minor: int
    budget_minor: int


class DropStore(Protocol):
    async def create_drop(self, terms: DropTerms, amounts: list[int]) -> bool:
        """Create the drop (pending, with these envelopes in this order) unless it exists.
        Atomic and idempotent: the first creator's envelopes win. True when it created it."""
        ...

    async def activate(self, drop_id: str, funded: bool) -> str:
        """`model.activate`: pending -> live (funded) or cancelled; any other status stays.
        Returns the status after the call."""
        ...

    async def grab(self, drop_id: str, viewer_id: str, now_ms: int) -> Claim:
        """`model.grab` applied atomically: take the next envelope for the viewer, or raise its
        refusal (`AlreadyGrabbed` carries the first amount). The claim is recorded as not yet
        credited."""
        ...

    async def claim_of(self, drop_id: str, viewer_id: str) -> Claim | None:
        """The viewer's claim on the drop, if any (a read: no rule runs)."""
        ...

    async def mark_credited(self, drop_id: str, viewer_id: str) -> None:
        """Record that the claim's credit transfer is in the ledger. Idempotent."""
        ...

    async def uncredited(self, drop_id: str) -> list[Claim]:
        """Claims whose credit is not recorded yet (a grab in flight, or a crash's leftovers)."""
        ...

    async def close(self, drop_id: str, now_ms: int) -> DropCounts:
        """`model.close` applied atomically: close the drop if it is due. Idempotent."""
        ...

    async def counts(self, drop_id: str) -> DropCounts: ...

    async def terms(self, drop_id: str) -> DropTerms: ...

    async def amounts(self, drop_id: str) -> list[int]:
        """Every envelope, in grabbing order (for audits)."""
        ...

    async def claims(self, drop_id: str) -> list[Claim]:
        """Every claim of the drop (for audits), by envelope."""
        ...

    async def drop_ids(self, show_id: str | None = None) -> list[str]:
        """The drops of one show, or of every show."""
        ...


@dataclass(frozen=True, slots=True)
class Grabbed:
    """A grab's outcome: the claim, and the viewer's wallet balance once it was credited."""

    claim: Claim
    balance_minor: int


class GrabBatches(Protocol):
    async def grab_batch(
        self, drop_id: str, viewer_ids: Sequence[str], now_ms: int
    ) -> list[Grabbed | GalaError]:
        """`model.grab` for each viewer, in order, each atomically, then each new claim's credit
        (`grab/ID/VIEWER`, escrow -> wallet) and its mark as credited. A viewer's second grab
        (in this batch or before) is `AlreadyGrabbed` with the first amount. One outcome per
        viewer, in order. A claim is durable once its outcome is returned; a crash between a
        claim and its credit leaves it uncredited, which the sweeper credits."""
        ...


class DropLedger(Protocol):
    async def post(self, transfer: Transfer) -> None:
        """Apply the transfer exactly once (see commerce's `LedgerStore.post`)."""
        ...

    async def balance(self, account_name: str) -> int: ...

    async def transfer(self, transfer_id: str) -> Transfer | None: ...
