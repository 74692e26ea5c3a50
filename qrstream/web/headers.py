"""The headers every response carries: the security headers and the request id.

`qrstream.web.pipeline` (the one middleware) puts them on each response it hands back, before
aiohttp sends it (no `on_response_prepare` callback per response); a handler that sends its
own headers early (a websocket upgrade, a streamed answer) calls `stamp` before `prepare`.
Answers prepared once (`qrstream.web.answers`, the constant `/healthz` answer) carry the
security headers already. A security header a handler set itself is left as it is; the
request id is always set.
"""

from __future__ import annotations

from collections.abc import MutableMapping

from aiohttp import web

from qrstream.web.request_id import HEADER, REQUEST_ID

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

_HEADERS = tuple(SECURITY_HEADERS.items())


def add(headers: MutableMapping[str, str], request_id: str | None) -> None:
    """The security headers (unless set already) and the request id, into `headers`."""
    for name, value in _HEADERS:
        if name not in headers:
            headers[name] = value
    if request_id:
        headers[HEADER] = request_id


def stamp(request: web.BaseRequest, response: web.StreamResponse) -> None:
    """For a handler that prepares its response itself: call before `prepare`."""
    add(response.headers, request.get(REQUEST_ID))
