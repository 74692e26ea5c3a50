"""Fan-out benchmark: N websocket subscribers of one instance; rotation-to-receipt latency and memory.

For each N (default 1k, 5k, 10k) a fresh server (`run.py`, a short
`QRSTREAM_QR_REFRESH_S`) gets one instance and N subscribers of
`/waInstance{id}/scanqrcode/{token}` (bare-asyncio clients in this process, spread
over 127.0.0.x source addresses). Each rotation's latency for a subscriber is the
time from the window's scheduled end (`pairing.window_end`, wall clock, computed
here exactly as the server does) to the arrival of the new frame; the table gives,
over the observed rotations, the median of each rotation's p50, p99 and last.
Memory per subscriber is (server RSS with N idle subscribers - RSS before) / N.

Server CPU per subscriber per frame comes from the server process's own counters
(utime + stime in `/proc/<pid>/stat`, not client-side timing): around each turn, from
0.3 s before the window end to `--busy` seconds after it, minus what the same server
burns in that much time between turns (the idle rate, measured in the same run with
the same subscribers: heartbeats, the loop-lag sampler), divided by the subscribers that
got the turn's frame; the median over turns (a full garbage collection in one window
would move a sum), with the kernel's part (stime) beside it.
Renders run in the server's process pool, so they are not in this figure. Beside it, the same
measure of bench/fanout_anchor.py (a bare Protocol server writing same-sized frames to the
same number of subscribers: the floor of loop write + kernel loopback send); `--no-anchor` skips it.

`--profile DIR` records the server with `py-spy record` over the turns (collapsed stacks, one
file per size; the sampler disturbs the CPU figure, so measure without it).

    .venv/bin/python bench/fanout.py [--subscribers 1000,5000,10000] [--period 5] [--rotations 3]
        [--busy 1.5] [--profile DIR] [--no-anchor]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import fixtures
import scrape
import wsclient
from proc import cpu_seconds, cpu_times, raise_nofile, rss_bytes
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
    cpu_us_per_sub_frame: float
    kernel_us_per_sub_frame: float
    idle_cpu_share: float
    frame_bytes: int
    lag_p99_ms: float
    lag_max_ms: float


@dataclass
class Turn:
    """Server CPU seconds (all, and the kernel's) and wall seconds of one turn and of the time
    after it until the next (idle)."""

    busy_s: float
    busy_cpu: float
    busy_sys: float
    idle_s: float
    idle_cpu: float
    idle_sys: float


@dataclass
class CpuWindows:
    """The turns' CPU beyond what the same server burns in that much time between turns.

    Medians over turns, so that one full garbage collection (up to a second with 10k
    sockets) falling into one window does not move the figure.
    """

    turns: list[Turn]

    def idle_rate(self) -> tuple[float, float]:
        return (
            median([t.idle_cpu / t.idle_s for t in self.turns]),
            median([t.idle_sys / t.idle_s for t in self.turns]),
        )

    def per_turn(self) -> tuple[float, float]:
        """CPU seconds of one turn's fan-out, and its kernel part (medians over turns)."""
        cpu_rate, sys_rate = self.idle_rate()
        return (
            median([t.busy_cpu - cpu_rate * t.busy_s for t in self.turns]),
            median([t.busy_sys - sys_rate * t.busy_s for t in self.turns]),
        )


async def sample_turns(pid: int, ends: list[float], period: float, busy: float) -> CpuWindows:
    """CPU of `pid` from 0.3 s before each window end to `busy` s after it (busy), and from
    there to 0.3 s before the next end (idle)."""

    async def at(wall: float) -> tuple[float, float, float]:
        await asyncio.sleep(max(0.0, wall - time.time()))
        user, system = cpu_times(pid)
        return time.monotonic(), user + system, system

    turns = []
    for end in ends:
        t0, c0, s0 = await at(end - 0.3)
        t1, c1, s1 = await at(end + busy)
        t2, c2, s2 = await at(end + period - 0.3)
        turns.append(Turn(t1 - t0, c1 - c0, s1 - s0, t2 - t1, c2 - c1, s2 - s1))
    return CpuWindows(turns)


async def py_spy(pid: int, out: str, seconds: float) -> asyncio.subprocess.Process:
    """`py-spy record` of `pid` for `seconds`, collapsed stacks to `out`."""
    spy = str(Path(sys.executable).with_name("py-spy"))
    args = ["record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", "200"]
    args += ["--format", "raw", "--output", out, "--nonblocking"]
    quiet = asyncio.subprocess.DEVNULL
    return await asyncio.create_subprocess_exec(spy, *args, stdout=quiet, stderr=quiet)


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


async def measure(
    n: int, period: float, rotations: int, source_base: int, busy: float, profile: str | None
) -> FanoutResult:
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
        spy = None
        async with aiohttp.ClientSession() as session:
            await asyncio.sleep(max(0.0, ends[0] - 0.5 - time.time()))
            if profile:
                out = f"{profile}/fanout-{n}.txt"
                spy = await py_spy(server.pid, out, ends[-1] + period - 0.5 - time.time())
            lag_before = await scrape.lag_histogram(session, server.url)
            cpu_before = cpu_seconds(server.pid)
            windows = await sample_turns(server.pid, ends, period, busy)
            cpu = cpu_seconds(server.pid) - cpu_before
            lag = scrape.between(lag_before, await scrape.lag_histogram(session, server.url))
        if spy is not None:
            await spy.wait()
        after = rss_bytes(server.pid)
        per_rotation, missed = rotation_latencies(subs, ends, period)
        frames = sum(len(s.messages) for s in subs)
        frame_bytes = int(median([m.size for s in subs[:100] for m in s.messages]))
        received = median([len(d) for d in per_rotation])  # frames of a measured turn that arrived
        turn_cpu, turn_sys = windows.per_turn()
        idle_rate = windows.idle_rate()[0]
        for sub in subs:
            sub.close()
        await asyncio.sleep(0.5)
    print(
        f"  {n} subscribers: connected in {connect_s:.1f} s; RSS {before / 2**20:.0f} -> {idle / 2**20:.0f}"
        f" MiB idle, {after / 2**20:.0f} MiB after {rotations} rotations; {frames} frames received;"
        f" fan-out per turn {turn_cpu * 1000:.0f} ms CPU, kernel {turn_sys * 1000:.0f} ms;"
        f" idle {idle_rate:.1%} of a core; turns (ms CPU busy/idle):"
        f" {', '.join(f'{t.busy_cpu * 1000:.0f}/{t.idle_cpu * 1000:.0f}' for t in windows.turns)}"
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
        cpu_us_per_sub_frame=turn_cpu * 1e6 / max(1, received),
        kernel_us_per_sub_frame=turn_sys * 1e6 / max(1, received),
        idle_cpu_share=idle_rate,
        frame_bytes=frame_bytes,
        lag_p99_ms=scrape.quantile(lag, 0.99) * 1000,
        lag_max_ms=scrape.quantile(lag, 1.0) * 1000,
    )


ANCHOR = Path(__file__).resolve().parent / "fanout_anchor.py"


async def measure_anchor(
    n: int, period: float, rotations: int, source_base: int, busy: float, size: int
) -> tuple[float, float]:
    """bench/fanout_anchor.py with `n` subscribers and frames of `size` bytes: server CPU per
    subscriber per frame, and its kernel part, measured as for qrstream."""
    env = {"QRSTREAM_QR_REFRESH_S": str(period), "FANOUT_ANCHOR_BYTES": str(size)}
    with Server(env=env, script=ANCHOR) as server:
        host, port = server.host_port.rsplit(":", 1)
        addresses = sources(1 + n // 5000, source_base)
        subs = await wsclient.connect_many(host, int(port), ["/"] * n, sources=addresses)
        await asyncio.sleep(1.0)
        first = int(time.time() // period) + 1
        if first * period - time.time() < 0.5:
            first += 1
        ends = [(first + i) * period for i in range(rotations)]
        windows = await sample_turns(server.pid, ends, period, busy)
        per_rotation, _ = rotation_latencies(subs, ends, period)
        for sub in subs:
            sub.close()
        await asyncio.sleep(0.5)
    received = median([len(d) for d in per_rotation])
    cpu, system = windows.per_turn()
    return cpu * 1e6 / max(1, received), system * 1e6 / max(1, received)


def ok(r: FanoutResult) -> bool:
    return r.p99_ms <= 500 and r.rss_per_sub_kib <= 20 and r.cpu_us_per_sub_frame <= 10 and not r.missed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", default="1000,5000,10000")
    parser.add_argument("--period", type=float, default=5.0, help="QRSTREAM_QR_REFRESH_S")
    parser.add_argument("--rotations", type=int, default=3)
    parser.add_argument("--busy", type=float, default=1.5, help="seconds after a turn counted as its fan-out")
    parser.add_argument("--profile", metavar="DIR", help="py-spy record the server over the turns, into DIR")
    parser.add_argument("--no-anchor", action="store_true", help="skip bench/fanout_anchor.py")
    args = parser.parse_args()
    if args.profile:
        Path(args.profile).mkdir(parents=True, exist_ok=True)
    limit = raise_nofile()
    counts = [int(c) for c in args.subscribers.split(",")]
    print(f"open-file limit {limit}; period {args.period:g} s; {args.rotations} rotations per size")
    results = []
    anchors: list[tuple[float, float]] = []
    for i, n in enumerate(counts):
        results.append(
            asyncio.run(measure(n, args.period, args.rotations, 2 + 10 * i, args.busy, args.profile))
        )
        if not args.no_anchor:
            size = results[-1].frame_bytes
            anchor = asyncio.run(measure_anchor(n, args.period, args.rotations, 5 + 10 * i, args.busy, size))
            anchors.append(anchor)
            print(f"  anchor, {n} subscribers, {size} B frames: {anchor[0]:.2f} us (kernel {anchor[1]:.2f})")
    rows = [
        [
            r.subscribers,
            r.first_ms,
            r.p50_ms,
            r.p99_ms,
            r.last_ms,
            r.missed,
            r.rss_per_sub_kib,
            r.cpu_us_per_sub_frame,
            r.kernel_us_per_sub_frame,
            f"{anchors[i][0]:.2f} ({anchors[i][1]:.2f})" if anchors else "-",
            r.cpu_ms_per_rotation,
            f"{r.idle_cpu_share:.0%}",
            f"<= {r.lag_p99_ms:g} / <= {r.lag_max_ms:g}",
            "yes" if ok(r) else "NO",
        ]
        for i, r in enumerate(results)
    ]
    print(
        "\nrotation -> receipt, medians over rotations; targets (issue 17): p99 <= 500 ms,"
        " <= 20 KiB per idle subscriber, <= 10 us server CPU per subscriber per frame"
    )
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
                "CPU us/sub/frame",
                "of which kernel",
                "anchor us (kernel)",
                "server CPU ms/rotation",
                "idle CPU",
                "loop lag p99 / max ms",
                "met?",
            ],
            rows,
        )
    )


if __name__ == "__main__":
    main()
