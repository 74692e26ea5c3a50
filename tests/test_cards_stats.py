"""Scan statistics (§11) through the real server: families, visitors, bots, ranges, CSV, privacy.

Tests marked `scaleout` run on PostgreSQL + Redis too; the ones reading SQLite files run embedded.
"""

from __future__ import annotations

import asyncio
import csv
import io
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from qrstream.clock import FakeClock
from qrstream.config import Config
from tests.cardkit import ADMIN, create_card, dynamic_link, stats
from tests.conftest import ClientFactory
from tests.uastrings import BOTS, HUMANS

IPHONE, IPAD, FIREFOX = HUMANS[0].ua, HUMANS[7].ua, HUMANS[10].ua
SLACK, WHATSAPP, GOOGLEBOT = BOTS[0].ua, BOTS[1].ua, BOTS[2].ua
DAY_S = 86400.0


async def scan(
    client: TestClient,
    link: str,
    ua: str,
    *,
    address: str = "127.0.0.2",
    referer: str | None = None,
    method: str = "GET",
) -> None:
    """Follow the link as a phone at `address` would (a loopback address of its own)."""
    headers = {"User-Agent": ua, **({"Referer": referer} if referer else {})}
    connector = aiohttp.TCPConnector(local_addr=(address, 0))
    async with (
        aiohttp.ClientSession(connector=connector) as session,
        session.request(method, client.make_url(link), headers=headers, allow_redirects=False) as resp,
    ):
        assert resp.status == 302


async def new_link(client: TestClient) -> tuple[str, str]:
    card = await create_card(client)
    return card["uuid"], await dynamic_link(client, card["uuid"])


async def scans_csv(client: TestClient, uuid: str, **query: str) -> tuple[str, list[list[str]]]:
    params = {k.rstrip("_"): v for k, v in query.items()}
    resp = await client.get(f"/admin/cards/{uuid}/scans.csv", headers=ADMIN, params=params)
    assert resp.status == 200, await resp.text()
    assert resp.content_type == "text/csv"
    text = await resp.text()
    return text, list(csv.reader(io.StringIO(text)))


def added_up(body: dict[str, Any]) -> None:
    """Every breakdown of a person's scan sums to `scans`, and so do the days."""
    for part in ("daily", "devices", "os", "browsers"):
        assert sum(body[part].values()) == body["scans"], part


@pytest.mark.scaleout
async def test_real_user_agents_give_families_and_bots_by_name(client: TestClient) -> None:
    """Each browser of the fixed set counts under its device, OS and browser; each bot under its name."""
    uuid, link = await new_link(client)
    for sample in HUMANS + BOTS:
        await scan(client, link, sample.ua)
    body = await stats(client, uuid)
    assert body["scans"] == len(HUMANS)
    assert body["devices"] == dict(Counter(s.device for s in HUMANS))
    assert body["browsers"] == dict(Counter(s.browser[0] for s in HUMANS if s.browser)) | {
        "Apple Mail": 1  # uap-core's reading of the PlayStation's bare WebKit string
    }
    assert body["os"]["iOS"] == sum(s.os[0] == "iOS" for s in HUMANS)
    assert body["bots"] == dict(Counter(s.bot for s in BOTS))
    added_up(body)


@pytest.mark.scaleout
async def test_seven_scans_by_four_visitors_and_three_bots(client: TestClient) -> None:
    """Visitors are told apart by address and User-Agent together; bots and HEAD are not scans."""
    uuid, link = await new_link(client)
    visits = [
        ("127.0.0.2", IPHONE),
        ("127.0.0.2", IPHONE),
        ("127.0.0.3", IPHONE),  # the same phone model elsewhere: another visitor
        ("127.0.0.3", IPHONE),
        ("127.0.0.2", IPAD),  # another device at the first address: another visitor
        ("127.0.0.2", IPAD),
        ("127.0.0.4", FIREFOX),
    ]
    for address, ua in visits:
        await scan(client, link, ua, address=address)
    for ua in (SLACK, WHATSAPP, GOOGLEBOT):
        await scan(client, link, ua)
    await scan(client, link, IPHONE, method="HEAD")
    body = await stats(client, uuid)
    assert body == {
        "scans": 7,
        "uniqueVisitors": 4,
        "daily": {"2026-01-01": 7},
        "devices": {"mobile": 4, "tablet": 2, "desktop": 1},
        "os": {"iOS": 6, "Windows": 1},
        "browsers": {"Mobile Safari": 6, "Firefox": 1},
        "referrers": {},
        "bots": {"Googlebot": 1, "Slackbot": 1, "WhatsApp": 1},
    }
    added_up(body)


