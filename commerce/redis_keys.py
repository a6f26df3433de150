"""Redis key names of commerce, all of one sale in the hash slot `{sale:ID}`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SaleKeys:
    sale: str
    orders: str
    keys: str
    taken: str
    holds: str


def sale_keys(sale_id: str, prefix: str = "gala") -> SaleKeys:
    tag = f"{prefix}:{{sale:{sale_id}}}"
    return SaleKeys(
        sale=f"{tag}:sale",
        orders=f"{tag}:orders",
        keys=f"{tag}:keys",
        taken=f"{tag}:taken",
        holds=f"{tag}:holds",
    )


@dataclass(frozen=True, slots=True)
class AccountKeys:
    balance: str
    applied: str


def account_keys(account_name: str, prefix: str = "gala") -> AccountKeys:
    """An account's keys, in the slot `{acct:NAME}`; a wallet's account is its viewer's slot."""
    tag = f"{prefix}:{{acct:{account_name}}}"
    return AccountKeys(balance=f"{tag}:balance", applied=f"{tag}:applied")


def ledger_index_keys(prefix: str = "gala") -> tuple[str, str, str]:
    """(intents hash, completed transfers hash, accounts set): single-key structures, each in
    its own slot, written only by single-key commands."""
    return f"{prefix}:ledger:intents", f"{prefix}:ledger:transfers", f"{prefix}:ledger:accounts"
