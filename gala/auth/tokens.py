"""Identity and roles: password hashing for accounts, and signed, expiring tokens.

Passwords are hashed with scrypt (standard library) and a random salt. A token is
`base64url(json payload) "." base64url(HMAC-SHA256)` (unpadded) with the deployment's secret, and
only the exact text the signer wrote verifies (no other spelling of the same bytes); the payload
carries `sub` (viewer id or username), `role`, `exp` (seconds) and, for a sponsor account, `spn`
(the sponsor id it acts for). Viewers get a token from `POST /api/viewer-token`; producers and
sponsors get one by logging in. Roles are checked on the server for every page, HTTP call and
socket message (`require_role`); a sponsor's own data is found by `Identity.sponsor_id`, never by
an id the client sends.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass
from typing import Any

from gala.kernel.errors import Forbidden, Unauthorized
from gala.kernel.ids import is_valid_id

VIEWER = "viewer"
PRODUCER = "producer"
SPONSOR = "sponsor"
ROLES = (VIEWER, PRODUCER, SPONSOR)
ACCOUNT_ROLES = (PRODUCER, SPONSOR)

_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1
_TOKEN = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


@dataclass(frozen=True, slots=True)
class Identity:
    subject: str
    role: str
    sponsor_id: str | None = None

    @property
    def label(self) -> str:
        return f"{self.role}:{self.subject}"


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P)
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        actual = hashlib.scrypt(password.encode(), salt=_unb64(salt), n=int(n), r=int(r), p=int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, _unb64(digest))


class TokenSigner:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def issue(self, identity: Identity, now_s: int, ttl_s: int) -> str:
        payload: dict[str, Any] = {
            "sub": identity.subject,
            "role": identity.role,
            "exp": now_s + ttl_s,
        }
        if identity.role == SPONSOR:
            if not is_valid_id(identity.sponsor_id):
                raise ValueError("a sponsor identity needs its sponsor id")
            payload["spn"] = identity.sponsor_id
        body = _b64(json.dumps(payload, separators=(",", ":")).encode())
        return f"{body}.{_b64(self._mac(body))}"

    def verify(self, token: Any, now_s: int) -> Identity:
        if not isinstance(token, str) or len(token) > 1024 or not _TOKEN.fullmatch(token):
            raise Unauthorized("missing or malformed token", code="bad_token")
        body, mac = token.split(".")
        # The signature is compared as text with the one canonical encoding of the expected MAC:
        # a decoder would also accept the other spellings of its last character (its unused
        # low bits), or skip stray characters, so one token would have several valid forms.
        good = hmac.compare_digest(mac.encode(), _b64(self._mac(body)).encode())
        try:
            payload = json.loads(_unb64(body)) if good else None
        except ValueError:
            good, payload = False, None
        if not good or not isinstance(payload, dict):
            raise Unauthorized("the token's signature is not valid", code="bad_token")
        if not isinstance(payload.get("exp"), int) or payload["exp"] < now_s:
            raise Unauthorized("the token has expired", code="token_expired")
        if payload.get("role") not in ROLES or not isinstance(payload.get("sub"), str):
            raise Unauthorized("the token names no known role", code="bad_token")
        if payload["role"] == SPONSOR:
            if not is_valid_id(payload.get("spn")):
                raise Unauthorized("the sponsor token names no sponsor", code="bad_token")
            return Identity(payload["sub"], SPONSOR, payload["spn"])
        return Identity(payload["sub"], payload["role"])

    def _mac(self, body: str) -> bytes:
        return hmac.new(self._secret, body.encode(), hashlib.sha256).digest()


def require_role(identity: Identity | None, *roles: str) -> Identity:
    if identity is None:
        raise Unauthorized("log in first", code="unauthorized")
    if identity.role not in roles:
        raise Forbidden(f"this needs the {' or '.join(roles)} role", code="forbidden")
    return identity


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
