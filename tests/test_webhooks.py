"""Webhook delivery end to end: the real app, a real receiver on a real socket, the fake clock."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import socket
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from qrstream.clock import FakeClock
from qrstream.config import Config
from qrstream.services import Services
from qrstream.web.keys import SERVICES
from qrstream.webhooks.keys import WEBHOOKS
from tests.conftest import ClientFactory
from tests.webhook_receiver import (
    Receiver,
    add_instance,
    answers,
    change_state,
    delivery,
    drive,
    linger,
    status_is,
    twenty_from_two_senders,
)

SIGNING_KEY = "signing-key-one"  # the first of the test config's signing keys signs


Client = TestClient[web.Request, web.Application]


async def start(make_client: ClientFactory, config: Config) -> tuple[Client, Services]:
    client = await make_client(config)
    client.app[WEBHOOKS].rng.seed(5)  # reproducible jitter
    return client, client.app[SERVICES]


async def one_change(
    make_client: ClientFactory,
    config: Config,
    aiohttp_server: Any,
    receiver: Receiver,
    instance_id: int,
    path: str,
    *,
    wake: bool = True,
) -> tuple[Services, int]:
    """An app whose instance `instance_id` posts to `receiver` at `path`, and one change of that
    instance to authorized (its receipt id)."""
    server = await aiohttp_server(receiver.app)
    _, svc = await start(make_client, config)
    await add_instance(svc, instance_id, str(server.make_url(path)))
    return svc, await change_state(svc, instance_id, "authorized", wake=wake)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_post_carries_body_signature_length_and_key(
    make_client: ClientFactory, config: Config, aiohttp_server: Any, clock: FakeClock
) -> None:
    """The stored JSON bytes are POSTed with Content-Length, JSON type, an HMAC signature and a key."""
    receiver = Receiver()
    svc, receipt_id = await one_change(
        make_client, config, aiohttp_server, receiver, 1100000001, "/hook?token=abc"
    )

    await drive(clock, status_is(svc, receipt_id, "delivered"), receiver=receiver, step=0)

    assert len(receiver.hits) == 1
    hit = receiver.hits[0]
    stored = await svc.db.fetchone("SELECT body FROM notifications WHERE receipt_id = ?", receipt_id)
    assert stored is not None and hit.body == stored["body"].encode()
    assert hit.json()["typeWebhook"] == "stateInstanceChanged"
    assert hit.json()["stateInstance"] == "authorized"
    assert hit.json()["instanceData"] == {"idInstance": 1100000001, "wid": "", "typeInstance": "whatsapp"}
    assert hit.headers["Content-Type"] == "application/json"
    assert int(hit.headers["Content-Length"]) == len(hit.body)
    assert "Transfer-Encoding" not in hit.headers
    expected = hmac.new(SIGNING_KEY.encode(), hit.body, hashlib.sha256).hexdigest()
    assert hit.headers["X-Qrstream-Signature"] == f"sha256={expected}"
    assert len(hit.headers["Idempotency-Key"]) == 32
    row = await delivery(svc, receipt_id)
    assert (row["status"], row["attempts"]) == ("delivered", 1)
    assert row["idempotency_key"] == hit.headers["Idempotency-Key"]


async def test_retries_after_500s_until_accepted_once(
    make_client: ClientFactory, config: Config, aiohttp_server: Any, clock: FakeClock
) -> None:
    """Three 500s then a 200: four tries with one idempotency key, accepted exactly once."""
    receiver = Receiver(answers(500, 500, 500))
    svc, receipt_id = await one_change(make_client, config, aiohttp_server, receiver, 1100000002, "/hook")

    await drive(clock, status_is(svc, receipt_id, "delivered"), receiver=receiver)
    await linger(clock, svc.db, 5)  # long after: nothing more is sent

    assert [h.status for h in receiver.hits] == [500, 500, 500, 200]
    assert len({h.headers["Idempotency-Key"] for h in receiver.hits}) == 1
    assert len({h.body for h in receiver.hits}) == 1
    row = await delivery(svc, receipt_id)
    assert (row["status"], row["attempts"], row["last_error"]) == ("delivered", 4, None)


async def test_receiver_down_then_up_after_restart_still_gets_it(
    make_client: ClientFactory, config: Config, aiohttp_server: Any, clock: FakeClock
) -> None:
    """A change made while the receiver is down is delivered after the app restarts on the same database."""
    port = free_port()
    client, svc = await start(make_client, config)
    await add_instance(svc, 1100000003, f"http://127.0.0.1:{port}/hook")
    receipt_id = await change_state(svc, 1100000003, "authorized")

    async def tried() -> bool:
        return int((await delivery(svc, receipt_id))["attempts"]) >= 2

    await drive(clock, tried)
    row = await delivery(svc, receipt_id)
    assert row["status"] == "pending"
    assert "cannot connect" in row["last_error"]
    await client.close()

    receiver = Receiver()
    await aiohttp_server(receiver.app, port=port)
    _, svc = await start(make_client, config)
    await drive(clock, status_is(svc, receipt_id, "delivered"), receiver=receiver)

    assert len(receiver.hits) == 1
    assert receiver.hits[0].headers["Idempotency-Key"] == row["idempotency_key"]
    assert receiver.hits[0].json()["stateInstance"] == "authorized"


async def test_hundred_changes_over_ten_instances_arrive_in_order_once(
    make_client: ClientFactory, config: Config, aiohttp_server: Any, clock: FakeClock
) -> None:
    """100 changes across 10 instances: each instance's arrive in order, none lost, none twice,
    even when some first tries fail."""
    seen: set[bytes] = set()

    def flaky(n: int, body: bytes) -> int:
        first = body not in seen
        seen.add(body)
        return 500 if first and n % 7 == 3 else 200

    receiver = Receiver(flaky)
    server = await aiohttp_server(receiver.app)
    _, svc = await start(make_client, config)
    ids = [1100000100 + i for i in range(10)]
    for instance_id in ids:
        await add_instance(svc, instance_id, str(server.make_url(f"/hook/{instance_id}")))
    start_time = clock.now()
    for n in range(100):
        clock.set(start_time + n)  # distinct timestamps tell the order
        await change_state(svc, ids[n % 10], "authorized" if (n // 10) % 2 == 0 else "notAuthorized")

    await drive(clock, lambda: len(receiver.accepted) == 100, receiver=receiver)
    await linger(clock, svc.db, 3)

    accepted = [h.json() for h in receiver.accepted]
    assert len(receiver.accepted) == len({h.body for h in receiver.accepted}) == 100
    for instance_id in ids:
        mine = [b["timestamp"] for b in accepted if b["instanceData"]["idInstance"] == instance_id]
        assert mine == sorted(mine) and len(mine) == 10
    for hit in receiver.accepted:
        assert hit.path == f"/hook/{hit.json()['instanceData']['idInstance']}"
    assert any(h.status == 500 for h in receiver.hits)


async def test_given_up_delivery_is_listed_and_logged_once(
    make_client: ClientFactory,
    config: Config,
    aiohttp_server: Any,
    clock: FakeClock,
    admin_headers: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A receiver that always fails is given up after the configured time, listed, logged once."""
    caplog.set_level(logging.WARNING, logger="qrstream.webhooks.sender")
    receiver = Receiver(lambda n, body: 503)
    server = await aiohttp_server(receiver.app)
    config = config.replace(webhook_give_up_s=60, webhook_max_backoff_s=5)
    client, svc = await start(make_client, config)
    await add_instance(svc, 1100000004, str(server.make_url("/hook?token=secret-token")))
    created = clock.now()
    receipt_id = await change_state(svc, 1100000004, "authorized")

    await drive(clock, status_is(svc, receipt_id, "failed"), receiver=receiver, step=2)
    assert clock.now() >= created + 60
    tries = len(receiver.hits)
    await linger(clock, svc.db, 5)
    assert len(receiver.hits) == tries >= 5

    assert (await client.get("/admin/webhooks/failed")).status == 401
    resp = await client.get("/admin/webhooks/failed", headers=admin_headers)
    assert resp.status == 200
    [failed] = (await resp.json())["failed"]
    assert failed["receiptId"] == receipt_id
    assert failed["idInstance"] == 1100000004
    assert failed["url"].endswith("/hook?token=secret-token")
    assert failed["attempts"] == tries
    assert failed["lastError"] == "HTTP 503"
    assert failed["gaveUpAt"] >= failed["createdAt"] + 60
    assert failed["body"]["stateInstance"] == "authorized"
    assert failed["idempotencyKey"] == receiver.hits[0].headers["Idempotency-Key"]

    warnings = [r for r in caplog.records if "given up" in r.getMessage()]
    assert len(warnings) == 1
    assert "secret-token" not in caplog.text and SIGNING_KEY not in caplog.text

    resp = await client.get("/admin/webhooks/failed?limit=0", headers=admin_headers)
    assert resp.status == 400 and (await resp.json())["field"] == "limit"


