"""Instances on PostgreSQL and Redis: two servers share one database and one bus, as in production."""

from __future__ import annotations

import asyncio

from qrstream.clock import FakeClock
from qrstream.config import Config
from qrstream.instances.keys import INSTANCES
from tests.conftest import ClientFactory
from tests.instancekit import Client, api, closed_with, link_path, new_instance, next_message, qr_link, until

ACCOUNT = {"type": "accountData", "message": {"wid": "15551234567@c.us", "phone": "15551234567"}}


async def _pair(
    make_client: ClientFactory, config: Config, postgres_url: str, redis_url: str
) -> list[Client]:
    shared = config.replace(db=postgres_url, bus=redis_url)
    return [await make_client(shared), await make_client(shared)]


async def test_both_servers_show_the_same_qr_and_one_wins_a_race(
    make_client: ClientFactory, config: Config, postgres_url: str, redis_url: str
) -> None:
    """Both servers make the same QR for a window (no shared writes); of redemptions of one code
    sent to both at once, exactly one links."""
    one, two = await _pair(make_client, config, postgres_url, redis_url)
    instance = await new_instance(one)
    path = await qr_link(one, instance)
    assert await qr_link(two, instance) == path
    responses = await asyncio.gather(
        *(c.post(path, json={"phone": f"1555000{n:04d}"}) for n in range(6) for c in (one, two))
    )
    assert sorted(r.status for r in responses) == [200] + [410] * 11


async def test_a_link_on_one_server_ends_the_stream_on_the_other(
    make_client: ClientFactory, config: Config, postgres_url: str, redis_url: str, clock: FakeClock
) -> None:
    """A websocket on server two sees the frames and gets accountData and a 1000 close when the
    code is redeemed on server one; a long poll on server two wakes at once too."""
    one, two = await _pair(make_client, config, postgres_url, redis_url)
    instance = await new_instance(one)
    ws = await two.ws_connect(api(instance, "scanqrcode"))
    frame = await next_message(ws)
    inbox = two.app[INSTANCES].inbox
    poll = asyncio.ensure_future(two.get(api(instance, "receiveNotification") + "?receiveTimeout=60"))
    await until(lambda: inbox.waiting(instance[0]) == 1)
    resp = await one.post(link_path(frame["message"]), json={"phone": "15551234567"})
    assert resp.status == 200
    assert await next_message(ws) == ACCOUNT
    assert await closed_with(ws) == 1000
    found = await (await asyncio.wait_for(poll, 10)).json()
    assert found["body"]["stateInstance"] == "authorized"
