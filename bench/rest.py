"""REST benchmark: requests/s and p50/p99 latency of the QR endpoints, as ratios of `/healthz`.

One server (`run.py`, SQLite in a temp dir); wrk runs each endpoint in turn, healthz
first, for several rounds; a round's ratios are against that round's healthz (the
machine is noisy), and the table shows medians over rounds. Every QR endpoint's
answer is decoded with zxing-cpp first. The card scan (`/q/<code>`, bench/lua/scan.lua:
phones' User-Agents in turn) is a recorded scan each time, as for a crowd at a printed QR.

    .venv/bin/python bench/rest.py [--rounds 5] [--seconds 5] [--connections 32]
"""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp
import fixtures
import wrk
from server import SDK_KEY, Server
from stats import median, table


@dataclass(frozen=True)
class Endpoint:
    name: str
    path: str
    script: str | None
    target: float  # minimum requests/s as a fraction of /healthz


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
        Endpoint("healthz", "/healthz", None, 1.0),
        Endpoint("get-verification-qrcode (cached)", qr_path, "sdk_get.lua", 0.6),
        Endpoint("instance qr", instance.path("qr"), None, 0.6),
        Endpoint("card QR image", card_path, None, 0.6),
        Endpoint("card scan /q/<code> (302, recorded)", scan_path, "scan.lua", 0.5),
        Endpoint(
            "generate-verification (write)", "/api/generate-verification", "generate_verification.lua", 0.3
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    env = {"QRSTREAM_BENCH_SDK_KEY": SDK_KEY}
    server_env = {"QRSTREAM_LOG_LEVEL": os.environ.get("QRSTREAM_LOG_LEVEL", "INFO")}
    with Server(env=server_env) as server:
        endpoints = asyncio.run(prepare(server.url))
        runs: dict[str, list[wrk.WrkResult]] = {e.name: [] for e in endpoints}
        ratios: dict[str, list[float]] = {e.name: [] for e in endpoints}
        for e in endpoints:  # warm up every path (caches, connections)
            wrk.run(server.url + e.path, script=e.script, duration_s=1, connections=args.connections, env=env)
        for n in range(args.rounds):
            health = 0.0
            for e in endpoints:
                result = wrk.run(
                    server.url + e.path,
                    script=e.script,
                    duration_s=args.seconds,
                    connections=args.connections,
                    env=env,
                )
                if result.bad:
                    raise SystemExit(f"{e.name}: {result.bad} failed requests")
                health = result.requests_per_s if e.name == "healthz" else health
                runs[e.name].append(result)
                ratios[e.name].append(result.requests_per_s / health)
            print(
                f"round {n + 1}/{args.rounds}: "
                + ", ".join(f"{k} {v[-1].requests_per_s:.0f}/s" for k, v in runs.items())
            )

    def pick(name: str, figure: Callable[[wrk.WrkResult], float]) -> float:
        return median([figure(r) for r in runs[name]])

    rows = []
    for e in endpoints:
        ratio = median(ratios[e.name])
        rows.append(
            [
                e.name,
                pick(e.name, lambda r: r.requests_per_s),
                pick(e.name, lambda r: r.p50_ms),
                pick(e.name, lambda r: r.p99_ms),
                ratio,
                f">= {e.target}x",
                "yes" if ratio >= e.target else "NO",
            ]
        )
    print(f"\n{args.rounds} rounds x {args.seconds:g} s, wrk -t1 -c{args.connections} --latency; medians")
    print(table(["endpoint", "req/s", "p50 ms", "p99 ms", "x healthz", "target", "met?"], rows))


if __name__ == "__main__":
    main()
