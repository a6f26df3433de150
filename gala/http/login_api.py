"""`POST /api/login`: a producer or sponsor account's username and password for a signed token
(`Authorization: Bearer TOKEN` on the API, or the socket's `auth`). The check, its rate limits and
its refusals are `gala/auth/login.py`'s; the login form of `pages.py` uses the same service.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gala.auth.tokens import Identity
from gala.errors_map import ok
from gala.http.responses import json_response, read_json, services
from gala.kernel.errors import Unauthorized


def client_address(request: web.Request) -> str:
    """The peer's address: what the per-address login limit counts (a proxy in front of the node
    would make every client one address; none is configured)."""
    return request.remote or "unknown"


async def log_in(request: web.Request, username: Any, password: Any) -> Identity:
    if not isinstance(username, str) or not isinstance(password, str):
        raise Unauthorized("username and password are required", code="bad_login")
    return await services(request).login.log_in(username, password, client_address(request))


async def account_login(request: web.Request) -> web.Response:
    body = await read_json(request)
    identity = await log_in(request, body.get("username"), body.get("password"))
    node = services(request)
    ttl = node.settings.producer_token_ttl_s
    return json_response(
        ok(
            {
                "token": node.issue_token(identity, ttl),
                "username": identity.subject,
                "role": identity.role,
                "sponsor_id": identity.sponsor_id,
                "expires_in_s": ttl,
            }
        )
    )


def add_login_routes(app: web.Application) -> None:
    app.router.add_post("/api/login", account_login)
