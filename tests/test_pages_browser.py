"""The pages in a real browser: headless Chromium against the real server on a real port."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import pytest_asyncio
from playwright.async_api import expect

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
from tests.liveserver import LiveServer, base_env
from tests.qrdecode import decode_as, decode_png

# One browser for the module (launching one costs a second or more); each page has its own context.
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Any]:
    async with chromium() as the_browser:
        yield the_browser


@pytest.fixture(scope="session")
def shots(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Shots]:
    folder = tmp_path_factory.mktemp("page-screenshots")
    yield Shots(folder)
    report_folder(request.config, folder)


@pytest.fixture
def live_config(config: Config) -> Config:
    """The test config for real time. The rotation is slow so that a scanned code outlives a loaded
    machine's page loads; the test of the rotation itself makes it fast."""
    return config.replace(qr_refresh_s=10.0, qr_scan_timeout_s=60.0)


@pytest_asyncio.fixture(loop_scope="module")
async def live(live_config: Config) -> AsyncIterator[Live]:
    async with live_server(live_config) as server:
        yield server


async def test_pair_page_loads_clean_at_phone_and_desktop_sizes(
    browser: Any, live: Live, shots: Shots
) -> None:
    """/pair renders its labelled form with no console errors or CSP violations on a phone and a desktop."""
    for name, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        page = await browser.new_page(viewport=viewport)
        watched = watch(page)
        response = await page.goto(f"{live.url}/pair")
        assert response is not None and response.status == 200
        assert "script-src 'self'" in response.headers["content-security-policy"]
        await expect(page.get_by_label("Instance id")).to_be_visible()
        await expect(page.get_by_label("API token")).to_be_visible()
        await expect(page.get_by_role("button", name="Show the QR code")).to_be_visible()
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= viewport["width"], "the page scrolls sideways"
        await shots.take(page, f"pair-form-{name}", full_page=True)
        watched.check()
        await page.close()


async def test_pair_form_is_usable_with_the_keyboard_alone(browser: Any, live: Live) -> None:
    """Tab reaches the fields and the button in order; empty says what is missing; filled shows the QR."""
    instance = await create_instance(live.url)
    page = await browser.new_page(viewport=PHONE)
    watched = watch(page)
    await page.goto(f"{live.url}/pair")
    order = []
    for _ in range(4):
        await page.keyboard.press("Tab")
        order.append(await page.evaluate("document.activeElement.id || document.activeElement.textContent"))
    assert order[1:] == ["instance-id", "instance-token", "connect"], order
    await page.keyboard.press("Enter")
    await expect(page.locator("#id-error")).to_be_visible()
    await expect(page.locator("#instance-id")).to_be_focused()
    await expect(page.locator("#instance-id")).to_have_attribute("aria-invalid", "true")
    await page.keyboard.type(str(instance[0]))
    await page.keyboard.press("Tab")
    await page.keyboard.type(instance[1])
    await page.keyboard.press("Enter")
    await expect(page.locator("#main")).to_have_attribute("data-state", "waiting")
    assert (await decode_element(page.locator("#qr"))).text.startswith(f"{live.url}/link/")
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("button", name="Use other credentials")).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page.locator("#credentials")).to_be_visible()
    await expect(page.locator("#instance-id")).to_be_focused()
    watched.check()


async def verification_link(live: Live) -> tuple[str, str]:
    """A new verification and the portal link its QR code holds (decoded from the PNG)."""
    status, body = await api(
        "POST", f"{live.url}/api/generate-verification", sdk=True, json={"extra_data": {"who": "ada"}}
    )
    assert status == 201, body
    vid = body["verificationId"]
    qr_status, png = await fetch_bytes(f"{live.url}/api/get-verification-qrcode/{vid}", sdk=True)
    assert qr_status == 200
    link = decode_png(png).text
    assert link == body["url"] == f"{live.url}/verify?verification_id={vid}"
    return vid, link


async def verification_status(live: Live, vid: str) -> str:
    _, details = await api("GET", f"{live.url}/api/get-verification-details/{vid}", sdk=True)
    return str(details["status"])


