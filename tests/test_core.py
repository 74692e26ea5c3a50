"""The shared core over HTTP: health, JSON errors for unknown paths and methods."""

from __future__ import annotations

from aiohttp.test_utils import TestClient


async def test_healthz(client: TestClient) -> None:
    """GET /healthz answers {"status": "ok"}."""
    resp = await client.get("/healthz")
    assert resp.status == 200
    assert await resp.json() == {"status": "ok"}
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


async def test_unknown_path_is_json_404(client: TestClient) -> None:
    """An unknown path answers 404 with a JSON error."""
    resp = await client.get("/no/such/thing")
    assert resp.status == 404
    assert resp.content_type == "application/json"
    assert await resp.json() == {"error": "Not found"}


async def test_wrong_method_is_json_405(client: TestClient) -> None:
    """A known path with the wrong method answers 405 with a JSON error and Allow."""
    resp = await client.post("/healthz")
    assert resp.status == 405
    assert await resp.json() == {"error": "Method not allowed"}
    assert "GET" in resp.headers["Allow"]
