"""`GET /openapi.json`: the OpenAPI 3.1 document of every HTTP endpoint, encoded once per app."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from qrstream.web.http import dumps
from qrstream.web.keys import SERVICES
from qrstream.web.openapi_doc import build
from qrstream.web.policy import OPS, Routes

DOCUMENT: web.AppKey[str] = web.AppKey("openapi_document")


async def openapi_json(request: web.Request) -> web.Response:
    return web.Response(text=request.app[DOCUMENT], content_type="application/json")


async def openapi_ctx(app: web.Application) -> AsyncIterator[None]:
    app[DOCUMENT] = dumps(build(app[SERVICES].base_url))
    yield


def setup(app: web.Application) -> None:
    app.cleanup_ctx.append(openapi_ctx)
    Routes(app, OPS).get("/openapi.json", openapi_json, name="openapi")
