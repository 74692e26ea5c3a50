"""Helpers shared by the card tests: make a card through the admin API, follow public URLs."""

from __future__ import annotations

import re
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


async def stats(client: TestClient, uuid: str, **query: str) -> dict[str, Any]:
    """GET /admin/cards/{uuid}/stats (with `from`/`to` when given); fails the test unless 200."""
    params = {k.rstrip("_"): v for k, v in query.items()}  # from_= (a keyword) becomes from
    resp = await client.get(f"/admin/cards/{uuid}/stats", headers=ADMIN, params=params)
    assert resp.status == 200, await resp.text()
    body: dict[str, Any] = await resp.json()
    return body


async def counts(client: TestClient, uuid: str) -> dict[str, Any]:
    """Only the `scans` and `daily` parts of the stats."""
    body = await stats(client, uuid)
    return {"scans": body["scans"], "daily": body["daily"]}


_ESCAPES = {"n": "\n", "N": "\n"}


def unescape(value: str) -> str:
    """A vCard text value as it was before escaping."""
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m[1], m[1]), value)


def components(value: str) -> list[str]:
    """Split a structured value at its unescaped semicolons, then unescape each part."""
    parts = [""]
    for token in re.findall(r"\\.|.", value, re.DOTALL):
        if token == ";":
            parts.append("")
        else:
            parts[-1] += token
    return [unescape(p) for p in parts]


def parse(text: str) -> dict[str, str]:
    """Read a vCard back the way a phone does: unfold, split name from value, unescape."""
    assert text.endswith("\r\n")
    unfolded = text.replace("\r\n ", "")
    lines = unfolded.split("\r\n")[:-1]
    assert lines[0] == "BEGIN:VCARD" and lines[1] == "VERSION:3.0" and lines[-1] == "END:VCARD"
    props: dict[str, str] = {}
    for line in lines[2:-1]:
        name, _, value = line.partition(":")
        props[name.split(";")[0]] = value
    return props
