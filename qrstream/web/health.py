"""`GET /healthz` (liveness: the process answers) and `GET /readyz` (readiness: so do its store and bus).

A load balancer takes a process out of rotation on a 503 from `/readyz` and back on a 200; an
orchestrator restarts it only when `/healthz` stops answering, which a store outage never causes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from qrstream.bus import BusError
from qrstream.errors import StoreUnavailable
from qrstream.web.answers import prepare
from qrstream.web.http import encoded, json_response
from qrstream.web.keys import SERVICES
from qrstream.web.policy import OPS, Routes

log = logging.getLogger(__name__)

PING_TIMEOUT_S = 1.0
RETRY_AFTER_S = 1


_ALIVE = prepare(body=encoded({"status": "ok"}), headers={}, content_type="application/json")
"""The constant answer, its headers (security headers included) made once."""


async def healthz(request: web.Request) -> web.Response:
    return _ALIVE.response()


async def _state(ping: Callable[[], Awaitable[None]]) -> str:
    """`ok`, or why not (short, without addresses: the answer is public)."""
    try:
        async with asyncio.timeout(PING_TIMEOUT_S):
            await ping()
    except TimeoutError:
        return f"no answer within {PING_TIMEOUT_S:g} s"
    except StoreUnavailable as exc:
        return f"unavailable: {exc.reason}"
    except BusError as exc:
        return str(exc)
    except Exception as exc:
        log.warning("readiness ping failed", exc_info=True)
        return f"error ({type(exc).__name__})"
    return "ok"


async def readyz(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    store, bus = await asyncio.gather(_state(services.db.ping), _state(services.bus.ping))
    if store == bus == "ok":
        return json_response({"status": "ready", "store": store, "bus": bus})
    response = json_response({"status": "unavailable", "store": store, "bus": bus}, status=503)
    response.headers["Retry-After"] = str(RETRY_AFTER_S)
    return response


def setup(app: web.Application) -> None:
    routes = Routes(app, OPS)
    routes.get("/healthz", healthz, name="healthz")
    routes.get("/readyz", readyz, name="readyz")
