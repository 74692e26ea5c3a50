"""The operator console (/console) in a real browser: headless Chromium against the real server."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from playwright.async_api import expect

from qrstream.clock import FakeClock
from qrstream.config import Config
from tests.browser import (
    DESKTOP,
    PHONE,
    Live,
    Shots,
    api,
    chromium,
    create_instance,
    decode_element,
    fetch_bytes,
    live_server,
    report_folder,
    watch,
)
from tests.conftest import ADMIN_KEY
from tests.qrdecode import decode_png

pytestmark = pytest.mark.asyncio(loop_scope="module")

LINK_PHONE = "15557654321"
DAY = 86_400.0


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Any]:
    async with chromium() as the_browser:
        yield the_browser


@pytest.fixture(scope="session")
def shots(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Shots]:
    folder = tmp_path_factory.mktemp("console-screenshots")
    yield Shots(folder)
    report_folder(request.config, folder)


@pytest.fixture
def live_config(config: Config) -> Config:
    return config.replace(qr_refresh_s=10.0, qr_scan_timeout_s=60.0)


@pytest_asyncio.fixture(loop_scope="module")
async def live(live_config: Config) -> AsyncIterator[Live]:
    async with live_server(live_config) as server:
        yield server


class Seen:
    """Every URL the page requested (the admin key must be in none)."""

    def __init__(self, page: Any) -> None:
        self.urls: list[str] = []
        page.on("request", lambda request: self.urls.append(request.url))
        page.on("websocket", lambda ws: self.urls.append(ws.url))


IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko)"
    " Version/17.4 Mobile/15E148 Safari/604.1"
)
DESKTOP_CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/124.0.0.0 Safari/537.36"
)
SLACKBOT = "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)"


async def scan(link: str, agent: str = IPHONE, referer: str | None = None) -> int:
    """Follow a card's dynamic link as a phone would (the redirect not followed): the status."""
    headers = {"User-Agent": agent, **({"Referer": referer} if referer else {})}
    async with (
        aiohttp.ClientSession() as session,
        session.get(link, allow_redirects=False, headers=headers) as response,
    ):
        return response.status


async def sign_in(page: Any, live: Live, key: str = ADMIN_KEY) -> None:
    await page.goto(f"{live.url}/console")
    await page.get_by_label("Admin key").fill(key)
    await page.get_by_role("button", name="Sign in").click()


async def signed_in(browser: Any, live: Live, viewport: dict[str, int] = DESKTOP) -> Any:
    """A new page, signed in, with its event stream live."""
    page = await browser.new_page(viewport=viewport)
    await sign_in(page, live)
    await expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    return page


async def test_sign_in_keeps_the_key_in_session_storage_only(browser: Any, live: Live, shots: Shots) -> None:
    """A wrong key says so; the right one opens the console (stream live); the key is in
    sessionStorage and in no URL, cookie or localStorage; signing out forgets it."""
    context = await browser.new_context(viewport=DESKTOP)
    page = await context.new_page()
    seen = Seen(page)
    watched = watch(page, allow=("status of 401",))  # the refused key's request, as the browser logs it
    await sign_in(page, live, key="not-the-key")
    await expect(page.locator("#admin-key-error")).to_have_text("That admin key is wrong.")
    await expect(page.get_by_label("Admin key")).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#status")).to_contain_text("wrong")
    assert await page.evaluate("sessionStorage.length") == 0
    await shots.take(page, "console-wrong-key")

    await page.get_by_label("Admin key").fill(ADMIN_KEY)
    await page.keyboard.press("Enter")
    await expect(page.locator("#console")).to_be_visible()
    await expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    await expect(page.locator("#connection")).to_have_text("Live")
    assert await page.evaluate("sessionStorage.getItem('qrstream.adminKey')") == ADMIN_KEY
    assert await page.evaluate("localStorage.length") == 0
    assert await page.evaluate("document.cookie") == ""
    assert await context.cookies() == []
    assert seen.urls and not [url for url in seen.urls if ADMIN_KEY in url]
    assert ADMIN_KEY not in page.url
    await shots.take(page, "console-signed-in")

    await page.reload()  # the tab keeps its session
    await expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_label("Admin key")).to_be_visible()
    await expect(page.locator("#connection")).to_have_text("Not signed in")
    assert await page.evaluate("sessionStorage.length") == 0
    assert not [url for url in seen.urls if ADMIN_KEY in url]
    watched.check()
    await context.close()


