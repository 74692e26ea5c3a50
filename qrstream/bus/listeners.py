"""This process's bus listeners by topic, shared by every bus backend."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

from qrstream.bus import Listener

log = logging.getLogger(__name__)


class Listeners:
    """Listeners by topic; a topic is known while it has at least one listener."""

    def __init__(self) -> None:
        self._by_topic: dict[str, dict[int, Listener]] = {}
        self._next_id = 0

    def add(
        self, topic: str, listener: Listener, *, on_emptied: Callable[[], None] | None = None
    ) -> Callable[[], None]:
        """Add `listener` to `topic`; returns the function that removes it (`on_emptied` runs when
        that removes the topic's last listener)."""
        self._next_id += 1
        key = self._next_id
        self._by_topic.setdefault(topic, {})[key] = listener

        def remove() -> None:
            listeners = self._by_topic.get(topic)
            if listeners is not None:
                listeners.pop(key, None)
                if not listeners:
                    del self._by_topic[topic]
                    if on_emptied is not None:
                        on_emptied()

        return remove

    def deliver(self, topic: str, message: str) -> None:
        """Call every listener of `topic`; one failing listener does not stop the rest."""
        for listener in list(self._by_topic.get(topic, {}).values()):
            try:
                listener(topic, message)
            except Exception:
                log.exception("bus listener failed on topic %s", topic)

    def __contains__(self, topic: object) -> bool:
        return topic in self._by_topic

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_topic)

    def clear(self) -> None:
        self._by_topic.clear()
