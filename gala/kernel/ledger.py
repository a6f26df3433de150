"""The double-entry ledger: accounts, immutable transfers, balances. Pure rules, no I/O.

It lives in the kernel because two features move money: commerce (orders) and redpackets
(drops); each declares the ledger store it needs as a port, and the hub hands both the same one.

Every movement of money is a `Transfer` of a positive integer amount (minor units of the ledger's
one currency) from one account to another, so the balances always sum to zero. A transfer's id is
deterministic (`transfer_id(reason, ref, leg)`: an order or claim id and the step of its saga), so
a retried step is a no-op; the same id with another content is refused. Accounts of the kinds
in `NON_NEGATIVE` (viewer wallets, drop escrow, sponsor and show budgets) never go below zero;
`external` accounts (a payment provider, the demo grant, budget deposits) are where money enters
and leaves the system.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from gala.kernel.errors import BadRequest, Conflict

ACCOUNT_KINDS = ("wallet", "sponsor_budget", "show_budget", "escrow", "revenue", "external")
NON_NEGATIVE = frozenset({"wallet", "sponsor_budget", "show_budget", "escrow"})
MAX_AMOUNT_MINOR = 10**15


class InsufficientFunds(Conflict):
    code = "insufficient_funds"


class TransferMismatch(Conflict):
    """The transfer id was used before for another movement."""

    code = "idempotency_mismatch"


class BadTransfer(BadRequest):
    code = "bad_transfer"


def account(kind: str, owner: str) -> str:
    """An account name such as `wallet:v-42` or `revenue:aurora`."""
    if kind not in ACCOUNT_KINDS:
        raise BadTransfer(f"unknown account kind {kind!r}")
    if not owner or ":" in owner:
        raise BadTransfer(f"bad account owner {owner!r}")
    return f"{kind}:{owner}"


def kind_of(account_name: str) -> str:
    return account_name.split(":", 1)[0]


def transfer_id(reason: str, ref: str, leg: str = "main") -> str:
    """The deterministic id of one step: retried, it names the same transfer."""
    return f"{reason}/{ref}/{leg}"


@dataclass(frozen=True, slots=True)
class Transfer:
    id: str
    source: str
    destination: str
    amount_minor: int
    reason: str

    def __post_init__(self) -> None:
        if type(self.amount_minor) is not int or not 0 < self.amount_minor <= MAX_AMOUNT_MINOR:
            raise BadTransfer("a transfer moves a positive whole number of minor units")
        if self.source == self.destination:
            raise BadTransfer("a transfer needs two different accounts")
        for name in (self.source, self.destination):
            if kind_of(name) not in ACCOUNT_KINDS:
                raise BadTransfer(f"unknown account {name!r}")


@dataclass(frozen=True, slots=True)
class Ledger:
    currency: str
    balances: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    transfers: Mapping[str, Transfer] = field(default_factory=lambda: MappingProxyType({}))

    def balance(self, account_name: str) -> int:
        return self.balances.get(account_name, 0)

    def post(self, transfer: Transfer) -> Ledger:
        """Apply one transfer; the same transfer again changes nothing."""
        known = self.transfers.get(transfer.id)
        if known is not None:
            if known != transfer:
                raise TransferMismatch(f"transfer {transfer.id!r} was posted with other content")
            return self
        if (
            kind_of(transfer.source) in NON_NEGATIVE
            and self.balance(transfer.source) < transfer.amount_minor
        ):
            raise InsufficientFunds(
                f"{transfer.source} holds {self.balance(transfer.source)}, "
                f"needs {transfer.amount_minor}"
            )
        balances = dict(self.balances)
        balances[transfer.source] = balances.get(transfer.source, 0) - transfer.amount_minor
        balances[transfer.destination] = (
            balances.get(transfer.destination, 0) + transfer.amount_minor
        )
        transfers = dict(self.transfers)
        transfers[transfer.id] = transfer
        return replace(
            self, balances=MappingProxyType(balances), transfers=MappingProxyType(transfers)
        )

    def post_all(self, transfers: Iterable[Transfer]) -> Ledger:
        ledger = self
        for transfer in transfers:
            ledger = ledger.post(transfer)
        return ledger


def audit(ledger: Ledger) -> list[str]:
    """Every difference between the ledger and its invariants (empty when it is sound): balances
    sum to zero, each balance equals the sum of its transfers, no guarded account is negative."""
    problems = []
    if sum(ledger.balances.values()) != 0:
        problems.append(f"balances sum to {sum(ledger.balances.values())}, not 0")
    expected: dict[str, int] = {}
    for transfer in ledger.transfers.values():
        expected[transfer.source] = expected.get(transfer.source, 0) - transfer.amount_minor
        expected[transfer.destination] = (
            expected.get(transfer.destination, 0) + transfer.amount_minor
        )
    for name in sorted(set(expected) | set(ledger.balances)):
        if expected.get(name, 0) != ledger.balance(name):
            problems.append(
                f"{name}: balance {ledger.balance(name)}, transfers say {expected.get(name, 0)}"
            )
        if kind_of(name) in NON_NEGATIVE and ledger.balance(name) < 0:
            problems.append(f"{name} is negative: {ledger.balance(name)}")
    return problems
