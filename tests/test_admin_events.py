"""The admin event stream of CONTRACT §7: one-use tickets, and what happens anywhere, live."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import WSMsgType
from aiohttp.client import ClientWebSocketResponse

from qrstream.clock import FakeClock
from qrstream.config import Config
from qrstream.web.keys import SERVICES
from tests import cardkit
from tests import instancekit as kit
from tests.conftest import SDK_KEY, ClientFactory
from tests.instancekit import Client
from tests.webhook_receiver import Receiver, add_instance, change_state, drive, status_is

ADMIN = kit.ADMIN
SDK = {"X-SDK-Key": SDK_KEY}
ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
PHONE = "15551234567"


async def new_ticket(client: Client) -> str:
    resp = await client.post("/admin/events/ticket", headers=ADMIN)
    body = await resp.json()
    assert resp.status == 201, body
    assert set(body) == {"ticket", "expiresIn"} and body["expiresIn"] == 30
    assert isinstance(body["ticket"], str) and len(body["ticket"]) >= 32
    return str(body["ticket"])


async def events(client: Client) -> ClientWebSocketResponse:
    """The admin event stream, opened with a fresh ticket."""
    return await client.ws_connect(f"/admin/events?ticket={await new_ticket(client)}")


async def expect(ws: ClientWebSocketResponse, match: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """The first event that `match`es (others, such as a creation, are passed over); fails after a while."""
    async with asyncio.timeout(kit.RECEIVE_S):
        while True:
            msg = await ws.receive()
            assert msg.type == WSMsgType.TEXT, (msg.type, msg.data)
            event: dict[str, Any] = json.loads(msg.data)
            assert ISO.match(event["at"]), event
            if match(event):
                return event


async def refused(client: Client, path: str, **kwargs: Any) -> int:
    """The status an upgrade is refused with (the test fails if it is accepted)."""
    with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
        await client.ws_connect(path, **kwargs)
    return caught.value.status


async def test_a_ticket_needs_the_admin_key(client: Client) -> None:
    """POST /admin/events/ticket without the key (or with a wrong one) → 401."""
    for headers in ({}, {"Authorization": "Bearer nope"}):
        resp = await client.post("/admin/events/ticket", headers=headers)
        assert resp.status == 401
        assert await resp.json() == {"error": "Unauthorized"}


@pytest.mark.scaleout
async def test_events_arrive_for_an_authorization_a_verification_start_and_a_scan(
    client: Client, backend: str
) -> None:
    """The stream tells of an instance authorized, a verification started and a card scanned."""
    ws = await events(client)
    instance = await kit.new_instance(client)
    created = await expect(ws, lambda e: e["type"] == "instance")
    assert created == {
        "type": "instance",
        "idInstance": instance[0],
        "stateInstance": "notAuthorized",
        "at": created["at"],
    }
    link = await kit.qr_link(client, instance)
    resp = await client.post(link, json={"phone": PHONE})
    assert resp.status == 200, await resp.text()
    authorized = await expect(ws, lambda e: e["type"] == "instance" and e["stateInstance"] == "authorized")
    assert authorized == {
        "type": "instance",
        "idInstance": instance[0],
        "stateInstance": "authorized",
        "at": authorized["at"],
    }

    resp = await client.post("/api/generate-verification", json={}, headers=SDK)
    verification_id = (await resp.json())["verificationId"]
    resp = await client.post(f"/api/verification/{verification_id}/start", json={})
    assert resp.status == 200
    started = await expect(ws, lambda e: e["type"] == "verification" and e["status"] == "in_progress")
    assert started == {
        "type": "verification",
        "verificationId": verification_id,
        "status": "in_progress",
        "at": started["at"],
    }

    card = await cardkit.create_card(client, name="Scanned Card")
    dynamic = await cardkit.dynamic_link(client, card["uuid"])
    for expected in (1, 2):
        resp = await client.get(dynamic, allow_redirects=False)
        assert resp.status == 302
        scan = await expect(ws, lambda e: e["type"] == "scan")
        assert scan == {"type": "scan", "uuid": card["uuid"], "scans": expected, "at": scan["at"]}
    resp = await client.head(dynamic, allow_redirects=False)  # not a scan: nothing is told
    assert resp.status == 302

    resp = await client.delete(f"/admin/instances/{instance[0]}", headers=ADMIN)
    assert resp.status == 204
    gone = await expect(ws, lambda e: e["type"] == "instanceDeleted")
    assert gone == {"type": "instanceDeleted", "idInstance": instance[0], "at": gone["at"]}
    await ws.close()


async def test_logout_and_reboot_are_told_too(client: Client, clock: FakeClock) -> None:
    """Every state change of an instance is an event: logout, starting, and back after the reboot."""
    instance = await kit.new_instance(client)
    ws = await events(client)
    resp = await client.post(await kit.qr_link(client, instance), json={"phone": PHONE})
    assert resp.status == 200
    await expect(ws, lambda e: e.get("stateInstance") == "authorized")
    await client.get(kit.api(instance, "reboot"))
    await expect(ws, lambda e: e.get("stateInstance") == "starting")
    await clock.advance(3.0)
    await expect(ws, lambda e: e.get("stateInstance") == "authorized")
    await client.get(kit.api(instance, "logout"))
    await expect(ws, lambda e: e.get("stateInstance") == "notAuthorized")


async def test_a_given_up_webhook_is_told_with_its_reason(
    make_client: ClientFactory, config: Config, aiohttp_server: Any, clock: FakeClock
) -> None:
    """A delivery the sender gives up on is an event `{"type": "webhookFailed", "url", "reason", "at"}`."""
    receiver = Receiver(lambda n, body: 503)
    server = await aiohttp_server(receiver.app)
    client = await make_client(config.replace(webhook_give_up_s=30, webhook_max_backoff_s=5))
    svc = client.app[SERVICES]
    ws = await events(client)
    url = str(server.make_url("/hook"))
    await add_instance(svc, 1100000042, url)
    receipt_id = await change_state(svc, 1100000042, "authorized")
    await drive(clock, status_is(svc, receipt_id, "failed"), receiver=receiver, step=2)
    failed = await expect(ws, lambda e: e["type"] == "webhookFailed")
    assert failed == {"type": "webhookFailed", "url": url, "reason": "HTTP 503", "at": failed["at"]}


async def test_a_refused_destination_is_told_at_once(make_client: ClientFactory, config: Config) -> None:
    """A webhook whose name resolves to loopback (policy on) fails for good at once: told as
    `webhookFailed` with the reason `destination not allowed`, no time passing."""
    client = await make_client(config.replace(webhook_allow_private=False))
    ws = await events(client)
    url = "http://localhost:9/wa"
    instance = await kit.new_instance(client, webhookUrl=url)
    resp = await client.get(kit.api(instance, "reboot"))  # a state change: one webhook
    assert resp.status == 200
    failed = await expect(ws, lambda e: e["type"] == "webhookFailed")
    assert failed == {
        "type": "webhookFailed",
        "url": url,
        "reason": "destination not allowed",
        "at": failed["at"],
    }


async def test_the_bearer_header_opens_the_stream_too(client: Client) -> None:
    """Non-browser clients may send `Authorization: Bearer <admin key>` instead of a ticket."""
    ws = await client.ws_connect("/admin/events", headers=ADMIN)
    instance = await kit.new_instance(client)
    assert (await expect(ws, lambda e: e["type"] == "instance"))["idInstance"] == instance[0]
    assert await refused(client, "/admin/events", headers={"Authorization": "Bearer wrong"}) == 401


async def test_a_missing_wrong_used_or_expired_ticket_is_refused_with_401(
    client: Client, clock: FakeClock
) -> None:
    """The upgrade is refused with 401 for no ticket, an unknown one, one used already, one past 30 s."""
    assert await refused(client, "/admin/events") == 401
    assert await refused(client, "/admin/events?ticket=") == 401
    assert await refused(client, "/admin/events?ticket=made-up-ticket-0123456789abcdef0123456789") == 401
    assert await refused(client, "/admin/events?ticket=" + "x" * 5000) == 401

    used = await new_ticket(client)
    ws = await client.ws_connect(f"/admin/events?ticket={used}")
    assert await refused(client, f"/admin/events?ticket={used}") == 401  # one use, even while open
    await ws.close()
    assert await refused(client, f"/admin/events?ticket={used}") == 401

    late = await new_ticket(client)
    await clock.advance(29.0)
    still = await new_ticket(client)
    await clock.advance(1.5)
    assert await refused(client, f"/admin/events?ticket={late}") == 401  # 30.5 s old
    ws = await client.ws_connect(f"/admin/events?ticket={still}")  # 1.5 s old
    await ws.close()
    resp = await client.get(f"/admin/events?ticket={await new_ticket(client)}")  # not an upgrade
    assert resp.status in (400, 426)


async def test_two_upgrades_racing_with_one_ticket_open_one_stream(client: Client) -> None:
    """Of two upgrades with the same ticket at the same time, exactly one opens."""
    ticket = await new_ticket(client)

    async def attempt() -> int:
        try:
            ws = await client.ws_connect(f"/admin/events?ticket={ticket}")
        except aiohttp.WSServerHandshakeError as exc:
            return exc.status
        await ws.close()
        return 101

    assert sorted(await asyncio.gather(attempt(), attempt(), attempt())) == [101, 401, 401]


async def test_an_event_told_right_after_the_upgrade_arrives_on_redis(
    make_client: ClientFactory, config: Config, postgres_url: str, redis_url: str
) -> None:
    """A stream has no first message to wait for, so what is told the moment its upgrade is done
    must reach it: on Redis too, where a topic's first subscription is confirmed asynchronously."""
    client = await make_client(config.replace(db=postgres_url, bus=redis_url))
    events_of = client.app[SERVICES].events
    for n in range(30):  # each stream is the process's only one: its room is new every time
        ws = await client.ws_connect("/admin/events", headers=ADMIN)
        await events_of.instance(1_000_000_000 + n, "authorized", 0.0)
        event = await expect(ws, lambda e: True)
        assert event["idInstance"] == 1_000_000_000 + n, event
        await ws.close()


async def test_a_ticket_made_on_one_process_opens_the_stream_on_another(
    make_client: ClientFactory, config: Config, postgres_url: str, redis_url: str
) -> None:
    """PostgreSQL + Redis: a ticket from app A opens B's stream (once), and B hears what happens on A."""
    shared = config.replace(db=postgres_url, bus=redis_url)
    a, b = await make_client(shared), await make_client(shared)
    ticket = await new_ticket(a)
    ws = await b.ws_connect(f"/admin/events?ticket={ticket}")
    assert await refused(a, f"/admin/events?ticket={ticket}") == 401
    instance = await kit.new_instance(a)
    resp = await a.post(await kit.qr_link(a, instance), json={"phone": PHONE})
    assert resp.status == 200
    event = await expect(ws, lambda e: e.get("stateInstance") == "authorized")
    assert event["idInstance"] == instance[0]
    await ws.close()
