"""Green API settings parity: setSettings / getSettings as Green API's own client calls them,
webhookUrlToken on every webhook POST, stateWebhook turning state notifications off."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from whatsapp_api_client_python.API import GreenApi  # type: ignore[import-untyped]

from qrstream.clock import FakeClock
from qrstream.config import Config
from qrstream.web.keys import SERVICES
from tests.conftest import ClientFactory
from tests.instancekit import ADMIN, api, new_instance, qr_link, until
from tests.liveserver import ADMIN_KEY as LIVE_ADMIN_KEY
from tests.liveserver import LiveServer, base_env
from tests.qrdecode import decode_b64
from tests.webhook_receiver import Receiver, answers, drive, linger

Client = TestClient[web.Request, web.Application]
LIVE_ADMIN = {"Authorization": f"Bearer {LIVE_ADMIN_KEY}"}

# What integrations found in public code send (n8n nodes, Bitrix connectors, SDK examples).
FULL_BODY: dict[str, Any] = {
    "webhookUrl": "https://hooks.example.com/green-api",
    "webhookUrlToken": "s3cret-receiver-token",
    "incomingWebhook": "yes",
    "stateWebhook": "yes",
    "outgoingWebhook": "no",
    "outgoingMessageWebhook": "yes",
    "outgoingAPIMessageWebhook": "no",
    "incomingCallWebhook": "yes",
    "pollMessageWebhook": "no",
    "editedMessageWebhook": "yes",
    "deletedMessageWebhook": "no",
    "keepOnlineStatus": "yes",
    "markIncomingMessagesReaded": "no",
    "markIncomingMessagesReadedOnReply": "yes",
    "delaySendMessagesMilliseconds": 3000,
}

DEFAULTS: dict[str, Any] = {
    "wid": "",
    "webhookUrl": "",
    "webhookUrlToken": "",
    "stateWebhook": "yes",
    "incomingWebhook": "no",
    "outgoingWebhook": "no",
    "outgoingMessageWebhook": "no",
    "outgoingAPIMessageWebhook": "no",
    "incomingCallWebhook": "no",
    "pollMessageWebhook": "no",
    "editedMessageWebhook": "no",
    "deletedMessageWebhook": "no",
    "keepOnlineStatus": "no",
    "markIncomingMessagesReaded": "no",
    "markIncomingMessagesReadedOnReply": "no",
    "delaySendMessagesMilliseconds": 5000,
}


def green_api(client: Client, instance: tuple[int, str]) -> GreenApi:
    """Green API's own client, its host pointed at the test server."""
    return GreenApi(str(instance[0]), instance[1], host=str(client.make_url("")).rstrip("/"))


async def settings(client: Client, instance: tuple[int, str]) -> dict[str, Any]:
    resp = await client.get(api(instance, "getSettings"))
    assert resp.status == 200, await resp.text()
    return await resp.json()  # type: ignore[no-any-return]


async def set_settings(client: Client, instance: tuple[int, str], **body: Any) -> None:
    resp = await client.post(api(instance, "setSettings"), json=body)
    assert resp.status == 200, await resp.text()
    assert await resp.json() == {"saveSettings": True}


async def link(client: Client, instance: tuple[int, str], phone: str) -> None:
    """Scan the current QR like a phone and confirm the number."""
    resp = await client.post(await qr_link(client, instance), json={"phone": phone})
    assert resp.status == 200, await resp.text()


async def logout(client: Client, instance: tuple[int, str]) -> None:
    resp = await client.get(api(instance, "logout"))
    assert await resp.json() == {"isLogout": True}


async def test_green_api_client_round_trips_an_integration_body(client: Client) -> None:
    """Green API's PyPI client saves the full body integrations send; getSettings gives it all back."""
    instance = await new_instance(client)
    green = green_api(client, instance)
    saved = await green.account.setSettingsAsync(FULL_BODY)
    assert (saved.code, saved.data) == (200, {"saveSettings": True}), saved.error
    read = await green.account.getSettingsAsync()
    assert read.code == 200, read.error
    assert read.data == {**FULL_BODY, "wid": ""}
    # The blocking client (requests) reads the same.
    assert (await asyncio.to_thread(green.account.getSettings)).data == read.data


