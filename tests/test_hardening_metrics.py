"""`GET /metrics` and request ids, over HTTP against the real app."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import SDK_KEY
from tests.instancekit import api, new_instance, next_message
from tests.qrdecode import decode_png

SDK = {"X-SDK-Key": SDK_KEY}


async def scrape(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    resp = await client.get("/metrics")
    assert resp.status == 200
    assert resp.content_type == "text/plain"
    samples = {}
    for family in text_string_to_metric_families(await resp.text()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_latency_is_labelled_by_route_pattern_never_the_path(client: TestClient) -> None:
    """Request latency is counted per route pattern; ids and tokens from paths never appear in /metrics."""
    resp = await client.post("/api/generate-verification", headers=SDK, json={})
    verification_id = (await resp.json())["verificationId"]
    resp = await client.get(f"/api/get-verification-details/{verification_id}", headers=SDK)
    assert resp.status == 200
    instance = await new_instance(client)
    resp = await client.get(api(instance, "getStateInstance"))
    assert resp.status == 200
    await client.get("/no/such/path")
    resp = await client.get("/metrics")
    text = await resp.text()
    assert verification_id not in text and instance[1] not in text and "/no/such/path" not in text
    samples = await scrape(client)
    count = "qrstream_http_request_duration_seconds_count"
    details = {"method": "GET", "route": "/api/get-verification-details/{id}", "status": "200"}
    assert value(samples, count, **details) == 1
    state = {"method": "GET", "route": "/waInstance{id}/getStateInstance/{token}", "status": "200"}
    assert value(samples, count, **state) == 1
    assert value(samples, count, method="GET", route="unmatched", status="404") == 1


async def test_renders_cache_hits_and_open_websockets(client: TestClient) -> None:
    """Rendered QR frames, cache hits, frames sent and open websockets are exported."""
    resp = await client.post("/api/generate-verification", headers=SDK, json={})
    body = await resp.json()
    for _ in range(2):
        resp = await client.get(f"/api/get-verification-qrcode/{body['verificationId']}", headers=SDK)
        assert decode_png(await resp.read()).text == body["url"]
    instance = await new_instance(client)
    ws = await client.ws_connect(api(instance, "scanqrcode"))
    assert (await next_message(ws))["type"] == "qrCode"
    samples = await scrape(client)
    assert value(samples, "qrstream_qr_render_seconds_count") >= 2  # the verification's and the pairing QR
    assert value(samples, "qrstream_qr_render_seconds_sum") > 0
    assert value(samples, "qrstream_qr_cache_hits_total") >= 1
    assert value(samples, "qrstream_websockets_open") == 1
    assert ("qrstream_ws_frames_sent_total", ()) in samples
    assert ("qrstream_ws_frames_skipped_total", ()) in samples
    await ws.close()
    samples = await scrape(client)
    assert value(samples, "qrstream_websockets_open") == 0


@pytest.mark.scaleout  # the counts are SQL on both stores
async def test_notification_counts_come_from_the_store(client: TestClient) -> None:
    """Webhook deliveries by status and the unacknowledged notification queue are exported."""
    instance = await new_instance(client)
    resp = await client.get(api(instance, "reboot"))
    assert resp.status == 200
    samples = await scrape(client)
    for status in ("pending", "delivered", "failed"):
        assert ("qrstream_webhook_deliveries", (("status", status),)) in samples
    assert value(samples, "qrstream_notifications_unacknowledged") >= 1


async def test_request_id_is_echoed_or_made(client: TestClient) -> None:
    """A sane X-Request-Id is echoed; a missing or insane one is replaced by a fresh id, on every response."""
    resp = await client.get("/healthz", headers={"X-Request-Id": "abc-123.x"})
    assert resp.headers["X-Request-Id"] == "abc-123.x"
    resp = await client.get("/healthz", headers={"X-Request-Id": "bad id\twith spaces" + "x" * 200})
    made = resp.headers["X-Request-Id"]
    assert len(made) == 32 and int(made, 16) >= 0
    resp = await client.get("/no/such/path")
    assert resp.status == 404 and len(resp.headers["X-Request-Id"]) == 32
    resp = await client.get("/pair")
    assert resp.status == 200 and "X-Request-Id" in resp.headers
    instance = await new_instance(client)
    ws = await client.ws_connect(api(instance, "scanqrcode"), headers={"X-Request-Id": "ws-1"})
    assert ws._response.headers["X-Request-Id"] == "ws-1"
    await ws.close()
