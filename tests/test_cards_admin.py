"""The admin card API: auth, create/read/patch/delete, field checks, retarget, stats."""

from __future__ import annotations

import re
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.cardkit import ADMIN, FULL_CARD, create_card, dynamic_link, stats
from tests.conftest import PUBLIC_URL

UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
MISSING = "5b1f7c8e-2a3d-4e5f-8a9b-0c1d2e3f4a5b"


async def test_create_returns_the_card(client: TestClient) -> None:
    """POST /admin/cards answers 201 with the fields, a lowercase UUID4 and the public URL."""
    card = await create_card(client, **FULL_CARD)
    assert UUID4.match(card["uuid"])
    assert card["publicUrl"] == f"{PUBLIC_URL}/c/{card['uuid']}"
    assert {k: card[k] for k in FULL_CARD} == FULL_CARD
    assert card["target"] is None


async def test_create_with_name_only_leaves_the_rest_null(client: TestClient) -> None:
    """Optional fields not given are null in the card JSON."""
    card = await create_card(client, name="Ada Lovelace")
    assert card["name"] == "Ada Lovelace"
    for field in ("title", "company", "email", "phone", "website", "note"):
        assert card[field] is None


async def test_get_returns_the_stored_card(client: TestClient) -> None:
    """GET /admin/cards/{uuid} answers the same card as the create."""
    card = await create_card(client, **FULL_CARD)
    resp = await client.get(f"/admin/cards/{card['uuid']}", headers=ADMIN)
    assert resp.status == 200
    assert await resp.json() == card


@pytest.mark.parametrize(
    ("method", "suffix"),
    [
        ("POST", ""),
        ("GET", "/{uuid}"),
        ("PATCH", "/{uuid}"),
        ("DELETE", "/{uuid}"),
        ("PUT", "/{uuid}/target"),
        ("GET", "/{uuid}/stats"),
    ],
)
@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "test-admin-key"}]
)
async def test_every_admin_route_needs_the_key(
    client: TestClient, method: str, suffix: str, headers: dict[str, str]
) -> None:
    """A missing or wrong admin key answers 401 {"error": "Unauthorized"} and changes nothing."""
    card = await create_card(client)
    path = "/admin/cards" + suffix.format(uuid=card["uuid"])
    resp = await client.request(method, path, json={"name": "X", "url": None}, headers=headers)
    assert resp.status == 401
    assert await resp.json() == {"error": "Unauthorized"}
    resp = await client.get(f"/admin/cards/{card['uuid']}", headers=ADMIN)
    assert (await resp.json())["name"] == "Ada Lovelace"


BAD_CREATES: list[tuple[Any, str | None]] = [
    ({}, "name"),
    ({"name": ""}, "name"),
    ({"name": "   "}, "name"),
    ({"name": None}, "name"),
    ({"name": 42}, "name"),
    ({"name": "x" * 201}, "name"),
    ({"name": "A\nB"}, "name"),
    ({"name": "A", "title": ["x"]}, "title"),
    ({"name": "A", "company": "c" * 201}, "company"),
    ({"name": "A", "email": "not-an-email"}, "email"),
    ({"name": "A", "email": "a@b"}, "email"),
    ({"name": "A", "phone": "1" * 65}, "phone"),
    ({"name": "A", "website": "javascript:alert(1)"}, "website"),
    ({"name": "A", "website": "example.com"}, "website"),
    ({"name": "A", "website": "ftp://example.com/"}, "website"),
    ({"name": "A", "note": "n" * 1001}, "note"),
    ({"name": "A", "colour": "red"}, "colour"),
]


@pytest.mark.parametrize(("body", "field"), BAD_CREATES)
async def test_create_rejects_a_bad_field_naming_it(client: TestClient, body: Any, field: str) -> None:
    """A bad or unknown field answers 400 {"error": …, "field": <name>}."""
    resp = await client.post("/admin/cards", json=body, headers=ADMIN)
    assert resp.status == 400
    answer = await resp.json()
    assert answer["field"] == field
    assert isinstance(answer["error"], str) and answer["error"]


@pytest.mark.parametrize("raw", [b"{not json", b"", b"[1, 2]", b'"name"'])
async def test_create_rejects_bad_json(client: TestClient, raw: bytes) -> None:
    """Malformed JSON, an empty body or a non-object answers 400 with an error."""
    resp = await client.post("/admin/cards", data=raw, headers={**ADMIN, "Content-Type": "application/json"})
    assert resp.status == 400
    assert "error" in await resp.json()


@pytest.mark.parametrize("raw", [b"{not json", b"", b"[1, 2]", b"\xff\xfe"])
async def test_bad_json_names_the_body_field(client: TestClient, raw: bytes) -> None:
    """Bad JSON on the admin API is a 400 {"error", "field": "body"}, like any bad field."""
    resp = await client.post("/admin/cards", data=raw, headers={**ADMIN, "Content-Type": "application/json"})
    assert resp.status == 400
    body = await resp.json()
    assert body["field"] == "body"
    assert isinstance(body["error"], str) and body["error"]


async def test_bad_json_on_patch_and_target_names_the_body_field(client: TestClient) -> None:
    """PATCH and PUT target with a malformed body answer 400 with field "body"."""
    card = await create_card(client)
    for method, suffix in (("PATCH", ""), ("PUT", "/target")):
        resp = await client.request(method, f"/admin/cards/{card['uuid']}{suffix}", data=b"{", headers=ADMIN)
        assert resp.status == 400
        assert (await resp.json())["field"] == "body"


