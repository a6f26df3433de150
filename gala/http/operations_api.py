"""The operators' endpoints: `GET /healthz` (the process is up), `GET /readyz` (this node should
get traffic) and `GET /metrics` (the Prometheus text format).

They are unauthenticated: operators, load balancers and Prometheus reach them from inside the
network, and they show no show's content (docs/operations.md, "Health and metrics"). The access
log leaves them out (`gala/http/access_log.py`): a scrape every few seconds is noise.

- `/healthz` is 200 whenever the process answers HTTP, while the node is still starting too (the
  node id is decided before the store opens, and is in the settings).
- `/readyz` is 200 when the store answers one round trip (within 1 s), every installed show's
  log is folded on this node, and the node is not draining; else 503 `not_ready` with every
  check's state, and 503 `unavailable` while the node starts.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gala import appkeys
from gala.errors_map import ok
from gala.http.responses import json_response, services
from gala.http.services import Readiness
from gala.kernel.errors import GalaError
from gala.metrics import CONTENT_TYPE

HEALTH, READY, METRICS = "/healthz", "/readyz", "/metrics"
OPERATIONS_PATHS = frozenset({HEALTH, READY, METRICS})


class NotReady(GalaError):
    """The node should get no traffic now; `checks` says which check failed."""

    code = "not_ready"
    status = 503

    def __init__(self, readiness: Readiness) -> None:
        super().__init__(f"this node is not ready: {', '.join(failed_checks(readiness))}")
        self.checks = readiness.as_wire()

    def as_dict(self) -> dict[str, Any]:
        return {**super().as_dict(), "checks": self.checks}


def failed_checks(readiness: Readiness) -> list[str]:
    failed = []
    if not readiness.store.ok:
        failed.append(f"the {readiness.store.kind} store does not answer")
    loading = sorted(show_id for show_id, ready in readiness.shows.items() if not ready)
    if loading:
        failed.append(f"still folding the log of {', '.join(loading)}")
    if readiness.draining:
        failed.append("draining")
    return failed


async def healthz(request: web.Request) -> web.Response:
    node = request.app[appkeys.NODE].node
    node_id = node.node_id if node is not None else request.app[appkeys.SETTINGS].node_id
    return json_response(ok({"node_id": node_id, "status": "up"}))


async def readyz(request: web.Request) -> web.Response:
    readiness = await services(request).readiness()
    if not readiness.ready:
        raise NotReady(readiness)
    return json_response(ok({"ready": True, "checks": readiness.as_wire()}))


async def metrics(request: web.Request) -> web.Response:
    body = request.app[appkeys.METRICS].render()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})


def add_operations_routes(app: web.Application) -> None:
    app.router.add_get(HEALTH, healthz)
    app.router.add_get(READY, readyz)
    app.router.add_get(METRICS, metrics)
