"""SIGTERM under load: websockets get 1001, requests in flight finish, exit 0 within a bound."""

from __future__ import annotations

import asyncio
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp

from tests.liveserver import ADMIN_KEY, SDK_KEY, LiveServer, base_env

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
SDK = {"X-SDK-Key": SDK_KEY}
EXIT_BOUND_S = 10.0
WAIT_S = 30.0


@dataclass
class Sent:
    """One request: whether its bytes were on the server's socket before the signal, its answer."""

    body: bool  # a POST: written with its body (aiohttp holds the headers back until then)
    written: bool = False
    before_signal: bool = False
    status: int | None = None
    json: Any = None


class Wire:
    """Marks each request when aiohttp writes it, through its tracing hooks: the hook runs in the
    very step that hands the bytes to the socket, so a request marked before the test sends
    SIGTERM was in the server's socket buffer before the signal. The server reads everything
    already there before it stops reading, so each of those requests must get its whole answer."""

    def __init__(self) -> None:
        self.signalled = False
        self.changed = asyncio.Event()
        self.trace = aiohttp.TraceConfig()
        self.trace.on_request_headers_sent.append(self._headers)
        self.trace.on_request_chunk_sent.append(self._chunk)

    def _mark(self, ctx: SimpleNamespace, body: bool) -> None:
        sent = (ctx.trace_request_ctx or {}).get("sent")
        if isinstance(sent, Sent) and sent.body == body and not sent.written:
            sent.written, sent.before_signal = True, not self.signalled
            self.changed.set()

    async def _headers(self, session: object, ctx: SimpleNamespace, params: object) -> None:
        self._mark(ctx, body=False)

    async def _chunk(self, session: object, ctx: SimpleNamespace, params: object) -> None:
        self._mark(ctx, body=True)

    async def until(self, condition: Any) -> None:
        """Return, in the same step, as soon as `condition()` holds (checked at every write)."""
        async with asyncio.timeout(WAIT_S):
            while not condition():
                self.changed.clear()
                await self.changed.wait()


async def _close_code(ws: aiohttp.ClientWebSocketResponse) -> int | None:
    """Read until the server closes; its close code."""
    while True:
        msg = await ws.receive(timeout=EXIT_BOUND_S + 5)
        if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING):
            return ws.close_code
        if msg.type == aiohttp.WSMsgType.ERROR:
            return None


async def _request(http: aiohttp.ClientSession, method: str, url: str, sent: Sent, **kw: Any) -> None:
    """Send `sent` and read its whole answer (raises if the connection is cut before that)."""
    async with http.request(method, url, trace_request_ctx={"sent": sent}, **kw) as resp:
        sent.json = await resp.json()
        sent.status = resp.status


async def _load(
    http: aiohttp.ClientSession, base: str, wire: Wire, stop: asyncio.Event, sent: list[Sent]
) -> None:
    """Create cards one after another until told to stop, or until the server, after the
    signal, refuses or cuts a request (which the test then checks was sent after it)."""
    n = 0
    while not stop.is_set():
        sent.append(one := Sent(body=True))
        try:
            await _request(
                http, "POST", f"{base}/admin/cards", one, headers=ADMIN, json={"name": f"Load {n}"}
            )
        except (aiohttp.ClientError, ConnectionError, TimeoutError):
            if not wire.signalled:
                raise
            return
        n += 1


async def test_sigterm_under_load_is_graceful(tmp_path: Path) -> None:
    """Websockets close with 1001; the long polls and every request written before the signal get
    their whole answers; exit 0 in < 10 s."""
    env = base_env(str(tmp_path / "shutdown.db"))
    wire = Wire()
    with LiveServer(env) as server:
        base = await asyncio.to_thread(server.wait_ready)
        async with aiohttp.ClientSession(trace_configs=[wire.trace]) as http:
            made = await (await http.post(f"{base}/admin/instances", headers=ADMIN, json={})).json()
            green = f"{base}/waInstance{made['idInstance']}"
            token = made["apiTokenInstance"]
            created = await http.post(f"{base}/api/generate-verification", headers=SDK, json={})
            vid = (await created.json())["verificationId"]
            sockets = [await http.ws_connect(f"{green}/scanqrcode/{token}") for _ in range(3)]
            sockets += [
                await http.ws_connect(f"{base}/api/verification-events/{vid}", headers=SDK) for _ in range(2)
            ]
            for ws in sockets:
                assert (await ws.receive(timeout=10)).type == aiohttp.WSMsgType.TEXT
            polls = [Sent(body=False) for _ in range(3)]
            polling = [
                asyncio.create_task(
                    _request(http, "GET", f"{green}/receiveNotification/{token}?receiveTimeout=60", poll)
                )
                for poll in polls
            ]
            stop = asyncio.Event()
            loads: list[Sent] = []
            loaders = [asyncio.create_task(_load(http, base, wire, stop, loads)) for _ in range(4)]

            def ready() -> bool:
                """Under load (20 answered), the polls on the wire, and card requests in flight."""
                answered = [s for s in loads if s.status is not None]
                return len(answered) >= 20 and all(p.written for p in polls) and in_flight() > 0

            def in_flight() -> int:
                return len([s for s in loads if s.written and s.status is None])

            await wire.until(ready)
            flying = in_flight()  # same step as the signal: nothing else ran in between
            wire.signalled = True
            signalled = time.monotonic()
            server.send(signal.SIGTERM)
            codes = await asyncio.gather(*(_close_code(ws) for ws in sockets))
            await asyncio.gather(*polling)
            stop.set()
            await asyncio.gather(*loaders)
            code = await asyncio.to_thread(server.wait, EXIT_BOUND_S + 5)
            elapsed = time.monotonic() - signalled
    assert codes == [1001] * len(sockets)
    assert [(p.before_signal, p.status, p.json) for p in polls] == [(True, 200, None)] * 3
    before = [s for s in loads if s.before_signal]
    unanswered = [
        s for s in before if s.status != 201 or not isinstance(s.json, dict) or "uuid" not in s.json
    ]
    assert not unanswered, (
        f"{len(unanswered)} of {len(before)} requests sent before SIGTERM got no whole answer"
    )
    assert {s.status for s in loads if s.status is not None} == {201}
    assert code == 0, server.output()
    assert elapsed < EXIT_BOUND_S
    print(
        f"exited {elapsed:.2f} s after SIGTERM; {len(before)} requests sent before it all answered,"
        f" {flying} of them in flight at the signal"
    )
    assert "Traceback" not in server.output(), server.output()
