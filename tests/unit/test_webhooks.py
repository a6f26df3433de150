"""The webhook signature scheme: a signed body verifies; a wrong secret, a changed byte, a
malformed header or a timestamp outside the tolerance is refused; a rotated secret verifies."""

from __future__ import annotations

import pytest

from commerce import webhooks
from gala.kernel.errors import GalaError
from gala.settings import SettingsError, settings_from_env

SECRET = b"whsec-test"
NOW_MS = 1_700_000_000_000
NOW_S = NOW_MS // 1000
BODY = webhooks.event_body(
    webhooks.PaymentEvent("evt-1", "payment.succeeded", "p-1", 12_990, "CNY")
)


def code_of(header: str | None, body: bytes = BODY, now_ms: int = NOW_MS) -> str:
    try:
        webhooks.verify(SECRET, header, body, now_ms, 300)
    except GalaError as refused:
        return refused.code
    return "ok"


def test_a_signed_body_verifies_and_reads_back() -> None:
    assert code_of(webhooks.sign(SECRET, NOW_S, BODY)) == "ok"
    assert webhooks.parse_event(BODY) == webhooks.PaymentEvent(
        "evt-1", "payment.succeeded", "p-1", 12_990, "CNY"
    )


def test_a_rotated_secret_verifies_with_either_signature() -> None:
    old = webhooks.signature(b"old-secret", NOW_S, BODY)
    new = webhooks.signature(SECRET, NOW_S, BODY)
    assert code_of(f"t={NOW_S},v1={old},v1={new}") == "ok"
    assert code_of(f"t={NOW_S},v1={old}") == "bad_signature"


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "v1=abc",
        f"t={NOW_S}",
        f"t=soon,v1={webhooks.signature(SECRET, NOW_S, BODY)}",
        webhooks.sign(b"other-secret", NOW_S, BODY),
        webhooks.sign(SECRET, NOW_S + 1, BODY).replace(f"t={NOW_S + 1}", f"t={NOW_S}"),
        "t=1," + "v1=0" * 400,
        "t=\u00b2,v1=00",
        "t=1\u0660,v1=00",
    ],
)
def test_a_forged_or_malformed_signature_is_refused(header: str | None) -> None:
    assert code_of(header) == "bad_signature"


def test_a_changed_body_is_refused() -> None:
    header = webhooks.sign(SECRET, NOW_S, BODY)
    assert code_of(header, BODY.replace(b"12990", b"12991")) == "bad_signature"


def test_a_delivery_outside_the_tolerance_is_stale() -> None:
    assert code_of(webhooks.sign(SECRET, NOW_S - 300, BODY)) == "ok"
    assert code_of(webhooks.sign(SECRET, NOW_S - 301, BODY)) == "stale_webhook"
    assert code_of(webhooks.sign(SECRET, NOW_S + 301, BODY)) == "stale_webhook"


def test_the_payment_settings_fail_fast_naming_the_variable() -> None:
    settings = settings_from_env(
        {"GALA_PAYMENT_PROVIDER": "sandbox", "GALA_WEBHOOK_SECRET": "s3cret"}
    )
    assert (settings.payment_provider, settings.webhook_secret) == ("sandbox", "s3cret")
    assert settings_from_env({}).payment_provider is None
    with pytest.raises(SettingsError, match="GALA_PAYMENT_PROVIDER"):
        settings_from_env({"GALA_PAYMENT_PROVIDER": "stripe"})
    with pytest.raises(SettingsError, match="GALA_WEBHOOK_TOLERANCE_S"):
        settings_from_env({"GALA_WEBHOOK_TOLERANCE_S": "0"})
