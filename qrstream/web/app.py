"""The one app factory: the shared core, then each API family, then the pages."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator

from aiohttp import WSCloseCode, web

from qrstream.cards import routes as cards
from qrstream.clock import Clock, SystemClock
from qrstream.config import Config
from qrstream.console import routes as console
from qrstream.instances import routes as instances
from qrstream.instances.service import instance_webhook
from qrstream.redact import protect_logs
from qrstream.services import open_services
from qrstream.verifications import routes as verifications
from qrstream.web import health, limits, metrics, openapi, pages, pipeline, policy, static
from qrstream.web.heartbeat import Heartbeat
from qrstream.web.keys import SERVICES, WEBSOCKETS
from qrstream.web.links import RouterPaths
from qrstream.web.peers import PEERS, PeerGuard
from qrstream.web.ws import HEARTBEAT, HUB, Hub, close_quietly, envelope
from qrstream.webhooks import routes as webhooks


async def close_websockets(app: web.Application) -> None:
    """On shutdown, say goodbye (1001) to every open websocket, all at once, each bounded."""
    registered = app[WEBSOCKETS]
    app[HEARTBEAT].close()
    sockets = list(registered)
    await asyncio.gather(
        *(close_quietly(ws, WSCloseCode.GOING_AWAY, b"server shutting down") for ws in sockets)
    )


def create_app(config: Config, *, clock: Clock | None = None) -> web.Application:
    """Build the whole server for `config`; `clock` defaults to the system clock."""
    # One middleware: request id, guess limits, error shapes and metrics in one pass.
    app = web.Application(middlewares=[pipeline.pipeline], client_max_size=config.max_body_bytes)
    app[WEBSOCKETS] = weakref.WeakSet()
    app[PEERS] = PeerGuard(config.header_timeout_s, config.max_pending_per_client)
    app[HEARTBEAT] = Heartbeat(config.ws_heartbeat_s)
    the_clock = clock if clock is not None else SystemClock()

    async def core(app: web.Application) -> AsyncIterator[None]:
        async with open_services(
            config, the_clock, envelope=envelope, paths=RouterPaths(app.router)
        ) as services:
            app[SERVICES] = services
            app[HUB] = Hub(services.bus)
            unprotect = protect_logs(
                (services.secrets.admin_key, *config.sdk_keys, *services.secrets.signing_keys)
            )
            try:
                yield
            finally:
                unprotect()

    app.cleanup_ctx.append(core)
    app.on_shutdown.append(close_websockets)
    policy.install(app)
    policy.claim_prefix(app, "/admin/", policy.ADMIN)
    health.setup(app)
    metrics.setup(app)
    limits.setup(app)
    openapi.setup(app)
    # API families register here, in dependency order (their cleanup contexts follow core's).
    cards.setup(app)
    verifications.setup(app)
    instances.setup(app)
    webhooks.setup(app, instance_webhook=instance_webhook)  # the instances family's lookup
    console.setup(app)
    pages.setup(app)
    static.setup(app)
    return app
