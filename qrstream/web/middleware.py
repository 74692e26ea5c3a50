"""Error shapes: domain errors and HTTP errors become each family's JSON shape.

`qrstream.web.pipeline` (the one middleware) answers with these. The shape is the one the
matched route declared (`qrstream.web.policy`): the Laravel-style cards API answers
`{"message": …}`, every other family `{"error": …}`. A store outage is logged at most once
every OUTAGE_LOG_EVERY_S; after a websocket upgrade an error closes the socket instead.
"""

from __future__ import annotations

import logging
import time

from aiohttp import WSCloseCode, web

from qrstream.errors import StoreUnavailable
from qrstream.outage import OUTAGE_LOG_EVERY_S
from qrstream.web.http import json_response
from qrstream.web.policy import policy_of
from qrstream.web.ws import UPGRADED, close_quietly

log = logging.getLogger(__name__)

_HTTP_TEXT = {
    400: "Bad request",
    404: "Not found",
    405: "Method not allowed",
    413: "Request body too large",
    414: "URI too long",
    431: "Request headers too large",
}


def error_body(request: web.Request, message: str, extra: dict[str, object]) -> dict[str, object]:
    body: dict[str, object] = {policy_of(request).error_key: message}
    body.update(extra)
    return body


def error_response(request: web.Request, status: int, message: str, **extra: object) -> web.Response:
    return json_response(error_body(request, message, extra), status=status)


def from_http_exception(request: web.Request, exc: web.HTTPException) -> web.Response:
    message = policy_of(request).not_found if exc.status == 404 else _HTTP_TEXT.get(exc.status, exc.reason)
    response = error_response(request, exc.status, message)
    if exc.status == 405 and "Allow" in exc.headers:
        response.headers["Allow"] = exc.headers["Allow"]
    return response


_outage_logged_at: float | None = None


def log_outage(exc: StoreUnavailable) -> None:
    """One line at most every OUTAGE_LOG_EVERY_S: each 503 is in the access log already."""
    global _outage_logged_at
    now = time.monotonic()
    if _outage_logged_at is None or now - _outage_logged_at >= OUTAGE_LOG_EVERY_S:
        log.warning("answering 503: %s", exc)
        _outage_logged_at = now


async def close_upgraded(request: web.Request, exc: Exception) -> web.StreamResponse | None:
    """After an upgrade no JSON can be sent: close the websocket, 1013 (try again later) for a
    store outage, 1011 for anything else."""
    ws: web.WebSocketResponse | None = request.get(UPGRADED)
    if ws is None:
        return None
    if isinstance(exc, StoreUnavailable):
        await close_quietly(ws, WSCloseCode.TRY_AGAIN_LATER, b"service temporarily unavailable")
    else:
        await close_quietly(ws, WSCloseCode.INTERNAL_ERROR, b"internal error")
    return ws
