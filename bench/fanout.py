"""Fan-out benchmark: N websocket subscribers of one instance; rotation-to-receipt latency and memory.

For each N (default 1k, 5k, 10k) a fresh server (`run.py`, a short
`QRSTREAM_QR_REFRESH_S`) gets one instance and N subscribers of
`/waInstance{id}/scanqrcode/{token}` (bare-asyncio clients in this process, spread
over 127.0.0.x source addresses). Each rotation's latency for a subscriber is the
time from the window's scheduled end (`pairing.window_end`, wall clock, computed
here exactly as the server does) to the arrival of the new frame; the table gives,
over the observed rotations, the median of each rotation's p50, p99 and last.
Memory per subscriber is (server RSS with N idle subscribers - RSS before) / N.

    .venv/bin/python bench/fanout.py [--subscribers 1000,5000,10000] [--period 5] [--rotations 3]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from dataclasses import dataclass

import aiohttp
import fixtures
import scrape
import wsclient
from proc import cpu_seconds, raise_nofile, rss_bytes
from server import Server
from stats import median, percentile, table

from qrstream.instances import pairing


@dataclass
class FanoutResult:
    subscribers: int
    first_ms: float
    p50_ms: float
    p99_ms: float
    last_ms: float
    missed: int
    rss_per_sub_kib: float
    frames: int
    cpu_ms_per_rotation: float
    lag_p99_ms: float
    lag_max_ms: float


def server_env(period: float) -> dict[str, str]:
    return {
        "QRSTREAM_QR_REFRESH_S": str(period),
        "QRSTREAM_QR_SCAN_TIMEOUT_S": "1000000",
        "QRSTREAM_WS_MAX_PER_INSTANCE": "1000000",
        "QRSTREAM_WS_MAX_PER_CLIENT": "1000000",
        "QRSTREAM_LOG_LEVEL": "WARNING",
    }


def sources(count: int, first: int = 2) -> list[str]:
    return [f"127.0.{(first + i) // 250}.{1 + (first + i) % 250}" for i in range(count)]


def rotation_latencies(
    subs: list[wsclient.Subscriber], ends: list[float], period: float
) -> tuple[list[list[float]], int]:
    """Per rotation, every subscriber's delay from the window end to its new frame; and the misses."""
    out: list[list[float]] = []
    missed = 0
    for end in ends:
        delays = []
        for sub in subs:
            got = next((m.at for m in sub.messages if end - 0.05 <= m.at < end + period - 0.05), None)
            if got is None:
                missed += 1
            else:
                delays.append(max(0.0, got - end))
        out.append(delays)
    return out, missed


async def measure(n: int, period: float, rotations: int, source_base: int) -> FanoutResult:
    with Server(env=server_env(period)) as server:
        host, port = server.host_port.rsplit(":", 1)
        async with aiohttp.ClientSession() as session:
            instance = await fixtures.create_instance(session, server.url)
            async with session.get(server.url + instance.path("qr")) as r:  # warm: first frame rendered
                await r.read()
        await asyncio.sleep(1.0)
        before = rss_bytes(server.pid)
        started = time.monotonic()
        subs = await wsclient.connect_many(
            host, int(port), [instance.path("scanqrcode")] * n, sources=sources(1 + n // 5000, source_base)
        )
        connect_s = time.monotonic() - started
        await asyncio.sleep(1.0)
        idle = rss_bytes(server.pid)
        now = time.time()
        first = pairing.window_at(instance.id, now, period) + 1  # the next turn, at least 0.5 s away
        if pairing.window_end(instance.id, first - 1, period) - now < 0.5:
            first += 1
        ends = [pairing.window_end(instance.id, w - 1, period) for w in range(first, first + rotations)]
        async with aiohttp.ClientSession() as session:
            await asyncio.sleep(max(0.0, ends[0] - 0.3 - time.time()))
            cpu_before = cpu_seconds(server.pid)
            lag_before = await scrape.lag_histogram(session, server.url)
            await asyncio.sleep(max(0.0, ends[-1] + period - 0.3 - time.time()))
            cpu = cpu_seconds(server.pid) - cpu_before
            lag = scrape.between(lag_before, await scrape.lag_histogram(session, server.url))
        after = rss_bytes(server.pid)
        per_rotation, missed = rotation_latencies(subs, ends, period)
        frames = sum(len(s.messages) for s in subs)
        for sub in subs:
            sub.close()
        await asyncio.sleep(0.5)
    print(
        f"  {n} subscribers: connected in {connect_s:.1f} s; RSS {before / 2**20:.0f} -> {idle / 2**20:.0f}"
        f" MiB idle, {after / 2**20:.0f} MiB after {rotations} rotations; {frames} frames received"
    )
    ms = [[d * 1000 for d in delays] for delays in per_rotation if delays]
    return FanoutResult(
        subscribers=n,
        first_ms=median([min(d) for d in ms]),
        p50_ms=median([percentile(d, 50) for d in ms]),
        p99_ms=median([percentile(d, 99) for d in ms]),
        last_ms=median([max(d) for d in ms]),
        missed=missed,
        rss_per_sub_kib=(max(idle, after) - before) / n / 1024,
        frames=frames,
        cpu_ms_per_rotation=cpu * 1000 / rotations,
        lag_p99_ms=scrape.quantile(lag, 0.99) * 1000,
        lag_max_ms=scrape.quantile(lag, 1.0) * 1000,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", default="1000,5000,10000")
    parser.add_argument("--period", type=float, default=5.0, help="QRSTREAM_QR_REFRESH_S")
    parser.add_argument("--rotations", type=int, default=3)
    args = parser.parse_args()
    limit = raise_nofile()
    counts = [int(c) for c in args.subscribers.split(",")]
    print(f"open-file limit {limit}; period {args.period:g} s; {args.rotations} rotations per size")
    results = []
    for i, n in enumerate(counts):
        results.append(asyncio.run(measure(n, args.period, args.rotations, source_base=2 + 10 * i)))
    rows = [
        [
            r.subscribers,
            r.first_ms,
            r.p50_ms,
            r.p99_ms,
            r.last_ms,
            r.missed,
            r.rss_per_sub_kib,
            r.cpu_ms_per_rotation,
            f"<= {r.lag_p99_ms:g} / <= {r.lag_max_ms:g}",
            "yes" if r.p99_ms <= 500 and r.rss_per_sub_kib <= 30 and not r.missed else "NO",
        ]
        for r in results
    ]
    print("\nrotation -> receipt, medians over rotations; target p99 <= 500 ms, <= 30 KiB per subscriber")
    print(
        table(
            [
                "subscribers",
                "first ms",
                "p50 ms",
                "p99 ms",
                "last ms",
                "missed",
                "KiB/subscriber",
                "server CPU ms/rotation",
                "loop lag p99 / max ms",
                "met?",
            ],
            rows,
        )
    )


if __name__ == "__main__":
    main()
