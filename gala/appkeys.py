"""Every typed key of the aiohttp application state, in one module."""

from __future__ import annotations

from typing import TYPE_CHECKING

import jinja2
from aiohttp import web

from gala.kernel.errors import GalaError

if TYPE_CHECKING:  # pragma: no cover
    from gala.node import Node
    from gala.settings import Settings

SETTINGS: web.AppKey[Settings] = web.AppKey("settings")
NODE: web.AppKey[NodeSlot] = web.AppKey("node")
TEMPLATES: web.AppKey[jinja2.Environment] = web.AppKey("templates")


class NodeSlot:
    """Holds the running node: set by the node's cleanup context once the store is open (the app
    is frozen by then, so the slot itself is what the state holds)."""

    node: Node | None = None


def node_of(app: web.Application) -> Node:
    node = app[NODE].node
    if node is None:
        raise GalaError("the server is starting", code="unavailable")
    return node
