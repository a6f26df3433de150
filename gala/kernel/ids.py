"""Identifiers: the one pattern ids from show files and clients must match, and new random ids."""

from __future__ import annotations

import re
import secrets

ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


def is_valid_id(value: object) -> bool:
    return isinstance(value, str) and ID_PATTERN.fullmatch(value) is not None


def new_id(prefix: str) -> str:
    """A fresh random id such as `v-3f9c...` (128 bits of randomness)."""
    return f"{prefix}-{secrets.token_hex(16)}"
