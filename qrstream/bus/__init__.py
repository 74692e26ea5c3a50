"""The bus: publish a message on a topic, hear it everywhere, read the latest one.

In one process the in-memory bus is enough; several processes share a Redis bus.
Listeners are plain callables run on the event loop: they must not block, and
they get every message published after they subscribed, in order, plus a
`latest` read for what came before.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

Listener = Callable[[str, str], None]
"""Called with (topic, message)."""

Reset = Callable[[], None]
"""Called when this process may have missed messages (`Bus.on_reset`)."""


class Bus(Protocol):
    async def publish(self, topic: str, message: str, *, keep: bool = False) -> None:
        """Deliver `message` to every listener of `topic`; with `keep`, it becomes the topic's
        latest value too."""
        ...

    def subscribe(self, topic: str, listener: Listener) -> Callable[[], None]:
        """Start hearing `topic`; returns the function that stops it."""
        ...

    async def latest(self, topic: str) -> str | None:
        """The last kept message of `topic`, if any."""
        ...

    async def ready(self, topic: str) -> None:
        """Return once this process's listeners of `topic` (subscribe first) hear everything
        published from now on: a state read after it cannot miss a change announced later."""
        ...

    async def forget(self, topic: str) -> None:
        """Drop the topic's kept value."""
        ...

    def live(self, topic: str) -> bool:
        """Whether this process hears `topic` now: subscribed, and (Redis) the subscription
        confirmed on a connection that is up. What is published while it is not may be missed."""
        ...

    def on_reset(self, callback: Reset) -> Callable[[], None]:
        """Call `callback` (on the loop, not blocking) whenever this process may have missed
        messages: the bus connection was lost, or a gap in a topic's versions was seen. Returns
        the function that stops it. Caches kept right by bus messages clear themselves then."""
        ...

    async def ping(self) -> None:
        """One round trip to what carries the messages; BusError when it does not answer."""
        ...

    async def close(self) -> None: ...


class BusError(Exception):
    """The bus cannot be reached; the message is one line for a person."""


async def open_bus(url: str) -> Bus:
    """The bus named by `url`: 'memory' or a redis:// URL (checked to answer: BusError if not)."""
    if url == "memory":
        from qrstream.bus.memory import MemoryBus

        return MemoryBus()
    from qrstream.bus.redis import RedisBus

    try:
        bus = RedisBus(url)
    except ValueError as exc:  # a malformed URL
        raise BusError(f"cannot use the bus URL: {exc}") from None
    try:
        await bus.start()
    except BaseException:
        await bus.close()
        raise
    return bus
