"""The seed's client code (seeds/001) against this server, and the portal page."""

from __future__ import annotations

import asyncio
import json
import textwrap
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.qrdecode import decode_png

# The seed's Python example, as written; only the base URL differs.
SEED_EXAMPLE = textwrap.dedent(
    '''
    import requests
    import os

    def get_verification_qr_code(verification_id: str) -> bytes:
        """Fetch QR code image for a verification."""
        response = requests.get(
            f"https://verify.stage.okid.io/api/get-verification-qrcode/{verification_id}",
            headers={"X-SDK-Key": os.environ["API_KEY"]}
        )

        if response.status_code == 409:
            error = response.json()
            raise ValueError(f"Cannot generate QR: verification is {error['current_status']}")

        response.raise_for_status()
        return response.content
    '''
)


class HTTPError(Exception):
    pass


class _Response:
    def __init__(self, status_code: int, content: bytes) -> None:
        self.status_code = status_code
        self.content = content

    def json(self) -> Any:
        return json.loads(self.content)

    def raise_for_status(self) -> None:
        if self.status_code >= 400:
            raise HTTPError(self.status_code)


class RequestsOverTestClient:
    """The part of `requests` the seed uses, sent through the test client from a worker thread."""

    def __init__(self, client: TestClient, loop: asyncio.AbstractEventLoop) -> None:
        self._client = client
        self._loop = loop

    async def _get(self, url: str, headers: dict[str, str] | None) -> _Response:
        async with self._client.session.get(url, headers=headers) as resp:
            return _Response(resp.status, await resp.read())

    def get(self, url: str, headers: dict[str, str] | None = None) -> _Response:
        return asyncio.run_coroutine_threadsafe(self._get(url, headers), self._loop).result(timeout=30)


def seed_function(client: TestClient) -> Callable[[str], bytes]:
    base = str(client.make_url("")).rstrip("/")
    source = SEED_EXAMPLE.replace("import requests\n", "").replace("https://verify.stage.okid.io", base)
    namespace: dict[str, Any] = {"requests": RequestsOverTestClient(client, asyncio.get_running_loop())}
    exec(compile(source, "seed_001_python_example", "exec"), namespace)
    return namespace["get_verification_qr_code"]  # type: ignore[no-any-return]


async def test_seed_python_example(
    client: TestClient, sdk_headers: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The seed's get_verification_qr_code returns the PNG, then raises ValueError once started."""
    monkeypatch.setenv("API_KEY", sdk_headers["X-SDK-Key"])
    resp = await client.post(
        "/api/generate-verification",
        json={"extra_data": {"user_id": "u-42", "email": "ada@example.com"}},
        headers={**sdk_headers, "Content-Type": "application/json"},
    )
    created = await resp.json()
    get_verification_qr_code = seed_function(client)
    png = await asyncio.to_thread(get_verification_qr_code, created["verificationId"])
    decoded = decode_png(png)
    assert decoded.text == created["url"]
    assert decoded.ec_level == "M"
    assert decoded.size == (400, 400)

    await client.post(f"/api/verification/{created['verificationId']}/start")
    with pytest.raises(ValueError, match="Cannot generate QR: verification is in_progress"):
        await asyncio.to_thread(get_verification_qr_code, created["verificationId"])
    with pytest.raises(HTTPError):
        await asyncio.to_thread(get_verification_qr_code, "ver_abc123")


async def test_portal_page_changes_nothing(client: TestClient, sdk_headers: dict[str, str]) -> None:
    """GET /verify serves the portal page (script from /static/, no inline script) and changes no state."""
    resp = await client.post("/api/generate-verification", headers=sdk_headers)
    vid = (await resp.json())["verificationId"]
    for _ in range(3):
        page = await client.get(f"/verify?verification_id={vid}")
        assert page.status == 200
        assert page.content_type == "text/html"
        assert page.headers["Cache-Control"] == "no-store"
        assert "script-src 'self'" in page.headers["Content-Security-Policy"]
        html = await page.text()
        assert '<script src="/static/verify.js" defer></script>' in html
        assert "<script>" not in html
        for element_id in ("status", "begin", "start", "decision", "approve", "decline"):
            assert f'id="{element_id}"' in html
        assert (await client.head(f"/verify?verification_id={vid}")).status == 200
    details = await client.get(f"/api/get-verification-details/{vid}", headers=sdk_headers)
    body = await details.json()
    assert body["status"] == "generated"
    assert body["updatedAt"] == body["createdAt"]
    qr = await client.get(f"/api/get-verification-qrcode/{vid}", headers=sdk_headers)
    assert qr.status == 200


async def test_portal_page_without_id_and_assets(client: TestClient) -> None:
    """The portal page is served without an id too (its script says so); its script and style load."""
    page = await client.get("/verify")
    assert page.status == 200
    script = await client.get("/static/verify.js")
    assert script.status == 200
    text = await script.text()
    assert "/api/verification/" in text and "verification_id" in text
    assert "sessionStorage" in text and "resumeToken" in text
    style = await client.get("/static/verify.css")
    assert style.status == 200
