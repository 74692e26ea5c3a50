"""Admin routes for cards: create, read, edit, delete, retarget the dynamic link, design its QR,
scan stats and CSV.

Every route needs the admin bearer key (401 `{"error": "Unauthorized"}`); an unknown or
malformed `{uuid}` answers 404 `{"error": "Card not found"}`.
"""

from __future__ import annotations

from aiohttp import web

from qrstream.cards.fields import check_fields, check_target
from qrstream.cards.keys import CARDS
from qrstream.cards.scans import DayRange
from qrstream.cards.service import Card, parse_uuid
from qrstream.errors import BadRequest, NotFound
from qrstream.paging import page_request
from qrstream.qr.options import parse_design
from qrstream.web.auth import require_admin
from qrstream.web.headers import stamp
from qrstream.web.http import json_response, read_json_object, services
from qrstream.web.policy import ADMIN, Routes


def _uuid(request: web.Request) -> str:
    card_uuid = parse_uuid(request.match_info["uuid"])
    if card_uuid is None:
        raise NotFound("Card not found")
    return card_uuid


def _found(card: Card | None) -> Card:
    if card is None:
        raise NotFound("Card not found")
    return card


def _card_response(request: web.Request, card: Card, status: int = 200) -> web.Response:
    return json_response(card.admin_json(services(request).links), status=status)


async def create_card(request: web.Request) -> web.Response:
    require_admin(request)
    fields = check_fields(await read_json_object(request), partial=False)
    card = await request.app[CARDS].create(fields)
    return _card_response(request, card, status=201)


MAX_QUERY_LENGTH = 200


async def list_cards(request: web.Request) -> web.Response:
    """GET /admin/cards[?limit&after&q]: the cards (whose name contains `q`), newest first, with scans."""
    require_admin(request)
    paging = page_request(request.query, str)
    query = request.query.get("q", "").strip()
    if len(query) > MAX_QUERY_LENGTH or not query.isprintable():
        raise BadRequest(f"q must be at most {MAX_QUERY_LENGTH} printable characters", field="q")
    cards, after = await request.app[CARDS].page(paging, query)
    links = services(request).links
    items = [{**card.admin_json(links), "scans": scans} for card, scans in cards]
    return json_response({"items": items, "next": after})


async def get_card(request: web.Request) -> web.Response:
    require_admin(request)
    card = _found(await request.app[CARDS].get(_uuid(request)))
    return _card_response(request, card)


async def patch_card(request: web.Request) -> web.Response:
    require_admin(request)
    card_uuid = _uuid(request)
    _found(await request.app[CARDS].get(card_uuid))
    changes = check_fields(await read_json_object(request), partial=True)
    card = _found(await request.app[CARDS].update(card_uuid, changes))
    return _card_response(request, card)


async def delete_card(request: web.Request) -> web.Response:
    require_admin(request)
    if not await request.app[CARDS].delete(_uuid(request)):
        raise NotFound("Card not found")
    return web.Response(status=204)


async def put_target(request: web.Request) -> web.Response:
    require_admin(request)
    card_uuid = _uuid(request)
    _found(await request.app[CARDS].get(card_uuid))
    url = check_target(await read_json_object(request))
    card = _found(await request.app[CARDS].set_target(card_uuid, url))
    return _card_response(request, card)


async def get_design(request: web.Request) -> web.Response:
    require_admin(request)
    card = _found(await request.app[CARDS].get(_uuid(request)))
    return json_response(card.design.json())


async def put_design(request: web.Request) -> web.Response:
    """Replace the design of the card's image URL (a missing field takes its default); the
    next `POST …/qr-code` names a new URL, and the URLs given out keep their look."""
    require_admin(request)
    card_uuid = _uuid(request)
    _found(await request.app[CARDS].get(card_uuid))
    design = parse_design(await read_json_object(request, allow_empty=True))
    card = _found(await request.app[CARDS].set_design(card_uuid, design))
    return json_response(card.design.json())


def _days(request: web.Request) -> DayRange:
    """`?from=YYYY-MM-DD&to=YYYY-MM-DD` (UTC days, both included, either optional); 400 naming the bad one."""
    return DayRange.from_query(request.query.getall("from", []), request.query.getall("to", []))


async def card_stats(request: web.Request) -> web.Response:
    require_admin(request)
    card_uuid = _uuid(request)
    _found(await request.app[CARDS].get(card_uuid))
    return json_response(await request.app[CARDS].stats(card_uuid, _days(request)))


async def scans_csv(request: web.Request) -> web.StreamResponse:
    """One row per scan, streamed a page at a time: the export never sits whole in memory."""
    require_admin(request)
    card_uuid = _uuid(request)
    _found(await request.app[CARDS].get(card_uuid))
    days = _days(request)
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="scans-{card_uuid}.csv"',
            "Cache-Control": "no-store",
        }
    )
    stamp(request, response)
    await response.prepare(request)
    async for chunk in request.app[CARDS].scans_csv(card_uuid, days):
        await response.write(chunk.encode("utf-8"))
    await response.write_eof()
    return response


def setup(app: web.Application) -> None:
    """Register the admin card routes."""
    routes = Routes(app, ADMIN)
    routes.post("/admin/cards", create_card, name="admin-card-create")
    routes.get("/admin/cards", list_cards, name="admin-card-list")
    routes.get("/admin/cards/{uuid}", get_card, name="admin-card-get")
    routes.patch("/admin/cards/{uuid}", patch_card, name="admin-card-patch")
    routes.delete("/admin/cards/{uuid}", delete_card, name="admin-card-delete")
    routes.put("/admin/cards/{uuid}/target", put_target, name="admin-card-target")
    routes.get("/admin/cards/{uuid}/design", get_design, name="admin-card-design-get")
    routes.put("/admin/cards/{uuid}/design", put_design, name="admin-card-design")
    routes.get("/admin/cards/{uuid}/stats", card_stats, name="admin-card-stats")
    routes.get("/admin/cards/{uuid}/scans.csv", scans_csv, name="admin-card-scans-csv")
