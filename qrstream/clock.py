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
from collections.abc import Callable
from typing import Any, Protocol


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


class Timer(Protocol):
    def cancel(self) -> object: ...


def call_at(clock: Clock, deadline: float, callback: Callable[[], object]) -> Timer:
    """Call `callback` once `clock.now() >= deadline`, unless cancelled first.

    On the system clock this is one loop timer, no task (a timer per websocket costs a few
    hundred bytes, a sleeping task over a kilobyte); on any other clock, a task sleeping on it.
    """
    loop = asyncio.get_running_loop()
    if isinstance(clock, SystemClock):
        return loop.call_later(max(0.0, deadline - clock.now()), callback)
    return loop.create_task(_call_at(clock, deadline, callback))


async def _call_at(clock: Clock, deadline: float, callback: Callable[[], object]) -> None:
    await clock.sleep_until(deadline)
    callback()


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


class Deadlines:
    """Many deadlines on one clock with one timer among them, for the earliest (a websocket's
    scan timeout: a heap entry each instead of a loop timer or a sleeping task each).

    `add` returns the entry to pass to `cancel`; a cancelled entry stays in the heap, empty,
    until its time comes. Callbacks run on the loop, in deadline order.
    """

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._heap: list[list[Any]] = []  # [deadline, seq, callback or None]
        self._seq = itertools.count()
        self._timer: Timer | None = None
        self._armed = float("inf")

    def add(self, deadline: float, callback: Callable[[], object]) -> list[Any]:
        entry = [deadline, next(self._seq), callback]
        heapq.heappush(self._heap, entry)
        if deadline < self._armed:
            self._arm(deadline)
        return entry

    @staticmethod
    def cancel(entry: list[Any]) -> None:
        entry[2] = None

    def close(self) -> None:
        """Call nothing more."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._heap.clear()
        self._armed = float("inf")

    def _arm(self, deadline: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._armed = deadline
        self._timer = call_at(self._clock, deadline, self._due)

    def _due(self) -> None:
        self._timer, self._armed = None, float("inf")
        heap, now = self._heap, self._clock.now()
        loop = asyncio.get_running_loop()
        while heap and heap[0][0] <= now:
            callback = heapq.heappop(heap)[2]
            if callback is not None:
                loop.call_soon(callback)  # one failing callback is the loop's to report, not ours
        while heap and heap[0][2] is None:  # cancelled: no timer for them
            heapq.heappop(heap)
        if heap:
            self._arm(heap[0][0])