@pytest.mark.scaleout
async def test_referrers_are_kept_as_hosts_only(client: TestClient) -> None:
    uuid, link = await new_link(client)
    share = "https://www.LinkedIn.com:443/feed/update/urn:li:activity:42?utm_source=share&trk=x#comments"
    await scan(client, link, IPHONE, referer=share)
    await scan(client, link, IPHONE, referer="android-app://com.google.android.gm/")
    await scan(client, link, IPHONE)  # a camera app sends none
    body = await stats(client, uuid)
    assert body["referrers"] == {"com.google.android.gm": 1, "www.linkedin.com": 1}
    text, rows = await scans_csv(client, uuid)
    assert [r[4] for r in rows[1:]] == ["www.linkedin.com", "com.google.android.gm", ""]
    assert "utm_source" not in text and "/feed" not in text


@pytest.mark.scaleout
async def test_date_ranges_are_honoured(client: TestClient, clock: FakeClock) -> None:
    """UTC days, both ends included; unique visitors are counted per day and summed."""
    uuid, link = await new_link(client)
    await scan(client, link, IPHONE)  # 2026-01-01: A, B and a bot
    await scan(client, link, IPAD)
    await scan(client, link, SLACK)
    await clock.advance(DAY_S)
    await scan(client, link, IPHONE)  # 2026-01-02: A again, C
    await scan(client, link, FIREFOX)
    await clock.advance(DAY_S - 1)
    await scan(client, link, IPHONE)  # 2026-01-02 23:59:59: A a third time
    await clock.advance(1)
    await scan(client, link, IPAD)  # 2026-01-03: B
    whole = await stats(client, uuid)
    assert (whole["scans"], whole["uniqueVisitors"]) == (6, 5)  # A twice (two days), B twice, C
    day2 = await stats(client, uuid, from_="2026-01-02", to="2026-01-02")
    assert day2["daily"] == {"2026-01-02": 3}
    assert (day2["scans"], day2["uniqueVisitors"], day2["bots"]) == (3, 2, {})
    assert day2["devices"] == {"mobile": 2, "desktop": 1}
    added_up(day2)
    since = await stats(client, uuid, from_="2026-01-02")
    assert (since["scans"], since["devices"]) == (4, {"mobile": 2, "desktop": 1, "tablet": 1})
    until = await stats(client, uuid, to="2026-01-01")
    assert (until["scans"], until["uniqueVisitors"], until["bots"]) == (2, 2, {"Slackbot": 1})
    assert (await stats(client, uuid, from_="2025-06-01", to="2025-12-31"))["scans"] == 0
    _, rows = await scans_csv(client, uuid, from_="2026-01-02", to="2026-01-02")
    assert [r[0] for r in rows[1:]] == [
        "2026-01-02T00:00:00.000Z",
        "2026-01-02T00:00:00.000Z",
        "2026-01-02T23:59:59.000Z",
    ]


@pytest.mark.parametrize(
    "query",
    [
        {"from": "2026-1-01"},
        {"from": "2026-02-30"},
        {"to": "yesterday"},
        {"to": ""},
        {"from": "2026-01-01T00:00:00Z"},
        {"from": "20260101"},
        {"to": "2026-13-01"},
        {"from": "2026-01-02", "to": "2026-01-01"},
    ],
)
async def test_bad_dates_are_refused(client: TestClient, query: dict[str, str]) -> None:
    """400 naming the parameter, for the statistics and the CSV alike."""
    uuid, _ = await new_link(client)
    for path in ("stats", "scans.csv"):
        resp = await client.get(f"/admin/cards/{uuid}/{path}", headers=ADMIN, params=query)
        assert resp.status == 400
        body = await resp.json()
        assert body["field"] == next(iter(query)) and body["error"]


async def test_a_repeated_date_parameter_is_refused(client: TestClient) -> None:
    uuid, _ = await new_link(client)
    resp = await client.get(f"/admin/cards/{uuid}/stats?from=2026-01-01&from=2026-01-02", headers=ADMIN)
    assert resp.status == 400
    assert (await resp.json())["field"] == "from"


