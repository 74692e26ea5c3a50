"""The phone side: /link pages, link codes (grace, once only, one winner) and phone-entry codes."""

from __future__ import annotations

import asyncio

from qrstream.clock import FakeClock
from qrstream.instances import pairing
from qrstream.web.keys import SERVICES
from tests.instancekit import Client, api, new_instance, qr_link, state

PERIOD = 20.0
EXPIRED = {"error": "QR code expired"}


def _window_end(instance_id: int, now: float) -> float:
    return pairing.window_end(instance_id, pairing.window_at(instance_id, now, PERIOD), PERIOD)


async def test_link_pages_change_nothing(client: Client) -> None:
    """GET /link/<code> and GET /link are HTML pages with the form; the instance stays notAuthorized."""
    instance = await new_instance(client)
    path = await qr_link(client, instance)
    for page in (path, "/link"):
        resp = await client.get(page)
        assert resp.status == 200 and resp.content_type == "text/html"
        html = await resp.text()
        for element in ('id="link-form"', 'id="phone"', 'id="code"', 'id="submit"', 'id="status"'):
            assert element in html
        assert "Content-Security-Policy" in resp.headers
    assert await state(client, instance) == "notAuthorized"
    assert (await client.get("/static/link.js")).status == 200


async def test_code_past_grace_is_gone(client: Client, clock: FakeClock) -> None:
    """A code whose window ended 5 s ago or more answers 410 and changes nothing."""
    instance = await new_instance(client)
    path = await qr_link(client, instance)
    clock.set(_window_end(instance[0], clock.now()) + 5.0)
    resp = await client.post(path, json={"phone": "15551234567"})
    assert resp.status == 410 and await resp.json() == EXPIRED
    assert await state(client, instance) == "notAuthorized"


async def test_code_within_grace_links(client: Client, clock: FakeClock) -> None:
    """A code replaced 4.9 s ago still links the instance."""
    instance = await new_instance(client)
    path = await qr_link(client, instance)
    clock.set(_window_end(instance[0], clock.now()) + 4.9)
    assert path != await qr_link(client, instance)
    resp = await client.post(path, json={"phone": "15551234567"})
    assert resp.status == 200
    assert await state(client, instance) == "authorized"


async def test_used_code_is_gone(client: Client) -> None:
    """A code links once; the second try is 410."""
    instance = await new_instance(client)
    path = await qr_link(client, instance)
    assert (await client.post(path, json={"phone": "15551234567"})).status == 200
    resp = await client.post(path, json={"phone": "15551234567"})
    assert resp.status == 410 and await resp.json() == EXPIRED


async def test_concurrent_redemptions_have_one_winner(client: Client) -> None:
    """Of many simultaneous redemptions of one code, exactly one links and the rest are 410."""
    instance = await new_instance(client)
    path = await qr_link(client, instance)
    responses = await asyncio.gather(
        *(client.post(path, json={"phone": f"1555000{n:04d}"}) for n in range(8))
    )
    statuses = sorted(r.status for r in responses)
    assert statuses == [200] + [410] * 7
    winner = next(r for r in responses if r.status == 200)
    wid = (await winner.json())["wid"]
    assert (await (await client.get(api(instance, "getSettings"))).json())["wid"] == wid


async def test_unknown_and_malformed_codes_are_gone(client: Client) -> None:
    """Unknown, forged and malformed codes answer 410 QR code expired."""
    instance = await new_instance(client)
    real = (await qr_link(client, instance)).removeprefix("/link/")
    forged = real[:-4] + ("aaaa" if real[-4:] != "aaaa" else "bbbb")
    for code in ("nope", "a" * 32, forged, real.upper() + "x"):
        resp = await client.post(f"/link/{code}", json={"phone": "15551234567"})
        assert resp.status == 410 and await resp.json() == EXPIRED, code
    assert await state(client, instance) == "notAuthorized"


