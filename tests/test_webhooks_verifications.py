"""Verification status webhooks through the real verification API, to QRSTREAM_WEBHOOK_URL."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from qrstream.clock import FakeClock
from qrstream.config import Config
from qrstream.web.keys import SERVICES
from tests.conftest import ClientFactory
from tests.verificationkit import complete, start
from tests.webhook_receiver import Receiver, answers, drive


async def test_verification_changes_are_posted_in_order_and_signed(
    make_client: ClientFactory,
    config: Config,
    aiohttp_server: Any,
    clock: FakeClock,
    sdk_headers: dict[str, str],
) -> None:
    """start and complete each POST a signed verificationStatusChanged, in order, retried past a 502."""
    receiver = Receiver(answers(502))
    server = await aiohttp_server(receiver.app)
    client = await make_client(config.replace(webhook_url=str(server.make_url("/verif"))))

    resp = await client.post(
        "/api/generate-verification", json={"extra_data": {"user": 7}}, headers=sdk_headers
    )
    assert resp.status == 201
    vid = (await resp.json())["verificationId"]
    token = await start(client, vid)
    assert (await complete(client, vid, "approved", token)).status == 200

    await drive(clock, lambda: len(receiver.accepted) == 2, receiver=receiver)

    bodies = [h.json() for h in receiver.accepted]
    assert [b["status"] for b in bodies] == ["in_progress", "completed"]
    for body in bodies:
        assert body["typeWebhook"] == "verificationStatusChanged"
        assert body["verificationId"] == vid
        assert body["extra_data"] == {"user": 7}
        assert isinstance(body["timestamp"], int)
    for hit in receiver.hits:
        signature = hmac.new(b"signing-key-one", hit.body, hashlib.sha256).hexdigest()
        assert hit.headers["X-Qrstream-Signature"] == f"sha256={signature}"
        assert int(hit.headers["Content-Length"]) == len(hit.body)
        assert hit.path == "/verif"
    assert receiver.hits[0].status == 502
    assert receiver.hits[0].headers["Idempotency-Key"] == receiver.hits[1].headers["Idempotency-Key"]
    assert receiver.hits[1].headers["Idempotency-Key"] != receiver.hits[2].headers["Idempotency-Key"]


async def test_no_webhook_url_configured_sends_nothing(
    make_client: ClientFactory,
    config: Config,
    sdk_headers: dict[str, str],
) -> None:
    """Without QRSTREAM_WEBHOOK_URL a verification change writes no delivery."""
    client = await make_client(config)
    resp = await client.post("/api/generate-verification", json={}, headers=sdk_headers)
    vid = (await resp.json())["verificationId"]
    assert (await client.post(f"/api/verification/{vid}/start", headers=sdk_headers)).status == 200
    row = await client.app[SERVICES].db.fetchone("SELECT COUNT(*) AS n FROM deliveries")
    assert row is not None and row["n"] == 0
