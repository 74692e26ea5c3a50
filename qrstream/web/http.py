"""Small helpers every handler uses: JSON in and out, path parameters, auth headers."""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from aiohttp import web

from qrstream.errors import BadRequest, PayloadTooLarge
from qrstream.services import Services
from qrstream.web.keys import SERVICES


def services(request: web.Request) -> Services:
    return request.app[SERVICES]


def dumps(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def json_response(data: Any, status: int = 200, **kwargs: Any) -> web.Response:
    return web.Response(text=dumps(data), status=status, content_type="application/json", **kwargs)


def encoded(data: Any) -> bytes:
    """A constant answer's JSON body, encoded once (for `qrstream.web.answers.prepare`)."""
    return dumps(data).encode()


NO_STORE: Mapping[str, str] = MappingProxyType({"Cache-Control": "no-store"})
"""The header of an answer no cache may keep (a QR that stops being valid, a redirect that moves)."""


async def read_json(request: web.Request, *, allow_empty: bool = False) -> Any:
    """The request's JSON body; BadRequest (field "body") for malformed JSON, PayloadTooLarge
    for a big one."""
    limit = services(request).config.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge("Request body too large")
    # read(n) returns what has arrived so far (at most n): loop, or a body sent in pieces is cut short.
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.read(limit + 1 - size):
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge("Request body too large")
    raw = b"".join(chunks)
    if not raw.strip():
        if allow_empty:
            return None
        raise BadRequest("Request body must be JSON", field="body")
    try:
        body = json.loads(raw)
        # What Python parses but JSON has not, and could not be stored or answered as JSON: a
        # lone UTF-16 surrogate ("\udcff"), NaN and Infinity (also 1e999). An integer of over
        # 4300 digits is a ValueError of json.loads itself.
        json.dumps(body, ensure_ascii=False, allow_nan=False).encode()
    except (ValueError, UnicodeError, RecursionError):  # JSONDecodeError is a ValueError
        raise BadRequest("Malformed JSON", field="body") from None
    return body


async def read_json_object(request: web.Request, *, allow_empty: bool = False) -> dict[str, Any]:
    """The request's body as a JSON object ({} for an empty body when allowed)."""
    body = await read_json(request, allow_empty=allow_empty)
    if body is None and allow_empty:
        return {}
    if not isinstance(body, dict):
        raise BadRequest("Request body must be a JSON object", field="body")
    return body


def bearer_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()
