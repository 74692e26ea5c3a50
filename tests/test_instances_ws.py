"""The scanqrcode websocket: shared frames, rotation on the clock, authorization, timeout, deletion."""

from __future__ import annotations

import asyncio
import base64
import os
import socket

import pytest
from aiohttp import ClientWebSocketResponse, WSServerHandshakeError

from qrstream.clock import FakeClock
from qrstream.config import Config
from qrstream.instances.keys import ROTATOR
from qrstream.instances.rotation import topic as instance_topic
from qrstream.web.keys import SERVICES
from qrstream.web.ws import HUB
from tests.conftest import ClientFactory
from tests.instancekit import (
    ADMIN,
    RECEIVE_S,
    Client,
    api,
    closed_with,
    link_path,
    new_instance,
    next_message,
    until,
)

pytestmark = pytest.mark.scaleout  # also on PostgreSQL + Redis (tests/conftest.py)

PERIOD = 20.0
MAX_ROUNDS = 500  # frames sent before a socket that never reads must have been dropped
ACCOUNT = {"type": "accountData", "message": {"wid": "15551234567@c.us", "phone": "15551234567"}}


async def test_subscribers_share_frames_and_see_authorization(client: Client, clock: FakeClock) -> None:
    """Two subscribers get identical frames, a new one each period; the decoded QR links the
    instance, after which both get accountData and a 1000 close."""
    instance = await new_instance(client)
    one = await client.ws_connect(api(instance, "scanqrcode"))
    two = await client.ws_connect(api(instance, "scanqrcode"))
    first_one, first_two = await next_message(one), await next_message(two)
    assert first_one == first_two and first_one["type"] == "qrCode"
    await clock.advance(PERIOD)
    second_one, second_two = await next_message(one), await next_message(two)
    assert second_one == second_two and second_one["type"] == "qrCode"
    assert link_path(second_one["message"]) != link_path(first_one["message"])
    resp = await client.post(link_path(second_one["message"]), json={"phone": "15551234567"})
    assert resp.status == 200
    for ws in (one, two):
        assert await next_message(ws) == ACCOUNT
        assert await closed_with(ws) == 1000


async def test_frames_render_once_per_window_for_any_number_of_subscribers(
    client: Client, clock: FakeClock
) -> None:
    """Five subscribers and a REST call cost one render per window, and all see the same frame."""
    renderer, rotator = client.app[SERVICES].renderer, client.app[ROTATOR]
    instance = await new_instance(client)
    sockets = [await client.ws_connect(api(instance, "scanqrcode")) for _ in range(5)]
    firsts = [await next_message(ws) for ws in sockets]
    assert all(f == firsts[0] for f in firsts)
    assert await (await client.get(api(instance, "qr"))).json() == firsts[0]
    # The next window's frame is made during the lead before its turn: when the clock stands
    # in that lead already, it is made now. Count from a rotation with nothing due.
    await until(rotator.idle)
    renders = renderer.renders
    seen = {link_path(firsts[0]["message"])}
    for _ in range(3):
        await clock.advance(PERIOD)
        frames = [await next_message(ws) for ws in sockets]
        assert all(f == frames[0] for f in frames)
        seen.add(link_path(frames[0]["message"]))
    await until(rotator.idle)
    assert renderer.renders == renders + 3
    assert len(seen) == 4
    for ws in sockets:
        await ws.close()


async def test_scan_timeout_sends_timeout_expired(client: Client, clock: FakeClock) -> None:
    """Nobody scans within the scan timeout (from this connection's start): timeoutExpired, close 1000."""
    instance = await new_instance(client)
    ws = await client.ws_connect(api(instance, "scanqrcode"))
    assert (await next_message(ws))["type"] == "qrCode"
    await clock.advance(99.9)
    assert (await next_message(ws))["type"] == "qrCode"  # the rotation caught up; no timeout yet
    await clock.advance(0.1)
    message = await next_message(ws)
    while message["type"] == "qrCode":  # a window may have turned in that last 0.1 s
        message = await next_message(ws)
    assert message == {"type": "timeoutExpired", "message": "timeoutExpired"}
    assert await closed_with(ws) == 1000


async def test_authorized_instance_gets_already_logged(client: Client) -> None:
    """Connecting to an authorized instance: alreadyLogged, then close 1000."""
    instance = await new_instance(client)
    ws = await client.ws_connect(api(instance, "scanqrcode"))
    frame = await next_message(ws)
    assert (await client.post(link_path(frame["message"]), json={"phone": "15551234567"})).status == 200
    assert await next_message(ws) == ACCOUNT
    late = await client.ws_connect(api(instance, "scanqrcode"))
    assert await next_message(late) == {
        "type": "alreadyLogged",
        "message": "instance account already authorized",
    }
    assert await closed_with(late) == 1000
    assert (await client.get(api(instance, "reboot"))).status == 200
    rebooting = await client.ws_connect(api(instance, "scanqrcode"))
    assert (await next_message(rebooting))["type"] == "alreadyLogged"  # on its way back to authorized
    assert await closed_with(rebooting) == 1000


@pytest.mark.parametrize("wrong", ["token", "id"])
async def test_bad_credentials_refuse_the_upgrade(client: Client, wrong: str) -> None:
    """A wrong token or an unknown id: the upgrade is refused with 401."""
    instance_id, token = await new_instance(client)
    path = (
        f"/waInstance{instance_id}/scanqrcode/{'0' * 50}"
        if wrong == "token"
        else f"/waInstance1000000001/scanqrcode/{token}"
    )
    with pytest.raises(WSServerHandshakeError) as caught:
        await client.ws_connect(path)
    assert caught.value.status == 401
    resp = await client.get(path)
    assert resp.status == 401 and await resp.json() == {"error": "Unauthorized"}


