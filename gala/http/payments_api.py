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

from commerce.payments import PaymentStatus, UnknownPayment
from commerce.sandbox_provider import SandboxProvider
from commerce.webhooks import SIGNATURE_HEADER
from gala.errors_map import ok
from gala.http.pages import render
from gala.http.responses import json_response, read_body, services
from gala.kernel.money import CURRENCY_EXPONENTS

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/api/payments/webhook"


async def payment_webhook(request: web.Request) -> web.Response:
    body = await read_body(request)
    payments = services(request).payments
    outcome = await payments.receive_webhook(request.headers.get(SIGNATURE_HEADER), body)
    return json_response(ok(outcome))


def _sandbox(request: web.Request) -> SandboxProvider:
    sandbox = services(request).sandbox
    if sandbox is None:
        raise web.HTTPNotFound(text="the sandbox payment provider is off")
    return sandbox


async def _status(request: web.Request) -> PaymentStatus:
    try:
        return await services(request).payments.status(request.match_info["payment_id"])
    except UnknownPayment:
        raise web.HTTPNotFound(text="no such payment") from None


async def _page(request: web.Request, result: dict[str, Any] | None) -> web.Response:
    _sandbox(request)
    status = await _status(request)
    payment = status.payment
    exponent = CURRENCY_EXPONENTS.get(payment.currency, 2)
    amount = f"{payment.amount_minor / 10**exponent:,.{exponent}f} {payment.currency}"
    response = render(
        request,
        "sandbox_pay.html",
        payment=payment,
        amount=amount,
        order_state=status.order_state or "unknown",
        expired=status.expired,
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
    body, headers = sandbox.delivery((await _status(request)).payment)
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
