"""The tests' fake clock, which also knows which tasks are waiting on it."""

from __future__ import annotations

import asyncio
from typing import Any

from qrstream.clock import FakeClock


class ParkedClock(FakeClock):
    """A `FakeClock` that can tell whether a task is parked on it: waiting for a time still to come,
    so it will not run again until the test moves the clock."""

    def __init__(self, **kwargs: float) -> None:
        super().__init__(**kwargs)
        self._waiting: dict[asyncio.Future[Any], float] = {}

    async def sleep_until(self, deadline: float) -> None:
        task = asyncio.current_task()
        if task is None:
            await super().sleep_until(deadline)
            return
        self._waiting[task] = deadline
        try:
            await super().sleep_until(deadline)
        finally:
            self._waiting.pop(task, None)

    def parked(self, task: asyncio.Future[Any]) -> bool:
        """`task` waits on this clock for a time after now (one woken by `set` is not parked:
        it is about to run)."""
        deadline = self._waiting.get(task)
        return deadline is not None and deadline > self.now()
