"""Instance webhooks driven through the real instance API: admin create, setSettings, link, logout."""

from __future__ import annotations

import hashlib
import hmac
import socket
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from qrstream.clock import FakeClock
from qrstream.config import Config
from qrstream.web.keys import SERVICES
from qrstream.webhooks.keys import WEBHOOKS
from tests.conftest import PUBLIC_URL, ClientFactory
from tests.qrdecode import decode_b64
from tests.webhook_receiver import Receiver, answers, drive, linger

Client = TestClient[web.Request, web.Application]

pytestmark = pytest.mark.scaleout  # also on PostgreSQL + Redis (tests/conftest.py)


async def start(make_client: ClientFactory, config: Config) -> Client:
    client = await make_client(config)
    client.app[WEBHOOKS].rng.seed(11)  # reproducible jitter
    return client


async def new_instance(client: Client, admin: dict[str, str], webhook_url: str = "") -> tuple[int, str]:
    body = {"webhookUrl": webhook_url} if webhook_url else {}
    resp = await client.post("/admin/instances", json=body, headers=admin)
    assert resp.status == 201
    data = await resp.json()
    return int(data["idInstance"]), str(data["apiTokenInstance"])


async def link(client: Client, instance_id: int, token: str, phone: str) -> None:
    """Scan the instance's current QR like a phone would and confirm the number."""
    resp = await client.get(f"/waInstance{instance_id}/qr/{token}")
    frame = await resp.json()
    assert frame["type"] == "qrCode", frame
    text = decode_b64(frame["message"]).text
    assert text.startswith(f"{PUBLIC_URL}/link/")
    resp = await client.post(text.removeprefix(PUBLIC_URL), json={"phone": phone})
    assert resp.status == 200, await resp.text()
    assert await resp.json() == {"linked": True, "wid": f"{phone}@c.us"}


async def logout(client: Client, instance_id: int, token: str) -> None:
    resp = await client.get(f"/waInstance{instance_id}/logout/{token}")
    assert await resp.json() == {"isLogout": True}


async def set_webhook(client: Client, instance_id: int, token: str, url: str) -> None:
    resp = await client.post(f"/waInstance{instance_id}/setSettings/{token}", json={"webhookUrl": url})
    assert await resp.json() == {"saveSettings": True}


async def linked_with_one_hit(
    make_client: ClientFactory,
    config: Config,
    aiohttp_server: Any,
    clock: FakeClock,
    admin: dict[str, str],
    receiver: Receiver,
    phone: str,
) -> tuple[Client, int, str]:
    """An instance posting to `receiver`, linked to `phone`, once the receiver has had that one hit."""
    server = await aiohttp_server(receiver.app)
    client = await start(make_client, config)
    instance_id, token = await new_instance(client, admin, str(server.make_url("/wa")))
    await link(client, instance_id, token, phone)
    await drive(clock, lambda: len(receiver.hits) == 1, receiver=receiver, step=0)
    return client, instance_id, token


async def test_link_and_logout_are_posted_signed_in_order(
    make_client: ClientFactory,
    config: Config,
    aiohttp_server: Any,
    clock: FakeClock,
    admin_headers: dict[str, str],
) -> None:
    """Linking then logging out POSTs authorized then notAuthorized, signed, with Content-Length."""
    receiver = Receiver()
    server = await aiohttp_server(receiver.app)
    client = await start(make_client, config)
    instance_id, token = await new_instance(client, admin_headers)
    await set_webhook(client, instance_id, token, str(server.make_url("/wa")))

    await link(client, instance_id, token, "79001234567")
    await logout(client, instance_id, token)
    await drive(clock, lambda: len(receiver.accepted) == 2, receiver=receiver, step=0)

    bodies = [h.json() for h in receiver.accepted]
    assert [b["stateInstance"] for b in bodies] == ["authorized", "notAuthorized"]
    assert bodies[0]["typeWebhook"] == "stateInstanceChanged"
    assert bodies[0]["instanceData"] == {
        "idInstance": instance_id,
        "wid": "79001234567@c.us",
        "typeInstance": "whatsapp",
    }
    for hit in receiver.hits:
        signature = hmac.new(b"signing-key-one", hit.body, hashlib.sha256).hexdigest()
        assert hit.headers["X-Qrstream-Signature"] == f"sha256={signature}"
        assert int(hit.headers["Content-Length"]) == len(hit.body)
        assert hit.headers["Content-Type"] == "application/json"
    assert receiver.hits[0].headers["Idempotency-Key"] != receiver.hits[1].headers["Idempotency-Key"]

    # The same notifications are in the receiveNotification queue too, independently.
    resp = await client.get(f"/waInstance{instance_id}/receiveNotification/{token}")
    queued = await resp.json()
    assert queued["body"] == bodies[0]


