"""Routes of the cards API family: the public, Laravel-style card API and the dynamic link.

Errors here answer `{"message": …}` (the middleware's shape for /v1/, /c/, /q/, /media/).
The admin card routes live in `cards_admin`.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

from aiohttp import web

from qrstream.cards import admin_routes as cards_admin
from qrstream.cards import offline, scans, vcard
from qrstream.cards.keys import CARD_ANSWERS, CARDS
from qrstream.cards.metrics import ScanCollector
from qrstream.cards.page import page_response
from qrstream.cards.recorder import ScanRecorder
from qrstream.cards.service import Card, CardService, parse_uuid
from qrstream.errors import NotFound
from qrstream.qr.options import QrOptions
from qrstream.tasks import TaskSet
from qrstream.urls import ascii_url
from qrstream.web import qrimage
from qrstream.web.answers import Answers, prepare
from qrstream.web.http import NO_STORE, json_response, services
from qrstream.web.keys import SERVICES
from qrstream.web.metrics import METRICS
from qrstream.web.policy import Guess, RoutePolicy, Routes, claim_prefix

IMMUTABLE = "public, max-age=31536000, immutable"
_IMAGE_NAME = re.compile(r"^([0-9]{1,12})-([0-9a-f]{24})\.png$")


async def public_card(request: web.Request) -> Card:
    """The card named by the path's `{uuid}`; 404 "Card not found." when malformed or unknown."""
    card_uuid = parse_uuid(request.match_info["uuid"])
    card = await request.app[CARDS].get(card_uuid) if card_uuid else None
    if card is None:
        raise NotFound("Card not found.")
    return card


async def prefetch(request: web.Request) -> web.Response:
    card = await public_card(request)
    return json_response(card.public_json(services(request).links))


async def download_vcard(request: web.Request) -> web.Response:
    card = await public_card(request)
    return web.Response(
        body=vcard.render(card.contact()).encode("utf-8"),
        content_type="text/vcard",
        charset="utf-8",
        headers={"Content-Disposition": vcard.content_disposition(card.name)},
    )


async def _image_name(request: web.Request, card: Card) -> str:
    """The file name of the card's dynamic QR image as it looks now (recorded, so it can be served)."""
    svc = services(request)
    return await request.app[CARDS].image_name(card, key=svc.secrets.signing_key, links=svc.links)


async def card_page(request: web.Request) -> web.Response:
    card = await public_card(request)
    return page_response(card, services(request).links, await _image_name(request, card))


async def qr_code_url(request: web.Request) -> web.Response:
    """The URL of the card's dynamic QR image; the same while the card and its design are unchanged."""
    card = await public_card(request)
    name = await _image_name(request, card)
    return json_response({"url": services(request).links.url("card-qr-image", name=name)})


def _etag_matches(header: str, etag: str) -> bool:
    tags = [t.strip() for t in header.split(",")]
    return "*" in tags or any(t.removeprefix("W/") == etag for t in tags)


def _options_tag(options: QrOptions) -> str:
    look = options.look
    light = look.light or "transparent"
    return f"{options.format}-{options.size}-{look.margin}-{look.ecc}-{look.dark}-{light}"


async def qr_code_image(request: web.Request) -> web.Response:
    """The dynamic QR image in the design it was named with (the query may change it):
    immutable, so it is only ever rendered to answer a cache miss."""
    name = request.match_info["name"]
    match = _IMAGE_NAME.match(name)
    found = await request.app[CARDS].by_image(int(match[1]), match[2]) if match else None
    if found is None or match is None:
        raise NotFound("QR code not found.")
    answers = request.app[CARD_ANSWERS]
    plain = not request.query_string and "If-None-Match" not in request.headers
    if plain:  # the default image, prepared once for this cached row
        answer = answers.get(name, found)
        if answer is not None:
            services(request).renderer.hits += 1  # an image served from a cache all the same
            return answer.response()
    card, design = found
    defaults = QrOptions(look=design)
    options = qrimage.requested(request, defaults)
    # The name covers everything the default image shows, so with the options it is the entity tag.
    tag = f"{match[1]}-{match[2]}"
    if options != defaults:
        tag += "-" + _options_tag(options)
    headers = {"ETag": f'"{tag}"', "Cache-Control": IMMUTABLE}
    if _etag_matches(request.headers.get("If-None-Match", ""), headers["ETag"]):
        return web.Response(status=304, headers=headers)
    image = await qrimage.render(request, card.link(services(request).links), options, defaults)
    if plain and options is defaults:
        answers.put(name, found, prepare(body=image.body, headers=headers, content_type=image.media_type))
    return qrimage.image_response(image, headers)


