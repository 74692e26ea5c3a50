"""Read the server's event-loop lag histogram from `/metrics` and take percentiles of a period."""

from __future__ import annotations

import re

import aiohttp

LAG = "qrstream_event_loop_lag_seconds"
_BUCKET = re.compile(LAG + r'_bucket\{le="([^"]+)"\} ([0-9.e+]+)')

Histogram = list[tuple[float, float]]  # (upper bound, cumulative count)


async def lag_histogram(session: aiohttp.ClientSession, base: str) -> Histogram:
    async with session.get(f"{base}/metrics") as r:
        text = await r.text()
    return [(float(le), float(n)) for le, n in _BUCKET.findall(text)]


def between(before: Histogram, after: Histogram) -> Histogram:
    """The samples taken between two scrapes."""
    return [(le, n - m) for (le, n), (_, m) in zip(after, before, strict=True)]


def quantile(hist: Histogram, q: float) -> float:
    """The upper bound of the bucket holding the q-quantile (0..1), in seconds; NaN when empty."""
    total = hist[-1][1] if hist else 0
    if not total:
        return float("nan")
    for le, n in hist:
        if n >= q * total:
            return le
    return float("inf")


def count(hist: Histogram) -> int:
    return int(hist[-1][1]) if hist else 0
