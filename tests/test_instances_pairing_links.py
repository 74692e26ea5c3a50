"""Pairing links (§9): a watch-only ticket for an instance's pairing page and stream, dead on
expiry, authorization, logout and deletion."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import WSServerHandshakeError, web
from aiohttp.test_utils import TestClient

from qrstream.clock import FakeClock
from qrstream.config import Config
from qrstream.web.keys import SERVICES
from tests.conftest import PUBLIC_URL, ClientFactory
from tests.instancekit import (
    ADMIN,
    api,
    closed_with,
    link_path,
    new_instance,
    next_message,
    qr_link,
)

Client = TestClient[web.Request, web.Application]
TICKET = re.compile(r"[A-Za-z0-9_-]{43}")
EXPIRED_BODY = {"error": "Pairing link expired"}

pytestmark = pytest.mark.scaleout  # the tickets live in both stores; the death is seen through Redis too


async def create_link(client: Client, instance: tuple[int, str], **body: Any) -> tuple[str, dict[str, Any]]:
    """createPairingLink; returns the ticket and the whole answer."""
    resp = await client.post(api(instance, "createPairingLink"), json=body)
    assert resp.status == 200, await resp.text()
    answer = await resp.json()
    prefix = f"{PUBLIC_URL}/p/"
    assert answer["url"].startswith(prefix), answer
    ticket = answer["url"][len(prefix) :]
    assert TICKET.fullmatch(ticket), ticket
    return ticket, answer


async def dead(client: Client, ticket: str) -> None:
    """The ticket's page says it has expired (410) and its websocket upgrade is refused with 410."""
    resp = await client.get(f"/p/{ticket}")
    assert resp.status == 410
    assert "This pairing link has expired" in await resp.text()
    resp = await client.get(f"/p/{ticket}/scanqrcode", headers=_UPGRADE)
    assert resp.status == 410 and await resp.json() == EXPIRED_BODY
    with pytest.raises(WSServerHandshakeError) as refused:
        await client.ws_connect(f"/p/{ticket}/scanqrcode")
    assert refused.value.status == 410


_UPGRADE = {
    "Connection": "Upgrade",
    "Upgrade": "websocket",
    "Sec-WebSocket-Version": "13",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
}


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def test_create_answers_a_url_and_its_expiry(client: Client, clock: FakeClock) -> None:
    """Default lifetime one day; ttlSeconds from 60 to 604800; each call a new ticket."""
    instance = await new_instance(client)
    now = clock.now()
    first, answer = await create_link(client, instance)
    assert answer["expiresAt"] == iso(now + 86_400)
    second, answer = await create_link(client, instance, ttlSeconds=60)
    assert answer["expiresAt"] == iso(now + 60)
    _, answer = await create_link(client, instance, ttlSeconds=604_800)
    assert answer["expiresAt"] == iso(now + 604_800)
    assert first != second
    resp = await client.post(api(instance, "createPairingLink"))  # no body at all: the default
    assert resp.status == 200


@pytest.mark.parametrize("ttl", [59, 604_801, "600", 600.5, True, -1, [60]])
async def test_a_bad_lifetime_is_refused_by_name(client: Client, ttl: Any) -> None:
    """400 naming ttlSeconds."""
    instance = await new_instance(client)
    resp = await client.post(api(instance, "createPairingLink"), json={"ttlSeconds": ttl})
    assert resp.status == 400 and (await resp.json())["field"] == "ttlSeconds"


async def test_create_needs_the_token(client: Client) -> None:
    """A wrong token is 401 like every Green API method."""
    instance_id, _ = await new_instance(client)
    resp = await client.post(api((instance_id, "0" * 50), "createPairingLink"), json={})
    assert resp.status == 401 and await resp.json() == {"error": "Unauthorized"}


async def test_the_store_keeps_a_hash_not_the_ticket(client: Client) -> None:
    """No column of the stored link holds the ticket."""
    ticket, _ = await create_link(client, await new_instance(client))
    rows = await client.app[SERVICES].db.fetchall("SELECT * FROM pairing_links")
    assert len(rows) == 1
    assert ticket not in json.dumps([dict(row) for row in rows])


async def test_the_page_is_the_pairing_page_without_the_token(client: Client) -> None:
    """GET /p/<ticket> is the §6 page in link mode; nothing in it is the instance's token."""
    instance = await new_instance(client)
    ticket, _ = await create_link(client, instance)
    resp = await client.get(f"/p/{ticket}")
    assert resp.status == 200 and resp.content_type == "text/html"
    html = await resp.text()
    assert 'data-mode="link"' in html and "/static/pair.js" in html
    assert instance[1] not in html and str(instance[0]) not in html
    assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
    assert resp.headers["Cache-Control"] == "no-store"


async def test_unknown_and_malformed_tickets_are_expired(client: Client) -> None:
    """A ticket never made, one of the wrong shape: the page says expired, the upgrade is 410."""
    for ticket in ("A" * 43, "short", "x" * 200):
        await dead(client, ticket)


