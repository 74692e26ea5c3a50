"""End to end in real time through run.py: a websocket sees the QR rotate, a phone links it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp

from tests.qrdecode import decode_b64
from tests.serverproc import ServerProcess

ADMIN_KEY = "e2e-admin-key"


async def _next(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    msg = await asyncio.wait_for(ws.receive(), 10)
    assert msg.type == aiohttp.WSMsgType.TEXT, (msg.type, msg.data)
    return msg.json()  # type: ignore[no-any-return]


async def test_rotating_qr_links_an_instance_in_real_time(tmp_path: Path) -> None:
    """With a 0.5 s refresh, a websocket client sees two different frames, redeems the decoded
    code like a phone, then gets accountData and a 1000 close."""
    env = {
        "QRSTREAM_QR_REFRESH_S": "0.5",
        "QRSTREAM_ADMIN_KEY": ADMIN_KEY,
        "QRSTREAM_PUBLIC_URL": "",
        "QRSTREAM_RENDER_WORKERS": "1",
    }
    with ServerProcess(["--port", "0", "--db", str(tmp_path / "e2e.db")], env=env) as server:
        url = await asyncio.to_thread(server.wait_ready)
        async with aiohttp.ClientSession() as http:
            resp = await http.post(f"{url}/admin/instances", headers={"Authorization": f"Bearer {ADMIN_KEY}"})
            assert resp.status == 201
            created = await resp.json()
            path = f"/waInstance{created['idInstance']}/scanqrcode/{created['apiTokenInstance']}"
            async with http.ws_connect(url + path) as ws:
                first = await _next(ws)
                second = await _next(ws)
                assert first["type"] == second["type"] == "qrCode"
                first_link, second_link = (
                    decode_b64(first["message"]).text,
                    decode_b64(second["message"]).text,
                )
                assert first_link != second_link
                assert second_link.startswith(f"{url}/link/")
                resp = await http.post(second_link, json={"phone": "15551234567"})
                assert resp.status == 200, await resp.text()
                assert await resp.json() == {"linked": True, "wid": "15551234567@c.us"}
                message = await _next(ws)
                while message["type"] == "qrCode":  # frames published before the link landed
                    message = await _next(ws)
                assert message == {
                    "type": "accountData",
                    "message": {"wid": "15551234567@c.us", "phone": "15551234567"},
                }
                closing = await asyncio.wait_for(ws.receive(), 10)
                assert closing.type == aiohttp.WSMsgType.CLOSE and closing.data == 1000
                assert ws.close_code == 1000
        assert await asyncio.to_thread(server.stop) == 0
