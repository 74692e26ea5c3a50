"""REST benchmark: requests/s and p50/p99 latency of qrstream's paths, as ratios of bare aiohttp.

Two processes: the server (`run.py`, SQLite in a temp dir) and the anchor (bench/anchor.py:
one JSON handler, no middleware, no access log, same Python, aiohttp and event loop). In each
round wrk runs the anchor, then every endpoint in turn, then the anchor again; an endpoint's
ratio is against the mean of that round's two anchor runs (the machine is noisy), and the table
shows medians over rounds. Every QR endpoint's answer is decoded with zxing-cpp first. The
card scan (`/q/<code>`, bench/lua/scan.lua: phones' User-Agents in turn) is a recorded scan
each time, as for a crowd at a printed QR.

    .venv/bin/python bench/rest.py [--rounds 3] [--seconds 3] [--connections 64] [--only healthz,...] [--pin]

`--pin` (Linux, 2+ CPUs) runs the server and the anchor on the last CPU and this script with wrk
on the others, so that the scheduler does not move them onto one another: the ratios then move
less from round to round (both sides get the same one core).

`--pause` waits for Enter before the measured rounds (attach `py-spy record --pid <printed pid>`).
"""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import fixtures
import wrk
from proc import pin
from server import SDK_KEY, Server
from stats import median, table

ANCHOR = Path(__file__).resolve().parent / "anchor.py"


@dataclass(frozen=True)
class Endpoint:
    name: str
    path: str
    script: str | None
    target: float | None  # minimum requests/s as a fraction of the bare aiohttp anchor


async def prepare(base: str) -> list[Endpoint]:
    """Create an instance, a card and a verification; check each QR answer decodes to what it should."""
    async with aiohttp.ClientSession() as session:
        instance = await fixtures.create_instance(session, base)
        verification = await fixtures.create_verification(session, base)
        card_url = await fixtures.card_qr_url(session, base)
        qr_path = f"/api/get-verification-qrcode/{verification['verificationId']}"
        async with session.get(base + qr_path, headers=fixtures.SDK) as r:
            assert fixtures.decode(await r.read()) == verification["url"], "verification QR text"
        async with session.get(base + instance.path("qr")) as r:
            body = await r.json()
            assert body["type"] == "qrCode" and "/link/" in fixtures.decode_b64(body["message"])
        async with session.get(card_url) as r:
            link = fixtures.decode(await r.read())
            assert "/q/" in link, "card QR text"
        scan_path = "/q/" + link.split("/q/", 1)[1]
        async with session.get(base + scan_path, allow_redirects=False) as r:
            assert r.status == 302, f"scan answered {r.status}"
    card_path = "/" + card_url.split("/", 3)[3]
    return [
        Endpoint("healthz", "/healthz", None, 0.7),
        Endpoint("get-verification-qrcode (cached)", qr_path, "sdk_get.lua", 0.6),
        Endpoint("instance qr", instance.path("qr"), None, 0.6),
        Endpoint("card QR image", card_path, None, 0.6),
        Endpoint("card scan /q/<code> (302, recorded)", scan_path, "scan.lua", 0.5),
        Endpoint(
            "generate-verification (write)", "/api/generate-verification", "generate_verification.lua", None
        ),
    ]


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--only", default="", help="comma-separated name prefixes of the endpoints to run")
    parser.add_argument("--pause", action="store_true", help="wait for Enter before measuring (profiling)")
    parser.add_argument("--pin", action="store_true", help="servers on the last CPU, wrk on the others")
    args = parser.parse_args()
    env = {"QRSTREAM_BENCH_SDK_KEY": SDK_KEY}
    server_env = {"QRSTREAM_LOG_LEVEL": os.environ.get("QRSTREAM_LOG_LEVEL", "INFO")}
    loop = os.environ.get("QRSTREAM_LOOP", "uvloop (default)")
    print(f"start: {load()}; event loop {loop}" + ("; pinned" if args.pin else ""))

    def measure(url: str, script: str | None) -> wrk.WrkResult:
        result = wrk.run(url, script=script, duration_s=args.seconds, connections=args.connections, env=env)
        if result.bad:
            raise SystemExit(f"{url}: {result.bad} failed requests")
        return result

    with Server(env=server_env) as server, Server(script=ANCHOR) as anchor:
        endpoints = asyncio.run(prepare(server.url))
        if args.pin:
            cpus = sorted(os.sched_getaffinity(0))
            if len(cpus) < 2:
                raise SystemExit("--pin needs two CPUs")
            os.sched_setaffinity(0, set(cpus[:-1]))  # this script, and wrk started from it
            threads = pin(server.pid, {cpus[-1]}) + pin(anchor.pid, {cpus[-1]})
            print(f"pinned: servers ({threads} threads) on CPU {cpus[-1]}, wrk on {cpus[:-1]}")
        if args.only:
            wanted = tuple(args.only.split(","))
            endpoints = [e for e in endpoints if e.name.startswith(wanted)]
        runs: dict[str, list[wrk.WrkResult]] = {e.name: [] for e in endpoints}
        ratios: dict[str, list[float]] = {e.name: [] for e in endpoints}
        anchors: list[float] = []
        wrk.run(anchor.url + "/", duration_s=1, connections=args.connections)
        for e in endpoints:  # warm up every path (caches, connections)
            wrk.run(server.url + e.path, script=e.script, duration_s=1, connections=args.connections, env=env)
        if args.pause:
            input(f"server pid {server.pid}, anchor pid {anchor.pid}: Enter to measure ")
        for n in range(args.rounds):
            before = measure(anchor.url + "/", None).requests_per_s
            results = {e.name: measure(server.url + e.path, e.script) for e in endpoints}
            after = measure(anchor.url + "/", None).requests_per_s
            base = (before + after) / 2
            anchors.append(base)
            for name, result in results.items():
                runs[name].append(result)
                ratios[name].append(result.requests_per_s / base)
            print(
                f"round {n + 1}/{args.rounds} ({load()}): anchor {before:.0f}/{after:.0f}/s, "
                + ", ".join(f"{k} {v.requests_per_s:.0f}/s" for k, v in results.items())
            )
    end_load = load()

    def pick(name: str, figure: Callable[[wrk.WrkResult], float]) -> float:
        return median([figure(r) for r in runs[name]])

    rows: list[list[object]] = [["bare aiohttp (anchor)", median(anchors), "", "", 1.0, "", ""]]
    for e in endpoints:
        ratio = median(ratios[e.name])
        met = "" if e.target is None else ("yes" if ratio >= e.target else "NO")
        rows.append(
            [
                e.name,
                pick(e.name, lambda r: r.requests_per_s),
                pick(e.name, lambda r: r.p50_ms),
                pick(e.name, lambda r: r.p99_ms),
                ratio,
                "" if e.target is None else f">= {e.target}x",
                met,
            ]
        )
    print(
        f"\n{args.rounds} rounds x {args.seconds:g} s, wrk -t1 -c{args.connections} --latency; medians; "
        f"event loop {loop}{'; pinned' if args.pin else ''}; at the end {end_load}"
    )
    print(table(["endpoint", "req/s", "p50 ms", "p99 ms", "x bare aiohttp", "target", "met?"], rows))


if __name__ == "__main__":
    main()
