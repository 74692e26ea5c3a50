"""Admin routes of instances: create, read, delete; the admin key is required."""

from __future__ import annotations

import re

from tests.instancekit import ADMIN, Client, api, new_instance, qr_link


async def test_create_gives_id_and_token(client: Client) -> None:
    """POST /admin/instances: 201 with a 10-digit idInstance and a 50-hex apiTokenInstance."""
    resp = await client.post("/admin/instances", headers=ADMIN)
    assert resp.status == 201
    body = await resp.json()
    assert set(body) == {"idInstance", "apiTokenInstance"}
    assert isinstance(body["idInstance"], int) and re.fullmatch(r"[1-9][0-9]{9}", str(body["idInstance"]))
    assert re.fullmatch(r"[0-9a-f]{50}", body["apiTokenInstance"])
    other = await new_instance(client)
    assert other[0] != body["idInstance"] and other[1] != body["apiTokenInstance"]


async def test_read_shows_state_wid_and_webhook(client: Client) -> None:
    """GET /admin/instances/{id} shows the state, wid and webhook URL as they change (and, as in
    the list of §7, when it was made)."""
    instance = await new_instance(client, webhookUrl="https://hooks.example/wa")
    resp = await client.get(f"/admin/instances/{instance[0]}", headers=ADMIN)
    assert await resp.json() == {
        "idInstance": instance[0],
        "stateInstance": "notAuthorized",
        "wid": "",
        "webhookUrl": "https://hooks.example/wa",
        "stateWebhook": "yes",
        "createdAt": "2026-01-01T00:00:00Z",
    }
    assert (await client.post(await qr_link(client, instance), json={"phone": "15551234567"})).status == 200
    body = await (await client.get(f"/admin/instances/{instance[0]}", headers=ADMIN)).json()
    assert body["stateInstance"] == "authorized" and body["wid"] == "15551234567@c.us"


async def test_bad_webhook_url_is_400(client: Client) -> None:
    """A webhookUrl that is not an absolute http(s) URL is 400 with the field."""
    for bad in (
        "not a url",
        "ftp://x.example",
        3,
        "https://h.example:99999/",
        "https://h.example/" + "a" * 3000,
    ):
        resp = await client.post("/admin/instances", headers=ADMIN, json={"webhookUrl": bad})
        assert resp.status == 400
        assert (await resp.json())["field"] == "webhookUrl"


async def test_delete_then_unknown(client: Client) -> None:
    """DELETE answers 204; afterwards the instance is 404 for the admin and 401 for its token."""
    instance = await new_instance(client)
    resp = await client.delete(f"/admin/instances/{instance[0]}", headers=ADMIN)
    assert resp.status == 204
    for method in (client.get, client.delete):
        resp = await method(f"/admin/instances/{instance[0]}", headers=ADMIN)
        assert resp.status == 404 and await resp.json() == {"error": "Instance not found"}
    resp = await client.get("/admin/instances/not-a-number", headers=ADMIN)
    assert resp.status == 404
    resp = await client.get(api(instance, "getStateInstance"))
    assert resp.status == 401


async def test_admin_key_required(client: Client) -> None:
    """Without the admin key every admin instance route is 401."""
    instance = await new_instance(client)
    wrong = {"Authorization": "Bearer nope"}
    for resp in (
        await client.post("/admin/instances"),
        await client.get(f"/admin/instances/{instance[0]}", headers=wrong),
        await client.delete(f"/admin/instances/{instance[0]}"),
    ):
        assert resp.status == 401 and await resp.json() == {"error": "Unauthorized"}


async def test_bad_json_names_the_body_field(client: Client) -> None:
    """Malformed JSON or a non-object body is a 400 {"error", "field": "body"}."""
    for raw in (b"{not json", b"[1]", b"\xff"):
        resp = await client.post("/admin/instances", data=raw, headers=ADMIN)
        assert resp.status == 400
        assert (await resp.json())["field"] == "body"
