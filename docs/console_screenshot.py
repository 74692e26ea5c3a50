"""Make `docs/console.png`, the README's picture of the console: a card with a few weeks of scans.

    .venv/bin/python docs/console_screenshot.py

The real app on a real port with a fake clock (moved a day at a time while scanning, with a few
phones, tablets and desktops), and Debian's headless Chromium signed in to /console.
"""

from __future__ import annotations

import asyncio
import random
import sys
import tempfile
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qrstream.clock import FakeClock  # noqa: E402
from qrstream.config import Config  # noqa: E402
from tests.browser import DESKTOP, api, chromium, fetch_bytes, live_server  # noqa: E402
from tests.conftest import ADMIN_KEY, SDK_KEY  # noqa: E402
from tests.qrdecode import decode_png  # noqa: E402

AGENTS = [
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko)"
    " Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/124.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko)"
    " Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/124.0.0.0 Safari/537.36",
]
REFERRERS = ["", "", "https://www.linkedin.com/feed/", "https://mail.example.com/"]


async def main() -> None:
    rng = random.Random(7)
    clock = FakeClock()
    with tempfile.TemporaryDirectory() as folder:
        config = Config(
            db=str(Path(folder) / "shot.db"),
            admin_key=ADMIN_KEY,
            sdk_keys=(SDK_KEY,),
            signing_keys=("screenshot-signing-key",),
            render_workers=0,
        )
        async with live_server(config, clock=clock) as live:
            for name in ("Grace Hopper", "Alan Turing"):
                await api("POST", f"{live.url}/admin/cards", admin=True, json={"name": name})
            _, card = await api(
                "POST",
                f"{live.url}/admin/cards",
                admin=True,
                json={"name": "Ada Lovelace", "title": "Analyst", "company": "Analytical Engines"},
            )
            _, made = await api("POST", f"{live.url}/v1/public/card/{card['uuid']}/qr-code")
            _, png = await fetch_bytes(made["url"])
            link = decode_png(png).text
            async with aiohttp.ClientSession() as http:
                for day in range(21):
                    for _ in range(max(0, int(rng.gauss(4 + day / 3, 3)))):
                        headers = {"User-Agent": rng.choice(AGENTS)}
                        if referrer := rng.choice(REFERRERS):
                            headers["Referer"] = referrer
                        async with http.get(link, headers=headers, allow_redirects=False) as resp:
                            assert resp.status == 302
                    await clock.advance(86_400)
            await api("POST", f"{live.url}/admin/instances", admin=True, json={})
            async with chromium() as browser:
                page = await browser.new_page(viewport={**DESKTOP, "height": 1400})
                await page.goto(f"{live.url}/console")
                await page.get_by_label("Admin key").fill(ADMIN_KEY)
                await page.get_by_role("button", name="Sign in").click()
                await page.locator("#connection[data-state='live']").wait_for()
                await page.get_by_role("button", name="Cards", exact=True).click()
                await page.get_by_role("button", name="Open card Ada Lovelace").click()
                await page.locator("#card-chart-svg").wait_for()
                await page.locator("#card-qr-title").scroll_into_view_if_needed()
                await page.evaluate("document.getElementById('status').textContent = ''")
                target = ROOT / "docs" / "console.png"
                await page.locator("#card-detail").screenshot(path=str(target))
                print(f"wrote {target}")


if __name__ == "__main__":
    asyncio.run(main())
