"""The HTTP access log: one line per answered request on the `gala.access` logger, through
aiohttp's access-log hook (`AbstractAccessLogger`), with the fields as the record's `extra`, so
the process's JSON formatter (`gala/logs.py`) writes them as JSON keys: `method`, `path` (no
query string: it may carry a token), `status`, `size` (bytes written for the answer, headers
included, as aiohttp's `%b`), `duration_ms`, `remote` (the peer's address).

The operators' endpoints (`/healthz`, `/readyz`, `/metrics`) are left out: probes and scrapes
every few seconds are noise. A websocket is one line, when it ends. `gala serve` runs with it
(`protocol_errors.app_runner`); tests' servers run without it.
"""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from gala.http.operations_api import OPERATIONS_PATHS

ACCESS_LOGGER = "gala.access"


class JsonAccessLogger(AbstractAccessLogger):
    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        if request.path in OPERATIONS_PATHS:
            return
        fields = {
            "method": request.method,
            "path": request.path,
            "status": response.status,
            "size": response.body_length,
            "duration_ms": round(time * 1000, 3),
            "remote": request.remote,
        }
        self.logger.info("%s %s %s", request.method, request.path, response.status, extra=fields)

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)


def access_logger() -> logging.Logger:
    return logging.getLogger(ACCESS_LOGGER)
