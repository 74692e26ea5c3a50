"""The hot paths' per-process caches (qrstream/hotcache.py) stay right across processes.

Two apps on one PostgreSQL and one Redis, as two processes behind a proxy: a change made
through one is seen by the other's cached `qr`, verification QR, card image and `/q/<code>`
(through the cache topics on the bus). A fill that overlaps an invalidation is not kept; losing
the bus clears the cache and keeps nothing until the subscription is back; time-based state
follows the injected clock; the cache is bounded.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable

from aiohttp.test_utils import TestClient

from qrstream.bus.memory import MemoryBus
from qrstream.bus.redis import RedisBus
from qrstream.cards.keys import CARDS
from qrstream.clock import FakeClock
from qrstream.config import Config
from qrstream.hotcache import HotCache
from qrstream.instances.keys import INSTANCES
from qrstream.verifications.keys import VERIFICATIONS
from qrstream.web.keys import SERVICES
from tests import instancekit as kit
from tests.backends import RedisServer
from tests.cardkit import create_card, dynamic_link, local, qr_image_url
from tests.conftest import SDK_KEY, ClientFactory
from tests.verificationkit import start

SDK = {"X-SDK-Key": SDK_KEY}
PHONE = "15551234567"
WAIT_S = 10.0


async def eventually(check: Callable[[], Awaitable[bool]]) -> None:
    """Ask until `check()` holds (real time, bounded): a bus message takes a moment between apps."""
    for _ in range(int(WAIT_S / 0.01)):
        if await check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the other process never saw the change")


async def pair(
    make_client: ClientFactory, config: Config, postgres_url: str, redis_url: str
) -> list[TestClient]:
    shared = config.replace(db=postgres_url, bus=redis_url)
    return [await make_client(shared), await make_client(shared)]


async def qr_type(client: TestClient, instance: tuple[int, str]) -> tuple[int, str]:
    resp = await client.get(kit.api(instance, "qr"))
    body = await resp.json()
    return resp.status, str(body.get("type", body.get("error")))


async def test_an_instance_change_through_one_process_reaches_the_others_cached_qr(
    make_client: ClientFactory, config: Config, postgres_url: str, redis_url: str
) -> None:
    """A's `qr` comes from its cache; a link through B makes it alreadyLogged, a logout through B
    a new QR (a new generation), a deletion through B a 401."""
    a, b = await pair(make_client, config, postgres_url, redis_url)
    instance = await kit.new_instance(a)
    first = await kit.qr_link(a, instance)
    cache = a.app[INSTANCES].cache
    hits = cache.hits
    assert await kit.qr_link(a, instance) == first
    assert cache.hits == hits + 1  # served from A's cache: no store read

    resp = await b.post(await kit.qr_link(b, instance), json={"phone": PHONE})
    assert resp.status == 200
    await eventually(lambda: _is(qr_type(a, instance), (200, "alreadyLogged")))

    assert (await b.get(kit.api(instance, "logout"))).status == 200
    await eventually(lambda: _is(qr_type(a, instance), (200, "qrCode")))
    assert await kit.qr_link(a, instance) != first  # a new generation: every earlier code is dead

    resp = await b.delete(f"/admin/instances/{instance[0]}", headers=kit.ADMIN)
    assert resp.status == 204
    await eventually(lambda: _is(qr_type(a, instance), (401, "Unauthorized")))


async def _is(answer: Awaitable[object], expected: object) -> bool:
    return await answer == expected


async def test_a_verification_started_through_one_process_leaves_the_others_cached_qr(
    make_client: ClientFactory, config: Config, postgres_url: str, redis_url: str
) -> None:
    """A serves the verification's QR from its cache; a start through B makes A answer 409."""
    a, b = await pair(make_client, config, postgres_url, redis_url)
    resp = await a.post("/api/generate-verification", headers=SDK, json={})
    vid = (await resp.json())["verificationId"]
    path = f"/api/get-verification-qrcode/{vid}"
    assert (await a.get(path, headers=SDK)).status == 200
    cache = a.app[VERIFICATIONS].cache
    hits = cache.hits
    assert (await a.get(path, headers=SDK)).status == 200
    assert cache.hits == hits + 1

    await start(b, vid)

    async def refused() -> bool:
        resp = await a.get(path, headers=SDK)
        return resp.status == 409 and (await resp.json())["current_status"] == "in_progress"

    await eventually(refused)


async def test_a_cached_verification_qr_ends_at_its_expiry_on_the_injected_clock(
    client: TestClient, clock: FakeClock, config: Config
) -> None:
    """A cached `generated` verification is not served past its expiresAt: the clock moves, the
    next QR request reads the store (and the verification expires on the spot)."""
    resp = await client.post("/api/generate-verification", headers=SDK, json={})
    vid = (await resp.json())["verificationId"]
    path = f"/api/get-verification-qrcode/{vid}"
    assert (await client.get(path, headers=SDK)).status == 200
    assert (await client.get(path, headers=SDK)).status == 200
    clock.set(clock.now() + config.verification_ttl_s)  # no loop turn: the sweeper has not run
    resp = await client.get(path, headers=SDK)
    assert resp.status == 409 and (await resp.json())["current_status"] == "expired"