async def test_verify_portal_approve_path(browser: Any, live: Live, shots: Shots) -> None:
    """The portal opened from a verification's QR waits for Start (keyboard); Approve completes it."""
    vid, link = await verification_link(live)
    page = await browser.new_page(viewport=PHONE)
    watched = watch(page)
    await page.goto(link)
    await expect(page.locator("#main")).to_have_attribute("data-state", "idle")
    await page.get_by_role("button", name="Start verification").focus()
    await page.keyboard.press("Enter")
    await expect(page.locator("#main")).to_have_attribute("data-state", "ready")
    await expect(page.get_by_role("button", name="Approve")).to_be_focused()
    await shots.take(page, "verify-ready")
    await page.keyboard.press("Enter")
    await expect(page.locator("#status")).to_contain_text("Verification approved.")
    await shots.take(page, "verify-approved")
    assert await verification_status(live, vid) == "completed"
    watched.check()


COMPLETE_WITHOUT_TOKEN = """async (id) => (await fetch(`/api/verification/${id}/complete`, {
    method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify({result: "approved"})
})).status"""


async def test_verify_portal_waits_for_a_person_and_only_its_tab_finishes(
    browser: Any, live: Live, shots: Shots
) -> None:
    """Opening the portal (its script running) changes nothing until Start is pressed; the tab that
    started resumes after a reload and approves; a second browser opening the link cannot finish it."""
    vid, link = await verification_link(live)
    first = await browser.new_context(viewport=PHONE)
    page = await first.new_page()
    watched = watch(page)
    posts: list[str] = []
    page.on("request", lambda request: posts.append(request.url) if request.method == "POST" else None)
    await page.goto(link)
    await expect(page.locator("#main")).to_have_attribute("data-state", "idle")
    await page.wait_for_load_state("networkidle")  # the script has run and has nothing more to send
    await expect(page.locator("#status")).to_have_text("Press Start verification when you are ready.")
    assert posts == []
    assert await verification_status(live, vid) == "generated"
    await shots.take(page, "verify-idle")

    await page.get_by_role("button", name="Start verification").click()
    await expect(page.locator("#main")).to_have_attribute("data-state", "ready")
    assert await verification_status(live, vid) == "in_progress"
    await page.reload()
    await expect(page.locator("#main")).to_have_attribute("data-state", "ready")
    await expect(page.locator("#status")).to_have_text("Verification resumed. Choose Approve or Decline.")

    second = await browser.new_context(viewport=PHONE)
    other = await second.new_page()
    # Chromium logs each refused fetch (409, 403) as a console error: those are expected here.
    other_watched = watch(other, allow=("status of 409", "status of 403"))
    await other.goto(link)
    await expect(other.locator("#main")).to_have_attribute("data-state", "idle")
    await other.get_by_role("button", name="Start verification").click()
    await expect(other.locator("#main")).to_have_attribute("data-state", "elsewhere")
    await expect(other.locator("#status")).to_contain_text("started in another browser")
    await expect(other.locator("#decision")).to_be_hidden()
    await shots.take(other, "verify-elsewhere")
    assert await other.evaluate(COMPLETE_WITHOUT_TOKEN, vid) == 403
    assert await verification_status(live, vid) == "in_progress"
    other_watched.check()

    await page.get_by_role("button", name="Approve").click()
    await expect(page.locator("#status")).to_contain_text("Verification approved.")
    assert await verification_status(live, vid) == "completed"
    assert await page.evaluate("window.sessionStorage.length") == 0  # the token is gone once used
    watched.check()
    await first.close()
    await second.close()


async def open_pair(browser: Any, live: Live, instance: tuple[int, str], viewport: dict[str, int]) -> Any:
    """The pairing page of `instance`, credentials in the fragment; waits for the first QR code."""
    page = await browser.new_page(viewport=viewport)
    page.requested = []  # every URL the page asked for
    page.on("request", lambda request: page.requested.append(request.url))
    await page.goto(f"{live.url}/pair#id={instance[0]}&token={instance[1]}")
    await expect(page.locator("#main")).to_have_attribute("data-state", "waiting")
    return page


