"""The in-process bus: a dict of listener sets and a dict of latest values."""

from __future__ import annotations

from collections.abc import Callable

from qrstream.bus import Listener, Reset
from qrstream.bus.listeners import Listeners


class MemoryBus:
    def __init__(self) -> None:
        self._listeners = Listeners()
        self._latest: dict[str, str] = {}

    async def publish(self, topic: str, message: str, *, keep: bool = False) -> None:
        if keep:
            self._latest[topic] = message
        self.deliver(topic, message)

    def deliver(self, topic: str, message: str) -> None:
        """Call every local listener of `topic`; one failing listener does not stop the rest."""
        self._listeners.deliver(topic, message)

    def subscribe(self, topic: str, listener: Listener) -> Callable[[], None]:
        return self._listeners.add(topic, listener)

    def topics(self) -> list[str]:
        """Topics with at least one local listener."""
        return list(self._listeners)

    async def latest(self, topic: str) -> str | None:
        return self._latest.get(topic)

    async def ready(self, topic: str) -> None:
        """Subscriptions here are live at once."""

    async def forget(self, topic: str) -> None:
        self._latest.pop(topic, None)

    def live(self, topic: str) -> bool:
        """In-process delivery never misses: live while subscribed."""
        return topic in self._listeners

    def on_reset(self, callback: Reset) -> Callable[[], None]:
        """Nothing is ever missed here, so `callback` is never called."""
        return lambda: None

    async def ping(self) -> None:
        """Always here: it is this process."""

    async def close(self) -> None:
        self._listeners.clear()
