"""SIGTERM under load: websockets get 1001, requests in flight finish, exit 0 within a bound."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import aiohttp

from tests.liveserver import ADMIN_KEY, SDK_KEY, LiveServer, base_env

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
SDK = {"X-SDK-Key": SDK_KEY}
EXIT_BOUND_S = 10.0


async def _close_code(ws: aiohttp.ClientWebSocketResponse) -> int | None:
    """Read until the server closes; its close code."""
    while True:
        msg = await ws.receive(timeout=EXIT_BOUND_S + 5)
        if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING):
            return ws.close_code
        if msg.type == aiohttp.WSMsgType.ERROR:
            return None


async def _load(
    http: aiohttp.ClientSession, base: str, stop: asyncio.Event, busy: asyncio.Event, statuses: list[int]
) -> None:
    """Create cards until the server stops answering; every answer it gives must be a 201."""
    n = 0
    while not stop.is_set():
        try:
            resp = await http.post(f"{base}/admin/cards", headers=ADMIN, json={"name": f"Load {n}"})
        except (aiohttp.ClientError, ConnectionError, TimeoutError):
            return
        statuses.append(resp.status)
        if len(statuses) >= 20:
            busy.set()
        n += 1


async def test_sigterm_under_load_is_graceful(tmp_path: Path) -> None:
    """Websockets close with 1001, long polls and requests in flight get their answers, exit 0 in < 10 s."""
    env = base_env(str(tmp_path / "shutdown.db"))
    with LiveServer(env) as server:
        base = await asyncio.to_thread(server.wait_ready)
        async with aiohttp.ClientSession() as http:
            made = await (await http.post(f"{base}/admin/instances", headers=ADMIN, json={})).json()
            green = f"{base}/waInstance{made['idInstance']}"
            token = made["apiTokenInstance"]
            created = await http.post(f"{base}/api/generate-verification", headers=SDK, json={})
            vid = (await created.json())["verificationId"]
            sockets = [await http.ws_connect(f"{green}/scanqrcode/{token}") for _ in range(3)]
            sockets += [
                await http.ws_connect(f"{base}/api/verification-events/{vid}", headers=SDK) for _ in range(2)
            ]
            for ws in sockets:
                assert (await ws.receive(timeout=10)).type == aiohttp.WSMsgType.TEXT
            polls = [
                asyncio.create_task(http.get(f"{green}/receiveNotification/{token}?receiveTimeout=60"))
                for _ in range(3)
            ]
            stop, busy = asyncio.Event(), asyncio.Event()
            statuses: list[int] = []
            loaders = [asyncio.create_task(_load(http, base, stop, busy, statuses)) for _ in range(4)]
            await asyncio.wait_for(busy.wait(), 30)
            await asyncio.sleep(0.3)  # the long polls are now waiting inside the server
            signalled = time.monotonic()
            server.send(signal.SIGTERM)
            codes = await asyncio.gather(*(_close_code(ws) for ws in sockets))
            answers = await asyncio.gather(*polls)
            stop.set()
            await asyncio.gather(*loaders)
            code = await asyncio.to_thread(server.wait, EXIT_BOUND_S + 5)
            elapsed = time.monotonic() - signalled
    assert codes == [1001] * len(sockets)
    assert [resp.status for resp in answers] == [200, 200, 200]
    assert set(statuses) == {201}
    assert code == 0, server.output()
    assert elapsed < EXIT_BOUND_S
    print(f"exited {elapsed:.2f} s after SIGTERM; {len(statuses)} requests answered")
    assert "Traceback" not in server.output(), server.output()
