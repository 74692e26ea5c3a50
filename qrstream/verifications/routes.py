"""Routes of the verifications API family (CONTRACT §4, after the OKID API).

`/api/*` calls need `X-SDK-Key`, except the portal's own `start` and `complete`:
there the unguessable id is the capability. Errors are `{"error": …}` (+ `field`
or `current_status`), mapped by the error middleware.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from aiohttp import WSCloseCode, web

from qrstream.errors import BadRequest, Conflict
from qrstream.paging import page_request
from qrstream.qr.options import QrOptions
from qrstream.tasks import TaskSet
from qrstream.verifications.expiry import sweep_forever
from qrstream.verifications.keys import VERIFICATION_ANSWERS, VERIFICATIONS
from qrstream.verifications.records import (
    COMPLETED,
    EXPIRED,
    FAILED,
    FINAL,
    GENERATED,
    IN_PROGRESS,
    check_request,
    check_result,
    check_resume_token,
    iso,
    portal_url,
    topic,
)
from qrstream.verifications.service import Verifications
from qrstream.web import qrimage
from qrstream.web.answers import Answers, prepare
from qrstream.web.auth import require_admin, require_sdk_key
from qrstream.web.http import NO_STORE, dumps, json_response, read_json_object, services
from qrstream.web.keys import SERVICES
from qrstream.web.limits import capped_websocket
from qrstream.web.policy import ADMIN, Guess, RoutePolicy, Routes, claim_prefix
from qrstream.web.static import page
from qrstream.web.ws import HUB, close_quietly

QR_CONFLICT = "Verification must be in 'generated' state to generate a QR code"
QR_DEFAULTS = QrOptions()  # PNG, 400 x 400, level M, 2-module margin, black on white


async def _body(request: web.Request, *, allow_empty: bool = False) -> dict[str, Any]:
    """The JSON object body; a malformed one is a 400 naming the field `body`."""
    try:
        return await read_json_object(request, allow_empty=allow_empty)
    except BadRequest as exc:
        if exc.field is None:
            raise BadRequest(exc.message, field="body") from None
        raise


async def generate(request: web.Request) -> web.Response:
    require_sdk_key(request)
    extra_data, return_url = check_request(await _body(request, allow_empty=True))
    verification = await request.app[VERIFICATIONS].create(extra_data, return_url)
    body = {
        "verificationId": verification.id,
        "status": verification.status,
        "url": portal_url(services(request).links, verification.id),
        "expiresAt": iso(verification.expires_at),
    }
    return json_response(body, status=201)


async def missing_id(request: web.Request) -> web.Response:
    require_sdk_key(request)
    raise BadRequest("Missing verification_id")  # the contract's body is exactly {"error": …}


async def qrcode(request: web.Request) -> web.Response:
    require_sdk_key(request)
    verification = await request.app[VERIFICATIONS].qr_ready(request.match_info["id"])
    if verification.status != GENERATED:
        raise Conflict(QR_CONFLICT, current_status=verification.status)
    answers = request.app[VERIFICATION_ANSWERS]
    if not request.query_string:  # the default image, prepared once for this cached row
        answer = answers.get(verification.id, verification)
        if answer is not None:
            services(request).renderer.hits += 1  # an image served from a cache all the same
            return answer.response()
    options = qrimage.requested(request, QR_DEFAULTS)
    url = portal_url(services(request).links, verification.id)
    image = await qrimage.render(request, url, options, QR_DEFAULTS)
    if options is QR_DEFAULTS:
        answer = prepare(body=image.body, headers=NO_STORE, content_type=image.media_type)
        answers.put(verification.id, verification, answer)
    return qrimage.image_response(image, NO_STORE)


async def details(request: web.Request) -> web.Response:
    require_sdk_key(request)
    verification = await request.app[VERIFICATIONS].get(request.match_info["id"])
    return json_response(verification.details())


async def start(request: web.Request) -> web.Response:
    """The person pressed Start (or the tab that did reloads, with its resumeToken)."""
    token = check_resume_token(await _body(request, allow_empty=True))
    verification, token = await request.app[VERIFICATIONS].start(request.match_info["id"], token)
    body = {"status": verification.status, "resumeToken": token}
    if verification.return_url:  # where the portal goes when done; otherwise the contract's body exactly
        body["return_url"] = verification.return_url
    return json_response(body)


async def complete(request: web.Request) -> web.Response:
    body = await _body(request)
    status, token = check_result(body), check_resume_token(body)
    verification = await request.app[VERIFICATIONS].complete(request.match_info["id"], status, token)
    return json_response({"status": verification.status})


async def events(request: web.Request) -> web.WebSocketResponse:
    """The status now, then every change; closes 1000 after a final status."""
    require_sdk_key(request)
    verifications = request.app[VERIFICATIONS]
    verification_id = request.match_info["id"]
    await verifications.get(verification_id)  # 404 before upgrading
    name = topic(verification_id)
    async with capped_websocket(request, name, "verification") as ws:
        if ws.closed:  # refused: too many sockets for this verification or from this address
            return ws
        async with request.app[HUB].subscription(name, ws, request.transport) as sub:
            current = await verifications.get(verification_id)  # again: now no change is missed
            await sub.send(dumps(current.event()))
            if current.status in FINAL:
                await close_quietly(ws, WSCloseCode.OK)
            else:
                await sub.read_until_closed()
    return ws


STATUSES = (GENERATED, IN_PROGRESS, COMPLETED, FAILED, EXPIRED)


async def admin_list(request: web.Request) -> web.Response:
    """GET /admin/verifications[?status&limit&after]: details of each, newest first (admin key)."""
    require_admin(request)
    paging = page_request(request.query, str)
    status = request.query.get("status")
    if status is not None and status not in STATUSES:
        raise BadRequest(f"status must be one of {', '.join(STATUSES)}", field="status")
    found, after = await request.app[VERIFICATIONS].page(paging, status)
    return json_response({"items": [v.details() for v in found], "next": after})


async def portal(request: web.Request) -> web.FileResponse:
    """The verification portal; neither the GET nor its script changes state until a person
    presses Start (mail scanners and link checkers open links, and some run their scripts)."""
    return page("verify.html")


async def verifications_ctx(app: web.Application) -> AsyncIterator[None]:
    """The verification service and its expiry sweeper (stopped as this exits)."""
    core = app[SERVICES]
    app[VERIFICATIONS] = verifications = Verifications(core)
    await verifications.cache.start()
    try:
        async with TaskSet() as tasks:
            tasks.spawn(sweep_forever(verifications, core.clock), "verification-expiry")
            yield
    finally:
        verifications.cache.close()


SDK_API = RoutePolicy(
    family="verifications", secrets=frozenset({"id"}), guess=Guess("sdk-auth", frozenset({401}))
)
"""The `/api/*` calls that need `X-SDK-Key`; a verification id in a path is a capability."""
PORTAL_API = SDK_API.but(guess=Guess("verification-id", frozenset({401, 404})))
"""The portal's own calls: no key, the unguessable id is what is guessed."""
PORTAL_PAGE = RoutePolicy(family="verifications", secret_query=frozenset({"verification_id"}))


