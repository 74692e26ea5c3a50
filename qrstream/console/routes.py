"""Routes of the console: its page, event-stream tickets and the admin event stream (CONTRACT §7).

`POST /admin/events/ticket` (admin key) → 201 `{"ticket", "expiresIn": 30}`. The websocket
`GET /admin/events?ticket=…` (or with the admin bearer header, for clients that can send one)
streams every message of `qrstream.admin_events` from every process, through the hub: the same
caps and slow-client rule as the other streams. A missing, wrong, used or expired ticket: the
upgrade is refused with 401 `{"error": "Unauthorized"}` (and counted as a failed guess).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from qrstream.admin_events import TOPIC
from qrstream.console.tickets import Tickets
from qrstream.errors import BadRequest, Unauthorized
from qrstream.web.auth import require_admin
from qrstream.web.http import bearer_token, json_response
from qrstream.web.keys import SERVICES
from qrstream.web.limits import capped_websocket
from qrstream.web.policy import ADMIN, PAGES, Routes
from qrstream.web.static import page
from qrstream.web.ws import HUB

TICKETS: web.AppKey[Tickets] = web.AppKey("event_tickets")


async def console_page(request: web.Request) -> web.FileResponse:
    """The operator console; the admin key is typed into it, never sent in a URL or a cookie."""
    return page("console.html")


async def new_ticket(request: web.Request) -> web.Response:
    require_admin(request)
    tickets = request.app[TICKETS]
    ticket = await tickets.issue()
    return json_response({"ticket": ticket, "expiresIn": int(tickets.ttl_s)}, status=201)


async def _admitted(request: web.Request) -> None:
    """The admin bearer key, or else a ticket used up now; Unauthorized otherwise. Nothing is
    used up for a request that is not a websocket upgrade (400)."""
    if bearer_token(request) is not None:
        require_admin(request)
        admitted_by_key = True
    else:
        admitted_by_key = False
    if not web.WebSocketResponse().can_prepare(request).ok:
        raise BadRequest("This is a websocket endpoint: send an upgrade request")
    if admitted_by_key:
        return
    ticket = request.query.get("ticket")
    if not await request.app[TICKETS].redeem(ticket):
        raise Unauthorized("Unauthorized")


async def events(request: web.Request) -> web.WebSocketResponse:
    """Every admin event of every process, as it happens, until the client leaves."""
    await _admitted(request)
    async with capped_websocket(request, TOPIC, "event stream") as ws:
        if ws.closed:  # refused: too many sockets
            return ws
        async with request.app[HUB].subscription(TOPIC, ws, request.transport) as sub:
            await sub.read_until_closed()  # nothing to send first: the stream tells what happens next
    return ws


async def console_ctx(app: web.Application) -> AsyncIterator[None]:
    """The tickets, and this process's subscription to the admin topic for as long as it runs.

    A stream has nothing to send first, so its client cannot tell when the hub's subscription is
    live; on Redis a first subscription is confirmed a moment after the upgrade, and an event told
    meanwhile would be lost. Subscribed (and confirmed) before serving, every stream hears
    everything told after its upgrade.
    """
    core = app[SERVICES]
    app[TICKETS] = Tickets(core.db, core.clock)
    unsubscribe = core.bus.subscribe(TOPIC, _keep_subscribed)
    await core.bus.ready(TOPIC)
    yield
    unsubscribe()


def _keep_subscribed(topic: str, message: str) -> None:
    return None  # the hub's own listener delivers; this one only keeps the topic subscribed


def setup(app: web.Application) -> None:
    """Register the console's page, its tickets and the admin event stream."""
    app.cleanup_ctx.append(console_ctx)
    Routes(app, PAGES).get("/console", console_page, name="console")
    admin = Routes(app, ADMIN)
    admin.post("/admin/events/ticket", new_ticket, name="admin-events-ticket")
    # A websocket: GET without the HEAD route that `get` adds; the ticket is masked in logs.
    admin.add(
        "GET",
        "/admin/events",
        events,
        name="admin-events",
        policy=ADMIN.but(secret_query=frozenset({"ticket"})),
    )
