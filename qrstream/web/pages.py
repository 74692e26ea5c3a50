"""Routes of the browser pages that belong to no API family: the pairing page."""

from __future__ import annotations

from aiohttp import web

from qrstream.web.policy import PAGES, Routes
from qrstream.web.static import page


async def pair_page(request: web.Request) -> web.FileResponse:
    """The browser pairing page; credentials come from its form or the URL fragment, never the query."""
    return page("pair.html")


def setup(app: web.Application) -> None:
    """Register `GET /pair`."""
    Routes(app, PAGES).get("/pair", pair_page, name="pair")
