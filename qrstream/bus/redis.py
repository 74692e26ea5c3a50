"""The Redis bus: several processes hear each other's messages and share each topic's latest.

`publish` is one Lua script: bump the topic's version, store the message as the
topic's `last` (for a few minutes) and, when kept, as its `latest`, and PUBLISH
it as `version|message` (kept) or `version!message` (not kept). `forget` bumps
the version, drops the latest and publishes the bare version.

Each process keeps ONE pub/sub connection, owned by one task that reads it and
calls the local listeners in order. Pub/sub alone loses what is published while
a connection is down or a subscription is still on its way, so every topic's
subscription confirmation is followed by a read of its version, latest and last:
a topic heard before (a reconnect) gets what is newer than the last version it
delivered; a new topic takes the current version as its starting point and its
latest is what `latest()` returns — so `subscribe()` then `await latest()` (or
`await ready()` then a read of the state) misses nothing and repeats nothing.
A version gap on any topic re-reads every topic with local listeners. A Redis
restart (a new `run_id`) resets the versions this process has seen, since the
new server counts afresh.

Recovery brings back a topic's latest and last message, not every one in between: a
listener that must hear every message (a cache dropping what changed) asks `live(topic)`
before trusting what it holds, and is told through `on_reset` whenever messages may have
been missed (the connection lost, a version gap).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from qrstream.bus import BusError, Listener, Reset
from qrstream.bus.listeners import Listeners
from qrstream.redact import safe_url

log = logging.getLogger(__name__)

PREFIX = "qrstream:"
HELLO = PREFIX + "bus"  # always subscribed, so the connection exists before any topic is
FORGOTTEN_TTL_S = 7 * 86400  # a forgotten topic's version counter lingers this long
READY_TIMEOUT_S = 5.0
BACKOFF_FIRST_S = 0.05
BACKOFF_MAX_S = 1.0

LAST_TTL_MS = 300_000  # how long the last message of a topic stays recoverable after a reconnect
# Keys of topics nobody publishes on any more go away: a kept value after a day, the version
# counter after 30 days (far longer than any subscriber stays connected without a message).
LATEST_TTL_MS = 86_400_000
VERSION_TTL_MS = 30 * 86_400_000

PUBLISH = """
local v = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
local payload = v .. '!' .. ARGV[1]
if ARGV[3] == '1' then
    payload = v .. '|' .. ARGV[1]
    redis.call('SET', KEYS[2], payload, 'PX', ARGV[5])
end
redis.call('SET', KEYS[3], payload, 'PX', ARGV[4])
redis.call('PUBLISH', ARGV[2], payload)
return v
"""

FORGET = """
local v = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('DEL', KEYS[2])
redis.call('PUBLISH', ARGV[1], tostring(v))
return v
"""

CLAIM = """
local owner = redis.call('GET', KEYS[1])
if owner == false or owner == ARGV[1] then
    redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
    return 1
end
return 0
"""

CLAIM_MANY = """
local won = {}
for i, key in ipairs(KEYS) do
    local owner = redis.call('GET', key)
    if owner == false or owner == ARGV[1] then
        redis.call('SET', key, ARGV[1], 'PX', ARGV[2])
        won[i] = 1
    else
        won[i] = 0
    end
end
return won
"""

RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""


def channel(topic: str) -> str:
    return f"{PREFIX}topic:{topic}"


def _keys(topic: str) -> list[str]:
    """The topic's version counter, latest (kept) message and last message."""
    return [f"{PREFIX}version:{topic}", f"{PREFIX}latest:{topic}", f"{PREFIX}last:{topic}"]


def _texts(values: list[Any]) -> list[str | None]:
    """MGET answers as text (the client decodes responses)."""
    return [None if v is None else str(v) for v in values]


@dataclass(frozen=True)
class Payload:
    version: int
    kept: bool
    text: str | None
    """None: the topic was forgotten."""


