"""Limits on guessing and on websockets, applied to every family from one place.

Guessing: a route declares its guessing purpose and the statuses that count as a
failed guess (`RoutePolicy.guess`, where the route is added). The middleware
(`qrstream.web.pipeline`) charges
the client address for each *failed* guess and, once the bucket of that purpose is
empty, answers 429 with `Retry-After` before the handler runs. Normal use never
fails, so it is never limited.

Websockets: `async with capped_websocket(request, group, noun) as ws:` upgrades like
`open_websocket`, but closes at once with 1013 and a reason when the group (one
instance, one verification: the `noun`) or the client address already has its
maximum of open sockets. A slot is a reserved count, released when the block ends.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator

from aiohttp import WSCloseCode, web

from qrstream.config import Config
from qrstream.ratelimit import Rate, RateLimiter
from qrstream.web.keys import SERVICES
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


LIMITER: web.AppKey[RateLimiter] = web.AppKey("limiter")
WS_SLOTS: web.AppKey[WsSlots] = web.AppKey("ws_slots")


class WsSlots:
    """Open websockets counted by group and by client address, to cap both."""

    def __init__(self, per_group: int, per_client: int) -> None:
        self.per_group = per_group
        self.per_client = per_client
        self._groups: Counter[str] = Counter()
        self._clients: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()

    def reserve(self, group: str, client: str, noun: str) -> str | None:
        """Take a slot for one more socket; or, when full, say why (nothing is taken)."""
        if self.per_group and self._groups[group] >= self.per_group:
            return f"too many subscribers for this {noun}"
        if self.per_client and self._clients[client] >= self.per_client:
            return "too many websockets from this address"
        self._groups[group] += 1
        self._clients[client] += 1
        return None

    def release(self, group: str, client: str) -> None:
        for table, key in ((self._groups, group), (self._clients, client)):
            table[key] -= 1
            if table[key] <= 0:
                del table[key]

    def open_in(self, group: str) -> int:
        return self._groups[group]


class capped_websocket:  # named as the function it replaced: `async with capped_websocket(...)`
    """Upgrade (house settings, 1001 on shutdown) unless `group` or this client is full.

    When full, the socket is opened and at once closed with 1013 (try again later) and a
    reason naming the `noun` (`instance`, `verification`); the caller checks `ws.closed`
    and returns the socket as it is. The slot is held until the block ends.
    A plain object, not a generator-based context manager: it lives as long as the socket.
    """

    __slots__ = ("_client", "_group", "_noun", "_request", "_slots")

    def __init__(self, request: web.Request, group: str, noun: str) -> None:
        self._request, self._group, self._noun = request, group, noun
        self._slots: WsSlots | None = None
        self._client = ""

    async def __aenter__(self) -> web.WebSocketResponse:
        request = self._request
        slots = request.app[WS_SLOTS]
        client = client_key(request)
        reason = slots.reserve(self._group, client, self._noun)
        if reason is not None:
            slots.refused[reason] += 1
            ws = await open_websocket(request)
            await close_quietly(ws, WSCloseCode.TRY_AGAIN_LATER, reason.encode())
            return ws
        self._slots, self._client = slots, client
        try:
            return await open_websocket(request)
        except BaseException:
            self._release()
            raise

    async def __aexit__(self, *exc: object) -> None:
        self._release()

    def _release(self) -> None:
        if self._slots is not None:
            self._slots.release(self._group, self._client)
            self._slots = None


async def limits_ctx(app: web.Application) -> AsyncIterator[None]:
    services = app[SERVICES]
    app[LIMITER] = RateLimiter(services.clock, rates_for(services.config))
    app[WS_SLOTS] = WsSlots(services.config.ws_max_per_instance, services.config.ws_max_per_client)
    yield


def setup(app: web.Application) -> None:
    """Create the limiter and the websocket slots (the pipeline middleware applies the limiter)."""
    app.cleanup_ctx.append(limits_ctx)