async def test_unset_settings_show_their_defaults(client: Client) -> None:
    """A new instance answers every key: Green API's defaults (all off), stateWebhook on."""
    instance = await new_instance(client)
    assert await settings(client, instance) == DEFAULTS


async def test_a_subset_changes_only_what_it_names(client: Client) -> None:
    """Each call changes the keys it gives; the others keep what was set before; unknown keys are ignored."""
    instance = await new_instance(client, webhookUrl="https://hooks.example.com/a")
    await set_settings(client, instance, incomingWebhook="yes", delaySendMessagesMilliseconds=500)
    await set_settings(client, instance, webhookUrlToken="t0ken", sharedSession="no", someday={"x": 1})
    await set_settings(client, instance, delaySendMessagesMilliseconds=86_400_000, stateWebhook="no")
    assert await settings(client, instance) == {
        **DEFAULTS,
        "webhookUrl": "https://hooks.example.com/a",
        "webhookUrlToken": "t0ken",
        "incomingWebhook": "yes",
        "stateWebhook": "no",
        "delaySendMessagesMilliseconds": 86_400_000,
    }
    await set_settings(client, instance, webhookUrlToken="", webhookUrl="")
    assert (await settings(client, instance))["webhookUrlToken"] == ""


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("stateWebhook", True),
        ("stateWebhook", "Yes"),
        ("incomingWebhook", 1),
        ("outgoingWebhook", None),
        ("markIncomingMessagesReadedOnReply", "true"),
        ("keepOnlineStatus", ["yes"]),
        ("delaySendMessagesMilliseconds", 499),
        ("delaySendMessagesMilliseconds", 86_400_001),
        ("delaySendMessagesMilliseconds", "3000"),
        ("delaySendMessagesMilliseconds", 3000.5),
        ("delaySendMessagesMilliseconds", True),
        ("webhookUrlToken", 42),
        ("webhookUrlToken", "line\r\nX-Injected: 1"),
        ("webhookUrlToken", "x" * 2049),
        ("webhookUrl", "not a url"),
        ("webhookUrl", 7),
    ],
)
async def test_a_known_key_with_a_wrong_type_is_refused_by_name(client: Client, key: str, value: Any) -> None:
    """400 naming the key, and nothing of that body is saved (not even its good keys)."""
    instance = await new_instance(client)
    resp = await client.post(api(instance, "setSettings"), json={"incomingWebhook": "yes", key: value})
    assert resp.status == 400
    body = await resp.json()
    assert body["field"] == key and key in body["error"]
    assert await settings(client, instance) == DEFAULTS


@pytest.mark.parametrize("raw", [b"{}", b"", b"[]", b'"yes"', b"{"])
async def test_an_empty_or_malformed_body_is_refused(client: Client, raw: bytes) -> None:
    """An empty object, no body, a non-object or broken JSON: 400 in the family's shape."""
    instance = await new_instance(client)
    resp = await client.post(
        api(instance, "setSettings"), data=raw, headers={"Content-Type": "application/json"}
    )
    assert resp.status == 400
    assert set(await resp.json()) == {"error", "field"}


async def test_green_api_client_sees_bad_types_refused(client: Client) -> None:
    """What Green API's client reports for a refused setting: the status and the key's name."""
    instance = await new_instance(client)
    answer = await green_api(client, instance).account.setSettingsAsync({"stateWebhook": "maybe"})
    assert answer.code == 400 and "stateWebhook" in answer.error


async def test_wrong_token_is_401_for_both(client: Client) -> None:
    """Settings are behind the instance token like every method."""
    instance_id, _ = await new_instance(client)
    wrong = (instance_id, "f" * 50)
    assert (await client.get(api(wrong, "getSettings"))).status == 401
    assert (await client.post(api(wrong, "setSettings"), json={"stateWebhook": "no"})).status == 401


