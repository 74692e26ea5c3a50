"""The one app factory: the shared core, then each API family, then the pages."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator

from aiohttp import WSCloseCode, web

from qrstream.clock import Clock, SystemClock
from qrstream.config import Config
from qrstream.services import open_services
from qrstream.web.http import json_response
from qrstream.web.keys import SERVICES, WEBSOCKETS
from qrstream.web.middleware import errors_middleware

SHUTDOWN_CLOSE_TIMEOUT_S = 2.0


async def healthz(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


async def close_websockets(app: web.Application) -> None:
    """On shutdown, say goodbye (1001) to every open websocket, all at once, each bounded."""
    sockets = list(app[WEBSOCKETS])

    async def close_one(ws: web.WebSocketResponse) -> None:
        try:
            await asyncio.wait_for(
                ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutting down"),
                SHUTDOWN_CLOSE_TIMEOUT_S,
            )
        except (asyncio.TimeoutError, ConnectionError, RuntimeError):
            pass

    await asyncio.gather(*(close_one(ws) for ws in sockets))


def create_app(config: Config, *, clock: Clock | None = None) -> web.Application:
    """Build the whole server for `config`; `clock` defaults to the system clock."""
    app = web.Application(middlewares=[errors_middleware], client_max_size=config.max_body_bytes)
    app[WEBSOCKETS] = weakref.WeakSet()
    the_clock = clock if clock is not None else SystemClock()

    async def core(app: web.Application) -> AsyncIterator[None]:
        services = await open_services(config, the_clock)
        app[SERVICES] = services
        yield
        await services.close()

    app.cleanup_ctx.append(core)
    app.on_shutdown.append(close_websockets)
    app.router.add_get("/healthz", healthz, name="healthz")
    # API families register here, in dependency order (their cleanup contexts follow core's).
    return app