async def test_an_instance_made_through_the_api_appears_and_turns_authorized_live(
    browser: Any, live: Live, shots: Shots
) -> None:
    """A new instance shows up by itself; its QR (read off the screen) links it, and the badge says
    authorized within 3 s of the link, with no reload."""
    page = await signed_in(browser, live)
    watched = watch(page)
    instance_id, _token = await create_instance(live.url)
    row = page.locator(f"#instance-list li[data-id='{instance_id}']")
    await expect(row).to_be_visible()
    await expect(row.locator(".badge")).to_have_attribute("data-state", "notAuthorized")

    await row.get_by_role("button", name=f"Open instance {instance_id}").click()
    await expect(page.locator("#instance-qr-box")).to_be_visible()
    await expect(page.locator("#instance-qr")).to_have_attribute(
        "src", re.compile(r"^data:image/png;base64,")
    )
    decoded = await decode_element(page.locator("#instance-qr"))
    assert decoded.text.startswith(f"{live.url}/link/"), decoded.text
    await shots.take(page, "console-instance-waiting")

    linked_at = time.monotonic()
    status, body = await api("POST", decoded.text, json={"phone": LINK_PHONE})
    assert status == 200, body
    await expect(row.locator(".badge")).to_have_attribute("data-state", "authorized", timeout=3000)
    assert time.monotonic() - linked_at <= 3.0
    await expect(row.locator(".badge")).to_have_text("authorized")
    await expect(page.locator("#instance-state")).to_have_text("authorized")
    await expect(page.locator("#instance-wid")).to_have_text(f"+{LINK_PHONE}")
    await expect(page.locator("#instance-qr-box")).to_be_hidden()
    await expect(page.locator("#status")).to_contain_text(f"Instance {instance_id} is now authorized")
    await shots.take(page, "console-instance-authorized")
    watched.check()
    await page.close()


async def test_copy_pairing_link_gives_a_watch_only_link(browser: Any, live: Live, shots: Shots) -> None:
    """ "Copy pairing link" makes a §9 link, puts it on the clipboard and in a field; the link opens
    the pairing page (and is no instance token)."""
    context = await browser.new_context(viewport=DESKTOP)
    await context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live.url)
    page = await context.new_page()
    watched = watch(page)
    await sign_in(page, live)
    await expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    instance_id, token = await create_instance(live.url)
    row = page.locator(f"#instance-list li[data-id='{instance_id}']")
    await row.get_by_role("button", name=f"Open instance {instance_id}").click()
    await page.get_by_role("button", name="Copy pairing link").click()
    await expect(page.locator("#status")).to_contain_text(f"Pairing link of instance {instance_id} copied")
    link = await page.get_by_label("Pairing link").input_value()
    assert re.fullmatch(rf"{re.escape(live.url)}/p/[^/]+", link), link
    assert token not in link
    assert await page.evaluate("navigator.clipboard.readText()") == link
    await expect(page.get_by_label("Pairing link")).to_be_focused()
    status, _ = await fetch_bytes(link)
    assert status == 200
    await shots.take(page, "console-pairing-link")
    watched.check()
    await context.close()


async def test_delete_asks_first_and_the_row_goes(browser: Any, live: Live) -> None:
    """Delete opens a confirmation; Cancel keeps the instance, Delete removes it (API and list)."""
    page = await signed_in(browser, live)
    watched = watch(page)
    instance_id, _ = await create_instance(live.url)
    row = page.locator(f"#instance-list li[data-id='{instance_id}']")
    await row.get_by_role("button", name=f"Delete instance {instance_id}").click()
    dialog = page.locator("#confirm")
    await expect(dialog).to_be_visible()
    await expect(page.locator("#confirm-cancel")).to_be_focused()
    await page.keyboard.press("Enter")  # Cancel has the focus
    await expect(dialog).to_be_hidden()
    assert (await api("GET", f"{live.url}/admin/instances/{instance_id}", admin=True))[0] == 200
    await row.get_by_role("button", name=f"Delete instance {instance_id}").click()
    await page.locator("#confirm-ok").click()
    await expect(row).to_have_count(0)
    assert (await api("GET", f"{live.url}/admin/instances/{instance_id}", admin=True))[0] == 404
    watched.check()
    await page.close()


