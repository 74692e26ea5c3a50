"""One ping timer for every websocket of the app, instead of aiohttp's timers per socket.

aiohttp's heartbeat keeps a timer per socket, a second one for each pong awaited, and a task
per ping: with 10,000 watched instances, 400 ping tasks and 800 timer handles a second, 11 % of
the server's samples (bench/instances.py under py-spy), and garbage for the collector.

Here each socket that a handler reads (`read_until_closed`) is put in one of `SLOTS` slots,
in turn. One timer visits a slot every `period / SLOTS`:

    slot k:          every socket gets a ping frame (2 bytes, written straight to its transport)
    slot k - SLOTS/2 (pinged half a period ago): a socket that has sent nothing since is dropped

So every socket is pinged once a period and has half a period to answer, as with aiohttp's
`heartbeat=period`; any frame it sends counts as an answer (a pong, a ping, a message), as
with aiohttp. A dropped socket's transport is aborted, as the fan-out drops a socket that does
not read: its handler's read ends and it leaves like any closed socket. With no socket the
timer stops. Timers run on the event loop's clock: this is networking, not domain time.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from qrstream.web.ws import Writable

log = logging.getLogger(__name__)

SLOTS = 50
"""Slots per period (even, so the slot pinged half a period ago is exact): 0.5 s apart at 25 s."""

PING_FRAME = b"\x89\x00"
"""A whole websocket ping frame as a server sends it: FIN, opcode 9, unmasked, no payload."""


class Beating(Protocol):
    """What the heartbeat needs of a socket (`HouseSocket` has it)."""

    heard: bool
    """It sent a frame since its last ping (its reader sets it)."""
    beat_slot: int
    beat_transport: Writable | None
    """Where its pings are written (None: it is not pinged)."""

    @property
    def closed(self) -> bool:
        """A close frame was sent or received: no more pings."""
        ...


class Heartbeat:
    """Pings every added socket once a `period` and drops those that do not answer within half
    of it (see the module's text)."""

    def __init__(self, period: float, slots: int = SLOTS) -> None:
        if slots < 2 or slots % 2:
            raise ValueError("slots must be even and at least 2")
        self.period = period
        self._slots: list[dict[Beating, None]] = [{} for _ in range(slots)]
        self._next = 0
        self._count = 0
        self._tick = 0
        self._started = 0.0
        self._handle: asyncio.TimerHandle | None = None
        self.pings = 0
        self.timeouts = 0
        """Sockets dropped for not answering a ping."""

    def __len__(self) -> int:
        return self._count

    def add(self, ws: Beating) -> None:
        slot = self._next
        self._next = (slot + 1) % len(self._slots)
        ws.beat_slot = slot
        ws.heard = True  # not pinged yet: nothing to answer (a slot's check finds it fine)
        self._slots[slot][ws] = None
        self._count += 1
        if self._handle is None:
            loop = asyncio.get_running_loop()
            self._tick = 0
            self._started = loop.time()
            self._schedule(loop)

    def remove(self, ws: Beating) -> None:
        slot = self._slots[ws.beat_slot]
        if ws in slot:
            del slot[ws]
            self._count -= 1
            if not self._count:
                self.close()

    def close(self) -> None:
        """Stop the timer (no socket left, or the app is going and its sockets are being closed)."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        # From the start, not from now: a late visit does not delay every later one. After a
        # stall longer than a visit's interval the count starts again from now instead of
        # catching up: visits in a burst would check slots pinged a moment before.
        interval = self.period / len(self._slots)
        now = loop.time()
        when = self._started + (self._tick + 1) * interval
        if when < now:
            self._started, when = now - self._tick * interval, now + interval
        self._handle = loop.call_at(when, self._visit)

    def _visit(self) -> None:
        try:
            self._check_and_ping()
        finally:  # whatever happened, the heartbeat goes on
            self._schedule(asyncio.get_running_loop())

    def _check_and_ping(self) -> None:
        count = len(self._slots)
        self._tick += 1
        due = self._tick % count
        answer = (due - count // 2) % count
        for ws in [ws for ws in self._slots[answer] if not ws.heard]:
            transport = ws.beat_transport
            if ws.closed or transport is None or transport.is_closing():
                continue  # closing already (its close handshake is bounded on its own)
            self.timeouts += 1
            log.info("dropping a websocket that has not answered a ping in %.3g s", self.period / 2)
            transport.abort()
        pinged = 0
        for ws in list(self._slots[due]):
            transport = ws.beat_transport
            if ws.closed or transport is None or transport.is_closing():
                continue  # no ping after a close frame
            ws.heard = False
            try:
                transport.write(PING_FRAME)
            except (OSError, RuntimeError):
                continue
            pinged += 1
        self.pings += pinged
