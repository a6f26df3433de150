"""What the hub needs from a store backend, beyond the features' own ports.

Each method states its atomicity. Both backends (`gala/stores/sqlite_hub.py`,
`gala/stores/redis_hub.py`) pass the same contract suite (`tests/contract/`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Protocol

from gala.kernel.showlog import AuditEntry, LoggedEvent


@dataclass(frozen=True, slots=True)
class LogBatch:
    """Events read from a show's log, in order; `last_pos` is where the next read starts."""

    last_pos: int
    events: list[LoggedEvent] = field(default_factory=list)
    epoch: str = ""


@dataclass(frozen=True, slots=True)
class Account:
    username: str
    password_hash: str
    role: str
    sponsor_id: str | None = None  # the sponsor a `sponsor` account acts for


@dataclass(frozen=True, slots=True)
class TapTotals:
    """Taps of a show answered ok: buys (orders made or retried) and grabs (envelopes taken).
    A node reports its own running totals since it started."""

    buys: int = 0
    grabs: int = 0

    def __add__(self, other: TapTotals) -> TapTotals:
        return TapTotals(self.buys + other.buys, self.grabs + other.grabs)


NO_TAPS = TapTotals()


@dataclass(frozen=True, slots=True)
class PresenceTotals:
    viewers: int
    operators: tuple[str, ...]
    taps: TapTotals = NO_TAPS


class ShowLogReader(Protocol):
    async def read_log(self, show_id: str) -> LogBatch:
        """Every event of the show's current epoch, in seq order (one consistent read)."""
        ...

    def tail_log(self, show_id: str, after_pos: int) -> AsyncIterator[LogBatch]:
        """Yield the events appended after `after_pos`, in order, as they come; a batch may span
        a change of epoch (its events then carry the new epoch). Never skips or repeats one."""
        ...

    async def read_audit(self, show_id: str, limit: int) -> list[AuditEntry]:
        """The newest `limit` audit entries, oldest first."""
        ...


class ShowDocuments(Protocol):
    async def put_show_document(self, show_id: str, document: str) -> None:
        """Store (replace) the show's definition as loaded from its file. Atomic."""
        ...

    async def show_documents(self) -> dict[str, str]:
        """Every installed show's definition by show id."""
        ...


class Accounts(Protocol):
    async def put_account(self, account: Account) -> None:
        """Create or replace an account. Atomic; idempotent."""
        ...

    async def get_account(self, username: str) -> Account | None: ...


class Secrets(Protocol):
    async def server_secret(self, candidate: bytes) -> bytes:
        """The deployment's signing secret: the stored one, or `candidate` stored first if there is
        none (atomic set-if-absent, so every node agrees)."""
        ...


@dataclass(frozen=True, slots=True)
class Durability:
    """What the store keeps of an acknowledged write if its server crashes, as it reports it."""

    durable: bool  # an acknowledged write survives a crash of the store's server
    setting: str  # the store's own words for it, for the log ("appendonly yes, appendfsync always")


class StoreIdentity(Protocol):
    async def store_identity(self) -> str | None:
        """The identity the store was given when a node first opened it (None: no node ever did,
        or the store was emptied or replaced since)."""
        ...

    async def create_store_identity(self, candidate: str) -> str:
        """The stored identity, or `candidate` stored first if there is none (atomic
        set-if-absent)."""
        ...

    async def durability(self) -> Durability:
        """How the store's server keeps what it acknowledged (read from its settings)."""
        ...


class Presence(Protocol):
    async def report_presence(
        self,
        show_id: str,
        node_id: str,
        viewers: int,
        operators: tuple[str, ...],
        now_ms: int,
        taps: TapTotals = NO_TAPS,
    ) -> None:
        """Record this node's counts for the show (replaces its previous report). Atomic."""
        ...

    async def presence(self, show_id: str, now_ms: int) -> PresenceTotals:
        """The sum over nodes that reported within the last few seconds (a report without tap
        totals, from an older node, counts as none)."""
        ...


PRESENCE_FRESH_MS = 5_000


class EditedRunOfShow(Protocol):
    async def edited_cues(self, show_id: str) -> tuple[int, str | None]:
        """(version, the show's edited cue tables as JSON, or None while never edited)."""
        ...

    async def save_cues(self, show_id: str, expected_version: int, cues_json: str) -> bool:
        """Atomically: if the stored version is still `expected_version`, store the cue tables
        as version + 1 and return True; else change nothing and return False."""
        ...