async def test_500s_then_200_accepted_once_with_one_key(
    make_client: ClientFactory,
    config: Config,
    aiohttp_server: Any,
    clock: FakeClock,
    admin_headers: dict[str, str],
) -> None:
    """A receiver answering 500 three times then 200 gets the link notification accepted exactly once."""
    receiver = Receiver(answers(500, 500, 500))
    server = await aiohttp_server(receiver.app)
    client = await start(make_client, config)
    instance_id, token = await new_instance(client, admin_headers, str(server.make_url("/wa")))

    await link(client, instance_id, token, "79001234568")
    await drive(clock, lambda: len(receiver.accepted) == 1, receiver=receiver)
    await linger(clock, client.app[SERVICES].db, 5)

    assert [h.status for h in receiver.hits] == [500, 500, 500, 200]
    assert len({h.headers["Idempotency-Key"] for h in receiver.hits}) == 1
    assert receiver.accepted[0].json()["stateInstance"] == "authorized"


async def test_hundred_changes_over_ten_instances_in_order_none_lost(
    make_client: ClientFactory,
    config: Config,
    aiohttp_server: Any,
    clock: FakeClock,
    admin_headers: dict[str, str],
) -> None:
    """50 link/logout cycles over 10 instances (100 changes): each instance's arrive in order, once."""
    seen: set[str] = set()

    def flaky(n: int, body: bytes) -> int:
        first = body.decode() not in seen
        seen.add(body.decode())
        return 503 if first and n % 6 == 1 else 200

    receiver = Receiver(flaky)
    server = await aiohttp_server(receiver.app)
    client = await start(make_client, config)
    instances = [
        await new_instance(client, admin_headers, str(server.make_url(f"/wa/{n}"))) for n in range(10)
    ]
    for cycle in range(5):
        for n, (instance_id, token) in enumerate(instances):
            await link(client, instance_id, token, f"7900000{n:02d}{cycle:02d}")
        for instance_id, token in instances:
            await logout(client, instance_id, token)

    await drive(clock, lambda: len(receiver.accepted) == 100, receiver=receiver)
    await linger(clock, client.app[SERVICES].db, 3)

    assert len(receiver.accepted) == 100
    assert len({h.headers["Idempotency-Key"] for h in receiver.accepted}) == 100
    for n, (instance_id, _) in enumerate(instances):
        mine = [h.json() for h in receiver.accepted if h.path == f"/wa/{n}"]
        assert [b["instanceData"]["idInstance"] for b in mine] == [instance_id] * 10
        assert [b["stateInstance"] for b in mine] == ["authorized", "notAuthorized"] * 5
        wids = [b["instanceData"]["wid"] for b in mine if b["stateInstance"] == "authorized"]
        assert wids == [f"7900000{n:02d}{cycle:02d}@c.us" for cycle in range(5)]


async def test_down_receiver_gets_the_change_after_restart(
    make_client: ClientFactory,
    config: Config,
    aiohttp_server: Any,
    clock: FakeClock,
    admin_headers: dict[str, str],
) -> None:
    """The receiver is down when the instance links; after an app restart it is up and gets it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    client = await start(make_client, config)
    instance_id, token = await new_instance(client, admin_headers, f"http://127.0.0.1:{port}/wa")
    await link(client, instance_id, token, "79001234569")
    db = client.app[SERVICES].db

    async def failed_once() -> bool:
        row = await db.fetchone("SELECT attempts FROM deliveries WHERE instance_id = ?", instance_id)
        return row is not None and int(row["attempts"]) >= 1

    await drive(clock, failed_once)
    await client.close()

    receiver = Receiver()
    await aiohttp_server(receiver.app, port=port)
    await start(make_client, config)
    await drive(clock, lambda: len(receiver.accepted) == 1, receiver=receiver)
    assert receiver.accepted[0].json()["instanceData"]["wid"] == "79001234569@c.us"


async def test_webhook_url_cleared_with_set_settings_gets_nothing(
    make_client: ClientFactory,
    config: Config,
    aiohttp_server: Any,
    clock: FakeClock,
    admin_headers: dict[str, str],
) -> None:
    """After setSettings webhookUrl "", the failed pending change and later ones are never sent."""
    receiver = Receiver(answers(500))
    client, instance_id, token = await linked_with_one_hit(
        make_client, config, aiohttp_server, clock, admin_headers, receiver, "79001234570"
    )
    await set_webhook(client, instance_id, token, "")
    await logout(client, instance_id, token)
    await linger(clock, client.app[SERVICES].db, 10)

    assert len(receiver.hits) == 1
    rows = await client.app[SERVICES].db.fetchall(
        "SELECT status FROM deliveries WHERE instance_id = ?", instance_id
    )
    assert [r["status"] for r in rows] == ["cancelled"]


async def test_deleted_instance_gets_nothing_more(
    make_client: ClientFactory,
    config: Config,
    aiohttp_server: Any,
    clock: FakeClock,
    admin_headers: dict[str, str],
) -> None:
    """A pending change of an instance deleted by the admin is cancelled, not sent."""
    receiver = Receiver(answers(500))
    client, instance_id, _ = await linked_with_one_hit(
        make_client, config, aiohttp_server, clock, admin_headers, receiver, "79001234571"
    )

    assert (await client.delete(f"/admin/instances/{instance_id}", headers=admin_headers)).status == 204
    await linger(clock, client.app[SERVICES].db, 10)
    assert len(receiver.hits) == 1
