"""Lazy QR rotation: a task per instance that has local websocket subscribers.

Shortly before an instance's window turns, its task pre-renders the next frame in
each format its local subscribers read (`png`, `raw`, `svg`); at the turn it publishes
each frame's text once on the bus topic `instance:<id>`, tagged with its format, and
the hub sends those same bytes to every local subscriber of that format. The task ends
when the instance has no local subscriber left, is authorized or is gone. Instances
nobody watches cost nothing, and neither do formats nobody reads: REST `qr` renders
the current window on demand (and the frame is cached). With several processes (a
Redis bus) each format's turn of a window is a lease that one process wins: it renders
and publishes, the others' subscribers hear the frame on the bus.
"""

from __future__ import annotations

import asyncio
import logging

from qrstream.instances.events import topic as topic  # the stream's topic (scanqrcode imports it here)
from qrstream.instances.frames import FORMATS, PNG, Frames
from qrstream.instances.service import AUTHORIZED, Instances
from qrstream.outage import RoundFailures
from qrstream.services import Services
from qrstream.tasks import TaskSet
from qrstream.web.ws import Hub, envelope

log = logging.getLogger(__name__)


class Rotator:
    """Starts and keeps one rotation task per watched instance."""

    def __init__(
        self, services: Services, hub: Hub, instances: Instances, frames: Frames, tasks: TaskSet
    ) -> None:
        """`tasks` runs the rotations (owned by the family's cleanup context)."""
        self._services = services
        self._hub = hub
        self._instances = instances
        self._frames = frames
        self._background = tasks
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._failures = RoundFailures(log, "a QR rotation turn failed; retrying next window")

    @property
    def lead(self) -> float:
        """How long before the turn of a window the next frame is rendered."""
        return min(1.0, self._frames.period / 4)

    def running(self) -> int:
        return len(self._tasks)

    def ensure(self, instance_id: int) -> None:
        """Make sure the instance rotates (call after a subscriber joined its topic)."""
        if instance_id not in self._tasks:
            # The window shown now is fixed here, before any wait: the first turn is its end.
            window = self._frames.window_at(instance_id, self._services.clock.now())
            task = self._background.spawn(self._rotate(instance_id, window), f"rotate-{instance_id}")
            self._tasks[instance_id] = task

    def _watched(self, instance_id: int) -> bool:
        return self._hub.count(topic(instance_id)) > 0

    async def _rotate(self, instance_id: int, window: int) -> None:
        try:
            while self._watched(instance_id):
                try:
                    turned = await self._turn(instance_id, window)
                except Exception as exc:
                    # A failed turn (a database hiccup or outage) must not end the stream: try the next.
                    self._failures.failed(exc)
                    turned = window + 1
                else:
                    self._failures.succeeded()
                if turned is None:
                    return
                window = turned
        finally:
            self._tasks.pop(instance_id, None)

    async def _turn(self, instance_id: int, window: int) -> int | None:
        """Wait for `window` to end, publish the frames of the next one (one per format someone
        here reads) and return its number; None when the rotation should stop."""
        clock, frames = self._services.clock, self._frames
        end = frames.window_end(instance_id, window)
        await clock.sleep_until(end - self.lead)
        if not self._watched(instance_id):
            return None
        instance = await self._instances.get(instance_id)
        if instance is None or instance.state == AUTHORIZED:
            return None
        # Each format's turn is a lease of its own: every watching process claims the formats
        # its subscribers read, so each frame is made once, by one process, whoever reads it.
        # A lost lease means another process turns that format; its frame reaches our
        # subscribers on the bus, and when that one dies, another takes the next turn.
        tried = self._formats(instance_id)
        made = [
            await frames.frame(instance_id, instance.generation, window + 1, fmt)
            for fmt in await self._claim(instance_id, window + 1, tried)
        ]
        await clock.sleep_until(end)
        if not self._watched(instance_id):
            return None
        current = max(window + 1, frames.window_at(instance_id, clock.now()))
        # A format first read during the lead (a subscriber just joined) is turned now.
        late = [fmt for fmt in self._formats(instance_id) if fmt not in tried]
        made += [
            await frames.frame(instance_id, instance.generation, current, fmt)
            for fmt in await self._claim(instance_id, window + 1, late)
        ]
        for frame in made:
            if current != frame.window:  # the clock jumped past a whole window
                frame = await frames.frame(instance_id, instance.generation, current, frame.format)
            envelope_text = envelope(frame.text, variant=frame.format)
            await self._services.bus.publish(topic(instance_id), envelope_text, keep=True)
        return current

    def _formats(self, instance_id: int) -> list[str]:
        """The frame formats the local subscribers of the instance read."""
        variants = self._hub.variants(topic(instance_id))
        return [fmt for fmt in FORMATS if fmt in variants]

    async def _claim(self, instance_id: int, window: int, formats: list[str]) -> list[str]:
        """The formats whose turn of `window` this process wins."""
        leases, period = self._services.leases, self._frames.period
        return [fmt for fmt in formats if await leases.claim(lease_name(instance_id, window, fmt), period)]


def lease_name(instance_id: int, window: int, fmt: str) -> str:
    """The lease of one format's turn of a window (the PNG one named as it always was)."""
    name = f"rotate:{instance_id}:{window}"
    return name if fmt == PNG else f"{name}:{fmt}"