async def test_name_of_200_characters_is_accepted(client: TestClient) -> None:
    """The longest allowed name (200 characters) is stored whole."""
    card = await create_card(client, name="n" * 200)
    assert card["name"] == "n" * 200


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
@pytest.mark.parametrize("uuid", [MISSING, "not-a-uuid", "5B1F7C8E2A3D4E5F8A9B0C1D2E3F4A5B"])
async def test_unknown_or_malformed_uuid_is_404(client: TestClient, method: str, uuid: str) -> None:
    """An unknown or malformed uuid answers 404 {"error": "Card not found"}."""
    resp = await client.request(method, f"/admin/cards/{uuid}", json={"name": "X"}, headers=ADMIN)
    assert resp.status == 404
    assert await resp.json() == {"error": "Card not found"}


async def test_patch_changes_only_the_given_fields(client: TestClient) -> None:
    """PATCH is partial: given fields change, null clears, the rest stay."""
    card = await create_card(client, **FULL_CARD)
    resp = await client.patch(
        f"/admin/cards/{card['uuid']}", json={"title": "CEO", "email": None, "phone": ""}, headers=ADMIN
    )
    assert resp.status == 200
    patched = await resp.json()
    assert patched == {**card, "title": "CEO", "email": None, "phone": None}
    resp = await client.get(f"/admin/cards/{card['uuid']}", headers=ADMIN)
    assert await resp.json() == patched


@pytest.mark.parametrize(
    ("body", "field"),
    [({"name": ""}, "name"), ({"name": None}, "name"), ({"email": "x"}, "email"), ({"uuid": "x"}, "uuid")],
)
async def test_patch_rejects_a_bad_field(client: TestClient, body: dict[str, Any], field: str) -> None:
    """A bad field in a PATCH answers 400 naming it, and the card is unchanged."""
    card = await create_card(client, **FULL_CARD)
    resp = await client.patch(f"/admin/cards/{card['uuid']}", json=body, headers=ADMIN)
    assert resp.status == 400
    assert (await resp.json())["field"] == field
    resp = await client.get(f"/admin/cards/{card['uuid']}", headers=ADMIN)
    assert await resp.json() == card


async def test_delete_removes_the_card_and_its_link(client: TestClient) -> None:
    """DELETE answers 204; the card, its public routes and its dynamic link then 404."""
    card = await create_card(client)
    link = await dynamic_link(client, card["uuid"])
    resp = await client.delete(f"/admin/cards/{card['uuid']}", headers=ADMIN)
    assert resp.status == 204
    assert await resp.read() == b""
    resp = await client.get(f"/admin/cards/{card['uuid']}", headers=ADMIN)
    assert resp.status == 404
    resp = await client.get(f"/v1/public/card/{card['uuid']}/prefetch")
    assert resp.status == 404
    resp = await client.get(link, allow_redirects=False)
    assert resp.status == 404
    resp = await client.delete(f"/admin/cards/{card['uuid']}", headers=ADMIN)
    assert resp.status == 404


async def test_retarget_redirects_the_dynamic_link(client: TestClient) -> None:
    """PUT target sets where /q/<code> goes; null sends it back to the card page."""
    card = await create_card(client)
    link = await dynamic_link(client, card["uuid"])
    resp = await client.put(
        f"/admin/cards/{card['uuid']}/target", json={"url": "https://example.com/promo?a=1"}, headers=ADMIN
    )
    assert resp.status == 200
    assert (await resp.json())["target"] == "https://example.com/promo?a=1"
    resp = await client.get(link, allow_redirects=False)
    assert resp.status == 302
    assert resp.headers["Location"] == "https://example.com/promo?a=1"
    resp = await client.put(f"/admin/cards/{card['uuid']}/target", json={"url": None}, headers=ADMIN)
    assert resp.status == 200
    assert await resp.json() == card
    resp = await client.get(link, allow_redirects=False)
    assert resp.headers["Location"] == card["publicUrl"]


@pytest.mark.parametrize(
    "body",
    [
        {"url": "javascript:alert(1)"},
        {"url": "data:text/html,hi"},
        {"url": "ftp://example.com/file"},
        {"url": "/relative/path"},
        {"url": "example.com"},
        {"url": "http://"},
        {"url": "https://exa mple.com/"},
        {"url": 42},
        {},
    ],
)
async def test_retarget_rejects_non_http_urls(client: TestClient, body: dict[str, Any]) -> None:
    """A target that is not an absolute http(s) URL answers 400 with field "url"."""
    card = await create_card(client)
    resp = await client.put(f"/admin/cards/{card['uuid']}/target", json=body, headers=ADMIN)
    assert resp.status == 400
    assert (await resp.json())["field"] == "url"


async def test_retarget_and_stats_of_unknown_card_are_404(client: TestClient) -> None:
    """Retargeting or reading stats of an unknown card answers 404 {"error": "Card not found"}."""
    resp = await client.put(f"/admin/cards/{MISSING}/target", json={"url": None}, headers=ADMIN)
    assert resp.status == 404
    assert await resp.json() == {"error": "Card not found"}
    resp = await client.get(f"/admin/cards/{MISSING}/stats", headers=ADMIN)
    assert resp.status == 404
    assert await resp.json() == {"error": "Card not found"}


async def test_stats_of_a_new_card_are_zero(client: TestClient) -> None:
    """A card nobody scanned has no scans, visitors, days, breakdowns or bots."""
    card = await create_card(client)
    assert await stats(client, card["uuid"]) == {
        "scans": 0,
        "uniqueVisitors": 0,
        "daily": {},
        "devices": {},
        "os": {},
        "browsers": {},
        "referrers": {},
        "bots": {},
    }
