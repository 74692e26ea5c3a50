"""Token buckets on the injected clock, keyed by purpose and client, in bounded memory.

Each purpose (say "admin-auth") has a bucket per client address holding up to
`per_minute` tokens and refilling at `per_minute / 60` a second. A request is
refused while its bucket is empty; what costs a token is up to the caller (the
web layer charges failed guesses only, so normal use never runs dry).

Memory is bounded: at most `max_keys` buckets are kept, least recently used
first out. A bucket that has refilled completely carries no information and is
dropped on the next sweep, so a quiet server keeps next to nothing.
"""

from __future__ import annotations

import math
from collections import Counter, OrderedDict
from dataclasses import dataclass

from qrstream.clock import Clock

DEFAULT_MAX_KEYS = 10_000


@dataclass
class _Bucket:
    tokens: float
    stamp: float


@dataclass(frozen=True)
class Rate:
    """`per_minute` tokens a minute with a burst of as many; 0 turns the limit off."""

    per_minute: float

    @property
    def enabled(self) -> bool:
        return self.per_minute > 0

    @property
    def per_second(self) -> float:
        return self.per_minute / 60.0


class RateLimiter:
    """Token buckets for several purposes; every method is O(1) amortised."""

    def __init__(self, clock: Clock, rates: dict[str, Rate], *, max_keys: int = DEFAULT_MAX_KEYS) -> None:
        self._clock = clock
        self._rates = dict(rates)
        self._max_keys = max_keys
        self._buckets: OrderedDict[tuple[str, str], _Bucket] = OrderedDict()
        self.refused: Counter[str] = Counter()
        """Requests refused, by purpose (kept by the caller that refuses them)."""

    def __len__(self) -> int:
        return len(self._buckets)

    def rate(self, purpose: str) -> Rate:
        return self._rates.get(purpose, Rate(0))

    def _refilled(self, purpose: str, key: str, now: float) -> _Bucket | None:
        bucket = self._buckets.get((purpose, key))
        if bucket is None:
            return None
        rate = self.rate(purpose)
        elapsed = max(0.0, now - bucket.stamp)  # a clock stepping back never adds tokens
        bucket.tokens = min(rate.per_minute, bucket.tokens + elapsed * rate.per_second)
        bucket.stamp = now
        if bucket.tokens >= rate.per_minute:
            del self._buckets[(purpose, key)]
            return None
        self._buckets.move_to_end((purpose, key))
        return bucket

    def retry_after(self, purpose: str, key: str) -> int:
        """0 when a request may go ahead, else the whole seconds until a token is back."""
        if (purpose, key) not in self._buckets:  # the common case: no failed guess lately
            return 0
        rate = self.rate(purpose)
        if not rate.enabled:
            return 0
        bucket = self._refilled(purpose, key, self._clock.now())
        if bucket is None or bucket.tokens >= 1.0:
            return 0
        return max(1, math.ceil((1.0 - bucket.tokens) / rate.per_second))

    def charge(self, purpose: str, key: str, cost: float = 1.0) -> None:
        """Take `cost` tokens from the bucket (it may go down to zero, not below)."""
        rate = self.rate(purpose)
        if not rate.enabled:
            return
        now = self._clock.now()
        bucket = self._refilled(purpose, key, now)
        if bucket is None:
            bucket = self._buckets[(purpose, key)] = _Bucket(tokens=rate.per_minute, stamp=now)
        bucket.tokens = max(0.0, bucket.tokens - cost)
        self._sweep(now)

    def _sweep(self, now: float) -> None:
        # Drop full buckets from the cold end, then the least recently used beyond the bound.
        for _ in range(2):
            if not self._buckets:
                break
            (purpose, key), _bucket = next(iter(self._buckets.items()))
            self._refilled(purpose, key, now)
        while len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)
