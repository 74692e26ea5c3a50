"""The one middleware every request passes: request id, guess limits, error shapes, metrics.

One layer instead of four (each was an extra coroutine frame, `try` and policy lookup per
request). In order, for a request:

1. the request id: a sane `X-Request-Id` from the client, else a new one; kept on the request
   (`REQUEST_ID`, read by the access log) and in a context variable while the handler runs;
2. the route's policy (`qrstream.web.policy`), looked up once;
3. a route that checks a secret (`policy.guess`) answers 429 with `Retry-After` before its
   handler once the client's bucket of that purpose is empty, and a failed guess (a status in
   `guess.fails`, raised or answered) is charged to it;
4. domain errors and HTTP errors become the family's JSON error shape (with `Retry-After` for a
   429 or a store outage's 503); anything unexpected is logged and answered as a plain 500, never
   a traceback; after a websocket upgrade an error closes the socket (1013 outage, 1011 other);
5. the latency histogram sees the final status (499 when the client went away; websockets,
   whose handler returns when the socket closes, are not counted).

The security headers and the request id go on every response it hands back
(`qrstream.web.headers`: no `on_response_prepare` callback per response); a handler that
prepares its response itself (websocket upgrade, stream) stamps them before `prepare`, and a
redirect raised through here carries them on the exception.
"""

from __future__ import annotations

import asyncio
import logging
import time

from aiohttp import web
from aiohttp.typedefs import Handler

from qrstream.errors import QrstreamError, RateLimited, StoreUnavailable
from qrstream.web.headers import add as add_headers
from qrstream.web.limits import LIMITER, client_key
from qrstream.web.metrics import METRICS, route_label
from qrstream.web.middleware import (
    close_upgraded,
    error_response,
    from_http_exception,
    log_outage,
)
from qrstream.web.policy import POLICIES
from qrstream.web.request_id import HEADER, REQUEST_ID, enter, leave, pick

log = logging.getLogger("qrstream.web.middleware")


@web.middleware
async def pipeline(request: web.Request, handler: Handler) -> web.StreamResponse:
    request_id = pick(request.headers.get(HEADER))
    request[REQUEST_ID] = request_id
    token = enter(request_id)
    started = time.perf_counter()
    app = request.app
    guess = app[POLICIES].of(request).guess
    key = ""
    try:
        if guess is not None:
            limiter = app[LIMITER]
            key = client_key(request)
            wait = limiter.retry_after(guess.purpose, key)
            if wait:
                limiter.refused[guess.purpose] += 1
                exc = RateLimited("Too many failed attempts; try again later", retry_after=wait)
                response: web.StreamResponse = error_response(request, exc.status, exc.message, **exc.extra)
                response.headers["Retry-After"] = str(wait)
                add_headers(response.headers, request_id)
                _observe(request, response.status, started)
                return response
        try:
            response = await handler(request)
        except QrstreamError as exc:
            if guess is not None and exc.status in guess.fails:
                app[LIMITER].charge(guess.purpose, key)
            if isinstance(exc, StoreUnavailable):
                log_outage(exc)
            upgraded = await close_upgraded(request, exc)
            if upgraded is not None:
                return upgraded
            response = error_response(request, exc.status, exc.message, **exc.extra)
            if exc.retry_after is not None:  # rate limits (429), a store that is down (503)
                response.headers["Retry-After"] = str(exc.retry_after)
        except web.HTTPException as exc:
            if guess is not None and exc.status in guess.fails:
                app[LIMITER].charge(guess.purpose, key)
            if exc.status < 400:  # redirects go out as aiohttp answers them
                add_headers(exc.headers, request_id)
                _observe(request, exc.status, started)
                raise
            response = from_http_exception(request, exc)
        except asyncio.CancelledError:
            _observe(request, 499, started)  # the client went away (nginx's number for it)
            raise
        except Exception as exc:
            log.exception("unhandled error on %s %s", request.method, request.match_info.route.name)
            upgraded = await close_upgraded(request, exc)
            if upgraded is not None:
                return upgraded
            response = error_response(request, 500, "Internal server error")
        except BaseException:
            _observe(request, 500, started)
            raise
        else:
            if guess is not None and response.status in guess.fails:
                app[LIMITER].charge(guess.purpose, key)
            if isinstance(response, web.WebSocketResponse):
                return response
        if not response.prepared:  # else its handler stamped it before prepare
            add_headers(response.headers, request_id)
        _observe(request, response.status, started)
        return response
    finally:
        leave(token)


def _observe(request: web.Request, status: int, started: float) -> None:
    metrics = request.app.get(METRICS)
    if metrics is not None:
        metrics.observe(request.method, route_label(request), status, time.perf_counter() - started)
