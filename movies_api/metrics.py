"""Prometheus metrics of the Movies API: one registry per app, served at ``/metrics``."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import Request, Response
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from movies_api.breaker import CircuitState

UNMATCHED_ROUTE = "unmatched"
HTTP_SERVER_ERROR = 500


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "movies_api_requests",
            "HTTP requests by route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "movies_api_request_seconds", "HTTP request latency", ["method", "route"], registry=self.registry
        )
        self.ratings = Counter(
            "movies_api_ratings",
            "Ratings by outcome (accepted, removed, publisher_unavailable)",
            ["outcome"],
            registry=self.registry,
        )
        self.recommendations = Counter(
            "movies_api_recommendations",
            "Recommendation answers by source and, for fallbacks, the reason",
            ["source", "reason"],
            registry=self.registry,
        )
        self.similar = Counter(
            "movies_api_similar_films",
            "Similar-films answers by source (model, fallback) and, for fallbacks, the reason",
            ["source", "reason"],
            registry=self.registry,
        )
        self.circuit = Gauge(
            "movies_api_recommendations_circuit",
            "Breaker toward the Recommendations API: 1 for its current state (closed, open, half_open)",
            ["state"],
            registry=self.registry,
        )
        self.circuit_changes = Counter(
            "movies_api_recommendations_circuit_changes",
            "Breaker state changes toward the Recommendations API, by the state entered",
            ["state"],
            registry=self.registry,
        )
        for state in CircuitState:
            self.circuit.labels(state.value).set(1 if state is CircuitState.CLOSED else 0)

    def circuit_changed(self, state: CircuitState) -> None:
        for each in CircuitState:
            self.circuit.labels(each.value).set(1 if each is state else 0)
        self.circuit_changes.labels(state.value).inc()


def _route_of(request: Request) -> str:
    """The matched route's template (``/api/v1/films/{film_id}``), so ids do not explode the label set."""
    return str(getattr(request.scope.get("route"), "path", UNMATCHED_ROUTE))


def metrics_middleware(
    metrics: Metrics,
) -> Callable[[Request, Callable[[Request], Awaitable[Response]]], Awaitable[Response]]:
    async def record(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        status = HTTP_SERVER_ERROR
        try:
            response = await call_next(request)
            status = response.status_code
            return response
        finally:
            route = _route_of(request)
            metrics.requests.labels(request.method, route, str(status)).inc()
            metrics.latency.labels(request.method, route).observe(time.perf_counter() - started)

    return record
