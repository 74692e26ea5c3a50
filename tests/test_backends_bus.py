"""The same conformance tests on both buses (memory, Redis), and Redis across processes and restarts.

Delivery on Redis is real network I/O, so waits here are bounded waits for a
condition (never a fixed sleep); no test needs the fake clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from redis.asyncio import Redis

from qrstream.bus import Bus, BusError, Listener, open_bus
from qrstream.bus.memory import MemoryBus
from qrstream.bus.redis import RedisBus, channel
from qrstream.leases import leases_for
from tests.backends import RedisServer, free_port
from tests.serverproc import error_line

WAIT_S = 10.0

BusFactory = Callable[[], Awaitable[Bus]]


class Heard:
    """A listener that records (topic, message) and lets a test wait for a count."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, str]] = []
        self._changed = asyncio.Event()

    def __call__(self, topic: str, message: str) -> None:
        self.messages.append((topic, message))
        self._changed.set()

    @property
    def texts(self) -> list[str]:
        return [m for _, m in self.messages]

    async def until(self, count: int) -> list[str]:
        """Wait (bounded) until `count` messages arrived; return the texts."""
        async with asyncio.timeout(WAIT_S):
            while len(self.messages) < count:
                self._changed.clear()
                await self._changed.wait()
        return self.texts

    async def until_text(self, text: str) -> list[str]:
        async with asyncio.timeout(WAIT_S):
            while text not in self.texts:
                self._changed.clear()
                await self._changed.wait()
        return self.texts


@pytest.fixture(params=["memory", "redis"])
async def make_bus(request: pytest.FixtureRequest) -> AsyncIterator[BusFactory]:
    """Buses of one deployment: the one MemoryBus, or a new RedisBus (a 'process') per call."""
    opened: list[Bus] = []
    url = "memory" if request.param == "memory" else str(request.getfixturevalue("redis_url"))
    shared = MemoryBus()

    async def make() -> Bus:
        if url == "memory":
            return shared
        bus = await open_bus(url)
        opened.append(bus)
        return bus

    yield make
    for bus in opened:
        await bus.close()
    await shared.close()


async def subscribed(bus: Bus, topic: str, heard: Listener) -> Callable[[], None]:
    """Subscribe and read the latest, as a websocket handler does (the Redis subscription is then live)."""
    stop = bus.subscribe(topic, heard)
    await bus.latest(topic)
    return stop


async def test_publish_reaches_subscribers_of_that_topic_only(make_bus: BusFactory) -> None:
    """A message goes to every listener of its topic and to no other topic's."""
    bus = await make_bus()
    one, two, other = Heard(), Heard(), Heard()
    await subscribed(bus, "t", one)
    await subscribed(bus, "t", two)
    await subscribed(bus, "elsewhere", other)
    await bus.publish("t", "hello")
    await bus.publish("elsewhere", "there")
    assert await one.until(1) == ["hello"]
    assert await two.until(1) == ["hello"]
    assert await other.until(1) == ["there"]
    assert one.messages == [("t", "hello")]


async def test_latest_keeps_only_kept_messages_and_forget_drops_it(make_bus: BusFactory) -> None:
    """keep=True sets the latest, keep=False does not, forget clears it."""
    bus = await make_bus()
    assert await bus.latest("k") is None
    await bus.publish("k", "first", keep=True)
    await bus.publish("k", "passing")
    assert await bus.latest("k") == "first"
    await bus.publish("k", "second", keep=True)
    assert await bus.latest("k") == "second"
    await bus.forget("k")
    assert await bus.latest("k") is None


async def test_messages_arrive_in_publish_order(make_bus: BusFactory) -> None:
    """200 messages, kept and not, arrive in the order they were published."""
    publisher, subscriber = await make_bus(), await make_bus()
    heard = Heard()
    await subscribed(subscriber, "order", heard)
    sent = [str(n) for n in range(200)]
    for n, text in enumerate(sent):
        await publisher.publish("order", text, keep=n % 3 == 0)
    assert await heard.until(200) == sent


async def test_unsubscribe_stops_delivery(make_bus: BusFactory) -> None:
    """After unsubscribing a listener hears nothing more; the others still do."""
    bus = await make_bus()
    gone, stays = Heard(), Heard()
    stop = await subscribed(bus, "u", gone)
    await subscribed(bus, "u", stays)
    await bus.publish("u", "one")
    await gone.until(1)
    stop()
    stop()  # twice is harmless
    await bus.publish("u", "two")
    assert await stays.until(2) == ["one", "two"]
    assert gone.texts == ["one"]


async def test_a_failing_listener_does_not_stop_the_others(make_bus: BusFactory) -> None:
    """One listener raising is logged; the next listener still gets the message."""
    bus = await make_bus()

    def broken(topic: str, message: str) -> None:
        raise RuntimeError("listener bug")

    heard = Heard()
    await subscribed(bus, "f", broken)
    await subscribed(bus, "f", heard)
    await bus.publish("f", "still here")
    assert await heard.until(1) == ["still here"]


