"""The one place errors become wire answers: a socket ack `{"ok": false, "error": {...}}` or an
HTTP JSON body with the error's status. Anything that is not a `GalaError` is logged with its
traceback and answered as `internal_error`, without details."""

from __future__ import annotations

import logging
from typing import Any

from gala.kernel.errors import GalaError

log = logging.getLogger(__name__)

INTERNAL = {"code": "internal_error", "message": "something went wrong on our side"}


def ok(data: Any) -> dict[str, Any]:
    return {"ok": True, "data": data}


def refusal(error: BaseException) -> tuple[int, dict[str, Any]]:
    """(HTTP status, ack body) for an exception raised while serving a request."""
    if isinstance(error, GalaError):
        return error.status, {"ok": False, "error": error.as_dict()}
    log.error("unexpected error while serving a request", exc_info=error)
    return 500, {"ok": False, "error": dict(INTERNAL)}