async def test_the_stream_is_the_instance_stream_and_dies_with_authorization(client: Client) -> None:
    """The ticket's websocket shows the instance's current frame; a phone linking through it ends it with
    accountData and 1000, and the ticket is dead from then on, after a logout too."""
    instance = await new_instance(client)
    ticket, _ = await create_link(client, instance)
    other, _ = await create_link(client, instance)
    ws = await client.ws_connect(f"/p/{ticket}/scanqrcode")
    first = await next_message(ws)
    assert first["type"] == "qrCode"
    code_path = link_path(first["message"])
    assert code_path == await qr_link(client, instance)  # the same frame as the token's own stream
    resp = await client.post(code_path, json={"phone": "15551230001"})
    assert resp.status == 200
    assert await next_message(ws) == {
        "type": "accountData",
        "message": {"wid": "15551230001@c.us", "phone": "15551230001"},
    }
    assert await closed_with(ws) == 1000
    await dead(client, ticket)
    await dead(client, other)  # authorization kills every link of the instance
    assert (await client.get(api(instance, "logout"))).status == 200
    await dead(client, ticket)  # logging out does not bring it back


async def test_a_link_made_while_authorized_dies_on_logout(client: Client) -> None:
    """Logout kills the links that exist then."""
    instance = await new_instance(client)
    assert (await client.post(await qr_link(client, instance), json={"phone": "15551230002"})).status == 200
    ticket, _ = await create_link(client, instance)
    ws = await client.ws_connect(f"/p/{ticket}/scanqrcode")
    assert (await next_message(ws))["type"] == "alreadyLogged"
    assert await closed_with(ws) == 1000
    assert (await client.get(api(instance, "logout"))).status == 200
    await dead(client, ticket)


async def test_deleting_the_instance_kills_its_links(client: Client) -> None:
    """An open ticket stream gets the deletion's goodbye; the ticket is dead after."""
    instance = await new_instance(client)
    ticket, _ = await create_link(client, instance)
    ws = await client.ws_connect(f"/p/{ticket}/scanqrcode")
    assert (await next_message(ws))["type"] == "qrCode"
    assert (await client.delete(f"/admin/instances/{instance[0]}", headers=ADMIN)).status == 204
    assert await next_message(ws) == {"type": "error", "message": "instance deleted"}
    assert await closed_with(ws) == 1000
    await dead(client, ticket)


async def test_a_link_dies_at_its_expiry_open_stream_included(client: Client, clock: FakeClock) -> None:
    """At expiresAt an open ticket stream is told and closed with 1000; the ticket is dead."""
    instance = await new_instance(client)
    ticket, _ = await create_link(client, instance, ttlSeconds=60)
    ws = await client.ws_connect(f"/p/{ticket}/scanqrcode")
    assert (await next_message(ws))["type"] == "qrCode"
    await clock.advance(59)
    assert (await client.get(f"/p/{ticket}")).status == 200
    await clock.advance(1)
    while (message := await next_message(ws))["type"] == "qrCode":
        pass  # the frames of the windows that turned meanwhile
    assert message == {"type": "error", "message": "Pairing link expired"}
    assert await closed_with(ws) == 1000
    await dead(client, ticket)


async def test_no_other_method_takes_the_ticket(client: Client) -> None:
    """The ticket in place of the token is a wrong token."""
    instance = await new_instance(client)
    ticket, _ = await create_link(client, instance)
    for method in ("getStateInstance", "qr", "getSettings", "logout"):
        resp = await client.get(api((instance[0], ticket), method))
        assert resp.status == 401, method


async def test_ticket_streams_count_toward_the_instance_cap(
    make_client: ClientFactory, config: Config
) -> None:
    """With 2 sockets allowed per instance, two ticket streams leave no room for a third, of either kind."""
    client = await make_client(config.replace(ws_max_per_instance=2))
    instance = await new_instance(client)
    ticket, _ = await create_link(client, instance)
    streams = [await client.ws_connect(f"/p/{ticket}/scanqrcode") for _ in range(2)]
    for ws in streams:
        assert (await next_message(ws))["type"] == "qrCode"
    for path in (f"/p/{ticket}/scanqrcode", api(instance, "scanqrcode")):
        refused = await client.ws_connect(path)
        assert await closed_with(refused) == 1013
    for ws in streams:
        await ws.close()


async def test_failed_ticket_guesses_are_rate_limited(make_client: ClientFactory, config: Config) -> None:
    """Each 410 costs a guess; once they are spent even a live ticket waits (429, Retry-After)."""
    client = await make_client(config.replace(rate_link_failures=3))
    ticket, _ = await create_link(client, await new_instance(client))
    assert (await client.get(f"/p/{ticket}")).status == 200  # a live ticket costs nothing
    for n in range(3):
        assert (await client.get(f"/p/{'B' * 42}{n}")).status == 410
    resp = await client.get(f"/p/{ticket}")
    assert resp.status == 429 and int(resp.headers["Retry-After"]) >= 1
    resp = await client.get(f"/p/{ticket}/scanqrcode", headers=_UPGRADE)
    assert resp.status == 429