async def test_pair_page_shows_the_live_qr_and_pairs_through_the_phone_page(
    browser: Any, live: Live, shots: Shots
) -> None:
    """The QR on /pair leads the phone to /link/<code>; confirming there authorizes the page within 2 s."""
    instance = await create_instance(live.url)
    page = await open_pair(browser, live, instance, DESKTOP)
    watched = watch(page)
    assert "#" not in page.url and instance[1] not in page.url, "the fragment stays in the address bar"
    await expect(page.locator("#status")).to_have_text(re.compile("Waiting for a scan"))
    await expect(page.locator("#countdown")).to_have_text(re.compile(r"Next code in \d+ s|any moment"))
    assert await page.locator("#qr").get_attribute("alt"), "the QR has no text alternative"
    decoded = await decode_element(page.locator("#qr"))
    assert decoded.text.startswith(f"{live.url}/link/"), decoded.text
    await shots.take(page, "pair-waiting-desktop")
    phone = await browser.new_page(viewport=PHONE)
    phone_watched = watch(phone)
    await phone.goto(decoded.text)
    await expect(phone.locator("#code")).to_have_count(0)
    await phone.get_by_label("Phone number").fill("+1 555 123 4567")
    await phone.get_by_role("button", name="Link").click()
    await expect(phone.locator("#status")).to_contain_text("+15551234567")
    await shots.take(phone, "link-linked-phone")
    await expect(page.locator("#status")).to_have_text("Authorized as +15551234567", timeout=2000)
    await expect(page.locator("#qr-box")).to_be_hidden()
    await expect(page.get_by_role("button", name="Log out")).to_be_focused()
    await shots.take(page, "pair-authorized")
    assert page.requested[0] == f"{live.url}/pair", "the fragment reached the server"
    assert not [url for url in page.requested if instance[1] in urlsplit(url).query]
    watched.check()
    phone_watched.check()


async def test_log_out_starts_a_new_pairing(browser: Any, live: Live) -> None:
    """Log out on an authorized instance logs it out and shows a fresh QR code at once."""
    instance = await create_instance(live.url)
    await authorize(live, instance, 4915112345678)
    page = await browser.new_page(viewport=PHONE)
    watched = watch(page)
    await page.goto(f"{live.url}/pair#id={instance[0]}&token={instance[1]}")
    await expect(page.locator("#status")).to_have_text("Authorized as +4915112345678")
    await page.keyboard.press("Enter")  # focus is on Log out
    await expect(page.locator("#main")).to_have_attribute("data-state", "waiting")
    decoded = await decode_element(page.locator("#qr"))
    assert decoded.text.startswith(f"{live.url}/link/")
    _, state = await api("GET", f"{live.url}/waInstance{instance[0]}/getStateInstance/{instance[1]}")
    assert state == {"stateInstance": "notAuthorized"}
    watched.check()


async def test_the_qr_changes_after_a_refresh(browser: Any, live_config: Config, shots: Shots) -> None:
    """A new frame replaces the QR (a new /link/ code) and the countdown restarts from the learnt period."""
    async with live_server(live_config.replace(qr_refresh_s=1.0)) as live:
        instance = await create_instance(live.url)
        page = await open_pair(browser, live, instance, PHONE)
        watched = watch(page)
        first = await decode_element(page.locator("#qr"))
        source = await page.locator("#qr").get_attribute("src")
        await page.wait_for_function("s => document.getElementById('qr').src !== s", arg=source, timeout=3000)
        second = await decode_element(page.locator("#qr"))
        assert first.text != second.text
        assert second.text.startswith(f"{live.url}/link/")
        # After three frames the page knows the period is 1 s.
        for _ in range(2):
            source = await page.locator("#qr").get_attribute("src")
            await page.wait_for_function(
                "s => document.getElementById('qr').src !== s", arg=source, timeout=3000
            )
        await expect(page.locator("#countdown")).to_have_text(re.compile(r"Next code in [12] s|any moment"))
        await shots.take(page, "pair-waiting-phone")
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"]
        watched.check()


async def test_wrong_credentials_say_so_and_do_not_retry(browser: Any, live: Live, shots: Shots) -> None:
    """A wrong token shows "Wrong instance id or token", back on the form, with no websocket attempt."""
    instance_id, _ = await create_instance(live.url)
    page = await browser.new_page(viewport=PHONE)
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    await page.goto(f"{live.url}/pair#id={instance_id}&token={'0' * 50}")
    await expect(page.locator("#status")).to_contain_text("Wrong instance id or token")
    await expect(page.locator("#credentials")).to_be_visible()
    await expect(page.locator("#instance-id")).to_be_focused()
    await shots.take(page, "pair-bad-credentials")
    assert sockets == []


