"""Instance webhooks cannot be aimed inside the network (CONTRACT §10), through the real API and a real
receiver on loopback; QRSTREAM_WEBHOOK_ALLOW_PRIVATE lifts it, QRSTREAM_WEBHOOK_URL is never restricted."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from qrstream.clock import FakeClock
from qrstream.config import Config, ConfigError
from qrstream.web.keys import SERVICES
from tests.conftest import ClientFactory
from tests.webhook_receiver import Receiver, add_instance, change_state, drive, linger, status_is

Client = TestClient[web.Request, web.Application]

pytestmark = pytest.mark.scaleout  # also on PostgreSQL + Redis (tests/conftest.py)

# A literal host of every refused range, in the spellings an attacker would try (CONTRACT §10).
LITERALS = [
    ("http://127.0.0.1:8080/admin/instances", "loopback"),
    ("http://[::1]:22/", "loopback"),
    ("http://[::ffff:127.0.0.1]:6379/", "loopback"),
    ("http://[::FFFF:7F00:1]/", "loopback"),
    ("http://10.1.2.3/hook", "private"),
    ("http://172.16.0.1/", "private"),
    ("http://172.31.255.254/", "private"),
    ("https://192.168.0.1/", "private"),
    ("http://[fc00::1]/", "private"),
    ("http://[fd00:ec2::254]/", "private"),
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://[fe80::1%25eth0]/", "link-local"),
    ("http://[::ffff:169.254.169.254]/", "link-local"),
    ("http://100.64.0.1/", "shared"),
    ("http://100.127.255.254/", "shared"),
    ("http://224.0.0.1/", "multicast"),
    ("http://[ff02::1]/", "multicast"),
    ("http://0.0.0.0:8080/", "unspecified"),
    ("http://[::]/", "unspecified"),
]
# Numeric forms the system resolver reads as 127.0.0.1 (aiohttp would not even try them).
NUMERIC_FORMS = [
    "http://2130706433/",
    "http://0x7f000001/",
    "http://017700000001/",
    "http://127.1/",
    "http://0177.0.0.1/",
]
# Names are never resolved at save time; public-looking ones, and even localhost, are accepted then.
NAMES = [
    "https://hooks.example/wa",
    "http://localhost:6379/",
    "https://metadata.google.internal/x",
    "http://8.8.8.8/hook",
    "http://[2606:4700::1111]/hook",
]


@pytest.fixture
def guarded(config: Config) -> Config:
    """The test config with the destination policy on (the suite's default lifts it for its receivers)."""
    return config.replace(webhook_allow_private=False)


async def new_instance(client: Client, admin: dict[str, str], url: str = "") -> tuple[int, str]:
    resp = await client.post("/admin/instances", headers=admin, json={"webhookUrl": url} if url else {})
    assert resp.status == 201, await resp.text()
    body = await resp.json()
    return int(body["idInstance"]), str(body["apiTokenInstance"])


async def set_webhook(client: Client, instance: tuple[int, str], url: str) -> Any:
    resp = await client.post(f"/waInstance{instance[0]}/setSettings/{instance[1]}", json={"webhookUrl": url})
    return resp.status, await resp.json()


async def webhook_of(client: Client, instance: tuple[int, str]) -> str:
    resp = await client.get(f"/waInstance{instance[0]}/getSettings/{instance[1]}")
    return str((await resp.json())["webhookUrl"])


async def failed_list(client: Client, admin: dict[str, str]) -> list[dict[str, Any]]:
    resp = await client.get("/admin/webhooks/failed", headers=admin)
    assert resp.status == 200
    return list((await resp.json())["failed"])


async def test_literal_internal_addresses_are_refused_by_set_settings(
    make_client: ClientFactory, guarded: Config, admin_headers: dict[str, str]
) -> None:
    """Every range, literal, in every spelling: 400 naming webhookUrl and the kind; nothing stored."""
    client = await make_client(guarded)
    instance = await new_instance(client, admin_headers, "https://hooks.example/before")
    for url, kind in LITERALS:
        status, body = await set_webhook(client, instance, url)
        assert status == 400, url
        assert body == {"error": f"webhookUrl must not point to a {kind} address", "field": "webhookUrl"}, url
    for url in NUMERIC_FORMS:
        status, body = await set_webhook(client, instance, url)
        assert status == 400 and body["field"] == "webhookUrl", url
    assert await webhook_of(client, instance) == "https://hooks.example/before"


async def test_literal_internal_addresses_are_refused_by_admin_create(
    make_client: ClientFactory, guarded: Config, admin_headers: dict[str, str]
) -> None:
    """POST /admin/instances refuses them the same way, and creates nothing."""
    client = await make_client(guarded)
    for url, kind in LITERALS:
        resp = await client.post("/admin/instances", headers=admin_headers, json={"webhookUrl": url})
        assert resp.status == 400, url
        assert await resp.json() == {
            "error": f"webhookUrl must not point to a {kind} address",
            "field": "webhookUrl",
        }
    row = await client.app[SERVICES].db.fetchone("SELECT COUNT(*) AS n FROM instances")
    assert row is not None and row["n"] == 0


async def test_names_and_public_addresses_are_accepted_when_saved(
    make_client: ClientFactory, guarded: Config, admin_headers: dict[str, str]
) -> None:
    """A name is not resolved at save time (localhost included); a public literal address is fine."""
    client = await make_client(guarded)
    instance = await new_instance(client, admin_headers, "https://hooks.example/created")
    for url in NAMES:
        assert await set_webhook(client, instance, url) == (200, {"saveSettings": True}), url
        assert await webhook_of(client, instance) == url


async def test_allow_private_accepts_literal_internal_addresses(
    make_client: ClientFactory, config: Config, admin_headers: dict[str, str]
) -> None:
    """With QRSTREAM_WEBHOOK_ALLOW_PRIVATE=1 (the suite's config), loopback and private literals are saved."""
    assert config.webhook_allow_private
    client = await make_client(config)
    instance = await new_instance(client, admin_headers, "http://127.0.0.1:9/created")
    for url in ("http://[::1]:22/", "http://10.0.0.1/", "http://169.254.169.254/latest/meta-data/"):
        assert await set_webhook(client, instance, url) == (200, {"saveSettings": True})
    # An IPv4 address spelt in a way aiohttp will not connect to is still refused: nothing could arrive.
    status, body = await set_webhook(client, instance, "http://2130706433/")
    assert status == 400 and body["field"] == "webhookUrl"


async def reboot_notifies(client: Client, instance: tuple[int, str]) -> None:
    """A reboot is a state change (to `starting`), so it makes one webhook notification."""
    resp = await client.get(f"/waInstance{instance[0]}/reboot/{instance[1]}")
    assert await resp.json() == {"isReboot": True}


async def test_a_name_resolving_to_loopback_fails_for_good(
    make_client: ClientFactory,
    guarded: Config,
    aiohttp_server: Any,
    clock: FakeClock,
    admin_headers: dict[str, str],
) -> None:
    """http://localhost:<port> is saved, but its delivery is refused at the connection, at once and for
    good: the receiver on loopback gets nothing, ever, and the failed list says why."""
    receiver = Receiver()
    server = await aiohttp_server(receiver.app, host="127.0.0.1")
    client = await make_client(guarded)
    url = f"http://localhost:{server.port}/wa"
    instance = await new_instance(client, admin_headers, url)
    await reboot_notifies(client, instance)

    def listed(count: int) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            return len(await failed_list(client, admin_headers)) == count

        return check

    await drive(clock, listed(1), receiver=receiver, step=0)  # no time passes: not a retry's wait
    [failed] = await failed_list(client, admin_headers)
    assert failed["lastError"] == "destination not allowed"
    assert failed["attempts"] == 1 and failed["gaveUpAt"] == failed["createdAt"]
    assert failed["url"] == url and failed["idInstance"] == instance[0]
    # The reboot's end (back to notAuthorized) is refused the same way; five hours on, no retry came.
    await drive(clock, listed(2), receiver=receiver, step=1.0)
    await linger(clock, client.app[SERVICES].db, 5, step=3600.0)
    assert receiver.hits == []
    later = await failed_list(client, admin_headers)
    assert [(f["lastError"], f["attempts"]) for f in later] == [("destination not allowed", 1)] * 2
    assert later[1]["receiptId"] == failed["receiptId"]


async def test_the_same_receiver_gets_it_with_allow_private(
    make_client: ClientFactory,
    config: Config,
    aiohttp_server: Any,
    clock: FakeClock,
    admin_headers: dict[str, str],
) -> None:
    """The control of the test above: with QRSTREAM_WEBHOOK_ALLOW_PRIVATE=1 the same setup delivers."""
    receiver = Receiver()
    server = await aiohttp_server(receiver.app, host="127.0.0.1")
    client = await make_client(config)
    instance = await new_instance(client, admin_headers, f"http://localhost:{server.port}/wa")
    await reboot_notifies(client, instance)
    await drive(clock, lambda: len(receiver.accepted) == 1, receiver=receiver, step=0)
    assert receiver.hits[0].json()["stateInstance"] == "starting"
    assert await failed_list(client, admin_headers) == []


async def test_a_literal_stored_earlier_is_refused_at_delivery(
    make_client: ClientFactory, guarded: Config, aiohttp_server: Any, clock: FakeClock
) -> None:
    """A loopback literal already in the store (saved while allowed, or before this check) is refused at
    the socket itself: aiohttp never resolves a literal, so the resolver alone would not see it."""
    receiver = Receiver()
    server = await aiohttp_server(receiver.app, host="127.0.0.1")
    client = await make_client(guarded)
    svc = client.app[SERVICES]
    await add_instance(svc, 1100000077, f"http://127.0.0.1:{server.port}/wa")
    receipt_id = await change_state(svc, 1100000077, "authorized")
    await drive(clock, status_is(svc, receipt_id, "failed"), receiver=receiver, step=0)
    row = await svc.db.fetchone(
        "SELECT attempts, last_error FROM deliveries WHERE receipt_id = ?", receipt_id
    )
    assert row is not None and (row["attempts"], row["last_error"]) == (1, "destination not allowed")
    await linger(clock, svc.db, 3, step=3600.0)
    assert receiver.hits == []


async def test_the_operators_webhook_url_is_not_restricted(
    make_client: ClientFactory,
    guarded: Config,
    aiohttp_server: Any,
    clock: FakeClock,
    sdk_headers: dict[str, str],
) -> None:
    """QRSTREAM_WEBHOOK_URL on loopback still gets verification changes with the policy on."""
    receiver = Receiver()
    server = await aiohttp_server(receiver.app, host="127.0.0.1")
    client = await make_client(guarded.replace(webhook_url=f"http://127.0.0.1:{server.port}/verifications"))
    resp = await client.post("/api/generate-verification", headers=sdk_headers)
    vid = (await resp.json())["verificationId"]
    resp = await client.post(f"/api/verification/{vid}/start", json={})
    assert resp.status == 200
    await drive(clock, lambda: len(receiver.accepted) == 1, receiver=receiver, step=0)
    assert receiver.hits[0].json()["status"] == "in_progress"


@pytest.mark.parametrize(("raw", "value"), [("", False), ("0", False), ("1", True), ("true", True)])
def test_allow_private_setting(raw: str, value: bool) -> None:
    """QRSTREAM_WEBHOOK_ALLOW_PRIVATE is off unless set to 1."""
    assert Config.from_env({"QRSTREAM_WEBHOOK_ALLOW_PRIVATE": raw}).webhook_allow_private is value


def test_allow_private_setting_refuses_other_values() -> None:
    """A value that is neither on nor off is a bad option, not silently off."""
    with pytest.raises(ConfigError, match="QRSTREAM_WEBHOOK_ALLOW_PRIVATE"):
        Config.from_env({"QRSTREAM_WEBHOOK_ALLOW_PRIVATE": "maybe"})
