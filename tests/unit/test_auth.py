"""Passwords and tokens."""

from __future__ import annotations

import pytest

from gala.auth.tokens import Identity, TokenSigner, hash_password, require_role, verify_password
from gala.kernel.errors import Forbidden, Unauthorized


def test_password_hashes_verify_only_the_right_password_and_are_salted() -> None:
    stored = hash_password("stage-door-42")
    assert verify_password("stage-door-42", stored)
    assert not verify_password("stage-door-43", stored)
    assert not verify_password("stage-door-42", "garbage")
    assert hash_password("stage-door-42") != stored


def test_tokens_carry_identity_until_they_expire() -> None:
    signer = TokenSigner(b"k" * 32)
    token = signer.issue(Identity("ann", "producer"), now_s=1000, ttl_s=60)
    assert signer.verify(token, 1060) == Identity("ann", "producer")
    with pytest.raises(Unauthorized) as expired:
        signer.verify(token, 1061)
    assert expired.value.code == "token_expired"


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),
        lambda t: "e30" + t[t.index(".") :],
        lambda t: t.replace(".", ""),
        lambda t: t + "." + t,
        lambda t: None,
        lambda t: 42,
        lambda t: "x" * 2000,
    ],
)
def test_tampered_or_malformed_tokens_are_refused(mangle: object) -> None:
    signer = TokenSigner(b"k" * 32)
    token = signer.issue(Identity("v-1", "viewer"), now_s=0, ttl_s=60)
    with pytest.raises(Unauthorized) as refused:
        signer.verify(mangle(token), 1)  # type: ignore[operator]
    assert refused.value.code == "bad_token"


def test_a_token_of_another_secret_is_refused() -> None:
    token = TokenSigner(b"a" * 32).issue(Identity("ann", "producer"), 0, 60)
    with pytest.raises(Unauthorized):
        TokenSigner(b"b" * 32).verify(token, 1)


def test_require_role() -> None:
    assert require_role(Identity("ann", "producer"), "producer").subject == "ann"
    with pytest.raises(Forbidden):
        require_role(Identity("v-1", "viewer"), "producer")
    with pytest.raises(Unauthorized):
        require_role(None, "producer")


def test_a_sponsor_token_carries_the_sponsor_it_acts_for() -> None:
    signer = TokenSigner(b"k" * 32)
    token = signer.issue(Identity("brand-ops", "sponsor", "aurora"), now_s=0, ttl_s=60)
    assert signer.verify(token, 1) == Identity("brand-ops", "sponsor", "aurora")
    assert require_role(signer.verify(token, 1), "sponsor").sponsor_id == "aurora"
    with pytest.raises(Forbidden):
        require_role(signer.verify(token, 1), "producer")


def test_a_signed_sponsor_token_without_a_sponsor_id_is_refused() -> None:
    import base64
    import json

    signer = TokenSigner(b"k" * 32)
    body = base64.urlsafe_b64encode(
        json.dumps({"sub": "x", "role": "sponsor", "exp": 99}).encode()
    ).rstrip(b"=")
    mac = base64.urlsafe_b64encode(signer._mac(body.decode())).rstrip(b"=")
    with pytest.raises(Unauthorized) as refused:
        signer.verify(f"{body.decode()}.{mac.decode()}", 1)
    assert refused.value.code == "bad_token"
    with pytest.raises(ValueError):
        signer.issue(Identity("x", "sponsor"), 0, 60)


BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@pytest.mark.parametrize("part", ["signature", "payload"])
def test_a_token_with_any_other_last_character_is_refused(part: str) -> None:
    """The last character of an unpadded base64url part carries unused bits: a lenient decoder
    reads three other characters as the same bytes. Only the signer's exact text verifies."""
    signer = TokenSigner(b"k" * 32)
    token = signer.issue(Identity("v-1", "viewer"), now_s=0, ttl_s=60)
    body, mac = token.split(".")
    assert signer.verify(token, 1) == Identity("v-1", "viewer")
    text = mac if part == "signature" else body
    for other in BASE64URL.replace(text[-1], ""):
        changed = text[:-1] + other
        forged = f"{body}.{changed}" if part == "signature" else f"{changed}.{mac}"
        with pytest.raises(Unauthorized) as refused:
            signer.verify(forged, 1)
        assert refused.value.code == "bad_token", forged


@pytest.mark.parametrize("extra", ["=", "==", "!", " ", "+", "/", "\n", "\u00e9"])
def test_a_token_with_padding_or_a_stray_character_is_refused(extra: str) -> None:
    signer = TokenSigner(b"k" * 32)
    token = signer.issue(Identity("v-1", "viewer"), now_s=0, ttl_s=60)
    body, mac = token.split(".")
    for forged in (token + extra, f"{body}.{mac[:5]}{extra}{mac[5:]}", f"{body}{extra}.{mac}"):
        with pytest.raises(Unauthorized):
            signer.verify(forged, 1)