async def test_timeout_offers_a_new_qr(browser: Any, live_config: Config, shots: Shots) -> None:
    """After the scan timeout the page says so and "Get a new QR" (keyboard) starts again."""
    async with live_server(live_config.replace(qr_scan_timeout_s=1.5)) as live:
        instance = await create_instance(live.url)
        page = await open_pair(browser, live, instance, PHONE)
        watched = watch(page)
        await expect(page.locator("#main")).to_have_attribute("data-state", "timeout", timeout=4000)
        await expect(page.locator("#status")).to_contain_text("Timed out")
        await expect(page.locator("#qr-box")).to_be_hidden()
        await expect(page.get_by_role("button", name="Get a new QR")).to_be_focused()
        await shots.take(page, "pair-timeout")
        await page.keyboard.press("Enter")
        await expect(page.locator("#main")).to_have_attribute("data-state", "waiting")
        assert (await decode_element(page.locator("#qr"))).text.startswith(f"{live.url}/link/")
        watched.check()


async def test_keyboard_only_pairing_with_a_code_on_the_link_page(
    browser: Any, live: Live, shots: Shots
) -> None:
    """With a code from getAuthorizationCode, /link is filled and sent with the keyboard alone."""
    instance = await create_instance(live.url)
    page = await open_pair(browser, live, instance, DESKTOP)
    status, body = await api(
        "POST",
        f"{live.url}/waInstance{instance[0]}/getAuthorizationCode/{instance[1]}",
        json={"phoneNumber": 447700900123},
    )
    assert status == 200 and body["status"] is True, body
    phone = await browser.new_page(viewport=PHONE)
    watched = watch(phone)
    await phone.goto(f"{live.url}/link")
    await tab_to(phone, "code")
    await phone.keyboard.type(body["code"])
    await tab_to(phone, "phone")
    await phone.keyboard.type("447700900123")
    await shots.take(phone, "link-code-filled")
    await phone.keyboard.press("Enter")
    await expect(phone.locator("#status")).to_contain_text("+447700900123")
    await expect(page.locator("#status")).to_have_text("Authorized as +447700900123")
    watched.check()


async def test_link_page_messages_for_a_used_code_and_a_bad_phone(browser: Any, live: Live) -> None:
    """/link/<code> says a used code has expired (410) and explains a bad phone number (400)."""
    instance = await create_instance(live.url)
    pair = await open_pair(browser, live, instance, DESKTOP)
    link = (await decode_element(pair.locator("#qr"))).text
    phone = await browser.new_page(viewport=PHONE)
    watched = watch(phone, allow=("status of 400", "status of 410"))
    await phone.goto(link)
    await phone.get_by_label("Phone number").fill("12")
    await phone.get_by_role("button", name="Link").click()
    await expect(phone.locator("#status")).to_have_attribute("data-state", "invalid")
    status, _ = await api("POST", link, json={"phone": "15550001111"})
    assert status == 200
    await phone.get_by_label("Phone number").fill("15550002222")
    await phone.get_by_role("button", name="Link").click()
    await expect(phone.locator("#status")).to_contain_text("expired")
    watched.check()


async def test_page_reconnects_by_itself_after_a_server_restart(
    browser: Any, tmp_path: Path, shots: Shots
) -> None:
    """Stopping the server shows "Reconnecting in N s"; once it is back on the same port a QR shows again."""
    env = {
        **base_env(str(tmp_path / "restart.db")),
        "QRSTREAM_ADMIN_KEY": ADMIN_KEY,
        "QRSTREAM_QR_REFRESH_S": "1",
    }
    with LiveServer(env) as first:
        url = await asyncio.to_thread(first.wait_ready)
        port = url.rsplit(":", 1)[1]
        instance = await create_instance(url)
        page = await browser.new_page(viewport=PHONE)
        watched = watch(page, allow=("ERR_CONNECTION_REFUSED", "WebSocket connection"))
        await page.goto(f"{url}/pair#id={instance[0]}&token={instance[1]}")
        await expect(page.locator("#main")).to_have_attribute("data-state", "waiting")
        assert await asyncio.to_thread(first.stop) == 0
        await expect(page.locator("#status")).to_have_text(re.compile(r"Reconnecting( in \d+ s)?…"))
        await shots.take(page, "pair-reconnecting")
    with LiveServer(env, ["--port", port]) as second:
        await asyncio.to_thread(second.wait_ready)
        await expect(page.locator("#main")).to_have_attribute("data-state", "waiting", timeout=15000)
        decoded = await decode_element(page.locator("#qr"))
        assert decoded.text.startswith(f"{url}/link/")
        assert await asyncio.to_thread(second.stop) == 0
    watched.check()


