"""Slow peers (§10): request-head deadlines and the per-address cap, against a real `run.py`.

Linux routes all of 127.0.0.0/8 to loopback, so client sockets bound to 127.0.1.x are as many
different peers. Every StreamWriter stays referenced: a collected one closes its socket, which
would fake the server's close.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import resource
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import aiohttp
import pytest

from tests.liveserver import ADMIN_KEY, LiveServer, base_env

HALF_HEAD = b"GET /healthz HTTP/1.1\r\nHost: qrstream\r\n"
REST = b"\r\n"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


@dataclass
class Peer:
    """One raw connection from a chosen local address."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    opened: float
    """When the connect began: the server's clock for this connection cannot start earlier."""

    async def closed_by_server(self, within: float) -> float:
        """Wait for the server's close (EOF, no bytes before it); the time it came."""
        data = await asyncio.wait_for(self.reader.read(), within)
        assert data == b"", data[:200]
        return time.monotonic()

    async def status(self, within: float = 10.0) -> int:
        """Read one whole response; its status."""
        return (await self.response(within))[0]

    async def response(self, within: float = 10.0) -> tuple[int, bytes]:
        """Read one whole response; its status and body."""
        line = await asyncio.wait_for(self.reader.readline(), within)
        match = re.match(rb"HTTP/1\.1 (\d{3}) ", line)
        assert match, line
        length = 0
        while (header := await asyncio.wait_for(self.reader.readline(), within)) not in (b"\r\n", b""):
            name, _, value = header.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        body = await asyncio.wait_for(self.reader.readexactly(length), within)
        return int(match.group(1)), body


async def connect(url: str, local: str, first: bytes = HALF_HEAD) -> Peer:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    opened = time.monotonic()
    reader, writer = await asyncio.open_connection(host, int(port), local_addr=(local, 0))
    peer = Peer(reader, writer, opened)
    writer.write(first)
    await writer.drain()
    return peer


