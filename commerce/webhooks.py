"""The signed payment webhook: how a provider's delivery is signed, verified and read. Pure: the
secret, the raw body and the server's clock are passed in.

A delivery carries `Gala-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
It is accepted only when one `v1` matches (compared in constant time) and `t` is within the
tolerance of the server's clock, so a captured delivery cannot be replayed later and a forged or
tampered one never gets past the signature. Several `v1` values may be sent (a provider rotating
its secret). The body is then read as a `PaymentEvent`; its `id` names the event, so a delivery
repeated within the tolerance is recognised by the event store (`PaymentStore.record_event`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from typing import Any

from gala.kernel.errors import BadRequest, Unauthorized

SIGNATURE_HEADER = "Gala-Signature"
DEFAULT_TOLERANCE_S = 300
PAYMENT_SUCCEEDED = "payment.succeeded"
_EVENT_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
_PAYMENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_MAX_HEADER = 1024


class BadSignature(Unauthorized):
    code = "bad_signature"


class StaleWebhook(Unauthorized):
    code = "stale_webhook"


class BadWebhook(BadRequest):
    code = "bad_webhook"


@dataclass(frozen=True, slots=True)
class PaymentEvent:
    event_id: str
    type: str
    payment_id: str
    amount_minor: int
    currency: str


def signature(secret: bytes, timestamp_s: int, body: bytes) -> str:
    return hmac.new(secret, f"{timestamp_s}.".encode() + body, hashlib.sha256).hexdigest()


def sign(secret: bytes, timestamp_s: int, body: bytes) -> str:
    """The header value a provider sends with `body` at `timestamp_s`."""
    return f"t={timestamp_s},v1={signature(secret, timestamp_s, body)}"


def verify(secret: bytes, header: str | None, body: bytes, now_ms: int, tolerance_s: int) -> None:
    """Raise `BadSignature` unless a `v1` signs `t` and `body` with `secret`, `StaleWebhook` unless
    `t` is within `tolerance_s` of the server's clock (either side)."""
    if not header or len(header) > _MAX_HEADER:
        raise BadSignature(f"the {SIGNATURE_HEADER} header is missing")
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and _TIMESTAMP.fullmatch(value):
            timestamp = int(value)
        elif name == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        raise BadSignature(f"the {SIGNATURE_HEADER} header needs t= and v1=")
    expected = signature(secret, timestamp, body)
    matched = False
    for candidate in candidates:
        matched |= hmac.compare_digest(expected.encode(), candidate.encode())
    if not matched:
        raise BadSignature("the signature does not match the body")
    if abs(now_ms // 1000 - timestamp) > tolerance_s:
        raise StaleWebhook(f"the delivery is older than {tolerance_s} s (or from the future)")


def parse_event(body: bytes) -> PaymentEvent:
    """Read a verified body: `{"id", "type", "data": {"payment_id", "amount_minor",
    "currency"}}`."""
    try:
        raw: Any = json.loads(body)
    except ValueError:
        raise BadWebhook("the body is not JSON") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("data"), dict):
        raise BadWebhook("the body must be an object with id, type and data")
    data = raw["data"]
    event_id, kind = raw.get("id"), raw.get("type")
    payment_id, amount, currency = (
        data.get("payment_id"),
        data.get("amount_minor"),
        data.get("currency"),
    )
    if not isinstance(event_id, str) or not _EVENT_ID.fullmatch(event_id):
        raise BadWebhook("id must be an event id")
    if not isinstance(kind, str) or not 0 < len(kind) <= 64:
        raise BadWebhook("type must be an event type")
    if not isinstance(payment_id, str) or not _PAYMENT_ID.fullmatch(payment_id):
        raise BadWebhook("data.payment_id must be a payment id")
    if type(amount) is not int or not 0 < amount <= 10**15:
        raise BadWebhook("data.amount_minor must be a positive whole number of minor units")
    if not isinstance(currency, str) or not _CURRENCY.fullmatch(currency):
        raise BadWebhook("data.currency must be an ISO 4217 code")
    return PaymentEvent(event_id, kind, payment_id, amount, currency)


def event_body(event: PaymentEvent) -> bytes:
    """The JSON body of an event, as a provider (the sandbox) sends it."""
    return json.dumps(
        {
            "id": event.event_id,
            "type": event.type,
            "data": {
                "payment_id": event.payment_id,
                "amount_minor": event.amount_minor,
                "currency": event.currency,
            },
        },
        separators=(",", ":"),
    ).encode()
