"""Limits on guessing and on websockets, applied to every family from one place.

Guessing: a route declares its guessing purpose and the statuses that count as a
failed guess (`RoutePolicy.guess`, where the route is added). The middleware charges
the client address for each *failed* guess and, once the bucket of that purpose is
empty, answers 429 with `Retry-After` before the handler runs. Normal use never
fails, so it is never limited.

Websockets: `open_capped_websocket(request, group)` upgrades like `open_websocket`,
but closes at once with 1013 and a reason when the group (one instance, one
verification) or the client address already has its maximum of open sockets.
"""

from __future__ import annotations

import weakref
from collections import Counter
from collections.abc import AsyncIterator

from aiohttp import WSCloseCode, web
from aiohttp.typedefs import Handler

from qrstream.config import Config
from qrstream.errors import QrstreamError, RateLimited
from qrstream.ratelimit import Rate, RateLimiter
from qrstream.web.keys import SERVICES
from qrstream.web.policy import policy_of
from qrstream.web.ws import close_quietly, open_websocket


def rates_for(config: Config) -> dict[str, Rate]:
    auth = Rate(config.rate_auth_failures)
    return {
        "admin-auth": auth,
        "sdk-auth": auth,
        "instance-auth": auth,
        "verification-id": Rate(config.rate_link_failures),
        "link-code": Rate(config.rate_link_failures),
        "signature": Rate(config.rate_signature_failures),
    }


def client_key(request: web.BaseRequest) -> str:
    """Whom to limit: the peer address (a proxy in front should be limited as one client)."""
    return request.remote or "-"


@web.middleware
async def limits_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    guess = policy_of(request).guess
    if guess is None:
        return await handler(request)
    purpose, failures = guess.purpose, guess.fails
    limiter = request.app[LIMITER]
    key = client_key(request)
    wait = limiter.retry_after(purpose, key)
    if wait:
        limiter.refused[purpose] += 1
        raise RateLimited("Too many failed attempts; try again later", retry_after=wait)
    try:
        response = await handler(request)
    except (QrstreamError, web.HTTPException) as exc:
        if exc.status in failures:
            limiter.charge(purpose, key)
        raise
    if response.status in failures:
        limiter.charge(purpose, key)
    return response


LIMITER: web.AppKey[RateLimiter] = web.AppKey("limiter")
WS_SLOTS: web.AppKey[WsSlots] = web.AppKey("ws_slots")


class WsSlots:
    """Open websockets by group and by client address, to cap both."""

    def __init__(self, per_group: int, per_client: int) -> None:
        self.per_group = per_group
        self.per_client = per_client
        self._groups: dict[str, weakref.WeakSet[web.WebSocketResponse]] = {}
        self._clients: dict[str, weakref.WeakSet[web.WebSocketResponse]] = {}
        self.refused: Counter[str] = Counter()

    @staticmethod
    def _open_count(table: dict[str, weakref.WeakSet[web.WebSocketResponse]], key: str, cap: int) -> int:
        sockets = table.get(key)
        if sockets is None:
            return 0
        if len(sockets) >= cap:  # only near the cap is it worth dropping the closed ones
            for ws in [ws for ws in sockets if ws.closed]:
                sockets.discard(ws)
        if not sockets:
            del table[key]
            return 0
        return len(sockets)

    def refusal(self, group: str, client: str) -> str | None:
        """Why one more socket may not open, or None when it may."""
        if self.per_group and self._open_count(self._groups, group, self.per_group) >= self.per_group:
            return "too many subscribers for this instance"
        if self.per_client and self._open_count(self._clients, client, self.per_client) >= self.per_client:
            return "too many websockets from this address"
        return None

    def add(self, group: str, client: str, ws: web.WebSocketResponse) -> None:
        self._groups.setdefault(group, weakref.WeakSet()).add(ws)
        self._clients.setdefault(client, weakref.WeakSet()).add(ws)

    def remove(self, group: str, client: str, ws: web.WebSocketResponse) -> None:
        for table, key in ((self._groups, group), (self._clients, client)):
            sockets = table.get(key)
            if sockets is not None:
                sockets.discard(ws)
                if not sockets:
                    del table[key]


async def open_capped_websocket(request: web.Request, group: str) -> web.WebSocketResponse:
    """Upgrade (house settings, 1001 on shutdown) unless `group` or this client is full.

    When full, the socket is opened and at once closed with 1013 (try again later) and
    a reason; the caller checks `ws.closed` and returns the socket as it is.
    """
    slots = request.app[WS_SLOTS]
    client = client_key(request)
    reason = slots.refusal(group, client)
    if reason is not None:
        slots.refused[reason] += 1
        ws = await open_websocket(request)
        await close_quietly(ws, WSCloseCode.TRY_AGAIN_LATER, reason.encode())
        return ws
    ws = web.WebSocketResponse()  # placeholder holding the slot while the real one is prepared
    slots.add(group, client, ws)
    try:
        real = await open_websocket(request)
    finally:
        slots.remove(group, client, ws)
    slots.add(group, client, real)
    return real


async def limits_ctx(app: web.Application) -> AsyncIterator[None]:
    services = app[SERVICES]
    app[LIMITER] = RateLimiter(services.clock, rates_for(services.config))
    app[WS_SLOTS] = WsSlots(services.config.ws_max_per_instance, services.config.ws_max_per_client)
    yield


def setup(app: web.Application) -> None:
    """Create the limiter and the websocket slots (the middleware is listed in `create_app`)."""
    app.cleanup_ctx.append(limits_ctx)
