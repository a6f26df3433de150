"""The HTTP edge's answers and the checks every endpoint shares: JSON and CSV responses, the JSON
body reader, the caller behind a request, and the error middleware.

Every JSON answer has the ack shape `{"ok": true, "data": ...}` or `{"ok": false, "error":
{"code", "message"}}` with the error's HTTP status. The middleware gives that shape to every
refusal: a `GalaError` raised by a handler, and aiohttp's own (an unknown path is `not_found`, a
wrong method `method_not_allowed`, a body over the app's limit `payload_too_large`). Under
`/api/` and the operators' paths (`/healthz`, `/readyz`, `/metrics`) the answer is always JSON;
on page paths a browser (its `Accept` names `text/html`) gets the same code and message as a
small HTML page, anything else JSON.
"""

from __future__ import annotations

import html
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from gala import appkeys
from gala.auth.tokens import PRODUCER, Identity, require_role
from gala.errors_map import refusal
from gala.http.services import HttpServices
from gala.kernel.errors import BadRequest, Unauthorized

MAX_BODY_BYTES = 16 * 1024
JSON_PATHS = ("/api/", "/healthz", "/readyz", "/metrics")
SESSION_COOKIE = "gala_session"

# aiohttp's refusals by status: the stable code, and a message better than its reason phrase
HTTP_CODES = {
    400: ("bad_request", "the request is malformed"),
    401: ("unauthorized", "log in first"),
    403: ("forbidden", "this is not yours to see"),
    404: ("not_found", "nothing is here"),
    405: ("method_not_allowed", "this path does not take that method"),
    413: ("payload_too_large", "the body is too large"),
    415: ("unsupported_media_type", "this body's type is not accepted here"),
    500: ("internal_error", "something went wrong on our side"),
    504: ("timeout", "the answer took too long"),
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def services(request: web.Request) -> HttpServices:
    return appkeys.node_of(request.app)


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda d: json.dumps(d, ensure_ascii=False))


def csv_response(text: str, name: str) -> web.Response:
    return web.Response(
        text=text,
        content_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


def wants_json(request: web.BaseRequest) -> bool:
    if request.path.startswith(JSON_PATHS):
        return True
    return "text/html" not in request.headers.get("Accept", "")


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"ok": False, "error": {"code": code, "message": message}}


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every refusal in the one error shape (see the module's docstring)."""
    try:
        return await handler(request)
    except web.HTTPException as error:
        if error.status < 400:
            raise  # a redirect
        return _coded_http_error(request, error)
    except Exception as error:  # noqa: BLE001 - every failure of the API gets the one shape
        if not wants_json(request):
            raise  # a page's unexpected failure: aiohttp logs it and answers 500
        status, body = refusal(error)
        return with_retry_after(json_response(body, status), error)


def with_retry_after(response: web.Response, error: BaseException) -> web.Response:
    """A retryable refusal (one that says `retry_after_s`) tells when, in `Retry-After` too."""
    retry_after_s = getattr(error, "retry_after_s", None)
    if isinstance(retry_after_s, int):
        response.headers["Retry-After"] = str(retry_after_s)
    return response


def _coded_http_error(request: web.Request, error: web.HTTPException) -> web.Response:
    code, message = HTTP_CODES.get(error.status, (f"http_{error.status}", error.reason))
    if error.text and error.text != f"{error.status}: {error.reason}":
        message = error.text  # a handler's own words ("no such show")
    response = coded_refusal(request, error.status, code, message)
    for name in ("Allow", "Retry-After"):
        if name in error.headers:
            response.headers[name] = error.headers[name]
    return response


def coded_refusal(request: web.BaseRequest, status: int, code: str, message: str) -> web.Response:
    """The error shape as JSON, or as a small HTML page for a browser on a page path."""
    if wants_json(request):
        return json_response(error_body(code, message), status)
    page = (
        f"<!doctype html><title>{status} {html.escape(code)}</title>"
        f"<h1>{html.escape(message)}</h1><p><code>{html.escape(code)}</code></p>"
    )
    return web.Response(text=page, status=status, content_type="text/html")


async def read_json(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object (`{}` when empty), at most `MAX_BODY_BYTES`."""
    raw = await read_body(request)
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise BadRequest("the body is not JSON", code="bad_payload") from None
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object", code="bad_payload")
    return body


async def read_body(request: web.Request) -> bytes:
    """The raw body, at most `MAX_BODY_BYTES` (read no further than one byte past it)."""
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise BadRequest("the body is too large", code="payload_too_large")
    raw = await request.content.read(MAX_BODY_BYTES + 1)
    if len(raw) > MAX_BODY_BYTES:
        raise BadRequest("the body is too large", code="payload_too_large")
    return raw


def caller_of(request: web.Request, *roles: str) -> Identity:
    """The caller behind a request, who must hold one of `roles`: a `Bearer` token, or the
    session cookie the login form sets (console and portal)."""
    header = request.headers.get("Authorization", "")
    token = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else None
    token = token or request.cookies.get(SESSION_COOKIE)
    if not token:
        raise Unauthorized("log in first", code="unauthorized")
    return require_role(services(request).authenticate(token), *roles)


def producer_of(request: web.Request) -> Identity:
    """The producer behind a request: a `Bearer` token, or the console's session cookie."""
    return caller_of(request, PRODUCER)
