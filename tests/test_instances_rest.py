"""The Green API methods over HTTP: credentials, qr, state, logout, reboot, settings."""

from __future__ import annotations

from qrstream.clock import FakeClock
from qrstream.config import Config
from qrstream.instances import pairing
from tests.conftest import ClientFactory
from tests.instancekit import Client, api, link_path, new_instance, qr_link, state

PERIOD = 20.0  # the test config's qr_refresh_s


def _window_end(instance_id: int, now: float) -> float:
    return pairing.window_end(instance_id, pairing.window_at(instance_id, now, PERIOD), PERIOD)


async def test_wrong_token_and_unknown_id_answer_the_same_401(client: Client) -> None:
    """A wrong token, an unknown id and a non-numeric id all give 401 {"error": "Unauthorized"}."""
    instance_id, token = await new_instance(client)
    other = "f" * 50 if token != "f" * 50 else "e" * 50
    paths = [
        f"/waInstance{instance_id}/getStateInstance/{other}",
        f"/waInstance1000000000/getStateInstance/{token}",
        f"/waInstanceabc/getStateInstance/{token}",
        f"/waInstance{instance_id}/qr/{other}",
    ]
    for path in paths:
        resp = await client.get(path)
        assert resp.status == 401, path
        assert await resp.read() == b'{"error":"Unauthorized"}'


async def test_new_instance_is_not_authorized(client: Client) -> None:
    """A new instance answers getStateInstance notAuthorized and settings with no wid, webhook or token."""
    instance = await new_instance(client)
    resp = await client.get(api(instance, "getStateInstance"))
    assert await resp.json() == {"stateInstance": "notAuthorized"}
    resp = await client.get(api(instance, "getSettings"))
    settings = await resp.json()
    assert {k: settings[k] for k in ("wid", "webhookUrl", "webhookUrlToken", "stateWebhook")} == {
        "wid": "",
        "webhookUrl": "",
        "webhookUrlToken": "",
        "stateWebhook": "yes",
    }


async def test_qr_is_stable_within_a_window_and_changes_after(client: Client, clock: FakeClock) -> None:
    """Within one refresh window every qr call returns the same QR; the next window another code."""
    instance = await new_instance(client)
    first = await client.get(api(instance, "qr"))
    assert first.content_type == "application/json"
    body = await first.json()
    again = await (await client.get(api(instance, "qr"))).json()
    assert again == body
    end = _window_end(instance[0], clock.now())
    clock.set(end - 0.01)
    assert await (await client.get(api(instance, "qr"))).json() == body
    clock.set(end)
    later = await (await client.get(api(instance, "qr"))).json()
    assert later["type"] == "qrCode" and later["message"] != body["message"]
    assert link_path(later["message"]) != link_path(body["message"])


async def test_qr_after_authorization_is_already_logged(client: Client) -> None:
    """Once authorized, qr answers alreadyLogged."""
    instance = await new_instance(client)
    resp = await client.post(await qr_link(client, instance), json={"phone": "15551234567"})
    assert resp.status == 200
    resp = await client.get(api(instance, "qr"))
    assert await resp.json() == {"type": "alreadyLogged", "message": "instance account already authorized"}
    assert await state(client, instance) == "authorized"
    settings = await (await client.get(api(instance, "getSettings"))).json()
    assert (settings["wid"], settings["webhookUrl"]) == ("15551234567@c.us", "")


async def test_logout_allows_a_new_qr_and_kills_old_codes(client: Client) -> None:
    """logout makes the instance notAuthorized; a new QR links again, the code from before is 410."""
    instance = await new_instance(client)
    old_link = await qr_link(client, instance)
    assert (await client.post(old_link, json={"phone": "15551234567"})).status == 200
    resp = await client.get(api(instance, "logout"))
    assert await resp.json() == {"isLogout": True}
    assert await state(client, instance) == "notAuthorized"
    new_link = await qr_link(client, instance)
    assert new_link != old_link
    resp = await client.post(old_link, json={"phone": "15551234567"})
    assert resp.status == 410 and await resp.json() == {"error": "QR code expired"}
    resp = await client.post(new_link, json={"phone": "4915112345678"})
    assert await resp.json() == {"linked": True, "wid": "4915112345678@c.us"}


