"""Payments over HTTP: the provider's webhook endpoint, and the sandbox provider's pay page.

`POST /api/payments/webhook` reads the raw body (the signature covers its exact bytes) and hands
it with the `Gala-Signature` header to `PaymentService.receive_webhook`; refusals get the API's
error shape through the error middleware. The sandbox pages exist only when the sandbox provider
is on (`GALA_PAYMENT_PROVIDER=sandbox`, or `gala demo`): pressing Pay makes the sandbox sign a
`payment.succeeded` event and POST it to this node's own webhook endpoint, at the local address
the request came in on (never a Host header), so the real verification path runs.
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
from aiohttp import web

from commerce.sandbox_provider import SandboxProvider
from commerce.webhooks import SIGNATURE_HEADER
from gala import appkeys
from gala.errors_map import ok
from gala.http.pages import render
from gala.http.responses import MAX_BODY_BYTES, json_response
from gala.kernel.errors import BadRequest
from gala.kernel.money import CURRENCY_EXPONENTS

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/api/payments/webhook"


async def payment_webhook(request: web.Request) -> web.Response:
    node = appkeys.node_of(request.app)
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise BadRequest("the body is too large", code="payload_too_large")
    body = await request.content.read(MAX_BODY_BYTES + 1)
    if len(body) > MAX_BODY_BYTES:
        raise BadRequest("the body is too large", code="payload_too_large")
    outcome = await node.payments.receive_webhook(request.headers.get(SIGNATURE_HEADER), body)
    return json_response(ok(outcome))


def _sandbox(request: web.Request) -> SandboxProvider:
    sandbox = appkeys.node_of(request.app).sandbox
    if sandbox is None:
        raise web.HTTPNotFound(text="the sandbox payment provider is off")
    return sandbox


async def _page(request: web.Request, result: dict[str, Any] | None) -> web.Response:
    _sandbox(request)
    node = appkeys.node_of(request.app)
    payment = await node.store.payments.payment(request.match_info["payment_id"])
    if payment is None:
        raise web.HTTPNotFound(text="no such payment")
    order = await node.store.sales.order(payment.sale_id, payment.order_id)
    exponent = CURRENCY_EXPONENTS.get(payment.currency, 2)
    amount = f"{payment.amount_minor / 10**exponent:,.{exponent}f} {payment.currency}"
    response = render(
        request,
        "sandbox_pay.html",
        payment=payment,
        amount=amount,
        order_state=order.state if order else "unknown",
        expired=node.clock.now_ms() >= payment.expires_at_ms,
        result=result,
    )
    if result is not None and not result.get("ok"):
        response.set_status(502)
    return response


async def sandbox_pay_page(request: web.Request) -> web.Response:
    return await _page(request, None)


async def sandbox_pay(request: web.Request) -> web.Response:
    """The Pay button: deliver the signed event to our own webhook, show what it answered."""
    sandbox = _sandbox(request)
    node = appkeys.node_of(request.app)
    payment = await node.store.payments.payment(request.match_info["payment_id"])
    if payment is None:
        raise web.HTTPNotFound(text="no such payment")
    body, headers = sandbox.delivery(payment)
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    if not sockname:
        raise web.HTTPInternalServerError(text="the sandbox cannot tell its own address")
    host = sockname[0]
    host = f"[{host}]" if ":" in host else host
    url = f"{request.scheme}://{host}:{sockname[1]}{WEBHOOK_PATH}"
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http,
            http.post(url, data=body, headers=headers, ssl=False) as resp,
        ):
            result: dict[str, Any] = await resp.json()
    except (aiohttp.ClientError, TimeoutError, ValueError) as error:
        log.warning("sandbox webhook delivery to %s failed: %s", url, error)
        result = {"ok": False, "error": {"code": "delivery_failed", "message": str(error)}}
    return await _page(request, result)


def add_payment_routes(app: web.Application) -> None:
    app.router.add_post(WEBHOOK_PATH, payment_webhook)
    app.router.add_get("/sandbox/pay/{payment_id}", sandbox_pay_page)
    app.router.add_post("/sandbox/pay/{payment_id}", sandbox_pay)
