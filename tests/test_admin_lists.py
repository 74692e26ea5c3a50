"""The admin lists of CONTRACT §7: keyset pages newest first, validated limit/cursor/status, filters."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from qrstream.clock import FakeClock
from tests import cardkit
from tests import instancekit as kit
from tests.conftest import SDK_KEY
from tests.instancekit import Client

ADMIN = kit.ADMIN
SDK = {"X-SDK-Key": SDK_KEY}


async def get_json(client: Client, path: str, status: int = 200) -> Any:
    resp = await client.get(path, headers=ADMIN)
    body = await resp.json()
    assert resp.status == status, body
    return body


async def all_pages(client: Client, path: str, limit: int) -> tuple[list[dict[str, Any]], int]:
    """Every item of a list, following `next`; and how many pages that took."""
    items: list[dict[str, Any]] = []
    pages = 0
    after: str | None = None
    while True:
        sep = "&" if "?" in path else "?"
        query = f"{sep}limit={limit}" + (f"&after={after}" if after else "")
        page = await get_json(client, path + query)
        pages += 1
        assert len(page["items"]) <= limit
        items += page["items"]
        after = page["next"]
        if after is None:
            return items, pages
        assert len(page["items"]) == limit  # only a full page has a next one


async def test_paging_over_230_instances_gives_each_once_newest_first(
    client: Client, clock: FakeClock
) -> None:
    """230 instances, several made in the same second: pages of 50 hold every one exactly once, in
    (createdAt, idInstance) descending order; instances made while paging never show up late."""
    made: list[tuple[float, int]] = []
    for n in range(230):
        if n % 3 == 0:
            await clock.advance(1.0)  # ties in between: the id breaks them
        made.append((clock.now(), (await kit.new_instance(client))[0]))
    expected = [instance_id for _, instance_id in sorted(made, reverse=True)]

    first = await get_json(client, "/admin/instances?limit=50")
    await clock.advance(5.0)
    newer = {(await kit.new_instance(client))[0] for _ in range(3)}  # above the cursor: not in later pages
    rest, pages = [], 1
    after = first["next"]
    while after is not None:
        page = await get_json(client, f"/admin/instances?limit=50&after={after}")
        rest += page["items"]
        after = page["next"]
        pages += 1
    ids = [item["idInstance"] for item in first["items"] + rest]
    assert ids == expected
    assert pages == 5
    assert not newer & set(ids)

    everything = await get_json(client, "/admin/instances?limit=500")
    assert everything["next"] is None
    assert [i["idInstance"] for i in everything["items"]][3:] == expected
    assert {i["idInstance"] for i in everything["items"][:3]} == newer
    stamps = [i["createdAt"] for i in everything["items"]]
    assert stamps == sorted(stamps, reverse=True)
    default = await get_json(client, "/admin/instances")
    assert len(default["items"]) == 100 and default["next"]


async def test_an_instance_in_the_list_has_the_admin_fields_and_its_creation_time(
    client: Client, clock: FakeClock
) -> None:
    """Items are `{idInstance, stateInstance, wid, webhookUrl, createdAt}` (and the admin view's
    stateWebhook); the single GET has createdAt too."""
    instance = await kit.new_instance(client, webhookUrl="https://hooks.example.com/a")
    page = await get_json(client, "/admin/instances")
    assert page == {
        "items": [
            {
                "idInstance": instance[0],
                "stateInstance": "notAuthorized",
                "wid": "",
                "webhookUrl": "https://hooks.example.com/a",
                "stateWebhook": "yes",
                "createdAt": "2026-01-01T00:00:00Z",
            }
        ],
        "next": None,
    }
    one = await get_json(client, f"/admin/instances/{instance[0]}")
    assert one == page["items"][0]
    # What the console needs for the instance's QR and its pairing links; the admin key only.
    credentials = await get_json(client, f"/admin/instances/{instance[0]}/credentials")
    assert credentials == {"idInstance": instance[0], "apiTokenInstance": instance[1]}
    resp = await client.get(f"/admin/instances/{instance[0]}/credentials")
    assert resp.status == 401
    assert (await get_json(client, "/admin/instances/1000000001/credentials", status=404))["error"]


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/admin/instances?limit=0", "limit"),
        ("/admin/instances?limit=501", "limit"),
        ("/admin/instances?limit=-1", "limit"),
        ("/admin/instances?limit=1.5", "limit"),
        ("/admin/instances?limit=ten", "limit"),
        ("/admin/instances?limit=", "limit"),
        ("/admin/instances?limit=%EF%BC%91", "limit"),  # a full-width digit one
        ("/admin/instances?after=", "after"),
        ("/admin/instances?after=not-a-cursor!", "after"),
        ("/admin/instances?after=" + base64.urlsafe_b64encode(b"[1, 2, 3]").decode(), "after"),
        ("/admin/instances?after=" + base64.urlsafe_b64encode(b'{"a": 1}').decode(), "after"),
        ("/admin/instances?after=" + base64.urlsafe_b64encode(b'[1.5, "text"]').decode(), "after"),
        ("/admin/instances?after=" + base64.urlsafe_b64encode(b"[true, 1]").decode(), "after"),
        ("/admin/instances?after=" + base64.urlsafe_b64encode(b"[1e999, 1]").decode(), "after"),
        ("/admin/instances?after=" + base64.urlsafe_b64encode(b"\xff\xfe").decode(), "after"),
        ("/admin/instances?after=" + "A" * 400, "after"),
        ("/admin/cards?limit=1000", "limit"),
        ("/admin/cards?q=%00", "q"),
        ("/admin/cards?q=" + "a" * 201, "q"),
        ("/admin/cards?after=" + base64.urlsafe_b64encode(b'[1.5, "a\\u0000"]').decode(), "after"),
        ("/admin/cards?after=" + base64.urlsafe_b64encode(b"[1.5, 7]").decode(), "after"),
        ("/admin/verifications?limit=0", "limit"),
        ("/admin/verifications?after=%25%25", "after"),
        ("/admin/verifications?status=done", "status"),
        ("/admin/verifications?status=", "status"),
        ("/admin/verifications?status=GENERATED", "status"),
    ],
)
async def test_a_bad_limit_cursor_or_status_is_a_400_naming_it(client: Client, path: str, field: str) -> None:
    """Bad `limit`, `after` or `status` → 400 `{"error", "field"}`."""
    body = await get_json(client, path, status=400)
    assert body["field"] == field and isinstance(body["error"], str), body


@pytest.mark.parametrize("path", ["/admin/instances", "/admin/cards", "/admin/verifications"])
async def test_the_lists_need_the_admin_key(client: Client, path: str) -> None:
    """No key or a wrong one → 401 `{"error": "Unauthorized"}`."""
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        resp = await client.get(path, headers=headers)
        assert resp.status == 401
        assert await resp.json() == {"error": "Unauthorized"}


@pytest.mark.scaleout
async def test_the_card_name_filter_ignores_case_and_takes_wildcards_literally(
    client: Client, clock: FakeClock, backend: str
) -> None:
    """`q` keeps the cards whose name contains it, ignoring case (Unicode too); `%`, `_` and `\\`
    are plain characters; the same on SQLite and PostgreSQL. Items carry their scan counts."""
    names = [
        "Ada Lovelace",
        "ADA",
        "Grace Hopper",
        "100% real",
        "100 percent",
        "under_score",
        "underscore",
        "Élodie Durand",
        "Back\\slash",
        "Straße",
    ]
    cards = {}
    for name in names:
        await clock.advance(1.0)
        cards[name] = await cardkit.create_card(client, name=name)

    async def names_for(q: str) -> list[str]:
        from urllib.parse import quote

        page = await get_json(client, f"/admin/cards?q={quote(q)}")
        return [item["name"] for item in page["items"]]

    assert await names_for("ada") == ["ADA", "Ada Lovelace"]
    assert await names_for("%") == ["100% real"]
    assert await names_for("_") == ["under_score"]
    assert await names_for("0 p") == ["100 percent"]
    assert await names_for("\\") == ["Back\\slash"]
    assert await names_for("éLODIE") == ["Élodie Durand"]
    assert await names_for("STRASSE") == ["Straße"]
    assert await names_for("nobody") == []
    assert len(await names_for("")) == len(names)

    link = await cardkit.dynamic_link(client, cards["Grace Hopper"]["uuid"])
    for _ in range(3):
        resp = await client.get(link, allow_redirects=False)
        assert resp.status == 302
    page = await get_json(client, "/admin/cards?q=grace")
    [item] = page["items"]
    assert item["scans"] == 3
    assert {k: item[k] for k in ("uuid", "name", "publicUrl")} == {
        k: cards["Grace Hopper"][k] for k in ("uuid", "name", "publicUrl")
    }
    assert all(i["scans"] == 0 for i in (await get_json(client, "/admin/cards?q=ada"))["items"])

    pages: list[str] = []
    after = None
    while True:  # the filter and the cursor together
        page = await get_json(client, "/admin/cards?q=e&limit=2" + (f"&after={after}" if after else ""))
        pages += [i["name"] for i in page["items"]]
        if (after := page["next"]) is None:
            break
    with_e = [n for n in reversed(names) if "e" in n.casefold()]
    assert pages == with_e


async def test_a_renamed_card_is_found_by_its_new_name(client: Client) -> None:
    """The search follows PATCH."""
    card = await cardkit.create_card(client, name="Old Name")
    resp = await client.patch(f"/admin/cards/{card['uuid']}", json={"name": "Brand NEW"}, headers=ADMIN)
    assert resp.status == 200
    assert [i["uuid"] for i in (await get_json(client, "/admin/cards?q=new"))["items"]] == [card["uuid"]]
    assert (await get_json(client, "/admin/cards?q=old"))["items"] == []


async def new_verification(client: Client) -> str:
    resp = await client.post("/api/generate-verification", json={"extra_data": {"n": 1}}, headers=SDK)
    assert resp.status == 201
    return str((await resp.json())["verificationId"])


async def test_verifications_filter_by_status_newest_first(client: Client, clock: FakeClock) -> None:
    """`status` keeps one status; items are the §4 details; one past its expiry is listed as expired."""
    ids = []
    for _ in range(5):
        await clock.advance(1.0)
        ids.append(await new_verification(client))
    started = await client.post(f"/api/verification/{ids[1]}/start", json={})
    resume = {k: v for k, v in (await started.json()).items() if k == "resumeToken"}
    await client.post(f"/api/verification/{ids[2]}/start", json={})
    done = await client.post(f"/api/verification/{ids[1]}/complete", json={"result": "approved", **resume})
    assert done.status == 200

    async def listed(query: str) -> list[str]:
        return [
            i["verificationId"] for i in (await get_json(client, f"/admin/verifications{query}"))["items"]
        ]

    assert await listed("") == ids[::-1]
    assert await listed("?status=generated") == [ids[4], ids[3], ids[0]]
    assert await listed("?status=in_progress") == [ids[2]]
    assert await listed("?status=completed") == [ids[1]]
    assert await listed("?status=failed") == []
    items, pages = await all_pages(client, "/admin/verifications?status=generated", 2)
    assert [i["verificationId"] for i in items] == [ids[4], ids[3], ids[0]] and pages == 2

    detail = await client.get(f"/api/get-verification-details/{ids[1]}", headers=SDK)
    [item] = (await get_json(client, "/admin/verifications?status=completed"))["items"]
    assert item == await detail.json()

    clock.set(clock.now() + 3600 + 10)  # past every expiresAt; no sweeper has run yet
    assert await listed("?status=expired") == [ids[4], ids[3], ids[2], ids[0]]
    assert await listed("?status=generated") == []
    assert await listed("?status=in_progress") == []
    statuses = {i["status"] for i in (await get_json(client, "/admin/verifications"))["items"]}
    assert statuses == {"expired", "completed"}


def test_the_cursor_is_opaque_text_for_the_url() -> None:
    """A cursor is unpadded base64url of the position: safe in a query string as it is."""
    from qrstream.paging import decode_cursor, encode_cursor

    cursor = encode_cursor(1_767_225_600.123456, 4_294_967_295)
    assert cursor.isascii() and "=" not in cursor and "+" not in cursor and "/" not in cursor
    assert decode_cursor(cursor, int) == (1_767_225_600.123456, 4_294_967_295)
    assert json.loads(base64.urlsafe_b64decode(cursor + "==")) == [1_767_225_600.123456, 4_294_967_295]