async def authorize(live: Live, instance: tuple[int, str], phone: int) -> None:
    """Authorize `instance` the phone's way, through a pairing code."""
    base = f"{live.url}/waInstance{instance[0]}"
    _, body = await api("POST", f"{base}/getAuthorizationCode/{instance[1]}", json={"phoneNumber": phone})
    status, linked = await api("POST", f"{live.url}/link", json={"code": body["code"], "phone": str(phone)})
    assert status == 200, linked


async def tab_to(page: Any, element_id: str, presses: int = 10) -> None:
    """Press Tab until `element_id` has the focus, as a keyboard user would."""
    for _ in range(presses):
        await page.keyboard.press("Tab")
        if await page.evaluate("document.activeElement.id") == element_id:
            return
    raise AssertionError(f"Tab never reached #{element_id}")


async def test_pair_page_tells_whether_state_webhooks_are_on(browser: Any, live: Live) -> None:
    """The page says state webhooks are on by default, and off once setSettings turned them off."""
    instance = await create_instance(live.url)
    page = await open_pair(browser, live, instance, PHONE)
    watched = watch(page)
    await expect(page.locator("#webhooks")).to_contain_text("State webhooks are on")
    await expect(page.locator("#webhooks")).to_contain_text("no webhook URL is set")
    settings = f"{live.url}/waInstance{instance[0]}/setSettings/{instance[1]}"
    status, _ = await api("POST", settings, json={"stateWebhook": "no"})
    assert status == 200
    await page.get_by_role("button", name="Use other credentials").click()
    await page.get_by_role("button", name="Show the QR code").click()
    await expect(page.locator("#webhooks")).to_have_text(re.compile("State webhooks are off"))
    watched.check()
    await page.close()


async def pairing_link(live: Live, instance: tuple[int, str]) -> str:
    """A pairing link of `instance`, made through createPairingLink."""
    status, body = await api("POST", f"{live.url}/waInstance{instance[0]}/createPairingLink/{instance[1]}")
    assert status == 200, body
    assert body["url"].startswith(f"{live.url}/p/")
    return str(body["url"])


def record_traffic(page: Any) -> list[str]:
    """Everything the page sends from now on: each request's URL, headers and body, each websocket URL."""
    sent: list[str] = []

    def on_request(request: Any) -> None:
        sent.append(f"{request.method} {request.url} {request.headers} {request.post_data or ''}")

    page.on("request", on_request)
    page.on("websocket", lambda ws: sent.append(f"WS {ws.url}"))
    return sent


