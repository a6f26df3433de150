"""What the HTTP edge needs from a running node: its services, named by their types only.

The handlers see the node through `HttpServices` (the app state's slot is typed with it), so the
edge depends on the services it calls and on nothing of the composition that builds them; every
member is read-only, so a handler cannot swap a service. The store appears only as its kind.
`Readiness` is what the node answers for `/readyz`: each check's state, and whether all pass.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from commerce.payments import PaymentService
from commerce.sandbox_provider import SandboxProvider
from commerce.service import PurchaseService
from gala.auth.login import LoginService
from gala.auth.tokens import Identity
from gala.runofshow.registry import ShowRegistry
from gala.settings import Settings
from sponsors.service import SponsorService


@dataclass(frozen=True, slots=True)
class StoreCheck:
    """One round trip to the store: `error` names what went wrong when it did not answer."""

    kind: str
    ok: bool
    latency_ms: float
    error: str | None = None

    def as_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"kind": self.kind, "ok": self.ok, "latency_ms": self.latency_ms}
        if self.error is not None:
            wire["error"] = self.error
        return wire


@dataclass(frozen=True, slots=True)
class Readiness:
    """Whether this node should get traffic: its store answers, every installed show's log is
    folded (`shows`: ready or not, by show id), and it is not draining."""

    store: StoreCheck
    shows: Mapping[str, bool]
    draining: bool

    @property
    def ready(self) -> bool:
        return self.store.ok and all(self.shows.values()) and not self.draining

    def as_wire(self) -> dict[str, Any]:
        return {
            "store": self.store.as_wire(),
            "shows": {show_id: {"ready": ready} for show_id, ready in sorted(self.shows.items())},
            "draining": self.draining,
        }


class TokenIssuer(Protocol):
    def authenticate(self, token: object) -> Identity:
        """The identity a signed token carries, or `bad_token` / `token_expired`."""
        ...

    def issue_token(self, identity: Identity, ttl_s: int) -> str: ...


class WireSnapshot(Protocol):
    def as_wire(self) -> dict[str, Any]: ...


class SnapshotChannel(Protocol):
    @property
    def ready(self) -> asyncio.Event:
        """Set once the node has folded the show's log."""
        ...

    @property
    def snapshot(self) -> WireSnapshot: ...


class ShowSnapshots(Protocol):
    @property
    def channel(self) -> SnapshotChannel: ...


class StoreKind(Protocol):
    @property
    def kind(self) -> str: ...


class HttpServices(TokenIssuer, Protocol):
    @property
    def settings(self) -> Settings: ...

    @property
    def node_id(self) -> str: ...

    @property
    def store(self) -> StoreKind: ...

    @property
    def shows(self) -> ShowRegistry: ...

    @property
    def login(self) -> LoginService: ...

    @property
    def purchases(self) -> PurchaseService: ...

    @property
    def payments(self) -> PaymentService: ...

    @property
    def sandbox(self) -> SandboxProvider | None: ...

    @property
    def sponsors(self) -> SponsorService: ...

    async def show_results(self, show_id: str) -> dict[str, Any]:
        """The show's results now (gala/results/report.py)."""
        ...

    def runtime(self, show_id: str) -> ShowSnapshots:
        """The show's runtime on this node, or `unknown_show`."""
        ...

    async def readiness(self) -> Readiness:
        """Each check of `/readyz` now: the store pinged (at most 1 s), every show's log folded,
        not draining."""
        ...
