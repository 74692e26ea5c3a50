"""The app's one heartbeat (`qrstream/web/heartbeat.py`): every websocket is pinged once a period,
one that does not answer within half of it is dropped, one that answers stays; the server answers
a client's own pings (aiohttp's autoping is off). A short period (0.4 s) on the loop's clock: this
is networking, not domain time."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest
from aiohttp import ClientWebSocketResponse, WSMsgType

from qrstream.config import Config
from qrstream.web.ws import HEARTBEAT
from tests.conftest import ClientFactory
from tests.instancekit import Client, api, new_instance, until

PERIOD_S = 0.4
WAIT_S = 10.0  # far more than a period and a half: a bound, not a sleep


@pytest.fixture
async def client(make_client: ClientFactory, config: Config) -> Client:
    return await make_client(config.replace(ws_heartbeat_s=PERIOD_S))


async def pings(ws: ClientWebSocketResponse, count: int, *, answer: bool) -> None:
    """Read until `count` pings came (answering them or not); anything else is skipped."""
    seen = 0
    while seen < count:
        msg = await asyncio.wait_for(ws.receive(), WAIT_S)
        assert msg.type in (WSMsgType.PING, WSMsgType.TEXT), msg
        if msg.type is WSMsgType.PING:
            seen += 1
            if answer:
                await ws.pong(msg.data)


async def test_a_socket_that_answers_stays_and_one_that_does_not_is_dropped(client: Client) -> None:
    heartbeat = client.app[HEARTBEAT]
    instance = await new_instance(client)
    answering = await client.ws_connect(api(instance, "scanqrcode"), autoping=False)
    silent = await client.ws_connect(api(instance, "scanqrcode"), autoping=False)
    await until(lambda: len(heartbeat) == 2)
    await pings(silent, 1, answer=False)
    # The silent one goes half a period after its ping; the answering one is pinged on and on.
    reading = asyncio.create_task(pings(answering, 4, answer=True))
    while True:
        msg = await asyncio.wait_for(silent.receive(), WAIT_S)
        if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.ERROR):
            break
        assert msg.type in (WSMsgType.PING, WSMsgType.TEXT), msg
    await reading
    assert heartbeat.timeouts == 1 and not answering.closed
    await until(lambda: len(heartbeat) == 1)
    metrics = await (await client.get("/metrics")).text()
    assert "qrstream_ws_ping_timeouts_total 1.0" in metrics
    assert "qrstream_websockets_open 1.0" in metrics
    await answering.close()
    await until(lambda: len(heartbeat) == 0)


async def test_the_server_answers_a_clients_ping(client: Client) -> None:
    instance = await new_instance(client)
    ws = await client.ws_connect(api(instance, "scanqrcode"), autoping=False)
    await ws.ping(b"are you there")
    while True:
        msg = await asyncio.wait_for(ws.receive(), WAIT_S)
        if msg.type is WSMsgType.PONG:
            break
        if msg.type is WSMsgType.PING:
            await ws.pong(msg.data)
    assert msg.data == b"are you there"
    await ws.close()


async def test_after_a_stall_the_heartbeat_does_not_catch_up_in_a_burst(client: Client) -> None:
    """The loop stops for three periods (a long collection, a paused VM): afterwards the pings come
    a period apart again, not a burst of the visits missed (which would check slots pinged a moment
    before and drop sockets that answer), and the answering socket stays."""
    heartbeat = client.app[HEARTBEAT]
    instance = await new_instance(client)
    ws = await client.ws_connect(api(instance, "scanqrcode"), autoping=False)
    await pings(ws, 1, answer=True)
    time.sleep(3 * PERIOD_S)  # noqa: ASYNC251 -- the stall under test: the whole loop stops
    loop, arrivals = asyncio.get_running_loop(), []
    while len(arrivals) < 4:
        msg = await asyncio.wait_for(ws.receive(), WAIT_S)
        assert msg.type in (WSMsgType.PING, WSMsgType.TEXT), msg
        if msg.type is WSMsgType.PING:
            arrivals.append(loop.time())
            await ws.pong(msg.data)
    gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
    assert min(gaps) > PERIOD_S / 2, gaps
    assert heartbeat.timeouts == 0 and not ws.closed
    await ws.close()
