"""What a request gets when aiohttp's protocol layer answers it instead of the app: a request it
cannot parse (an over-long request line or header, a NUL or a space in the path, a bad method or
header), a page handler's unexpected failure, a handler timeout.

Each is answered in the API's error shape (`responses.coded_refusal`): a malformed request gets
400 `bad_http_request` with a short fixed message (aiohttp's own text echoes the request's bytes)
and is logged on one line without a traceback (INFO; DEBUG for a bad method, which is what a TLS
handshake or a scanner on the HTTP port looks like); a failure of ours keeps aiohttp's ERROR line
with its traceback. The connection closes after the answer, as aiohttp does.

This is the one module that leans on aiohttp's private API: `RequestHandler.handle_error`, the
`Server` attributes `_loop` and `_kwargs` its `__call__` uses to build a handler, and
`AppRunner._make_server`. `tests/integration/test_http_refusals.py` asserts those signatures
against the installed aiohttp, so an upgrade that moves them fails there.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import (
    BadHttpMethod,
    BadStatusLine,
    HttpProcessingError,
    InvalidHeader,
    InvalidURLError,
    LineTooLong,
)
from aiohttp.web_protocol import RequestHandler

from gala.http.access_log import JsonAccessLogger, access_logger
from gala.http.responses import HTTP_CODES, coded_refusal

log = logging.getLogger(__name__)

BAD_HTTP_REQUEST = "bad_http_request"
MAX_REASON_CHARS = 120
# aiohttp's messages quote the offending bytes; these say what was wrong in fixed words
REASONS: tuple[tuple[type[HttpProcessingError], str], ...] = (
    (LineTooLong, "a line of the request (its path or a header) is too long"),
    (BadHttpMethod, "the request's method is not an HTTP method"),
    (BadStatusLine, "the request line is not 'METHOD /path HTTP/1.1' (a space in the path?)"),
    (InvalidURLError, "the request's path has a character a URL cannot have"),
    (InvalidHeader, "a header of the request is malformed"),
)


def reason_of(error: HttpProcessingError) -> str:
    for kind, reason in REASONS:
        if isinstance(error, kind):
            return reason
    first_line = (error.message or "the request is malformed").splitlines()[0].rstrip(":")
    return first_line[:MAX_REASON_CHARS]


class CodedRequestHandler(RequestHandler):
    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if request.writer.output_size > 0:
            # as aiohttp: part of an answer is out, so no other can follow
            raise ConnectionError("an answer was already sent, it cannot be replaced")
        if isinstance(exc, HttpProcessingError) and 400 <= status < 500:
            reason = reason_of(exc)
            level = logging.DEBUG if isinstance(exc, BadHttpMethod) else logging.INFO
            log.log(level, "bad HTTP request from %s: %s", request.remote, reason)
            code = BAD_HTTP_REQUEST
        else:
            if status >= 500 and exc is not None:
                self.log_exception("Error handling request from %s", request.remote, exc_info=exc)
            code, reason = HTTP_CODES.get(status, (f"http_{status}", message or "refused"))
        response = coded_refusal(request, status, code, reason)
        response.force_close()
        return response


class CodedServer(web.Server):
    def __call__(self) -> RequestHandler:
        return CodedRequestHandler(self, loop=self._loop, **self._kwargs)


class CodedAppRunner(web.AppRunner):
    """An `AppRunner` whose connections answer protocol-level errors in the error shape."""

    async def _make_server(self) -> web.Server:
        made = await super()._make_server()
        return CodedServer(
            made.request_handler,
            request_factory=made.request_factory,
            handler_cancellation=made.handler_cancellation,
            loop=made._loop,
            **made._kwargs,
        )


def app_runner(app: web.Application, **kwargs: Any) -> web.AppRunner:
    """The runner every node serves its app with (`gala serve`, `gala demo`): protocol errors in
    the error shape, and the JSON access log (`access_log.py`) unless `access_log=None`."""
    kwargs.setdefault("access_log", access_logger())
    kwargs.setdefault("access_log_class", JsonAccessLogger)
    return CodedAppRunner(app, **kwargs)
