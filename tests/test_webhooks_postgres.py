"""Webhook delivery on a real PostgreSQL database: the same promises, several senders sharing it."""

from __future__ import annotations

from typing import Any

from qrstream.clock import FakeClock
from qrstream.config import Config
from qrstream.web.keys import SERVICES
from qrstream.webhooks.keys import WEBHOOKS
from tests.conftest import ClientFactory
from tests.webhook_receiver import Receiver, add_instance, twenty_from_two_senders


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
    await twenty_from_two_senders(clock, receiver, (svc, other), 1200000001, lambda n: "authorized")
