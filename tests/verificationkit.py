"""The portal's two calls (CONTRACT §4), for tests: start (its resumeToken kept) and complete with it."""

from __future__ import annotations

from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient

Http = TestClient[Any, Any] | aiohttp.ClientSession


async def start(http: Http, vid: str, *, base: str = "", **body: Any) -> str:
    """Start `vid` as the portal does when the person presses Start; its resumeToken."""
    resp = await http.post(f"{base}/api/verification/{vid}/start", json=body)
    assert resp.status == 200, await resp.text()
    return str((await resp.json())["resumeToken"])


async def complete(
    http: Http, vid: str, result: str, token: str | None, *, base: str = ""
) -> aiohttp.ClientResponse:
    """Complete `vid` with `result`, sending `token` as its resumeToken (None: no token at all)."""
    body: dict[str, Any] = {"result": result}
    if token is not None:
        body["resumeToken"] = token
    return await http.post(f"{base}/api/verification/{vid}/complete", json=body)
