"""`GET /metrics`: Prometheus text from a registry of this app's own (no process globals).

Most numbers are read at scrape time from what already counts them — the renderer,
the websocket hub, the set of open sockets — so serving requests costs nothing
extra. The store's numbers (webhook deliveries by status, unacknowledged
notifications) are two small queries, made at most once per `STORE_TTL_S`.
HTTP latency is a histogram labelled by route pattern (`/waInstance{id}/qr/{token}`),
never by the raw path, so neither secrets nor unbounded label values get in.
"""

from __future__ import annotations

import logging
import time
import weakref
from bisect import bisect_left
from collections.abc import AsyncIterator, Iterator

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.registry import Collector

from qrstream.looplag import LoopLag
from qrstream.store import deliveries
from qrstream.tasks import TaskSet
from qrstream.web.keys import SERVICES, WEBSOCKETS
from qrstream.web.limits import LIMITER, WS_SLOTS
from qrstream.web.peers import PEERS
from qrstream.web.policy import OPS, Routes
from qrstream.web.ws import HEARTBEAT, HUB, is_open

log = logging.getLogger(__name__)

METRICS: web.AppKey[Metrics] = web.AppKey("metrics")

STORE_TTL_S = 5.0
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


def route_label(request: web.Request) -> str:
    """The route's name or pattern; `unmatched` for 404s and 405s."""
    match_info = request.match_info
    if match_info.http_exception is not None:
        return "unmatched"
    route = match_info.route
    resource = route.resource
    if resource is None:
        return "unmatched"
    return resource.canonical


class _StateCollector(Collector):
    """Reads the live counters of the app, and the last store snapshot, on each scrape."""

    def __init__(self, app: web.Application) -> None:
        self._app = app
        self.deliveries: dict[str, int] = {}
        self.unacknowledged: int | None = None
        self._store_read_at = -STORE_TTL_S

    async def refresh_store(self) -> None:
        if time.monotonic() - self._store_read_at < STORE_TTL_S:
            return
        self._store_read_at = time.monotonic()
        db = self._app[SERVICES].db
        try:
            self.deliveries = await deliveries.count_by_status(db)
            self.unacknowledged = await deliveries.count_unacknowledged(db)
        except Exception:  # a store that is down must not take /metrics with it
            log.warning("could not read notification counts for /metrics", exc_info=True)

    def collect(self) -> Iterator[Metric]:
        app = self._app
        sockets: weakref.WeakSet[web.WebSocketResponse] = app[WEBSOCKETS]
        open_ws = sum(1 for ws in list(sockets) if is_open(ws))
        yield GaugeMetricFamily("qrstream_websockets_open", "Open websockets in this process.", value=open_ws)
        hub = app[HUB]
        yield CounterMetricFamily(
            "qrstream_ws_frames_sent", "Websocket frames sent by the fan-out.", value=hub.sent
        )
        yield CounterMetricFamily(
            "qrstream_ws_frames_skipped",
            "Frames not sent to a slow websocket (its buffer was full).",
            value=hub.skipped,
        )
        yield CounterMetricFamily(
            "qrstream_ws_ping_timeouts",
            "Websockets dropped for not answering the heartbeat's ping within half its period.",
            value=app[HEARTBEAT].timeouts,
        )
        renderer = app[SERVICES].renderer
        yield SummaryMetricFamily(
            "qrstream_qr_render_seconds",
            "Time spent rendering QR images (cache misses).",
            count_value=renderer.renders,
            sum_value=renderer.render_seconds,
        )
        yield CounterMetricFamily(
            "qrstream_qr_cache_hits", "QR images served from the render cache.", value=renderer.hits
        )
        limited = CounterMetricFamily(
            "qrstream_rate_limited", "Requests refused with 429, by purpose.", labels=["purpose"]
        )
        for purpose, count in sorted(app[LIMITER].refused.items()):
            limited.add_metric([purpose], count)
        yield limited
        refused = CounterMetricFamily(
            "qrstream_ws_refused", "Websockets closed at once with 1013, by reason.", labels=["reason"]
        )
        for reason, count in sorted(app[WS_SLOTS].refused.items()):
            refused.add_metric([reason], count)
        yield refused
        deliveries = GaugeMetricFamily(
            "qrstream_webhook_deliveries", "Webhook deliveries by status.", labels=["status"]
        )
        for status in ("pending", "delivered", "failed", "cancelled"):
            deliveries.add_metric([status], self.deliveries.get(status, 0))
        yield deliveries
        yield from _connection_metrics(app)
        lag = app[METRICS].lag
        yield HistogramMetricFamily(
            "qrstream_event_loop_lag_seconds",
            "How late a timer fired, sampled every 50 ms: time the event loop was held by other work.",
            buckets=lag.cumulative(),
            sum_value=lag.total,
        )
        if self.unacknowledged is not None:
            yield GaugeMetricFamily(
                "qrstream_notifications_unacknowledged",
                "Notifications queued for receiveNotification and not yet deleted.",
                value=self.unacknowledged,
            )


