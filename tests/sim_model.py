"""The reference model of the money rules for `tests/contract/test_money_simulation.py` (owned by
that simulation): DESIGN.md's "Money" rules written out plainly, with no store, no batching and
no saga, so the real services and stores can be compared with it after every step.

It keeps per sale the counters, each viewer's taken units and the orders by (viewer, key); every
idempotency key's request (bound on first use, across sales); the ledger as the transfers that
must be in it (by id: posting one twice is a no-op, a guarded account never goes below zero);
the provider payments and webhook events handled; per drop its envelopes, claims and status.
Each operation returns what the real service must answer: an order, a claim, or a refusal code.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from commerce import sale as rules
from commerce.payments import payment_id_for, provider_account
from commerce.ports import Payment
from commerce.sandbox_provider import SANDBOX
from commerce.service import DEMO_GRANT, PROVIDER, WALLET, key_request, order_id_for
from commerce.show_sales import AnnouncedSale
from gala.kernel.ledger import NON_NEGATIVE, account, kind_of, transfer_id
from redpackets import model as rp
from redpackets.service import DEPOSITS, escrow_of


@dataclass
class MSale:
    announced: AnnouncedSale
    status: str
    left: int
    held: int = 0
    sold: int = 0
    taken: dict[str, int] = field(default_factory=dict)
    orders: dict[str, rules.Order] = field(default_factory=dict)
    by_key: dict[tuple[str, str], str] = field(default_factory=dict)


@dataclass
class MDrop:
    terms: rp.DropTerms
    status: str = rp.PENDING
    amounts: list[int] = field(default_factory=list)
    claims: dict[str, rp.Claim] = field(default_factory=dict)

    @property
    def next_index(self) -> int:
        return len(self.claims)

    @property
    def claimed(self) -> int:
        return sum(c.amount_minor for c in self.claims.values())


# What a tap answers: its order, or a refusal code.
Outcome = rules.Order | str


@dataclass
class Model:
    sales: dict[str, MSale] = field(default_factory=dict)
    bound: dict[tuple[str, str], str] = field(default_factory=dict)
    posted: dict[str, tuple[str, str, int]] = field(default_factory=dict)
    balances: dict[str, int] = field(default_factory=dict)
    payments: dict[str, Payment] = field(default_factory=dict)
    events: set[str] = field(default_factory=set)
    drops: dict[str, MDrop] = field(default_factory=dict)
    inflow: int = 0  # grants, deposits and provider payments: money that entered

    # -- the ledger

    def balance(self, name: str) -> int:
        return self.balances.get(name, 0)

    def post(self, tid: str, source: str, destination: str, amount: int) -> bool:
        """Apply the transfer once; False (nothing moves) when a guarded source lacks it."""
        known = self.posted.get(tid)
        if known is not None:
            assert known == (source, destination, amount), f"model: {tid} posted twice apart"
            return True
        if kind_of(source) in NON_NEGATIVE and self.balance(source) < amount:
            return False
        self.posted[tid] = (source, destination, amount)
        self.balances[source] = self.balance(source) - amount
        self.balances[destination] = self.balance(destination) + amount
        if kind_of(source) == "external":
            self.inflow += amount
        return True

    def grant(self, viewer: str, amount: int) -> None:
        if amount > 0:
            self.post(transfer_id("grant", viewer, "demo"), DEMO_GRANT, wallet(viewer), amount)

    def deposit(self, funder: str, amount: int, reference: str) -> None:
        tid = transfer_id("deposit", funder.replace(":", "-"), reference)
        self.post(tid, DEPOSITS, funder, amount)

    # -- sales

    def add_sale(self, sale: AnnouncedSale) -> None:
        self.sales[sale.sale_id] = MSale(sale, sale.status, sale.stock)

    def refusal(self, s: MSale, viewer: str, quantity: int, now_ms: int) -> str | None:
        """A new tap's refusal by the sale's rules, in `sale.reserve`'s order."""
        terms = s.announced
        if not 1 <= quantity <= terms.per_viewer_limit:
            return "bad_quantity"
        if s.status == rules.CLOSED or (
            terms.closes_at_ms is not None and now_ms >= terms.closes_at_ms
        ):
            return "sale_closed"
        if s.status != rules.OPEN or now_ms < terms.opens_at_ms:
            return "sale_not_open"
        if s.left == 0:
            return "sold_out"
        if quantity > s.left:
            return "not_enough_stock"
        if s.taken.get(viewer, 0) + quantity > terms.per_viewer_limit:
            return "limit_reached"
        return None

    def bind(self, viewer: str, key: str, request: str) -> bool:
        return self.bound.setdefault((viewer, key), request) == request

    def reserve(self, s: MSale, order_id: str, viewer: str, key: str, q: int, now: int) -> None:
        order = rules.Order(
            order_id,
            viewer,
            key,
            q,
            q * s.announced.price_minor,
            rules.HELD,
            now + s.announced.hold_ms,
        )
        s.orders[order_id] = order
        s.by_key[(viewer, key)] = order_id
        s.left -= q
        s.held += q
        s.taken[viewer] = s.taken.get(viewer, 0) + q

    def charge(self, s: MSale, order_id: str) -> bool:
        """`order/ID/pay` from the viewer's wallet to the sponsor's revenue, then held -> paid."""
        order = s.orders[order_id]
        assert order.state == rules.HELD, f"model: charging a {order.state} order"
        if not self.post(
            transfer_id("order", order_id, "pay"),
            wallet(order.viewer_id),
            account("revenue", s.announced.sponsor_id),
            order.amount_minor,
        ):
            return False
        self.mark_paid(s, order_id)
        return True

    def mark_paid(self, s: MSale, order_id: str) -> None:
        order = s.orders[order_id]
        s.orders[order_id] = replace(order, state=rules.PAID)
        s.held -= order.quantity
        s.sold += order.quantity

    def wallet_tap(self, sale_id: str, viewer: str, key: str, q: int, now: int) -> Outcome:
        s = self.sales[sale_id]
        if not self.bind(viewer, key, key_request(sale_id, q)):
            return "idempotency_mismatch"
        known = s.by_key.get((viewer, key))
        if known is not None:
            order = s.orders[known]
            if order.state == rules.RELEASED:
                return "hold_expired"
            if order.state == rules.HELD and not self.charge(s, known):
                return "insufficient_funds"
            return s.orders[known]
        refused = self.refusal(s, viewer, q, now)
        if refused is not None:
            return refused
        if self.balance(wallet(viewer)) < q * s.announced.price_minor:
            return "insufficient_funds"
        order_id = order_id_for(sale_id, viewer, key)
        self.reserve(s, order_id, viewer, key, q, now)
        assert self.charge(s, order_id)
        return s.orders[order_id]

    def hold(self, sale_id: str, viewer: str, key: str, q: int, now: int) -> Outcome:
        """`PaymentService.buy`: hold the units, and record the payment asked of the provider."""
        s = self.sales[sale_id]
        if not self.bind(viewer, key, key_request(sale_id, q, PROVIDER)):
            return "idempotency_mismatch"
        order_id = order_id_for(sale_id, viewer, key, PROVIDER)
        known = s.by_key.get((viewer, key))
        if known is None:
            refused = self.refusal(s, viewer, q, now)
            if refused is not None:
                return refused
            self.reserve(s, order_id, viewer, key, q, now)
        order = s.orders[order_id]
        pid = payment_id_for(order_id)
        if pid not in self.payments and order.state == rules.HELD:
            self.payments[pid] = Payment(
                pid,
                SANDBOX,
                order_id,
                sale_id,
                viewer,
                s.announced.sponsor_id,
                order.amount_minor,
                s.announced.currency,
                f"/sandbox/pay/{pid}",
                order.expires_at_ms,
            )
        return order

    def settle(self, payment: Payment) -> rules.Order:
        """A confirmed payment: credit the wallet once, then pay the order if it is held."""
        self.post(
            transfer_id("payment", payment.payment_id, "in"),
            provider_account(payment.provider),
            wallet(payment.viewer_id),
            payment.amount_minor,
        )
        s = self.sales[payment.sale_id]
        if s.orders[payment.order_id].state == rules.HELD:
            self.charge(s, payment.order_id)
        return s.orders[payment.order_id]

    def webhook(self, event_id: str, payment_id: str, amount: int) -> str | rules.Order:
        """ "duplicate", "payment_mismatch", or the order once the payment settled."""
        if event_id in self.events:
            return "duplicate"
        payment = self.payments[payment_id]
        if amount != payment.amount_minor:
            return "payment_mismatch"
        order = self.settle(payment)
        self.events.add(event_id)
        return order

    def expire(self, now: int) -> int:
        """The purchase sweep: release every held order whose hold ran out (none is charged
        between steps: a charged held order is only ever in flight)."""
        released = 0
        for s in self.sales.values():
            for order in list(s.orders.values()):
                if order.state == rules.HELD and order.expires_at_ms <= now:
                    assert transfer_id("order", order.id, "pay") not in self.posted
                    s.orders[order.id] = replace(order, state=rules.RELEASED)
                    s.left += order.quantity
                    s.held -= order.quantity
                    s.taken[order.viewer_id] -= order.quantity
                    released += 1
        return released

    def payments_sweep(self) -> int:
        """A held order whose payment was credited is paid."""
        paid = 0
        for payment in self.payments.values():
            s = self.sales[payment.sale_id]
            credited = transfer_id("payment", payment.payment_id, "in") in self.posted
            if credited and s.orders[payment.order_id].state == rules.HELD:
                paid += int(self.charge(s, payment.order_id))
        return paid

    # -- drops

    def launch(self, terms: rp.DropTerms) -> str:
        """The drop's status after `launch`, or "drop_unfunded" (it is then cancelled)."""
        drop = self.drops.setdefault(terms.drop_id, MDrop(terms))
        if drop.status == rp.PENDING:
            funded = self.post(
                transfer_id("drop", terms.drop_id, "fund"),
                terms.funder,
                escrow_of(terms.drop_id),
                terms.budget_minor,
            )
            drop.status = rp.LIVE if funded else rp.CANCELLED
        return "drop_unfunded" if drop.status == rp.CANCELLED else drop.status

    def grab(self, drop_id: str, viewer: str, now: int) -> rp.Claim | str:
        """The claim, or a refusal code ("already_grabbed" is answered with the first claim)."""
        drop = self.drops[drop_id]
        terms = drop.terms
        known = drop.claims.get(viewer)
        if known is not None:
            return known
        if drop.status == rp.CANCELLED:
            return "drop_cancelled"
        if drop.next_index >= terms.count:
            return "empty"
        if drop.status == rp.CLOSED or now >= terms.closes_at_ms:
            return "closed"
        if drop.status == rp.PENDING or now < terms.opens_at_ms:
            return "not_open"
        claim = rp.Claim(drop_id, viewer, drop.next_index, drop.amounts[drop.next_index])
        drop.claims[viewer] = claim
        assert self.post(
            transfer_id("grab", drop_id, viewer),
            escrow_of(drop_id),
            wallet(viewer),
            claim.amount_minor,
        )
        return claim

    def drop_sweep(self, now: int) -> tuple[int, int]:
        """(drops closed, leftovers refunded): close due drops, refund each leftover once."""
        closed = refunded = 0
        for drop in self.drops.values():
            terms = drop.terms
            if drop.status != rp.CLOSED and (
                now >= terms.closes_at_ms
                or drop.next_index >= terms.count
                or drop.status == rp.CANCELLED
            ):
                drop.status = rp.CLOSED
                closed += 1
            funded = transfer_id("drop", terms.drop_id, "fund") in self.posted
            leftover = terms.budget_minor - drop.claimed
            refund = transfer_id("drop", terms.drop_id, "refund")
            if drop.status == rp.CLOSED and funded and leftover > 0 and refund not in self.posted:
                assert self.post(refund, escrow_of(terms.drop_id), terms.funder, leftover)
                refunded += 1
        return closed, refunded


def wallet(viewer: str) -> str:
    return account("wallet", viewer)


__all__ = ["WALLET", "PROVIDER", "MDrop", "MSale", "Model", "Outcome", "wallet"]