async def test_two_processes_see_each_others_messages_and_latest(make_bus: BusFactory) -> None:
    """Two buses on one deployment: each hears what the other publishes and reads its latest."""
    a, b = await make_bus(), await make_bus()
    heard_a, heard_b = Heard(), Heard()
    await subscribed(a, "shared", heard_a)
    await subscribed(b, "shared", heard_b)
    await b.publish("shared", "from b", keep=True)
    await a.publish("shared", "from a", keep=True)
    assert await heard_a.until(2) == ["from b", "from a"]
    assert await heard_b.until(2) == ["from b", "from a"]
    assert await a.latest("shared") == await b.latest("shared") == "from a"
    await b.forget("shared")
    await b.publish("shared", "marker")
    await heard_a.until(3)
    assert await a.latest("shared") is None


async def test_subscribe_then_latest_misses_nothing_and_repeats_nothing(make_bus: BusFactory) -> None:
    """Subscribing while another process publishes: latest() plus what follows is the unbroken rest."""
    a, b = await make_bus(), await make_bus()
    halfway = asyncio.Event()

    async def publisher() -> None:
        for n in range(1, 301):
            await b.publish("stream", str(n), keep=True)
            if n == 50:
                halfway.set()
            await asyncio.sleep(0)

    task = asyncio.create_task(publisher())
    async with asyncio.timeout(WAIT_S):
        await halfway.wait()
    heard = Heard()
    a.subscribe("stream", heard)
    start = await a.latest("stream")
    await task
    assert start is not None
    got = [int(start), *map(int, await heard.until_text("300"))]
    assert got == list(range(got[0], 301))


async def test_open_bus_fails_with_one_line_when_redis_is_down() -> None:
    """A redis:// URL nobody answers on is a BusError at start, not a hang."""
    with pytest.raises(BusError) as caught:
        await open_bus(f"redis://127.0.0.1:{free_port()}/0")
    assert "\n" not in str(caught.value)


async def test_open_bus_error_hides_the_redis_password() -> None:
    """The one-line error for an unreachable Redis does not show the URL's password."""
    with pytest.raises(BusError) as caught:
        await open_bus(f"redis://:s3cretpw@127.0.0.1:{free_port()}/0")
    assert "s3cretpw" not in str(caught.value)
    assert ":***@127.0.0.1" in str(caught.value)


async def test_subscribers_keep_receiving_after_a_redis_restart(
    make_redis: Callable[[], RedisServer],
) -> None:
    """Redis stops and starts again on the same port (data gone): subscribers get the latest and go on."""
    server = make_redis()
    a, b = RedisBus(server.url), RedisBus(server.url)
    await a.start()
    await b.start()
    try:
        heard = Heard()
        await subscribed(a, "r", heard)
        await b.publish("r", "before", keep=True)
        await b.publish("r", "before 2", keep=True)
        assert await heard.until(2) == ["before", "before 2"]
        server.stop()
        server.start()
        # Published before `a` is back: its new subscription's read delivers it.
        await b.publish("r", "during", keep=True)
        await heard.until_text("during")
        await b.publish("r", "after", keep=True)
        assert await heard.until_text("after") == ["before", "before 2", "during", "after"]
        assert a.reconnects >= 1
        assert await a.latest("r") == "after"
    finally:
        await a.close()
        await b.close()


async def test_a_version_gap_rereads_every_topic(redis_url: str) -> None:
    """A skipped version on one topic makes the bus re-read the others' latest and deliver what it missed."""
    bus = RedisBus(redis_url)
    await bus.start()
    raw = Redis.from_url(redis_url, decode_responses=True)
    try:
        one, two = Heard(), Heard()
        await subscribed(bus, "g1", one)
        await subscribed(bus, "g2", two)
        # A kept value on g2 whose PUBLISH this process never heard (as if lost on the wire).
        await raw.set("qrstream:latest:g2", "7|missed")
        await raw.publish(channel("g1"), "5|jumped")
        assert await one.until(1) == ["jumped"]
        assert await two.until(1) == ["missed"]
    finally:
        await raw.aclose()
        await bus.close()


async def test_ready_means_a_state_read_after_it_misses_no_announcement(make_bus: BusFactory) -> None:
    """subscribe, await ready, then another process publishes: the listener hears it."""
    a, b = await make_bus(), await make_bus()
    heard = Heard()
    a.subscribe("ready", heard)
    await a.ready("ready")
    await b.publish("ready", "announced")
    assert await heard.until(1) == ["announced"]


async def test_local_leases_always_grant(make_bus: BusFactory) -> None:
    """With one process (memory bus) every claim is granted; on Redis the first of two claims wins."""
    a, b = await make_bus(), await make_bus()
    first, second = leases_for(a), leases_for(b)
    assert await first.claim("job", 5.0)
    assert await second.claim("job", 5.0) is isinstance(a, MemoryBus)