async def test_removed_webhook_url_gets_nothing(
    make_client: ClientFactory, config: Config, aiohttp_server: Any, clock: FakeClock
) -> None:
    """Once the instance's webhook URL is removed, pending deliveries are cancelled, never sent."""
    receiver = Receiver(answers(500))
    server = await aiohttp_server(receiver.app)
    _, svc = await start(make_client, config)
    url = str(server.make_url("/hook"))
    await add_instance(svc, 1100000005, url)
    await add_instance(svc, 1100000006, url)

    # 5: tried once (500), then its URL is removed before the retry.
    first = await change_state(svc, 1100000005, "authorized")
    await drive(clock, lambda: len(receiver.hits) == 1, receiver=receiver, step=0)
    # 6: its URL is removed before the sender even looked.
    second = await change_state(svc, 1100000006, "authorized", wake=False)
    await svc.db.execute("UPDATE instances SET webhook_url = '' WHERE id IN (?, ?)", 1100000005, 1100000006)
    later = await change_state(svc, 1100000005, "notAuthorized")

    async def settled() -> bool:
        return all([(await delivery(svc, r))["status"] == "cancelled" for r in (first, second)])

    await drive(clock, settled, receiver=receiver)
    await linger(clock, svc.db, 5)
    assert len(receiver.hits) == 1
    row = await svc.db.fetchone("SELECT COUNT(*) AS n FROM deliveries WHERE receipt_id = ?", later)
    assert row is not None and row["n"] == 0  # no URL when it happened: nothing to deliver