async def test_admin_view_tells_whether_state_webhooks_are_on(client: Client) -> None:
    """The admin instance view (the console's) carries stateWebhook."""
    instance = await new_instance(client)
    resp = await client.get(f"/admin/instances/{instance[0]}", headers=ADMIN)
    assert (await resp.json())["stateWebhook"] == "yes"
    await set_settings(client, instance, stateWebhook="no")
    resp = await client.get(f"/admin/instances/{instance[0]}", headers=ADMIN)
    assert (await resp.json())["stateWebhook"] == "no"


# ---- webhookUrlToken on the POSTs ------------------------------------------------------------


async def receiving(
    make_client: ClientFactory, config: Config, aiohttp_server: Any, receiver: Receiver, **body: Any
) -> tuple[Client, tuple[int, str]]:
    """The app, and an instance whose webhook goes to `receiver` with these settings."""
    server = await aiohttp_server(receiver.app)
    client = await make_client(config)
    instance = await new_instance(client)
    await set_settings(client, instance, webhookUrl=str(server.make_url("/hook")), **body)
    return client, instance


@pytest.mark.scaleout
@pytest.mark.parametrize(
    ("token", "header"),
    [
        ("s3cret-receiver-token", "Bearer s3cret-receiver-token"),
        ("Basic dXNlcjpwYXNz", "Basic dXNlcjpwYXNz"),
        ("Bearer already-a-bearer", "Bearer already-a-bearer"),
        ("ApiKey k=v; x", "ApiKey k=v; x"),
    ],
)
async def test_receiver_sees_the_token_in_authorization(
    make_client: ClientFactory,
    config: Config,
    aiohttp_server: Any,
    clock: FakeClock,
    token: str,
    header: str,
) -> None:
    """After authorization the POST carries `Authorization: Bearer <token>`, or the token as given
    when it starts with its own scheme; logging out too."""
    receiver = Receiver()
    client, instance = await receiving(make_client, config, aiohttp_server, receiver, webhookUrlToken=token)
    await link(client, instance, "79001230001")
    await logout(client, instance)
    await drive(clock, lambda: len(receiver.accepted) == 2, receiver=receiver, step=0)
    assert [h.json()["stateInstance"] for h in receiver.hits] == ["authorized", "notAuthorized"]
    assert [h.headers["Authorization"] for h in receiver.hits] == [header, header]


async def test_no_token_no_authorization_header(
    make_client: ClientFactory, config: Config, aiohttp_server: Any, clock: FakeClock
) -> None:
    """Without a token (never set, or set back to "") the POST has no Authorization header."""
    receiver = Receiver()
    client, instance = await receiving(make_client, config, aiohttp_server, receiver, webhookUrlToken="t")
    await set_settings(client, instance, webhookUrlToken="")
    await link(client, instance, "79001230002")
    await drive(clock, lambda: len(receiver.accepted) == 1, receiver=receiver, step=0)
    assert "Authorization" not in receiver.hits[0].headers


async def test_a_new_token_applies_to_the_retries_of_a_pending_delivery(
    make_client: ClientFactory, config: Config, aiohttp_server: Any, clock: FakeClock
) -> None:
    """A receiver refusing the old token gets the retry with the new one: it is read at send time."""
    receiver = Receiver(answers(401))
    client, instance = await receiving(make_client, config, aiohttp_server, receiver, webhookUrlToken="old")
    await link(client, instance, "79001230003")
    await drive(clock, lambda: len(receiver.hits) == 1, receiver=receiver, step=0)
    await set_settings(client, instance, webhookUrlToken="new")
    await drive(clock, lambda: len(receiver.accepted) == 1, receiver=receiver)
    assert [h.headers["Authorization"] for h in receiver.hits] == ["Bearer old", "Bearer new"]
    assert len({h.headers["Idempotency-Key"] for h in receiver.hits}) == 1


# ---- stateWebhook ---------------------------------------------------------------------------


