"""Verification changes seen from outside: the events websocket, expiry on the clock, the webhook outbox."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from aiohttp import ClientWebSocketResponse, WSMsgType
from aiohttp.test_utils import TestClient

from qrstream.clock import FakeClock
from qrstream.config import Config
from qrstream.web.keys import SERVICES
from tests.conftest import ClientFactory
from tests.verificationkit import complete, start

WEBHOOK = "http://127.0.0.1:9/verifications"  # loopback, nothing listens: deliveries just wait
TTL = 3600.0

pytestmark = pytest.mark.scaleout  # also on PostgreSQL + Redis (tests/conftest.py)


async def close_code(ws: ClientWebSocketResponse, within: float) -> int:
    """The code of the close frame the server sends next (not the client's own reply's fate)."""
    msg = await ws.receive(timeout=within)
    assert msg.type == WSMsgType.CLOSE, msg
    return int(msg.data)


async def generate(client: TestClient, headers: dict[str, str], **body: Any) -> str:
    resp = await client.post("/api/generate-verification", json=body, headers=headers)
    assert resp.status == 201
    return str((await resp.json())["verificationId"])


def watch(client: TestClient, verification_id: str) -> asyncio.Queue[dict[str, Any]]:
    """Every status change published on the bus for one verification, decoded."""
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    def listener(topic: str, message: str) -> None:
        queue.put_nowait(json.loads(json.loads(message)["text"]))

    client.app[SERVICES].bus.subscribe(f"verification:{verification_id}", listener)
    return queue


async def stored_status(client: TestClient, verification_id: str) -> str:
    row = await client.app[SERVICES].db.fetchone(
        "SELECT status FROM verifications WHERE id = ?", verification_id
    )
    assert row is not None
    return str(row["status"])


async def outbox(client: TestClient) -> list[tuple[dict[str, Any], str, Any]]:
    rows = await client.app[SERVICES].db.fetchall(
        "SELECT body, webhook_url, instance_id FROM notifications ORDER BY receipt_id"
    )
    return [(json.loads(r["body"]), r["webhook_url"], r["instance_id"]) for r in rows]


async def test_events_follow_the_whole_flow(client: TestClient, sdk_headers: dict[str, str]) -> None:
    """The events socket sends generated at once, then in_progress and completed, then closes 1000."""
    vid = await generate(client, sdk_headers)
    ws = await client.ws_connect(f"/api/verification-events/{vid}", headers=sdk_headers)
    first = await ws.receive_json(timeout=5)
    assert first == {"verificationId": vid, "status": "generated", "at": "2026-01-01T00:00:00Z"}
    token = await start(client, vid)
    assert (await ws.receive_json(timeout=5))["status"] == "in_progress"
    done = await complete(client, vid, "approved", token)
    assert done.status == 200
    last = await ws.receive_json(timeout=5)
    assert last["verificationId"] == vid and last["status"] == "completed"
    assert await close_code(ws, 5) == 1000


async def test_events_when_already_final(client: TestClient, sdk_headers: dict[str, str]) -> None:
    """Connecting to a finished verification sends its status and closes 1000."""
    vid = await generate(client, sdk_headers)
    await complete(client, vid, "declined", await start(client, vid))
    ws = await client.ws_connect(f"/api/verification-events/{vid}", headers=sdk_headers)
    assert (await ws.receive_json(timeout=5))["status"] == "failed"
    assert await close_code(ws, 5) == 1000


async def test_events_refused_before_upgrade(client: TestClient, sdk_headers: dict[str, str]) -> None:
    """The events socket answers 401 JSON without the key and 404 JSON for an unknown id."""
    vid = await generate(client, sdk_headers)
    resp = await client.get(f"/api/verification-events/{vid}", headers={"Upgrade": "websocket"})
    assert resp.status == 401
    assert await resp.json() == {"error": "Invalid API key"}
    resp = await client.get("/api/verification-events/ver_0123456789abcdef01234567", headers=sdk_headers)
    assert resp.status == 404
    assert await resp.json() == {"error": "Verification not found"}


async def test_events_several_watchers(client: TestClient, sdk_headers: dict[str, str]) -> None:
    """Every watcher of one verification sees the same change."""
    vid = await generate(client, sdk_headers)
    sockets = [
        await client.ws_connect(f"/api/verification-events/{vid}", headers=sdk_headers) for _ in range(3)
    ]
    for ws in sockets:
        assert (await ws.receive_json(timeout=5))["status"] == "generated"
    await client.post(f"/api/verification/{vid}/start")
    for ws in sockets:
        assert (await ws.receive_json(timeout=5))["status"] == "in_progress"
        await ws.close()


async def test_sweeper_expires_generated(
    client: TestClient, sdk_headers: dict[str, str], clock: FakeClock
) -> None:
    """A generated verification becomes expired at expiresAt with no request at all."""
    vid = await generate(client, sdk_headers)
    changes = watch(client, vid)
    await clock.advance(TTL - 1)
    assert await stored_status(client, vid) == "generated"
    await clock.advance(1)
    event = await asyncio.wait_for(changes.get(), 5)
    assert event == {"verificationId": vid, "status": "expired", "at": "2026-01-01T01:00:00Z"}
    assert await stored_status(client, vid) == "expired"


async def test_sweeper_expires_in_progress_and_socket_closes(
    client: TestClient, sdk_headers: dict[str, str], clock: FakeClock
) -> None:
    """An in_progress verification expires on the clock; its events socket hears it and closes 1000."""
    vid = await generate(client, sdk_headers)
    token = await start(client, vid)
    ws = await client.ws_connect(f"/api/verification-events/{vid}", headers=sdk_headers)
    assert (await ws.receive_json(timeout=5))["status"] == "in_progress"
    await clock.advance(TTL)
    assert (await ws.receive_json(timeout=5))["status"] == "expired"
    assert await close_code(ws, 5) == 1000
    assert await stored_status(client, vid) == "expired"
    resp = await complete(client, vid, "approved", token)
    assert resp.status == 409
    assert (await resp.json())["current_status"] == "expired"


async def test_read_at_expiry(client: TestClient, sdk_headers: dict[str, str], clock: FakeClock) -> None:
    """Reading at exactly expiresAt already says expired; start and the QR code answer 409 expired."""
    vid = await generate(client, sdk_headers)
    clock.set(clock.now() + TTL - 0.001)
    details = await client.get(f"/api/get-verification-details/{vid}", headers=sdk_headers)
    assert (await details.json())["status"] == "generated"
    clock.set(clock.now() + 0.001)  # exactly expiresAt; the sweeper has not had a turn yet
    details = await client.get(f"/api/get-verification-details/{vid}", headers=sdk_headers)
    body = await details.json()
    assert body["status"] == "expired"
    assert body["updatedAt"] == body["expiresAt"] == "2026-01-01T01:00:00Z"
    resp = await client.get(f"/api/get-verification-qrcode/{vid}", headers=sdk_headers)
    assert resp.status == 409
    assert (await resp.json())["current_status"] == "expired"
    resp = await client.post(f"/api/verification/{vid}/start")
    assert resp.status == 409
    assert (await resp.json())["current_status"] == "expired"


async def test_outbox_rows_per_change(
    make_client: ClientFactory, config: Config, sdk_headers: dict[str, str], clock: FakeClock
) -> None:
    """With a webhook URL each status change writes one outbox row with the webhook body."""
    client = await make_client(config.replace(webhook_url=WEBHOOK))
    done = await generate(client, sdk_headers, extra_data={"user_id": "u1"})
    await clock.advance(5)
    token = await start(client, done)
    await client.post(f"/api/verification/{done}/start")  # a refused move writes nothing
    await client.post(f"/api/verification/{done}/start", json={"resumeToken": token})  # nor does a resume
    await complete(client, done, "approved", None)  # nor a refused complete
    await clock.advance(5)
    assert (await complete(client, done, "approved", token)).status == 200
    lapsed = await generate(client, sdk_headers)
    changes = watch(client, lapsed)
    await clock.advance(TTL)
    assert (await asyncio.wait_for(changes.get(), 5))["status"] == "expired"
    t0 = 1_767_225_600
    assert await outbox(client) == [
        (
            {
                "typeWebhook": "verificationStatusChanged",
                "verificationId": done,
                "status": status,
                "extra_data": {"user_id": "u1"},
                "timestamp": t0 + offset,
            },
            WEBHOOK,
            None,
        )
        for status, offset in [("in_progress", 5), ("completed", 10)]
    ] + [
        (
            {
                "typeWebhook": "verificationStatusChanged",
                "verificationId": lapsed,
                "status": "expired",
                "extra_data": None,
                "timestamp": t0 + 10 + int(TTL),
            },
            WEBHOOK,
            None,
        )
    ]


async def test_no_outbox_without_webhook(
    client: TestClient, sdk_headers: dict[str, str], clock: FakeClock
) -> None:
    """Without a webhook URL no notification rows are written."""
    vid = await generate(client, sdk_headers)
    assert (await complete(client, vid, "declined", await start(client, vid))).status == 200
    other = await generate(client, sdk_headers)
    changes = watch(client, other)
    await clock.advance(TTL)
    await asyncio.wait_for(changes.get(), 5)
    assert await outbox(client) == []


async def test_concurrent_read_and_sweep_expire_once(
    make_client: ClientFactory, config: Config, sdk_headers: dict[str, str], clock: FakeClock
) -> None:
    """Reads racing the sweeper at expiry move the verification once: one expired notification."""
    client = await make_client(config.replace(webhook_url=WEBHOOK))
    vid = await generate(client, sdk_headers)
    clock.set(clock.now() + TTL)
    responses = await asyncio.gather(
        *(client.get(f"/api/get-verification-details/{vid}", headers=sdk_headers) for _ in range(10))
    )
    assert {(await r.json())["status"] for r in responses} == {"expired"}
    rows = [body for body, _, _ in await outbox(client)]
    assert [b["status"] for b in rows] == ["expired"]


async def test_events_capped_per_verification(
    make_client: ClientFactory, config: Config, sdk_headers: dict[str, str]
) -> None:
    """Past the per-group websocket cap a watcher is closed at once with 1013."""
    client = await make_client(config.replace(ws_max_per_instance=1))
    vid = await generate(client, sdk_headers)
    first = await client.ws_connect(f"/api/verification-events/{vid}", headers=sdk_headers)
    assert (await first.receive_json(timeout=5))["status"] == "generated"
    second = await client.ws_connect(f"/api/verification-events/{vid}", headers=sdk_headers)
    assert await close_code(second, 5) == 1013
    await first.close()


async def test_concurrent_approve_and_decline_exactly_one_wins(
    make_client: ClientFactory, config: Config, sdk_headers: dict[str, str]
) -> None:
    """Ten approvals racing ten declines: one answers 200, the other nineteen 409 with the winner's
    status as current_status, and only the winner's move is stored and announced."""
    client = await make_client(config.replace(webhook_url=WEBHOOK))
    vid = await generate(client, sdk_headers)
    started = await client.post(f"/api/verification/{vid}/start")
    assert started.status == 200
    token = (await started.json())["resumeToken"]
    results = ["approved", "declined"] * 10
    responses = await asyncio.gather(*(complete(client, vid, r, token) for r in results))
    answers = [(r.status, await r.json()) for r in responses]
    won = [body["status"] for status, body in answers if status == 200]
    assert len(won) == 1 and won[0] in ("completed", "failed"), answers
    losers = [(status, body.get("current_status")) for status, body in answers if status != 200]
    assert losers == [(409, won[0])] * 19
    assert await stored_status(client, vid) == won[0]
    assert [b["status"] for b, _, _ in await outbox(client)] == ["in_progress", won[0]]


