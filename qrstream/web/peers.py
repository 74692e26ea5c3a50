"""Connections that have not sent a whole request head: a deadline each, a cap per address.

aiohttp reads a request head without any time limit, so a peer that sends half a head and
then nothing holds a connection (and a file descriptor) for as long as it likes. Each accepted
connection is wrapped in a `HeadWatch`, a protocol that hands every event to aiohttp's own
protocol unchanged and only notices when a whole head has been parsed:

    accepted ─────────── head parsed ──▶ handled (body, websocket, long poll: not watched)
       │                                    │ response sent, keep-alive idle (aiohttp's timeout)
       │                                    ▼
       │                     first byte of the next head ── head parsed ──▶ handled …
       │                                    │
       ├── header_timeout_s passed ─────────┴──▶ closed
       └── waited GRACE_S while the address already has max_pending such ──▶ closed

Only connections that have waited GRACE_S count against their address's cap, so a burst of
connections that send their heads at once (a NAT, a proxy, a load test) never does. Timers run
on the event loop's own clock: this is networking, not domain time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from aiohttp import web

log = logging.getLogger(__name__)

PEERS: web.AppKey[PeerGuard] = web.AppKey("peers")
"""The app's guard, for /metrics; the site that accepts (cli.py) watches connections through it."""

GRACE_S = 1.0
"""How long a connection may wait for its head before it counts against its address's cap."""


class PeerGuard:
    """The settings and the shared counts of every watched connection of one server."""

    def __init__(self, header_timeout_s: float, max_pending_per_client: int) -> None:
        self.header_timeout_s = header_timeout_s
        self.max_pending_per_client = max_pending_per_client
        self.open = 0
        self.waiting = 0
        self.closed: dict[str, int] = {"header_timeout": 0, "pending_cap": 0}
        self.accepts_exhausted = 0
        """Accepts that failed for want of a file descriptor (web/acceptor.py counts them)."""
        self.on_release: Callable[[], None] | None = None
        """Called when a connection has closed (its descriptor is free again): the acceptor's resume."""
        self._slow: dict[str, int] = {}

    def wrap(self, factory: Callable[[], web.RequestHandler]) -> Callable[[], asyncio.Protocol]:
        """A protocol factory: each of `factory`'s protocols, watched."""
        return lambda: HeadWatch(factory(), self)

    def slow(self, address: str) -> int:
        """Connections from `address` that have waited more than GRACE_S for their head."""
        return self._slow.get(address, 0)

    def _count_slow(self, address: str) -> bool:
        """Count one more slow connection from `address`; False (not counted) when over the cap."""
        count = self._slow.get(address, 0) + 1
        if self.max_pending_per_client and count > self.max_pending_per_client:
            return False
        self._slow[address] = count
        return True

    def _uncount_slow(self, address: str) -> None:
        count = self._slow.get(address, 0) - 1
        if count > 0:
            self._slow[address] = count
        else:
            self._slow.pop(address, None)


class HeadWatch(asyncio.Protocol):
    """aiohttp's protocol for one connection, with a deadline on each request head."""

    __slots__ = ("_address", "_guard", "_handle", "_heads", "_inner", "_loop", "_since", "_slow", "_waiting")

    def __init__(self, inner: web.RequestHandler, guard: PeerGuard) -> None:
        self._inner = inner
        self._guard = guard
        self._loop = asyncio.get_running_loop()
        self._address = ""
        self._heads = 0  # heads aiohttp had parsed when we last looked
        self._waiting = False
        self._slow = False
        self._since = 0.0  # when the head now due became due (time.monotonic)
        self._handle: asyncio.TimerHandle | None = None
        """The connection's one timer. It is not cancelled when a head comes (a timer per request
        costs more than an idle wake-up a second): when it fires it looks at what is due then."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        peer = transport.get_extra_info("peername")
        self._address = str(peer[0]) if isinstance(peer, tuple) else str(peer)
        self._guard.open += 1
        self._inner.connection_made(transport)
        self._wait()

    def data_received(self, data: bytes) -> None:
        inner = self._inner
        # aiohttp's start() awaits its `_waiter` only while no request is in hand: bytes arriving
        # then (and not completing a head) begin the next request's head on a kept-alive connection.
        # Between two requests (the last response written, start() not yet back at its waiter:
        # on Python < 3.12 the handler is another task) bytes are the next head just as well.
        waiter = inner._waiter
        if waiter is None:
            between = not inner._request_in_progress and not inner._messages
        else:
            between = not waiter.done()
        idle = not self._waiting and between
        inner.data_received(data)
        heads = inner._request_count
        if heads != self._heads:
            self._heads = heads
            self._done()
        elif idle and data and not inner._upgraded:
            self._wait()

    def eof_received(self) -> None:
        self._inner.eof_received()  # returns None: the transport closes on the peer's EOF

    def connection_lost(self, exc: Exception | None) -> None:
        self._done()
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._guard.open -= 1
        self._inner.connection_lost(exc)
        if self._guard.on_release is not None:
            self._guard.on_release()

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    def _wait(self) -> None:
        """A head is due: start its clock."""
        self._waiting = True
        self._guard.waiting += 1
        # From the clock's now, not the loop's: uvloop's `time()` is the start of the iteration,
        # so `call_later` under load would close a connection early by that iteration's length.
        self._since = time.monotonic()
        if self._handle is None:  # else the timer set for an earlier head fires sooner, and looks
            self._arm(self._since + min(self._guard.header_timeout_s, GRACE_S))

    def _arm(self, when: float) -> None:
        self._handle = self._loop.call_at(when, self._tick)

    def _tick(self) -> None:
        """The timer fired: close the connection if its head is overdue, count it against its
        address once it has waited GRACE_S, or wait on until the next of those times."""
        self._handle = None
        if not self._waiting:
            return  # the head came: nothing is due until the next one
        now = time.monotonic()
        timeout = self._guard.header_timeout_s
        if timeout > GRACE_S and not self._slow:
            grace_over = self._since + GRACE_S
            if now < grace_over:
                self._arm(grace_over)
                return
            if not self._guard._count_slow(self._address):
                self._close("pending_cap")
                return
            self._slow = True
        deadline = self._since + timeout
        if now < deadline:
            self._arm(deadline)
            return
        self._close("header_timeout")

    def _done(self) -> None:
        """The head came (or the connection went): its clock stops (the timer, if any, finds
        nothing to do when it fires)."""
        if not self._waiting:
            return
        self._waiting = False
        self._guard.waiting -= 1
        if self._slow:
            self._slow = False
            self._guard._uncount_slow(self._address)

    def _close(self, reason: str) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._done()
        self._guard.closed[reason] += 1
        log.debug("closed a connection from %s: %s", self._address, reason)
        self._inner.force_close()  # aiohttp's own way of closing an idle connection
