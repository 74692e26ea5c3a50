"""Routes of the instances API family (after the Green API): `/waInstance{id}/<method>/{token}`.

An unknown id, a non-numeric id or a wrong token → 401 `{"error": "Unauthorized"}`, alike.
The admin routes (`/admin/instances`) are in `instances_admin`, the websocket in
`scanqrcode`, the phone's pages in `link`, a pairing link's page and stream (`/p/<ticket>`)
in `pairing_link_page`; `setup` registers them all, and the cleanup context that makes the
family's services.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from qrstream.clock import Deadlines
from qrstream.errors import BadRequest
from qrstream.instances import admin_routes as instances_admin
from qrstream.instances import link_page as link
from qrstream.instances import pairing_link_page, scanqrcode
from qrstream.instances import settings as instance_settings
from qrstream.instances.events import ALREADY_LOGGED, STARTING_ERROR, message
from qrstream.instances.frames import PNG, Frames, parse_format
from qrstream.instances.inbox import RECEIVE_TIMEOUT_DEFAULT, RECEIVE_TIMEOUT_MAX, RECEIVE_TIMEOUT_MIN, Inbox
from qrstream.instances.keys import (
    FRAMES,
    INSTANCES,
    LINKING,
    PAIRING_LINKS,
    QR_ANSWERS,
    ROTATOR,
    SCAN_DEADLINES,
)
from qrstream.instances.linking import Linking
from qrstream.instances.pairing_links import PairingLinks, iso, parse_ttl
from qrstream.instances.policies import INSTANCE_API
from qrstream.instances.rotation import Rotator
from qrstream.instances.service import AUTHORIZED, STARTING, Instance, Instances, check_webhook_url
from qrstream.store.settings import get_or_create
from qrstream.tasks import TaskSet
from qrstream.web.answers import Answers, Prepared, prepare
from qrstream.web.http import json_response, read_json_object, services
from qrstream.web.keys import SERVICES
from qrstream.web.policy import Routes, claim_prefix
from qrstream.web.ws import HUB

log = logging.getLogger(__name__)


def _json_text(text: str) -> web.Response:
    """A response whose JSON body is already encoded (frames are encoded once, for everyone)."""
    return web.Response(text=text, content_type="application/json")


def _prepared(text: str) -> Prepared:
    return prepare(body=text.encode(), headers={}, content_type="application/json")


_ALREADY_LOGGED = _prepared(ALREADY_LOGGED)
_STARTING = _prepared(STARTING_ERROR)


async def _instance(request: web.Request, *, cached: bool = False) -> Instance:
    match = request.match_info
    return await request.app[INSTANCES].authenticate(match["id"], match["token"], cached=cached)


async def qr(request: web.Request) -> web.Response:
    """The current frame: `?format=raw` the link itself, `?format=svg` an SVG, else a base64 PNG.
    The hot path: the row from the family's cache, the frame from the frames' cache."""
    instance = await _instance(request, cached=True)
    fmt = parse_format(request.query.getall("format", [])) if request.query_string else PNG
    if instance.state == AUTHORIZED:
        return _ALREADY_LOGGED.response()
    if instance.state == STARTING:
        return _STARTING.response()
    frames = request.app[FRAMES]
    try:
        window = frames.window_at(instance.id, services(request).clock.now())
        frame = frames.cached(instance.id, instance.generation, window, fmt)
        if frame is None:
            frame = await frames.frame(instance.id, instance.generation, window, fmt)
    except Exception:
        log.exception("cannot make the QR code of an instance")
        return _json_text(message("error", "cannot make the QR code now, try again"))
    answers = request.app[QR_ANSWERS]  # the frame's body, encoded once for REST readers
    answer = answers.get((instance.id, fmt), frame)
    if answer is None:
        answer = answers.put((instance.id, fmt), frame, _prepared(frame.text))
    return answer.response()


async def get_state(request: web.Request) -> web.Response:
    instance = await _instance(request)
    return json_response({"stateInstance": instance.state})


async def logout(request: web.Request) -> web.Response:
    await request.app[INSTANCES].logout(await _instance(request))
    return json_response({"isLogout": True})


async def reboot(request: web.Request) -> web.Response:
    await request.app[INSTANCES].reboot(await _instance(request))
    return json_response({"isReboot": True})


def _receive_timeout(request: web.Request) -> int:
    raw = request.query.get("receiveTimeout")
    if raw is None:
        return RECEIVE_TIMEOUT_DEFAULT
    raw = raw.strip()
    if not (raw.isascii() and raw.isdigit()) or not RECEIVE_TIMEOUT_MIN <= int(raw) <= RECEIVE_TIMEOUT_MAX:
        raise BadRequest(
            f"receiveTimeout must be a whole number of seconds from {RECEIVE_TIMEOUT_MIN}"
            f" to {RECEIVE_TIMEOUT_MAX}",
            field="receiveTimeout",
        )
    return int(raw)


async def receive_notification(request: web.Request) -> web.Response:
    instance = await _instance(request)
    timeout = _receive_timeout(request)
    found = await request.app[INSTANCES].inbox.receive(instance.id, timeout)
    return _json_text(found if found is not None else "null")


async def delete_notification(request: web.Request) -> web.Response:
    instance = await _instance(request)
    raw = request.match_info["receiptId"]
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise BadRequest("receiptId must be a whole number", field="receiptId")
    deleted = await request.app[INSTANCES].inbox.delete(instance.id, int(raw))
    return json_response({"result": deleted})


async def set_settings(request: web.Request) -> web.Response:
    """Green API's setSettings: any subset of the known settings, all checked before any is saved."""
    instance = await _instance(request)
    check_url = functools.partial(
        check_webhook_url, allow_private=services(request).config.webhook_allow_private
    )
    change = instance_settings.parse(await read_json_object(request), check_url)
    await request.app[INSTANCES].save_settings(instance, change)
    return json_response({"saveSettings": True})


