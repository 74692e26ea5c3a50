"""The scan recorder's numbers for /metrics: what it wrote, counted apart, dropped, holds.

Read from the recorder's own counters at scrape time, so recording costs nothing extra.
The cards family registers this on the app's registry while it runs.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from qrstream.cards.recorder import ScanRecorder


class ScanCollector(Collector):
    def __init__(self, recorder: ScanRecorder) -> None:
        self._recorder = recorder

    def collect(self) -> Iterator[Metric]:
        recorder = self._recorder
        for name, text, value in (
            ("qrstream_scans_recorded", "Scans written to the store by this process.", recorder.recorded),
            ("qrstream_scan_bot_visits", "Visits of bots and link-preview fetchers.", recorder.bots),
            (
                "qrstream_scans_dropped",
                "Scans not recorded because the write-behind queue was full (the redirect never waits).",
                recorder.dropped,
            ),
            ("qrstream_scan_write_failures", "Scan batches the store refused (retried).", recorder.failures),
        ):
            yield CounterMetricFamily(name, text, value=value)
        yield GaugeMetricFamily(
            "qrstream_scans_queued", "Scans waiting to be written.", value=recorder.queued
        )
        cache = recorder.parse_cache()
        parses = CounterMetricFamily(
            "qrstream_user_agent_parses", "User-Agent parses by cache outcome.", labels=["cache"]
        )
        parses.add_metric(["hit"], cache.hits)
        parses.add_metric(["miss"], cache.misses)
        yield parses
