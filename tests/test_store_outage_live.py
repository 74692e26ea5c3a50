"""A PostgreSQL outage under load, against a real `run.py` (§10).

Writers keep creating cards, instances and verifications (and starting them), and reading a
card, while the cluster is stopped with `pg_ctl stop -m fast` and started again: while it is down
every answer is 503 in its family's shape with Retry-After (never a 500, never a dropped
connection), `/readyz` says 503 and then 200, every write acknowledged with 2xx is there
afterwards, the webhook of every acknowledged status change is delivered, and an open websocket
stays open.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web

from tests.backends import PostgresServer
from tests.liveserver import ADMIN_KEY, SDK_KEY, LiveServer, base_env
from tests.webhook_receiver import Receiver

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
SDK = {"X-SDK-Key": SDK_KEY}
WRITERS = 6
UNAVAILABLE = "Service temporarily unavailable"


@dataclass
class Load:
    """What the writers saw."""

    cards: list[str] = field(default_factory=list)
    instances: list[int] = field(default_factory=list)
    started: list[str] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    wrong: list[str] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    def acked(self) -> int:
        return len(self.cards) + len(self.instances) + len(self.started)

    async def answered(self, resp: aiohttp.ClientResponse, ok: int, key: str = "error") -> bool:
        """True for `ok`; a 503 is checked for its shape; anything else is wrong."""
        self.statuses[resp.status] += 1
        if resp.status == ok:
            return True
        if resp.status == 503:
            body = await resp.json()
            if body != {key: UNAVAILABLE} or not resp.headers.get("Retry-After", "").isdigit():
                self.wrong.append(f"{resp.method} {resp.url.path}: 503 {body} {dict(resp.headers)}")
        else:
            self.wrong.append(f"{resp.method} {resp.url.path}: {resp.status} {await resp.text()}")
        return False


async def _writer(http: aiohttp.ClientSession, base: str, n: int, card: str, load: Load) -> None:
    i = 0
    while not load.stop.is_set():
        i += 1
        try:
            if i % 4 == 0:
                resp = await http.post(f"{base}/admin/instances", headers=ADMIN, json={})
                if await load.answered(resp, 201):
                    load.instances.append((await resp.json())["idInstance"])
            elif i % 4 == 1:
                resp = await http.post(f"{base}/admin/cards", headers=ADMIN, json={"name": f"w{n}-{i}"})
                if await load.answered(resp, 201):
                    load.cards.append((await resp.json())["uuid"])
            elif i % 4 == 2:  # the Laravel-style family answers {"message": …}
                resp = await http.get(f"{base}/v1/public/card/{card}/prefetch")
                await load.answered(resp, 200, "message")
            else:
                resp = await http.post(f"{base}/api/generate-verification", headers=SDK, json={})
                if await load.answered(resp, 201):
                    vid = (await resp.json())["verificationId"]
                    resp = await http.post(f"{base}/api/verification/{vid}/start")
                    if await load.answered(resp, 200):
                        load.started.append(vid)
        except aiohttp.ClientError as exc:  # the server must answer, not drop the connection
            load.wrong.append(f"request {i} of writer {n}: {exc!r}")
        await asyncio.sleep(0.01)  # let the other writers and the test's checks in


async def _until(what: Callable[[], Awaitable[bool]], within: float, why: str) -> None:
    deadline = time.monotonic() + within
    while not await what():
        assert time.monotonic() < deadline, why
        await asyncio.sleep(0.05)


async def test_postgres_outage_under_load_answers_503_and_recovers(own_postgres: PostgresServer) -> None:
    """Six writers, the cluster stopped and started again: only 2xx and 503 (family shape,
    Retry-After) are answered, /readyz follows the outage, acknowledged writes survive, each
    acknowledged status change's webhook is delivered, the websocket stays open and frames come
    again, and the log says so in a few lines without a traceback."""
    receiver = Receiver()
    hooks = web.AppRunner(receiver.app)
    await hooks.setup()
    site = web.TCPSite(hooks, "127.0.0.1", 0)
    await site.start()
    env = {
        **base_env(own_postgres.url()),
        "QRSTREAM_QR_REFRESH_S": "0.5",
        "QRSTREAM_WEBHOOK_URL": f"http://127.0.0.1:{site.port}/hook",
    }
    try:
        await _outage_under_load(own_postgres, env, receiver)
    finally:
        await hooks.cleanup()


async def _outage_under_load(own_postgres: PostgresServer, env: dict[str, str], receiver: Receiver) -> None:
    with LiveServer(env) as server:
        base = await asyncio.to_thread(server.wait_ready)
        load = Load()
        async with aiohttp.ClientSession() as http:
            resp = await http.post(f"{base}/admin/cards", headers=ADMIN, json={"name": "Read me"})
            card = (await resp.json())["uuid"]
            resp = await http.post(f"{base}/admin/instances", headers=ADMIN, json={})
            watched = await resp.json()
            ws = await http.ws_connect(
                f"{base}/waInstance{watched['idInstance']}/scanqrcode/{watched['apiTokenInstance']}"
            )
            await ws.receive_json(timeout=10)

            async def ready() -> int:
                resp = await http.get(f"{base}/readyz")
                body = await resp.json()
                if resp.status == 503:
                    assert body["status"] == "unavailable" and body["bus"] == "ok", body
                    assert body["store"].startswith("unavailable"), body
                    assert resp.headers["Retry-After"].isdigit()
                else:
                    assert (resp.status, body) == (200, {"status": "ready", "store": "ok", "bus": "ok"})
                return resp.status

            assert await ready() == 200
            writers = [asyncio.ensure_future(_writer(http, base, n, card, load)) for n in range(WRITERS)]
            try:
                await _until(lambda: _true(load.acked() >= 30), 30, "no writes before the outage")
                await asyncio.to_thread(own_postgres.pause)
                outage = load.statuses[503]
                await _until(lambda: _true(load.statuses[503] >= outage + 60), 30, "no 503 while down")
                assert await ready() == 503
                acked_while_down = load.acked()
                await asyncio.to_thread(own_postgres.resume)
                await _until(lambda: _eq(ready(), 200), 30, "/readyz did not come back")
                await _until(lambda: _true(load.acked() >= acked_while_down + 30), 30, "no writes after")
            finally:
                load.stop.set()
                await asyncio.gather(*writers)
            assert load.wrong == [], (load.wrong[:10], _problems(server))
            assert set(load.statuses) <= {200, 201, 503}, load.statuses
            for uuid in load.cards:
                assert (await http.get(f"{base}/admin/cards/{uuid}", headers=ADMIN)).status == 200, uuid
            for instance in load.instances:
                resp = await http.get(f"{base}/admin/instances/{instance}", headers=ADMIN)
                assert resp.status == 200, instance
            heard: set[str] = set()
            deadline = time.monotonic() + 30
            while not set(load.started) <= heard:  # the webhook sender carried on
                assert time.monotonic() < deadline, (set(load.started) - heard, _problems(server))
                await receiver.changed(within=1)
                heard = {hit.json()["verificationId"] for hit in receiver.accepted}
            assert not ws.closed
            await ws.receive_json(timeout=10)  # the stream goes on
            await ws.close()
        assert await asyncio.to_thread(server.stop) == 0
    assert _problems(server) == []
    outage_lines = [line for line in server.stderr if "WARNING" in line]
    assert outage_lines, "the outage was not logged"
    assert len(outage_lines) <= 12, outage_lines  # a few one-liners, not a line per request or round


def _problems(server: LiveServer) -> list[str]:
    """Log lines that must not appear: errors, tracebacks, 500s."""
    bad = ("ERROR", "Traceback", '" 500 ')
    return [line for line in server.stderr if any(b in line for b in bad)]


async def _true(value: bool) -> bool:
    return value


async def _eq(status: Awaitable[int], want: int) -> bool:
    return await status == want