async def test_a_card_change_through_one_process_reaches_the_others_image_and_link(
    make_client: ClientFactory, config: Config, postgres_url: str, redis_url: str
) -> None:
    """A serves the card's image and `/q/<code>` from its cache; a retarget through B moves A's
    redirect, a deletion through B makes A answer 404 for both."""
    a, b = await pair(make_client, config, postgres_url, redis_url)
    card = await create_card(a)
    image = local(await qr_image_url(a, card["uuid"]))
    link = await dynamic_link(a, card["uuid"])

    async def location() -> str:
        resp = await a.get(link, allow_redirects=False)
        return f"{resp.status} {resp.headers.get('Location')}"

    assert await location() == f"302 {card['publicUrl']}"
    cache = a.app[CARDS].cache
    hits = cache.hits
    assert await location() == f"302 {card['publicUrl']}"
    assert (await a.get(image)).status == 200
    assert cache.hits == hits + 2

    target = "https://example.com/moved"
    resp = await b.put(f"/admin/cards/{card['uuid']}/target", json={"url": target}, headers=kit.ADMIN)
    assert resp.status == 200
    await eventually(lambda: _is(location(), f"302 {target}"))

    assert (await b.delete(f"/admin/cards/{card['uuid']}", headers=kit.ADMIN)).status == 204

    async def gone() -> bool:
        return (await a.get(image)).status == 404 and (await location()).startswith("404")

    await eventually(gone)


async def test_losing_the_bus_clears_the_cache_and_keeps_nothing_until_it_is_back(
    make_client: ClientFactory,
    config: Config,
    postgres_url: str,
    make_redis: Callable[[], RedisServer],
) -> None:
    """Redis stops: A's cache empties and A reads the store (a change made meanwhile, whose
    message nobody could hear, is seen at once); Redis back: A caches again."""
    redis = make_redis()
    a, b = await pair(make_client, config, postgres_url, redis.url)
    instance = await kit.new_instance(a)
    await kit.qr_link(a, instance)
    cache = a.app[INSTANCES].cache
    assert len(cache) == 1
    redis.stop()
    bus = a.app[SERVICES].bus
    await kit.until(lambda: not bus.live(cache.topic))
    assert len(cache) == 0
    db = b.app[SERVICES].db
    await db.execute(
        "UPDATE instances SET state = 'authorized', wid = ? WHERE id = ?", f"{PHONE}@c.us", instance[0]
    )
    assert await qr_type(a, instance) == (200, "alreadyLogged")
    assert len(cache) == 0  # nothing kept while the bus is away

    redis.start()
    await kit.until(lambda: bus.live(cache.topic))
    await db.execute("UPDATE instances SET state = 'notAuthorized', wid = '' WHERE id = ?", instance[0])
    assert await qr_type(a, instance) == (200, "qrCode")
    assert len(cache) == 1


async def test_a_fill_that_overlaps_an_invalidation_from_another_process_is_not_kept(redis_url: str) -> None:
    """Two processes' buses on one Redis: A reads its token, B invalidates the key (as after a
    commit), and A's fill, read before B's change, is dropped; a fill after it is kept."""
    clock = FakeClock()
    buses = [RedisBus(redis_url), RedisBus(redis_url)]
    for bus in buses:
        await bus.start()
    a, b = (HotCache[str](bus, "cache:test", clock) for bus in buses)
    try:
        await a.start()
        await b.start()
        token = a.token()
        assert token is not None
        drops = a.resets, a.misses
        await b.invalidate("k")
        await kit.until(lambda: a.token() != token)  # A heard B's message
        a.put(token, "k", "read before the change", tag="k")
        assert a.get("k") is None
        assert (a.resets, a.misses) == (drops[0], drops[1] + 1)
        a.put(a.token(), "k", "read after the change", tag="k")
        assert a.get("k") == "read after the change"
        await b.invalidate("k")
        await kit.until(lambda: len(a) == 0)  # and a later change drops it again
    finally:
        a.close()
        b.close()
        for bus in buses:
            await bus.close()


async def test_entries_end_at_their_time_and_the_cache_is_bounded() -> None:
    """`until` is the injected clock's time; past capacity the least recently used go; a tag drops
    every key it names; nothing is kept on a bus that does not hear the topic."""
    clock = FakeClock()
    bus = MemoryBus()
    cache = HotCache[str](bus, "cache:test", clock, capacity=3)
    assert cache.token() is None  # not subscribed yet: nothing would be heard
    cache.put(cache.token(), "x", "x", tag="x")
    assert len(cache) == 0
    await cache.start()
    cache.put(cache.token(), "soon", "v", tag="soon", until=clock.now() + 5)
    assert cache.get("soon") == "v"
    await clock.advance(5)
    assert cache.get("soon") is None
    for key in ("a", "b", "c"):
        cache.put(cache.token(), key, key, tag="card")
    assert cache.get("a") == "a"  # now the most recently used
    cache.put(cache.token(), "d", "d", tag="d", until=math.inf)
    assert len(cache) == 3 and cache.get("b") is None
    await cache.invalidate("card")  # the tag of a and c
    assert [cache.get(k) for k in ("a", "c", "d")] == [None, None, "d"]
    cache.close()
    assert len(cache) == 0
