"""The red-envelope part of `gala audit`: DESIGN.md's invariants for drops, per drop, checked on
what the drop store and the ledger hold against the show logs' `drop.announced`
announcements, each difference named.

- the announcements: every drop a show log announced is in the drop store, with the terms
  announced (funder, budget, envelopes, minimum, window); a drop the store lacks is data it lost;
- the envelopes: as many as the drop has, each >= the minimum, adding up exactly to the budget;
  claimed + remaining == budget; one claim per viewer, each taking one envelope (`model.check`);
- the money: a live or closed drop was funded with exactly its budget, from its funder, once;
  every claim was credited to its viewer's wallet with exactly its amount, once; once closed, the
  leftover (budget - claimed) went back to the funder exactly, once; no refund before the close;
  the escrow holds funded - credited - refunded (zero for a settled drop, so budget == credited +
  refunded); no drop transfer in the ledger belongs to an unknown drop or claim.

Read-only: it reports, the sweeper repairs. Run it when no grab is in flight for exact answers (a
grab between its claim and its credit shows as an uncredited claim).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from gala.kernel.facts import differences
from gala.kernel.ledger import Transfer, transfer_id

from . import model
from .ports import DropStore
from .service import credit_transfer, escrow_of, fund_transfer, refund_transfer


async def audit_drops(
    drops: DropStore,
    transfers: Mapping[str, Transfer],
    balances: Mapping[str, int],
    announced: Mapping[str, model.DropTerms] | None = None,
) -> tuple[list[str], str]:
    """(every difference found, a one-line summary of what was checked). `announced`: the
    terms of the drops the show logs announced, by drop id."""
    announced = announced or {}
    problems: list[str] = []
    drop_ids = await drops.drop_ids()
    for drop_id in sorted(set(announced) - set(drop_ids)):
        problems.append(
            f"drop {drop_id}: announced on the show log but missing from the drop store "
            "(the store lost it, or no node has launched it yet)"
        )
    claim_count = 0
    known_credits: set[str] = set()
    for drop_id in drop_ids:
        try:
            terms = await drops.terms(drop_id)
        except model.UnknownDrop:
            continue  # indexed by a create that never ran: nothing to check
        claims = await drops.claims(drop_id)
        claim_count += len(claims)
        known_credits.update(credit_transfer(claim).id for claim in claims)
        known = announced.get(drop_id)
        found = [] if known is None else differences(terms, known)
        found += await _check_drop(drops, terms, claims, transfers, balances)
        problems += [f"drop {drop_id}: {problem}" for problem in found]
    for transfer in transfers.values():
        reason, _, rest = transfer.id.partition("/")
        if reason == "drop" and rest.rsplit("/", 1)[0] not in drop_ids:
            problems.append(f"ledger: transfer {transfer.id} belongs to no drop")
        if reason == "grab" and transfer.id not in known_credits:
            problems.append(f"ledger: transfer {transfer.id} belongs to no claim")
    return problems, f"{len(drop_ids)} drops, {claim_count} claims"


async def _check_drop(
    drops: DropStore,
    terms: model.DropTerms,
    claims: list[model.Claim],
    transfers: Mapping[str, Transfer],
    balances: Mapping[str, int],
) -> list[str]:
    counts = await drops.counts(terms.drop_id)
    state = model.DropState(
        terms,
        await drops.amounts(terms.drop_id),
        counts.status,
        counts.count - counts.left,
        MappingProxyType({claim.viewer_id: claim for claim in claims}),
    )
    problems = model.check(state)
    claimed = sum(claim.amount_minor for claim in claims)
    if counts.claimed_minor != claimed:
        problems.append(f"counts say {counts.claimed_minor} claimed, the claims {claimed}")

    fund = transfers.get(fund_transfer(terms).id)
    if fund is not None and fund != fund_transfer(terms):
        problems.append(f"funded {fund.amount_minor} from {fund.source}, not its budget")
    if fund is None and counts.status == model.LIVE:
        problems.append("live but never funded")
    credited = 0
    for claim in claims:
        credit = transfers.get(credit_transfer(claim).id)
        if credit is None:
            problems.append(f"claim of {claim.viewer_id} not credited (in flight, or to sweep)")
        elif credit != credit_transfer(claim):
            problems.append(
                f"claim of {claim.viewer_id} ({claim.amount_minor}) credited "
                f"{credit.amount_minor} to {credit.destination}"
            )
        else:
            credited += credit.amount_minor

    refund = transfers.get(transfer_id("drop", terms.drop_id, "refund"))
    refunded = 0 if refund is None else refund.amount_minor
    if refund is not None and counts.status != model.CLOSED:
        problems.append(f"refunded {refunded} before closing")
    leftover = terms.budget_minor - claimed
    if counts.status == model.CLOSED and fund is not None:
        if leftover > 0 and refund is None:
            problems.append(f"closed, and its leftover {leftover} was not refunded")
        elif refund is not None and refund != refund_transfer(terms, leftover):
            problems.append(f"refunded {refunded}, the leftover is {leftover}")
    funded = 0 if fund is None else fund.amount_minor
    escrow = balances.get(escrow_of(terms.drop_id), 0)
    if escrow != funded - credited - refunded:
        problems.append(
            f"escrow holds {escrow}, funded {funded} - credited {credited} - refunded {refunded}"
        )
    return problems
