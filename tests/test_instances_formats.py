"""`?format=raw` and `?format=svg` on the instance `qr` method and the `scanqrcode` websocket (§8):
the same pairing link in every format, each format's frame made once per window however many
read it, and a format nobody reads never made. Also on PostgreSQL + Redis."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
from aiohttp import WSServerHandshakeError

from qrstream.clock import FakeClock
from qrstream.instances.keys import FRAMES, ROTATOR
from qrstream.web.keys import SERVICES
from tests.conftest import PUBLIC_URL
from tests.instancekit import Client, api, link_path, new_instance, next_message, until
from tests.qrdecode import decode_as

pytestmark = pytest.mark.scaleout

PERIOD = 20.0


def svg_link(svg: str) -> str:
    """The pairing link an SVG frame's QR holds (rasterized by cairo, decoded by zxing-cpp)."""
    decoded = decode_as("image/svg+xml", svg.encode("ascii"))
    assert decoded.ec_level == "M" and decoded.text.startswith(PUBLIC_URL + "/link/")
    return decoded.text[len(PUBLIC_URL) :]


async def test_rest_qr_in_every_format(client: Client) -> None:
    """png (the default, unchanged), raw (the link itself) and svg show the same link."""
    instance = await new_instance(client)
    default = await (await client.get(api(instance, "qr"))).json()
    png = await (await client.get(api(instance, "qr") + "?format=png")).json()
    raw = await (await client.get(api(instance, "qr") + "?format=raw")).json()
    svg = await (await client.get(api(instance, "qr") + "?format=svg")).json()
    assert default == png and default["type"] == raw["type"] == svg["type"] == "qrCode"
    link = link_path(default["message"])
    assert raw["message"] == PUBLIC_URL + link
    assert svg["message"].startswith("<svg ") and svg["message"].count("<path") == 1
    assert svg_link(svg["message"]) == link


async def test_bad_format_is_400_naming_it(client: Client) -> None:
    """A bad format: 400 {"error", "field": "format"} on qr, and the upgrade refused with 400;
    bad credentials are still 401 first."""
    instance = await new_instance(client)
    for query in ("format=txt", "format=jpeg", "format=raw&format=svg"):
        resp = await client.get(api(instance, "qr") + "?" + query)
        assert resp.status == 400
        body = await resp.json()
        assert body["field"] == "format" and "format" in body["error"]
        with pytest.raises(WSServerHandshakeError) as info:
            await client.ws_connect(api(instance, "scanqrcode") + "?" + query)
        assert info.value.status == 400
    resp = await client.get(f"/waInstance{instance[0]}/qr/{'0' * 50}?format=jpeg")
    assert resp.status == 401


async def test_each_format_is_made_once_per_window_for_fifty_subscribers(
    client: Client, clock: FakeClock
) -> None:
    """50 subscribers of each format: every window's frame is made once per format (the frames'
    and the renderer's counters, not timing), every subscriber gets it, and all show one link."""
    frames, renderer, rotator = client.app[FRAMES], client.app[SERVICES].renderer, client.app[ROTATOR]
    instance = await new_instance(client)
    # 150 sockets: more than the test client's 100 pooled connections, so a session of their own.
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    url = str(client.make_url(api(instance, "scanqrcode")))
    sockets = {
        fmt: [await session.ws_connect(f"{url}?format={fmt}") for _ in range(50)]
        for fmt in ("png", "raw", "svg")
    }
    for _ in range(3):
        received = {fmt: [await next_message(ws) for ws in group] for fmt, group in sockets.items()}
        for group in received.values():
            assert all(message == group[0] for message in group)
        link = link_path(received["png"][0]["message"])
        assert received["raw"][0]["message"] == PUBLIC_URL + link
        assert svg_link(received["svg"][0]["message"]) == link
        # The next window's frames are made during the lead before its turn (at once when the
        # clock stands in it), possibly after this window's frames arrived: count from idle.
        await until(rotator.idle)
        made, renders = dict(frames.made), dict(renderer.renders_by_format)
        await clock.advance(PERIOD)
    # The last advance's frames: await them, then compare the counters once more.
    received = {fmt: [await next_message(ws) for ws in group] for fmt, group in sockets.items()}
    await until(rotator.idle)
    assert {fmt: frames.made[fmt] - made.get(fmt, 0) for fmt in ("png", "raw", "svg")} == {
        "png": 1,
        "raw": 1,
        "svg": 1,
    }
    assert renderer.renders_by_format["png"] - renders.get("png", 0) == 1
    assert renderer.renders_by_format["svg"] - renders.get("svg", 0) == 1
    assert renderer.renders_by_format["txt"] == 0
    await session.close()


async def test_a_format_nobody_reads_costs_nothing(client: Client, clock: FakeClock) -> None:
    """With only PNG subscribers, windows turn without an SVG or raw frame being made."""
    frames, renderer = client.app[FRAMES], client.app[SERVICES].renderer
    instance = await new_instance(client)
    sockets = [await client.ws_connect(api(instance, "scanqrcode")) for _ in range(3)]
    for _ in range(3):
        assert all(m["type"] == "qrCode" for m in [await next_message(ws) for ws in sockets])
        await clock.advance(PERIOD)
    assert all(m["type"] == "qrCode" for m in [await next_message(ws) for ws in sockets])
    assert frames.made["svg"] == frames.made["raw"] == 0 and renderer.renders_by_format["svg"] == 0
    for ws in sockets:
        await ws.close()


async def test_authorization_reaches_every_format(client: Client) -> None:
    """accountData (a message for all) reaches the subscribers of every format, then 1000."""
    instance = await new_instance(client)
    sockets = [
        await client.ws_connect(api(instance, "scanqrcode") + f"?format={f}") for f in ("png", "raw", "svg")
    ]
    frames = [await next_message(ws) for ws in sockets]
    resp = await client.post(frames[1]["message"][len(PUBLIC_URL) :], json={"phone": "15551234567"})
    assert resp.status == 200
    for ws in sockets:
        message = await next_message(ws)
        assert message["type"] == "accountData", message
        closing = await asyncio.wait_for(ws.receive(), 10)
        assert ws.close_code == 1000, closing
    assert json.dumps(frames[0]).startswith('{"type": "qrCode"')
