"""A pairing link's routes (§9): `GET /p/<ticket>` (the pairing page in link mode) and the
websocket `GET /p/<ticket>/scanqrcode` (the instance's scanqrcode stream).

The page is `static/pair.html` with `data-mode="link"` on its `<main>`: its script then opens
`/p/<ticket>/scanqrcode` and never asks for, or is given, the instance's token. A dead or
unknown ticket gets the same page saying "This pairing link has expired" (410), and its
websocket upgrade is refused with 410 `{"error": "Pairing link expired"}`; both count as a
failed guess (`PAIRING_LINK`). The stream is the one every scanqrcode socket gets (the same
hub subscription, the same caps), ended at the link's expiry too.
"""

from __future__ import annotations

import functools

from aiohttp import web

from qrstream.errors import Gone
from qrstream.instances import scanqrcode
from qrstream.instances.keys import INSTANCES, PAIRING_LINKS
from qrstream.instances.pairing_links import EXPIRED, PairingLink
from qrstream.instances.policies import PAIRING_LINK
from qrstream.web.policy import Routes
from qrstream.web.static import PAGE_HEADERS, STATIC_DIR

_MAIN = '<main id="main" class="panel" data-state="idle"'
_FORM = '<form id="credentials"'
_STATUS = 'aria-atomic="true"></p>'
EXPIRED_TEXT = "This pairing link has expired. Ask whoever sent it for a new one."


@functools.cache
def _pages() -> tuple[str, str]:
    """The pairing page in link mode: (live, expired). Made once from `static/pair.html`."""
    html = (STATIC_DIR / "pair.html").read_text(encoding="utf-8")
    for marker in (_MAIN, _FORM, _STATUS):
        if html.count(marker) != 1:  # pragma: no cover - a changed page must change this module too
            raise RuntimeError(f"static/pair.html lost its marker {marker!r}")
    html = html.replace(_FORM, _FORM + " hidden")
    live = html.replace(_MAIN, '<main id="main" class="panel" data-mode="link" data-state="idle"')
    expired = html.replace(_MAIN, '<main id="main" class="panel" data-mode="link" data-state="expired"')
    expired = expired.replace(_STATUS, f'aria-atomic="true">{EXPIRED_TEXT}</p>')
    return live, expired


async def _live_link(request: web.Request) -> PairingLink | None:
    return await request.app[PAIRING_LINKS].resolve(request.match_info["ticket"])


async def link_page(request: web.Request) -> web.Response:
    """The pairing page of a live link; the "expired" page (410) otherwise."""
    live, expired = _pages()
    found = await _live_link(request)
    return web.Response(
        text=live if found is not None else expired,
        status=200 if found is not None else 410,
        content_type="text/html",
        headers=PAGE_HEADERS,
    )


async def link_stream(request: web.Request) -> web.StreamResponse:
    """The scanqrcode stream of the link's instance, until the link's expiry at the latest."""
    found = await _live_link(request)
    instance = await request.app[INSTANCES].get(found.instance_id) if found is not None else None
    if found is None or instance is None:
        raise Gone(EXPIRED)
    return await scanqrcode.stream_instance(request, instance, link_expires_at=found.expires_at)


def setup(app: web.Application) -> None:
    """Register `/p/{ticket}` and its websocket."""
    routes = Routes(app, PAIRING_LINK)
    routes.get("/p/{ticket}", link_page, name="pairing-link-page")
    routes.get("/p/{ticket}/scanqrcode", link_stream, name="pairing-link-scanqrcode")
