"""A minimal websocket client on a bare asyncio Protocol, for holding thousands of subscribers.

aiohttp's client costs far more per socket than the server side being measured;
this one only does what a subscriber does: the upgrade, reading unmasked server
frames, answering pings (masked, as clients must) and noting when each text frame
arrived. Loopback only; each connection may bind its own 127.0.0.0/8 source address
so that many runs do not run out of ephemeral ports.
"""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import struct
import time
from dataclasses import dataclass, field

_TEXT, _CLOSE, _PING = 0x1, 0x8, 0x9


@dataclass
class Received:
    at: float  # time.time() when the frame was complete
    digest: int  # hash of the payload: the same frame has the same digest everywhere
    size: int


@dataclass(eq=False)
class Subscriber(asyncio.Protocol):
    """One websocket; `messages` fills as text frames arrive; `upgraded` resolves after the 101."""

    path: str
    host: str
    read: bool = True  # False: never read (a slow consumer): the socket is paused after the upgrade
    messages: list[Received] = field(default_factory=list)
    closed: asyncio.Future[int] | None = None
    upgraded: asyncio.Future[None] | None = None
    transport: asyncio.Transport | None = None
    _buffer: bytearray = field(default_factory=bytearray)
    _headers_done: bool = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        loop = asyncio.get_running_loop()
        self.upgraded, self.closed = loop.create_future(), loop.create_future()
        self.transport = transport  # type: ignore[assignment]
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET {self.path} HTTP/1.1\r\nHost: {self.host}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        transport.write(request.encode())  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        now = time.time()
        buf = self._buffer
        buf += data
        if not self._headers_done:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(buf[: buf.find(b"\r\n")])
            del buf[: end + 4]
            if b" 101 " not in status:
                assert self.upgraded is not None
                self.upgraded.set_exception(ConnectionError(status.decode(errors="replace")))
                self.transport.close()  # type: ignore[union-attr]
                return
            self._headers_done = True
            self.upgraded.set_result(None)  # type: ignore[union-attr]
            if not self.read:
                self.transport.pause_reading()  # type: ignore[union-attr]
        while len(buf) >= 2:
            opcode, length = buf[0] & 0x0F, buf[1] & 0x7F
            start = 2
            if length == 126:
                if len(buf) < 4:
                    return
                length, start = struct.unpack_from(">H", buf, 2)[0], 4
            elif length == 127:
                if len(buf) < 10:
                    return
                length, start = struct.unpack_from(">Q", buf, 2)[0], 10
            if len(buf) < start + length:
                return
            payload = bytes(buf[start : start + length])
            del buf[: start + length]
            if opcode == _TEXT:
                self.messages.append(Received(now, hash(payload), length))
            elif opcode == _PING:
                self._send(0xA, payload)
            elif opcode == _CLOSE:
                self._send(_CLOSE, payload[:2])
                self.transport.close()  # type: ignore[union-attr]

    def _send(self, opcode: int, payload: bytes) -> None:
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.transport.write(bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked)  # type: ignore[union-attr]

    def connection_lost(self, exc: Exception | None) -> None:
        if self.upgraded is not None and not self.upgraded.done():
            self.upgraded.set_exception(exc or ConnectionError("closed before the upgrade"))
        if self.closed is not None and not self.closed.done():
            self.closed.set_result(0)

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self._send(_CLOSE, struct.pack(">H", 1000))
            self.transport.close()


async def connect(
    host: str, port: int, path: str, *, source: str = "127.0.0.1", read: bool = True, rcvbuf: int = 0
) -> Subscriber:
    """Open one subscriber and wait for its upgrade; `rcvbuf` shrinks its receive buffer
    (a slow consumer then backs up into the server quickly)."""
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.bind((source, 0))
    sock.setblocking(False)
    await loop.sock_connect(sock, (host, port))
    _, protocol = await loop.create_connection(
        lambda: Subscriber(path, f"{host}:{port}", read=read), sock=sock
    )
    assert protocol.upgraded is not None
    await protocol.upgraded
    return protocol


async def connect_many(
    host: str, port: int, paths: list[str], *, sources: list[str], parallel: int = 200
) -> list[Subscriber]:
    """Open one subscriber per path, `parallel` at a time, spreading them over source addresses."""
    gate = asyncio.Semaphore(parallel)

    async def one(i: int, path: str) -> Subscriber:
        async with gate:
            return await connect(host, port, path, source=sources[i % len(sources)])

    return list(await asyncio.gather(*(one(i, p) for i, p in enumerate(paths))))
