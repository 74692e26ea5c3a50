"""The pages in a real browser: headless Chromium against the real server on a real port."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from playwright.async_api import expect

from qrstream.config import Config
from tests.browser import (
    DESKTOP,
    PHONE,
    Live,
    Shots,
    api,
    chromium,
    fetch_bytes,
    live_server,
    report_folder,
    watch,
)
from tests.qrdecode import decode_png


@pytest.fixture
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
    """The test config with a fast QR rotation: these tests run on real time."""
    return config.replace(qr_refresh_s=1.0, qr_scan_timeout_s=30.0)


@pytest.fixture
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
    """Tab reaches the fields and the button in order; submitting empty says what is missing."""
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
    watched.check()


async def test_verify_portal_approve_path(browser: Any, live: Live, shots: Shots) -> None:
    """The portal opened from a verification's QR starts it; Approve (keyboard) completes it."""
    status, body = await api(
        "POST", f"{live.url}/api/generate-verification", sdk=True, json={"extra_data": {"who": "ada"}}
    )
    assert status == 201, body
    vid = body["verificationId"]
    qr_status, png = await fetch_bytes(f"{live.url}/api/get-verification-qrcode/{vid}", sdk=True)
    assert qr_status == 200
    link = decode_png(png).text
    assert link == body["url"] == f"{live.url}/verify?verification_id={vid}"
    page = await browser.new_page(viewport=PHONE)
    watched = watch(page)
    await page.goto(link)
    await expect(page.locator("#main")).to_have_attribute("data-state", "ready")
    await expect(page.get_by_role("button", name="Approve")).to_be_focused()
    await shots.take(page, "verify-ready")
    await page.keyboard.press("Enter")
    await expect(page.locator("#status")).to_contain_text("Verification approved.")
    await shots.take(page, "verify-approved")
    _, details = await api("GET", f"{live.url}/api/get-verification-details/{vid}", sdk=True)
    assert details["status"] == "completed"
    watched.check()
