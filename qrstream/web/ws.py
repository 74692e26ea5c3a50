"""Websocket plumbing shared by every streaming endpoint.

A `Hub` joins each process's local sockets to bus topics: the bus delivers a
message once per process, the hub sends the same text to every local socket of
that topic in a plain loop. A socket whose write buffer is still full is
skipped (the next frame replaces this one anyway) and dropped after repeated
skips, so one slow client never stalls the others.

Bus messages on hub topics are envelopes made by `envelope()`: the text to send
and whether it is final (the sockets are then closed with 1000), and optionally a
variant: members join a topic with a variant (an instance stream's format) and a
message with a variant goes only to the members of that variant; one without, to all.

Every stream runs one sequence, `async with hub.subscription(topic, ws, transport) as sub:`
join, wait until the bus delivers the topic here, (the caller re-reads its state and
`await sub.send(first)`), read until closed, leave.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import struct
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from aiohttp import WSCloseCode, WSMsgType, web

from qrstream.bus import Bus
from qrstream.web.headers import stamp
from qrstream.web.heartbeat import Heartbeat
from qrstream.web.keys import WEBSOCKETS

UPGRADED: web.RequestKey[web.WebSocketResponse] = web.RequestKey("upgraded", web.WebSocketResponse)
"""The request's websocket once upgraded: an error after that closes it instead of answering JSON."""

log = logging.getLogger(__name__)

HUB: web.AppKey[Hub] = web.AppKey("hub")
"""The one websocket fan-out of the app (every family streams through it)."""

HEARTBEAT: web.AppKey[Heartbeat] = web.AppKey("heartbeat", Heartbeat)
"""The one ping timer of the app's websockets (`qrstream.web.heartbeat`)."""

SLOW_BUFFER_BYTES = 64 * 1024
MAX_SKIPS = 3
CLOSE_TIMEOUT_S = 2.0
# A broadcast lets other callbacks run after this many sockets, so a 10k-subscriber
# frame holds the loop for a few milliseconds at a time, not for the whole fan-out.
SENDS_PER_SLICE = 500


def text_frame(payload: bytes) -> bytes:
    """A whole websocket text frame as a server sends it (FIN, unmasked, uncompressed)."""
    size = len(payload)
    if size < 126:
        return struct.pack("!BB", 0x81, size) + payload
    if size < 65536:
        return struct.pack("!BBH", 0x81, 126, size) + payload
    return struct.pack("!BBQ", 0x81, 127, size) + payload


def envelope(text: str, *, final: bool = False, variant: str | None = None) -> str:
    """The bus message that makes the hub send `text` (and close after it when final) to the
    topic's members of `variant` (None: to every member)."""
    message: dict[str, object] = {"text": text, "final": final}
    if variant is not None:
        message["variant"] = variant
    return json.dumps(message, separators=(",", ":"))


class Writable(Protocol):
    """What the fan-out needs of a connection's transport: asyncio's own transports and uvloop's
    (which are not subclasses of `asyncio.Transport`) both have it."""

    def write(self, data: bytes, /) -> None: ...
    def get_write_buffer_size(self) -> int: ...
    def is_closing(self) -> bool: ...
    def abort(self) -> None: ...


def writable(transport: object) -> Writable | None:
    """`transport` when the fan-out can write frames to it directly, else None."""
    if all(callable(getattr(transport, name, None)) for name in _WRITABLE):
        return cast(Writable, transport)
    return None


_WRITABLE = ("write", "get_write_buffer_size", "is_closing", "abort")


@dataclass(eq=False, slots=True)
class Member:
    ws: web.WebSocketResponse
    transport: Writable | None
    """Set when frames go straight to the transport (no per-message compression on `ws`)."""
    variant: str | None = None
    skips: int = 0
    last: bytes | None = None
    """The text it was sent last: the same text twice in a row is sent once (a frame may be
    published by several processes, or sent at subscribe time and published at the same turn)."""


@dataclass
class Room:
    members: dict[web.WebSocketResponse, Member] = field(default_factory=dict)
    variants: Counter[str | None] = field(default_factory=Counter)
    encoded: dict[str | None, tuple[str, bytes]] = field(default_factory=dict)
    """The text last sent to the members of each variant, and its bytes: every member's `last`
    is then the same bytes object, not a copy each (a frame is a kilobyte or more)."""
    unsubscribe: Callable[[], None] | None = None
    tail: asyncio.Task[None] | None = None


