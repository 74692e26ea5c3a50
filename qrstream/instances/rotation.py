"""Lazy QR rotation: a task per instance that has local websocket subscribers.

Shortly before an instance's window turns, its task pre-renders the next frame; at
the turn it publishes the frame's text once on the bus topic `instance:<id>`, and the
hub sends those same bytes to every local subscriber. The task ends when the instance
has no local subscriber left, is authorized or is gone. Instances nobody watches cost
nothing: REST `qr` renders the current window on demand (and the frame is cached).
With several processes (a Redis bus) each window's turn is a lease that one process
wins: it renders and publishes, the others' subscribers hear the frame on the bus.
"""

from __future__ import annotations

import asyncio
import logging

from qrstream.bus import Bus
from qrstream.instances.frames import Frames
from qrstream.instances.service import AUTHORIZED, Instances
from qrstream.services import Services
from qrstream.web.ws import Hub, envelope

log = logging.getLogger(__name__)


def topic(instance_id: int) -> str:
    """The hub topic of an instance's stream."""
    return f"instance:{instance_id}"


class BusAnnouncer:
    """Tells an instance's streams about a state change, through the bus (every process hears it)."""

    def __init__(self, bus: Bus) -> None:
        self._bus = bus

    async def announce(self, instance_id: int, text: str, *, final: bool = False) -> None:
        name = topic(instance_id)
        await self._bus.publish(name, envelope(text, final=final), keep=not final)
        if final:
            await self._bus.forget(name)  # the last frame is stale now


class Rotator:
    """Starts and keeps one rotation task per watched instance."""

    def __init__(self, services: Services, hub: Hub, instances: Instances, frames: Frames) -> None:
        self._services = services
        self._hub = hub
        self._instances = instances
        self._frames = frames
        self._tasks: dict[int, asyncio.Task[None]] = {}

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
            task = self._services.spawn(self._rotate(instance_id, window), f"rotate-{instance_id}")
            self._tasks[instance_id] = task

    def _watched(self, instance_id: int) -> bool:
        return self._hub.count(topic(instance_id)) > 0

    async def _rotate(self, instance_id: int, window: int) -> None:
        try:
            while self._watched(instance_id):
                try:
                    turned = await self._turn(instance_id, window)
                except Exception:
                    # A failed turn (a database hiccup) must not end the stream: try the next one.
                    log.exception("rotation of instance %d failed; retrying next window", instance_id)
                    turned = window + 1
                if turned is None:
                    return
                window = turned
        finally:
            self._tasks.pop(instance_id, None)

    async def _turn(self, instance_id: int, window: int) -> int | None:
        """Wait for `window` to end, publish the frame of the next one and return its number;
        None when the rotation should stop."""
        clock, frames = self._services.clock, self._frames
        end = frames.window_end(instance_id, window)
        await clock.sleep_until(end - self.lead)
        if not self._watched(instance_id):
            return None
        instance = await self._instances.get(instance_id)
        if instance is None or instance.state == AUTHORIZED:
            return None
        if not await self._services.leases.claim(f"rotate:{instance_id}:{window + 1}", frames.period):
            # Another process turns this window (it got there first); its frame reaches our
            # subscribers on the bus. Every watching process claims each window, so when that
            # one dies, another takes the next turn.
            await clock.sleep_until(end)
            return max(window + 1, frames.window_at(instance_id, clock.now()))
        frame = await frames.frame(instance_id, instance.generation, window + 1)
        await clock.sleep_until(end)
        if not self._watched(instance_id):
            return None
        current = max(window + 1, frames.window_at(instance_id, clock.now()))
        if current != frame.window:  # the clock jumped past a whole window
            frame = await frames.frame(instance_id, instance.generation, current)
        await self._services.bus.publish(topic(instance_id), envelope(frame.text), keep=True)
        return current
