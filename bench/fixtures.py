"""Create what a benchmark needs through the public API (admin key, SDK key), and check QR answers."""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp
from server import ADMIN_KEY, SDK_KEY  # puts the project root on sys.path, for tests.qrdecode

from tests.qrdecode import decode_b64 as qr_b64
from tests.qrdecode import decode_png

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
SDK = {"X-SDK-Key": SDK_KEY}


@dataclass(frozen=True)
class Instance:
    id: int
    token: str

    def path(self, method: str) -> str:
        return f"/waInstance{self.id}/{method}/{self.token}"


async def _json(response: aiohttp.ClientResponse, status: int) -> dict[str, object]:
    if response.status != status:
        raise RuntimeError(
            f"{response.method} {response.url.path}: {response.status} {await response.text()}"
        )
    return await response.json()  # type: ignore[no-any-return]


async def create_instance(session: aiohttp.ClientSession, base: str) -> Instance:
    async with session.post(f"{base}/admin/instances", json={}, headers=ADMIN) as r:
        body = await _json(r, 201)
    return Instance(int(body["idInstance"]), str(body["apiTokenInstance"]))  # type: ignore[call-overload]


async def create_verification(session: aiohttp.ClientSession, base: str) -> dict[str, object]:
    async with session.post(f"{base}/api/generate-verification", json={}, headers=SDK) as r:
        return await _json(r, 201)


async def card_qr_url(session: aiohttp.ClientSession, base: str) -> str:
    """A new card's QR image URL (`POST .../qr-code`)."""
    async with session.post(f"{base}/admin/cards", json={"name": "Bench Card"}, headers=ADMIN) as r:
        card = await _json(r, 201)
    async with session.post(f"{base}/v1/public/card/{card['uuid']}/qr-code") as r:
        return str((await _json(r, 200))["url"])


def decode(png: bytes) -> str:
    """The text of the one QR code in `png` (zxing-cpp, as the tests decode)."""
    return decode_png(png).text


def decode_b64(data: str) -> str:
    return qr_b64(data).text
