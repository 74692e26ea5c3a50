"""The in-process bus: a dict of listener sets and a dict of latest values."""

from __future__ import annotations

import logging
from collections.abc import Callable

from qrstream.bus import Listener

log = logging.getLogger(__name__)


class MemoryBus:
    def __init__(self) -> None:
        self._listeners: dict[str, dict[int, Listener]] = {}
        self._latest: dict[str, str] = {}
        self._next_id = 0

    async def publish(self, topic: str, message: str, *, keep: bool = False) -> None:
        if keep:
            self._latest[topic] = message
        self.deliver(topic, message)

    def deliver(self, topic: str, message: str) -> None:
        """Call every local listener of `topic`; one failing listener does not stop the rest."""
        for listener in list(self._listeners.get(topic, {}).values()):
            try:
                listener(topic, message)
            except Exception:
                log.exception("bus listener failed on topic %s", topic)

    def subscribe(self, topic: str, listener: Listener) -> Callable[[], None]:
        self._next_id += 1
        key = self._next_id
        self._listeners.setdefault(topic, {})[key] = listener

        def unsubscribe() -> None:
            listeners = self._listeners.get(topic)
            if listeners is not None:
                listeners.pop(key, None)
                if not listeners:
                    del self._listeners[topic]

        return unsubscribe

    def topics(self) -> list[str]:
        """Topics with at least one local listener."""
        return list(self._listeners)

    async def latest(self, topic: str) -> str | None:
        return self._latest.get(topic)

    async def ready(self, topic: str) -> None:
        """Subscriptions here are live at once."""

    async def forget(self, topic: str) -> None:
        self._latest.pop(topic, None)

    async def close(self) -> None:
        self._listeners.clear()
