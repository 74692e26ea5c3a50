"""The HTML pages and their assets, served from `static/` with strict headers."""

from __future__ import annotations

import re
from pathlib import Path

from aiohttp import web

from qrstream.web.policy import PAGES, Routes

STATIC_DIR = Path(__file__).resolve().parents[2] / "static"

PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
ASSET_HEADERS = {"Cache-Control": "no-cache"}


def page(name: str) -> web.FileResponse:
    """One HTML page from `static/`, never cached, under a strict Content-Security-Policy."""
    return web.FileResponse(STATIC_DIR / name, headers=PAGE_HEADERS)


_ASSET = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*\.(?:css|js|png|svg|ico|html)")


async def asset(request: web.Request) -> web.FileResponse:
    """One file of `static/` by plain name; anything else is the usual JSON 404.

    (`add_static` answers a missing file with an empty `application/octet-stream` 404 that
    the error middleware never sees, and serves dotfiles.)
    """
    name = request.match_info["filename"]
    path = STATIC_DIR / name
    if not _ASSET.fullmatch(name) or not path.is_file():
        raise web.HTTPNotFound()
    if name.endswith(".html"):  # a page here is still a page: same policy as its own route
        return page(name)
    # Unversioned names: revalidate (ETag) on every use, so a new page never runs an old script.
    return web.FileResponse(path, headers=ASSET_HEADERS)


def setup(app: web.Application) -> None:
    """Serve the page assets (scripts, styles, images) under /static/."""
    Routes(app, PAGES).get("/static/{filename}", asset, name="static")
