"""The public card API: prefetch, vCard, page, dynamic QR image, the /q link and its scan counts."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from qrstream.clock import FakeClock
from tests.cardkit import (
    ADMIN,
    FULL_CARD,
    counts,
    create_card,
    dynamic_link,
    local,
    parse,
    qr_image_url,
    stats,
    unescape,
)
from tests.conftest import PUBLIC_URL
from tests.qrdecode import decode_png, quiet_zone

MISSING = "5b1f7c8e-2a3d-4e5f-8a9b-0c1d2e3f4a5b"
NOT_FOUND = {"message": "Card not found."}


@pytest.mark.parametrize(
    ("method", "suffix"),
    [
        ("GET", "/prefetch"),
        ("GET", "/vcard"),
        ("POST", "/qr-code"),
        ("POST", "/qr-code/offline"),
        ("GET", "/qr-code/offline?expires=1&signature=" + "0" * 64),
    ],
)
@pytest.mark.parametrize("uuid", [MISSING, "nope", "5b1f7c8e-2a3d-1e5f-8a9b-0c1d2e3f4a5b"])
async def test_unknown_or_malformed_card_is_404(
    client: TestClient, method: str, suffix: str, uuid: str
) -> None:
    """Every public card route answers 404 {"message": "Card not found."} for a bad uuid."""
    resp = await client.request(method, f"/v1/public/card/{uuid}{suffix}")
    assert resp.status == 404
    assert await resp.json() == NOT_FOUND


@pytest.mark.parametrize("uuid", [MISSING, "nope"])
async def test_card_page_of_unknown_card_is_404(client: TestClient, uuid: str) -> None:
    """GET /c/{uuid} of an unknown or malformed uuid answers 404 {"message": "Card not found."}."""
    resp = await client.get(f"/c/{uuid}")
    assert resp.status == 404
    assert await resp.json() == NOT_FOUND


async def test_prefetch_shape(client: TestClient) -> None:
    """Prefetch answers the public card JSON with the reference API's names."""
    card = await create_card(client, **FULL_CARD)
    resp = await client.get(f"/v1/public/card/{card['uuid']}/prefetch")
    assert resp.status == 200
    assert await resp.json() == {
        "uuid": card["uuid"],
        "name": FULL_CARD["name"],
        "organisation": FULL_CARD["company"],
        "position": FULL_CARD["title"],
        "description": FULL_CARD["note"],
        "email": FULL_CARD["email"],
        "phone": FULL_CARD["phone"],
        "website": FULL_CARD["website"],
        "publicUrl": f"{PUBLIC_URL}/c/{card['uuid']}",
    }


async def test_prefetch_accepts_an_uppercase_uuid(client: TestClient) -> None:
    """A card's uuid in capitals still finds the card (UUIDs are case-insensitive)."""
    card = await create_card(client)
    resp = await client.get(f"/v1/public/card/{card['uuid'].upper()}/prefetch")
    assert resp.status == 200
    assert (await resp.json())["uuid"] == card["uuid"]


async def test_vcard_download(client: TestClient) -> None:
    """GET vcard answers text/vcard 3.0 as an attachment, escaped, that reads back exactly."""
    card = await create_card(client, **FULL_CARD)
    resp = await client.get(f"/v1/public/card/{card['uuid']}/vcard")
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "text/vcard; charset=utf-8"
    assert resp.headers["Content-Disposition"] == (
        "attachment; filename=\"Zoe Angstrom-_ukasz.vcf\"; filename*=UTF-8''"
        "Zo%C3%AB%20%C3%85ngstr%C3%B6m-%C5%81ukasz.vcf"
    )
    text = (await resp.read()).decode("utf-8")
    props = parse(text)
    assert unescape(props["FN"]) == FULL_CARD["name"]
    assert unescape(props["ORG"]) == FULL_CARD["company"]
    assert unescape(props["TITLE"]) == FULL_CARD["title"]
    assert unescape(props["NOTE"]) == FULL_CARD["note"]
    assert unescape(props["EMAIL"]) == FULL_CARD["email"]
    assert unescape(props["TEL"]) == FULL_CARD["phone"]
    assert unescape(props["URL"]) == FULL_CARD["website"]
    assert "TITLE:Chief\\, Widgets\\; Gadgets\r\n" in text


async def test_vcard_file_name_of_ascii_name(client: TestClient) -> None:
    """An ASCII name is the file name as it is."""
    card = await create_card(client, name="Ada Lovelace")
    resp = await client.get(f"/v1/public/card/{card['uuid']}/vcard")
    assert resp.headers["Content-Disposition"] == 'attachment; filename="Ada Lovelace.vcf"'


