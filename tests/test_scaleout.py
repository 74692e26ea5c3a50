"""Several `run.py` processes on one PostgreSQL and one Redis, the way a deployment behind a proxy runs.

Real processes with the real clock: every wait is bounded and waits for something to
happen (a websocket message, a webhook hit), never a fixed sleep.
"""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest
import redis.asyncio as aioredis
from aiohttp import ClientWebSocketResponse, WSMsgType

from qrstream.bus.redis import channel
from qrstream.clock import FakeClock
from qrstream.config import Config
from qrstream.instances.inbox import topic as notify_topic
from qrstream.instances.keys import FRAMES, ROTATOR
from qrstream.web.keys import SERVICES
from qrstream.web.ws import HUB
from tests import instancekit as kit
from tests.backends import RedisServer
from tests.conftest import PUBLIC_URL, ClientFactory
from tests.instancekit import link_path
from tests.liveserver import ADMIN_KEY, LiveServer, base_env
from tests.webhook_receiver import Receiver

PERIOD = 1.0  # QRSTREAM_QR_REFRESH_S: short, so rotations happen within the test
WAIT_S = 15.0  # the longest a test waits for any one thing
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
PHONE = "15551234567"
APP_PERIOD = 20.0  # the default QRSTREAM_QR_REFRESH_S, for the in-process apps on the fake clock

Start = Callable[..., list[LiveServer]]


def shared_env(db: str, bus: str) -> dict[str, str]:
    env = base_env(db)
    env.update(
        QRSTREAM_BUS=bus,
        QRSTREAM_PUBLIC_URL=PUBLIC_URL,  # every process puts the same URL in its QR codes
        QRSTREAM_QR_REFRESH_S=str(PERIOD),
        QRSTREAM_QR_SCAN_TIMEOUT_S="600",
    )
    return env


@pytest.fixture
def start() -> Iterator[Start]:
    """Start `n` servers on the given database and bus (all at once) and wait until each is ready."""
    running: list[LiveServer] = []

    def go(n: int, db: str, bus: str) -> list[LiveServer]:
        servers = [LiveServer(shared_env(db, bus)) for _ in range(n)]
        running.extend(servers)
        for server in servers:
            server.wait_ready()
        return servers

    yield go
    for server in running:
        server.__exit__()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=WAIT_S)) as session:
        yield session


async def new_instance(http: aiohttp.ClientSession, server: LiveServer, **body: Any) -> tuple[int, str]:
    async with http.post(f"{server.url}/admin/instances", headers=ADMIN, json=body) as resp:
        assert resp.status == 201, await resp.text()
        data = await resp.json()
    return int(data["idInstance"]), str(data["apiTokenInstance"])


def method(server: LiveServer, instance: tuple[int, str], name: str) -> str:
    return f"{server.url}/waInstance{instance[0]}/{name}/{instance[1]}"


async def watch(
    http: aiohttp.ClientSession, server: LiveServer, instance: tuple[int, str]
) -> aiohttp.ClientWebSocketResponse:
    return await http.ws_connect(method(server, instance, "scanqrcode"))


async def message(ws: aiohttp.ClientWebSocketResponse, within: float = WAIT_S) -> dict[str, Any]:
    msg = await ws.receive(timeout=within)
    assert msg.type == WSMsgType.TEXT, (msg.type, msg.data)
    return json.loads(msg.data)  # type: ignore[no-any-return]


async def frame(ws: aiohttp.ClientWebSocketResponse, within: float = WAIT_S) -> str:
    """The next message, which must be a QR frame; the pairing link path it encodes."""
    data = await message(ws, within)
    assert data["type"] == "qrCode", data
    return link_path(data["message"])


async def rest_qr(http: aiohttp.ClientSession, server: LiveServer, instance: tuple[int, str]) -> str:
    async with http.get(method(server, instance, "qr")) as resp:
        body = await resp.json()
    assert resp.status == 200 and body["type"] == "qrCode", body
    return link_path(body["message"])


