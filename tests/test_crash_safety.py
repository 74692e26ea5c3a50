"""SIGKILL mid-stream loses nothing that was acknowledged and leaves nothing half-written."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from tests.liveserver import ADMIN_KEY, SDK_KEY, LiveServer, base_env
from tests.qrdecode import decode_b64

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
SDK = {"X-SDK-Key": SDK_KEY}
WORKERS = 6
KILL_AFTER_ACKS = 120


@dataclass
class Acked:
    """What the server acknowledged with a 2xx before it died."""

    cards: dict[str, dict[str, Any]] = field(default_factory=dict)
    patched: dict[str, str] = field(default_factory=dict)
    verifications: dict[str, str] = field(default_factory=dict)
    instances: dict[int, str] = field(default_factory=dict)
    linked: set[int] = field(default_factory=set)
    count: int = 0


async def _card(http: aiohttp.ClientSession, base: str, n: int, acked: Acked) -> None:
    fields = {"name": f"Card {n}", "email": f"card{n}@example.org", "note": "line one\nline two " * 20}
    resp = await http.post(f"{base}/admin/cards", headers=ADMIN, json=fields)
    if resp.status != 201:
        return
    uuid = (await resp.json())["uuid"]
    acked.cards[uuid], acked.count = fields, acked.count + 1
    resp = await http.patch(f"{base}/admin/cards/{uuid}", headers=ADMIN, json={"title": f"Title {n}"})
    if resp.status == 200:
        acked.patched[uuid], acked.count = f"Title {n}", acked.count + 1


async def _verification(http: aiohttp.ClientSession, base: str, n: int, acked: Acked) -> None:
    resp = await http.post(f"{base}/api/generate-verification", headers=SDK, json={"extra_data": {"n": n}})
    if resp.status != 201:
        return
    vid = (await resp.json())["verificationId"]
    acked.verifications[vid], acked.count = "generated", acked.count + 1
    resp = await http.post(f"{base}/api/verification/{vid}/start", json={})
    if resp.status == 200:
        token = (await resp.json())["resumeToken"]
        acked.verifications[vid], acked.count = "in_progress", acked.count + 1
        result = "approved" if n % 2 else "declined"
        body = {"result": result, "resumeToken": token}
        resp = await http.post(f"{base}/api/verification/{vid}/complete", json=body)
        if resp.status == 200:
            acked.verifications[vid], acked.count = (await resp.json())["status"], acked.count + 1


async def _instance(http: aiohttp.ClientSession, base: str, n: int, acked: Acked) -> None:
    resp = await http.post(f"{base}/admin/instances", headers=ADMIN, json={})
    if resp.status != 201:
        return
    made = await resp.json()
    iid, token = made["idInstance"], made["apiTokenInstance"]
    acked.instances[iid], acked.count = token, acked.count + 1
    resp = await http.get(f"{base}/waInstance{iid}/qr/{token}")
    if resp.status != 200:
        return
    link = urlsplit(decode_b64((await resp.json())["message"]).text).path
    resp = await http.post(base + link, json={"phone": f"49151{n:08d}"})
    if resp.status == 200:
        acked.linked.add(iid)
        acked.count += 1


async def _worker(http: aiohttp.ClientSession, base: str, start: int, acked: Acked) -> None:
    n = start
    while True:
        action = (_card, _verification, _instance)[n % 3]
        try:
            await action(http, base, n, acked)
        except (TimeoutError, aiohttp.ClientError, ConnectionError):
            return  # the server is gone
        n += WORKERS


async def _stream_and_kill(server: LiveServer, base: str) -> Acked:
    acked = Acked()
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        workers = [asyncio.create_task(_worker(http, base, i, acked)) for i in range(WORKERS)]
        for _ in range(3000):
            if acked.count >= KILL_AFTER_ACKS or all(w.done() for w in workers):
                break
            await asyncio.sleep(0.01)
        server.send(signal.SIGKILL)  # mid-stream: every worker has a request in flight
        await asyncio.gather(*workers)
    assert acked.count >= KILL_AFTER_ACKS, "the stream was too slow to test anything"
    return acked


async def _check_through_api(base: str, acked: Acked) -> None:
    async with aiohttp.ClientSession() as http:
        for uuid, fields in acked.cards.items():
            resp = await http.get(f"{base}/admin/cards/{uuid}", headers=ADMIN)
            assert resp.status == 200, uuid
            card = await resp.json()
            assert {k: card[k] for k in fields} == {k: v.strip() for k, v in fields.items()}
            if uuid in acked.patched:
                assert card["title"] == acked.patched[uuid]
        later = {
            "generated": {"generated", "in_progress", "completed", "failed"},
            "in_progress": {"in_progress", "completed", "failed"},
        }
        for vid, status in acked.verifications.items():
            resp = await http.get(f"{base}/api/get-verification-details/{vid}", headers=SDK)
            assert resp.status == 200, vid
            details = await resp.json()
            assert details["status"] in later.get(status, {status}), (vid, status, details["status"])
            assert details["extra_data"] is not None and details["expiresAt"]
        for iid, token in acked.instances.items():
            resp = await http.get(f"{base}/waInstance{iid}/getStateInstance/{token}")
            assert resp.status == 200, iid
            state = (await resp.json())["stateInstance"]
            if iid in acked.linked:
                assert state == "authorized", iid


def _check_rows(db: str) -> None:
    """Nothing half-written: every row whole, every authorization with its notification."""
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT COUNT(*) FROM cards WHERE name = '' OR code IS NULL").fetchone()[0] == 0
        statuses = {row[0] for row in conn.execute("SELECT DISTINCT status FROM verifications")}
        assert statuses <= {"generated", "in_progress", "completed", "failed", "expired"}
        authorized = {row[0] for row in conn.execute("SELECT id FROM instances WHERE state = 'authorized'")}
        notified = {
            row[0]
            for row in conn.execute(
                'SELECT instance_id FROM notifications WHERE body LIKE \'%"stateInstance":"authorized"%\''
            )
        }
        assert authorized <= notified, "an authorization committed without its notification"


async def test_sigkill_mid_stream_loses_nothing_acknowledged(tmp_path: Path) -> None:
    """Creates and state moves answered 2xx before a SIGKILL are all there after a restart, whole."""
    db = str(tmp_path / "crash.db")
    env = base_env(db)
    with LiveServer(env) as first:
        base = await asyncio.to_thread(first.wait_ready)
        acked = await _stream_and_kill(first, base)
        assert await asyncio.to_thread(first.wait) == -signal.SIGKILL
    assert acked.cards and acked.verifications and acked.instances
    with LiveServer(env) as second:
        base = await asyncio.to_thread(second.wait_ready)
        await _check_through_api(base, acked)
        assert await asyncio.to_thread(second.stop) == 0
    _check_rows(db)
