"""uvloop against asyncio's own loop on HTTP, in one run: a server and a bare-aiohttp anchor on each
loop, wrk on each in turn for several rounds (the machine is noisy); medians and ratios.

    .venv/bin/python bench/loops.py [--rounds 3] [--seconds 3] [--connections 64]
"""

from __future__ import annotations

import argparse
import asyncio
from contextlib import ExitStack

import fixtures
import wrk
from aiohttp import ClientSession
from rest import ANCHOR, load
from server import Server
from stats import median, table

LOOPS = ("asyncio", "uvloop")


async def _instance_qr(base: str) -> str:
    async with ClientSession() as session:
        return (await fixtures.create_instance(session, base)).path("qr")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    print(f"start: {load()}")
    with ExitStack() as stack:
        targets: dict[str, str] = {}
        for name in LOOPS:
            env = {"QRSTREAM_LOOP": name}
            server = stack.enter_context(Server(env={**env, "QRSTREAM_LOG_LEVEL": "INFO"}))
            anchor = stack.enter_context(Server(env=env, script=ANCHOR))
            targets[f"bare aiohttp, {name}"] = anchor.url + "/"
            targets[f"qrstream /healthz, {name}"] = server.url + "/healthz"
            targets[f"qrstream instance qr, {name}"] = server.url + asyncio.run(_instance_qr(server.url))
        runs: dict[str, list[float]] = {name: [] for name in targets}
        for url in targets.values():
            wrk.run(url, duration_s=1, connections=args.connections)
        for n in range(args.rounds):
            for name, url in targets.items():
                runs[name].append(
                    wrk.run(url, duration_s=args.seconds, connections=args.connections).requests_per_s
                )
            print(f"round {n + 1}/{args.rounds} ({load()})")
    rows = []
    for name, values in runs.items():
        kind = name.rpartition(", ")[0]
        other = runs[f"{kind}, asyncio"]
        rows.append([name, median(values), median([a / b for a, b in zip(values, other, strict=True)])])
    print(f"\n{args.rounds} rounds x {args.seconds:g} s, wrk -t1 -c{args.connections}; medians; end {load()}")
    print(table(["server, loop", "req/s", "x same on asyncio"], rows))


if __name__ == "__main__":
    main()