async def test_reboot_is_starting_briefly_then_back(client: Client, clock: FakeClock) -> None:
    """reboot: starting (qr answers an error) for 2 s on the clock, then back to the previous state."""
    instance = await new_instance(client)
    assert (await client.post(await qr_link(client, instance), json={"phone": "15551234567"})).status == 200
    resp = await client.get(api(instance, "reboot"))
    assert await resp.json() == {"isReboot": True}
    assert await state(client, instance) == "starting"
    qr = await (await client.get(api(instance, "qr"))).json()
    assert qr["type"] == "error" and qr["message"]
    await clock.advance(2.0)
    assert await state(client, instance) == "authorized"


async def test_set_and_get_settings(client: Client) -> None:
    """setSettings stores webhookUrl (absolute http(s) or ""); anything else is 400."""
    instance = await new_instance(client)
    resp = await client.post(api(instance, "setSettings"), json={"webhookUrl": "https://hooks.example/x"})
    assert resp.status == 200 and await resp.json() == {"saveSettings": True}
    settings = await (await client.get(api(instance, "getSettings"))).json()
    assert (settings["wid"], settings["webhookUrl"]) == ("", "https://hooks.example/x")
    for bad in ("ftp://x", "/relative", 5):
        resp = await client.post(api(instance, "setSettings"), json={"webhookUrl": bad})
        assert resp.status == 400 and (await resp.json())["field"] == "webhookUrl"
    resp = await client.post(api(instance, "setSettings"), json={"webhookUrl": ""})
    assert resp.status == 200
    assert (await (await client.get(api(instance, "getSettings"))).json())["webhookUrl"] == ""


async def test_wrong_method_is_405(client: Client) -> None:
    """A Green API path with the wrong method answers 405 JSON."""
    instance = await new_instance(client)
    resp = await client.post(api(instance, "qr"))
    assert resp.status == 405 and await resp.json() == {"error": "Method not allowed"}


async def test_reboot_ends_even_across_a_restart(
    make_client: ClientFactory, config: Config, clock: FakeClock
) -> None:
    """A reboot interrupted by a restart still ends on time, with its notification."""
    client = await make_client(config)
    instance = await new_instance(client)
    assert (await client.get(api(instance, "reboot"))).status == 200
    await client.close()
    client = await make_client(config)
    assert await state(client, instance) == "starting"
    await clock.advance(2.0)
    assert await state(client, instance) == "notAuthorized"
    states = []
    for _ in range(2):
        found = await (await client.get(api(instance, "receiveNotification"))).json()
        states.append(found["body"]["stateInstance"])
        await client.delete(api(instance, "deleteNotification") + f"/{found['receiptId']}")
    assert states == ["starting", "notAuthorized"]


async def test_set_settings_refuses_undeliverable_webhook_urls(client: Client) -> None:
    """setSettings refuses a webhookUrl no POST can reach (bad port, whitespace, over-long, lone
    surrogate) with 400, and keeps the stored one."""
    instance = await new_instance(client, webhookUrl="https://hooks.example/ok")
    bad_urls = ["http://x.example:99999/", "http://a b/", "https://x.example/" + "a" * 5000]
    for bad in bad_urls:
        resp = await client.post(api(instance, "setSettings"), json={"webhookUrl": bad})
        assert resp.status == 400, bad
        assert (await resp.json())["field"] == "webhookUrl"
    resp = await client.post(
        api(instance, "setSettings"),
        data=b'{"webhookUrl": "https://x.example/\\udcff"}',
        headers={"Content-Type": "application/json"},
    )
    assert resp.status == 400
    settings = await (await client.get(api(instance, "getSettings"))).json()
    assert settings["webhookUrl"] == "https://hooks.example/ok"