async def get_settings(request: web.Request) -> web.Response:
    instance = await _instance(request)
    return json_response(await request.app[INSTANCES].settings(instance))


async def get_authorization_code(request: web.Request) -> web.Response:
    instance = await _instance(request)
    body = await read_json_object(request)
    code = await request.app[LINKING].issue_code(instance, body.get("phoneNumber"))
    if code is None:  # already authorized: log out first
        return json_response({"status": False, "code": ""})
    return json_response({"status": True, "code": code})


async def create_pairing_link(request: web.Request) -> web.Response:
    """A watch-only link to this instance's pairing page (§9): `{"url", "expiresAt"}`."""
    instance = await _instance(request)
    ttl = parse_ttl(await read_json_object(request, allow_empty=True))
    ticket, expires_at = await request.app[PAIRING_LINKS].create(instance.id, ttl)
    url = services(request).links.url("pairing-link-page", ticket=ticket)
    return json_response({"url": url, "expiresAt": iso(expires_at)})


async def instances_context(app: web.Application) -> AsyncIterator[None]:
    """The family's services: pairing secret, inbox, instances, frames, linking, rotation."""
    core = app[SERVICES]
    secret, _ = await get_or_create(core.db, "pairing_secret")
    rotator: Rotator | None = None
    try:
        async with TaskSet() as tasks:  # the rotations and the ends of reboots, stopped as this exits
            instances = Instances(core, Inbox(core.db, core.clock, core.bus), tasks)
            frames = Frames(core.renderer, secret, core.links, core.config.qr_refresh_s)
            app[INSTANCES] = instances
            app[FRAMES] = frames
            app[LINKING] = Linking(instances, frames, secret)
            app[ROTATOR] = rotator = Rotator(core, app[HUB], instances, frames, tasks)
            app[PAIRING_LINKS] = PairingLinks(core.db, core.clock)
            app[SCAN_DEADLINES] = deadlines = Deadlines(core.clock)
            await instances.cache.start()
            try:
                await instances.resume_reboots()
                yield
            finally:
                deadlines.close()
                instances.cache.close()
    finally:
        if rotator is not None:  # its tasks are stopped now; the bus is still open
            await rotator.release()


async def release_long_polls(app: web.Application) -> None:
    """On shutdown, waiting receiveNotification calls answer at once."""
    if INSTANCES in app:
        app[INSTANCES].inbox.release_all()


def setup(app: web.Application) -> None:
    """Register the routes and the cleanup context of this family."""
    app.cleanup_ctx.append(instances_context)
    app[QR_ANSWERS] = Answers()
    app.on_shutdown.append(release_long_polls)
    claim_prefix(app, "/waInstance", INSTANCE_API)
    base = "/waInstance{id}"
    routes = Routes(app, INSTANCE_API)
    routes.get(base + "/qr/{token}", qr, name="instance-qr")
    routes.get(base + "/getStateInstance/{token}", get_state, name="instance-state")
    routes.get(base + "/logout/{token}", logout, name="instance-logout")
    routes.get(base + "/reboot/{token}", reboot, name="instance-reboot")
    routes.get(base + "/receiveNotification/{token}", receive_notification, name="instance-receive")
    routes.delete(
        base + "/deleteNotification/{token}/{receiptId}", delete_notification, name="instance-delete-note"
    )
    routes.post(base + "/setSettings/{token}", set_settings, name="instance-set-settings")
    routes.get(base + "/getSettings/{token}", get_settings, name="instance-get-settings")
    routes.post(base + "/getAuthorizationCode/{token}", get_authorization_code, name="instance-auth-code")
    routes.post(base + "/createPairingLink/{token}", create_pairing_link, name="instance-pairing-link")
    scanqrcode.setup(app)
    pairing_link_page.setup(app)
    instances_admin.setup(app)
    link.setup(app)
