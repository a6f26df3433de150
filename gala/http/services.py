"""What the HTTP edge needs from a running node: its services, named by their types only.

The handlers see the node through `HttpServices` (the app state's slot is typed with it), so the
edge depends on the services it calls and on nothing of the composition that builds them; every
member is read-only, so a handler cannot swap a service. The store appears only as its kind.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from commerce.payments import PaymentService
from commerce.sandbox_provider import SandboxProvider
from commerce.service import PurchaseService
from gala.auth.login import LoginService
from gala.auth.tokens import Identity
from gala.runofshow.registry import ShowRegistry
from gala.settings import Settings
from sponsors.service import SponsorService


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
