"""The money and stock audit behind `gala audit`: every invariant of DESIGN.md's "Money" section
for sales, checked on what the stores hold against the facts they came from (the show logs'
`sale.opened` announcements), each difference named.

- ledger: every transfer balances, balances equal the sum of their transfers, no wallet, escrow
  or sponsor budget below zero (`ledger.audit`);
- the announcements: every sale a show log announced is in the sale store, with the terms
  announced (stock, price, limit, window, hold); a sale the store lacks is data it lost;
- each sale: sold + held + left == stock, counters agree with the orders, each viewer's stored
  count (what its limit is checked against) agrees with its orders, no viewer over the limit
  (`sale.check`);
- orders and money: each order's amount is the sale's price times its quantity; a paid order was
  charged exactly its amount once, from its own viewer's wallet, to its sponsor's revenue, and
  not refunded; a held order is not refunded; a released order that was charged was refunded
  exactly, to its viewer's wallet; every order payment or refund in the ledger belongs to an
  order;
- provider payments: every `payment/ID/in` credit belongs to a recorded payment of an existing
  order, for the payment's amount, into its viewer's wallet; a held order whose payment was
  credited is named (a confirmation in flight, or the sweeper's to finish).

Read-only: it reports, the sweeper repairs. Run it when no tap is in flight for exact answers (a
tap between its payment and its order being marked paid shows as a held order that was charged).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from gala.kernel import ledger as lg
from gala.kernel.facts import differences

from . import sale as rules
from .ports import LedgerStore, PaymentStore, SaleStore
from .show_sales import AnnouncedSale


async def audit_commerce(
    sales: SaleStore,
    ledger: LedgerStore,
    payments: PaymentStore | None = None,
    announced: Mapping[str, AnnouncedSale] | None = None,
) -> tuple[list[str], str]:
    """(every difference found, a one-line summary of what was checked). `announced`: the sales
    the show logs announced, by sale id (a sale the logs no longer hold, from an earlier epoch,
    is checked against its own terms)."""
    announced = announced or {}
    transfers = {t.id: t for t in await ledger.transfers()}
    books = lg.Ledger("", MappingProxyType(await ledger.balances()), MappingProxyType(transfers))
    problems = [f"ledger: {problem}" for problem in lg.audit(books)]
    known_orders: dict[str, rules.Order] = {}
    sale_ids = await sales.sale_ids()
    for sale_id in sorted(set(announced) - set(sale_ids)):
        problems.append(
            f"sale {sale_id}: announced on the show log but missing from the sale store "
            "(the store lost it, or no node has opened it yet)"
        )
    order_count = 0
    for sale_id in sale_ids:
        terms = await sales.sale_terms(sale_id)
        sale = announced.get(sale_id)
        orders = await sales.orders(sale_id)
        order_count += len(orders)
        known_orders.update((order.id, order) for order in orders)
        found = [] if sale is None else differences(terms, sale.terms)
        found += await _check_sale(sales, terms, orders)
        problems += [f"sale {sale_id}: {p}" for p in found]
        revenue = None if sale is None else lg.account("revenue", sale.sponsor_id)
        for order in orders:
            problems += [
                f"sale {sale_id}, order {order.id}: {p}"
                for p in _check_money(order, terms, revenue, transfers)
            ]
    for transfer in transfers.values():
        reason, _, rest = transfer.id.partition("/")
        if reason == "order" and rest.rsplit("/", 1)[0] not in known_orders:
            problems.append(f"ledger: transfer {transfer.id} belongs to no order")
    if payments is not None:
        problems += await _check_payments(payments, known_orders, transfers)
    summary = f"{len(sale_ids)} sales, {order_count} orders, {len(transfers)} transfers"
    return problems, summary


async def _check_sale(
    sales: SaleStore, terms: rules.SaleTerms, orders: list[rules.Order]
) -> list[str]:
    counts = await sales.counts(terms.sale_id)
    state = rules.SaleState(
        terms,
        counts.status,
        counts.left,
        counts.held,
        counts.sold,
        MappingProxyType(await sales.taken(terms.sale_id)),
        MappingProxyType({o.id: o for o in orders}),
        MappingProxyType({(o.viewer_id, o.key): o.id for o in orders}),
    )
    return rules.check(state)


def _check_money(
    order: rules.Order,
    terms: rules.SaleTerms,
    revenue: str | None,
    transfers: dict[str, lg.Transfer],
) -> list[str]:
    pay = transfers.get(lg.transfer_id("order", order.id, "pay"))
    refund = transfers.get(lg.transfer_id("order", order.id, "refund"))
    wallet = lg.account("wallet", order.viewer_id)
    problems = []
    price = rules.amount_minor(terms, order.quantity)
    if order.amount_minor != price:
        problems.append(
            f"amount {order.amount_minor}, but {order.quantity} at {terms.price_minor} is {price}"
        )
    if pay is not None and pay.amount_minor != order.amount_minor:
        problems.append(f"charged {pay.amount_minor}, the order is {order.amount_minor}")
    if pay is not None and pay.source != wallet:
        problems.append(f"charged to {pay.source}, but the order is {order.viewer_id}'s")
    if pay is not None and revenue is not None and pay.destination != revenue:
        problems.append(f"paid to {pay.destination}, not its sponsor's {revenue}")
    if refund is not None and refund.destination != wallet:
        problems.append(f"refunded to {refund.destination}, but the order is {order.viewer_id}'s")
    if order.state == rules.PAID and pay is None:
        problems.append("paid but never charged")
    if order.state != rules.RELEASED and refund is not None:
        problems.append(f"{order.state} but refunded")
    if order.state == rules.HELD and pay is not None:
        problems.append("held but already charged (a tap in flight, or the sweeper's to settle)")
    if (
        order.state == rules.RELEASED
        and pay is not None
        and (refund is None or refund.amount_minor != pay.amount_minor)
    ):
        problems.append("released after being charged, and not refunded exactly")
    return problems


async def _check_payments(
    payments: PaymentStore, orders: dict[str, rules.Order], transfers: dict[str, lg.Transfer]
) -> list[str]:
    problems = []
    recorded = {payment.payment_id: payment for payment in await payments.payments()}
    for payment in recorded.values():
        order = orders.get(payment.order_id)
        where = f"payment {payment.payment_id}"
        if order is None:
            problems.append(f"{where}: belongs to no order")
        elif (order.amount_minor, order.viewer_id) != (payment.amount_minor, payment.viewer_id):
            problems.append(f"{where}: amount or viewer differ from order {order.id}")
        credit = transfers.get(lg.transfer_id("payment", payment.payment_id, "in"))
        if credit is None:
            continue
        if credit.amount_minor != payment.amount_minor:
            problems.append(f"{where}: credited {credit.amount_minor}, not {payment.amount_minor}")
        if credit.destination != lg.account("wallet", payment.viewer_id):
            problems.append(f"{where}: credited to {credit.destination}, not its viewer's wallet")
        if order is not None and order.state == rules.HELD:
            problems.append(
                f"{where}: credited but order {order.id} still held "
                "(a confirmation in flight, or the sweeper's to finish)"
            )
    for transfer in transfers.values():
        reason, _, rest = transfer.id.partition("/")
        payment_id, _, leg = rest.rpartition("/")
        if reason == "payment" and (payment_id not in recorded or leg != "in"):
            problems.append(f"ledger: transfer {transfer.id} belongs to no payment")
    return problems