def _encode(room: Room, variant: str | None, text: str) -> bytes:
    known = room.encoded.get(variant)
    if known is not None and (known[0] is text or known[0] == text):
        return known[1]
    data = text.encode()
    room.encoded[variant] = (text, data)
    return data


class Hub:
    """Local fan-out of bus topics to websockets."""

    def __init__(self, bus: Bus) -> None:
        self._bus = bus
        self._rooms: dict[str, Room] = {}
        self.sent = 0
        self.skipped = 0

    def join(
        self,
        topic: str,
        ws: web.WebSocketResponse,
        transport: object | None,
        variant: str | None = None,
    ) -> None:
        """Make `ws` (an upgraded socket on `transport`) a member of `topic` and `variant`."""
        room = self._rooms.get(topic)
        if room is None:
            room = self._rooms[topic] = Room()
            room.unsubscribe = self._bus.subscribe(topic, self._on_message)
        direct = writable(transport) if not ws.compress else None
        previous = room.members.get(ws)
        if previous is not None:
            room.variants[previous.variant] -= 1
        room.members[ws] = Member(ws, direct, variant)
        room.variants[variant] += 1

    def leave(self, topic: str, ws: web.WebSocketResponse) -> None:
        room = self._rooms.get(topic)
        if room is None:
            return
        member = room.members.pop(ws, None)
        if member is not None:
            room.variants[member.variant] -= 1
            if room.variants[member.variant] <= 0:
                del room.variants[member.variant]
        if not room.members:
            if room.unsubscribe is not None:
                room.unsubscribe()
            del self._rooms[topic]

    def count(self, topic: str) -> int:
        room = self._rooms.get(topic)
        return len(room.members) if room else 0

    def variants(self, topic: str) -> set[str | None]:
        """The variants the local members of `topic` joined with."""
        room = self._rooms.get(topic)
        return set(room.variants) if room else set()

    def topics(self) -> list[str]:
        return list(self._rooms)

    def subscription(
        self,
        topic: str,
        ws: web.WebSocketResponse,
        transport: asyncio.BaseTransport | None,
        variant: str | None = None,
    ) -> Subscription:
        """`async with` it: join `topic` (as a member of `variant`), wait until the bus delivers
        it here, and leave on the way out.

        Inside, a state read is sure to see every change announced after it (so the caller
        re-reads, then sends its first message with `sub.send`, in order with broadcasts).
        """
        return Subscription(self, topic, ws, transport, variant)

    async def ready(self, topic: str) -> None:
        """After `join`: return once the bus delivers `topic` here (on Redis the subscription is
        confirmed asynchronously), so a state read after it cannot miss a later announcement."""
        await self._bus.ready(topic)

    def _on_message(self, topic: str, message: str) -> None:
        try:
            decoded = json.loads(message)
            text, final = str(decoded["text"]), bool(decoded.get("final"))
            variant = decoded.get("variant")
            if variant is not None and not isinstance(variant, str):
                raise TypeError(variant)
        except (ValueError, KeyError, TypeError):
            log.warning("ignoring a malformed hub message on %s", topic)
            return
        self.broadcast(topic, text, final=final, variant=variant)

    def broadcast(self, topic: str, text: str, *, final: bool = False, variant: str | None = None) -> None:
        """Send `text` to every local socket of `topic` (of `variant` only, when given), after
        whatever was sent before it."""
        room = self._rooms.get(topic)
        if room is None:
            return
        self._chain(room, _encode(room, variant, text), final, None, variant)

    def send(self, topic: str, ws: web.WebSocketResponse, text: str) -> asyncio.Task[None] | None:
        """Send `text` to one member of `topic`, in order with the topic's broadcasts (and not at
        all if it is the text that socket got last); await the task to know it was written."""
        room = self._rooms.get(topic)
        member = room.members.get(ws) if room is not None else None
        if room is None or member is None:
            return None
        return self._chain(room, _encode(room, member.variant, text), False, member)

    def _chain(
        self, room: Room, data: bytes, final: bool, only: Member | None, variant: str | None = None
    ) -> asyncio.Task[None]:
        previous = room.tail
        room.tail = asyncio.get_running_loop().create_task(
            self._send_all(room, data, final, previous, only, variant)
        )
        return room.tail

    async def _send_all(
        self,
        room: Room,
        data: bytes,
        final: bool,
        previous: asyncio.Task[None] | None,
        only: Member | None = None,
        variant: str | None = None,
    ) -> None:
        if previous is not None and not previous.done():
            await asyncio.wait([previous])
        # The frame is encoded once and the same bytes are written to every socket: one
        # transport.write each, no per-socket coroutine, nothing allocated per socket
        # (bench/fanout.py). Sockets with per-message compression go through aiohttp.
        frame = text_frame(data)
        written = skipped = 0
        for member in [only] if only is not None else list(room.members.values()):
            if (variant is not None and member.variant != variant) or member.last == data:
                continue
            ws = member.ws
            if ws.closed:
                continue
            transport = member.transport
            if transport is None:
                try:
                    await ws.send_frame(data, WSMsgType.TEXT)
                except (ConnectionError, RuntimeError):
                    continue
            elif transport.is_closing():
                continue
            elif not final and transport.get_write_buffer_size() > SLOW_BUFFER_BYTES:
                member.skips += 1
                skipped += 1
                if member.skips >= MAX_SKIPS:
                    log.info("dropping a websocket that has not read %d frames", member.skips)
                    transport.abort()
                continue
            else:
                try:
                    transport.write(frame)
                except (ConnectionError, RuntimeError):
                    continue
            member.skips = 0
            member.last = data
            written += 1
            if written % SENDS_PER_SLICE == 0:
                self.sent += written
                self.skipped += skipped
                written = skipped = 0
                await asyncio.sleep(0)
        self.sent += written
        self.skipped += skipped
        if final:
            await asyncio.gather(*(close_quietly(m.ws, WSCloseCode.OK) for m in list(room.members.values())))