@pytest.mark.scaleout
async def test_csv_rows_parse_and_escape_referrers(client: TestClient, clock: FakeClock) -> None:
    """A header, then a row per scan in time order; commas and quotes in a host are quoted."""
    uuid, link = await new_link(client)
    await scan(client, link, IPHONE, referer='https://a,b"c.example/path?q=1')
    await clock.advance(1.5)
    await scan(client, link, FIREFOX, referer="https://plain.example/")
    await scan(client, link, GOOGLEBOT)  # a bot: not a scan row
    await clock.advance(1)
    await scan(client, link, IPAD)
    text, rows = await scans_csv(client, uuid)
    assert rows == [
        ["time", "device", "os", "browser", "referrer"],
        ["2026-01-01T00:00:00.000Z", "mobile", "iOS", "Mobile Safari", 'a,b"c.example'],
        ["2026-01-01T00:00:01.500Z", "desktop", "Windows", "Firefox", "plain.example"],
        ["2026-01-01T00:00:02.500Z", "tablet", "iOS", "Mobile Safari", ""],
    ]
    assert '"a,b""c.example"' in text
    _, empty = await scans_csv(client, uuid, from_="2027-01-01")
    assert empty == [["time", "device", "os", "browser", "referrer"]]


async def test_stats_and_csv_of_unknown_cards_are_404(client: TestClient) -> None:
    missing = "00000000-0000-4000-8000-000000000000"
    for path in ("stats", "scans.csv"):
        resp = await client.get(f"/admin/cards/{missing}/{path}", headers=ADMIN)
        assert resp.status == 404
        assert await resp.json() == {"error": "Card not found"}
        resp = await client.get(f"/admin/cards/{missing}/{path}")
        assert resp.status == 401


@pytest.mark.scaleout
async def test_retention_deletes_old_rows_and_keeps_daily_counts(
    make_client: ClientFactory, config: Config, clock: FakeClock
) -> None:
    client = await make_client(config.replace(scan_retention_days=400))
    uuid, link = await new_link(client)
    await scan(client, link, IPHONE)  # 2026-01-01
    await clock.advance(399 * DAY_S)
    await scan(client, link, FIREFOX)  # 2027-02-04, 399 days on
    assert len((await scans_csv(client, uuid))[1]) == 3
    await clock.advance(2 * DAY_S)  # the first is now 401 days old
    deadline = time.monotonic() + 10
    while len((await scans_csv(client, uuid))[1]) == 3:
        assert time.monotonic() < deadline, "the retention job never deleted the old scan"
        await asyncio.sleep(0.02)
    _, rows = await scans_csv(client, uuid)
    assert [r[1] for r in rows[1:]] == ["desktop"]
    body = await stats(client, uuid)
    assert body["daily"] == {"2026-01-01": 1, "2027-02-04": 1}  # the daily counts stay
    assert (body["scans"], body["devices"]) == (2, {"desktop": 1})


async def test_database_files_hold_no_client_address(client: TestClient, db_path: str) -> None:
    """After people and bots scanned from 127.0.0.9, that address is nowhere in the SQLite files."""
    uuid, link = await new_link(client)
    for ua in (IPHONE, IPAD, SLACK, "", FIREFOX):
        await scan(client, link, ua, address="127.0.0.9", referer="https://news.example/a?b=c")
    body = await stats(client, uuid)  # flushes the queue
    assert (body["scans"], body["uniqueVisitors"], sum(body["bots"].values())) == (4, 4, 1)
    files = [p for p in Path(db_path).parent.iterdir() if p.name.startswith(Path(db_path).name)]
    assert {p.name[len(Path(db_path).name) :] for p in files} >= {"", "-wal"}
    contents = {path.name: path.read_bytes() for path in files}
    assert any(b"news.example" in data for data in contents.values())  # what is kept can be found
    for name, data in contents.items():
        assert b"127.0.0.9" not in data, name


async def test_a_full_queue_drops_and_counts_but_never_blocks_the_redirect(
    make_client: ClientFactory, config: Config, db_path: str
) -> None:
    """With the store locked by someone else, redirects still answer at once; past the queue's
    capacity scans are dropped and /metrics counts them."""
    import sqlite3

    client = await make_client(config.replace(scan_queue_capacity=5))
    uuid, link = await new_link(client)
    blocker = sqlite3.connect(db_path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        for _ in range(20):
            await scan(client, link, IPHONE)
        elapsed = time.monotonic() - started
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert elapsed < 3.0  # 20 redirects while no scan could be written
    metrics = await (await client.get("/metrics")).text()
    assert "qrstream_scans_dropped_total 15.0" in metrics
    assert (await stats(client, uuid))["scans"] == 5
    metrics = await (await client.get("/metrics")).text()
    assert "qrstream_scans_recorded_total 5.0" in metrics and "qrstream_scans_queued 0.0" in metrics
