"""Websocket `GET /waInstance{id}/scanqrcode/{token}`: the live QR stream of one instance.

Bad credentials refuse the upgrade with 401. An authorized instance gets `alreadyLogged`
and a 1000 close. Otherwise the socket joins the hub topic `instance:<id>` first (so no
frame published meanwhile is missed), gets the current frame at once, then every new
frame from the instance's rotation; authorization ends it with `accountData` and 1000,
deletion with `{"type": "error", "message": "instance deleted"}` and 1000, and a
per-connection timer on the injected clock with `timeoutExpired` and 1000 after
`qr_scan_timeout_s` (a pairing link's stream, `stream_instance` from `/p/<ticket>/scanqrcode`,
ends at the link's expiry too, with `{"type": "error", "message": "Pairing link expired"}`).
Only the handler reads the socket; the hub and the timer only send.
`?format=raw` or `?format=svg` (a bad one: 400 before the upgrade) streams that format's
frames instead of the base64 PNG; the socket joins the topic with that format as its variant.
"""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import WSCloseCode, web

from qrstream.clock import Clock, Deadlines
from qrstream.instances.events import ALREADY_LOGGED, DELETED, TIMEOUT_EXPIRED, message
from qrstream.instances.frames import PNG, Frames, parse_format
from qrstream.instances.keys import FRAMES, INSTANCES, ROTATOR, SCAN_DEADLINES
from qrstream.instances.pairing_links import EXPIRED
from qrstream.instances.policies import INSTANCE_API
from qrstream.instances.rotation import topic
from qrstream.instances.service import Instance, Instances
from qrstream.web.http import services
from qrstream.web.limits import capped_websocket
from qrstream.web.policy import Routes
from qrstream.web.ws import HUB, Subscription, close_quietly

LINK_EXPIRED = message("error", EXPIRED)
"""A pairing link's stream at the link's expiry (then close 1000)."""


async def _say_and_close(ws: web.WebSocketResponse, text: str) -> web.WebSocketResponse:
    with contextlib.suppress(ConnectionError, RuntimeError):
        await ws.send_str(text)
    await close_quietly(ws, WSCloseCode.OK)
    return ws


async def _current_text(frames: Frames, clock: Clock, instance: Instance, fmt: str) -> str:
    """The frame of the window current when it is sent (made again if the window turned meanwhile)."""
    while True:
        window = frames.window_at(instance.id, clock.now())
        frame = await frames.frame(instance.id, instance.generation, window, fmt)
        if frames.window_at(instance.id, clock.now()) == window:
            return frame.text


class ScanTimer:
    """Ends one connection with `goodbye` (`timeoutExpired`) when nobody scanned in time: an
    entry in the app's `Deadlines` until then (no timer or task per idle connection), a task
    for the goodbye itself."""

    __slots__ = ("_deadlines", "_entry", "_goodbye", "_saying", "_sub", "fired")

    def __init__(
        self, sub: Subscription, deadlines: Deadlines, deadline: float, goodbye: str = TIMEOUT_EXPIRED
    ) -> None:
        self._sub = sub
        self._goodbye = goodbye
        self.fired = False
        self._saying: asyncio.Task[web.WebSocketResponse] | None = None
        self._deadlines = deadlines
        self._entry = deadlines.add(deadline, self._fire)

    def _fire(self) -> None:
        self.fired = True
        self._sub.leave()  # no frame after the goodbye
        if not self._sub.ws.closed:
            self._saying = asyncio.ensure_future(_say_and_close(self._sub.ws, self._goodbye))

    async def stop(self) -> None:
        if not self.fired:
            self._deadlines.cancel(self._entry)
        if self._saying is not None:
            await asyncio.gather(self._saying, return_exceptions=True)  # let the goodbye finish


async def _first_message(
    instances: Instances, frames: Frames, clock: Clock, instance_id: int, fmt: str
) -> tuple[str, bool]:
    """What a new subscriber gets first, and whether it is a goodbye: read again after joining
    (a change announced before we listened is seen here), in a frame of its own, so that the
    row read is not held for the connection's life."""
    current = await instances.get(instance_id)
    if current is None:
        return DELETED, True
    if current.logged_in:
        return ALREADY_LOGGED, True
    return await _current_text(frames, clock, current, fmt), False


def _end(started: float, timeout_s: float, link_expires_at: float | None) -> tuple[float, str]:
    """When this connection ends unless something else ends it first, and with what: the scan
    timeout, or a pairing link's expiry when that comes first."""
    deadline = started + timeout_s
    if link_expires_at is not None and link_expires_at < deadline:
        return link_expires_at, LINK_EXPIRED
    return deadline, TIMEOUT_EXPIRED


async def stream_instance(
    request: web.Request,
    instance: Instance | None = None,
    fmt: str = PNG,
    *,
    link_expires_at: float | None = None,
) -> web.StreamResponse:
    """The scanqrcode stream of `instance`, whose credentials (token or pairing link) the caller
    checked, with the frames of one format (`png`, `raw` or `svg`); a pairing link's stream also
    ends at `link_expires_at`. Without `instance` it is the handler of the token route: the id and
    token are checked here, and `?format` read (the route's handler itself, not a coroutine
    around this one: one frame less held by every open socket).

    The scan timeout counts from this connection's start, whatever other connections do.
    """
    instances = request.app[INSTANCES]
    if instance is None:
        instance = await instances.authenticate(request.match_info["id"], request.match_info["token"])
        fmt = parse_format(request.query.getall("format", []))  # a bad one: 400 before the upgrade
    clock = services(request).clock
    started = clock.now()
    name = topic(instance.id)
    async with capped_websocket(request, name, "instance") as ws:
        if ws.closed:  # refused with 1013: too many subscribers for this instance or from this address
            return ws
        if instance.logged_in:
            return await _say_and_close(ws, ALREADY_LOGGED)
        timer: ScanTimer | None = None
        try:
            request.app[ROTATOR].ensure(instance.id)
            # A member of its format: the rotation's frames of that format only come here.
            async with request.app[HUB].subscription(name, ws, request.transport, fmt) as sub:
                first, final = await _first_message(instances, request.app[FRAMES], clock, instance.id, fmt)
                if final:
                    return await _say_and_close(ws, first)
                # Through the hub: in order with the rotation's frames, and not twice when the
                # rotation publishes this same frame at the turn of the window.
                await sub.send(first)
                deadline, goodbye = _end(started, services(request).config.qr_scan_timeout_s, link_expires_at)
                timer = ScanTimer(sub, request.app[SCAN_DEADLINES], deadline, goodbye)
                await sub.read_until_closed()
        except (ConnectionError, RuntimeError):
            pass  # the peer went away mid-send
        finally:
            if timer is not None:
                await timer.stop()
    return ws


def setup(app: web.Application) -> None:
    Routes(app, INSTANCE_API).get(
        "/waInstance{id}/scanqrcode/{token}", stream_instance, name="instance-scanqrcode"
    )
