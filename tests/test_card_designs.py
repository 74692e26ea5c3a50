"""Card designs (§8): PUT /admin/cards/{uuid}/design makes the look of the card's image URL,
a design change names a new URL and the URLs given out keep their look; the card page shows
the QR with links to its PNG and SVG. Also on PostgreSQL + Redis."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from qrstream.cards.recorder import ScanRecorder
from qrstream.cards.service import CardService
from qrstream.clock import FakeClock
from qrstream.qr.options import DEFAULT_LOOK
from qrstream.store import migrations, open_database
from tests.cardkit import ADMIN, create_card, local, qr_image_url
from tests.conftest import PUBLIC_URL
from tests.qrdecode import as_png, dark_mask, decode_as, decode_png, margin_modules, rgba

pytestmark = pytest.mark.scaleout

DESIGN = {"dark": "1E3A8A", "light": "FEF3C7", "margin": 4, "ecc": "Q"}
STORED = {"dark": "1e3a8a", "light": "fef3c7", "margin": 4, "ecc": "Q"}
DEFAULT = {"dark": "000000", "light": "ffffff", "margin": 2, "ecc": "M"}


async def put_design(client: TestClient, uuid: str, body: Any) -> dict[str, Any]:
    resp = await client.put(f"/admin/cards/{uuid}/design", json=body, headers=ADMIN)
    assert resp.status == 200, await resp.text()
    design: dict[str, Any] = await resp.json()
    return design


def look_of(png: bytes) -> tuple[tuple[int, ...], tuple[int, ...], float, str]:
    """(background colour, dark colour, margin in modules, EC level) of a QR image."""
    box = dark_mask(png).getbbox()
    assert box is not None
    image = rgba(png)
    return (
        image.getpixel((0, 0)),
        image.getpixel((box[0] + 2, box[1] + 2)),
        margin_modules(png),
        decode_png(png).ec_level,
    )


async def test_design_is_stored_and_shown(client: TestClient) -> None:
    """PUT answers the design (canonical: lowercase colours, upper-case level); GET and the
    card JSON show it; each field is optional, a missing one takes its default."""
    card = await create_card(client)
    assert card["design"] == DEFAULT
    assert await put_design(client, card["uuid"], DESIGN) == STORED
    resp = await client.get(f"/admin/cards/{card['uuid']}/design", headers=ADMIN)
    assert resp.status == 200 and await resp.json() == STORED
    resp = await client.get(f"/admin/cards/{card['uuid']}", headers=ADMIN)
    assert (await resp.json())["design"] == STORED
    assert await put_design(client, card["uuid"], {"light": "transparent"}) == {
        **DEFAULT,
        "light": "transparent",
    }
    assert await put_design(client, card["uuid"], {}) == DEFAULT


async def test_a_design_change_names_a_new_url_and_old_urls_keep_their_look(client: TestClient) -> None:
    """After a design the image URL is new and drawn in it; the URL given out before keeps
    its old look, also after further changes, until the card is deleted."""
    card = await create_card(client)
    plain_url = await qr_image_url(client, card["uuid"])
    plain = await (await client.get(local(plain_url))).read()
    await put_design(client, card["uuid"], DESIGN)
    designed_url = await qr_image_url(client, card["uuid"])
    assert designed_url != plain_url and re.fullmatch(
        rf"{PUBLIC_URL}/media/card_qrcodes/1-[0-9a-f]{{24}}\.png", designed_url
    )
    assert await qr_image_url(client, card["uuid"]) == designed_url  # stable while unchanged
    designed = await (await client.get(local(designed_url))).read()
    background, dark, margin, level = look_of(designed)
    assert background == (0xFE, 0xF3, 0xC7, 255) and dark == (0x1E, 0x3A, 0x8A, 255)
    assert margin == pytest.approx(4, abs=0.3) and level == "Q"
    assert decode_png(designed).text == decode_png(plain).text  # the same dynamic link
    # A name covers the look: back to the default design is the first URL again, and so on.
    await put_design(client, card["uuid"], {})
    assert await qr_image_url(client, card["uuid"]) == plain_url
    await put_design(client, card["uuid"], DESIGN)
    assert await qr_image_url(client, card["uuid"]) == designed_url
    # Another design, and a field change: both earlier URLs still answer their own pictures.
    await put_design(
        client, card["uuid"], {"dark": "14532d", "light": "transparent", "margin": 1, "ecc": "H"}
    )
    resp = await client.patch(f"/admin/cards/{card['uuid']}", json={"title": "Countess"}, headers=ADMIN)
    assert resp.status == 200
    third_url = await qr_image_url(client, card["uuid"])
    assert third_url not in (plain_url, designed_url)
    assert await (await client.get(local(plain_url))).read() == plain
    assert await (await client.get(local(designed_url))).read() == designed
    third = await (await client.get(local(third_url))).read()
    assert rgba(third).getpixel((0, 0))[3] == 0 and look_of(third)[1:] == (
        (0x14, 0x53, 0x2D, 255),
        pytest.approx(1, abs=0.3),
        "H",
    )
    assert (await client.delete(f"/admin/cards/{card['uuid']}", headers=ADMIN)).status == 204
    for url in (plain_url, designed_url, third_url):
        assert (await client.get(local(url))).status == 404


async def test_the_query_changes_the_design_per_request(client: TestClient) -> None:
    """The design is the default; query parameters change it, in any format; the guard checks
    the query's colours against the design's."""
    card = await create_card(client)
    await put_design(client, card["uuid"], DESIGN)
    path = local(await qr_image_url(client, card["uuid"]))
    resp = await client.get(f"{path}?format=svg&size=300")
    assert resp.content_type == "image/svg+xml"
    svg_png = as_png("image/svg+xml", await resp.read())
    background, dark, margin, level = look_of(svg_png)
    assert background == (0xFE, 0xF3, 0xC7, 255) and dark == (0x1E, 0x3A, 0x8A, 255)
    assert margin == pytest.approx(4, abs=0.3) and level == "Q" and decode_png(svg_png).size == (300, 300)
    resp = await client.get(f"{path}?format=txt&ecc=L&margin=1")
    assert decode_as("text/plain", await resp.read()).ec_level == "L"
    resp = await client.get(f"{path}?light=2563eb")  # too close to the design's dark blue
    assert resp.status == 400 and (await resp.json())["field"] == "light"


BAD_DESIGNS = [
    ({"dark": "fff"}, "dark"),
    ({"dark": 0}, "dark"),
    ({"light": "see-through"}, "light"),
    ({"margin": 17}, "margin"),
    ({"margin": "2"}, "margin"),
    ({"margin": True}, "margin"),
    ({"ecc": "X"}, "ecc"),
    ({"colour": "000000"}, "colour"),
    ({"dark": "ffffff", "light": "000000"}, "dark"),  # inverted
    ({"dark": "777777", "light": "aaaaaa"}, "dark"),  # 1.9:1
    ({"light": "444444"}, "light"),
    ({"dark": "bbbbbb", "light": "transparent"}, "dark"),  # against white
]


async def test_bad_designs_are_400_naming_the_field(client: TestClient) -> None:
    """The admin API's shape, `{"error", "field"}`; nothing is stored."""
    card = await create_card(client)
    for body, field in BAD_DESIGNS:
        resp = await client.put(f"/admin/cards/{card['uuid']}/design", json=body, headers=ADMIN)
        assert resp.status == 400, body
        answer = await resp.json()
        assert answer["field"] == field and "error" in answer, (body, answer)
    resp = await client.put(f"/admin/cards/{card['uuid']}/design", data=b"[1]", headers=ADMIN)
    assert resp.status == 400 and (await resp.json())["field"] == "body"
    resp = await client.get(f"/admin/cards/{card['uuid']}/design", headers=ADMIN)
    assert await resp.json() == DEFAULT