async def test_changed_webhook_url_gets_the_rest(
    make_client: ClientFactory, config: Config, aiohttp_server: Any, clock: FakeClock
) -> None:
    """A delivery whose instance changed its URL between tries goes to the new URL, same key."""
    old, new = Receiver(lambda n, body: 500), Receiver()
    old_server, new_server = await aiohttp_server(old.app), await aiohttp_server(new.app)
    _, svc = await start(make_client, config)
    await add_instance(svc, 1100000007, str(old_server.make_url("/old")))
    receipt_id = await change_state(svc, 1100000007, "authorized")
    await drive(clock, lambda: len(old.hits) == 1, receiver=old, step=0)

    await svc.db.execute(
        "UPDATE instances SET webhook_url = ? WHERE id = ?", str(new_server.make_url("/new")), 1100000007
    )
    await drive(clock, status_is(svc, receipt_id, "delivered"), receiver=new)

    assert new.hits[0].headers["Idempotency-Key"] == old.hits[0].headers["Idempotency-Key"]
    assert len(old.hits) == 1
    row = await delivery(svc, receipt_id)
    assert (row["status"], row["url"]) == ("delivered", str(new_server.make_url("/new")))


async def test_hanging_receiver_does_not_delay_other_instances(
    make_client: ClientFactory, config: Config, aiohttp_server: Any, clock: FakeClock
) -> None:
    """While one instance's receiver hangs, another instance's notification is delivered."""
    slow, fast = Receiver(), Receiver()
    slow.hold = asyncio.Event()
    slow_server, fast_server = await aiohttp_server(slow.app), await aiohttp_server(fast.app)
    client, svc = await start(make_client, config)
    await add_instance(svc, 1100000008, str(slow_server.make_url("/slow")))
    await add_instance(svc, 1100000009, str(fast_server.make_url("/fast")))
    await change_state(svc, 1100000008, "authorized")
    await drive(clock, lambda: len(slow.arrived) == 1, receiver=slow, step=0)  # now it hangs
    await change_state(svc, 1100000009, "authorized")

    await drive(clock, lambda: len(fast.accepted) == 1, receiver=fast, step=0)
    assert slow.hits == [] and len(slow.arrived) == 1  # still in flight, unanswered
    assert (await client.get("/healthz")).status == 200

    slow.hold.set()
    await drive(clock, lambda: len(slow.accepted) == 1, receiver=slow, step=0)


