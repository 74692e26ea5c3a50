"""The public HTML page of a card (`/c/<uuid>`); every value goes through `html.escape`."""

from __future__ import annotations

from html import escape

from aiohttp import web

from qrstream.cards.service import Card
from qrstream.web.static import PAGE_HEADERS

_TEMPLATE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="/static/card.css">
</head>
<body>
<main class="card">
<h1>{name}</h1>
{role}{note}<ul class="contact">
{contact}</ul>
<p><a class="save" href="{vcard}" download>Save contact (vCard)</a></p>
</main>
</body>
</html>
"""


def _e(value: str) -> str:
    return escape(value, quote=True)


def _role(card: Card) -> str:
    parts = [p for p in (card.title, card.company) if p]
    return f'<p class="role">{_e(" · ".join(parts))}</p>\n' if parts else ""


def _contact_items(card: Card) -> str:
    items = []
    if card.email:
        items.append(f'<li>Email: <a href="mailto:{_e(card.email)}">{_e(card.email)}</a></li>')
    if card.phone:
        tel = "".join(c for c in card.phone if c.isdigit() or c == "+")
        items.append(f'<li>Phone: <a href="tel:{_e(tel)}">{_e(card.phone)}</a></li>')
    if card.website:
        # The website was checked to be an http(s) URL, so it cannot be a javascript: link.
        items.append(
            f'<li>Website: <a href="{_e(card.website)}" rel="noopener noreferrer nofollow">'
            f"{_e(card.website)}</a></li>"
        )
    return "".join(item + "\n" for item in items)


def render_page(card: Card, base_url: str) -> str:
    """The card page, with a link to download the vCard."""
    return _TEMPLATE.format(
        title=_e(card.name),
        name=_e(card.name),
        role=_role(card),
        note=f'<p class="note">{_e(card.note)}</p>\n' if card.note else "",
        contact=_contact_items(card),
        vcard=_e(f"{base_url}/v1/public/card/{card.uuid}/vcard"),
    )


def page_response(card: Card, base_url: str) -> web.Response:
    return web.Response(
        text=render_page(card, base_url), content_type="text/html", charset="utf-8", headers=PAGE_HEADERS
    )
