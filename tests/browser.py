"""Browser tests' plumbing: Debian's headless Chromium driven by Playwright, the real app on a real port.

The browser is never downloaded: it is Debian's `/usr/bin/chromium`. Without it the tests skip,
except in CI, where they fail. The test modules wrap these helpers in their fixtures.
"""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from qrstream.clock import Clock
from qrstream.config import Config
from qrstream.web.app import create_app
from tests.conftest import ADMIN_KEY, SDK_KEY
from tests.qrdecode import Decoded, decode_png

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
PHONE = {"width": 375, "height": 667}
DESKTOP = {"width": 1280, "height": 800}


def need_chromium() -> None:
    """Skip (fail in CI) when the browser is not installed."""
    if os.path.exists(CHROMIUM):
        return
    reason = f"{CHROMIUM} is missing: install Debian's chromium package to run the browser tests"
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@asynccontextmanager
async def chromium() -> AsyncIterator[Any]:
    """A fresh headless Chromium (Playwright's async API)."""
    need_chromium()
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


@dataclass
class Watched:
    """What a page complained about: console errors (CSP violations are among them) and uncaught errors."""

    errors: list[str] = field(default_factory=list)

    def check(self) -> None:
        assert not self.errors, "the page reported errors:\n" + "\n".join(self.errors)


def watch(page: Any, allow: tuple[str, ...] = ()) -> Watched:
    """Collect the page's errors from now on, except console errors containing one of `allow`."""
    watched = Watched()

    def on_console(msg: Any) -> None:
        if msg.type == "error" and not any(part in msg.text for part in allow):
            watched.errors.append(msg.text)

    page.on("console", on_console)
    page.on("pageerror", lambda exc: watched.errors.append(f"uncaught: {exc}"))
    return watched


class Shots:
    """Screenshots of each state, kept in one folder printed at the end of the session."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def take(self, page: Any, name: str, **kwargs: Any) -> Path:
        path = self.folder / f"{name}.png"
        await page.screenshot(path=str(path), **kwargs)
        return path


def report_folder(config: pytest.Config, folder: Path) -> None:
    """Print where the screenshots are, past pytest's output capture."""
    capture = config.pluginmanager.get_plugin("capturemanager")
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if capture is None or reporter is None or not any(folder.iterdir()):
        return
    with capture.global_and_fixture_disabled():
        reporter.write("\n")
        reporter.write_line(f"page screenshots: {folder}")


def free_socket(port: int = 0) -> socket.socket:
    sock = socket.create_server(("127.0.0.1", port))
    sock.setblocking(False)
    return sock


@dataclass
class Live:
    url: str
    config: Config
    app: web.Application


@asynccontextmanager
async def live_server(config: Config, *, port: int = 0, clock: Clock | None = None) -> AsyncIterator[Live]:
    """The real app on a real loopback port, with the system clock unless given another (a fake
    clock that the test moves, as for days of scans); QR codes carry that address."""
    sock = free_socket(port)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    config = config.replace(public_url=url, port=sock.getsockname()[1])
    app = create_app(config, clock=clock)
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=2.0)
    await runner.setup()
    try:
        await web.SockSite(runner, sock).start()
        yield Live(url, config, app)
    finally:
        await runner.cleanup()


async def api(
    method: str, url: str, *, admin: bool = False, sdk: bool = False, **kwargs: Any
) -> tuple[int, Any]:
    """One HTTP call to the live server: (status, JSON body or None)."""
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"} if admin else {}
    if sdk:
        headers["X-SDK-Key"] = SDK_KEY
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, url, headers=headers, **kwargs) as response,
    ):
        body = await response.json(content_type=None) if await response.read() else None
        return response.status, body


async def create_instance(base: str) -> tuple[int, str]:
    """A new instance through the admin API: (idInstance, apiTokenInstance)."""
    status, body = await api("POST", f"{base}/admin/instances", admin=True, json={})
    assert status == 201, body
    return int(body["idInstance"]), str(body["apiTokenInstance"])


async def decode_element(locator: Any) -> Decoded:
    """Screenshot one element, as the phone's camera would see it, and decode its QR code."""
    return decode_png(await locator.screenshot())


async def fetch_bytes(url: str, *, sdk: bool = False) -> tuple[int, bytes]:
    """A GET to the live server: (status, raw body)."""
    headers = {"X-SDK-Key": SDK_KEY} if sdk else {}
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as response:
        return response.status, await response.read()
