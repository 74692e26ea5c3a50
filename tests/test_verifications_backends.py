"""Verifications on the scale-out backends: PostgreSQL store and Redis bus, two servers sharing them."""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Any

from aiohttp import ClientWebSocketResponse, WSMsgType
from aiohttp.test_utils import TestClient

from qrstream.clock import FakeClock
from qrstream.config import Config
from qrstream.web.keys import SERVICES
from tests.conftest import ClientFactory
from tests.qrdecode import decode_png
from tests.verificationkit import complete, start

TTL = 3600.0


async def close_code(ws: ClientWebSocketResponse, within: float) -> int:
    """The code of the close frame the server sends next (not the client's own reply's fate)."""
    msg = await ws.receive(timeout=within)
    assert msg.type == WSMsgType.CLOSE, msg
    return int(msg.data)


async def generate(client: TestClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    resp = await client.post("/api/generate-verification", json=body, headers=headers)
    assert resp.status == 201
    return await resp.json()  # type: ignore[no-any-return]


async def test_flow_and_race_on_postgres(
    make_client: ClientFactory, config: Config, postgres_url: str, sdk_headers: dict[str, str]
) -> None:
    """On PostgreSQL: QR code, 50 concurrent starts with one winner, resumed with its token (stored as a
    hash), refused without it, completion and details."""
    client = await make_client(config.replace(db=postgres_url, webhook_url="http://127.0.0.1:9/hook"))
    created = await generate(client, sdk_headers, extra_data={"user_id": "u1"})
    vid = created["verificationId"]
    qr = await client.get(f"/api/get-verification-qrcode/{vid}", headers=sdk_headers)
    assert decode_png(await qr.read()).text == created["url"]
    responses = await asyncio.gather(*(client.post(f"/api/verification/{vid}/start") for _ in range(50)))
    assert sorted(r.status for r in responses) == [200] + [409] * 49
    [winner] = [await r.json() for r in responses if r.status == 200]
    token = winner["resumeToken"]
    again = await client.post(f"/api/verification/{vid}/start", json={"resumeToken": token})
    assert await again.json() == winner
    row = await client.app[SERVICES].db.fetchone("SELECT resume_hash FROM verifications WHERE id = ?", vid)
    assert row is not None and row["resume_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert (await complete(client, vid, "approved", None)).status == 403
    done = await complete(client, vid, "approved", token)
    assert await done.json() == {"status": "completed"}
    details = await (await client.get(f"/api/get-verification-details/{vid}", headers=sdk_headers)).json()
    assert details["status"] == "completed"
    assert details["extra_data"] == {"user_id": "u1"}
    rows = await client.app[SERVICES].db.fetchall("SELECT body FROM notifications ORDER BY receipt_id")
    assert [json.loads(r["body"])["status"] for r in rows] == ["in_progress", "completed"]


async def test_two_servers_share_events_and_expiry(
    make_client: ClientFactory,
    config: Config,
    postgres_url: str,
    redis_url: str,
    sdk_headers: dict[str, str],
    clock: FakeClock,
) -> None:
    """A watcher on one server hears a start made on another (Redis), and both sweepers expire once."""
    shared = config.replace(db=postgres_url, bus=redis_url, webhook_url="http://127.0.0.1:9/hook")
    one = await make_client(shared)
    two = await make_client(shared)
    vid = (await generate(one, sdk_headers))["verificationId"]
    ws = await one.ws_connect(f"/api/verification-events/{vid}", headers=sdk_headers)
    assert (await ws.receive_json(timeout=10))["status"] == "generated"
    token = await start(two, vid)
    assert (await ws.receive_json(timeout=10))["status"] == "in_progress"
    resumed = await one.post(f"/api/verification/{vid}/start", json={"resumeToken": token})
    assert resumed.status == 200  # the token works on every server: only its hash, in the shared store
    await clock.advance(TTL)
    assert (await ws.receive_json(timeout=10))["status"] == "expired"
    assert await close_code(ws, 10) == 1000
    rows = await one.app[SERVICES].db.fetchall("SELECT body FROM notifications ORDER BY receipt_id")
    assert [json.loads(r["body"])["status"] for r in rows] == ["in_progress", "expired"]
