"""Base errors with stable codes.

Every refusal the system can answer with is a `GalaError` carrying a stable, documented `code`
(snake_case, never renamed) and a human message. Features subclass it; the hub maps each class to
an HTTP status and to the socket ack `{"ok": false, "error": {"code": ..., "message": ...}}` in one
place (`gala/errors_map.py`).
"""

from __future__ import annotations

from typing import Any


class GalaError(Exception):
    """A refusal with a stable code. Subclasses set `code` (and may override it per instance)."""

    code: str = "error"
    status: int = 400

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def as_dict(self) -> dict[str, Any]:
        """The wire form; a subclass may add fields (an already-grabbed amount)."""
        return {"code": self.code, "message": self.message}


class BadRequest(GalaError):
    """The input is malformed: wrong type, missing field, out of range, too large."""

    code = "bad_request"
    status = 400


class NotFound(GalaError):
    """An id names nothing we know (show, cue, overlay, account)."""

    code = "not_found"
    status = 404


class Forbidden(GalaError):
    """The caller is known but lacks the role for this action."""

    code = "forbidden"
    status = 403


class Unauthorized(GalaError):
    """The caller did not prove who it is (no token, bad token, bad password)."""

    code = "unauthorized"
    status = 401


class Conflict(GalaError):
    """The action is valid in general but not in the current state (show ended, stale GO)."""

    code = "conflict"
    status = 409


class Unavailable(GalaError):
    """Not now, try again: the node is starting or stopping, or a store is out of reach."""

    code = "unavailable"
    status = 503


class Retryable(Unavailable):
    """Not now: the same request may be sent again after `retry_after_ms` (which the answer
    carries); a tap's key makes the retry safe."""

    def __init__(self, message: str, retry_after_ms: int) -> None:
        super().__init__(message)
        self.retry_after_ms = retry_after_ms

    def as_dict(self) -> dict[str, Any]:
        return {**super().as_dict(), "retry_after_ms": self.retry_after_ms}


class StoreUnavailable(Retryable):
    """The store did not answer (unreachable, timed out, no free connection): the request may
    or may not have been done, and a retry (a tap: with the same key) finds out and finishes
    it."""

    code = "store_unavailable"

    def __init__(self, retry_after_ms: int = 500) -> None:
        super().__init__("the store did not answer; try again", retry_after_ms)


class StoreConflict(Exception):
    """Raised by a store when an optimistic compare-and-set lost a race. Never reaches a client:
    services reload and decide again."""