async def test_a_card_made_in_the_page_shows_field_errors_and_a_readable_qr(
    browser: Any, live: Live, shots: Shots
) -> None:
    """New card with an empty name: the API's error shows beside the name field. With a name it is
    made; its QR code, read off the screen, holds the card's dynamic link."""
    page = await signed_in(browser, live)
    watched = watch(page, allow=("status of 400",))  # the refused create, as the browser logs it
    await page.get_by_role("button", name="Cards").click()
    await page.get_by_role("button", name="New card").click()
    await expect(page.get_by_label("Name", exact=True)).to_be_focused()
    await page.get_by_label("Company", exact=True).fill("Analytical Engines")
    await page.get_by_role("button", name="Create card").click()
    error = page.locator("#card-form-name-error")
    await expect(error).to_be_visible()
    await expect(error).to_have_text("The name field is required.")
    await expect(page.get_by_label("Name", exact=True)).to_have_attribute("aria-invalid", "true")
    await expect(page.get_by_label("Name", exact=True)).to_be_focused()
    await shots.take(page, "console-card-name-error")

    await page.get_by_label("Name", exact=True).fill("Ada Lovelace")
    await page.get_by_label("Email", exact=True).fill("not an address")
    await page.get_by_role("button", name="Create card").click()
    await expect(page.locator("#card-form-email-error")).to_have_text(
        "The email field must be a valid email address."
    )
    await expect(page.locator("#card-form-name-error")).to_be_hidden()
    await page.get_by_label("Email", exact=True).fill("ada@example.com")
    await page.get_by_role("button", name="Create card").click()
    await expect(page.locator("#card-detail-title")).to_have_text("Card: Ada Lovelace")
    await expect(page.locator("#card-list li .row-name")).to_have_text(["Ada Lovelace"])
    await expect(page.locator("#card-qr")).to_have_attribute(
        "src", re.compile(r"/media/card_qrcodes/.+\.png")
    )
    decoded = await decode_element(page.locator("#card-qr"))
    assert decoded.text.startswith(f"{live.url}/q/"), decoded.text

    status, page_of_cards = await api("GET", f"{live.url}/admin/cards?q=ada", admin=True)
    assert status == 200 and [c["name"] for c in page_of_cards["items"]] == ["Ada Lovelace"]
    uuid = page_of_cards["items"][0]["uuid"]
    await page.get_by_label("Where the QR code leads").fill("https://example.org/ada")
    await page.get_by_role("button", name="Save target").click()
    await expect(page.locator("#status")).to_contain_text("now leads to https://example.org/ada")
    status, card = await api("GET", f"{live.url}/admin/cards/{uuid}", admin=True)
    assert card["target"] == "https://example.org/ada"

    await page.get_by_label("Title", exact=True).fill("Countess")
    await page.get_by_role("button", name="Save changes").click()
    await expect(page.locator("#status")).to_contain_text("saved")
    status, card = await api("GET", f"{live.url}/admin/cards/{uuid}", admin=True)
    assert card["title"] == "Countess" and card["company"] == "Analytical Engines"
    await shots.take(page, "console-card", full_page=True)
    watched.check()
    await page.close()


