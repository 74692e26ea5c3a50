"""Slow-consumer benchmark: subscribers that never read beside ones that do.

One server (refresh 1 s), one instance, N reading subscribers. Phase 1 measures
their rotation-to-receipt latency alone; phase 2 adds K subscribers that never read
(reading paused after the upgrade, a 4 KiB receive buffer, so their backlog reaches
the server fast) and measures again, with the server's RSS along the way and the
hub's skip counter from `/metrics` (a socket whose write buffer is over 64 KiB is
skipped, and dropped after 3 skips).

    .venv/bin/python bench/slow.py [--subscribers 1000] [--slow 10] [--seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import time

import aiohttp
import fixtures
import wsclient
from fanout import rotation_latencies, server_env, sources
from proc import raise_nofile, rss_bytes
from server import Server
from stats import median, percentile, table

from qrstream.instances import pairing

PERIOD = 1.0


async def counter(session: aiohttp.ClientSession, base: str, name: str) -> float:
    async with session.get(f"{base}/metrics") as r:
        found = re.search(rf"^{name}(?:_total)? ([0-9.e+]+)$", await r.text(), re.M)
    return float(found.group(1)) if found else 0.0


async def observe(
    subs: list[wsclient.Subscriber], instance_id: int, seconds: float, pid: int
) -> tuple[list[list[float]], int, list[int]]:
    """Latencies of every rotation within the next `seconds`, misses, and RSS samples (1/s)."""
    now = time.time()
    first = pairing.window_at(instance_id, now, PERIOD) + 1
    ends = [pairing.window_end(instance_id, w, PERIOD) for w in range(first, first + int(seconds / PERIOD))]
    rss = []
    while time.time() < ends[-1] + PERIOD:
        rss.append(rss_bytes(pid))
        await asyncio.sleep(1.0)
    per_rotation, missed = rotation_latencies(subs, ends, PERIOD)
    return per_rotation, missed, rss


def summary(name: str, per_rotation: list[list[float]], missed: int, rss: list[int]) -> list[object]:
    ms = [[d * 1000 for d in r] for r in per_rotation if r]
    return [
        name,
        median([percentile(r, 50) for r in ms]),
        median([percentile(r, 99) for r in ms]),
        max(max(r) for r in ms),
        missed,
        f"{min(rss) / 2**20:.0f} - {max(rss) / 2**20:.0f}",
    ]


async def run(n: int, k: int, seconds: float) -> None:
    env = {**server_env(PERIOD)}
    with Server(env=env) as server:
        host, port = server.host_port.rsplit(":", 1)
        async with aiohttp.ClientSession() as session:
            instance = await fixtures.create_instance(session, server.url)
            path = instance.path("scanqrcode")
            subs = await wsclient.connect_many(host, int(port), [path] * n, sources=sources(1, 120))
            await asyncio.sleep(2)
            alone = await observe(subs, instance.id, seconds / 2, server.pid)
            slow = [
                await wsclient.connect(host, int(port), path, source="127.0.0.200", read=False, rcvbuf=4096)
                for _ in range(k)
            ]
            skipped_before = await counter(session, server.url, "qrstream_ws_frames_skipped")
            beside = await observe(subs, instance.id, seconds, server.pid)
            skipped = await counter(session, server.url, "qrstream_ws_frames_skipped") - skipped_before
            dropped = sum(1 for s in slow if s.closed is not None and s.closed.done())
        for sub in subs + slow:
            sub.close()
    print(f"\n{n} reading subscribers, refresh {PERIOD} s; then {k} that never read")
    rows = [summary("alone", *alone), summary(f"beside {k} non-readers", *beside)]
    print(table(["phase", "p50 ms", "p99 ms", "max ms", "missed", "server RSS MiB"], rows))
    print(
        f"frames skipped for the non-readers: {skipped:.0f}; non-readers dropped by the server: {dropped}/{k}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--slow", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=60.0, help="observed beside the non-readers")
    args = parser.parse_args()
    raise_nofile()
    asyncio.run(run(args.subscribers, args.slow, args.seconds))


if __name__ == "__main__":
    main()