async def test_starts_racing_expiry_one_wins_then_it_expires(
    make_client: ClientFactory, config: Config, sdk_headers: dict[str, str], clock: FakeClock
) -> None:
    """Twenty starts on their way, and the clock reaches the expiry as soon as the first is
    answered: one start wins, the others are 409 with current_status in_progress (before the
    expiry) or expired (after it), and the verification moved twice only: started, then expired."""
    client = await make_client(config.replace(webhook_url=WEBHOOK))
    vid = await generate(client, sdk_headers)
    starts = [asyncio.ensure_future(client.post(f"/api/verification/{vid}/start")) for _ in range(20)]
    await next(asyncio.as_completed(starts))
    await clock.advance(TTL)  # the rest are still on their way, or waiting for the store
    answers = [(r.status, await r.json()) for r in await asyncio.gather(*starts)]
    assert len([body for status, body in answers if status == 200]) == 1, answers
    lost = [(status, body.get("current_status")) for status, body in answers if status != 200]
    assert all(status == 409 and now in ("in_progress", "expired") for status, now in lost), answers
    details = await client.get(f"/api/get-verification-details/{vid}", headers=sdk_headers)
    assert (await details.json())["status"] == "expired"
    assert [b["status"] for b, _, _ in await outbox(client)] == ["in_progress", "expired"]


async def test_start_at_the_expiry_instant_loses(
    make_client: ClientFactory, config: Config, sdk_headers: dict[str, str], clock: FakeClock
) -> None:
    """At expiresAt the verification is expired even before the sweeper has stored it: every start
    racing the sweeper answers 409 expired, and it expires once."""
    client = await make_client(config.replace(webhook_url=WEBHOOK))
    vid = await generate(client, sdk_headers)
    clock.set(clock.now() + TTL)  # no loop turn: the sweeper has not run yet
    responses = await asyncio.gather(
        *(client.post(f"/api/verification/{vid}/start") for _ in range(10)), clock.advance(0)
    )
    answers = [(r.status, await r.json()) for r in responses[:10]]
    assert [(status, body.get("current_status")) for status, body in answers] == [(409, "expired")] * 10
    assert [b["status"] for b, _, _ in await outbox(client)] == ["expired"]