async def test_pairing_link_page_links_a_phone_without_ever_holding_the_token(
    browser: Any, live: Live, shots: Shots
) -> None:
    """/p/<ticket> shows the live QR (read off a screenshot); the phone links through it and the page says
    "Authorized as"; nothing the page sent carries the token; the ticket is 410 after, and after logout."""
    instance = await create_instance(live.url)
    url = await pairing_link(live, instance)
    page = await browser.new_page(viewport=PHONE)
    sent = record_traffic(page)
    watched = watch(page, allow=("status of 410",))  # the reload of the dead link's page, on purpose
    response = await page.goto(url)
    assert response is not None and response.status == 200
    await expect(page.locator("#main")).to_have_attribute("data-state", "waiting")
    await expect(page.locator("#credentials")).to_be_hidden()
    for name in ("Use other credentials", "Log out", "Share a pairing link"):
        await expect(page.get_by_role("button", name=name)).to_have_count(0)
    decoded = decode_png((await shots.take(page, "pair-link-waiting")).read_bytes())
    assert decoded.text.startswith(f"{live.url}/link/"), decoded.text
    phone = await browser.new_page(viewport=PHONE)
    await phone.goto(decoded.text)
    await phone.get_by_label("Phone number").fill("+1 555 987 6543")
    await phone.get_by_role("button", name="Link").click()
    await expect(page.locator("#status")).to_have_text("Authorized as +15559876543", timeout=5000)
    await shots.take(page, "pair-link-authorized")
    assert any(entry.startswith("WS ") and "/p/" in entry for entry in sent), sent
    assert not [entry for entry in sent if instance[1] in entry], "the page sent the token"
    ticket_path = urlsplit(url).path
    status, body = await api("GET", f"{live.url}{ticket_path}/scanqrcode")
    assert (status, body) == (410, {"error": "Pairing link expired"})
    await page.reload()
    await expect(page.locator("#status")).to_contain_text("This pairing link has expired")
    status, _ = await api("GET", f"{live.url}/waInstance{instance[0]}/logout/{instance[1]}")
    assert status == 200
    status, _ = await fetch_bytes(url)
    assert status == 410
    await shots.take(page, "pair-link-expired")
    watched.check()
    await page.close()
    await phone.close()


async def test_the_token_page_shares_a_pairing_link(browser: Any, live: Live) -> None:
    """ "Share a pairing link" on /pair (which holds the token) shows a /p/ link that opens the same QR."""
    instance = await create_instance(live.url)
    page = await open_pair(browser, live, instance, DESKTOP)
    watched = watch(page)
    await page.get_by_role("button", name="Share a pairing link").click()
    await expect(page.get_by_label("Pairing link")).to_have_value(re.compile(rf"^{re.escape(live.url)}/p/"))
    await expect(page.locator("#share-note")).to_contain_text("nothing more")
    await expect(page.get_by_role("button", name="Copy the link")).to_be_visible()
    shared = await page.get_by_label("Pairing link").input_value()
    other = await browser.new_page(viewport=PHONE)
    await other.goto(shared)
    await expect(other.locator("#main")).to_have_attribute("data-state", "waiting")
    mine = await decode_element(page.locator("#qr"))
    theirs = await decode_element(other.locator("#qr"))
    assert theirs.text.startswith(f"{live.url}/link/") and mine.text.startswith(f"{live.url}/link/")
    watched.check()
    await page.close()
    await other.close()


async def test_card_page_shows_its_qr_and_links_to_png_and_svg(
    browser: Any, live: Live, shots: Shots
) -> None:
    """/c/<uuid> under its CSP shows the card's QR (read off a screenshot: the dynamic link, in the
    card's design) and links to the PNG and the SVG, which decode to the same link."""
    status, card = await api("POST", f"{live.url}/admin/cards", admin=True, json={"name": "Ada Lovelace"})
    assert status == 201
    design = {"dark": "1e3a8a", "light": "fef3c7", "margin": 4, "ecc": "Q"}
    status, _ = await api("PUT", f"{live.url}/admin/cards/{card['uuid']}/design", admin=True, json=design)
    assert status == 200
    for name, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        page = await browser.new_page(viewport=viewport)
        watched = watch(page)
        response = await page.goto(f"{live.url}/c/{card['uuid']}")
        assert response is not None and response.status == 200
        image = page.get_by_role("img", name="QR code that opens this card")
        await expect(image).to_be_visible()
        decoded = await decode_element(image)
        assert decoded.text.startswith(f"{live.url}/q/") and decoded.ec_level == "Q"
        png_href = await page.get_by_role("link", name="PNG").get_attribute("href")
        svg_href = await page.get_by_role("link", name="SVG").get_attribute("href")
        assert png_href is not None and svg_href == f"{png_href}?format=svg"
        status, png = await fetch_bytes(png_href)
        assert status == 200 and decode_png(png).text == decoded.text
        status, svg = await fetch_bytes(svg_href)
        assert status == 200 and decode_as("image/svg+xml", svg).text == decoded.text
        await shots.take(page, f"card-page-{name}", full_page=True)
        watched.check()
        await page.close()
