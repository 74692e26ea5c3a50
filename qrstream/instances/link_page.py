"""The phone side of pairing: the `/link` pages (GET never changes anything) and their POSTs.

`GET /link/<code>` is the page a QR frame leads to; `POST /link/<code> {"phone"}` redeems
the code. `GET /link` is the same page with a field for a phone-entry code from
`getAuthorizationCode`; `POST /link {"code", "phone"}` redeems that one.
Both answer 200 `{"linked": true, "wid": "<phone>@c.us"}`; a used, expired, unknown or
malformed code 410 `{"error": "QR code expired"}`; a bad phone 400.
"""

from __future__ import annotations

from aiohttp import web

from qrstream.instances.keys import LINKING
from qrstream.instances.policies import LINK_PAGE, REDEEM
from qrstream.web.http import json_response, read_json_object
from qrstream.web.policy import Routes
from qrstream.web.static import page


async def link_page(request: web.Request) -> web.StreamResponse:
    return page("link.html")


async def redeem_link(request: web.Request) -> web.Response:
    body = await read_json_object(request)
    wid = await request.app[LINKING].redeem_link(request.match_info["code"], body.get("phone"))
    return json_response({"linked": True, "wid": wid})


async def redeem_code(request: web.Request) -> web.Response:
    body = await read_json_object(request)
    wid = await request.app[LINKING].redeem_code(body.get("code"), body.get("phone"))
    return json_response({"linked": True, "wid": wid})


def setup(app: web.Application) -> None:
    routes = Routes(app, LINK_PAGE)
    routes.get("/link", link_page, name="link-entry-page")
    routes.post("/link", redeem_code, name="link-entry", policy=REDEEM)
    routes.get("/link/{code}", link_page, name="link-page")
    routes.post("/link/{code}", redeem_link, name="link", policy=REDEEM)
