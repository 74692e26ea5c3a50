"""Lazy QR rotation: one scheduler for every instance that has local websocket subscribers.

Shortly before an instance's window turns, the next frame is pre-rendered in each format
its local subscribers read (`png`, `raw`, `svg`); at the turn each frame's text is
published once on the bus topic `instance:<id>`, tagged with its format, and the hub sends
those same bytes to every local subscriber of that format. An instance stops rotating when
it has no local subscriber left, is authorized or is gone. Instances nobody watches cost
nothing, and neither do formats nobody reads: REST `qr` renders the current window on
demand (and the frame is cached). With several processes (a Redis bus) each format's turn
of a window is a lease that one process wins: it renders and publishes, the others'
subscribers hear the frame on the bus.

Every watched instance is a `_Watch` on one timer heap, driven by one task that waits on
the injected clock for the earliest entry (no task or timer per instance):

    ensure() ─▶ WAIT ──(end - lead + spread)──▶ PREPARE ──(frames made)──▶ READY ──(end)──▶ PUBLISH
                  ▲                                                                         │
                  └──────────────────────── the next window ───────────────────────────────┘

Prepares due within `BATCH_S` of the earliest are done together: one store query for their
instances, one trip for their leases, a few trips to the render pool for all their frames.
Each instance's prepare time is spread over the first half of the lead (by its id), so many
windows ending at one instant do not render in one burst. A failed prepare or publish (a
store outage) skips that turn and the instance carries on with the next window.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import math
from collections.abc import Coroutine, Iterable
from dataclasses import dataclass, field
from typing import Any

from qrstream.instances.events import topic as topic  # the stream's topic (scanqrcode imports it here)
from qrstream.instances.frames import FORMATS, PNG, Frame, FrameKey, Frames
from qrstream.instances.service import AUTHORIZED, Instances
from qrstream.outage import RoundFailures
from qrstream.services import Services
from qrstream.tasks import TaskSet
from qrstream.web.ws import Hub, envelope

log = logging.getLogger(__name__)

LEAD_S = 2.0
"""How long before a window's end its next frames start being made (at most a quarter period)."""
BATCH_S = 0.25
"""Prepares due within this much of the earliest are made together (a little early)."""
MAX_BATCH = 256
"""Instances per prepare batch (one store query, one lease trip, a few pool trips)."""
PUBLISH_SLICE = 200
"""Frames published between two yields to the event loop."""

_PREPARE, _PUBLISH = "prepare", "publish"


@dataclass(eq=False, slots=True)
class _Watch:
    """One watched instance: the window shown now, and the next one's frames once made.

    A watch is its own heap entry (ordered by `due`, then `ticket`), and it is on the heap at
    most once: it is pushed again only after it was taken off. One that stopped rotating
    stays there until its time and is then dropped (`self._watches` no longer holds it).
    """

    instance_id: int
    window: int
    due: float = 0.0
    ticket: int = 0
    step: str = ""
    generation: int = 0
    tried: tuple[str, ...] = ()
    """The formats whose turn of the next window were claimed during the lead."""
    lost: tuple[str, ...] = ()
    """Those of them another process won: claimed again at the turn, in case it has gone."""
    regained: tuple[str, ...] = ()
    """Those of `lost` won at the turn: turned here."""
    held: list[str] = field(default_factory=list)
    """The leases won for the next window and not yet published (released on a graceful stop)."""
    made: list[Frame] = field(default_factory=list)

    def __lt__(self, other: _Watch) -> bool:
        if self.due != other.due:
            return self.due < other.due
        return self.ticket < other.ticket


