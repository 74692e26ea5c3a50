"""Announcing a committed change to the live streams of its topic: the one shape every family uses.

`announce(topic, text, final=)` puts `text` on the bus, so every process's websocket hub
sends it to its sockets of `topic`; a final announcement closes them after it and drops
the topic's kept value (a stale frame). The bus message is in the hub's own format
(`envelope`), handed in when the app is wired, so the shared core knows no web layer.
"""

from __future__ import annotations

from typing import Protocol

from qrstream.bus import Bus


class Envelope(Protocol):
    def __call__(self, text: str, *, final: bool = False) -> str:
        """The bus message that makes the hub send `text` (and close after it when final)."""
        ...


class Announcer:
    """Tells a topic's streams, in every process, about a change (call after it committed)."""

    def __init__(self, bus: Bus, envelope: Envelope) -> None:
        self._bus = bus
        self._envelope = envelope

    async def announce(self, topic: str, text: str, *, final: bool = False) -> None:
        await self._bus.publish(topic, self._envelope(text, final=final))
        if final:
            await self._bus.forget(topic)
