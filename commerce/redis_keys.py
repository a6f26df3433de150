"""Redis key names of commerce: all of one sale in the hash slot `{sale:ID}`, an account in
`{acct:NAME}` (a viewer's idempotency keys in its wallet's slot), a payment in `{pay:ID}`, a
handled webhook event in `{whevent:ID}`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SaleKeys:
    sale: str
    orders: str
    keys: str
    taken: str
    holds: str
    by_viewer: str  # viewer -> its order ids, comma-separated (a viewer's orders, for its wallet)


def sale_keys(sale_id: str, prefix: str = "gala") -> SaleKeys:
    tag = f"{prefix}:{{sale:{sale_id}}}"
    return SaleKeys(
        sale=f"{tag}:sale",
        orders=f"{tag}:orders",
        keys=f"{tag}:keys",
        taken=f"{tag}:taken",
        holds=f"{tag}:holds",
        by_viewer=f"{tag}:by_viewer",
    )


@dataclass(frozen=True, slots=True)
class AccountKeys:
    balance: str
    applied: str


def account_keys(account_name: str, prefix: str = "gala") -> AccountKeys:
    """An account's keys, in the slot `{acct:NAME}`; a wallet's account is its viewer's slot."""
    tag = f"{prefix}:{{acct:{account_name}}}"
    return AccountKeys(balance=f"{tag}:balance", applied=f"{tag}:applied")


def tap_keys_key(viewer_id: str, prefix: str = "gala") -> str:
    """A viewer's idempotency keys, each bound to the request it names (a hash in the slot of the
    viewer's wallet)."""
    return f"{prefix}:{{acct:wallet:{viewer_id}}}:tap_keys"


def ledger_index_keys(prefix: str = "gala") -> tuple[str, str, str]:
    """(intents hash, completed transfers hash, accounts set): single-key structures, each in
    its own slot, written only by single-key commands."""
    return f"{prefix}:ledger:intents", f"{prefix}:ledger:transfers", f"{prefix}:ledger:accounts"


def payment_key(payment_id: str, prefix: str = "gala") -> str:
    """A payment asked of a provider: one JSON string in its own slot."""
    return f"{prefix}:{{pay:{payment_id}}}:payment"


def payment_index_key(prefix: str = "gala") -> str:
    """Every payment id (a set, written only by single-key commands; for audits)."""
    return f"{prefix}:payments"


def webhook_event_key(event_id: str, prefix: str = "gala") -> str:
    """A handled webhook event, kept for a while to recognise a repeated delivery."""
    return f"{prefix}:{{whevent:{event_id}}}"
