"""Prometheus metrics of the API: requests by route template and status, latency, answers by
source, and the serving model version.

Each app owns its metrics (its own registry), so two apps in one process (tests) do not mix. With
several uvicorn workers, ``__main__`` turns on prometheus-client's multiprocess mode and
``/metrics`` then merges every worker's values.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from recsys_common.ports.recstore import VersionMeta

#: Latency buckets in seconds: the target is a p99 of 10 ms.
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
#: Route label of requests that matched no route (keeps the label set bounded).
UNMATCHED = "unmatched"
SERVER_ERROR = 500
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER_METHOD = "OTHER"


class Metrics:
    def __init__(self, multiprocess_dir: Path | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._multiprocess_dir = multiprocess_dir
        self.requests = Counter(
            "recsys_api_requests",
            "HTTP requests by route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "recsys_api_request_duration_seconds",
            "HTTP request latency by route template",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.answers = Counter(
            "recsys_api_answers",
            "Answers by source (personal, cold_start, fallback)",
            ["source"],
            registry=self.registry,
        )
        self.model = Gauge(
            "recsys_api_model_version_info",
            "1 for the published version being served, 0 for versions served before",
            ["version", "model_version"],
            registry=self.registry,
            multiprocess_mode="livemax",
        )
        self._serving: tuple[str, str] | None = None
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        self._answers: dict[str, Counter] = {}

    def set_model_version(self, meta: VersionMeta) -> None:
        if self._serving is not None:
            self.model.labels(*self._serving).set(0)
        self._serving = (meta.version, meta.model_version)
        self.model.labels(*self._serving).set(1)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        method = method if method in KNOWN_METHODS else OTHER_METHOD  # clients choose methods: bound the labels
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:  # labels() takes a lock and builds keys: look each series up once
            children = self._children[key] = (
                self.requests.labels(method, route, str(status)),
                self.latency.labels(route),
            )
        children[0].inc()
        children[1].observe(seconds)

    def answered(self, source: str) -> None:
        child = self._answers.get(source)
        if child is None:
            child = self._answers[source] = self.answers.labels(source)
        child.inc()

    def exposition(self) -> bytes:
        if self._multiprocess_dir is None:
            return generate_latest(self.registry)
        merged = CollectorRegistry()
        MultiProcessCollector(merged, path=str(self._multiprocess_dir))  # type: ignore[no-untyped-call]
        return generate_latest(merged)

    def close(self) -> None:
        """Forget this worker's live gauges (multiprocess mode) when it stops."""
        if self._multiprocess_dir is not None:
            mark_process_dead(os.getpid(), str(self._multiprocess_dir))  # type: ignore[no-untyped-call]


class MetricsMiddleware:
    """Pure ASGI middleware (no per-request task or body buffering) timing every HTTP request."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = SERVER_ERROR

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            route = scope.get("route")
            template = route.path if isinstance(route, BaseRoute) and hasattr(route, "path") else UNMATCHED
            self.metrics.observe(scope["method"], template, status, time.perf_counter() - start)