async def test_frames_and_account_data_cross_processes(
    start: Start, http: aiohttp.ClientSession, postgres_url: str, redis_url: str
) -> None:
    """Two processes: both answer REST qr with the same QR in one window; their subscribers see
    one identical stream (each window's frame once, whichever process made it); a code redeemed
    through B ends A's subscriber with accountData."""
    a, b = start(2, postgres_url, redis_url)
    instance = await new_instance(http, a)
    for _ in range(3):  # two reads may straddle a window's turn; three in a row cannot all do
        if await rest_qr(http, a, instance) == await rest_qr(http, b, instance):
            break
    else:
        raise AssertionError("A and B never showed the same QR in one window")

    on_a, on_b = await watch(http, a, instance), await watch(http, b, instance)
    seen_a = [await frame(on_a)]
    seen_b = [await frame(on_b)]
    for _ in range(3):
        seen_a.append(await frame(on_a, PERIOD * 3))
        seen_b.append(await frame(on_b, PERIOD * 3))
    assert len(set(seen_a)) == len(seen_a), seen_a  # a new code at every turn, none twice
    assert seen_a[1:] == seen_b[1:]  # the same frames, published once, heard by both processes

    async with http.post(f"{b.url}{seen_a[-1]}", json={"phone": PHONE}) as resp:
        assert resp.status == 200, await resp.text()
        assert await resp.json() == {"linked": True, "wid": f"{PHONE}@c.us"}
    for ws in (on_a, on_b):
        while (data := await message(ws))["type"] == "qrCode":
            pass  # a frame that turned just before the link
        assert data == {"type": "accountData", "message": {"wid": f"{PHONE}@c.us", "phone": PHONE}}
        closing = await ws.receive(timeout=WAIT_S)
        assert closing.type in (WSMsgType.CLOSE, WSMsgType.CLOSED) and ws.close_code == 1000
    async with http.get(method(a, instance, "getStateInstance")) as resp:
        assert await resp.json() == {"stateInstance": "authorized"}


async def test_the_other_process_takes_over_rotation_when_one_dies(
    start: Start, http: aiohttp.ClientSession, postgres_url: str, redis_url: str
) -> None:
    """SIGKILL one of two rotating processes: the survivor's subscriber gets the next frame within
    about one period, and one per period after that."""
    a, b = start(2, postgres_url, redis_url)
    instance = await new_instance(http, a)
    on_a, on_b = await watch(http, a, instance), await watch(http, b, instance)
    await frame(on_a)
    seen = [await frame(on_b)]
    for _ in range(2):
        seen.append(await frame(on_b, PERIOD * 3))
    a.stop(signal.SIGKILL)
    await on_a.close()
    loop = asyncio.get_running_loop()
    killed = loop.time()
    # The dead process may have won the current window's turn: that one frame is missing, and
    # the next window's is claimed by the survivor.
    seen.append(await frame(on_b, PERIOD * 2 + 1.0))
    assert loop.time() - killed <= PERIOD * 2 + 1.0
    for _ in range(3):
        seen.append(await frame(on_b, PERIOD * 2))
    assert len(set(seen)) == len(seen), seen


async def test_subscribers_keep_receiving_when_redis_restarts(
    start: Start,
    http: aiohttp.ClientSession,
    postgres_url: str,
    make_redis: Callable[[], RedisServer],
) -> None:
    """Redis stops and starts on the same port: both processes reconnect and the stream goes on."""
    redis = make_redis()
    a, b = start(2, postgres_url, redis.url)
    instance = await new_instance(http, a)
    on_a, on_b = await watch(http, a, instance), await watch(http, b, instance)
    before = [await frame(on_a), await frame(on_a, PERIOD * 3)]
    await frame(on_b)
    redis.stop()
    redis.start()
    after = [await frame(on_a), await frame(on_a, PERIOD * 3)]
    assert not set(before) & set(after)
    await frame(on_b)
    async with http.post(f"{b.url}{after[-1]}", json={"phone": PHONE}) as resp:
        assert resp.status == 200, await resp.text()
    while (data := await message(on_a))["type"] == "qrCode":
        pass
    assert data["type"] == "accountData"