async def test_bad_phone_is_400(client: Client) -> None:
    """A phone that is not 7 to 15 digits answers 400 with the field, and the code stays usable."""
    instance = await new_instance(client)
    path = await qr_link(client, instance)
    for phone in ("123", "1" * 16, "phone", None, True):
        resp = await client.post(path, json={"phone": phone})
        assert resp.status == 400, phone
        body = await resp.json()
        assert body["field"] == "phone" and body["error"]
    resp = await client.post(path, data=b"not json", headers={"Content-Type": "application/json"})
    assert resp.status == 400
    assert (await client.post(path, json={"phone": 15551234567})).status == 200


async def test_phone_entry_code_links_once_with_its_phone(client: Client, clock: FakeClock) -> None:
    """getAuthorizationCode gives XXXX-XXXX; POST /link with it and that phone authorizes, once;
    another phone is 410 (never says whether the code exists) and a bad phone 400."""
    instance = await new_instance(client)
    resp = await client.post(api(instance, "getAuthorizationCode"), json={"phoneNumber": 15551234567})
    body = await resp.json()
    assert resp.status == 200 and body["status"] is True
    code = body["code"]
    assert pairing.normalize_auth_code(code) == code
    resp = await client.post("/link", json={"code": code, "phone": "15550000000"})
    assert resp.status == 410 and await resp.json() == EXPIRED
    resp = await client.post("/link", json={"code": code, "phone": "12"})
    assert resp.status == 400
    resp = await client.post("/link", json={"code": code.lower(), "phone": "+1 555 123 4567"})
    assert resp.status == 200 and await resp.json() == {"linked": True, "wid": "15551234567@c.us"}
    assert await state(client, instance) == "authorized"
    resp = await client.post("/link", json={"code": code, "phone": "15551234567"})
    assert resp.status == 410
    resp = await client.post(api(instance, "getAuthorizationCode"), json={"phoneNumber": 15551234567})
    assert await resp.json() == {"status": False, "code": ""}


async def test_phone_entry_code_expires_with_the_scan_timeout(client: Client, clock: FakeClock) -> None:
    """A phone-entry code is valid for the scan timeout (100 s) only."""
    instance = await new_instance(client)
    resp = await client.post(api(instance, "getAuthorizationCode"), json={"phoneNumber": "15551234567"})
    code = (await resp.json())["code"]
    await clock.advance(100.0)
    resp = await client.post("/link", json={"code": code, "phone": "15551234567"})
    assert resp.status == 410
    resp = await client.post(api(instance, "getAuthorizationCode"), json={"phoneNumber": "12"})
    assert resp.status == 400 and (await resp.json())["field"] == "phoneNumber"


async def test_no_phone_entry_code_while_an_authorized_instance_reboots(client: Client) -> None:
    """A rebooting authorized instance is still logged in: getAuthorizationCode answers
    {"status": false} as when authorized, rather than a code that could never be redeemed."""
    instance = await new_instance(client)
    resp = await client.post(api(instance, "getAuthorizationCode"), json={"phoneNumber": 15551234567})
    code = (await resp.json())["code"]
    assert (await client.post("/link", json={"code": code, "phone": 15551234567})).status == 200
    assert (await client.get(api(instance, "reboot"))).status == 200
    assert await state(client, instance) == "starting"
    resp = await client.post(api(instance, "getAuthorizationCode"), json={"phoneNumber": 15551234567})
    assert resp.status == 200 and await resp.json() == {"status": False, "code": ""}


async def test_spent_phone_entry_codes_are_not_kept(client: Client, clock: FakeClock) -> None:
    """getAuthorizationCode does not grow the store forever: an instance's expired or used codes
    are dropped when it asks for a new one (the new one still works)."""
    db = client.app[SERVICES].db
    instance = await new_instance(client)
    for _ in range(3):
        resp = await client.post(api(instance, "getAuthorizationCode"), json={"phoneNumber": 15551234567})
        assert resp.status == 200
        await clock.advance(100.0)
    resp = await client.post(api(instance, "getAuthorizationCode"), json={"phoneNumber": 15551234567})
    code = (await resp.json())["code"]
    row = await db.fetchone("SELECT COUNT(*) AS n FROM auth_codes WHERE instance_id = ?", instance[0])
    assert row is not None and row["n"] == 1
    assert (await client.post("/link", json={"code": code, "phone": 15551234567})).status == 200
