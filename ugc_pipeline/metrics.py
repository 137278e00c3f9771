"""The loader's counters and the small HTTP server that exposes them.

``GET /metrics``: Prometheus text format. ``GET /health``: JSON with the same counters; HTTP 200
while the loop is running, polled recently and its last flush succeeded, HTTP 503 (with the
reason) while it starts, stops, stalls or retries because ClickHouse is down.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: The loop polls at least every ``poll_timeout_s``; this long without a poll means it is stuck.
STALL_AFTER_S = 30.0


@dataclass
class LoaderStats:
    """Counters of one loader process (plain attributes: written by the loop, read by HTTP)."""

    consumed: int = 0
    inserted: int = 0
    dead_lettered: int = 0
    commits: int = 0
    commit_failures: int = 0
    flush_failures: int = 0
    kafka_errors: int = 0
    lag: int | None = None
    last_insert_time: float | None = None  # unix seconds
    last_poll: float | None = None  # monotonic seconds
    running: bool = False
    sink_error: str | None = None

    def health(self, now: float | None = None) -> tuple[bool, str]:
        """(healthy, reason) as ``/health`` reports it."""
        now = time.monotonic() if now is None else now
        if not self.running:
            return False, "loader loop is not running"
        if self.last_poll is None or now - self.last_poll > STALL_AFTER_S:
            return False, f"loader loop has not polled Kafka for over {STALL_AFTER_S:g} s"
        if self.sink_error is not None:
            return False, f"flush failing, retrying: {self.sink_error}"
        return True, "ok"


class _StatsCollector(Collector):
    def __init__(self, stats: LoaderStats) -> None:
        self._stats = stats

    def collect(self) -> Iterator[Metric]:
        stats = self._stats
        counters = (
            ("ugc_consumed", "Kafka messages consumed", stats.consumed),
            ("ugc_inserted", "Rows inserted into ClickHouse", stats.inserted),
            ("ugc_dead_lettered", "Invalid messages delivered to the dead-letter topic", stats.dead_lettered),
            ("ugc_commits", "Offset commits", stats.commits),
            ("ugc_commit_failures", "Offset commits Kafka refused", stats.commit_failures),
            ("ugc_flush_failures", "Failed flushes (ClickHouse or dead-letter topic down)", stats.flush_failures),
            ("ugc_kafka_errors", "Errors Kafka reported while consuming", stats.kafka_errors),
        )
        for name, documentation, value in counters:
            yield CounterMetricFamily(name, documentation, value=value)
        yield GaugeMetricFamily(
            "ugc_lag_messages", "Messages in assigned partitions not yet committed", value=stats.lag or 0
        )
        yield GaugeMetricFamily(
            "ugc_last_insert_timestamp_seconds",
            "Unix time of the last successful insert (0 before the first)",
            value=stats.last_insert_time or 0.0,
        )
        healthy, _ = stats.health()
        yield GaugeMetricFamily("ugc_healthy", "1 when /health answers 200", value=float(healthy))


def metrics_registry(stats: LoaderStats) -> CollectorRegistry:
    """A registry of its own (not the global one), so several loaders can live in one process."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_StatsCollector(stats))
    return registry


def _handler(stats: LoaderStats, registry: CollectorRegistry) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._reply(HTTPStatus.OK, PROMETHEUS_CONTENT_TYPE, generate_latest(registry))
            elif path == "/health":
                healthy, reason = stats.health()
                body: dict[str, Any] = {"status": "ok" if healthy else "unhealthy", "reason": reason, **asdict(stats)}
                status = HTTPStatus.OK if healthy else HTTPStatus.SERVICE_UNAVAILABLE
                self._reply(status, "application/json", json.dumps(body).encode())
            else:
                message = f"unknown path {path}; try /health or /metrics"
                self._reply(HTTPStatus.NOT_FOUND, "text/plain", message.encode())

        def _reply(self, status: HTTPStatus, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("metrics http: " + format, *args)

    return Handler


class MetricsServer:
    """Serves ``/health`` and ``/metrics`` from a daemon thread; port 0 picks a free port."""

    def __init__(self, stats: LoaderStats, host: str, port: int) -> None:
        self._server = ThreadingHTTPServer((host, port), _handler(stats, metrics_registry(stats)))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        serve: Callable[[], None] = self._server.serve_forever
        self._thread = threading.Thread(target=serve, name="ugc-metrics", daemon=True)
        self._thread.start()

    def close(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()
