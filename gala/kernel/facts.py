"""What an audit says when a store's record of something differs from the fact it came from (a
sale's or a drop's terms against the show log's announcement of them). Pure."""

from __future__ import annotations

from dataclasses import fields
from typing import Any


def differences(held: Any, announced: Any) -> list[str]:
    """One line per field of the dataclass `held` whose value differs from `announced`'s."""
    return [
        f"{f.name} is {getattr(held, f.name)}, the show log announced {getattr(announced, f.name)}"
        for f in fields(held)
        if getattr(held, f.name) != getattr(announced, f.name)
    ]
