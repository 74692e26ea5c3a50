"""Webhook delivery on a real PostgreSQL database: the same promises, several senders sharing it."""

from __future__ import annotations

from typing import Any

from qrstream.clock import FakeClock
from qrstream.config import Config
from qrstream.web.keys import SERVICES, WEBHOOKS
from tests.conftest import ClientFactory
from tests.webhook_receiver import Receiver, add_instance, change_state, delivery, drive


async def test_two_senders_on_postgres_deliver_each_once_in_order(
    make_client: ClientFactory, config: Config, aiohttp_server: Any, clock: FakeClock, postgres_url: str
) -> None:
    """Two apps on one PostgreSQL database, a flaky receiver: each notification accepted once, in order,
    with retries keeping their idempotency key."""
    receiver = Receiver(lambda n, body: 500 if n % 4 == 0 else 200)
    server = await aiohttp_server(receiver.app)
    config = config.replace(db=postgres_url)
    one, two = await make_client(config), await make_client(config)
    for client in (one, two):
        client.app[WEBHOOKS].rng.seed(3)
    svc, other = one.app[SERVICES], two.app[SERVICES]
    await add_instance(svc, 1200000001, str(server.make_url("/hook")))
    start_time = clock.now()
    receipts = []
    for n in range(20):
        clock.set(start_time + n)
        receipts.append(await change_state(svc if n % 2 else other, 1200000001, "authorized"))

    async def all_delivered() -> bool:
        return all([(await delivery(svc, r))["status"] == "delivered" for r in receipts])

    # Settled in the database (not only heard) before jumping far: a jump past a lease while a
    # POST is in flight lets the other sender take it over and send it again, as it should.
    await drive(clock, all_delivered, receiver=receiver)
    for _ in range(3):
        await clock.advance(600)
        await receiver.changed(0.02)

    stamps = [h.json()["timestamp"] for h in receiver.accepted]
    assert stamps == sorted(stamps) and len(stamps) == len(set(stamps)) == 20
    keys = [h.headers["Idempotency-Key"] for h in receiver.hits]
    for receipt_id in receipts:
        row = await delivery(svc, receipt_id)
        assert row["status"] == "delivered"
        assert keys.count(row["idempotency_key"]) == row["attempts"]