async def test_design_needs_the_admin_key_and_a_card(client: TestClient) -> None:
    card = await create_card(client)
    resp = await client.put(f"/admin/cards/{card['uuid']}/design", json={})
    assert resp.status == 401 and await resp.json() == {"error": "Unauthorized"}
    for uuid in ("00000000-0000-4000-8000-000000000000", "not-a-uuid"):
        resp = await client.put(f"/admin/cards/{uuid}/design", json={}, headers=ADMIN)
        assert resp.status == 404 and await resp.json() == {"error": "Card not found"}


async def test_card_page_shows_the_qr_with_png_and_svg_links(client: TestClient) -> None:
    """The page's image is the card's image URL (same origin, for the CSP) in its design, and
    it links to the PNG and the SVG, both of which decode to the dynamic link."""
    card = await create_card(client)
    await put_design(client, card["uuid"], DESIGN)
    html = await (await client.get(f"/c/{card['uuid']}")).text()
    image_url = await qr_image_url(client, card["uuid"])
    src = re.search(r'<img src="([^"]+)"', html)
    assert src is not None and src[1] == local(image_url)
    assert f'href="{image_url}"' in html and f'href="{image_url}?format=svg"' in html
    png = await (await client.get(src[1])).read()
    svg = await (await client.get(local(image_url) + "?format=svg")).read()
    link = decode_png(png).text
    assert link.startswith(f"{PUBLIC_URL}/q/") and decode_as("image/svg+xml", svg).text == link
    assert look_of(png)[1] == (0x1E, 0x3A, 0x8A, 255)


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "old.db")
    return str(request.getfixturevalue("postgres_url"))


async def test_migration_keeps_the_image_urls_given_out(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A database from before designs keeps answering the image names it gave out."""
    before = next(i for i, sql in enumerate(migrations.MIGRATIONS) if "card_images" in sql)
    monkeypatch.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:before])
    old = await open_database(db_url)
    try:
        await old.execute(
            "INSERT INTO cards (uuid, name, code, revision, image_hash, created_at, updated_at)"
            " VALUES (?, 'Ada', 'abcdefghij', 3, 'feedfacefeedfacefeedface', 1, 1)",
            "8b9cad0e-1f20-4a3b-8c4d-5e6f708192a3",
        )
    finally:
        await old.close()
    monkeypatch.undo()
    db = await open_database(db_url)
    try:
        cards = CardService(db, FakeClock(), await ScanRecorder.open(db))
        found = await cards.by_image(3, "feedfacefeedfacefeedface")
        assert found is not None
        card, design = found
        assert card.uuid == "8b9cad0e-1f20-4a3b-8c4d-5e6f708192a3" and design == DEFAULT_LOOK == card.design
        assert await cards.by_image(2, "feedfacefeedfacefeedface") is None
    finally:
        await db.close()
