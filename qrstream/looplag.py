"""Event-loop lag: how late a timer fires, sampled a few times a second.

A timer due in `interval` seconds that runs `lag` seconds late means some callback
held the loop that long; every request and websocket frame waiting meanwhile was
delayed as much. Samples go into fixed buckets (a Prometheus histogram's shape) so
`/metrics` can show them and a benchmark can take percentiles from two scrapes.
"""

from __future__ import annotations

import asyncio
import bisect

BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
INTERVAL_S = 0.05


class LoopLag:
    """Counts of lag samples per bucket (the last one is +Inf), their sum and the worst."""

    def __init__(self, interval: float = INTERVAL_S) -> None:
        self.interval = interval
        self.counts = [0] * (len(BUCKETS) + 1)
        self.total = 0.0
        self.worst = 0.0

    def observe(self, lag: float) -> None:
        self.counts[bisect.bisect_left(BUCKETS, lag)] += 1
        self.total += lag
        self.worst = max(self.worst, lag)

    def cumulative(self) -> list[tuple[str, int]]:
        """(upper bound, samples at or under it), ending with +Inf."""
        out, running = [], 0
        for bound, count in zip([*map(str, BUCKETS), "+Inf"], self.counts, strict=True):
            running += count
            out.append((bound, running))
        return out

    async def run(self) -> None:
        """Sample until cancelled."""
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + self.interval
            await asyncio.sleep(self.interval)
            self.observe(max(0.0, loop.time() - due))