def metric(text: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    assert match, (name, text[-3000:])
    return float(match.group(1))


async def metrics_from(url: str, local: str = "127.0.0.2") -> str:
    connector = aiohttp.TCPConnector(local_addr=(local, 0))
    async with aiohttp.ClientSession(connector=connector) as http:
        resp = await http.get(f"{url}/metrics")
        assert resp.status == 200
        return await resp.text()


async def until_metric(url: str, name: str, value: float, within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while True:
        text = await metrics_from(url)
        if metric(text, name) == value:
            return
        assert time.monotonic() < deadline, (name, metric(text, name), value)
        await asyncio.sleep(0.05)


@pytest.fixture
async def live(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[LiveServer]:
    env = {**base_env(str(tmp_path / "peers.db")), **getattr(request, "param", {})}
    with LiveServer(env) as server:
        await asyncio.to_thread(server.wait_ready)
        yield server
        assert await asyncio.to_thread(server.stop) == 0


HALF_OPEN = 1000
ADDRESSES = 50


@pytest.mark.parametrize("live", [{"QRSTREAM_HEADER_TIMEOUT_S": "6"}], indirect=True)
async def test_half_open_crowd_neither_blocks_others_nor_stays(live: LiveServer) -> None:
    """1000 half-sent heads from 50 addresses: another client is served within 1 s meanwhile,
    and each half-open connection is closed (no bytes) once the header timeout has passed."""
    crowd: list[Peer] = []  # every writer referenced until the end
    for start in range(0, HALF_OPEN, 100):  # in batches: all are open well within the timeout
        batch = range(start, min(start + 100, HALF_OPEN))
        crowd += await asyncio.gather(*(connect(live.url, f"127.0.1.{1 + i % ADDRESSES}") for i in batch))
    await until_metric(live.url, "qrstream_connections_awaiting_head", HALF_OPEN)
    started = time.monotonic()
    connector = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))
    async with aiohttp.ClientSession(connector=connector) as http:
        resp = await http.get(f"{live.url}/healthz")
        assert resp.status == 200 and await resp.json() == {"status": "ok"}
    assert time.monotonic() - started < 1.0
    closes = await asyncio.gather(*(peer.closed_by_server(within=30) for peer in crowd))
    early = [round(closed - peer.opened, 2) for peer, closed in zip(crowd, closes, strict=True)]
    assert min(early) >= 6.0 - 0.05, sorted(early)[:5]
    text = await metrics_from(live.url)
    assert metric(text, 'qrstream_connections_closed_total{reason="header_timeout"}') == HALF_OPEN
    assert metric(text, 'qrstream_connections_closed_total{reason="pending_cap"}') == 0
    assert metric(text, "qrstream_connections_awaiting_head") == 0


@pytest.mark.parametrize(
    "live", [{"QRSTREAM_HEADER_TIMEOUT_S": "60", "QRSTREAM_MAX_PENDING_PER_CLIENT": "5"}], indirect=True
)
async def test_pending_cap_closes_the_extras_of_one_address(live: LiveServer) -> None:
    """20 slow heads from one address, 5 from another, cap 5: 15 are closed after the 1 s of grace,
    the 10 others stay open, and once they finish their heads they are answered."""
    crowded = [await connect(live.url, "127.0.1.200") for _ in range(20)]
    other = [await connect(live.url, "127.0.1.201") for _ in range(5)]
    await until_metric(live.url, 'qrstream_connections_closed_total{reason="pending_cap"}', 15)
    closed = [peer for peer in crowded if peer.reader.at_eof() or await _eof_soon(peer)]
    assert len(closed) == 15
    for peer in closed:
        assert await peer.reader.read() == b""
    survivors = [peer for peer in crowded if peer not in closed] + other
    assert len(survivors) == 10
    for peer in survivors:
        peer.writer.write(REST)
    assert [await peer.status() for peer in survivors] == [200] * 10
    text = await metrics_from(live.url)
    assert metric(text, 'qrstream_connections_closed_total{reason="pending_cap"}') == 15


async def _eof_soon(peer: Peer) -> bool:
    """True when the server has closed `peer` (its EOF arrives within a moment)."""
    try:
        await asyncio.wait_for(peer.reader.read(1), 0.5)
    except TimeoutError:
        return False
    return True


@pytest.mark.parametrize("live", [{"QRSTREAM_MAX_PENDING_PER_CLIENT": "5"}], indirect=True)
async def test_prompt_burst_from_one_address_is_all_served(live: LiveServer) -> None:
    """200 connections from one address at once, each sending its head at once, cap 5: all 200
    are answered 200, none refused."""
    burst = await asyncio.gather(*(connect(live.url, "127.0.1.250", HALF_HEAD + REST) for _ in range(200)))
    assert [await peer.status() for peer in burst] == [200] * 200
    text = await metrics_from(live.url)
    assert metric(text, 'qrstream_connections_closed_total{reason="pending_cap"}') == 0
    assert metric(text, 'qrstream_connections_closed_total{reason="header_timeout"}') == 0


@pytest.mark.parametrize(
    "live", [{"QRSTREAM_HEADER_TIMEOUT_S": "1", "QRSTREAM_QR_REFRESH_S": "0.5"}], indirect=True
)
async def test_read_requests_are_not_timed_only_heads(live: LiveServer) -> None:
    """Header timeout 1 s: a websocket and a 5 s long poll outlive it; a kept-alive connection
    that starts its next head and stops is closed by it."""
    connector = aiohttp.TCPConnector(local_addr=("127.0.0.3", 0))
    async with aiohttp.ClientSession(connector=connector) as http:
        resp = await http.post(f"{live.url}/admin/instances", headers=ADMIN, json={})
        assert resp.status == 201, await resp.text()
        created = await resp.json()
        instance = f"{live.url}/waInstance{created['idInstance']}"
        token = created["apiTokenInstance"]
        ws = await http.ws_connect(f"{instance}/scanqrcode/{token}")
        poll = asyncio.ensure_future(http.get(f"{instance}/receiveNotification/{token}?receiveTimeout=5"))
        kept = await connect(live.url, "127.0.1.240", HALF_HEAD + REST)
        assert await kept.status() == 200
        kept.writer.write(HALF_HEAD)
        restarted = time.monotonic()
        # the header timeout has passed once the kept-alive connection is closed by it
        assert await kept.closed_by_server(within=10) - restarted >= 1.0 - 0.05
        assert not ws.closed
        await ws.receive_json(timeout=10)  # frames still come
        resp = await asyncio.wait_for(poll, 15)
        assert resp.status == 200 and await resp.text() == "null"
        await ws.close()


OUT_OF_FDS = "cannot accept connections"


def _out_of_fds_lines(server: LiveServer) -> list[str]:
    return [line for line in server.stderr if OUT_OF_FDS in line]


@pytest.mark.parametrize(
    "live", [{"QRSTREAM_HEADER_TIMEOUT_S": "120", "QRSTREAM_MAX_PENDING_PER_CLIENT": "0"}], indirect=True
)
async def test_out_of_file_descriptors_keeps_serving_and_resumes(live: LiveServer) -> None:
    """The server's RLIMIT_NOFILE is lowered to just above what it has open, and idle connections
    fill the rest: the connection it already had is still served, the failing accepts are logged
    once (not once per waiting connection and retry), and once the idle ones go new connections
    are accepted and served again."""
    existing = await connect(live.url, "127.0.0.4", HALF_HEAD + REST)
    assert await existing.status() == 200
    pid = live.proc.pid
    in_use = len(os.listdir(f"/proc/{pid}/fd"))
    _, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (in_use + 10, hard))
    fillers = [await connect(live.url, "127.0.1.100", b"") for _ in range(40)]
    deadline = time.monotonic() + 20
    while not _out_of_fds_lines(live):
        assert time.monotonic() < deadline, live.output()[-3000:]
        await asyncio.sleep(0.05)
    # Retries go on (about ten a second); the existing connection is served throughout.
    exhausted = 0.0
    while exhausted < 20:
        existing.writer.write(b"GET /metrics HTTP/1.1\r\nHost: qrstream\r\n\r\n")
        status, body = await existing.response()
        assert status == 200
        exhausted = metric(body.decode(), "qrstream_accepts_exhausted_total")
        assert time.monotonic() < deadline + 20, exhausted
        await asyncio.sleep(0.05)
    lines = _out_of_fds_lines(live)
    stamps = [datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f") for line in lines]
    assert all((b - a).total_seconds() >= 9.99 for a, b in itertools.pairwise(stamps)), lines
    assert len(lines) < exhausted / 10, lines
    assert "socket.accept() out of system resource" not in live.output()
    for filler in fillers:
        filler.writer.close()
    started = time.monotonic()
    fresh = await connect(live.url, "127.0.0.5", HALF_HEAD + REST)
    assert await fresh.status(within=10) == 200
    assert time.monotonic() - started < 5
