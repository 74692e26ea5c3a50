"""The HTML pages and their assets, served from `static/` with strict headers."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

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


def page(name: str) -> web.FileResponse:
    """One HTML page from `static/`, never cached, under a strict Content-Security-Policy."""
    return web.FileResponse(STATIC_DIR / name, headers=PAGE_HEADERS)


def setup(app: web.Application) -> None:
    """Serve the page assets (scripts, styles, images) under /static/."""
    app.router.add_static("/static/", STATIC_DIR, name="static", append_version=False)
