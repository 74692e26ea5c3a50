"""Request ids: take a sane `X-Request-Id` from the client or make one, echo it, log it.

The id is kept on the request (`request[REQUEST_ID]`, read by the access log), in a
context variable for the duration of the handler (so any log line written while
handling it carries it), and in the response's `X-Request-Id` header — on every
response, websocket upgrades and files included, as it is set when headers go out.
"""

from __future__ import annotations

import contextvars
import re
import uuid

from aiohttp import web
from aiohttp.typedefs import Handler

HEADER = "X-Request-Id"

REQUEST_ID: web.RequestKey[str] = web.RequestKey("request_id", str)
"""Where the request keeps its id (the access log reads it)."""

_SANE = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")
"""What we accept from a client: short, printable, nothing that could forge a log line."""

_current: contextvars.ContextVar[str | None] = contextvars.ContextVar("qrstream_request_id", default=None)


def current_request_id() -> str | None:
    """The id of the request being handled by this task, if any."""
    return _current.get()


def _pick(given: str | None) -> str:
    if given and _SANE.fullmatch(given):
        return given
    return uuid.uuid4().hex


@web.middleware
async def request_id_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    request_id = _pick(request.headers.get(HEADER))
    request[REQUEST_ID] = request_id
    token = _current.set(request_id)
    try:
        return await handler(request)
    finally:
        _current.reset(token)


async def _echo(request: web.Request, response: web.StreamResponse) -> None:
    request_id = request.get(REQUEST_ID)
    if request_id:
        response.headers[HEADER] = request_id


def setup(app: web.Application) -> None:
    """Echo the id on every response (the middleware itself is listed in `create_app`)."""
    app.on_response_prepare.append(_echo)