async def test_the_qr_design_refuses_poor_contrast_before_saving_and_downloads(
    browser: Any, live: Live, shots: Shots
) -> None:
    """Colours a camera cannot read are refused in the page, before anything is sent; a good design
    is saved (PUT …/design), shown, read off the screen, and downloadable as PNG and SVG."""
    status, card = await api("POST", f"{live.url}/admin/cards", admin=True, json={"name": "Design Card"})
    assert status == 201
    page = await signed_in(browser, live)
    watched = watch(page)
    puts: list[str] = []
    page.on("request", lambda r: puts.append(r.url) if r.method == "PUT" else None)
    await page.get_by_role("button", name="Cards", exact=True).click()
    await page.get_by_role("button", name="Open card Design Card").click()
    contrast = page.locator("#design-contrast")
    await expect(contrast).to_have_text("Contrast 21.00:1: readable.")

    await page.get_by_label("Dark colour").fill("#bbbbbb")  # 1.9:1 on white
    await expect(contrast).to_contain_text("Refused: the contrast is 1.92:1")
    await expect(contrast).to_have_attribute("data-ok", "false")
    await expect(page.get_by_label("Dark colour")).to_have_attribute("aria-invalid", "true")
    await page.get_by_label("Dark colour").fill("#ffffff")
    await page.get_by_label("Light colour").fill("#000000")  # inverted: dark lighter than light
    await expect(contrast).to_contain_text("the dark colour must be darker than the light one")
    await page.get_by_role("button", name="Save design").click()
    await expect(page.locator("#status")).to_contain_text("Design not saved")
    assert puts == []  # refused in the page: nothing was sent
    await shots.take(page, "console-design-refused")

    await page.get_by_label("Dark colour").fill("#1a3d8f")
    await page.get_by_label("Light colour").fill("#fff4d6")
    await page.get_by_label("Error correction").select_option("Q")
    await expect(contrast).to_have_attribute("data-ok", "true")
    await expect(page.locator("#card-qr-caption")).to_have_text(
        "Preview of the design below (not saved yet)."
    )
    await page.get_by_role("button", name="Save design").click()
    await expect(page.locator("#status")).to_contain_text("Design of “Design Card” saved.")
    assert [url for url in puts if url.endswith(f"/admin/cards/{card['uuid']}/design")], puts
    status, saved = await api("GET", f"{live.url}/admin/cards/{card['uuid']}", admin=True)
    assert saved["design"] == {"dark": "1a3d8f", "light": "fff4d6", "margin": 2, "ecc": "Q"}
    await expect(page.locator("#card-qr-caption")).to_have_text("The card's QR code as it is served.")
    decoded = await decode_element(page.locator("#card-qr"))
    assert decoded.text.startswith(f"{live.url}/q/") and decoded.ec_level == "Q", decoded

    png_href = await page.locator("#card-download-png").get_attribute("href")
    svg_href = await page.locator("#card-download-svg").get_attribute("href")
    assert png_href and svg_href
    assert await page.locator("#card-download-svg").get_attribute("download") == "design-card-qr.svg"
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{live.url}{png_href}" if png_href.startswith("/") else png_href) as resp:
            assert resp.status == 200 and resp.content_type == "image/png"
            assert decode_png(await resp.read()).text == decoded.text
        async with http.get(f"{live.url}{svg_href}" if svg_href.startswith("/") else svg_href) as resp:
            assert resp.status == 200 and resp.content_type == "image/svg+xml"
            assert "1a3d8f" in (await resp.text()).lower()
    await shots.take(page, "console-design-saved", full_page=True)
    watched.check()
    await page.close()


async def test_the_card_search_filters_the_list(browser: Any, live: Live) -> None:
    """Typing in the search box keeps the cards whose name contains the text, ignoring case."""
    for name in ("Grace Hopper", "Alan Turing", "grace kelly"):
        status, _ = await api("POST", f"{live.url}/admin/cards", admin=True, json={"name": name})
        assert status == 201
    page = await signed_in(browser, live)
    watched = watch(page)
    await page.get_by_role("button", name="Cards").click()
    names = page.locator("#card-list li .row-name")
    await expect(names).to_have_text(["grace kelly", "Alan Turing", "Grace Hopper"])
    await page.get_by_label("Search cards by name").fill("GRACE")
    await expect(names).to_have_text(["grace kelly", "Grace Hopper"])
    await page.get_by_label("Search cards by name").fill("zzz")
    await expect(names).to_have_count(0)
    await expect(page.locator("#card-empty")).to_contain_text("zzz")
    watched.check()
    await page.close()


