"""Red-envelope use cases: launch a drop (fund its escrow), grab an envelope (and credit it:
grabs of one drop are decided in batches, `grab_batch` through the `GrabBatches` port, and
`grab` is a batch of one; what this node already knows answers without the store,
`refuse_from_memory`), the sweeper step (credit what a crash left uncredited, close due drops,
refund the leftover), the funding check before a GO, budget deposits. Load, decide (the rules
run inside the stores, atomically), save, answer.

Money moves as ledger transfers with deterministic ids, so every step can be retried:
- `drop/ID/fund`: the funder's budget -> the drop's escrow, the whole budget, at launch;
- `grab/ID/VIEWER`: escrow -> the viewer's wallet, the claimed amount, in the grab's own store
  step, before its answer (or by the sweeper, when a crash came between the claim and its
  credit);
- `drop/ID/refund`: escrow -> the funder, budget minus everything claimed, once the drop closed.
So `budget == credited + refunded` once a drop is closed and credited, and the escrow never goes
below zero: what is refunded was never claimed.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gala.kernel.clock import Clock
from gala.kernel.errors import GalaError
from gala.kernel.ledger import InsufficientFunds, Transfer, account, transfer_id

from . import model
from .model import Claim, DropTerms, DropUnfunded, RandomSource
from .ports import DropCounts, DropLedger, DropStore, GrabBatches, Grabbed

log = logging.getLogger(__name__)

DEPOSITS = account("external", "deposits")


# A grab's outcome: the claim, and the viewer's balance once it was credited.
Grab = Grabbed


def escrow_of(drop_id: str) -> str:
    return account("escrow", drop_id)


def fund_transfer(terms: DropTerms) -> Transfer:
    return Transfer(
        transfer_id("drop", terms.drop_id, "fund"),
        terms.funder,
        escrow_of(terms.drop_id),
        terms.budget_minor,
        "drop funding",
    )


def credit_transfer(claim: Claim) -> Transfer:
    return Transfer(
        transfer_id("grab", claim.drop_id, claim.viewer_id),
        escrow_of(claim.drop_id),
        account("wallet", claim.viewer_id),
        claim.amount_minor,
        "red envelope",
    )


def refund_transfer(terms: DropTerms, leftover_minor: int) -> Transfer:
    return Transfer(
        transfer_id("drop", terms.drop_id, "refund"),
        escrow_of(terms.drop_id),
        terms.funder,
        leftover_minor,
        "drop leftover",
    )


@dataclass(frozen=True, slots=True)
class DropSweep:
    """What one sweep of a show's drops finished or undid."""

    drops_launched: int = 0  # drops a crash left pending, launched now
    drops_cancelled: int = 0  # pending drops their funder could not cover
    claims_credited: int = 0  # grabs a crash left uncredited, credited now
    drops_closed: int = 0  # drops closed now (window over, empty or cancelled)
    leftovers_refunded: int = 0  # closed drops' unclaimed money refunded to the funder

    @property
    def done(self) -> int:
        """Credits and refunds: the money steps completed."""
        return self.claims_credited + self.leftovers_refunded

    def __add__(self, other: DropSweep) -> DropSweep:
        return DropSweep(
            *(a + b for a, b in zip(self.counts().values(), other.counts().values(), strict=True))
        )

    def counts(self) -> dict[str, int]:
        return {
            "drops_launched": self.drops_launched,
            "drops_cancelled": self.drops_cancelled,
            "claims_credited": self.claims_credited,
            "drops_closed": self.drops_closed,
            "leftovers_refunded": self.leftovers_refunded,
        }


