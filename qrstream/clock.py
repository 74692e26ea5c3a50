"""Time as a parameter.

Every read of the time of day, and every wait on it, goes through a `Clock`,
so that rotation, expiry and retries are pure functions of `now()` and tests
can move time instead of sleeping.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from typing import Protocol


class Clock(Protocol):
    """Where the server reads the time and waits for it."""

    def now(self) -> float:
        """Unix time in seconds."""
        ...

    async def sleep_until(self, deadline: float) -> None:
        """Return once `now() >= deadline`."""
        ...


class SystemClock:
    """The real clock: wall time, asyncio timers."""

    def now(self) -> float:
        return time.time()

    async def sleep_until(self, deadline: float) -> None:
        delay = deadline - time.time()
        if delay > 0:
            await asyncio.sleep(delay)


async def sleep(clock: Clock, seconds: float) -> None:
    """Wait `seconds` on `clock`."""
    await clock.sleep_until(clock.now() + seconds)


class FakeClock:
    """A clock that only moves when told to; sleepers wake as it passes them."""

    def __init__(self, start: float = 1_767_225_600.0) -> None:
        self._now = start
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self._now

    async def sleep_until(self, deadline: float) -> None:
        if deadline <= self._now:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (deadline, next(self._seq), fut))
        await fut

    def set(self, when: float) -> None:
        """Jump to `when` (never backwards) and wake every sleeper now due."""
        self._now = max(self._now, when)
        while self._sleepers and self._sleepers[0][0] <= self._now:
            _, _, fut = heapq.heappop(self._sleepers)
            if not fut.done():
                fut.set_result(None)

    async def advance(self, seconds: float, *, settle: int = 20) -> None:
        """Move time forward and let the woken tasks run a few loop turns."""
        self.set(self._now + seconds)
        for _ in range(settle):
            await asyncio.sleep(0)
