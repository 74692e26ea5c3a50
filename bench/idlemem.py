"""What one idle subscriber costs the server: live objects by type, traced memory by line, RSS.

A server (`bench/memwatch.py`, i.e. `run.py`, with `PYTHONTRACEMALLOC=1` unless `--no-trace`)
gets one instance; it reports its objects (and times a full garbage collection), N bare-asyncio
subscribers of the instance's `scanqrcode` connect and sit idle, it reports again; the
difference per subscriber is printed (top types, top allocating lines, RSS).

    .venv/bin/python bench/idlemem.py [--subscribers 1000] [--no-trace]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import tempfile
from pathlib import Path

import aiohttp
import fixtures
import wsclient
from fanout import server_env, sources
from proc import raise_nofile, rss_bytes
from server import Server

MEMWATCH = Path(__file__).resolve().parent / "memwatch.py"


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


async def report(server: Server, out: Path, count: int) -> dict[str, object]:
    server.proc.send_signal(signal.SIGUSR1)
    for _ in range(600):
        lines = _lines(out)
        if len(lines) >= count:
            return json.loads(lines[count - 1])  # type: ignore[no-any-return]
        await asyncio.sleep(0.1)
    raise RuntimeError("the server did not report")


async def measure(n: int, trace: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "mem.jsonl"
        env = {**server_env(20.0), "QRSTREAM_MEMWATCH": str(out)}
        if trace:
            env["PYTHONTRACEMALLOC"] = "1"
        with Server(env=env, script=MEMWATCH) as server:
            host, port = server.host_port.rsplit(":", 1)
            async with aiohttp.ClientSession() as session:
                instance = await fixtures.create_instance(session, server.url)
                async with session.get(server.url + instance.path("qr")) as r:
                    await r.read()
            # one subscriber first, so that what the first one creates once is not counted
            warm = await wsclient.connect(host, int(port), instance.path("scanqrcode"))
            await asyncio.sleep(1.0)
            before, rss0 = await report(server, out, 1), rss_bytes(server.pid)
            subs = await wsclient.connect_many(
                host, int(port), [instance.path("scanqrcode")] * n, sources=sources(1 + n // 5000)
            )
            await asyncio.sleep(2.0)
            after, rss1 = await report(server, out, 2), rss_bytes(server.pid)
            for sub in [warm, *subs]:
                sub.close()
    types0: dict[str, int] = before["types"]  # type: ignore[assignment]
    types1: dict[str, int] = after["types"]  # type: ignore[assignment]
    diff = {t: types1.get(t, 0) - types0.get(t, 0) for t in set(types0) | set(types1)}
    objects = int(after["objects"]) - int(before["objects"])  # type: ignore[call-overload]
    rss = (rss1 - rss0) / n / 1024
    print(f"{n} idle subscribers: RSS {rss:.1f} KiB each; {objects / n:.1f} gc objects each")
    print(f"full collection: {before['full_gc_ms']:.1f} ms before, {after['full_gc_ms']:.1f} ms with them")
    if "traced" in after:
        traced = int(after["traced"]) - int(before["traced"])  # type: ignore[call-overload]
        print(f"traced Python memory {traced / n / 1024:.1f} KiB each")
    for name, count in sorted(diff.items(), key=lambda kv: -kv[1])[:30]:
        if count:
            print(f"  {count / n:7.2f}  {name}")
    here = str(Path.cwd()) + os.sep
    for where, size, count in after.get("lines", [])[:40]:  # type: ignore[attr-defined]
        print(f"  {size / n:8.0f} B {count / n:6.2f}  {where.removeprefix(here)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--no-trace", action="store_true", help="no tracemalloc (RSS as in production)")
    args = parser.parse_args()
    raise_nofile()
    asyncio.run(measure(args.subscribers, not args.no_trace))


if __name__ == "__main__":
    main()
