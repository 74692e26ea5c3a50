"""Scan recording in real `run.py` processes: SIGTERM mid-burst loses no scan; another process
sees a scan within 2 s."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import time
from pathlib import Path

import aiohttp

from tests.liveserver import ADMIN_KEY, LiveServer, base_env
from tests.qrdecode import decode_png
from tests.uastrings import HUMANS

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
PHONE = {"User-Agent": HUMANS[0].ua}
BURST = 600


async def card_link(http: aiohttp.ClientSession, base: str, public: str | None = None) -> tuple[str, str]:
    """A new card's UUID and the path of its dynamic link, read from its QR code."""
    async with http.post(f"{base}/admin/cards", headers=ADMIN, json={"name": "Crowd"}) as resp:
        assert resp.status == 201
        uuid = (await resp.json())["uuid"]
    async with http.post(f"{base}/v1/public/card/{uuid}/qr-code") as resp:
        image_url = (await resp.json())["url"]
    async with http.get(base + image_url[len(public or base) :]) as resp:
        link = decode_png(await resp.read()).text
    return uuid, link[len(public or base) :]


async def test_sigterm_during_a_burst_of_scans_loses_none(tmp_path: Path) -> None:
    """Every scan answered with a 302 before the server stopped is in the database afterwards."""
    db = tmp_path / "burst.db"
    answered = 0
    going = asyncio.Event()
    with LiveServer(base_env(str(db))) as server:
        base = await asyncio.to_thread(server.wait_ready)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=40)) as http:
            _, link = await card_link(http, base)

            async def one() -> None:
                nonlocal answered
                try:
                    async with http.get(base + link, headers=PHONE, allow_redirects=False) as resp:
                        if resp.status == 302:
                            answered += 1
                except (aiohttp.ClientError, ConnectionError, TimeoutError):
                    return
                if answered >= 100:
                    going.set()

            burst = [asyncio.create_task(one()) for _ in range(BURST)]
            await asyncio.wait_for(going.wait(), 60)
            server.send(signal.SIGTERM)
            await asyncio.gather(*burst)
        code = await asyncio.to_thread(server.wait, 30)
    assert code == 0, server.output()
    assert 100 <= answered < BURST, "the signal should land in the middle of the burst"
    with sqlite3.connect(db) as conn:
        counted = conn.execute("SELECT SUM(count) FROM card_scans").fetchone()[0]
        rows = conn.execute("SELECT COUNT(*) FROM scan_events").fetchone()[0]
    assert counted == rows == answered
    print(f"{answered} of {BURST} scans answered before SIGTERM; all recorded")


async def test_another_process_sees_a_scan_within_two_seconds(postgres_url: str, redis_url: str) -> None:
    """Two processes on one PostgreSQL: a scan through the first shows in the second's stats in < 2 s."""
    public = "http://qr.test"
    env = {**base_env(postgres_url), "QRSTREAM_BUS": redis_url, "QRSTREAM_PUBLIC_URL": public}
    with LiveServer(env) as first, LiveServer(env) as second:
        one, two = await asyncio.to_thread(first.wait_ready), await asyncio.to_thread(second.wait_ready)
        async with aiohttp.ClientSession() as http:
            uuid, link = await card_link(http, one, public)
            async with http.get(one + link, headers=PHONE, allow_redirects=False) as resp:
                assert resp.status == 302
            scanned = time.monotonic()
            while True:
                async with http.get(f"{two}/admin/cards/{uuid}/stats", headers=ADMIN) as resp:
                    body = await resp.json()
                if body["scans"] == 1:
                    break
                assert time.monotonic() - scanned < 2.0, "the scan did not show in the other process in 2 s"
                await asyncio.sleep(0.05)
        assert body["devices"] == {"mobile": 1}
        assert first.stop() == 0 and second.stop() == 0
