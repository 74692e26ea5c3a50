"""Limits over HTTP: failed guesses are rate limited per client, big bodies get 413, websockets are capped."""

from __future__ import annotations

import asyncio
import json

import pytest
from aiohttp import WSMsgType
from aiohttp.test_utils import TestClient

from qrstream.clock import FakeClock
from qrstream.config import Config
from qrstream.ratelimit import Rate, RateLimiter
from tests.cardkit import create_card
from tests.conftest import ADMIN_KEY, SDK_KEY, ClientFactory
from tests.instancekit import api, new_instance, next_message

WRONG_ADMIN = {"Authorization": "Bearer not-the-admin-key"}
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


def test_bucket_refills_on_the_clock() -> None:
    """A bucket empties after `per_minute` charges and gives a token back every 60/per_minute s."""
    clock = FakeClock()
    limiter = RateLimiter(clock, {"p": Rate(3)})
    for _ in range(3):
        assert limiter.retry_after("p", "a") == 0
        limiter.charge("p", "a")
    assert limiter.retry_after("p", "a") == 20
    assert limiter.retry_after("p", "b") == 0
    clock.set(clock.now() + 19.5)
    assert limiter.retry_after("p", "a") == 1
    clock.set(clock.now() + 0.5)
    assert limiter.retry_after("p", "a") == 0


def test_limiter_memory_is_bounded() -> None:
    """Many clients never hold more than max_keys buckets; full buckets are forgotten."""
    clock = FakeClock()
    limiter = RateLimiter(clock, {"p": Rate(60)}, max_keys=100)
    for n in range(5000):
        limiter.charge("p", f"10.0.{n // 256}.{n % 256}")
    assert len(limiter) <= 100
    clock.set(clock.now() + 120)
    for n in range(10):
        limiter.charge("p", f"client-{n}")
    assert len(limiter) <= 100


def test_zero_rate_turns_the_limit_off() -> None:
    """Rate 0 never refuses."""
    limiter = RateLimiter(FakeClock(), {"p": Rate(0)})
    for _ in range(1000):
        limiter.charge("p", "a")
    assert limiter.retry_after("p", "a") == 0
    assert len(limiter) == 0


async def test_admin_auth_failures_are_rate_limited(
    make_client: ClientFactory, config: Config, clock: FakeClock
) -> None:
    """After N wrong admin keys a minute: 429 with Retry-After, even with the right key, until refilled."""
    client = await make_client(config.replace(rate_auth_failures=3))
    for _ in range(3):
        resp = await client.get("/admin/cards/00000000-0000-4000-8000-000000000000", headers=WRONG_ADMIN)
        assert resp.status == 401
        assert await resp.json() == {"error": "Unauthorized"}
    resp = await client.post("/admin/cards", headers=ADMIN, json={"name": "Ada"})
    assert resp.status == 429
    assert resp.headers["Retry-After"] == "20"
    assert "error" in await resp.json()
    # Other families keep their own buckets.
    resp = await client.post("/api/generate-verification", headers={"X-SDK-Key": SDK_KEY}, json={})
    assert resp.status == 201
    await clock.advance(20)
    resp = await client.post("/admin/cards", headers=ADMIN, json={"name": "Ada"})
    assert resp.status == 201
    metrics = await (await client.get("/metrics")).text()
    assert 'qrstream_rate_limited_total{purpose="admin-auth"} 1.0' in metrics


async def test_successes_never_cost_a_token(make_client: ClientFactory, config: Config) -> None:
    """Normal use with the right key is never limited, however busy."""
    client = await make_client(config.replace(rate_auth_failures=2))
    for _ in range(20):
        resp = await client.post("/api/generate-verification", headers={"X-SDK-Key": SDK_KEY}, json={})
        assert resp.status == 201