def parse(payload: str) -> Payload:
    """`v|message` (kept), `v!message` (not kept) or `v` (forgotten)."""
    digits = len(payload) - len(payload.lstrip("0123456789"))
    version = int(payload[:digits] or 0)
    if digits == len(payload):
        return Payload(version, False, None)
    return Payload(version, payload[digits] == "|", payload[digits + 1 :])


@dataclass
class _Topic:
    """What this process last delivered on a subscribed topic."""

    version: int
    latest: str | None


class RedisBus:
    """The bus shared by every process pointed at one Redis."""

    def __init__(self, url: str) -> None:
        self.url = url
        retry = Retry(ExponentialBackoff(cap=0.5, base=0.05), 6)
        errors: list[type[Exception]] = [RedisConnectionError, RedisTimeoutError]
        self._redis = Redis.from_url(url, decode_responses=True, retry=retry, retry_on_error=errors)
        # The pub/sub connection fails loudly (no retries, no read timeout): its task reconnects
        # itself and then re-reads what it may have missed.
        self._sub_client = Redis.from_url(
            url, decode_responses=True, retry=Retry(NoBackoff(), 0), socket_timeout=None
        )
        self._publish = self._redis.register_script(PUBLISH)
        self._forget = self._redis.register_script(FORGET)
        self._listeners = Listeners()
        self._subscribed: set[str] = set()  # sent SUBSCRIBE on the current connection
        self._topics: dict[str, _Topic] = {}  # confirmed topics
        self._ready: dict[str, asyncio.Future[_Topic | None]] = {}
        self._live: set[str] = set()  # confirmed on the current connection
        self._resets: dict[int, Reset] = {}
        self._next_reset = 0
        self._wake = asyncio.Event()
        self._pump: asyncio.Task[None] | None = None
        self._closed = False
        self._run_id = ""
        self.reconnects = 0

    async def start(self) -> None:
        """Check that Redis answers (BusError if not) and start listening."""
        try:
            await self._redis.ping()
        except (RedisError, OSError, ValueError, OverflowError) as exc:
            raise BusError(f"cannot reach the bus {safe_url(self.url)!r}: {exc}") from None
        self._ensure_pump()

    def _ensure_pump(self) -> None:
        if self._pump is None and not self._closed:
            self._pump = asyncio.get_running_loop().create_task(self._run(), name="redis-bus")

    # --- the Bus protocol -------------------------------------------------------------------

    async def publish(self, topic: str, message: str, *, keep: bool = False) -> None:
        args = [message, channel(topic), "1" if keep else "0", LAST_TTL_MS, LATEST_TTL_MS, VERSION_TTL_MS]
        await self._publish(keys=_keys(topic), args=args)

    def subscribe(self, topic: str, listener: Listener) -> Callable[[], None]:
        self._ensure_pump()
        unsubscribe = self._listeners.add(topic, listener, on_emptied=self._wake.set)
        self._wake.set()
        return unsubscribe

    async def latest(self, topic: str) -> str | None:
        start = await self._confirmed(topic)
        if start is not None:
            # The confirmation's read is the starting point of a new subscription (not the
            # state after it, which listeners may have been handed already).
            return start.latest
        known = self._topics.get(topic)
        if known is not None and topic in self._listeners:
            return known.latest
        value = await self._redis.get(_keys(topic)[1])
        return parse(str(value)).text if value is not None else None

    async def ready(self, topic: str) -> None:
        await self._confirmed(topic)

    async def _confirmed(self, topic: str) -> _Topic | None:
        """Wait (bounded) until a subscribed topic's subscription is live at Redis; its starting
        point when this call did the waiting."""
        if topic not in self._listeners or topic in self._topics:
            return None
        ready = self._ready.setdefault(topic, asyncio.get_running_loop().create_future())
        try:
            return await asyncio.wait_for(asyncio.shield(ready), READY_TIMEOUT_S)
        except TimeoutError:
            return None

    async def forget(self, topic: str) -> None:
        await self._forget(keys=_keys(topic)[:2], args=[channel(topic), FORGOTTEN_TTL_S])

    def live(self, topic: str) -> bool:
        return topic in self._live and topic in self._listeners

    def on_reset(self, callback: Reset) -> Callable[[], None]:
        self._next_reset += 1
        key = self._next_reset
        self._resets[key] = callback

        def stop() -> None:
            self._resets.pop(key, None)

        return stop

    def _reset(self) -> None:
        """Messages may have been missed: tell whoever asked (`on_reset`)."""
        for callback in list(self._resets.values()):
            try:
                callback()
            except Exception:
                log.exception("bus reset callback failed")

    async def ping(self) -> None:
        try:
            await self._redis.ping()
        except (RedisError, OSError) as exc:  # the reason without the address: /readyz is public
            raise BusError(f"unreachable ({type(exc).__name__})") from exc

    async def close(self) -> None:
        self._closed = True
        self._listeners.clear()
        pump = self._pump
        # Cancel until it is done: on Python 3.11 a cancel landing inside redis-py's own
        # timeouts can be swallowed, and the task would go on reading.
        while pump is not None and not pump.done():
            pump.cancel()
            await asyncio.wait([pump], timeout=0.5)
        for topic in list(self._ready):
            self._resolve(topic, None)
        await self._sub_client.aclose()
        await self._redis.aclose()

    def topics(self) -> list[str]:
        """Topics with at least one local listener."""
        return list(self._listeners)

    def leases(self) -> RedisLeases:
        """Leases shared by every process on this Redis (see `qrstream.leases`)."""
        return RedisLeases(self._redis)

    # --- the pub/sub task -------------------------------------------------------------------

    async def _run(self) -> None:
        backoff = BACKOFF_FIRST_S
        first = True
        while not self._closed:
            pubsub = self._sub_client.pubsub()
            syncer: asyncio.Task[None] | None = None
            try:
                await pubsub.subscribe(HELLO)
                await self._check_server()
                if not first:
                    self.reconnects += 1
                    log.info("bus: reconnected to redis")
                first = False
                backoff = BACKOFF_FIRST_S
                self._subscribed.clear()
                for topic in [t for t in self._topics if t not in self._listeners]:
                    del self._topics[topic]
                syncer = asyncio.get_running_loop().create_task(self._sync(pubsub))
                while not self._closed:
                    message = await pubsub.get_message(timeout=None)
                    if message is not None:
                        await self._handle(message)
            except (RedisError, OSError) as exc:
                log.warning("bus: redis connection lost (%s); retrying", exc)
            finally:
                if self._live:  # nothing is heard until the next connection confirms its topics
                    self._live.clear()
                    self._reset()
                if syncer is not None:
                    syncer.cancel()
                    with contextlib.suppress(asyncio.CancelledError, RedisError, OSError):
                        await syncer
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, BACKOFF_MAX_S)

    async def _check_server(self) -> None:
        """A restarted Redis may count versions from 1 again (or from an older snapshot):
        then every version seen before means nothing, and whatever it holds now is news."""
        run_id = str((await self._redis.info("server")).get("run_id", ""))
        if self._run_id and run_id != self._run_id:
            log.info("bus: redis restarted; accepting its versions afresh")
            for state in self._topics.values():
                state.version = 0
        self._run_id = run_id

    async def _sync(self, pubsub: PubSub) -> None:
        """Keep the connection's subscriptions equal to the topics with local listeners."""
        while True:
            self._wake.clear()
            wanted = set(self._listeners)
            extra = self._subscribed - wanted
            if extra:
                self._subscribed -= extra
                for topic in extra:
                    self._topics.pop(topic, None)
                    self._live.discard(topic)
                    self._resolve(topic, None)
                await pubsub.unsubscribe(*(channel(t) for t in extra))
            missing = wanted - self._subscribed
            if missing:
                self._subscribed |= missing
                await pubsub.subscribe(*(channel(t) for t in missing))
            await self._wake.wait()

    async def _handle(self, message: dict[str, Any]) -> None:
        name = str(message.get("channel", ""))
        topic = name.removeprefix(PREFIX + "topic:") if name.startswith(PREFIX + "topic:") else None
        if topic is None:
            return
        kind = message.get("type")
        if kind == "subscribe" and topic in self._subscribed:
            await self._confirm(topic)
        elif kind == "message" and topic in self._topics:
            gap = self._take(topic, parse(str(message["data"])))
            if gap:
                await self._resync()

    async def _confirm(self, topic: str) -> None:
        """A subscription is live: read where the topic stands; deliver what is new if this is a
        reconnect, else take it as the starting point."""
        counter, latest, last = _texts(await self._redis.mget(_keys(topic)))
        if topic in self._topics:
            self._recover(topic, counter, latest, last)
            self._live.add(topic)
            self._resolve(topic, None)
        else:
            start = _Topic(int(counter or 0), parse(latest).text if latest is not None else None)
            self._topics[topic] = start
            self._live.add(topic)
            self._resolve(topic, _Topic(start.version, start.latest))

    def _resolve(self, topic: str, start: _Topic | None) -> None:
        """Wake `latest()` callers waiting for the topic's subscription (with its starting point)."""
        ready = self._ready.pop(topic, None)
        if ready is not None and not ready.done():
            ready.set_result(start)

    async def _resync(self) -> None:
        """Re-read every topic with local listeners; deliver what is newer than what was delivered."""
        self._reset()  # what came between the versions is lost
        topics = [t for t in self._topics if t in self._listeners]
        if not topics:
            return
        values = _texts(await self._redis.mget([key for t in topics for key in _keys(t)]))
        for i, topic in enumerate(topics):
            if topic in self._topics:
                self._recover(topic, values[3 * i], values[3 * i + 1], values[3 * i + 2])

    def _recover(self, topic: str, counter: str | None, latest: str | None, last: str | None) -> None:
        """Deliver, oldest first, the kept latest and the last message if they are new here; then
        note a forget that happened meanwhile."""
        found = sorted((parse(v) for v in (latest, last) if v is not None), key=lambda p: p.version)
        for payload in found:
            self._take(topic, payload, recovered=True)
        if latest is None and counter is not None:
            self._take(topic, Payload(int(counter), False, None), recovered=True)

    def _take(self, topic: str, payload: Payload, *, recovered: bool = False) -> bool:
        """Deliver one message unless it is old; return whether versions were skipped."""
        state = self._topics[topic]
        if payload.version <= state.version:
            return False
        gap = not recovered and payload.version > state.version + 1
        state.version = payload.version
        if payload.text is None:
            state.latest = None
            return gap
        if payload.kept:
            state.latest = payload.text
        self._listeners.deliver(topic, payload.text)
        return gap


class RedisLeases:
    """A lease is a key holding its owner's token, with Redis's own expiry."""

    def __init__(self, redis: Redis) -> None:
        self.owner = uuid.uuid4().hex
        self._claim = redis.register_script(CLAIM)
        self._claim_many = redis.register_script(CLAIM_MANY)
        self._release = redis.register_script(RELEASE)

    async def claim(self, name: str, ttl_s: float) -> bool:
        ttl_ms = max(1, round(ttl_s * 1000))
        return bool(await self._claim(keys=[f"{PREFIX}lease:{name}"], args=[self.owner, ttl_ms]))

    async def claim_many(self, names: list[str], ttl_s: float) -> list[bool]:
        if not names:
            return []
        ttl_ms = max(1, round(ttl_s * 1000))
        keys = [f"{PREFIX}lease:{name}" for name in names]
        return [bool(won) for won in await self._claim_many(keys=keys, args=[self.owner, ttl_ms])]

    async def release(self, name: str) -> None:
        await self._release(keys=[f"{PREFIX}lease:{name}"], args=[self.owner])