async def test_card_page_escapes_and_links_the_vcard(client: TestClient) -> None:
    """The card page is HTML with every value escaped and a link to the vCard."""
    card = await create_card(
        client,
        name="<script>alert(1)</script>",
        note='"quoted" & <b>bold</b>',
        website="https://x.test/?a=1&b=2",
    )
    resp = await client.get(f"/c/{card['uuid']}")
    assert resp.status == 200
    assert resp.content_type == "text/html"
    html = await resp.text()
    assert "<script>" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&quot;quoted&quot; &amp; &lt;b&gt;bold&lt;/b&gt;" in html
    assert 'href="https://x.test/?a=1&amp;b=2"' in html
    assert f'href="{PUBLIC_URL}/v1/public/card/{card["uuid"]}/vcard"' in html
    assert "default-src 'self'" in resp.headers["Content-Security-Policy"]


async def test_qr_code_url_is_stable_until_the_card_changes(client: TestClient) -> None:
    """The image URL is the same on every call while the card is unchanged, new after a change;
    the old one keeps answering its picture while the card exists (printed codes keep their look)."""
    card = await create_card(client)
    first = await qr_image_url(client, card["uuid"])
    assert first.startswith(f"{PUBLIC_URL}/media/card_qrcodes/1-") and first.endswith(".png")
    assert await qr_image_url(client, card["uuid"]) == first
    resp = await client.patch(f"/admin/cards/{card['uuid']}", json={"name": "Ada Lovelace"}, headers=ADMIN)
    assert resp.status == 200
    assert await qr_image_url(client, card["uuid"]) == first  # the same value is no change
    resp = await client.patch(f"/admin/cards/{card['uuid']}", json={"title": "Countess"}, headers=ADMIN)
    second = await qr_image_url(client, card["uuid"])
    assert second != first and second.startswith(f"{PUBLIC_URL}/media/card_qrcodes/2-")
    old, new = await client.get(local(first)), await client.get(local(second))
    assert old.status == new.status == 200
    assert await old.read() == await new.read()  # the same link, the same design: the same picture
    assert (await client.delete(f"/admin/cards/{card['uuid']}", headers=ADMIN)).status == 204
    for url in (first, second):
        gone = await client.get(local(url))
        assert gone.status == 404
        assert "message" in await gone.json()


async def test_qr_image_is_the_dynamic_link(client: TestClient) -> None:
    """The image is an immutable PNG, EC level M, >= 400 px, encoding <public-url>/q/<code>."""
    card = await create_card(client)
    resp = await client.get(local(await qr_image_url(client, card["uuid"])))
    assert resp.status == 200
    assert resp.content_type == "image/png"
    assert resp.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    etag = resp.headers["ETag"]
    assert etag.startswith('"') and etag.endswith('"')
    png = await resp.read()
    decoded = decode_png(png)
    assert decoded.text.startswith(f"{PUBLIC_URL}/q/")
    assert len(decoded.text) > len(f"{PUBLIC_URL}/q/") + 6
    assert decoded.ec_level == "M"
    assert decoded.size[0] >= 400 and decoded.size[0] == decoded.size[1]
    margins = quiet_zone(png)
    assert all(abs(side - 2) < 0.25 for side in margins), margins  # the 2-module margin


async def test_qr_image_answers_304_for_its_etag(client: TestClient) -> None:
    """If-None-Match with the image's ETag answers 304 with no body."""
    card = await create_card(client)
    path = local(await qr_image_url(client, card["uuid"]))
    etag = (await client.get(path)).headers["ETag"]
    for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        resp = await client.get(path, headers={"If-None-Match": header})
        assert resp.status == 304
        assert await resp.read() == b""
        assert resp.headers["ETag"] == etag
    resp = await client.get(path, headers={"If-None-Match": '"other"'})
    assert resp.status == 200


async def test_retarget_keeps_the_qr_image(client: TestClient) -> None:
    """Retargeting the link changes where it goes, not the printed QR code."""
    card = await create_card(client)
    first = await qr_image_url(client, card["uuid"])
    await client.put(f"/admin/cards/{card['uuid']}/target", json={"url": "https://x.test/"}, headers=ADMIN)
    assert await qr_image_url(client, card["uuid"]) == first


@pytest.mark.parametrize(
    "name", ["1-000000000000000000000000.png", "nonsense", "1-abc.png", "x-000000000000000000000000.png"]
)
async def test_unknown_qr_image_is_404(client: TestClient, name: str) -> None:
    """An unknown or malformed image name answers 404 with a message."""
    resp = await client.get(f"/media/card_qrcodes/{name}")
    assert resp.status == 404
    assert "message" in await resp.json()


async def test_dynamic_link_redirects_to_the_card_page(client: TestClient) -> None:
    """GET /q/<code> answers 302 to the card page by default, uncached."""
    card = await create_card(client)
    link = await dynamic_link(client, card["uuid"])
    resp = await client.get(link, allow_redirects=False)
    assert resp.status == 302
    assert resp.headers["Location"] == card["publicUrl"]
    assert resp.headers["Cache-Control"] == "no-store"


