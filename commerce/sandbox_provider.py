"""The sandbox payment provider: for the demo and the tests, NOT a real provider. No money moves
anywhere outside gala and nothing is checked about the payer.

Its pay page is one of our own (`/sandbox/pay/{payment_id}`, served by the hub) that says it is a
sandbox and has a Pay button. Pressing it makes the sandbox build a `payment.succeeded` event for
the payment, sign it with the webhook secret as a real provider would, and deliver it to our
webhook endpoint over HTTP, so the real verification path runs. The event id is derived from the
payment, so pressing Pay twice delivers the same event twice (the second is a duplicate).
"""

from __future__ import annotations

from collections.abc import Mapping

from gala.kernel.clock import Clock

from . import webhooks
from .ports import Payment, PaymentRequest

SANDBOX = "sandbox"


class SandboxProvider:
    name = SANDBOX

    def __init__(self, webhook_secret: bytes, clock: Clock) -> None:
        self._secret = webhook_secret
        self._clock = clock

    async def create_payment(
        self, payment_id: str, amount_minor: int, currency: str, metadata: Mapping[str, str]
    ) -> PaymentRequest:
        return PaymentRequest(payment_id, f"/sandbox/pay/{payment_id}")

    def delivery(self, payment: Payment) -> tuple[bytes, dict[str, str]]:
        """The signed `payment.succeeded` delivery for `payment`: (body, headers)."""
        event = webhooks.PaymentEvent(
            f"evt-{payment.payment_id}-succeeded",
            webhooks.PAYMENT_SUCCEEDED,
            payment.payment_id,
            payment.amount_minor,
            payment.currency,
        )
        body = webhooks.event_body(event)
        signature = webhooks.sign(self._secret, self._clock.now_ms() // 1000, body)
        return body, {
            webhooks.SIGNATURE_HEADER: signature,
            "Content-Type": "application/json",
        }