async def follow_link(request: web.Request) -> web.Response:
    """The dynamic link: 302 to the card's target. A GET is queued as a scan (HEAD is not);
    the recorder tells people from bots later, off this path."""
    cards = request.app[CARDS]
    code = request.match_info["code"]
    card = await cards.by_code(code)
    if card is None:
        raise NotFound("Link not found.")
    if request.method == "GET":
        headers = request.headers
        cards.scanned(
            card,
            address=request.remote or "",
            user_agent=headers.get("User-Agent", ""),
            referer=headers.get("Referer"),
        )
    answers = request.app[CARD_ANSWERS]
    answer = answers.get(code, card)  # the redirect, prepared once for this cached row
    if answer is None:
        target = ascii_url(card.target) if card.target else card.public_url(services(request).links)
        answer = answers.put(
            code, card, prepare(status=302, body=None, headers={"Location": target, **NO_STORE})
        )
    return answer.response()


async def offline_signature(request: web.Request) -> web.Response:
    """Step 1 of the offline QR: `expires=…&signature=…` for the card."""
    card = await public_card(request)
    svc = services(request)
    query = offline.sign(
        svc.links,
        card.uuid,
        key=svc.secrets.signing_key,
        now=svc.clock.now(),
        ttl_s=svc.config.offline_ttl_s,
    )
    return web.Response(text=query, content_type="text/plain", headers=NO_STORE)


async def offline_qr(request: web.Request) -> web.Response:
    """Step 2: with a valid signature, a data URI of a QR holding the vCard itself (PNG or SVG);
    `format=txt` answers the terminal text itself, there being no image to put in a URI."""
    card = await public_card(request)
    svc = services(request)
    offline.verify(
        svc.links,
        card.uuid,
        expires=request.query.getall("expires", []),
        signature=request.query.getall("signature", []),
        keys=svc.secrets.signing_keys,
        now=svc.clock.now(),
    )
    text = offline.offline_vcard(card.contact())
    defaults = QrOptions(size=offline.qr_size(text))
    image = await qrimage.render(request, text, qrimage.requested(request, defaults), defaults)
    if image.spec.format == "txt":
        return qrimage.image_response(image, NO_STORE)
    return web.Response(text=image.data_uri, content_type="text/plain", headers=NO_STORE)


CARD_API = RoutePolicy(family="cards", error_key="message", not_found="Not found.")
"""The Laravel-style public API: errors are `{"message": …}`."""
SIGNED = CARD_API.but(secret_query=frozenset({"signature"}), guess=Guess("signature", frozenset({403})))
"""The offline QR: its signature is the secret being guessed."""


def setup(app: web.Application) -> None:
    """Register the routes and the cleanup context of this family."""

    async def card_service(app: web.Application) -> AsyncIterator[None]:
        svc = app[SERVICES]
        recorder = await ScanRecorder.open(svc.db, capacity=svc.config.scan_queue_capacity)
        recorder.start()
        app[CARDS] = cards = CardService(svc.db, svc.clock, recorder, svc.events, bus=svc.bus)
        collector = ScanCollector(recorder)
        app[METRICS].registry.register(collector)
        await cards.cache.start()
        try:
            async with TaskSet() as tasks:
                retention = scans.run_retention(svc.db, svc.clock, svc.config.scan_retention_days)
                tasks.spawn(retention, "scan-retention")
                yield
        finally:
            cards.cache.close()
        await recorder.close()  # every scan this process redirected is written before the store closes
        app[METRICS].registry.unregister(collector)

    app.cleanup_ctx.append(card_service)
    app[CARD_ANSWERS] = Answers()
    for prefix in ("/v1/", "/c/", "/q/", "/media/"):
        claim_prefix(app, prefix, CARD_API)
    routes = Routes(app, CARD_API)
    card = "/v1/public/card/{uuid}"
    routes.get(f"{card}/prefetch", prefetch, name="card-prefetch")
    routes.get(f"{card}/vcard", download_vcard, name="card-vcard")
    routes.post(f"{card}/qr-code", qr_code_url, name="card-qr-code")
    routes.post(f"{card}/qr-code/offline", offline_signature, name="card-offline-sign")
    routes.get(f"{card}/qr-code/offline", offline_qr, name="card-offline-qr", policy=SIGNED)
    routes.get("/c/{uuid}", card_page, name="card-page")
    routes.get("/media/card_qrcodes/{name}", qr_code_image, name="card-qr-image")
    routes.get("/q/{code}", follow_link, name="card-link", policy=CARD_API.but(secrets=frozenset({"code"})))
    cards_admin.setup(app)
