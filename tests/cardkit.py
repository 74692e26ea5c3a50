"""Helpers shared by the card tests: make a card through the admin API, follow public URLs."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from tests.conftest import ADMIN_KEY, PUBLIC_URL

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
FULL_CARD = {
    "name": "Zoë Ångström-Łukasz",
    "title": "Chief, Widgets; Gadgets",
    "company": "Acme \\ Sons",
    "email": "zoe@example.com",
    "phone": "+44 20 7946 0000",
    "website": "https://example.com/zoe",
    "note": "Line one,\nline two; the end.",
}


async def create_card(client: TestClient, **fields: Any) -> dict[str, Any]:
    """POST /admin/cards and return the card JSON (fails the test unless 201)."""
    resp = await client.post("/admin/cards", json=fields or {"name": "Ada Lovelace"}, headers=ADMIN)
    assert resp.status == 201, await resp.text()
    card: dict[str, Any] = await resp.json()
    return card


def local(url: str) -> str:
    """The path of a URL the server gave out under the public URL."""
    assert url.startswith(PUBLIC_URL + "/"), url
    return url[len(PUBLIC_URL) :]


async def qr_image_url(client: TestClient, uuid: str) -> str:
    resp = await client.post(f"/v1/public/card/{uuid}/qr-code")
    assert resp.status == 200
    url: str = (await resp.json())["url"]
    return url


async def dynamic_link(client: TestClient, uuid: str) -> str:
    """The path (`/q/<code>`) the card's dynamic QR code holds, read from the QR itself."""
    from tests.qrdecode import decode_png

    resp = await client.get(local(await qr_image_url(client, uuid)))
    assert resp.status == 200
    decoded = decode_png(await resp.read())
    return local(decoded.text)


async def stats(client: TestClient, uuid: str) -> dict[str, Any]:
    resp = await client.get(f"/admin/cards/{uuid}/stats", headers=ADMIN)
    assert resp.status == 200
    body: dict[str, Any] = await resp.json()
    return body
