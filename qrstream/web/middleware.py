"""One error middleware: domain errors and HTTP errors become each family's JSON shape.

The shape is the one the matched route declared (`qrstream.web.policy`): the Laravel-style
cards API answers `{"message": …}`, every other family `{"error": …}`.
Anything unexpected is logged and answered as a plain 500, never a traceback.
"""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.typedefs import Handler

from qrstream.errors import QrstreamError, RateLimited
from qrstream.web.http import json_response
from qrstream.web.policy import policy_of

log = logging.getLogger(__name__)

_HTTP_TEXT = {
    400: "Bad request",
    404: "Not found",
    405: "Method not allowed",
    413: "Request body too large",
    414: "URI too long",
    431: "Request headers too large",
}

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """On every response as its headers go out, files, redirects and websocket upgrades included."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)


def error_body(request: web.Request, message: str, extra: dict[str, object]) -> dict[str, object]:
    body: dict[str, object] = {policy_of(request).error_key: message}
    body.update(extra)
    return body


def error_response(request: web.Request, status: int, message: str, **extra: object) -> web.Response:
    return json_response(error_body(request, message, extra), status=status)


def _from_http_exception(request: web.Request, exc: web.HTTPException) -> web.Response:
    message = policy_of(request).not_found if exc.status == 404 else _HTTP_TEXT.get(exc.status, exc.reason)
    response = error_response(request, exc.status, message)
    if exc.status == 405 and "Allow" in exc.headers:
        response.headers["Allow"] = exc.headers["Allow"]
    return response


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except QrstreamError as exc:
        response = error_response(request, exc.status, exc.message, **exc.extra)
        if isinstance(exc, RateLimited):
            response.headers["Retry-After"] = str(exc.retry_after)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = _from_http_exception(request, exc)
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.match_info.route.name)
        response = error_response(request, 500, "Internal server error")
    if not response.prepared:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
    return response
