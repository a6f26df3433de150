"""`POST /api/login`: a producer or sponsor account's username and password for a signed token
(`Authorization: Bearer TOKEN` on the API, or the socket's `auth`). The check, its rate limits and
its refusals are `gala/auth/login.py`'s; the login form of `pages.py` uses the same service.
"""

from __future__ import annotations

from aiohttp import web

from gala.auth.tokens import Identity
from gala.errors_map import ok
from gala.http.bodies import LoginRequest, parse_body
from gala.http.responses import json_response, services


def client_address(request: web.Request) -> str:
    """The peer's address: what the per-address login limit counts (a proxy in front of the node
    would make every client one address; none is configured)."""
    return request.remote or "unknown"


async def log_in(request: web.Request, body: LoginRequest) -> Identity:
    login = services(request).login
    return await login.log_in(body.username, body.password, client_address(request))


async def account_login(request: web.Request) -> web.Response:
    identity = await log_in(request, await parse_body(request, LoginRequest))
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