async def test_the_chart_has_one_bar_per_day_with_scans_and_counts_go_up_live(
    browser: Any, live_config: Config, shots: Shots
) -> None:
    """Scans on three of four days (the server's clock moved a day at a time): the chart has three
    bars, one per day with scans, each with its count; a new scan shows in the list at once."""
    clock = FakeClock()
    async with live_server(live_config, clock=clock) as live:
        status, card = await api("POST", f"{live.url}/admin/cards", admin=True, json={"name": "Chart Card"})
        assert status == 201
        status, made = await api("POST", f"{live.url}/v1/public/card/{card['uuid']}/qr-code")
        _, png = await fetch_bytes(made["url"])
        link = decode_png(png).text
        per_day = [2, 0, 3, 1]
        for count in per_day:
            for n in range(count):
                agent, referer = (
                    (IPHONE, None) if n % 2 == 0 else (DESKTOP_CHROME, "https://news.example.org/a")
                )
                assert await scan(link, agent, referer) == 302
            await clock.advance(DAY)
        assert await scan(link, SLACKBOT) == 302  # a link preview: a bot, not a scan
        page = await signed_in(browser, live)
        watched = watch(page)
        await page.get_by_role("button", name="Cards").click()
        row = page.locator(f"#card-list li[data-uuid='{card['uuid']}']")
        await expect(row.locator(".scans")).to_have_text("6 scans")
        await row.get_by_role("button", name="Open card Chart Card").click()
        bars = page.locator("#card-chart-svg rect.bar")
        await expect(bars).to_have_count(3)
        status, stats = await api("GET", f"{live.url}/admin/cards/{card['uuid']}/stats", admin=True)
        days = sorted(day for day, n in stats["daily"].items() if n > 0)
        assert len(days) == 3
        assert [await bar.get_attribute("data-day") for bar in await bars.all()] == days
        assert [await bar.get_attribute("data-count") for bar in await bars.all()] == ["2", "3", "1"]
        heights = [float(await bar.get_attribute("height") or 0) for bar in await bars.all()]
        assert heights[1] > heights[0] > heights[2] > 0
        await expect(page.locator("#card-stats-summary")).to_contain_text("6 scans")
        breakdowns = page.locator("#card-breakdowns")
        for key, name in (("devices", "mobile"), ("devices", "desktop"), ("referrers", "news.example.org")):
            assert stats[key][name] > 0, stats
            cell = breakdowns.locator(f"[data-breakdown='{key}'] tr", has_text=name)
            await expect(cell.locator("td")).to_have_text(str(stats[key][name]))
        assert sum(stats["bots"].values()) == 1, stats["bots"]
        [bot] = stats["bots"]
        await expect(
            breakdowns.locator("[data-breakdown='bots'] tr", has_text=bot).locator("td")
        ).to_have_text("1")
        await page.locator("#card-chart-svg").scroll_into_view_if_needed()
        await shots.take(page, "console-card-chart", full_page=True)

        assert await scan(link) == 302  # a scan today, while the page is open
        await expect(row.locator(".scans")).to_have_text("7 scans")
        await expect(page.locator("#card-stats-summary")).to_contain_text("7 scans")
        await expect(bars).to_have_count(4)
        watched.check()
        await page.close()


async def test_verifications_by_status_live(browser: Any, live: Live) -> None:
    """The verifications list filters by status and follows changes as they happen."""
    page = await signed_in(browser, live)
    watched = watch(page)
    await page.get_by_role("button", name="Verifications").click()
    status, made = await api("POST", f"{live.url}/api/generate-verification", sdk=True, json={})
    assert status == 201
    vid = made["verificationId"]
    row = page.locator(f"#verification-list li[data-id='{vid}']")
    await expect(row.locator(".badge")).to_have_text("generated")
    status, _ = await api("POST", f"{live.url}/api/verification/{vid}/start", json={})
    assert status == 200
    await expect(row.locator(".badge")).to_have_text("in_progress")
    await page.get_by_label("Status").select_option("generated")
    await expect(row).to_have_count(0)
    await page.get_by_label("Status").select_option("in_progress")
    await expect(row).to_have_count(1)
    watched.check()
    await page.close()


