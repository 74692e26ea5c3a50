"""Websocket `GET /waInstance{id}/scanqrcode/{token}`: the live QR stream of one instance.

Bad credentials refuse the upgrade with 401. An authorized instance gets `alreadyLogged`
and a 1000 close. Otherwise the socket joins the hub topic `instance:<id>` first (so no
frame published meanwhile is missed), gets the current frame at once, then every new
frame from the instance's rotation; authorization ends it with `accountData` and 1000,
deletion with `{"type": "error", "message": "instance deleted"}` and 1000, and a
per-connection timer on the injected clock with `timeoutExpired` and 1000 after
`qr_scan_timeout_s`. Only the handler reads the socket; the hub and the timer only send.
"""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import WSCloseCode, web

from qrstream.clock import Clock
from qrstream.instances.events import ALREADY_LOGGED, DELETED, TIMEOUT_EXPIRED
from qrstream.instances.frames import Frames
from qrstream.instances.keys import FRAMES, INSTANCES, ROTATOR
from qrstream.instances.policies import INSTANCE_API
from qrstream.instances.rotation import topic
from qrstream.instances.service import Instance
from qrstream.web.http import services
from qrstream.web.limits import capped_websocket
from qrstream.web.policy import Routes
from qrstream.web.ws import HUB, Subscription, close_quietly


async def _say_and_close(ws: web.WebSocketResponse, text: str) -> web.WebSocketResponse:
    with contextlib.suppress(ConnectionError, RuntimeError):
        await ws.send_str(text)
    await close_quietly(ws, WSCloseCode.OK)
    return ws


async def _current_text(frames: Frames, clock: Clock, instance: Instance) -> str:
    """The frame of the window current when it is sent (made again if the window turned meanwhile)."""
    while True:
        window = frames.window_at(instance.id, clock.now())
        frame = await frames.frame(instance.id, instance.generation, window)
        if frames.window_at(instance.id, clock.now()) == window:
            return frame.text


class ScanTimer:
    """Ends one connection with `timeoutExpired` when nobody scanned in time."""

    def __init__(self, sub: Subscription, clock: Clock, deadline: float) -> None:
        self._sub = sub
        self.fired = False
        self.task = asyncio.ensure_future(self._run(clock, deadline))

    async def _run(self, clock: Clock, deadline: float) -> None:
        await clock.sleep_until(deadline)
        self.fired = True
        self._sub.leave()  # no frame after the goodbye
        if not self._sub.ws.closed:
            await _say_and_close(self._sub.ws, TIMEOUT_EXPIRED)

    async def stop(self) -> None:
        if self.fired:
            await asyncio.gather(self.task, return_exceptions=True)  # let the goodbye finish
        else:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)


async def scanqrcode(request: web.Request) -> web.StreamResponse:
    instances = request.app[INSTANCES]
    instance = await instances.authenticate(request.match_info["id"], request.match_info["token"])
    return await stream_instance(request, instance)


async def stream_instance(request: web.Request, instance: Instance) -> web.StreamResponse:
    """The scanqrcode stream of `instance`, whose credentials the caller checked.

    The scan timeout counts from this connection's start, whatever other connections do.
    """
    instances = request.app[INSTANCES]
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
            async with request.app[HUB].subscription(name, ws, request.transport) as sub:
                # Read again after joining: a change announced before we listened is seen here.
                current = await instances.get(instance.id)
                if current is None:
                    return await _say_and_close(ws, DELETED)
                if current.logged_in:
                    return await _say_and_close(ws, ALREADY_LOGGED)
                # Through the hub: in order with the rotation's frames, and not twice when the
                # rotation publishes this same frame at the turn of the window.
                await sub.send(await _current_text(request.app[FRAMES], clock, current))
                timer = ScanTimer(sub, clock, started + services(request).config.qr_scan_timeout_s)
                await sub.read_until_closed()
        except (ConnectionError, RuntimeError):
            pass  # the peer went away mid-send
        finally:
            if timer is not None:
                await timer.stop()
    return ws


def setup(app: web.Application) -> None:
    Routes(app, INSTANCE_API).get(
        "/waInstance{id}/scanqrcode/{token}", scanqrcode, name="instance-scanqrcode"
    )
