"""The fake clock wakes sleepers as it passes them, and only then."""

from __future__ import annotations

import asyncio

from qrstream.clock import FakeClock, sleep


async def test_sleepers_wake_in_order_when_time_passes() -> None:
    """advance() wakes exactly the sleepers whose deadline has come."""
    clock = FakeClock(start=100.0)
    woke: list[str] = []

    async def sleeper(name: str, seconds: float) -> None:
        await sleep(clock, seconds)
        woke.append(name)

    tasks = [asyncio.create_task(sleeper("a", 5)), asyncio.create_task(sleeper("b", 10))]
    await asyncio.sleep(0)
    await clock.advance(4.9)
    assert woke == []
    await clock.advance(0.1)
    assert woke == ["a"]
    await clock.advance(5)
    assert woke == ["a", "b"]
    await asyncio.gather(*tasks)
    assert clock.now() == 110.0