async def test_lists_page_on_with_load_more(browser: Any, live: Live) -> None:
    """A list longer than a page shows 50 and a "Load more" button; pressing it brings the rest,
    each once, and the button goes."""
    made = []
    for _ in range(60):
        status, answer = await api("POST", f"{live.url}/api/generate-verification", sdk=True, json={})
        assert status == 201
        made.append(answer["verificationId"])
    page = await signed_in(browser, live)
    watched = watch(page)
    await page.get_by_role("button", name="Verifications").click()
    rows = page.locator("#verification-list li")
    more = page.get_by_role("button", name="Load more verifications")
    await expect(rows).to_have_count(50)
    while await more.is_visible():
        shown = await rows.count()
        await more.click()
        await expect(rows).not_to_have_count(shown)
    ids = await rows.evaluate_all("(items) => items.map((li) => li.dataset.id)")
    assert len(ids) == len(set(ids))
    assert set(made) <= set(ids)
    watched.check()
    await page.close()


async def test_failed_webhooks_show_up_live_with_their_reason(
    browser: Any, live_config: Config, shots: Shots
) -> None:
    """A delivery refused for its destination appears in the failed list by itself, with its reason."""
    async with live_server(live_config.replace(webhook_allow_private=False)) as live:
        page = await signed_in(browser, live)
        watched = watch(page)
        await page.get_by_role("button", name="Failed webhooks").click()
        await expect(page.locator("#webhook-empty")).to_be_visible()
        url = "http://localhost:9/hook"
        status, made = await api("POST", f"{live.url}/admin/instances", admin=True, json={"webhookUrl": url})
        assert status == 201, made
        instance = (made["idInstance"], made["apiTokenInstance"])
        status, _ = await api("GET", f"{live.url}/waInstance{instance[0]}/reboot/{instance[1]}")
        assert status == 200
        row = page.locator("#webhook-list li").first
        await expect(row.locator(".url")).to_have_text(url)
        await expect(row.locator(".reason")).to_have_text("destination not allowed")
        await expect(row).to_contain_text(f"stateInstanceChanged of instance {instance[0]}, 1 try")
        await expect(page.locator("#status")).to_contain_text(f"A webhook to {url} was given up")
        await shots.take(page, "console-failed-webhooks")
        watched.check()
        await page.close()


async def test_the_console_fits_a_phone_and_works_with_the_keyboard(
    browser: Any, live: Live, shots: Shots
) -> None:
    """At 375 px nothing scrolls sideways in any section; sign-in and the sections are reachable with Tab."""
    await create_instance(live.url)
    page = await browser.new_page(viewport=PHONE)
    watched = watch(page)
    await page.goto(f"{live.url}/console")
    await expect(page.get_by_label("Admin key")).to_be_focused()  # the page starts there
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("button", name="Sign in")).to_be_focused()
    await page.keyboard.press("Shift+Tab")
    await page.keyboard.type(ADMIN_KEY)
    await page.keyboard.press("Enter")
    await expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    for section in ("Instances", "Cards", "Verifications", "Failed webhooks"):
        button = page.get_by_role("button", name=section, exact=True)
        await button.focus()
        await page.keyboard.press("Enter")
        await expect(button).to_have_attribute("aria-current", "page")
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{section} scrolls sideways ({width} px)"
        await shots.take(page, f"console-phone-{section.lower().replace(' ', '-')}", full_page=True)
    outline = await page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"  # the focus ring shows
    await page.get_by_role("button", name="Cards", exact=True).click()
    await page.get_by_role("button", name="New card").click()
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"]
    watched.check()
    await page.close()


async def test_the_console_says_when_the_server_is_away_and_comes_back(
    browser: Any, live_config: Config
) -> None:
    """The server stops: the page says so; it starts again on the same port: the stream is live again."""
    async with live_server(live_config) as first:
        port = first.config.port
        page = await signed_in(browser, first)
        watched = watch(page, allow=("ERR_CONNECTION_REFUSED", "WebSocket connection"))
    # The server is gone now (its websockets were closed with 1001).
    await expect(page.locator("#connection")).not_to_have_attribute("data-state", "live")
    await expect(page.locator("#offline")).to_be_visible(timeout=15_000)
    await expect(page.locator("#offline")).to_contain_text("not answering")
    async with live_server(live_config, port=port) as again:
        await expect(page.locator("#connection")).to_have_attribute("data-state", "live", timeout=20_000)
        await expect(page.locator("#offline")).to_be_hidden()
        instance_id, _ = await create_instance(again.url)
        await expect(page.locator(f"#instance-list li[data-id='{instance_id}']")).to_be_visible()
        watched.check()
        await page.close()
    await asyncio.sleep(0)
