"""HTML pages (jinja2): the viewer page, the stage console, the sponsor portal and the login.

Pages carry their configuration as JSON in a `<script type="application/json">` element; the
console page is only rendered for a producer session cookie (a signed producer token) and embeds
that token for the socket connection. Browser libraries are served from `web/node_modules`,
installed from the npm lockfile by `scripts/setup`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web

from gala import appkeys
from gala.auth.tokens import PRODUCER, SPONSOR, Identity
from gala.http.bodies import LoginRequest, parse
from gala.http.login_api import log_in
from gala.http.responses import SESSION_COOKIE, services, with_retry_after
from gala.kernel.errors import GalaError

WEB_ROOT = Path(__file__).resolve().parents[2] / "web"
VENDOR_FILES = {
    "socket.io.min.js": WEB_ROOT / "node_modules/socket.io-client/dist/socket.io.min.js",
    "hls.min.js": WEB_ROOT / "node_modules/hls.js/dist/hls.min.js",
}


def render(request: web.Request, name: str, **context: Any) -> web.Response:
    template = request.app[appkeys.TEMPLATES].get_template(name)
    response = web.Response(text=template.render(**context), content_type="text/html")
    # same origin only: the console frames the viewer page as its phone preview
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def session_of(request: web.Request, role: str) -> Identity | None:
    """The identity of the session cookie if it holds `role`, else None."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        identity = services(request).authenticate(token)
    except GalaError:
        return None
    return identity if identity.role == role else None


def producer_session(request: web.Request) -> Identity | None:
    return session_of(request, PRODUCER)


async def index(request: web.Request) -> web.StreamResponse:
    shows = services(request).shows.all()
    if len(shows) == 1:
        raise web.HTTPFound(f"/watch/{shows[0].id}")
    return render(request, "index.html", shows=[s.public_info() for s in shows])


async def watch(request: web.Request) -> web.Response:
    show = _show_or_404(request)
    provider = services(request).payments.provider
    return render(
        request,
        "watch.html",
        show=show.public_info(),
        config={"show": show.public_info(), "payment_provider": provider},
    )


async def console_index(request: web.Request) -> web.StreamResponse:
    shows = services(request).shows.all()
    raise web.HTTPFound(f"/console/{shows[0].id}" if shows else "/")


async def console(request: web.Request) -> web.Response:
    identity = producer_session(request)
    if identity is None:
        raise web.HTTPFound(f"/login?next=/console/{request.match_info['show_id']}")
    show = _show_or_404(request)
    token = request.cookies[SESSION_COOKIE]
    return render(
        request,
        "console.html",
        show=show.public_info(),
        user=identity.subject,
        config={"show": show.public_info(), "token": token, "user": identity.subject},
    )


async def sponsor_portal(request: web.Request) -> web.Response:
    """The sponsor portal: its page calls the JSON API with the token it embeds."""
    identity = session_of(request, SPONSOR)
    if identity is None:
        raise web.HTTPFound("/login?next=/sponsor")
    return render(
        request,
        "sponsor.html",
        user=identity.subject,
        sponsor_id=identity.sponsor_id,
        config={
            "token": request.cookies[SESSION_COOKIE],
            "user": identity.subject,
            "sponsor_id": identity.sponsor_id,
        },
    )


async def login_form(request: web.Request) -> web.Response:
    return render(request, "login.html", next=_safe_next(request.query.get("next")), error=None)


def _landing(identity: Identity, next_url: str) -> str:
    """Where a login lands: sponsors always on their portal, producers where they were going."""
    if identity.role == SPONSOR:
        return "/sponsor"
    return "/console" if next_url.startswith("/sponsor") else next_url


async def login_submit(request: web.Request) -> web.Response:
    form = await request.post()
    next_url = _safe_next(form.get("next"))
    try:
        fields = {"username": form.get("username"), "password": form.get("password")}
        identity = await log_in(request, parse(LoginRequest, fields))
    except GalaError as error:
        response = render(request, "login.html", next=next_url, error=error.message)
        response.set_status(error.status)
        return with_retry_after(response, error)
    node = services(request)
    ttl = node.settings.producer_token_ttl_s
    response = web.HTTPFound(_landing(identity, next_url))
    response.set_cookie(
        SESSION_COOKIE,
        node.issue_token(identity, ttl),
        max_age=ttl,
        httponly=True,
        samesite="Lax",
        path="/",
    )
    raise response


async def logout(request: web.Request) -> web.Response:
    response = web.HTTPFound("/login")
    response.del_cookie(SESSION_COOKIE, path="/")
    raise response


async def vendor(request: web.Request) -> web.StreamResponse:
    path = VENDOR_FILES.get(request.match_info["name"])
    if path is None or not path.is_file():
        raise web.HTTPNotFound(text="browser library missing: run scripts/setup (npm ci in web/)")
    return web.FileResponse(path, headers={"Cache-Control": "public, max-age=3600"})


def _show_or_404(request: web.Request) -> Any:
    try:
        return services(request).shows.get(request.match_info["show_id"])
    except GalaError:
        raise web.HTTPNotFound(text="no such show") from None


def _safe_next(raw: object) -> str:
    if isinstance(raw, str) and raw.startswith("/") and not raw.startswith("//"):
        return raw
    return "/console"


def setup_pages(app: web.Application) -> None:
    app[appkeys.TEMPLATES] = jinja2.Environment(
        loader=jinja2.FileSystemLoader(WEB_ROOT / "templates"), autoescape=True
    )
    app.router.add_get("/", index)
    app.router.add_get("/watch/{show_id}", watch)
    app.router.add_get("/console", console_index)
    app.router.add_get("/console/{show_id}", console)
    app.router.add_get("/sponsor", sponsor_portal)
    app.router.add_get("/login", login_form)
    app.router.add_post("/login", login_submit)
    app.router.add_post("/logout", logout)
    app.router.add_get("/vendor/{name}", vendor)
    app.router.add_static("/static", WEB_ROOT / "static", follow_symlinks=False)