async def test_dynamic_link_to_a_unicode_target_sends_an_ascii_location(client: TestClient) -> None:
    """A target with a non-ASCII host and path redirects with an ASCII URI (punycode, %-escapes)."""
    card = await create_card(client)
    target = "https://exämple.org/päth?q=ü&keep=%2F#frag"
    resp = await client.put(f"/admin/cards/{card['uuid']}/target", json={"url": target}, headers=ADMIN)
    assert (await resp.json())["target"] == target
    resp = await client.get(await dynamic_link(client, card["uuid"]), allow_redirects=False)
    assert resp.status == 302
    location = dict(resp.raw_headers)[b"Location"]
    assert location == b"https://xn--exmple-cua.org/p%C3%A4th?q=%C3%BC&keep=%2F#frag"


async def test_target_whose_host_has_no_ascii_form_is_400(client: TestClient) -> None:
    """A target host that cannot be written in IDNA (an over-long label) is refused with the field."""
    card = await create_card(client)
    url = "https://" + "ä" * 70 + ".org/"
    resp = await client.put(f"/admin/cards/{card['uuid']}/target", json={"url": url}, headers=ADMIN)
    assert resp.status == 400
    assert (await resp.json())["field"] == "url"


async def test_unknown_dynamic_link_is_404(client: TestClient) -> None:
    """An unknown code answers 404 with a message."""
    resp = await client.get("/q/nosuchcode", allow_redirects=False)
    assert resp.status == 404
    assert "message" in await resp.json()


async def test_each_get_counts_one_scan(client: TestClient, clock: FakeClock) -> None:
    """Every GET of the link counts one scan in today's (UTC) bucket."""
    card = await create_card(client)
    link = await dynamic_link(client, card["uuid"])
    for _ in range(3):
        assert (await client.get(link, allow_redirects=False)).status == 302
    assert await counts(client, card["uuid"]) == {"scans": 3, "daily": {"2026-01-01": 3}}


async def test_head_and_link_preview_bots_do_not_count(client: TestClient) -> None:
    """HEAD requests and link-preview bots get the redirect but are not counted."""
    card = await create_card(client)
    link = await dynamic_link(client, card["uuid"])
    resp = await client.head(link, allow_redirects=False)
    assert resp.status == 302
    assert resp.headers["Location"] == card["publicUrl"]
    bots = [
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "Twitterbot/1.0",
        "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
        "WhatsApp/2.23.20.0",
        "TelegramBot (like TwitterBot)",
        "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
        "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "Mozilla/5.0 (Windows NT 6.1; WOW64) SkypeUriPreview Preview/0.5",
        "Mozilla/5.0 (Macintosh) AppleWebKit/605.1.15 (KHTML, like Gecko) Applebot/0.1",
    ]
    for agent in bots:
        resp = await client.get(link, allow_redirects=False, headers={"User-Agent": agent})
        assert resp.status == 302
    assert await counts(client, card["uuid"]) == {"scans": 0, "daily": {}}
    phone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"
    await client.get(link, allow_redirects=False, headers={"User-Agent": phone})
    assert (await stats(client, card["uuid"]))["scans"] == 1


async def test_stats_are_per_utc_day(client: TestClient, clock: FakeClock) -> None:
    """Scans land in the UTC day of the (fake) clock; stats list each day and the total."""
    card = await create_card(client)
    other = await create_card(client, name="Other")
    link = await dynamic_link(client, card["uuid"])
    other_link = await dynamic_link(client, other["uuid"])
    await client.get(link, allow_redirects=False)  # 2026-01-01 00:00 UTC
    await clock.advance(86400 - 1)
    await client.get(link, allow_redirects=False)  # 23:59:59, still the 1st
    await clock.advance(1)
    await client.get(link, allow_redirects=False)  # the 2nd
    await clock.advance(3 * 86400)
    await client.get(link, allow_redirects=False)  # the 5th
    await client.get(other_link, allow_redirects=False)
    assert await counts(client, card["uuid"]) == {
        "scans": 4,
        "daily": {"2026-01-01": 2, "2026-01-02": 1, "2026-01-05": 1},
    }
    assert await counts(client, other["uuid"]) == {"scans": 1, "daily": {"2026-01-05": 1}}


async def test_concurrent_scans_are_all_counted(client: TestClient) -> None:
    """Many scans at once are each counted exactly once."""
    import asyncio

    card = await create_card(client)
    link = await dynamic_link(client, card["uuid"])
    answers = await asyncio.gather(*(client.get(link, allow_redirects=False) for _ in range(25)))
    assert all(r.status == 302 for r in answers)
    assert await counts(client, card["uuid"]) == {"scans": 25, "daily": {"2026-01-01": 25}}
