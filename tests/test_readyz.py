"""`GET /readyz`: ready when the store and the bus each answer a ping within 1 s; `/healthz`
stays a liveness check. (A PostgreSQL outage is in tests/test_store_outage_live.py.)"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from aiohttp.test_utils import TestClient

from qrstream.config import Config
from tests.backends import RedisServer
from tests.conftest import ClientFactory

READY = {"status": "ready", "store": "ok", "bus": "ok"}


async def test_ready_on_the_embedded_store_and_bus(client: TestClient) -> None:  # type: ignore[type-arg]
    """SQLite and the memory bus: 200 and both `ok`."""
    resp = await client.get("/readyz")
    assert resp.status == 200 and await resp.json() == READY


async def test_a_redis_outage_is_not_ready_then_ready_again(
    make_client: ClientFactory, config: Config, make_redis: Callable[[], RedisServer]
) -> None:
    """Redis stopped: 503 naming the bus (the store `ok`), within the 1 s bound, with Retry-After,
    while /healthz stays 200; Redis started again on its port: 200 again."""
    redis = make_redis()
    client = await make_client(config.replace(bus=redis.url))
    assert await (await client.get("/readyz")).json() == READY
    await asyncio.to_thread(redis.stop)
    started = time.monotonic()
    resp = await client.get("/readyz")
    assert time.monotonic() - started < 2.0
    body = await resp.json()
    assert resp.status == 503 and resp.headers["Retry-After"] == "1", body
    assert body["status"] == "unavailable" and body["store"] == "ok" and body["bus"] != "ok", body
    assert "127.0.0.1" not in body["bus"] and str(redis.port) not in body["bus"]
    health = await client.get("/healthz")
    assert health.status == 200 and await health.json() == {"status": "ok"}
    await asyncio.to_thread(redis.start)
    deadline = time.monotonic() + 20
    while (resp := await client.get("/readyz")).status != 200:
        assert time.monotonic() < deadline, await resp.json()
        await asyncio.sleep(0.05)
    assert await resp.json() == READY