async def empty_queue(client: Client, clock: FakeClock, instance: tuple[int, str]) -> None:
    """receiveNotification, through Green API's client, waits its 5 s and answers null."""
    green = green_api(client, instance)
    answer = asyncio.ensure_future(green.receiving.receiveNotificationAsync())
    for _ in range(200):  # the long poll waits on the fake clock: move it until the answer comes
        if answer.done():
            break
        await clock.advance(1)
        await asyncio.wait([answer], timeout=0.02)
    result = await asyncio.wait_for(answer, 10)
    assert (result.code, result.data) == (200, None)


@pytest.mark.scaleout
async def test_state_webhook_no_queues_and_posts_nothing(
    make_client: ClientFactory, config: Config, aiohttp_server: Any, clock: FakeClock
) -> None:
    """With stateWebhook "no", linking and logging out leave receiveNotification empty and POST nothing;
    turned back on, no backlog comes, and the next change is told once."""
    receiver = Receiver()
    client, instance = await receiving(make_client, config, aiohttp_server, receiver, stateWebhook="no")
    await link(client, instance, "79001230004")
    await logout(client, instance)
    await linger(clock, client.app[SERVICES].db, 3, step=5)
    assert receiver.hits == []
    await empty_queue(client, clock, instance)

    await set_settings(client, instance, stateWebhook="yes")
    await linger(clock, client.app[SERVICES].db, 3, step=5)
    assert receiver.hits == []
    await link(client, instance, "79001230005")
    await drive(clock, lambda: len(receiver.accepted) == 1, receiver=receiver, step=0)
    await linger(clock, client.app[SERVICES].db, 3, step=5)
    assert [h.json()["stateInstance"] for h in receiver.hits] == ["authorized"]
    resp = await client.get(api(instance, "receiveNotification"))
    assert (await resp.json())["body"]["instanceData"]["wid"] == "79001230005@c.us"


# ---- the token never reaches a log ------------------------------------------------------------


async def test_debug_log_of_a_whole_run_lacks_the_token(tmp_path: Path, aiohttp_server: Any) -> None:
    """A real `run.py` at DEBUG: setSettings with the token, a refused POST and its retry carrying it,
    getSettings echoing it; the token is nowhere in stdout or stderr."""
    token = "Basic cXJzdHJlYW0tbG9nLXRlc3Q6c2VjcmV0"
    receiver = Receiver(answers(500))
    hook = str((await aiohttp_server(receiver.app)).make_url("/hook"))
    env = {**base_env(str(tmp_path / "settings.db")), "QRSTREAM_LOG_LEVEL": "DEBUG"}
    env["QRSTREAM_WEBHOOK_ALLOW_PRIVATE"] = "1"  # the receiver is on loopback
    with LiveServer(env) as server:
        base = await asyncio.to_thread(server.wait_ready)
        async with aiohttp.ClientSession() as http:
            resp = await http.post(f"{base}/admin/instances", headers=LIVE_ADMIN, json={})
            made = await resp.json()
            green = f"{base}/waInstance{made['idInstance']}"
            secret = made["apiTokenInstance"]
            body = {**FULL_BODY, "webhookUrl": hook, "webhookUrlToken": token}
            assert (await http.post(f"{green}/setSettings/{secret}", json=body)).status == 200
            bad = {**body, "delaySendMessagesMilliseconds": 1}
            assert (await http.post(f"{green}/setSettings/{secret}", json=bad)).status == 400
            echoed = await (await http.get(f"{green}/getSettings/{secret}")).json()
            assert echoed["webhookUrlToken"] == token
            frame = await (await http.get(f"{green}/qr/{secret}")).json()
            link_url = decode_b64(frame["message"]).text
            resp = await http.post(base + urlsplit(link_url).path, json={"phone": "79001230009"})
            assert resp.status == 200
            await until(lambda: len(receiver.accepted) == 1)  # the 500, then the retry a second later
        assert await asyncio.to_thread(server.stop) == 0
    assert [h.headers["Authorization"] for h in receiver.hits] == [token, token]
    output = server.output()
    assert any(" DEBUG " in line for line in server.stderr), "DEBUG lines were expected"
    assert "setSettings" in output  # the access log saw the calls
    for part in token.split():
        assert part not in output or part == "Basic", "the webhook token reached the logs"