async def test_a_lease_is_renewed_by_its_owner_and_taken_over_when_released(redis_url: str) -> None:
    """The owner renews; others are refused until it releases."""
    a, b = await open_bus(redis_url), await open_bus(redis_url)
    try:
        one, two = leases_for(a), leases_for(b)
        assert await one.claim("rotate:1", 5.0)
        assert not await two.claim("rotate:1", 5.0)
        assert await one.claim("rotate:1", 5.0)
        assert await two.claim("rotate:2", 5.0)  # another name is another lease
        await two.release("rotate:1")  # not its own: no effect
        assert not await two.claim("rotate:1", 5.0)
        await one.release("rotate:1")
        assert await two.claim("rotate:1", 5.0)
    finally:
        await a.close()
        await b.close()


async def test_many_leases_are_claimed_in_one_trip_with_one_winner_each(redis_url: str) -> None:
    """claim_many answers per name, in order: what another process holds is refused, the rest is
    won (and renewed when claimed again by its owner), and it agrees with claim."""
    a, b = await open_bus(redis_url), await open_bus(redis_url)
    try:
        one, two = leases_for(a), leases_for(b)
        assert await one.claim("rotate:7:3", 5.0)
        assert await two.claim_many(["rotate:7:2", "rotate:7:3", "rotate:7:3:svg"], 5.0) == [
            True,
            False,
            True,
        ]
        assert await one.claim_many(["rotate:7:2", "rotate:7:3", "rotate:7:3:svg"], 5.0) == [
            False,
            True,
            False,
        ]
        assert await two.claim_many(["rotate:7:2"], 5.0) == [True]  # its own: renewed
        assert not await one.claim("rotate:7:3:svg", 5.0)
        assert await one.claim_many([], 5.0) == []
    finally:
        await a.close()
        await b.close()


async def test_local_leases_grant_every_claim_of_a_batch() -> None:
    """With the memory bus (one process) every name of a batch is granted, in order."""
    leases = leases_for(MemoryBus())
    assert await leases.claim("x", 5.0)
    assert await leases.claim_many(["x", "y", "x"], 5.0) == [True, True, True]


async def test_a_lease_nobody_renews_runs_out(redis_url: str) -> None:
    """A dead owner's lease expires after its time (Redis's clock), and another process takes it."""
    a, b = await open_bus(redis_url), await open_bus(redis_url)
    try:
        one, two = leases_for(a), leases_for(b)
        assert await one.claim("short", 0.2)
        assert not await two.claim("short", 0.2)
        taken = False
        for _ in range(100):  # bounded: 100 times 20 ms
            await asyncio.sleep(0.02)
            if await two.claim("short", 5.0):
                taken = True
                break
        assert taken
    finally:
        await a.close()
        await b.close()


async def test_a_message_published_while_the_connection_is_down_arrives_after_reconnecting(
    redis_url: str,
) -> None:
    """Redis drops the subscriber's connection; a final message (not kept) published before it is
    back is delivered when it reconnects, once."""
    a, b = RedisBus(redis_url), RedisBus(redis_url)
    await a.start()
    await b.start()
    raw = Redis.from_url(redis_url, decode_responses=True)
    try:
        heard = Heard()
        await subscribed(a, "down", heard)
        await b.publish("down", "frame", keep=True)
        await heard.until(1)
        await raw.execute_command("CLIENT", "KILL", "TYPE", "pubsub")  # type: ignore[no-untyped-call]
        await b.publish("down", "final")  # `a` is reconnecting (its first retry waits 50 ms)
        assert await heard.until(2) == ["frame", "final"]
        assert a.reconnects >= 1
        await b.publish("down", "after")
        assert await heard.until(3) == ["frame", "final", "after"]
        assert await a.latest("down") == "frame"
    finally:
        await raw.aclose()
        await a.close()
        await b.close()


@pytest.mark.parametrize("bus", ["redis://127.0.0.1:{port}/0", "redis://127.0.0.1:99999/0", "redis://[bad"])
def test_run_py_exits_2_with_one_line_when_redis_is_unusable(bus: str) -> None:
    """`run.py --bus redis://…` with nobody listening or a malformed URL: one line on stderr, exit 2."""
    bus = bus.format(port=free_port())
    line = error_line(["--port", "0", "--db", ":memory:", "--bus", bus])
    assert line.startswith("qrstream: error: cannot "), line


async def test_redis_keys_of_idle_topics_expire(redis_url: str) -> None:
    """Every key a topic leaves in Redis has a time to live, renewed by each publish."""
    bus = await open_bus(redis_url)
    raw = Redis.from_url(redis_url, decode_responses=True)
    try:
        await bus.publish("idle", "kept", keep=True)
        await bus.publish("idle", "passing")
        for kind in ("version", "latest", "last"):
            assert await raw.pttl(f"qrstream:{kind}:idle") > 0, kind
        await bus.forget("idle")
        assert await raw.pttl("qrstream:version:idle") > 0
        assert await raw.exists("qrstream:latest:idle") == 0
    finally:
        await raw.aclose()
        await bus.close()