class Subscription:
    """One socket's place in a hub topic (see `Hub.subscription`); a plain object, not a
    generator-based context manager, as it lives as long as the socket (one per subscriber)."""

    __slots__ = ("_hub", "_transport", "_variant", "topic", "ws")

    def __init__(
        self,
        hub: Hub,
        topic: str,
        ws: web.WebSocketResponse,
        transport: asyncio.BaseTransport | None = None,
        variant: str | None = None,
    ) -> None:
        self._hub, self.topic, self.ws = hub, topic, ws
        self._transport, self._variant = transport, variant

    async def __aenter__(self) -> Subscription:
        self._hub.join(self.topic, self.ws, self._transport, self._variant)
        self._transport = None  # the member holds it
        try:
            await self._hub.ready(self.topic)
        except BaseException:
            self.leave()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.leave()

    async def send(self, text: str) -> None:
        """Send `text` to this socket only, in order with the topic's broadcasts (once)."""
        sending = self._hub.send(self.topic, self.ws, text)
        if sending is not None:
            await sending

    def leave(self) -> None:
        """Receive no more broadcasts (before a goodbye of this socket's own)."""
        self._hub.leave(self.topic, self.ws)

    def read_until_closed(self) -> Coroutine[Any, Any, None]:
        """`read_until_closed` of this socket (the coroutine itself: one frame less per socket)."""
        return read_until_closed(self.ws)


@dataclass(eq=False, slots=True)
class _Reader:
    """A handler inside `read_until_closed`: another task asks it to close by cancelling its read
    (no second task or future per idle socket); `done` tells the askers when it has."""

    task: asyncio.Task[Any]
    request: tuple[int, bytes] | None = None
    done: asyncio.Future[None] | None = None
    closing: bool = False
    """The handler is closing (or leaving) by itself: nothing to interrupt any more."""

    def ask(self, code: int, message: bytes) -> asyncio.Future[None]:
        if self.done is None:
            self.done = self.task.get_loop().create_future()
        if self.request is None and not self.closing:
            self.request = (code, message)
            self.task.cancel()
        return self.done


class HouseSocket(web.WebSocketResponse):
    """A websocket with the house settings, and the state of the handler reading it.

    aiohttp's close() called from another task while the handler reads drops the connection
    without waiting for the peer's close reply (the peer then reports 1006, not our code), so
    such a close is handed to the reading handler, found here on the socket itself.
    """

    reader: _Reader | None = None
    connection: asyncio.BaseTransport | None = None
    """The transport it was upgraded on."""
    beats: Heartbeat | None = None
    """The app's heartbeat, which pings it while its handler reads it."""
    heard: bool = True
    """It sent a frame since the heartbeat's last ping."""
    beat_slot: int = 0
    beat_transport: Writable | None = None
    """`connection`, when the heartbeat can write its pings to it (set once, at the upgrade)."""

    @property
    def lost(self) -> bool:
        """Its connection is gone (aborted by the fan-out, or broken), whatever `closed` says:
        aiohttp notices only at its next read or heartbeat."""
        connection = self.connection
        return connection is None or connection.is_closing()