async def test_sdk_key_failures_are_rate_limited(make_client: ClientFactory, config: Config) -> None:
    """Wrong X-SDK-Key answers 401 until the bucket is empty, then 429 in the {"error"} shape."""
    client = await make_client(config.replace(rate_auth_failures=2))
    for _ in range(2):
        resp = await client.post("/api/generate-verification", headers={"X-SDK-Key": "guess"}, json={})
        assert resp.status == 401
        assert await resp.json() == {"error": "Invalid API key"}
    resp = await client.get(
        "/api/get-verification-details/ver_00000000000000000000", headers={"X-SDK-Key": SDK_KEY}
    )
    assert resp.status == 429
    assert int(resp.headers["Retry-After"]) == 30


async def test_instance_token_failures_are_rate_limited(make_client: ClientFactory, config: Config) -> None:
    """Wrong instance tokens answer 401 until the bucket is empty, then 429, REST and websocket alike."""
    client = await make_client(config.replace(rate_auth_failures=2))
    instance = await new_instance(client)
    wrong = (instance[0], "0" * 50)
    for _ in range(2):
        resp = await client.get(api(wrong, "getStateInstance"))
        assert resp.status == 401
    resp = await client.get(api(instance, "getStateInstance"))
    assert resp.status == 429
    assert await resp.json() == {"error": "Too many failed attempts; try again later"}
    resp = await client.get(api(instance, "scanqrcode"))
    assert resp.status == 429


async def test_offline_signature_failures_are_rate_limited(
    make_client: ClientFactory, config: Config, clock: FakeClock
) -> None:
    """Bad offline-QR signatures answer 403 until the bucket is empty, then 429 in the {"message"} shape."""
    client = await make_client(config.replace(rate_signature_failures=2))
    card = await create_card(client, name="Ada")
    path = f"/v1/public/card/{card['uuid']}/qr-code/offline"
    resp = await client.post(path)
    good = await resp.text()
    for _ in range(2):
        resp = await client.get(f"{path}?expires={int(clock.now()) + 60}&signature={'0' * 64}")
        assert resp.status == 403
        assert await resp.json() == {"message": "Invalid signature."}
    resp = await client.get(f"{path}?{good}")
    assert resp.status == 429
    body = await resp.json()
    assert set(body) == {"message"}


async def test_link_code_failures_are_rate_limited(make_client: ClientFactory, config: Config) -> None:
    """Unknown pairing codes answer 410 until the bucket is empty, then 429."""
    client = await make_client(config.replace(rate_link_failures=3))
    for n in range(3):
        resp = await client.post(f"/link/{'a' * 31}{n}", json={"phone": "4915112345678"})
        assert resp.status == 410
        assert await resp.json() == {"error": "QR code expired"}
    resp = await client.post("/link", json={"code": "ABCD-EFGH", "phone": "4915112345678"})
    assert resp.status == 429
    assert "Retry-After" in resp.headers


async def test_big_bodies_get_413_in_the_family_shape(make_client: ClientFactory, config: Config) -> None:
    """A body over max_body_bytes answers 413 as JSON, with or without Content-Length."""
    client = await make_client(config.replace(max_body_bytes=2048))
    big = {"name": "x" * 4096}
    resp = await client.post("/admin/cards", headers=ADMIN, json=big)
    assert resp.status == 413
    assert await resp.json() == {"error": "Request body too large"}

    async def chunks():  # type: ignore[no-untyped-def]
        yield b'{"extra_data": {"k": "'
        for _ in range(10):
            yield b"y" * 1024
        yield b'"}}'

    resp = await client.post("/api/generate-verification", headers={"X-SDK-Key": SDK_KEY}, data=chunks())
    assert resp.status == 413
    assert await resp.json() == {"error": "Request body too large"}
    card = await create_card(client, name="Ada")
    resp = await client.patch(f"/admin/cards/{card['uuid']}", headers=ADMIN, data=b"{" + b" " * 5000 + b"}")
    assert resp.status == 413