async def test_lease_of_a_crashed_sender_expires(
    make_client: ClientFactory, config: Config, aiohttp_server: Any, clock: FakeClock
) -> None:
    """A delivery leased by a sender that died is taken over once its lease ends."""
    receiver = Receiver()
    svc, receipt_id = await one_change(
        make_client, config, aiohttp_server, receiver, 1100000010, "/hook", wake=False
    )
    await svc.db.execute(
        "UPDATE deliveries SET lease_until = ?, owner = 'dead' WHERE receipt_id = ?",
        clock.now() + 30,
        receipt_id,
    )
    svc.outbox.ring()
    await linger(clock, svc.db, 25, step=1)
    assert receiver.hits == []

    await drive(clock, lambda: len(receiver.accepted) == 1, receiver=receiver)
    assert clock.now() > (await delivery(svc, receipt_id))["created_at"] + 30


async def test_own_abandoned_lease_is_taken_back_at_once(
    make_client: ClientFactory, config: Config, aiohttp_server: Any, clock: FakeClock
) -> None:
    """A lease this sender still holds with no worker of its own on it (the worker died when the
    store went away between claim and outcome) is taken back at once, not after its 60 s."""
    receiver = Receiver()
    server = await aiohttp_server(receiver.app)
    client, svc = await start(make_client, config)
    await add_instance(svc, 1100000011, str(server.make_url("/hook")))
    receipt_id = await change_state(svc, 1100000011, "authorized", wake=False)
    sender = client.app[WEBHOOKS]
    await svc.db.execute(
        "UPDATE deliveries SET lease_until = ?, owner = ? WHERE receipt_id = ?",
        clock.now() + 60,
        sender.owner,
        receipt_id,
    )
    svc.outbox.ring()
    await drive(clock, lambda: len(receiver.accepted) == 1, receiver=receiver)
    assert clock.now() < (await delivery(svc, receipt_id))["created_at"] + 5


async def test_two_senders_on_one_database_deliver_each_once_in_order(
    make_client: ClientFactory, config: Config, aiohttp_server: Any, clock: FakeClock
) -> None:
    """Two app processes' senders sharing a database: every notification accepted once, in order."""
    receiver = Receiver(lambda n, body: 500 if n % 5 == 0 else 200)
    server = await aiohttp_server(receiver.app)
    _, svc = await start(make_client, config)
    _, other = await start(make_client, config)
    await add_instance(svc, 1100000011, str(server.make_url("/hook")))
    await twenty_from_two_senders(
        clock, receiver, (svc, other), 1100000011, lambda n: "authorized" if n % 2 else "notAuthorized"
    )