def _connection_metrics(app: web.Application) -> Iterator[Metric]:
    peers = app[PEERS]
    yield GaugeMetricFamily("qrstream_connections_open", "Open HTTP connections.", value=peers.open)
    yield GaugeMetricFamily(
        "qrstream_connections_awaiting_head",
        "Open connections that have not sent their (next) request head yet.",
        value=peers.waiting,
    )
    closed = CounterMetricFamily(
        "qrstream_connections_closed",
        "Connections closed before their request head came, by reason.",
        labels=["reason"],
    )
    for reason, count in sorted(peers.closed.items()):
        closed.add_metric([reason], count)
    yield closed
    yield CounterMetricFamily(
        "qrstream_accepts_exhausted",
        "Accepts that failed for want of a file descriptor (accepting paused until one is free).",
        value=peers.accepts_exhausted,
    )


class _Latency(Collector):
    """The HTTP latency histogram as plain counts: one event-loop thread observes, so no lock per
    observation (prometheus_client's Histogram takes two); exported in the histogram form at
    scrape time."""

    NAME = "qrstream_http_request_duration_seconds"
    HELP = "HTTP request latency by route pattern (websockets are not counted)."

    def __init__(self) -> None:
        self._series: dict[tuple[str, str, int], list[float]] = {}
        self._bounds = LATENCY_BUCKETS
        self._les = [repr(float(b)) for b in LATENCY_BUCKETS]  # as prometheus_client writes `le`

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        series = self._series.get((method, route, status))
        if series is None:
            series = self._series[(method, route, status)] = [0.0] * (len(self._bounds) + 2)
        series[bisect_left(self._bounds, seconds)] += 1  # the first bucket whose bound >= seconds
        series[-1] += seconds

    def collect(self) -> Iterator[Metric]:
        family = HistogramMetricFamily(self.NAME, self.HELP, labels=["method", "route", "status"])
        for (method, route, status), series in list(self._series.items()):
            cumulative, buckets = 0.0, []
            for le, count in zip([*self._les, "+Inf"], series[:-1], strict=True):
                cumulative += count
                buckets.append((le, cumulative))
            family.add_metric([method, route, str(status)], buckets, sum_value=series[-1])
        yield family


class Metrics:
    """This app's registry: the latency histogram and the state collector."""

    def __init__(self, app: web.Application) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.latency = _Latency()
        self.registry.register(self.latency)
        self.state = _StateCollector(app)
        self.registry.register(self.state)
        self.lag = LoopLag()

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """One request's latency."""
        self.latency.observe(method, route, status, seconds)


async def metrics_handler(request: web.Request) -> web.Response:
    metrics = request.app[METRICS]
    await metrics.state.refresh_store()
    body = generate_latest(metrics.registry)
    response = web.Response(body=body)
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response


async def metrics_ctx(app: web.Application) -> AsyncIterator[None]:
    app[METRICS] = metrics = Metrics(app)
    async with TaskSet() as tasks:
        tasks.spawn(metrics.lag.run(), "loop-lag")
        yield


def setup(app: web.Application) -> None:
    """`GET /metrics` and the registry (the pipeline middleware observes the latency)."""
    app.cleanup_ctx.append(metrics_ctx)
    Routes(app, OPS).get("/metrics", metrics_handler, name="metrics")
