"""The anchor of bench/fanout.py: the least a fan-out can do, on the same Python and loop.

A bare asyncio Protocol server (no aiohttp, no hub): it answers any request head with a 101,
keeps the transports, and at every multiple of `QRSTREAM_QR_REFRESH_S` on the wall clock
writes one websocket text frame of `FANOUT_ANCHOR_BYTES` (new bytes each turn) to every
transport in a plain loop, one `transport.write` each. What it costs per subscriber per
frame is the floor under qrstream's figure: the loop's write and the kernel's loopback send.
Started like run.py (`Server(script=…)`: the same ready line, the server's options ignored).
"""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import socket
import struct
import time

RESPONSE = (
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Accept: anchor\r\n\r\n"
)


class Peer(asyncio.Protocol):
    def __init__(self, peers: set[asyncio.Transport]) -> None:
        self._peers = peers
        self._transport: asyncio.Transport | None = None
        self._head = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self._transport is None or self._transport in self._peers:
            return  # pongs and closes: nothing to do
        self._head += data
        if b"\r\n\r\n" in self._head:
            self._transport.write(RESPONSE)
            self._peers.add(self._transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self._peers.discard(self._transport)  # type: ignore[arg-type]


def frame(size: int) -> bytes:
    payload = base64.b64encode(os.urandom(size * 3 // 4 + 3))[:size]
    return struct.pack("!BBH", 0x81, 126, size) + payload


async def serve() -> None:
    period = float(os.environ.get("QRSTREAM_QR_REFRESH_S", "5"))
    size = int(os.environ.get("FANOUT_ANCHOR_BYTES", "2000"))
    loop = asyncio.get_running_loop()
    peers: set[asyncio.Transport] = set()
    sock = socket.create_server(("127.0.0.1", 0), backlog=4096)
    server = await loop.create_server(lambda: Peer(peers), sock=sock)

    def turn() -> None:
        data = frame(size)
        for transport in list(peers):
            transport.write(data)
        schedule()

    def schedule() -> None:
        now = time.time()
        loop.call_later((now // period + 1) * period - now, turn)

    schedule()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    print(f"qrstream listening on http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    await stop.wait()
    server.close()


def main() -> None:
    if os.environ.get("QRSTREAM_LOOP", "uvloop") != "asyncio":
        import uvloop

        uvloop.run(serve())
        return
    asyncio.run(serve())


if __name__ == "__main__":
    main()