def setup(app: web.Application) -> None:
    """Register the routes and the cleanup context of this family."""
    app.cleanup_ctx.append(verifications_ctx)
    app[VERIFICATION_ANSWERS] = Answers()
    claim_prefix(app, "/api/", SDK_API)
    routes = Routes(app, SDK_API)
    routes.post("/api/generate-verification", generate, name="verification-generate")
    routes.get("/api/get-verification-qrcode", missing_id)
    routes.get("/api/get-verification-qrcode/", missing_id)
    routes.get("/api/get-verification-qrcode/{id}", qrcode, name="verification-qrcode")
    routes.get("/api/get-verification-details", missing_id)
    routes.get("/api/get-verification-details/", missing_id)
    routes.get("/api/get-verification-details/{id}", details, name="verification-details")
    # A websocket: GET without the HEAD route that `routes.get` adds.
    routes.add("GET", "/api/verification-events/{id}", events, name="verification-events")
    routes.post("/api/verification/{id}/start", start, name="verification-start", policy=PORTAL_API)
    routes.post("/api/verification/{id}/complete", complete, name="verification-complete", policy=PORTAL_API)
    routes.get("/verify", portal, name="verify-portal", policy=PORTAL_PAGE)  # HEAD too: link previews
    routes.get("/admin/verifications", admin_list, name="admin-verification-list", policy=ADMIN)
