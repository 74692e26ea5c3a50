"""Event-loop lag: samples land in their buckets and /metrics shows the histogram."""

from __future__ import annotations

from typing import Any

from qrstream.looplag import LoopLag


def test_samples_fall_into_cumulative_buckets() -> None:
    """A lag is counted under the first bound at or above it, and in every bound after."""
    lag = LoopLag()
    for sample in (0.0005, 0.001, 0.015, 3.0):
        lag.observe(sample)
    cumulative = dict(lag.cumulative())
    assert (cumulative["0.001"], cumulative["0.01"], cumulative["0.02"], cumulative["+Inf"]) == (2, 2, 3, 4)
    assert lag.worst == 3.0
    assert abs(lag.total - 3.0165) < 1e-9


async def test_metrics_show_the_loop_lag_histogram(client: Any) -> None:
    """GET /metrics carries qrstream_event_loop_lag_seconds as a histogram."""
    response = await client.get("/metrics")
    text = await response.text()
    assert response.status == 200
    assert 'qrstream_event_loop_lag_seconds_bucket{le="0.02"}' in text
    assert "qrstream_event_loop_lag_seconds_count" in text
