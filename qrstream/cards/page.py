"""The public HTML page of a card (`/c/<uuid>`); every value goes through `html.escape`.

It shows the card's dynamic QR (the image URL as `POST …/qr-code` names it, from this
origin, as the page's CSP wants) with links to its PNG and its SVG.
"""

from __future__ import annotations

from html import escape

from aiohttp import web

from qrstream.cards.service import Card
from qrstream.links import LinkFor
from qrstream.web.static import PAGE_HEADERS

_TEMPLATE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/static/card.css">
</head>
<body>
<main class="card">
<h1>{name}</h1>
{role}{note}<ul class="contact">
{contact}</ul>
<p><a class="save" href="{vcard}" download>Save contact (vCard)</a></p>
<figure class="qr">
<img src="{qr_src}" width="240" height="240" alt="QR code that opens this card">
<figcaption>Scan to open this card. Download the QR code as
<a href="{qr_png}" download>PNG</a> or <a href="{qr_svg}" download>SVG</a>.</figcaption>
</figure>
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


def render_page(card: Card, links: LinkFor, image: str) -> str:
    """The card page, with a link to download the vCard and its QR (`image`: the image's file name)."""
    return _TEMPLATE.format(
        title=_e(card.name),
        name=_e(card.name),
        role=_role(card),
        note=f'<p class="note">{_e(card.note)}</p>\n' if card.note else "",
        contact=_contact_items(card),
        vcard=_e(links.url("card-vcard", uuid=card.uuid)),
        qr_src=_e(links.path("card-qr-image", name=image)),
        qr_png=_e(links.url("card-qr-image", name=image)),
        qr_svg=_e(links.url("card-qr-image", name=image, query={"format": "svg"})),
    )


def page_response(card: Card, links: LinkFor, image: str) -> web.Response:
    return web.Response(
        text=render_page(card, links, image),
        content_type="text/html",
        charset="utf-8",
        headers=PAGE_HEADERS,
    )
