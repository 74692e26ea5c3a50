"""The event loop (`QRSTREAM_LOOP`): uvloop by default, the standard library's on request — a real
`run.py` on each serves REST and a websocket; the rest of the suite runs on the default."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
import pytest

from tests.liveserver import ADMIN_KEY, LiveServer, base_env
from tests.qrdecode import decode_b64
from tests.serverproc import error_line

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


async def _line(server: LiveServer, text: str) -> str:
    """The first stderr line containing `text`, once the server has written it."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for line in list(server.stderr):
            if text in line:
                return line
        await asyncio.sleep(0.01)  # polling the reader thread's list for a condition, not a fixed wait
    raise AssertionError(f"no line with {text!r}: {server.stderr}")


@pytest.mark.parametrize(("setting", "expected"), [(None, "uvloop"), ("asyncio", "asyncio")])
async def test_both_loops_serve_rest_and_websockets(
    tmp_path: Path, setting: str | None, expected: str
) -> None:
    env = base_env(str(tmp_path / "loop.db"))
    if setting is not None:
        env["QRSTREAM_LOOP"] = setting
    with LiveServer(env) as server:
        base = await asyncio.to_thread(server.wait_ready)
        said = await _line(server, "event loop: ")
        assert said.endswith(f"event loop: {expected}"), said
        async with aiohttp.ClientSession() as http:
            resp = await http.post(f"{base}/admin/instances", headers=ADMIN, json={})
            assert resp.status == 201, await resp.text()
            made = await resp.json()
            green = f"{base}/waInstance{made['idInstance']}"
            token = made["apiTokenInstance"]
            resp = await http.get(f"{green}/qr/{token}")
            body = await resp.json()
            assert body["type"] == "qrCode" and "/link/" in decode_b64(body["message"]).text
            async with http.ws_connect(f"{green}/scanqrcode/{token}") as ws:
                frame = await ws.receive_json(timeout=10)
                assert frame["type"] == "qrCode" and "/link/" in decode_b64(frame["message"]).text
            resp = await http.get(f"{green}/getStateInstance/{'f' * 50}")
            assert resp.status == 401 and "error" in await resp.json()
        assert await asyncio.to_thread(server.stop) == 0


def test_an_unknown_loop_is_refused(tmp_path: Path) -> None:
    line = error_line([], {**base_env(str(tmp_path / "bad.db")), "QRSTREAM_LOOP": "trio"})
    assert line == "qrstream: error: QRSTREAM_LOOP must be 'uvloop' or 'asyncio', got 'trio'"
