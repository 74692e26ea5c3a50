"""The fake clock wakes sleepers as it passes them, and only then."""

from __future__ import annotations

import asyncio

from qrstream.clock import Deadlines, FakeClock, SystemClock, sleep


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


async def test_deadlines_call_back_in_order_and_not_when_cancelled() -> None:
    """Deadlines added out of order are called back in deadline order once the clock passes each,
    a cancelled one never; an earlier deadline added later still comes first."""
    clock = FakeClock(start=100.0)
    deadlines = Deadlines(clock)
    called: list[str] = []
    deadlines.add(130.0, lambda: called.append("c"))
    dropped = deadlines.add(110.0, lambda: called.append("dropped"))
    deadlines.add(120.0, lambda: called.append("b"))
    await clock.advance(1)
    deadlines.add(105.0, lambda: called.append("a"))  # earlier than every other, added last
    deadlines.cancel(dropped)
    await clock.advance(3.9)
    assert called == []
    await clock.advance(0.1)
    assert called == ["a"]
    await clock.advance(15)
    assert called == ["a", "b"]
    await clock.advance(10)
    assert called == ["a", "b", "c"]
    deadlines.close()


async def test_deadlines_on_the_system_clock_fire_on_a_loop_timer() -> None:
    """On the real clock a deadline a few milliseconds away is called back; a closed Deadlines
    calls nothing more."""
    clock = SystemClock()
    deadlines = Deadlines(clock)
    fired = asyncio.Event()
    deadlines.add(clock.now() + 0.02, fired.set)
    later = asyncio.Event()
    deadlines.add(clock.now() + 0.05, later.set)
    async with asyncio.timeout(5):
        await fired.wait()
    deadlines.close()
    await asyncio.sleep(0.1)
    assert not later.is_set()