class DropService:
    def __init__(
        self,
        drops: DropStore,
        ledger: DropLedger,
        batches: GrabBatches,
        clock: Clock,
        rng: RandomSource,
    ) -> None:
        self._drops = drops
        self._ledger = ledger
        self._batches = batches
        self._clock = clock
        self._rng = rng
        self._launched: dict[str, str] = {}
        self._settled: set[str] = set()
        # A drop that refused for good (empty, closed, cancelled: none of these ever reopens):
        # its refusal, and every claim of it, read once (at most one per envelope).
        self._final: dict[str, tuple[type[GalaError], str]] = {}
        self._final_claims: dict[str, dict[str, int]] = {}
        self._left: dict[str, int] = {}

    async def launch(self, terms: DropTerms) -> str:
        """Create the drop with its envelopes, move its budget into escrow, set it live.
        Idempotent (every step is keyed by the drop id); raises `DropUnfunded` (and cancels the
        drop) when the funder cannot cover it."""
        status = self._launched.get(terms.drop_id)
        if status is None:
            amounts = model.split(terms.budget_minor, terms.count, terms.min_minor, self._rng)
            await self._drops.create_drop(terms, amounts)
            status = (await self._drops.counts(terms.drop_id)).status
            if status == model.PENDING:
                try:
                    await self._ledger.post(fund_transfer(terms))
                    funded = True
                except InsufficientFunds:
                    funded = False
                status = await self._drops.activate(terms.drop_id, funded)
            if status != model.PENDING:
                self._launched[terms.drop_id] = status
        if status == model.CANCELLED:
            raise DropUnfunded(f"{terms.funder} cannot cover a drop of {terms.budget_minor}")
        return status

    async def check_funds(self, budgets: Mapping[str, int]) -> None:
        """Refuse (before a GO) when a funder's budget cannot cover the drops it would fund."""
        for funder, needed in budgets.items():
            held = await self._ledger.balance(funder)
            if held < needed:
                raise DropUnfunded(f"{funder} holds {held}, the drops need {needed}")

    def envelopes_left(self, drop_id: str) -> int | None:
        """How many envelopes of the drop may still be grabbed, as far as this node knows (its
        own grabs, and a refusal for good): None before its first grab of the drop."""
        if drop_id in self._final:
            return 0
        return self._left.get(drop_id)

    def refuse_from_memory(self, terms: DropTerms, viewer_id: str) -> None:
        """Raise the answer this node can give without the store, as the store would: a drop
        that refused for good answers with its refusal, or a viewer's first amount; a live drop
        before its opening time is `not_open` (no claim can exist yet). Else return."""
        claims = self._final_claims.get(terms.drop_id)
        if claims is not None:
            amount = claims.get(viewer_id)
            if amount is not None:
                raise model.AlreadyGrabbed(amount)
            refusal, message = self._final[terms.drop_id]
            raise refusal(message)
        if (
            self._launched.get(terms.drop_id) == model.LIVE
            and self._clock.now_ms() < terms.opens_at_ms
        ):
            raise model.NotOpen("this drop has not opened yet")

    async def grab(self, terms: DropTerms, viewer_id: str) -> Grab:
        """Take an envelope and credit it (a batch of one)."""
        self.refuse_from_memory(terms, viewer_id)
        (outcome,) = await self.grab_batch(terms, [viewer_id])
        if isinstance(outcome, GalaError):
            raise outcome
        return outcome

    async def grab_batch(
        self, terms: DropTerms, viewer_ids: Sequence[str]
    ) -> list[Grab | GalaError]:
        """Grabs of one drop decided together in one store step (`GrabBatches.grab_batch`):
        each claimed and credited, or refused; one outcome per viewer, in order."""
        with contextlib.suppress(DropUnfunded):  # the store then answers `drop_cancelled`
            await self.launch(terms)
        outcomes = await self._batches.grab_batch(terms.drop_id, viewer_ids, self._clock.now_ms())
        for outcome in outcomes:
            if isinstance(outcome, model.DropEmpty | model.DropClosed | model.DropCancelled):
                self._final[terms.drop_id] = (type(outcome), outcome.message)
            elif isinstance(outcome, Grabbed):
                left = terms.count - outcome.claim.index - 1
                self._left[terms.drop_id] = min(left, self._left.get(terms.drop_id, left))
        if terms.drop_id in self._final and terms.drop_id not in self._final_claims:
            claims = await self._drops.claims(terms.drop_id)
            self._final_claims[terms.drop_id] = {c.viewer_id: c.amount_minor for c in claims}
        return outcomes

    async def _credit(self, claim: Claim) -> None:
        await self._ledger.post(credit_transfer(claim))
        await self._drops.mark_credited(claim.drop_id, claim.viewer_id)

    async def counts(self, drop_id: str) -> DropCounts:
        return await self._drops.counts(drop_id)

    async def sweep(self, show_id: str) -> DropSweep:
        """Finish every drop of the show, idempotently: launch a drop a crash left pending,
        credit uncredited claims, close due drops and refund their leftover once. Returns what
        it finished."""
        done = DropSweep()
        for drop_id in await self._drops.drop_ids(show_id):
            if drop_id not in self._settled:
                # UnknownDrop: indexed by a create that crashed before it ran.
                with contextlib.suppress(model.UnknownDrop):
                    done = done + await self._sweep_drop(drop_id)
        return done

    async def _sweep_drop(self, drop_id: str) -> DropSweep:
        terms = await self._drops.terms(drop_id)
        launched = cancelled = credited = closed = refunded = 0
        status = (await self._drops.counts(drop_id)).status
        if status == model.PENDING:
            try:
                await self.launch(terms)
                launched = 1
            except DropUnfunded:
                log.warning(
                    "drop %s cancelled: %s cannot cover it",
                    drop_id,
                    terms.funder,
                    extra={"drop_id": drop_id, "show_id": terms.show_id},
                )
                cancelled = 1
        for claim in await self._drops.uncredited(drop_id):
            await self._credit(claim)
            credited += 1
        counts = await self._drops.close(drop_id, self._clock.now_ms())
        if counts.status == model.CLOSED:
            closed = int(status != model.CLOSED)
            funded = await self._ledger.transfer(fund_transfer(terms).id) is not None
            leftover = counts.budget_minor - counts.claimed_minor
            refund = refund_transfer(terms, leftover) if funded and leftover > 0 else None
            if refund is not None and await self._ledger.transfer(refund.id) is None:
                await self._ledger.post(refund)
                refunded = 1
            if funded and not await self._drops.uncredited(drop_id):
                self._settled.add(drop_id)
        return DropSweep(launched, cancelled, credited, closed, refunded)

    async def deposit(self, funder: str, amount_minor: int, reference: str) -> None:
        """Money paid in by a sponsor (or the show) to fund drops; idempotent by reference."""
        await self._ledger.post(
            Transfer(
                transfer_id("deposit", funder.replace(":", "-"), reference),
                DEPOSITS,
                funder,
                amount_minor,
                "budget deposit",
            )
        )


def grab_wire(grab: Grab, currency: str) -> dict[str, Any]:
    return {
        "drop_id": grab.claim.drop_id,
        "amount_minor": grab.claim.amount_minor,
        "currency": currency,
        "balance_minor": grab.balance_minor,
    }
