"""Every typed key of the aiohttp application state, in one module.

The running node is held as the services the HTTP edge calls (`gala/http/services.py`), so this
module, and every handler that reads the state, depends on no module of the composition.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import jinja2
from aiohttp import web

from gala.http.services import HttpServices
from gala.kernel.errors import GalaError
from gala.metrics import Metrics
from gala.settings import Settings

NODE: web.AppKey[NodeSlot] = web.AppKey("node")
TEMPLATES: web.AppKey[jinja2.Environment] = web.AppKey("templates")
METRICS: web.AppKey[Metrics] = web.AppKey("metrics")
SETTINGS: web.AppKey[Settings] = web.AppKey("settings")
# drains the running node before the runner's cleanup (`gala serve` on SIGTERM); its argument
# is the bound in seconds
DRAIN: web.AppKey[Callable[[float], Awaitable[None]]] = web.AppKey("drain")


class Unavailable(GalaError):
    """The node is not serving yet (its store is still opening): retry shortly."""

    code = "unavailable"
    status = 503


class NodeSlot:
    """Holds the running node: set by the node's cleanup context once the store is open (the app
    is frozen by then, so the slot itself is what the state holds)."""

    node: HttpServices | None = None


def node_of(app: web.Application) -> HttpServices:
    node = app[NODE].node
    if node is None:
        raise Unavailable("the server is starting")
    return node