async def test_each_webhook_is_posted_once_by_one_of_the_processes(
    start: Start,
    http: aiohttp.ClientSession,
    postgres_url: str,
    redis_url: str,
    aiohttp_server: Any,
) -> None:
    """Both processes' senders watch one outbox: each notification reaches the receiver once, in order."""
    receiver = Receiver()
    server = await aiohttp_server(receiver.app)
    a, b = start(2, postgres_url, redis_url)
    instance = await new_instance(http, a, webhookUrl=f"http://127.0.0.1:{server.port}/hook")
    link = await rest_qr(http, a, instance)
    async with http.post(f"{b.url}{link}", json={"phone": PHONE}) as resp:
        assert resp.status == 200, await resp.text()
    async with http.get(method(a, instance, "logout")) as resp:
        assert await resp.json() == {"isLogout": True}
    async with asyncio.timeout(WAIT_S):
        while len(receiver.accepted) < 2:
            await receiver.changed(WAIT_S)
    await receiver.changed(PERIOD * 2)  # a duplicate would come now, from the other sender's poll
    states = [hit.json()["stateInstance"] for hit in receiver.hits]
    assert states == ["authorized", "notAuthorized"]
    keys = {hit.headers["Idempotency-Key"] for hit in receiver.hits}
    assert len(keys) == 2
    async with http.get(method(b, instance, "receiveNotification")) as resp:
        first = await resp.json()
    assert first["body"]["stateInstance"] == "authorized"


async def subscribed(redis_url: str, topic: str) -> None:
    """Wait until some process's subscription to the bus topic `topic` is live at Redis."""
    client = aioredis.from_url(redis_url)
    try:
        async with asyncio.timeout(WAIT_S):
            while True:
                counts = dict(await client.pubsub_numsub(channel(topic)))
                if counts.get(channel(topic).encode()):
                    return
                await asyncio.sleep(0.01)  # Redis says nothing when a subscription starts
    finally:
        await client.aclose()


async def test_a_long_poll_on_one_process_is_answered_by_a_change_through_another(
    start: Start, http: aiohttp.ClientSession, postgres_url: str, redis_url: str
) -> None:
    """receiveNotification waiting on A answers as soon as a link through B queues the notification."""
    a, b = start(2, postgres_url, redis_url)
    instance = await new_instance(http, a)
    link = await rest_qr(http, a, instance)
    loop = asyncio.get_running_loop()

    async def poll() -> tuple[Any, float]:
        async with http.get(method(a, instance, "receiveNotification") + "?receiveTimeout=30") as resp:
            assert resp.status == 200
            return await resp.json(), loop.time()

    waiting = asyncio.create_task(poll())
    # The poll listens once its subscription is live at Redis (it answers at once if a
    # notification is queued by then); the link comes after that.
    await subscribed(redis_url, notify_topic(instance[0]))
    linked_at = loop.time()
    async with http.post(f"{b.url}{link}", json={"phone": PHONE}) as resp:
        assert resp.status == 200, await resp.text()
    body, answered_at = await waiting
    assert body["body"]["typeWebhook"] == "stateInstanceChanged"
    assert body["body"]["stateInstance"] == "authorized"
    assert answered_at - linked_at < 5.0  # woken through Redis, not by its 30 s timeout


