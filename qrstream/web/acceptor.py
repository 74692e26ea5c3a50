"""The listening socket's accept loop, which keeps serving when file descriptors run out.

asyncio's own accept loop (Python 3.11), on EMFILE, logs `socket.accept() out of system
resource` once for every connection waiting in the listen queue, on every retry, and retries
after a fixed second. Here an accept that fails for want of a descriptor stops reading the
listening socket; it is read again as soon as one of our connections closes (a descriptor is
free) or after RETRY_S, whichever comes first. Connections waiting meanwhile stay in the
kernel's listen queue, the open ones are served throughout, and one line is logged at most
every LOG_EVERY_S. Everything else is what asyncio does: accept in batches, hand each socket
to `loop.connect_accepted_socket`.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
from collections.abc import Callable

from aiohttp import web
from yarl import URL

from qrstream.web.peers import PeerGuard

log = logging.getLogger(__name__)

EXHAUSTED = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
RETRY_S = 0.1
LOG_EVERY_S = 10.0


class Acceptor(asyncio.AbstractServer):
    """Accepts on `sock` into `protocol_factory`'s protocols (an asyncio.Server's part for a site)."""

    def __init__(
        self,
        sock: socket.socket,
        protocol_factory: Callable[[], asyncio.Protocol],
        *,
        backlog: int,
        guard: PeerGuard,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._sock = sock
        self._factory = protocol_factory
        self._backlog = backlog
        self._guard = guard
        self._reading = False
        self._closed = False
        self._retry: asyncio.TimerHandle | None = None
        self._connecting: set[asyncio.Task[None]] = set()
        self._logged_at: float | None = None
        self._unlogged = 0

    def start(self) -> None:
        self._sock.setblocking(False)
        self._sock.listen(self._backlog)
        self.resume()

    def resume(self) -> None:
        """Read the listening socket again (a no-op unless paused)."""
        if self._closed or self._reading:
            return
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        self._reading = True
        self._loop.add_reader(self._sock.fileno(), self._accept)

    def _pause(self) -> None:
        self._reading = False
        self._loop.remove_reader(self._sock.fileno())
        self._retry = self._loop.call_later(RETRY_S, self.resume)

    def _accept(self) -> None:
        for _ in range(self._backlog):
            try:
                conn, _ = self._sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionAbortedError:
                continue
            except OSError as exc:
                if exc.errno in EXHAUSTED:
                    self._exhausted(exc)
                else:  # e.g. EPERM from a firewall: that peer is gone, the next may not be
                    log.warning("accept failed: %s", exc)
                return
            task = self._loop.create_task(self._connect(conn))
            self._connecting.add(task)
            task.add_done_callback(self._connecting.discard)

    async def _connect(self, conn: socket.socket) -> None:
        try:
            conn.setblocking(False)
            await self._loop.connect_accepted_socket(self._factory, conn)
        except Exception as exc:  # the peer left before its transport was made
            log.debug("could not set up an accepted connection: %s", exc)
            conn.close()

    def _exhausted(self, exc: OSError) -> None:
        self._guard.accepts_exhausted += 1
        self._pause()
        now = self._loop.time()
        if self._logged_at is not None and now - self._logged_at < LOG_EVERY_S:
            self._unlogged += 1
            return
        since = f"; {self._unlogged} more such accepts since the last line" if self._unlogged else ""
        log.warning(
            "cannot accept connections: %s; new ones wait in the listen queue, the %d open ones are "
            "still served, and accepting resumes as soon as a descriptor is free%s",
            exc.strerror or exc,
            self._guard.open,
            since,
        )
        self._logged_at, self._unlogged = now, 0

    # asyncio.AbstractServer

    @property
    def sockets(self) -> tuple[socket.socket, ...]:
        return () if self._closed else (self._sock,)

    def close(self) -> None:
        if self._closed:
            return
        if self._reading:
            self._loop.remove_reader(self._sock.fileno())
            self._reading = False
        if self._retry is not None:
            self._retry.cancel()
        self._closed = True
        self._sock.close()

    def get_loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def is_serving(self) -> bool:
        return not self._closed

    async def start_serving(self) -> None:
        self.start()

    async def serve_forever(self) -> None:
        raise NotImplementedError("run the server's own loop; this acceptor is a site's part")

    async def wait_closed(self) -> None:
        if self._connecting:
            await asyncio.gather(*self._connecting, return_exceptions=True)


class GuardedSite(web.BaseSite):
    """aiohttp's SockSite, accepting through `Acceptor` into `PeerGuard`-watched connections."""

    __slots__ = ("_guard", "_name", "_sock")

    def __init__(
        self, runner: web.BaseRunner, sock: socket.socket, guard: PeerGuard, *, backlog: int
    ) -> None:
        super().__init__(runner, backlog=backlog)
        self._sock = sock
        self._guard = guard
        host, port = sock.getsockname()[:2]
        self._name = str(URL.build(scheme="http", host=host, port=port))

    @property
    def name(self) -> str:
        return self._name

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None  # BaseSite's constructor refused a runner not set up
        acceptor = Acceptor(
            self._sock,
            self._guard.wrap(server),
            backlog=self._backlog,
            guard=self._guard,
        )
        self._guard.on_release = acceptor.resume
        acceptor.start()
        self._server = acceptor
