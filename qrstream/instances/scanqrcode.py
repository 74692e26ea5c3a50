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
from qrstream.web.limits import open_capped_websocket
from qrstream.web.policy import Routes
from qrstream.web.ws import HUB, Hub, close_quietly, read_until_closed


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

    def __init__(self, hub: Hub, name: str, ws: web.WebSocketResponse, clock: Clock, deadline: float) -> None:
        self._hub, self._topic, self._ws = hub, name, ws
        self.fired = False
        self.task = asyncio.ensure_future(self._run(clock, deadline))

    async def _run(self, clock: Clock, deadline: float) -> None:
        await clock.sleep_until(deadline)
        self.fired = True
        self._hub.leave(self._topic, self._ws)  # no frame after the goodbye
        if not self._ws.closed:
            await _say_and_close(self._ws, TIMEOUT_EXPIRED)

    async def stop(self) -> None:
        if self.fired:
            await asyncio.gather(self.task, return_exceptions=True)  # let the goodbye finish
        else:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)


async def scanqrcode(request: web.Request) -> web.StreamResponse:
    instances = request.app[INSTANCES]
    instance = await instances.authenticate(request.match_info["id"], request.match_info["token"])
    clock = services(request).clock
    started = clock.now()
    ws = await open_capped_websocket(request, topic(instance.id))
    if ws.closed:  # refused with 1013: too many subscribers for this instance or from this address
        return ws
    if instance.logged_in:
        return await _say_and_close(ws, ALREADY_LOGGED)
    hub, name = request.app[HUB], topic(instance.id)
    hub.join(name, ws, request.transport)
    timer: ScanTimer | None = None
    try:
        request.app[ROTATOR].ensure(instance.id)
        await hub.ready(name)
        # Read again after joining: a change announced before we listened is seen here.
        current = await instances.get(instance.id)
        if current is None:
            return await _say_and_close(ws, DELETED)
        if current.logged_in:
            return await _say_and_close(ws, ALREADY_LOGGED)
        # Through the hub: in order with the rotation's frames, and not twice when the rotation
        # publishes this same frame at the turn of the window.
        sending = hub.send(name, ws, await _current_text(request.app[FRAMES], clock, current))
        if sending is not None:
            await sending
        timer = ScanTimer(hub, name, ws, clock, started + services(request).config.qr_scan_timeout_s)
        await read_until_closed(ws)
    except (ConnectionError, RuntimeError):
        pass  # the peer went away mid-send
    finally:
        hub.leave(name, ws)
        if timer is not None:
            await timer.stop()
    return ws


def setup(app: web.Application) -> None:
    Routes(app, INSTANCE_API).get(
        "/waInstance{id}/scanqrcode/{token}", scanqrcode, name="instance-scanqrcode"
    )