async def test_two_apps_render_each_window_once_and_one_carries_on_alone(
    make_client: ClientFactory, config: Config, postgres_url: str, redis_url: str, clock: FakeClock
) -> None:
    """Two apps (as two processes, on one fake clock) with a subscriber each: every window is
    rendered by one of them only, both subscribers get the same frames, and when one app stops
    the other turns the next window by itself."""
    shared = config.replace(db=postgres_url, bus=redis_url)
    one, two = await make_client(shared), await make_client(shared)
    instance = await kit.new_instance(one)
    # The next window's frame is made during the lead before its turn, at once when the clock
    # stands in it; the app that makes it owns that turn. Start just after a window's turn, so
    # that every turn below is made after its `advance`, and none by the app that stops.
    frames, now = one.app[FRAMES], clock.now()
    await clock.advance(frames.window_end(instance[0], frames.window_at(instance[0], now)) - now + 0.001)
    on_one = await one.ws_connect(kit.api(instance, "scanqrcode"))
    on_two = await two.ws_connect(kit.api(instance, "scanqrcode"))
    assert await kit.next_message(on_one) == await kit.next_message(on_two)
    renderers = [one.app[SERVICES].renderer, two.app[SERVICES].renderer]
    rotators = [one.app[ROTATOR], two.app[ROTATOR]]
    await kit.until(lambda: all(r.idle() for r in rotators))
    before = sum(r.renders for r in renderers)
    seen = set()
    for _ in range(3):
        await clock.advance(APP_PERIOD)
        got = await kit.next_message(on_one)
        assert await kit.next_message(on_two) == got
        seen.add(kit.link_path(got["message"]))
    assert len(seen) == 3
    await kit.until(lambda: all(r.idle() for r in rotators))
    assert sum(r.renders for r in renderers) == before + 3  # one render per window, in one app

    await on_one.close()
    await one.close()
    await clock.advance(APP_PERIOD)
    alone = await kit.next_message(on_two)
    assert kit.link_path(alone["message"]) not in seen


LeadPair = tuple[list[kit.Client], list[ClientWebSocketResponse], int, str]


@pytest.fixture
async def lead_pair(
    make_client: ClientFactory, config: Config, postgres_url: str, redis_url: str, clock: FakeClock
) -> LeadPair:
    """Two apps with a subscriber each of one instance, the clock in the lead before a window's
    turn and both rotators done with it: (apps, sockets, which app won the turn, the link shown)."""
    shared = config.replace(db=postgres_url, bus=redis_url)
    apps = [await make_client(shared), await make_client(shared)]
    instance = await kit.new_instance(apps[0])
    frames, now = apps[0].app[FRAMES], clock.now()
    end = frames.window_end(instance[0], frames.window_at(instance[0], now))
    await clock.advance(end - now + 0.001)  # just after a turn: the next lead is to come
    sockets = [await app.ws_connect(kit.api(instance, "scanqrcode")) for app in apps]
    shown = [await kit.next_message(ws) for ws in sockets]
    assert shown[0] == shown[1]
    rotators = [app.app[ROTATOR] for app in apps]
    renderers = [app.app[SERVICES].renderer for app in apps]
    await kit.until(lambda: all(r.idle() for r in rotators))
    renders = [r.renders for r in renderers]
    end = frames.window_end(instance[0], frames.window_at(instance[0], clock.now()))
    await clock.advance(end - clock.now() - 0.1)  # in the lead, past every prepare
    await kit.until(
        lambda: all(r.idle() for r in rotators) and sum(r.renders for r in renderers) > sum(renders)
    )
    made = [r.renders - before for r, before in zip(renderers, renders, strict=True)]
    assert sorted(made) == [0, 1]  # one app won the turn and made its frame
    return apps, sockets, made.index(1), kit.link_path(shown[0]["message"])


async def test_the_owner_of_a_turn_stopping_in_the_lead_lets_the_other_turn_it(
    lead_pair: LeadPair, clock: FakeClock
) -> None:
    """The app that won the next turn stops gracefully before it: it gives the turn up, and the
    other app's subscriber gets the next window's frame at the turn, not a window later."""
    apps, sockets, owner, shown = lead_pair
    await sockets[owner].close()
    await apps[owner].close()
    await clock.advance(0.2)  # the turn
    frame = await kit.next_message(sockets[1 - owner])
    assert frame["type"] == "qrCode" and kit.link_path(frame["message"]) != shown


