"""receiveNotification / deleteNotification: one notification per state change, in order, durable."""

from __future__ import annotations

import asyncio
from typing import Any

from qrstream.clock import FakeClock
from qrstream.config import Config
from qrstream.instances.keys import INSTANCES
from tests.conftest import ClientFactory
from tests.instancekit import Client, api, new_instance, qr_link, until

START = 1_767_225_600  # the FakeClock's start


async def _receive(client: Client, instance: tuple[int, str], query: str = "") -> Any:
    resp = await client.get(api(instance, "receiveNotification") + query)
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def _poll(client: Client, instance: tuple[int, str], query: str = "") -> asyncio.Task[Any]:
    """Start a receiveNotification and return once the server has it waiting."""
    inbox = client.app[INSTANCES].inbox
    before = inbox.waiting(instance[0])
    task = asyncio.ensure_future(_receive(client, instance, query))
    await until(lambda: task.done() or inbox.waiting(instance[0]) > before)
    return task


def _state_change(instance_id: int, wid: str, state: str, timestamp: int) -> dict[str, Any]:
    return {
        "typeWebhook": "stateInstanceChanged",
        "instanceData": {"idInstance": instance_id, "wid": wid, "typeInstance": "whatsapp"},
        "timestamp": timestamp,
        "stateInstance": state,
    }


async def test_one_notification_per_change_in_order_surviving_a_rebuild(
    make_client: ClientFactory, config: Config, clock: FakeClock
) -> None:
    """Link, logout, reboot: each change queues one notification, received oldest first, still
    there after the app is rebuilt on the same database file; delete acknowledges each once."""
    client = await make_client(config)
    instance = await new_instance(client)
    assert (await client.post(await qr_link(client, instance), json={"phone": "15551234567"})).status == 200
    await clock.advance(1)
    assert (await client.get(api(instance, "logout"))).status == 200
    await clock.advance(1)
    assert (await client.get(api(instance, "reboot"))).status == 200
    await clock.advance(2)  # the reboot ends
    await client.close()

    client = await make_client(config)
    received = []
    for _ in range(4):
        found = await _receive(client, instance)
        assert set(found) == {"receiptId", "body"} and isinstance(found["receiptId"], int)
        received.append(found)
        resp = await client.delete(api(instance, "deleteNotification") + f"/{found['receiptId']}")
        assert await resp.json() == {"result": True}
        resp = await client.delete(api(instance, "deleteNotification") + f"/{found['receiptId']}")
        assert await resp.json() == {"result": False}
    wid = "15551234567@c.us"
    assert [r["body"] for r in received] == [
        _state_change(instance[0], wid, "authorized", START),
        _state_change(instance[0], wid, "notAuthorized", START + 1),
        _state_change(instance[0], "", "starting", START + 2),
        _state_change(instance[0], "", "notAuthorized", START + 4),
    ]
    receipts = [r["receiptId"] for r in received]
    assert receipts == sorted(receipts)
    waiting = await _poll(client, instance)
    assert not waiting.done()
    await clock.advance(5)
    assert await waiting is None


async def test_creation_is_not_a_change(client: Client, clock: FakeClock) -> None:
    """A new instance has no notification: the long poll answers null at its timeout."""
    instance = await new_instance(client)
    waiting = await _poll(client, instance)
    assert not waiting.done()
    await clock.advance(4.9)
    assert not waiting.done()
    await clock.advance(0.1)
    assert await waiting is None


async def test_long_poll_answers_as_soon_as_one_is_queued(client: Client, clock: FakeClock) -> None:
    """A waiting receiveNotification answers the moment a change is committed, long before its timeout."""
    instance = await new_instance(client)
    path = await qr_link(client, instance)
    waiting = await _poll(client, instance, "?receiveTimeout=60")
    assert not waiting.done()
    assert (await client.post(path, json={"phone": "15551234567"})).status == 200
    found = await asyncio.wait_for(waiting, 5)
    assert found["body"]["stateInstance"] == "authorized"


async def test_notifications_are_per_instance(client: Client) -> None:
    """One instance's changes are not in another's queue, nor deletable through it."""
    first, second = await new_instance(client), await new_instance(client)
    assert (await client.post(await qr_link(client, first), json={"phone": "15551234567"})).status == 200
    found = await _receive(client, first)
    assert found["body"]["instanceData"]["idInstance"] == first[0]
    resp = await client.delete(api(second, "deleteNotification") + f"/{found['receiptId']}")
    assert await resp.json() == {"result": False}
    assert await _receive(client, first) == found


async def test_receive_timeout_bounds(client: Client, clock: FakeClock) -> None:
    """receiveTimeout must be a whole number from 5 to 60; anything else is 400."""
    instance = await new_instance(client)
    for bad in ("4", "61", "abc", "5.5", "", "-5"):
        resp = await client.get(api(instance, "receiveNotification") + f"?receiveTimeout={bad}")
        assert resp.status == 400, bad
        assert (await resp.json())["field"] == "receiveTimeout"
    resp = await client.delete(api(instance, "deleteNotification") + "/abc")
    assert resp.status == 400
    waiting = await _poll(client, instance, "?receiveTimeout=60")
    await clock.advance(59)
    assert not waiting.done()
    await clock.advance(1)
    assert await waiting is None
