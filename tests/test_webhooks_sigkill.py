"""Webhooks across a real crash: `run.py` killed with SIGKILL while its deliveries wait for a
receiver that is down, started again on the same database, the receiver up: each change arrives
exactly once, with the key it had before the crash."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
from pathlib import Path
from typing import Any

import aiohttp

from tests.conftest import PUBLIC_URL
from tests.instancekit import link_path
from tests.liveserver import ADMIN_KEY, LiveServer, base_env
from tests.webhook_receiver import Receiver

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
PHONE = "15557654321"
WAIT_S = 60.0  # a delivery claimed at the instant of the kill waits out its 60 s lease


def deliveries(db: str) -> list[dict[str, Any]]:
    """The deliveries as the server stored them, read from its SQLite file."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as conn:
        conn.row_factory = sqlite3.Row
        rows = conn.execute(
            "SELECT receipt_id, status, attempts, idempotency_key, lease_until FROM deliveries ORDER BY id"
        ).fetchall()
    return [dict(row) for row in rows]


async def until_stored(db: str, check: Any) -> list[dict[str, Any]]:
    """Poll the database file (bounded, real time) until `check(rows)` holds; the rows."""
    async with asyncio.timeout(WAIT_S):
        while True:
            rows = await asyncio.to_thread(deliveries, db)
            if check(rows):
                return rows
            await asyncio.sleep(0.05)  # the server writes on its own time; look again


async def test_pending_deliveries_survive_sigkill_and_arrive_once(
    tmp_path: Path, aiohttp_server: Any
) -> None:
    """Link and logout while the receiver is down (both pending, the first tried), SIGKILL, restart,
    receiver up: two POSTs in all, one per change, in order, each with its key from before the crash."""
    db = str(tmp_path / "sigkill.db")
    receiver = Receiver()
    probe = await aiohttp_server(receiver.app)  # only to find a free port, then down
    port = probe.port
    await probe.close()
    env = base_env(db)
    env.update(
        QRSTREAM_PUBLIC_URL=PUBLIC_URL,  # the QR then holds a path of ours (link_path)
        QRSTREAM_WEBHOOK_MAX_BACKOFF_S="1",
    )

    with LiveServer(env) as first:
        base = await asyncio.to_thread(first.wait_ready)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=WAIT_S)) as http:
            made = await (
                await http.post(
                    f"{base}/admin/instances",
                    headers=ADMIN,
                    json={"webhookUrl": f"http://127.0.0.1:{port}/hook"},
                )
            ).json()
            green = f"{base}/waInstance{made['idInstance']}"
            token = made["apiTokenInstance"]
            qr = await (await http.get(f"{green}/qr/{token}")).json()
            linked = await http.post(f"{base}{link_path(qr['message'])}", json={"phone": PHONE})
            assert linked.status == 200, await linked.text()
            assert await (await http.get(f"{green}/logout/{token}")).json() == {"isLogout": True}

        def tried_idle(rows: list[dict[str, Any]]) -> bool:
            """Both pending, the first (the second waits behind it) tried and failed, no lease held."""
            return (
                len(rows) == 2
                and rows[0]["attempts"] >= 1
                and all(r["status"] == "pending" and r["lease_until"] is None for r in rows)
            )

        before = await until_stored(db, tried_idle)
        first.send(signal.SIGKILL)
        assert await asyncio.to_thread(first.wait, 10) == -signal.SIGKILL

    await aiohttp_server(receiver.app, port=port)
    with LiveServer(env) as second:
        await asyncio.to_thread(second.wait_ready)
        after = await until_stored(db, lambda rows: all(r["status"] == "delivered" for r in rows))
        second.stop()

    # Settled in the store and the server stopped: nothing more can come.
    keys = [r["idempotency_key"] for r in before]
    assert [r["idempotency_key"] for r in after] == keys
    assert [h.headers["Idempotency-Key"] for h in receiver.hits] == keys
    assert [h.status for h in receiver.hits] == [200, 200]
    assert [h.json()["stateInstance"] for h in receiver.hits] == ["authorized", "notAuthorized"]
