"""Rows the hot read paths need, kept in this process and right across processes through the bus.

A cached QR request should be a dictionary lookup and a write. `HotCache` holds what such a
request reads from the store (an instance's row, a verification, a card's image or link row),
and stays correct with several processes on one database:

- a change is told with `invalidate(tag)` once it is committed: this process drops the tag's
  entries at once, every other process when the tag arrives on the cache's bus topic;
- a fill that overlaps an invalidation or a reset is not kept: `token()` is read before the
  store read and `put` keeps the value only if no invalidation came in between (a generation);
- nothing is kept while the bus does not hear the topic (`Bus.live`: not yet subscribed, the
  connection down), and everything is dropped when messages may have been missed (`on_reset`);
- time-based state stays the store's: an entry may carry `until` (the injected clock's time,
  e.g. an expiry) from which it is a miss; every entry also goes after `max_age_s` (monotonic
  time), bounding how long a lost message could leave one stale;
- at most `capacity` entries (least recently used go first).

Misses are never cached (an unknown key always reads the store), so nothing needs telling
when a row is created.

    fill:  t = cache.token(); row = await store read; cache.put(t, key, row, tag=...)
    hit:   cache.get(key)              (no store read, no await)
    write: commit; await cache.invalidate(tag)
"""

from __future__ import annotations

import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, NamedTuple, TypeVar

from qrstream.bus import Bus
from qrstream.clock import Clock

log = logging.getLogger(__name__)

V = TypeVar("V")

DEFAULT_CAPACITY = 20_000
DEFAULT_MAX_AGE_S = 30.0


class _Entry(NamedTuple, Generic[V]):
    value: V
    tag: str
    until: float
    born: float


class HotCache(Generic[V]):
    """A bounded per-process cache invalidated by tag, in every process, through the bus.

    Keys and tags are text; an entry whose tag is its key needs no index."""

    def __init__(
        self,
        bus: Bus,
        topic: str,
        clock: Clock,
        *,
        capacity: int = DEFAULT_CAPACITY,
        max_age_s: float = DEFAULT_MAX_AGE_S,
    ) -> None:
        self._bus = bus
        self.topic = topic
        self._clock = clock
        self._capacity = capacity
        self._max_age_s = max_age_s
        self._entries: OrderedDict[str, _Entry[V]] = OrderedDict()
        self._by_tag: dict[str, set[str]] = {}
        self._generation = 0
        self._stops: list[Callable[[], None]] = []
        self.hits = 0
        self.misses = 0
        self.resets = 0

    async def start(self) -> None:
        """Hear the topic (and the bus's resets); wait (bounded) until the subscription is live."""
        self._stops = [self._bus.subscribe(self.topic, self._heard), self._bus.on_reset(self.reset)]
        await self._bus.ready(self.topic)

    def close(self) -> None:
        for stop in self._stops:
            stop()
        self._stops = []
        self.reset()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> V | None:
        """The cached value, or None (then read the store, and `put` what it said)."""
        entry = self._entries.get(key)
        if entry is None:
            self.misses += 1
            return None
        if (entry.until != math.inf and self._clock.now() >= entry.until) or (
            time.monotonic() - entry.born > self._max_age_s
        ):
            self._drop_key(key)
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return entry.value

    def token(self) -> int | None:
        """Read before a fill's store read, handed to `put`; None: do not keep what is read."""
        return self._generation if self._bus.live(self.topic) else None

    def put(self, token: int | None, key: str, value: V, *, tag: str, until: float = math.inf) -> None:
        """Keep `value` under `key` unless an invalidation or a reset came since `token` was read.
        `tag` is what `invalidate` names to drop it; `until` the clock time it stops being true."""
        if token is None or token != self._generation or not self._bus.live(self.topic):
            return
        if key in self._entries:
            self._drop_key(key)
        self._entries[key] = _Entry(value, tag, until, time.monotonic())
        if tag != key:
            self._by_tag.setdefault(tag, set()).add(key)
        while len(self._entries) > self._capacity:
            self._drop_key(next(iter(self._entries)))

    async def invalidate(self, tag: str) -> None:
        """After a committed change: drop `tag` here now, then tell every other process."""
        self.drop(tag)
        try:
            await self._bus.publish(self.topic, tag)
        except Exception:  # the change stands; the others' entries age out (max_age_s) at worst
            log.warning("could not tell the other processes to drop %s entries", self.topic, exc_info=True)

    def drop(self, tag: str) -> None:
        """Forget every entry of `tag` in this process; fills in flight are not kept."""
        self._generation += 1
        for key in self._by_tag.pop(tag, ()):
            self._entries.pop(key, None)
        entry = self._entries.get(tag)
        if entry is not None and entry.tag == tag:
            del self._entries[tag]

    def reset(self) -> None:
        """Forget everything (messages may have been missed); fills in flight are not kept."""
        self._generation += 1
        self._entries.clear()
        self._by_tag.clear()
        self.resets += 1

    def _heard(self, topic: str, tag: str) -> None:
        self.drop(tag)

    def _drop_key(self, key: str) -> None:
        entry = self._entries.pop(key)
        if entry.tag != key:
            keys = self._by_tag.get(entry.tag)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._by_tag[entry.tag]
