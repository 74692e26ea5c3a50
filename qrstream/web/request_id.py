"""Request ids: take a sane `X-Request-Id` from the client or make one, echo it, log it.

The id is kept on the request (`request[REQUEST_ID]`, read by the access log), in a
context variable for the duration of the handler (so any log line written while
handling it carries it), and in the response's `X-Request-Id` header — on every
response, websocket upgrades and files included, as it is set when headers go out.
`qrstream.web.pipeline` does all three.
"""

from __future__ import annotations

import contextvars
import os
import re

from aiohttp import web

HEADER = "X-Request-Id"

REQUEST_ID: web.RequestKey[str] = web.RequestKey("request_id", str)
"""Where the request keeps its id (the access log reads it)."""

_SANE = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")
"""What we accept from a client: short, printable, nothing that could forge a log line."""

_current: contextvars.ContextVar[str | None] = contextvars.ContextVar("qrstream_request_id", default=None)


def current_request_id() -> str | None:
    """The id of the request being handled by this task, if any."""
    return _current.get()


def pick(given: str | None) -> str:
    """The client's id when sane, else a new one (32 hex digits, as `uuid4().hex`)."""
    if given and _SANE.fullmatch(given):
        return given
    return os.urandom(16).hex()


def enter(request_id: str) -> contextvars.Token[str | None]:
    """Make `request_id` the current one (until `leave`)."""
    return _current.set(request_id)


def leave(token: contextvars.Token[str | None]) -> None:
    _current.reset(token)