@pytest.mark.scaleout  # the caps are per process, whatever the bus
async def test_websocket_caps_close_with_1013(make_client: ClientFactory, config: Config) -> None:
    """Past the per-instance cap a subscriber is closed with 1013 and a reason; a slot frees on close."""
    client = await make_client(config.replace(ws_max_per_instance=2, ws_max_per_client=2))
    instance = await new_instance(client)
    first = await client.ws_connect(api(instance, "scanqrcode"))
    second = await client.ws_connect(api(instance, "scanqrcode"))
    for ws in (first, second):
        assert (await next_message(ws))["type"] == "qrCode"
    third = await client.ws_connect(api(instance, "scanqrcode"))
    msg = await asyncio.wait_for(third.receive(), 10)
    assert msg.type == WSMsgType.CLOSE
    assert third.close_code == 1013
    assert msg.extra == "too many subscribers for this instance"
    await first.close()  # returns once the server has answered the close: the slot is free
    again = await client.ws_connect(api(instance, "scanqrcode"))
    assert (await next_message(again))["type"] == "qrCode"
    # Per client: a second instance, but this address already has 2 open sockets.
    other = await new_instance(client)
    refused = await client.ws_connect(api(other, "scanqrcode"))
    msg = await asyncio.wait_for(refused.receive(), 10)
    assert msg.type == WSMsgType.CLOSE
    assert (refused.close_code, msg.extra) == (1013, "too many websockets from this address")
    metrics = await (await client.get("/metrics")).text()
    assert 'qrstream_ws_refused_total{reason="too many subscribers for this instance"} 1.0' in metrics
    assert 'qrstream_ws_refused_total{reason="too many websockets from this address"} 1.0' in metrics
    for ws in (second, again):
        await ws.close()


async def test_body_sent_in_pieces_is_read_whole(client: TestClient) -> None:
    """A JSON body that arrives in many small pieces is read whole (regression: read(n) cut it short)."""
    body = json.dumps({"extra_data": {"k": "y" * 12000}}).encode()

    async def pieces():  # type: ignore[no-untyped-def]
        for start in range(0, len(body), 1000):
            yield body[start : start + 1000]
            await asyncio.sleep(0.005)  # let each piece reach the server on its own (network, not clock)

    resp = await client.post(
        "/api/generate-verification",
        headers={"X-SDK-Key": SDK_KEY, "Content-Type": "application/json"},
        data=pieces(),
    )
    assert resp.status == 201, await resp.text()
    verification_id = (await resp.json())["verificationId"]
    resp = await client.get(
        f"/api/get-verification-details/{verification_id}", headers={"X-SDK-Key": SDK_KEY}
    )
    assert (await resp.json())["extra_data"] == {"k": "y" * 12000}


async def test_verification_stream_cap_names_a_verification(
    make_client: ClientFactory, config: Config
) -> None:
    """The cap's refusal speaks of the family's own thing, and a refused socket holds no slot."""
    client = await make_client(config.replace(ws_max_per_instance=1, ws_max_per_client=10))
    resp = await client.post("/api/generate-verification", headers={"X-SDK-Key": SDK_KEY}, json={})
    verification_id = (await resp.json())["verificationId"]
    path = f"/api/verification-events/{verification_id}"
    first = await client.ws_connect(path, headers={"X-SDK-Key": SDK_KEY})
    assert json.loads((await asyncio.wait_for(first.receive(), 10)).data)["status"] == "generated"
    for _ in range(3):  # refusals reserve nothing: the count stays at the one open socket
        refused = await client.ws_connect(path, headers={"X-SDK-Key": SDK_KEY})
        msg = await asyncio.wait_for(refused.receive(), 10)
        assert (msg.type, refused.close_code) == (WSMsgType.CLOSE, 1013)
        assert msg.extra == "too many subscribers for this verification"
    await first.close()
    again = await client.ws_connect(path, headers={"X-SDK-Key": SDK_KEY})
    assert json.loads((await asyncio.wait_for(again.receive(), 10)).data)["status"] == "generated"
    await again.close()