def is_open(ws: web.WebSocketResponse) -> bool:
    """Not closed and still connected: what `qrstream_websockets_open` counts."""
    return not ws.closed and not (isinstance(ws, HouseSocket) and ws.lost)


async def close_quietly(ws: web.WebSocketResponse, code: int, message: bytes = b"") -> None:
    """Close `ws` with a complete close handshake, bounded in time; a peer already gone is
    not an error. Any task may call it: a handler reading in `read_until_closed` does the close."""
    reader = ws.reader if isinstance(ws, HouseSocket) else None
    with contextlib.suppress(TimeoutError, ConnectionError, RuntimeError):
        if reader is None or reader.task is asyncio.current_task():
            await asyncio.wait_for(ws.close(code=code, message=message), CLOSE_TIMEOUT_S)
            return
        await asyncio.wait_for(asyncio.shield(reader.ask(code, message)), CLOSE_TIMEOUT_S + 1)


async def open_websocket(request: web.Request) -> web.WebSocketResponse:
    """Upgrade with the house settings: pinged by the app's heartbeat while read (aiohttp's own
    heartbeat and automatic pong off: `read_until_closed` answers pings), no per-message
    compression, registered for the 1001 goodbye on shutdown."""
    ws = HouseSocket(autoping=False, compress=False, max_msg_size=64 * 1024)
    ws.beats = request.app.get(HEARTBEAT)
    stamp(request, ws)
    await ws.prepare(request)
    ws.connection = request.transport
    ws.beat_transport = writable(request.transport)
    protocol = request.protocol
    if isinstance(protocol, web.RequestHandler):
        # Upgraded: aiohttp parses no more HTTP on this connection (the websocket reader has the
        # bytes now), but keeps its HTTP parser until the connection goes; 0.7 KiB a socket.
        protocol._parser = None
    request[UPGRADED] = ws
    request.app[WEBSOCKETS].add(ws)
    return ws


_END = (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR)


async def read_until_closed(ws: web.WebSocketResponse) -> None:
    """The handler's read loop: only it reads, so pings, pongs and closes are seen; clients need
    not send. It answers the client's pings, and tells the heartbeat that the client answered its own
    (any frame counts), from the time the heartbeat has the socket (while this reads).

    It also ends the socket when another task calls `close_quietly`: the read is interrupted
    (cancelled, the one cancellation asked for taken back) and the handler closes, waiting for
    the peer's close reply as a close handshake should. The read is awaited in the handler's own
    task: an idle socket holds no other task, future or waiter.
    """
    task = asyncio.current_task()
    if task is None:
        raise RuntimeError("read_until_closed runs in a task")
    reader = _Reader(task)
    house = ws if isinstance(ws, HouseSocket) else None
    beats = house.beats if house is not None else None
    if house is not None:
        house.reader = reader
        if beats is not None:
            beats.add(house)
    try:
        while True:
            try:
                msg = await ws.receive()
                if house is not None:
                    house.heard = True
                # Autoping is off: pings are answered here, inside the `try`, so that a close
                # asked for while the pong waits on a slow peer is taken as during the read.
                if msg.type is WSMsgType.PING:
                    with contextlib.suppress(ConnectionError, RuntimeError):
                        await ws.pong(msg.data)
            except asyncio.CancelledError:
                if reader.request is None or task.cancelling() > 1:
                    raise  # a cancellation of the handler itself
                task.uncancel()
                break
            if msg.type in _END:
                return
        reader.closing = True
        code, message = reader.request
        with contextlib.suppress(TimeoutError, ConnectionError, RuntimeError):
            await asyncio.wait_for(ws.close(code=code, message=message), CLOSE_TIMEOUT_S)
    finally:
        reader.closing = True
        if house is not None:
            house.reader = None
            if beats is not None:
                beats.remove(house)
            if house.lost and not house.closed:
                # The connection went under the read (aiohttp then cancels the handler): with no
                # peer to wait for this returns at once.
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await house.close(code=WSCloseCode.ABNORMAL_CLOSURE)
        if reader.done is not None and not reader.done.done():
            reader.done.set_result(None)
