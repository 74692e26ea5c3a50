"""Helpers for the instance tests: create an instance, read websocket messages, follow a QR."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from aiohttp import WSMsgType, web
from aiohttp.client import ClientWebSocketResponse
from aiohttp.test_utils import TestClient

from tests.conftest import ADMIN_KEY, PUBLIC_URL
from tests.qrdecode import decode_b64

Client = TestClient[web.Request, web.Application]
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
RECEIVE_S = 10.0  # real seconds a test waits for a message before failing


async def new_instance(client: Client, **body: Any) -> tuple[int, str]:
    """Create an instance through the admin API; returns (idInstance, apiTokenInstance)."""
    resp = await client.post("/admin/instances", headers=ADMIN, json=body)
    assert resp.status == 201, await resp.text()
    data = await resp.json()
    return data["idInstance"], data["apiTokenInstance"]


def api(instance: tuple[int, str], method: str) -> str:
    """The path of a Green API method of the instance."""
    return f"/waInstance{instance[0]}/{method}/{instance[1]}"


async def next_message(ws: ClientWebSocketResponse) -> dict[str, Any]:
    """The next JSON text message; fails on a close or after RECEIVE_S."""
    msg = await asyncio.wait_for(ws.receive(), RECEIVE_S)
    assert msg.type == WSMsgType.TEXT, (msg.type, msg.data, msg.extra)
    return json.loads(msg.data)  # type: ignore[no-any-return]


async def closed_with(ws: ClientWebSocketResponse) -> int | None:
    """Wait for the server's close; the close code."""
    msg = await asyncio.wait_for(ws.receive(), RECEIVE_S)
    assert msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING), (msg.type, msg.data)
    return ws.close_code


def link_path(qr_b64: str) -> str:
    """Decode a frame's QR, check it is a pairing link of this server, return its path."""
    decoded = decode_b64(qr_b64)
    assert decoded.ec_level == "M"
    prefix = PUBLIC_URL + "/link/"
    assert decoded.text.startswith(prefix), decoded.text
    code = decoded.text[len(prefix) :]
    assert len(code) == 32 and code.isalnum() and code == code.lower(), code
    return decoded.text[len(PUBLIC_URL) :]


async def qr_link(client: Client, instance: tuple[int, str]) -> str:
    """The pairing link path of the instance's current QR, through REST `qr`."""
    resp = await client.get(api(instance, "qr"))
    body = await resp.json()
    assert resp.status == 200 and body["type"] == "qrCode", body
    return link_path(body["message"])


async def state(client: Client, instance: tuple[int, str]) -> str:
    """The instance's stateInstance, through getStateInstance."""
    resp = await client.get(api(instance, "getStateInstance"))
    assert resp.status == 200
    return str((await resp.json())["stateInstance"])


async def until(condition: Callable[[], bool]) -> None:
    """Wait (real time, bounded) for the server to reach a state, e.g. a request to start waiting."""
    for _ in range(int(RECEIVE_S / 0.005)):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("the server did not get there in time")