async def test_deletion_closes_the_stream(client: Client) -> None:
    """Deleting the instance sends {"type": "error", "message": "instance deleted"}, then close 1000."""
    instance = await new_instance(client)
    ws = await client.ws_connect(api(instance, "scanqrcode"))
    assert (await next_message(ws))["type"] == "qrCode"
    resp = await client.delete(f"/admin/instances/{instance[0]}", headers=ADMIN)
    assert resp.status == 204
    assert await next_message(ws) == {"type": "error", "message": "instance deleted"}
    assert await closed_with(ws) == 1000


async def test_rotation_stops_without_subscribers(client: Client, clock: FakeClock) -> None:
    """The rotation task of an instance ends once its last subscriber has left."""
    rotator = client.app[ROTATOR]
    instance = await new_instance(client)
    ws = await client.ws_connect(api(instance, "scanqrcode"))
    await next_message(ws)
    assert rotator.running() == 1
    await ws.close()
    await clock.advance(PERIOD)
    await until(lambda: rotator.running() == 0)


async def until_frame(client: Client, instance: tuple[int, str], ws: ClientWebSocketResponse) -> None:
    """Read `ws` up to the frame REST `qr` shows now (the rotation has caught up); every message
    on the way must be a QR frame (no timeoutExpired, no close)."""
    current = await (await client.get(api(instance, "qr"))).json()
    while (message := await next_message(ws)) != current:
        assert message["type"] == "qrCode", message


async def test_a_later_connection_has_its_own_scan_timeout(client: Client, clock: FakeClock) -> None:
    """A second scanqrcode connection opened 60 s after the first times out 100 s after its own
    start: the first gets timeoutExpired at 100 s, the second keeps its frames until 160 s."""
    instance = await new_instance(client)
    first = await client.ws_connect(api(instance, "scanqrcode"))
    assert (await next_message(first))["type"] == "qrCode"
    await clock.advance(60)
    second = await client.ws_connect(api(instance, "scanqrcode"))
    assert (await next_message(second))["type"] == "qrCode"

    await clock.advance(40)  # 100 s after the first connection
    while (message := await next_message(first))["type"] == "qrCode":
        pass
    assert message == {"type": "timeoutExpired", "message": "timeoutExpired"}
    assert await closed_with(first) == 1000
    await until_frame(client, instance, second)

    await clock.advance(59.9)  # just before the second's 100 s
    await until_frame(client, instance, second)
    await clock.advance(0.1)
    while (message := await next_message(second))["type"] == "qrCode":
        pass
    assert message == {"type": "timeoutExpired", "message": "timeoutExpired"}
    assert await closed_with(second) == 1000


async def open_never_reading(client: Client, path: str) -> socket.socket:
    """A websocket upgrade on a raw socket with a small receive window that the test never reads."""
    loop = asyncio.get_running_loop()
    sock = socket.socket()
    # Before connecting: a small window, and small segments, which keep the server's send
    # buffer small too (the kernel sizes it from the segment size): the buffers fill sooner.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 536)
    sock.setblocking(False)
    await loop.sock_connect(sock, (client.server.host, client.server.port))
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {client.server.host}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    await loop.sock_sendall(sock, request.encode())
    return sock


async def metric(client: Client, name: str) -> float:
    text = await (await client.get("/metrics")).text()
    [line] = [x for x in text.splitlines() if x.startswith(name + " ")]
    return float(line.split()[1])


async def skipped_frames(client: Client) -> float:
    return await metric(client, "qrstream_ws_frames_skipped_total")


async def websockets_open(client: Client) -> float:
    return await metric(client, "qrstream_websockets_open")


async def test_a_reader_that_never_reads_is_dropped_and_the_others_keep_receiving(
    make_client: ClientFactory, config: Config, clock: FakeClock
) -> None:
    """A scanqrcode socket that never reads fills its buffers; it is then skipped and dropped
    (its connection closed, and no longer counted in qrstream_websockets_open), while another
    subscriber of the same instance gets every frame at once, before and after."""
    await never_reading_is_dropped(make_client, config, clock)


async def never_reading_is_dropped(make_client: ClientFactory, config: Config, clock: FakeClock) -> None:
    """The scenario above, on whatever event loop the test runs (tests/uvloop/ runs it on uvloop)."""
    client = await make_client(config.replace(qr_scan_timeout_s=1e9))
    instance = await new_instance(client)
    path = api(instance, "scanqrcode") + "?format=svg"  # bigger frames than raw: fuller buffers
    stuck = await open_never_reading(client, path)
    reader = await client.ws_connect(path)
    try:
        seen = [(await next_message(reader))["message"]]
        hub, name = client.app[HUB], instance_topic(instance[0])
        await until(lambda: hub.count(name) == 2)
        assert await websockets_open(client) == 2
        for _ in range(MAX_ROUNDS):
            await clock.advance(PERIOD)
            message = await next_message(reader)
            assert message["type"] == "qrCode" and message["message"] != seen[-1]
            seen.append(message["message"])
            if await websockets_open(client) == 1:
                break  # dropped
        else:
            raise AssertionError(f"the never-reading socket was not dropped after {MAX_ROUNDS} frames")
        assert await skipped_frames(client) >= 3  # skipped before it was dropped
        await until(lambda: hub.count(name) == 1)  # its handler is done with it
        for _ in range(2):
            await clock.advance(PERIOD)
            assert (await next_message(reader))["type"] == "qrCode"  # and on it goes
        assert await websockets_open(client) == 1
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(RECEIVE_S):  # now read it: what was queued, then the end
            while await loop.sock_recv(stuck, 1 << 20):
                pass
        print(f"dropped after {len(seen)} frames of about {len(seen[-1])} characters")
    finally:
        stuck.close()