class Rotator:
    """Keeps every watched instance rotating, on one timer heap."""

    def __init__(
        self, services: Services, hub: Hub, instances: Instances, frames: Frames, tasks: TaskSet
    ) -> None:
        """`tasks` runs the scheduler and its batches (owned by the family's cleanup context)."""
        self._services = services
        self._hub = hub
        self._instances = instances
        self._frames = frames
        self._background = tasks
        self._watches: dict[int, _Watch] = {}
        self._heap: list[_Watch] = []
        self._tickets = itertools.count()
        self._driver: asyncio.Task[None] | None = None
        self._alarm: asyncio.Future[None] | None = None
        self._alarm_at = math.inf
        self._in_flight = 0
        self._failures = RoundFailures(log, "a QR rotation turn failed; retrying next window")

    @property
    def lead(self) -> float:
        """How long before the turn of a window the next frame starts being made."""
        return min(LEAD_S, self._frames.period / 4)

    def running(self) -> int:
        """How many instances rotate here now."""
        return len(self._watches)

    def idle(self) -> bool:
        """Nothing to do until the clock moves: no batch in flight, no entry due now."""
        due = self._heap[0].due if self._heap else math.inf
        return self._in_flight == 0 and due > self._services.clock.now()

    def ensure(self, instance_id: int) -> None:
        """Make sure the instance rotates (call after a subscriber joined its topic)."""
        if instance_id not in self._watches:
            # The window shown now is fixed here, before any wait: the first turn is its end.
            window = self._frames.window_at(instance_id, self._services.clock.now())
            watch = _Watch(instance_id, window)
            self._watches[instance_id] = watch
            self._wait(watch)
            if self._driver is None or self._driver.done():
                self._driver = self._background.spawn(self._run(), "rotations")

    # --- the heap and its one task ----------------------------------------------------------

    def prepare_at(self, instance_id: int, window: int) -> float:
        """When the frames following `window` start being made: within the first half of the
        lead, at a point of its own for each instance."""
        spread = (instance_id * 2654435761 % 1024) / 1024 * self.lead / 2
        return self._frames.window_end(instance_id, window) - self.lead + spread

    def _wait(self, watch: _Watch) -> None:
        self._push(self.prepare_at(watch.instance_id, watch.window), _PREPARE, watch)

    def _push(self, due: float, step: str, watch: _Watch) -> None:
        watch.due, watch.ticket, watch.step = due, next(self._tickets), step
        heapq.heappush(self._heap, watch)
        if due < self._alarm_at and self._alarm is not None:
            _ring(self._alarm)  # the driver sleeps past this one: wake it

    async def _run(self) -> None:
        clock = self._services.clock
        while self._heap or self._watches:
            due = self._heap[0].due if self._heap else math.inf
            now = clock.now()
            if due > now:
                await self._sleep(due)
                continue
            prepares, publishes = self._due(now)
            for start in range(0, len(prepares), MAX_BATCH):
                self._spawn(self._prepare(prepares[start : start + MAX_BATCH]), "rotate-prepare")
            if publishes:
                self._spawn(self._publish(publishes), "rotate-publish")
        self._driver = None

    def _spawn(self, step: Coroutine[Any, Any, None], name: str) -> None:
        self._in_flight += 1
        self._background.spawn(self._counted(step), name)

    async def _counted(self, step: Coroutine[Any, Any, None]) -> None:
        try:
            await step
        finally:
            self._in_flight -= 1

    def _due(self, now: float) -> tuple[list[_Watch], list[_Watch]]:
        """Take the entries due now, and the prepares due within BATCH_S (made a little early)."""
        prepares: list[_Watch] = []
        publishes: list[_Watch] = []
        heap = self._heap
        while heap and heap[0].due <= now + BATCH_S:
            watch = heap[0]
            if watch.step == _PUBLISH and watch.due > now:
                break  # published at its time, never early
            heapq.heappop(heap)
            if self._watches.get(watch.instance_id) is watch:
                (prepares if watch.step == _PREPARE else publishes).append(watch)
        return prepares, publishes

    async def _sleep(self, due: float) -> None:
        """Wait on the clock until `due`, or until an earlier entry is pushed."""
        loop = asyncio.get_running_loop()
        alarm: asyncio.Future[None] = loop.create_future()
        self._alarm, self._alarm_at = alarm, due
        sleeper = None
        if due != math.inf:
            sleeper = loop.create_task(self._services.clock.sleep_until(due))
            sleeper.add_done_callback(lambda _: _ring(alarm))
        try:
            await alarm
        finally:
            self._alarm, self._alarm_at = None, math.inf
            if sleeper is not None and not sleeper.done():
                sleeper.cancel()

    # --- one turn, in two steps -------------------------------------------------------------

    def _watched(self, instance_id: int) -> bool:
        return self._hub.count(topic(instance_id)) > 0

    def _drop(self, watch: _Watch) -> None:
        if self._watches.get(watch.instance_id) is watch:
            del self._watches[watch.instance_id]

    def _skip(self, watches: Iterable[_Watch]) -> None:
        """After a failed step: the instances wait for the end of the next window."""
        for watch in watches:
            if self._watches.get(watch.instance_id) is watch:
                watch.window += 1
                self._clear(watch)
                self._wait(watch)

    async def _prepare(self, watches: list[_Watch]) -> None:
        """Make the next window's frames of `watches` (the formats each one's subscribers read
        and whose leases this process wins), then wait for each window's end."""
        for watch in watches:
            if not self._watched(watch.instance_id):
                self._drop(watch)
        watches = [w for w in watches if self._watches.get(w.instance_id) is w]
        if not watches:
            return
        try:
            found = await self._instances.get_many([w.instance_id for w in watches])
            live = []
            for watch in watches:
                instance = found.get(watch.instance_id)
                if instance is None or instance.state == AUTHORIZED:
                    self._drop(watch)
                    continue
                watch.generation = instance.generation
                watch.tried = self._formats(watch.instance_id)
                live.append(watch)
            # Each format's turn is a lease of its own: every watching process claims the formats
            # its subscribers read, so each frame is made once, by one process, whoever reads it.
            # A lost lease means another process turns that format; its frame reaches our
            # subscribers on the bus, and when that one dies, another takes the next turn.
            wanted = [(watch, fmt) for watch in live for fmt in watch.tried]
            won = await self._claim(wanted)
            keys = [self._key(w, w.window + 1, fmt) for (w, fmt), ok in zip(wanted, won, strict=True) if ok]
            for (w, fmt), ok in zip(wanted, won, strict=True):
                if not ok:
                    w.lost += (fmt,)
            made = await self._frames.frames(keys)
        except Exception as exc:
            # A failed turn (a database hiccup or outage) must not end the stream: try the next.
            self._failures.failed(exc)
            self._skip(watches)
            return
        self._failures.succeeded()
        by_id = {w.instance_id: w for w in live}
        for frame in made:
            by_id[frame.instance_id].made.append(frame)
        now = self._services.clock.now()
        overdue = []
        for watch in live:
            if self._watches.get(watch.instance_id) is not watch:
                continue
            end = self._frames.window_end(watch.instance_id, watch.window)
            if end <= now:
                overdue.append(watch)  # the window ended while its frames were made
            else:
                self._push(end, _PUBLISH, watch)
        if overdue:
            await self._publish(overdue)

    async def _publish(self, watches: list[_Watch]) -> None:
        """At the turn: publish each instance's frames of the window that now begins."""
        await self._regain(watches)
        for done, watch in enumerate(watches, 1):
            if self._watches.get(watch.instance_id) is not watch:
                continue
            if not self._watched(watch.instance_id):
                # Nobody reads it here any more, but the turns won during the lead are this
                # process's: the other processes lost them and wait for the frames on the bus.
                self._drop(watch)
                now = self._frames.window_at(watch.instance_id, self._services.clock.now())
                try:
                    await self._send(watch.instance_id, [f for f in watch.made if f.window == now])
                except Exception as exc:
                    self._failures.failed(exc)
                continue
            try:
                await self._publish_one(watch)
            except Exception as exc:
                self._failures.failed(exc)
                self._skip([watch])
            else:
                self._failures.succeeded()
            if done % PUBLISH_SLICE == 0:
                await asyncio.sleep(0)  # a long list of turns must not hold the loop

    async def _publish_one(self, watch: _Watch) -> None:
        clock, frames = self._services.clock, self._frames
        instance_id, turned = watch.instance_id, watch.window + 1
        current = max(turned, frames.window_at(instance_id, clock.now()))
        made = watch.made
        # A format first read during the lead (a subscriber just joined) is turned now, and so is
        # one another process won then and has let go since (it stopped in the lead).
        late = [fmt for fmt in self._formats(instance_id) if fmt not in watch.tried]
        won = await self._claim([(watch, fmt) for fmt in late])
        turn_now = [fmt for fmt, ok in zip(late, won, strict=True) if ok] + list(watch.regained)
        if turn_now:
            made = made + await frames.frames([self._key(watch, current, fmt) for fmt in turn_now])
        if any(frame.window != current for frame in made):  # the clock jumped past a whole window
            made = await frames.frames([self._key(watch, current, frame.format) for frame in made])
        await self._send(instance_id, made)
        if self._watches.get(instance_id) is watch:
            watch.window = current
            self._clear(watch)
            self._wait(watch)

    @staticmethod
    def _clear(watch: _Watch) -> None:
        """The turn is over (published or skipped): nothing made, tried or held for it."""
        watch.made, watch.tried, watch.lost, watch.regained, watch.held = [], (), (), (), []

    async def _regain(self, watches: list[_Watch]) -> None:
        """Claim again, in one trip, the turns of `watches` that another process won in the lead:
        those won now (their owner let them go) are turned here."""
        retry = [
            (w, fmt)
            for w in watches
            if self._watches.get(w.instance_id) is w and self._watched(w.instance_id)
            for fmt in w.lost
        ]
        if not retry:
            return
        try:
            won = await self._claim(retry)
        except Exception as exc:
            self._failures.failed(exc)  # the owner's frames still come on the bus
            return
        for (w, fmt), ok in zip(retry, won, strict=True):
            if ok:
                w.regained += (fmt,)

    async def _send(self, instance_id: int, made: list[Frame]) -> None:
        for frame in made:
            envelope_text = envelope(frame.text, variant=frame.format)
            await self._services.bus.publish(topic(instance_id), envelope_text, keep=True)

    async def release(self) -> None:
        """On a graceful stop: give up the turns won during the lead and not yet published, so
        the other processes watching those instances turn them at the window's end (they claim
        the turns they lost again then) instead of waiting a whole window for them."""
        names = [name for watch in self._watches.values() for name in watch.held]
        self._watches.clear()  # nothing more is published from here
        if names:
            with contextlib.suppress(Exception):  # a bus that is down: the leases time out
                await asyncio.gather(*(self._services.leases.release(name) for name in names))

    def _key(self, watch: _Watch, window: int, fmt: str) -> FrameKey:
        return (watch.instance_id, watch.generation, window, fmt)

    def _formats(self, instance_id: int) -> tuple[str, ...]:
        """The frame formats the local subscribers of the instance read."""
        variants = self._hub.variants(topic(instance_id))
        return tuple(fmt for fmt in FORMATS if fmt in variants)

    async def _claim(self, turns: list[tuple[_Watch, str]]) -> list[bool]:
        """Which of the (watch, format) turns of the watches' next windows this process wins, in
        one trip; the leases won are kept on their watch (`held`) until the turn is over."""
        if not turns:
            return []
        names = [lease_name(watch.instance_id, watch.window + 1, fmt) for watch, fmt in turns]
        won = await self._services.leases.claim_many(names, self._frames.period)
        for (watch, _), name, ok in zip(turns, names, won, strict=True):
            if ok:
                watch.held.append(name)
        return won


def _ring(alarm: asyncio.Future[None]) -> None:
    if not alarm.done():
        alarm.set_result(None)


def lease_name(instance_id: int, window: int, fmt: str) -> str:
    """The lease of one format's turn of a window (the PNG one named as it always was)."""
    name = f"rotate:{instance_id}:{window}"
    return name if fmt == PNG else f"{name}:{fmt}"
