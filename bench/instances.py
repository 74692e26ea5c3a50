"""Many-instances benchmark: N instances, each watched by one subscriber, rotating every 20 s.

For each N (default 1k, 5k, 10k) a fresh server (`run.py`, default 20 s refresh) gets N
instances and one bare-asyncio subscriber each. Over the observation period the
server's event-loop lag comes from two scrapes of `/metrics`
(`qrstream_event_loop_lag_seconds`, sampled every 50 ms), and every window end of
every instance (`pairing.window_end`, computed here as the server does) is checked
(after a warm-up, default one period, past the burst of connections):
a frame arriving more than 1 s after it is late, none at all is missed. Each subscriber's
frames are also checked one after the other: a gap longer than 21 s between two consecutive
frames (or from the last frame to the end of the observation) is counted, with the worst one.
`--profile DIR` records the server with `py-spy record` over each observation (an SVG per size);
`--gc` runs it through `bench/gcwatch.py` and counts the garbage collections that stopped it.

    .venv/bin/python bench/instances.py [--instances 1000,5000,10000] [--observe 60] [--profile /tmp]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import fixtures
import scrape
import wsclient
from fanout import server_env, sources
from proc import cpu_seconds, raise_nofile, rss_bytes
from server import Server
from stats import percentile, table

from qrstream.instances import pairing

GCWATCH = Path(__file__).resolve().parent / "gcwatch.py"
LATE_S = 1.0
GAP_S = 21.0


@dataclass
class ManyResult:
    instances: int
    lag_p50_ms: float
    lag_p99_ms: float
    lag_samples: int
    turns: int
    late: int
    missed: int
    delay_p99_ms: float
    delay_max_ms: float
    gaps: int
    gap_max_s: float
    cpu_share: float
    gc_pauses: list[tuple[int, float]]
    """(generation, ms) of each collection of >= 5 ms during the observation (with --gc)."""


async def create_instances(base: str, n: int) -> list[fixtures.Instance]:
    gate = asyncio.Semaphore(16)
    async with aiohttp.ClientSession() as session:

        async def one() -> fixtures.Instance:
            async with gate:
                return await fixtures.create_instance(session, base)

        return list(await asyncio.gather(*(one() for _ in range(n))))


def check_turns(
    instances: list[fixtures.Instance],
    subs: list[wsclient.Subscriber],
    start: float,
    stop: float,
    period: float,
) -> tuple[list[float], int]:
    """Delays of every window end in [start, stop) for every instance, and the count of misses."""
    delays: list[float] = []
    missed = 0
    for instance, sub in zip(instances, subs, strict=True):
        window = pairing.window_at(instance.id, start, period)
        while (end := pairing.window_end(instance.id, window, period)) < stop:
            if end >= start:
                got = next((m.at for m in sub.messages if end - 0.05 <= m.at < end + period - 0.05), None)
                if got is None:
                    missed += 1
                else:
                    delays.append(max(0.0, got - end))
            window += 1
    return delays, missed


def check_gaps(subs: list[wsclient.Subscriber], start: float, stop: float) -> tuple[int, float]:
    """Gaps longer than GAP_S between consecutive frames of each subscriber that end within
    [start, stop] (the last frame to `stop` included), and the longest gap seen."""
    gaps, worst = 0, 0.0
    for sub in subs:
        times = [m.at for m in sub.messages if m.at <= stop]
        ends = [*times, stop]
        for before, after in itertools.pairwise(ends):
            if after < start:
                continue
            gap = after - before
            worst = max(worst, gap)
            gaps += gap > GAP_S
    return gaps, worst


def start_profile(pid: int, seconds: float, out: str) -> subprocess.Popen[bytes]:
    """`py-spy record` on the server for `seconds` (its own process, so it costs the bench nothing);
    collapsed stacks (`-f raw`) when `out` ends in `.txt`, else a flame graph."""
    command = ["py-spy", "record", "--pid", str(pid), "-d", str(round(seconds)), "-o", out, "-r", "50"]
    if out.endswith(".txt"):
        command += ["-f", "raw"]
    spy = Path(sys.executable).parent / "py-spy"
    if spy.exists():
        command[0] = str(spy)
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def gc_pauses(lines: list[str], start: float, stop: float) -> list[tuple[int, float]]:
    """The `gc-pause` lines of bench/gcwatch.py within [start, stop]."""
    pauses = []
    for line in lines:
        if line.startswith("gc-pause "):
            fields = dict(part.split("=", 1) for part in line.split()[1:])
            if start <= float(fields["at"]) <= stop:
                pauses.append((int(fields["gen"]), float(fields["ms"])))
    return pauses


async def measure(
    n: int,
    period: float,
    observe: float,
    warmup: float,
    source_base: int,
    profile: str | None,
    watch_gc: bool,
    raw_profile: bool = False,
) -> ManyResult:
    script = GCWATCH if watch_gc else None
    with Server(env={**server_env(period), "QRSTREAM_LOG_LEVEL": "WARNING"}, script=script) as server:
        host, port = server.host_port.rsplit(":", 1)
        started = time.monotonic()
        instances = await create_instances(server.url, n)
        created_s = time.monotonic() - started
        subs = await wsclient.connect_many(
            host,
            int(port),
            [i.path("scanqrcode") for i in instances],
            sources=sources(1 + n // 5000, source_base),
        )
        connected_s = time.monotonic() - started - created_s
        await asyncio.sleep(warmup)  # past the connection burst: caches filled, steady state
        async with aiohttp.ClientSession() as session:
            before = await scrape.lag_histogram(session, server.url)
            cpu_before, start = cpu_seconds(server.pid), time.time()
            load = os.getloadavg()[0]
            spy = None
            if profile is not None:
                name = f"instances-{n}.{'txt' if raw_profile else 'svg'}"
                spy = start_profile(server.pid, observe, str(Path(profile) / name))
            await asyncio.sleep(observe)
            stop = time.time()
            cpu = cpu_seconds(server.pid) - cpu_before
            lag = scrape.between(before, await scrape.lag_histogram(session, server.url))
        await asyncio.sleep(period)  # frames due just before `stop` still arrive
        rss = rss_bytes(server.pid)
        delays, missed = check_turns(instances, subs, start, stop - LATE_S, period)
        gaps, gap_max = check_gaps(subs, start, stop)
        pauses = gc_pauses(server.stderr_lines, start, stop)
        if spy is not None:
            spy.wait()
        for sub in subs:
            sub.close()
        await asyncio.sleep(0.5)
    print(
        f"  {n} instances: created in {created_s:.1f} s, subscribed in {connected_s:.1f} s;"
        f" server RSS {rss / 2**20:.0f} MiB; {len(delays) + missed} window turns observed;"
        f" load average {load:.2f} when the observation began, {os.getloadavg()[0]:.2f} after it"
    )
    if watch_gc:
        for gen in (0, 1, 2):
            times = [ms for g, ms in pauses if g == gen]
            if times:
                print(
                    f"    gc generation {gen}: {len(times)} pauses >= 5 ms, longest {max(times):.0f} ms,"
                    f" {sum(times):.0f} ms in all"
                )
    return ManyResult(
        instances=n,
        lag_p50_ms=scrape.quantile(lag, 0.5) * 1000,
        lag_p99_ms=scrape.quantile(lag, 0.99) * 1000,
        lag_samples=scrape.count(lag),
        turns=len(delays) + missed,
        late=sum(1 for d in delays if d > LATE_S),
        missed=missed,
        delay_p99_ms=percentile(delays, 99) * 1000,
        delay_max_ms=max(delays, default=float("nan")) * 1000,
        gaps=gaps,
        gap_max_s=gap_max,
        cpu_share=cpu / (stop - start),
        gc_pauses=pauses,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", default="1000,5000,10000")
    parser.add_argument("--period", type=float, default=20.0, help="QRSTREAM_QR_REFRESH_S")
    parser.add_argument("--observe", type=float, default=60.0, help="seconds observed per size")
    parser.add_argument("--profile", metavar="DIR", help="py-spy record the server into DIR/instances-N.svg")
    parser.add_argument("--raw", action="store_true", help="--profile as collapsed stacks (.txt)")
    parser.add_argument("--gc", action="store_true", help="time the server's garbage collections")
    parser.add_argument(
        "--gc-thresholds", metavar="A,B,C", help="with --gc: gc.set_threshold(A, B, C) in the server"
    )
    parser.add_argument(
        "--warmup", type=float, default=20.0, help="seconds between subscribing and observing"
    )
    args = parser.parse_args()
    if args.gc_thresholds:  # the server inherits this environment
        os.environ["GCWATCH_THRESHOLDS"] = args.gc_thresholds
    limit = raise_nofile()
    counts = [int(c) for c in args.instances.split(",")]
    print(f"open-file limit {limit}; period {args.period:g} s; observing {args.observe:g} s per size")
    results = [
        asyncio.run(
            measure(n, args.period, args.observe, args.warmup, 50 + 10 * i, args.profile, args.gc, args.raw)
        )
        for i, n in enumerate(counts)
    ]
    rows = [
        [
            r.instances,
            f"<= {r.lag_p50_ms:g}",
            f"<= {r.lag_p99_ms:g}",
            r.lag_samples,
            r.turns,
            r.late,
            r.missed,
            r.delay_p99_ms,
            r.delay_max_ms,
            r.gaps,
            f"{r.gap_max_s:.2f}",
            r.cpu_share,
            "yes" if r.lag_p99_ms <= 20 and not r.late and not r.missed and not r.gaps else "NO",
        ]
        for r in results
    ]
    print("\nloop lag from /metrics buckets; a frame > 1 s after its window end is late")
    header = ["instances", "lag p50 ms", "lag p99 ms", "samples", "turns", "late", "missed"]
    after = ["delay p99 ms", "delay max ms", "gaps > 21 s", "worst gap s", "server CPU share", "met?"]
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(table([*header, *after], rows))


if __name__ == "__main__":
    main()
