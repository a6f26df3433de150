"""Redis key names of red-envelope drops: everything of one drop in the hash slot `{drop:ID}`,
so the grab is one script on one slot (Redis Cluster ready)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DropKeys:
    drop: str
    envelopes: str
    claims: str
    uncredited: str

    def all(self) -> list[str]:
        return [self.drop, self.envelopes, self.claims, self.uncredited]


def drop_keys(drop_id: str, prefix: str = "gala") -> DropKeys:
    tag = f"{prefix}:{{drop:{drop_id}}}"
    return DropKeys(
        drop=f"{tag}:drop",
        envelopes=f"{tag}:envelopes",
        claims=f"{tag}:claims",
        uncredited=f"{tag}:uncredited",
    )


def drop_index_keys(show_id: str, prefix: str = "gala") -> tuple[str, str]:
    """(every drop, the show's drops): single-key sets written by single-key commands."""
    return f"{prefix}:drops", f"{prefix}:drops:show:{show_id}"
