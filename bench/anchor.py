"""The anchor of bench/rest.py: a bare aiohttp app, one JSON handler, no middleware, no access log.

Same Python and aiohttp as the server, its own process, started like run.py (`Server(script=…)`:
it prints the same ready line and ignores the server's options). QRSTREAM_LOOP picks its event
loop as it does the server's (`uvloop` by default where installed, `asyncio` for the stdlib one),
so a ratio against it is the cost of qrstream's own stack on the same loop.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket

from aiohttp import web


async def handler(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def serve() -> None:
    app = web.Application()
    app.router.add_get("/", handler)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    sock = socket.create_server(("127.0.0.1", 0), backlog=4096)
    site = web.SockSite(runner, sock)
    await site.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    print(f"qrstream listening on http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    await stop.wait()
    await runner.cleanup()


def main() -> None:
    if os.environ.get("QRSTREAM_LOOP", "uvloop") != "asyncio":
        try:
            import uvloop

            uvloop.run(serve())
            return
        except ImportError:
            pass
    asyncio.run(serve())


if __name__ == "__main__":
    main()
