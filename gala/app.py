"""The app factory: `create_app(settings)` builds the aiohttp application and is the only place
the parts are connected. The node (store, services, show runtimes) is opened and closed by one
cleanup context; nothing connects at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from gala import appkeys
from gala.auth.tokens import Identity
from gala.http.login_api import add_login_routes
from gala.http.openapi import add_openapi_route
from gala.http.operations_api import add_operations_routes
from gala.http.pages import setup_pages
from gala.http.payments_api import add_payment_routes
from gala.http.responses import error_middleware
from gala.http.show_api import add_show_routes
from gala.http.sponsor_api import add_sponsor_routes
from gala.kernel.clock import Clock, SystemClock
from gala.kernel.errors import Unauthorized
from gala.metrics import Metrics
from gala.node import Node
from gala.realtime.facade import PRODUCER_NS, VIEWER_NS, Realtime
from gala.settings import Settings, default_node_id


def create_app(settings: Settings, clock: Clock | None = None) -> web.Application:
    # decided here, once, so /healthz names the node while its store is still opening
    settings = settings.replace(node_id=settings.node_id or default_node_id())
    app = web.Application(middlewares=[error_middleware], client_max_size=64 * 1024)
    app[appkeys.SETTINGS] = settings
    app[appkeys.NODE] = slot = appkeys.NodeSlot()
    app[appkeys.METRICS] = metrics = Metrics()
    the_clock = clock or SystemClock()

    def authenticate(token: object) -> Identity:
        if slot.node is None:
            raise Unauthorized("the server is starting", code="unavailable")
        return slot.node.authenticate(token)

    realtime = Realtime(
        settings.max_payload_bytes,
        authenticate,
        {VIEWER_NS: ("viewer", "producer"), PRODUCER_NS: ("producer",)},
        max_viewer_buffer_bytes=settings.max_viewer_buffer_bytes,
        ping_interval_s=settings.ping_interval_s,
        metrics=metrics,
    )
    realtime.attach(app)
    add_show_routes(app)
    add_login_routes(app)
    add_payment_routes(app)
    add_sponsor_routes(app)
    add_openapi_route(app)
    add_operations_routes(app)
    setup_pages(app)

    running: list[Node] = []

    async def node_lifetime(app: web.Application) -> AsyncIterator[None]:
        node = await Node.open(settings, the_clock, realtime, metrics)
        slot.node = node
        running.append(node)
        yield
        running.clear()
        slot.node = None
        await node.close()

    async def drain(timeout_s: float) -> None:
        for node in running:
            await node.drain(timeout_s)

    app[appkeys.DRAIN] = drain

    async def disconnect_clients(app: web.Application) -> None:
        # Before aiohttp waits for open connections: websockets never end by themselves.
        await realtime.close()

    app.cleanup_ctx.append(node_lifetime)
    app.on_shutdown.append(disconnect_clients)
    return app
