"""Each instance's `receiveNotification` queue, read from the notification outbox.

`receive` answers at once when a notification is queued, and otherwise waits on the
injected clock until `wake(instance_id)` says one was committed or the timeout passes.
`wake` sets the waiters of this process directly and publishes on the bus topic
`notify:<id>`, which waiters also hear, so a notification committed by another process
wakes them too.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from qrstream.bus import Bus
from qrstream.clock import Clock
from qrstream.store import Database, deliveries

RECEIVE_TIMEOUT_DEFAULT = 5
RECEIVE_TIMEOUT_MIN = 5
RECEIVE_TIMEOUT_MAX = 60


def topic(instance_id: int) -> str:
    """The bus topic that says a notification was queued for the instance."""
    return f"notify:{instance_id}"


class Inbox:
    """Long-poll reads and acknowledgements of queued notifications."""

    def __init__(self, db: Database, clock: Clock, bus: Bus) -> None:
        self._db = db
        self._clock = clock
        self._bus = bus
        self._waiters: dict[int, set[asyncio.Event]] = {}
        self._unsubscribe: dict[int, Callable[[], None]] = {}
        self._closing = False

    def waiting(self, instance_id: int) -> int:
        """How many long polls of the instance are waiting in this process."""
        return len(self._waiters.get(instance_id, ()))

    def release_all(self) -> None:
        """On shutdown: every waiting long poll answers now (what is queued, or null), so the
        server finishes its in-flight requests instead of holding them to their timeout."""
        self._closing = True
        for events in self._waiters.values():
            for event in events:
                event.set()

    async def wake(self, instance_id: int) -> None:
        """Call after committing a notification for the instance."""
        self._set(instance_id)
        await self._bus.publish(topic(instance_id), "1")

    def _set(self, instance_id: int) -> None:
        for event in self._waiters.get(instance_id, ()):
            event.set()

    def _on_bus(self, topic_name: str, message: str) -> None:
        with contextlib.suppress(ValueError):
            self._set(int(topic_name.partition(":")[2]))

    async def oldest(self, instance_id: int) -> str | None:
        """The oldest unacknowledged notification as JSON text `{"receiptId", "body"}`."""
        row = await deliveries.oldest_unacknowledged(self._db, instance_id)
        if row is None:
            return None
        # The body is stored as compact JSON: splice it in rather than decode and encode again.
        return f'{{"receiptId":{int(row["receipt_id"])},"body":{row["body"]}}}'

    async def receive(self, instance_id: int, wait_s: float) -> str | None:
        """The oldest unacknowledged notification, waiting up to `wait_s` seconds (on the injected
        clock) for one to be queued."""
        deadline = self._clock.now() + wait_s
        event = asyncio.Event()
        self._join(instance_id, event)
        try:
            # On Redis the subscription goes live asynchronously: a notification committed by
            # another process after our first read must find us listening.
            await self._bus.ready(topic(instance_id))
            while True:
                # Cleared before the read: a wake during the read still ends the next wait.
                event.clear()
                found = await self.oldest(instance_id)
                if found is not None or self._closing or self._clock.now() >= deadline:
                    return found
                await self._wait(event, deadline)
        finally:
            self._leave(instance_id, event)

    async def _wait(self, event: asyncio.Event, deadline: float) -> None:
        woken = asyncio.ensure_future(event.wait())
        timer = asyncio.ensure_future(self._clock.sleep_until(deadline))
        try:
            await asyncio.wait((woken, timer), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (woken, timer):
                task.cancel()
            await asyncio.gather(woken, timer, return_exceptions=True)

    def _join(self, instance_id: int, event: asyncio.Event) -> None:
        waiters = self._waiters.setdefault(instance_id, set())
        if not waiters:
            self._unsubscribe[instance_id] = self._bus.subscribe(topic(instance_id), self._on_bus)
        waiters.add(event)

    def _leave(self, instance_id: int, event: asyncio.Event) -> None:
        waiters = self._waiters.get(instance_id)
        if waiters is None:
            return
        waiters.discard(event)
        if not waiters:
            del self._waiters[instance_id]
            unsubscribe = self._unsubscribe.pop(instance_id, None)
            if unsubscribe is not None:
                unsubscribe()

    async def delete(self, instance_id: int, receipt_id: int) -> bool:
        """Acknowledge one notification; False when there was none to acknowledge."""
        return await deliveries.acknowledge(self._db, instance_id, receipt_id, self._clock.now())