async def test_the_owner_of_a_turn_losing_its_subscriber_in_the_lead_still_publishes_it(
    lead_pair: LeadPair, clock: FakeClock
) -> None:
    """The app that won the next turn loses its only subscriber before it: it publishes the turn
    anyway, for the other app's subscriber, which gets it at the turn."""
    apps, sockets, owner, shown = lead_pair
    await sockets[owner].close()
    hub = apps[owner].app[HUB]
    await kit.until(lambda: not hub.topics())
    await clock.advance(0.2)  # the turn
    frame = await kit.next_message(sockets[1 - owner])
    assert frame["type"] == "qrCode" and kit.link_path(frame["message"]) != shown
    renders = [app.app[SERVICES].renderer.renders for app in apps]
    await kit.until(lambda: all(app.app[ROTATOR].idle() for app in apps))
    assert [app.app[SERVICES].renderer.renders for app in apps] == renders  # made once, in the lead


async def test_a_pairing_link_made_on_one_process_streams_and_dies_on_the_other(
    start: Start, http: aiohttp.ClientSession, postgres_url: str, redis_url: str
) -> None:
    """A link created through A opens on B; a phone linking through A ends B's ticket stream with
    accountData, and from then on both processes answer the ticket 410; a link made on B dies on A's
    logout."""
    a, b = start(2, postgres_url, redis_url)
    instance = await new_instance(http, a)
    async with http.post(method(a, instance, "createPairingLink"), json={"ttlSeconds": 600}) as resp:
        assert resp.status == 200, await resp.text()
        path = urlsplit((await resp.json())["url"]).path
    async with http.get(f"{b.url}{path}") as resp:
        assert resp.status == 200 and 'data-mode="link"' in await resp.text()
    on_b = await http.ws_connect(f"{b.url}{path}/scanqrcode")
    code = await frame(on_b)
    async with http.post(f"{a.url}{code}", json={"phone": PHONE}) as resp:
        assert resp.status == 200, await resp.text()
    while (data := await message(on_b))["type"] == "qrCode":
        pass  # a frame that turned just before the link
    assert data["type"] == "accountData"
    for server in (a, b):
        async with http.get(f"{server.url}{path}") as resp:
            assert resp.status == 410 and "This pairing link has expired" in await resp.text()
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(f"{server.url}{path}/scanqrcode")
        assert refused.value.status == 410

    async with http.post(method(b, instance, "createPairingLink"), json={}) as resp:
        second = urlsplit((await resp.json())["url"]).path
    async with http.get(f"{a.url}{second}") as resp:
        assert resp.status == 200
    async with http.get(method(a, instance, "logout")) as resp:
        assert await resp.json() == {"isLogout": True}
    async with http.get(f"{b.url}{second}") as resp:
        assert resp.status == 410


async def test_an_event_ticket_from_one_process_opens_the_stream_on_another(
    start: Start, http: aiohttp.ClientSession, postgres_url: str, redis_url: str
) -> None:
    """Two run.py processes: a ticket made by A opens B's admin event stream (once only, on either),
    and B's stream tells what happens through A."""
    a, b = start(2, postgres_url, redis_url)
    async with http.post(f"{a.url}/admin/events/ticket", headers=ADMIN) as resp:
        assert resp.status == 201
        ticket = (await resp.json())["ticket"]
    on_b = await http.ws_connect(f"{b.url}/admin/events?ticket={ticket}")
    for server in (a, b):
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(f"{server.url}/admin/events?ticket={ticket}")
        assert refused.value.status == 401
    instance = await new_instance(http, a)
    async with http.post(f"{a.url}{await rest_qr(http, a, instance)}", json={"phone": PHONE}) as resp:
        assert resp.status == 200, await resp.text()
    while (event := await message(on_b))["type"] != "instance" or event["stateInstance"] != "authorized":
        pass  # the instance's creation comes first
    assert event["idInstance"] == instance[0]
    await on_b.close()
